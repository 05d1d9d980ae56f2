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

__all__ = ["conversations", "per_interval", "tcp_flag_counts", "resets", "top_talkers", "tcp_anomalies", "summary"]

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


def conversations(df: pd.DataFrame, protocols: tuple[str, ...] = ("TCP", "UDP")) -> pd.DataFrame:
    """5-tuple conversations, both directions folded, like ``tshark -z conv,tcp``.

    A is the endpoint that sent the first packet.  Columns: protocol, a, a_port,
    b, b_port, packets_ab, bytes_ab, packets_ba, bytes_ba, packets, bytes, start,
    duration (s), bps (bits/s over the duration; NA for a single instant).
    """
    sel = df["protocol"].isin(protocols).to_numpy() & df["src"].notna().to_numpy() & df["dst"].notna().to_numpy()
    sc, dc, names = _addr_codes(df)
    sp = df["sport"].fillna(0).to_numpy(np.int64)
    dp = df["dport"].fillna(0).to_numpy(np.int64)
    nbytes, how = _bytes(df)
    t = _time_ns(df)
    pr = np.asarray(df["protocol"].cat.codes, np.int64)
    idx = np.nonzero(sel)[0]
    ea = sc[idx] * 65536 + sp[idx]
    eb = dc[idx] * 65536 + dp[idx]
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    fwd = ea <= eb
    g = pd.DataFrame({"p": pr[idx], "lo": lo, "hi": hi, "fwd": fwd, "n_lo": fwd.astype(np.int64),
                      "b_lo": np.where(fwd, nbytes[idx], 0), "b": nbytes[idx], "t": t[idx]})
    agg = g.groupby(["p", "lo", "hi"], sort=False).agg(
        first_fwd=("fwd", "first"), packets=("fwd", "size"), n_lo=("n_lo", "sum"), bytes=("b", "sum"),
        b_lo=("b_lo", "sum"), start=("t", "min"), end=("t", "max"),
    ).reset_index()
    a_is_lo = agg["first_fwd"].to_numpy()
    lo_e, hi_e = agg["lo"].to_numpy(), agg["hi"].to_numpy()
    a_e, b_e = np.where(a_is_lo, lo_e, hi_e), np.where(a_is_lo, hi_e, lo_e)
    n_lo, b_lo = agg["n_lo"].to_numpy(), agg["b_lo"].to_numpy()
    pk, by = agg["packets"].to_numpy(), agg["bytes"].to_numpy()
    n_ab = np.where(a_is_lo, n_lo, pk - n_lo)
    b_ab = np.where(a_is_lo, b_lo, by - b_lo)
    dur = (agg["end"].to_numpy() - agg["start"].to_numpy()) / 1e9
    out = pd.DataFrame({
        "protocol": pd.Categorical.from_codes(agg["p"].to_numpy(), dtype=df["protocol"].dtype),
        "a": pd.Categorical.from_codes(a_e // 65536, categories=pd.Index(names).astype(object)) if len(names) == len(set(names)) else names[a_e // 65536],
        "a_port": (a_e % 65536).astype(np.uint16),
        "b": pd.Categorical.from_codes(b_e // 65536, categories=pd.Index(names).astype(object)) if len(names) == len(set(names)) else names[b_e // 65536],
        "b_port": (b_e % 65536).astype(np.uint16),
        "packets_ab": n_ab, "bytes_ab": b_ab, "packets_ba": pk - n_ab, "bytes_ba": by - b_ab,
        "packets": pk, "bytes": by,
        "start": _time_index(agg["start"].to_numpy(), df) if len(agg) else pd.Series([], dtype="datetime64[ns, UTC]"),
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
    f = df.loc[df["protocol"].to_numpy() == "TCP", "tcp_flags"]
    vc = f.value_counts(dropna=False)
    vc = vc[vc > 0]
    out = pd.DataFrame({"flags": vc.index.astype(object).fillna("?"), "packets": vc.to_numpy()})
    out["share"] = out["packets"] / max(int(out["packets"].sum()), 1)
    return out.reset_index(drop=True)


def resets(df: pd.DataFrame) -> pd.DataFrame:
    """Every TCP packet with RST set: who reset whom, and when."""
    bits = df["tcp_flagbits"].fillna(0).to_numpy(np.int64)
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
    """Retransmission and duplicate-ACK hints from seq/ack (per direction of a flow).

    retransmission: a segment with data (or SYN/FIN) that starts below the end of
    the highest sequence already seen in its direction (tshark agrees on the
    test captures).  duplicate_ack: a pure
    ACK (no data, no SYN/FIN/RST) repeating the previous packet's ack and window
    in that direction.  Hints, not proof: a capture that missed packets, or seq
    wrap-around, can mislead.  Columns: kind, frame, timestamp, src, sport, dst,
    dport, seq, ack, payload_len.
    """
    t = df.index[(df["protocol"].to_numpy() == "TCP") & df["seq"].notna().to_numpy()]
    d = df.loc[t]
    cols = ["frame", "timestamp", "src", "sport", "dst", "dport", "seq", "ack", "payload_len"]
    if len(d) == 0:
        return d[cols].assign(kind=pd.Series([], dtype=object))[["kind"] + cols].reset_index(drop=True)
    sc, dc, _ = _addr_codes(d)
    key = pd.DataFrame({"s": sc, "sp": d["sport"].fillna(0).to_numpy(np.int64), "d": dc,
                        "dp": d["dport"].fillna(0).to_numpy(np.int64)})
    flow = key.groupby(["s", "sp", "d", "dp"], sort=False).ngroup().to_numpy()
    seq = d["seq"].to_numpy(np.int64)
    bits = d["tcp_flagbits"].fillna(0).to_numpy(np.int64)
    plen = d["payload_len"].fillna(0).to_numpy(np.int64)
    adv = plen + ((bits & 3) != 0)  # SYN and FIN take one sequence number
    order = np.lexsort((np.arange(len(d)), flow))
    f_o = flow[order]
    first = np.r_[True, f_o[1:] != f_o[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(f_o)), 0))
    rel = (seq[order] - seq[order][base]) % (1 << 32)
    end = rel + adv[order]
    prev_max = pd.Series(end).groupby(f_o).cummax().shift(1).to_numpy(dtype=np.float64, na_value=-1.0).copy()
    prev_max[first] = -1
    retrans_o = (adv[order] > 0) & ~first & (rel < prev_max) & ((bits[order] & 4) == 0)
    ack = d["ack"].to_numpy(dtype=np.int64, na_value=-1)[order]
    win = d["window"].to_numpy(dtype=np.int64, na_value=-1)[order]
    pure = (plen[order] == 0) & ((bits[order] & 7) == 0) & (ack >= 0)
    same_prev = ~first & np.r_[False, (ack[1:] == ack[:-1]) & (win[1:] == win[:-1])] & np.r_[False, pure[:-1]]
    dup_o = pure & same_prev
    retrans = np.zeros(len(d), bool)
    dup = np.zeros(len(d), bool)
    retrans[order] = retrans_o
    dup[order] = dup_o
    cols = ["frame", "timestamp", "src", "sport", "dst", "dport", "seq", "ack", "payload_len"]
    a = d.loc[retrans, cols].assign(kind="retransmission")
    b = d.loc[dup, cols].assign(kind="duplicate_ack")
    out = pd.concat([a, b]).sort_values("frame", kind="stable")
    return out[["kind"] + cols].reset_index(drop=True)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One table: packets, bytes, first/last time, duration, rate, packets per protocol."""
    nbytes, how = _bytes(df)
    t = _time_ns(df)
    valid = t[t != np.iinfo(np.int64).min]
    rows: list[tuple[str, object]] = [("packets", int(len(df))), ("bytes", int(nbytes.sum())), ("bytes_source", how)]
    if len(valid):
        ti = _time_index(np.array([valid.min(), valid.max()]), df) if len(df) and df["timestamp"].notna().all() else pd.TimedeltaIndex(np.array([valid.min(), valid.max()]).view("m8[ns]"))
        dur = (valid.max() - valid.min()) / 1e9
        rows += [("start", str(ti[0])), ("end", str(ti[1])), ("duration_s", round(float(dur), 6)),
                 ("avg_bps", round(float(nbytes.sum() * 8 / dur), 1) if dur > 0 else None)]
    for p, c in df["protocol"].value_counts().items():
        if c:
            rows.append((f"protocol.{p}", int(c)))
    for c in ("interface", "direction"):
        if df[c].notna().any():
            for k, v in df[c].value_counts().items():
                if v:
                    rows.append((f"{c}.{k}", int(v)))
    rows.append(("conversations.tcp", int(len(conversations(df, ("TCP",))))))
    rows.append(("conversations.udp", int(len(conversations(df, ("UDP",))))))
    rows.append(("tcp.resets", int(((df["tcp_flagbits"].fillna(0).to_numpy(np.int64) & 4) != 0).sum())))
    if "unparsed_count" in df.attrs:
        rows.append(("unparsed_lines", int(df.attrs["unparsed_count"])))
    if "truncated_at" in df.attrs:
        rows.append(("truncated_at", int(df.attrs["truncated_at"])))
    return pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")
