"""Statistics on a capture DataFrame (any source), each returned as a DataFrame.

Why DataFrames: the notebook shows them as tables, the record archives them,
the CLI prints them; nothing here prints.  All work is vectorised (integer
keys + one groupby), so 1M rows take a fraction of a second.  Each function
reduces the packets to small aggregates and hands them to
:mod:`spkrunbook.capture.tables`, which the streaming path
(:mod:`spkrunbook.capture.streaming`) feeds too; every function also accepts
that path's :class:`~spkrunbook.capture.streaming.CaptureStats` in place of a
frame and returns its (equal) table.

Bytes are frame bytes (``wire_len``, what tshark's ``conv`` counts); for
tcpdump text without ``-e`` the frame length is unknown and ``payload_len`` is
used instead (``bytes_source`` in ``df.attrs`` of the result says which).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import columns, tables
from .tables import Analysis

__all__ = ["conversations", "endpoints", "per_interval", "protocol_hierarchy", "resets", "summary", "tcp_anomalies",
           "tcp_flag_counts", "top_talkers"]

# the private names flows and plots still use (the helpers live in columns)
_time_ns = columns.time_ns
_int = columns.int_column


def _conv_keys(df: pd.DataFrame, protocols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows in conversations and their folded keys: idx, protocol code, lo/hi endpoint, fwd, group id, first row of each group."""
    sel = columns.proto_mask(df, protocols) & df["src"].notna().to_numpy() & df["dst"].notna().to_numpy()
    idx = np.nonzero(sel)[0]
    sc, dc, _ = columns.addr_codes(df)
    ea = sc[idx] * 65536 + columns.int_column(df, "sport")[idx]
    eb = dc[idx] * 65536 + columns.int_column(df, "dport")[idx]
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    fwd = ea <= eb
    pr = np.asarray(df["protocol"].cat.codes, np.int64)[idx]
    gid, k = columns.group_ids([pr, lo, hi])
    first = np.full(k, len(idx), np.int64)
    np.minimum.at(first, gid, np.arange(len(idx), dtype=np.int64))
    return idx, pr, lo, hi, fwd, gid, first


def conversations(df: pd.DataFrame | Analysis, protocols: tuple[str, ...] = ("TCP", "UDP")) -> pd.DataFrame:
    """5-tuple conversations, both directions folded, like ``tshark -z conv,tcp``.

    A is the endpoint that sent the first packet.  Columns: protocol, a, a_port,
    b, b_port, packets_ab, bytes_ab, packets_ba, bytes_ba, packets, bytes, start,
    duration (s), bps (bits/s over the duration; NA for a single instant).
    """
    if not isinstance(df, pd.DataFrame):
        return df.conversations(protocols)
    _, _, names = columns.addr_codes(df)
    nbytes, how = columns.bytes_column(df)
    t = columns.time_ns(df)
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
    return tables.conversation_table(pr[first], a_e, b_e, pk, by, n_ab, b_ab, start, end, names, columns.dated(df), how)


def per_interval(df: pd.DataFrame | Analysis, interval: str = "1s", by: str | list[str] | None = None) -> pd.DataFrame:
    """Packets and bytes per time bin (optionally per ``interface``/``direction``/...).

    Columns: time (bin start), [by...], packets, bytes, packets_per_s, bits_per_s.
    """
    if not isinstance(df, pd.DataFrame):
        return df.per_interval(interval, by)
    step = pd.Timedelta(interval).value
    if step <= 0:
        raise ValueError("interval must be positive")
    t = columns.time_ns(df)
    ok = t != np.iinfo(np.int64).min
    nbytes, how = columns.bytes_column(df)
    byl = [by] if isinstance(by, str) else list(by or [])
    keys = {b: df[b].to_numpy()[ok] if not isinstance(df[b].dtype, pd.CategoricalDtype) else df[b].astype(object).to_numpy()[ok]
            for b in byl}
    sub = df if ok.all() else df.iloc[np.nonzero(ok)[0]]
    return tables.interval_table(t[ok], keys, np.ones(int(ok.sum()), np.int64), nbytes[ok], step, interval,
                                 columns.dated(sub), how)


def _counts(values: pd.Series) -> tuple[list[object], np.ndarray]:
    """Categories (in order) and how many rows hold each; for a category column, without a per-row Python loop."""
    cat = values.astype("category") if not isinstance(values.dtype, pd.CategoricalDtype) else values
    codes = np.asarray(cat.cat.codes, np.int64)
    labels = list(cat.cat.categories)
    return labels, np.bincount(codes[codes >= 0], minlength=len(labels))


def tcp_flag_counts(df: pd.DataFrame | Analysis) -> pd.DataFrame:
    """TCP packets per flag combination (tcpdump notation), most frequent first."""
    if not isinstance(df, pd.DataFrame):
        return df.tcp_flag_counts()
    tcp = columns.proto_mask(df, ("TCP",))
    bits = np.asarray(df["tcp_flags"].cat.codes, np.int64)[tcp]  # the categories are the 256 flag bytes
    counts = np.bincount(bits[bits >= 0], minlength=256)
    return tables.flag_table(np.append(counts, int((bits < 0).sum())))


def resets(df: pd.DataFrame | Analysis) -> pd.DataFrame:
    """Every TCP packet with RST set: who reset whom, and when."""
    if not isinstance(df, pd.DataFrame):
        return df.resets()
    bits = columns.int_column(df, "tcp_flagbits")
    cols = ["frame", "timestamp", "time_of_day", "interface", "direction", "src", "sport", "dst", "dport", "tcp_flags", "seq", "ack"]
    return df.loc[(bits & 4) != 0, cols].reset_index(drop=True)


