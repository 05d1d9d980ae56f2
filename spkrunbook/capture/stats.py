"""Statistics on a capture DataFrame (any source), each returned as a DataFrame.

Why DataFrames: the notebook shows them as tables, the record archives them,
the CLI prints them; nothing here prints.  All work is vectorised (integer
keys + one groupby), so 1M rows take a fraction of a second.

Bytes are frame bytes (``wire_len``, what tshark's ``conv`` counts); for
tcpdump text without ``-e`` the frame length is unknown and ``payload_len`` is
used instead (``bytes_source`` in ``df.attrs`` of the result says which).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["conversations", "per_interval", "resets", "summary", "tcp_anomalies", "tcp_flag_counts", "top_talkers"]

_NS_DAY = 86_400_000_000_000


def _bytes(df: pd.DataFrame) -> tuple[np.ndarray, str]:
    w = df["wire_len"]
    if len(w) and w.notna().all():
        return w.to_numpy(np.int64), "wire_len"
    if w.notna().any():
        return w.fillna(df["payload_len"]).fillna(0).to_numpy(np.int64), "wire_len, else payload_len"
    return df["payload_len"].fillna(0).to_numpy(np.int64), "payload_len"


def _time_ns(df: pd.DataFrame) -> np.ndarray:
    """Nanoseconds on one axis: epoch if dated, else time of day (text without date)."""
    ts = df["timestamp"]
    if len(ts) and ts.notna().all():
        return ts.dt.tz_localize(None).to_numpy().astype("M8[ns]").view("i8")
    return df["time_of_day"].to_numpy().astype("m8[ns]").view("i8")


def _time_index(ns: np.ndarray, df: pd.DataFrame) -> pd.Index:
    if len(df) and df["timestamp"].notna().all():
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC")
    return pd.TimedeltaIndex(ns.view("m8[ns]"))


def _addr_codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """src/dst as codes into one shared list of address strings."""
    s, d = df["src"], df["dst"]
    if isinstance(s.dtype, pd.CategoricalDtype) and isinstance(d.dtype, pd.CategoricalDtype) and s.cat.categories.equals(d.cat.categories):
        return np.asarray(s.cat.codes, np.int64), np.asarray(d.cat.codes, np.int64), np.asarray(s.cat.categories, dtype=object)
    codes, uniq = pd.factorize(pd.concat([s.astype(object), d.astype(object)], ignore_index=True))
    return codes[: len(s)].astype(np.int64), codes[len(s):].astype(np.int64), np.asarray(uniq, dtype=object)


def _int(df: pd.DataFrame, col: str, na: int = 0) -> np.ndarray:
    """A column as int64 with NA replaced (no intermediate fillna copy)."""
    return df[col].to_numpy(np.int64, na_value=na)


def _proto_mask(df: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """``df["protocol"].isin(names)`` on the category codes (no per-row string compares)."""
    p = df["protocol"]
    if isinstance(p.dtype, pd.CategoricalDtype):
        cats = p.cat.categories
        want = [int(i) for i in cats.get_indexer(pd.Index(list(names))) if i >= 0]
        codes = np.asarray(p.cat.codes)
        if len(want) == 1:
            return codes == want[0]
        return np.isin(codes, want)
    return p.isin(names).to_numpy()


def _group_ids(keys: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Dense group ids (first-appearance order, like ``groupby(sort=False)``) of non-negative int64 key columns."""
    comb = keys[0]
    for k in keys[1:]:
        span = int(k.max()) + 1 if len(k) else 1
        top = int(comb.max()) + 1 if len(comb) else 1
        if top > (2**62) // span:  # would overflow: densify what we have first
            comb = pd.factorize(comb)[0].astype(np.int64)
            top = int(comb.max()) + 1 if len(comb) else 1
            if top > (2**62) // span:
                k = pd.factorize(k)[0].astype(np.int64)
                span = int(k.max()) + 1 if len(k) else 1
        comb = comb * span + k
    ids, uniq = pd.factorize(comb)
    return ids.astype(np.int64, copy=False), len(uniq)