def _talkers(df: pd.DataFrame, n: int | None) -> pd.DataFrame:
    sc, dc, names = columns.addr_codes(df)
    nbytes, _ = columns.bytes_column(df)
    k = len(names)
    ok_s, ok_d = sc >= 0, dc >= 0
    ps = np.bincount(sc[ok_s], minlength=k)
    bs = np.bincount(sc[ok_s], weights=nbytes[ok_s], minlength=k)
    pr = np.bincount(dc[ok_d], minlength=k)
    br = np.bincount(dc[ok_d], weights=nbytes[ok_d], minlength=k)
    return tables.talker_table(names, ps, bs, pr, br, n)


def top_talkers(df: pd.DataFrame | Analysis, n: int = 10) -> pd.DataFrame:
    """Addresses by bytes sent + received: address, packets/bytes sent and received."""
    if not isinstance(df, pd.DataFrame):
        return df.top_talkers(n)
    return _talkers(df, n)


def endpoints(df: pd.DataFrame | Analysis) -> pd.DataFrame:
    """Every address with what it sent and received, most bytes first (``tshark -z endpoints,ip``; ARP
    senders and targets count too).  Columns as :func:`top_talkers`."""
    if not isinstance(df, pd.DataFrame):
        return df.endpoints()
    return _talkers(df, None)


def protocol_hierarchy(df: pd.DataFrame | Analysis) -> pd.DataFrame:
    """tshark's protocol hierarchy (``-z io,phs``) down to the transport layer: path (``eth:ip:tcp``),
    protocol, level, frames, bytes; each node counts its children, depth first, in order of appearance.

    tshark goes on into what it dissects above TCP/UDP (``data``, ``tls`` ...) and reassembles
    fragments; here the tree stops at the transport layer, non-first IPv4 fragments and IP protocols
    other than TCP/UDP/ICMP are ``data``, and IPv6 extension headers are not nodes.  A network header
    that does not parse (a ``-i any`` frame whose cooked header says IPv4 over leftover VLAN bytes) is
    ``data`` here where tshark names the ethertype, and tshark leaves malformed frames out of its
    tree.  tcpdump text has no link layer, so its tree starts at ``ip``/``ipv6``/``arp``.
    """
    if not isinstance(df, pd.DataFrame):
        return df.protocol_hierarchy()
    nbytes, _ = columns.bytes_column(df)
    link = np.asarray(df["link"].cat.codes, np.int64) if "link" in df.columns else np.full(len(df), -1, np.int64)
    keys = tables.hierarchy_keys(link, np.asarray(df["protocol"].cat.codes, np.int64),
                                 df["ip_version"].to_numpy(np.int64, na_value=0))
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    return tables.hierarchy_table(uniq, np.bincount(inv, minlength=len(uniq)),
                                  np.bincount(inv, weights=nbytes, minlength=len(uniq)).astype(np.int64), first)


def tcp_anomalies(df: pd.DataFrame | Analysis) -> pd.DataFrame:
    """Retransmissions and duplicate ACKs, as tshark flags them (``tcp.analysis.retransmission`` /
    ``duplicate_ack``; see :mod:`spkrunbook.capture.expert` for every other kind).

    A retransmission here is tshark's: generic, fast and spurious ones alike.
    Columns: kind, frame, timestamp, src, sport, dst, dport, seq, ack, payload_len.
    """
    if not isinstance(df, pd.DataFrame):
        return df.tcp_anomalies()
    from . import expert

    p = expert.analyze(df).packets
    return anomaly_table(df, p["row"].to_numpy(), p["retransmission"].to_numpy(), p["duplicate_ack"].to_numpy())


def anomaly_table(df: pd.DataFrame, rows: np.ndarray, retransmission: np.ndarray, duplicate_ack: np.ndarray) -> pd.DataFrame:
    """The rows of ``df`` flagged retransmission or duplicate ACK (the former wins), in capture order."""
    cols = ["frame", "timestamp", "src", "sport", "dst", "dport", "seq", "ack", "payload_len"]
    hit = retransmission | duplicate_ack
    out = df.iloc[rows[hit]][cols].reset_index(drop=True)
    out.insert(0, "kind", pd.Series(np.where(retransmission[hit], "retransmission", "duplicate_ack"), dtype=object))
    return out


def summary(df: pd.DataFrame | Analysis) -> pd.DataFrame:
    """One table: packets, bytes, first/last time, duration, rate, packets per protocol."""
    if not isinstance(df, pd.DataFrame):
        return df.summary()
    nbytes, how = columns.bytes_column(df)
    t = columns.time_ns(df)
    valid = t[t != np.iinfo(np.int64).min]
    span = (int(valid.min()), int(valid.max())) if len(valid) else None
    groups = [("protocol", *_counts(df["protocol"]))]
    for col in ("interface", "direction"):
        if df[col].notna().any():
            groups.append((col, *_counts(df[col])))
    # conversation counts from the folded keys alone (no per-conversation table)
    _, pr, _, _, _, _, first = _conv_keys(df, ("TCP", "UDP"))
    cats = list(df["protocol"].cat.categories)
    per = np.bincount(pr[first], minlength=len(cats))
    convs = {name: int(per[cats.index(name)]) if name in cats else 0 for name in ("TCP", "UDP")}
    nres = int(((columns.int_column(df, "tcp_flagbits") & 4) != 0).sum())
    return tables.summary_table(len(df), int(nbytes.sum()), how, span, columns.dated(df), groups, convs, nres, df.attrs)