def _conv_keys(df: pd.DataFrame, protocols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows in conversations and their folded keys: idx, protocol code, lo/hi endpoint, fwd, group id, first row of each group."""
    sel = _proto_mask(df, protocols) & df["src"].notna().to_numpy() & df["dst"].notna().to_numpy()
    idx = np.nonzero(sel)[0]
    sc, dc, _ = _addr_codes(df)
    ea = sc[idx] * 65536 + _int(df, "sport")[idx]
    eb = dc[idx] * 65536 + _int(df, "dport")[idx]
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    fwd = ea <= eb
    pr = np.asarray(df["protocol"].cat.codes, np.int64)[idx]
    gid, k = _group_ids([pr, lo, hi])
    first = np.full(k, len(idx), np.int64)
    np.minimum.at(first, gid, np.arange(len(idx), dtype=np.int64))
    return idx, pr, lo, hi, fwd, gid, first


def conversations(df: pd.DataFrame, protocols: tuple[str, ...] = ("TCP", "UDP")) -> pd.DataFrame:
    """5-tuple conversations, both directions folded, like ``tshark -z conv,tcp``.

    A is the endpoint that sent the first packet.  Columns: protocol, a, a_port,
    b, b_port, packets_ab, bytes_ab, packets_ba, bytes_ba, packets, bytes, start,
    duration (s), bps (bits/s over the duration; NA for a single instant).
    """
    _, _, names = _addr_codes(df)
    nbytes, how = _bytes(df)
    t = _time_ns(df)
    idx, pr, lo, hi, fwd, gid, first = _conv_keys(df, protocols)
    k = len(first)
    b, tt = nbytes[idx], t[idx]
    pk = np.bincount(gid, minlength=k).astype(np.int64)
    n_lo = np.bincount(gid[fwd], minlength=k).astype(np.int64)
    by = np.zeros(k, np.int64)
    np.add.at(by, gid, b)
    b_lo = np.zeros(k, np.int64)
    np.add.at(b_lo, gid[fwd], b[fwd])
    start = np.full(k, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(start, gid, tt)
    end = np.full(k, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(end, gid, tt)
    a_is_lo = fwd[first]
    lo_e, hi_e = lo[first], hi[first]
    a_e, b_e = np.where(a_is_lo, lo_e, hi_e), np.where(a_is_lo, hi_e, lo_e)
    n_ab = np.where(a_is_lo, n_lo, pk - n_lo)
    b_ab = np.where(a_is_lo, b_lo, by - b_lo)
    dur = (end - start) / 1e9
    out = pd.DataFrame({
        "protocol": pd.Categorical.from_codes(pr[first], dtype=pd.CategoricalDtype(df["protocol"].cat.categories)),
        "a": pd.Categorical.from_codes(a_e // 65536, categories=pd.Index(names).astype(object)) if len(names) == len(set(names)) else names[a_e // 65536],
        "a_port": (a_e % 65536).astype(np.uint16),
        "b": pd.Categorical.from_codes(b_e // 65536, categories=pd.Index(names).astype(object)) if len(names) == len(set(names)) else names[b_e // 65536],
        "b_port": (b_e % 65536).astype(np.uint16),
        "packets_ab": n_ab, "bytes_ab": b_ab, "packets_ba": pk - n_ab, "bytes_ba": by - b_ab,
        "packets": pk, "bytes": by,
        "start": _time_index(start, df) if k else pd.Series([], dtype="datetime64[ns, UTC]"),
        "duration": dur,
        "bps": pd.array(np.where(dur > 0, by * 8 / np.where(dur > 0, dur, 1), np.nan), dtype="Float64"),
    })
    out["bps"] = out["bps"].mask(out["duration"] <= 0)
    out = out.sort_values(["bytes", "packets"], ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["bytes_source"] = how
    return out


def per_interval(df: pd.DataFrame, interval: str = "1s", by: str | list[str] | None = None) -> pd.DataFrame:
    """Packets and bytes per time bin (optionally per ``interface``/``direction``/...).

    Columns: time (bin start), [by...], packets, bytes, packets_per_s, bits_per_s.
    """
    step = pd.Timedelta(interval).value
    if step <= 0:
        raise ValueError("interval must be positive")
    t = _time_ns(df)
    ok = t != np.iinfo(np.int64).min
    nbytes, how = _bytes(df)
    keys = {"bin": (t[ok] // step) * step}
    byl = [by] if isinstance(by, str) else list(by or [])
    for b in byl:
        keys[b] = df[b].to_numpy()[ok] if not isinstance(df[b].dtype, pd.CategoricalDtype) else df[b].astype(object).to_numpy()[ok]
    g = pd.DataFrame(keys | {"b": nbytes[ok]})
    res = g.groupby(["bin"] + byl, sort=True, dropna=False).agg(packets=("b", "size"), bytes=("b", "sum")).reset_index()
    sec = step / 1e9
    res.insert(0, "time", _time_index(res.pop("bin").to_numpy(np.int64), df[ok] if ok.all() else df.iloc[np.nonzero(ok)[0]]))
    res["packets_per_s"] = res["packets"] / sec
    res["bits_per_s"] = res["bytes"] * 8 / sec
    res.attrs["bytes_source"] = how
    res.attrs["interval"] = interval
    return res


def tcp_flag_counts(df: pd.DataFrame) -> pd.DataFrame:
    """TCP packets per flag combination (tcpdump notation), most frequent first."""
    f = df.loc[_proto_mask(df, ("TCP",)), "tcp_flags"]
    vc = f.value_counts(dropna=False)
    vc = vc[vc > 0]
    out = pd.DataFrame({"flags": vc.index.astype(object).fillna("?"), "packets": vc.to_numpy()})
    out["share"] = out["packets"] / max(int(out["packets"].sum()), 1)
    return out.reset_index(drop=True)


def resets(df: pd.DataFrame) -> pd.DataFrame:
    """Every TCP packet with RST set: who reset whom, and when."""
    bits = _int(df, "tcp_flagbits")
    cols = ["frame", "timestamp", "time_of_day", "interface", "direction", "src", "sport", "dst", "dport", "tcp_flags", "seq", "ack"]
    return df.loc[(bits & 4) != 0, cols].reset_index(drop=True)


def top_talkers(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Addresses by bytes sent + received: address, packets/bytes sent and received."""
    sc, dc, names = _addr_codes(df)
    nbytes, _ = _bytes(df)
    k = len(names)
    ok_s, ok_d = sc >= 0, dc >= 0
    ps = np.bincount(sc[ok_s], minlength=k)
    bs = np.bincount(sc[ok_s], weights=nbytes[ok_s], minlength=k)
    pr = np.bincount(dc[ok_d], minlength=k)
    br = np.bincount(dc[ok_d], weights=nbytes[ok_d], minlength=k)
    out = pd.DataFrame({"address": names, "packets_sent": ps, "bytes_sent": bs.astype(np.int64),
                        "packets_received": pr, "bytes_received": br.astype(np.int64)})
    out["bytes"] = out["bytes_sent"] + out["bytes_received"]
    out["packets"] = out["packets_sent"] + out["packets_received"]
    out = out[out["packets"] > 0]
    return out.sort_values(["bytes", "packets"], ascending=False, kind="stable").head(n).reset_index(drop=True)


def tcp_anomalies(df: pd.DataFrame) -> pd.DataFrame:
    """Retransmissions and duplicate ACKs, as tshark flags them (``tcp.analysis.retransmission`` /
    ``duplicate_ack``; see :mod:`spkrunbook.capture.expert` for every other kind).

    A retransmission here is tshark's: generic, fast and spurious ones alike.
    Columns: kind, frame, timestamp, src, sport, dst, dport, seq, ack, payload_len.
    """
    from . import expert

    cols = ["frame", "timestamp", "src", "sport", "dst", "dport", "seq", "ack", "payload_len"]
    p = expert.analyze(df).packets
    rt, da = p["retransmission"].to_numpy(), p["duplicate_ack"].to_numpy()
    hit = rt | da
    rows = p["row"].to_numpy()[hit]
    out = df.iloc[rows][cols].reset_index(drop=True)
    kind = np.where(rt[hit], "retransmission", "duplicate_ack")
    out.insert(0, "kind", pd.Series(kind, dtype=object))
    return out


def _when(t: object) -> str:
    """A capture time as text: an ISO timestamp, or a time of day for tcpdump text without a date."""
    if isinstance(t, pd.Timedelta):
        secs = t.total_seconds()
        h, rem = divmod(secs, 3600)
        m, sec = divmod(rem, 60)
        return f"{int(h):02d}:{int(m):02d}:{sec:09.6f} (time of day; the text has no date)"
    return str(t)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One table: packets, bytes, first/last time, duration, rate, packets per protocol."""
    nbytes, how = _bytes(df)
    t = _time_ns(df)
    valid = t[t != np.iinfo(np.int64).min]
    rows: list[tuple[str, object]] = [("packets", len(df)), ("bytes", int(nbytes.sum())), ("bytes_source", how)]
    if len(valid):
        ti = _time_index(np.array([valid.min(), valid.max()]), df) if len(df) and df["timestamp"].notna().all() else pd.TimedeltaIndex(np.array([valid.min(), valid.max()]).view("m8[ns]"))
        dur = (valid.max() - valid.min()) / 1e9
        rows += [("start", _when(ti[0])), ("end", _when(ti[1])), ("duration_s", round(float(dur), 6)),
                 ("avg_bps", round(float(nbytes.sum() * 8 / dur), 1) if dur > 0 else None)]
    for p, c in df["protocol"].value_counts().items():
        if c:
            rows.append((f"protocol.{p}", int(c)))
    for col in ("interface", "direction"):
        if df[col].notna().any():
            for k, v in df[col].value_counts().items():
                if v:
                    rows.append((f"{col}.{k}", int(v)))
    # conversation counts from the folded keys alone (no per-conversation table)
    _, pr, _, _, _, _, first = _conv_keys(df, ("TCP", "UDP"))
    per = pd.Series(pr[first]).value_counts()
    cats = df["protocol"].cat.categories
    for name in ("TCP", "UDP"):
        rows.append((f"conversations.{name.lower()}", int(per.get(int(cats.get_indexer(pd.Index([name]))[0]), 0)) if name in cats else 0))
    rows.append(("tcp.resets", int(((_int(df, "tcp_flagbits") & 4) != 0).sum())))
    if "unparsed_count" in df.attrs:
        rows.append(("unparsed_lines", int(df.attrs["unparsed_count"])))
    if "truncated_at" in df.attrs:
        rows.append(("truncated_at", int(df.attrs["truncated_at"])))
    return pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")
