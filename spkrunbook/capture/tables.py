"""The shape of every statistics table, written once for both ways of computing it.

Why: a capture is analysed either from its DataFrame (:mod:`stats`, :mod:`expert`,
:mod:`flows`) or in one streaming pass that never holds the packets
(:mod:`streaming`).  Both reduce the packets to the same small aggregates
(per conversation, per address, per time bin, per stream ...); the functions
here turn those aggregates into the tables people read, so the two paths give
equal frames by construction and a change of a column happens in one place.

Orders are stable and stated: ties keep first-appearance (conversations,
streams) or category order (protocols, flags, interfaces), as pandas'
``value_counts`` and ``groupby(sort=False)`` give them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from . import columns, schema

__all__ = ["HIERARCHY_LINKS", "Analysis", "conversation_table", "counts_in_order", "event_table", "expert_count_table",
           "flag_table", "hierarchy_keys", "hierarchy_table", "interval_table", "problem_table", "rtt_table",
           "summary_table", "talker_table"]

_MIN = np.iinfo(np.int64).min


class Analysis(Protocol):
    """What the streaming path's result answers in place of a capture frame (the same tables)."""

    def summary(self) -> pd.DataFrame: ...
    def conversations(self, protocols: tuple[str, ...] = ("TCP", "UDP")) -> pd.DataFrame: ...
    def per_interval(self, interval: str = "1s", by: str | list[str] | None = None) -> pd.DataFrame: ...
    def tcp_flag_counts(self) -> pd.DataFrame: ...
    def resets(self) -> pd.DataFrame: ...
    def top_talkers(self, n: int = 10) -> pd.DataFrame: ...
    def endpoints(self) -> pd.DataFrame: ...
    def protocol_hierarchy(self) -> pd.DataFrame: ...
    def tcp_anomalies(self) -> pd.DataFrame: ...
    def problem_conversations(self, n: int | None = None) -> pd.DataFrame: ...
    def handshake_rtts(self) -> pd.DataFrame: ...
    def problem_figures(self, n: int = 1) -> dict[str, Any]: ...
    def time_span(self) -> tuple[int, int] | None: ...
    def interfaces(self) -> list[str]: ...
    def directions(self) -> list[str]: ...
    def __len__(self) -> int: ...
    @property
    def dated(self) -> bool: ...


def counts_in_order(labels: Sequence[Any], counts: np.ndarray) -> list[tuple[Any, int]]:
    """(label, count) with count > 0, most first; ties in the order given (what ``value_counts`` does)."""
    c = np.asarray(counts, np.int64)
    order = np.argsort(-c, kind="stable")
    return [(labels[i], int(c[i])) for i in order if c[i] > 0]


def _endpoint_names(codes: np.ndarray, names: np.ndarray) -> Any:
    if len(names) == len(set(names.tolist())):
        return pd.Categorical.from_codes(codes, categories=pd.Index(names).astype(object))
    return names[codes]


def conversation_table(proto: np.ndarray, a_e: np.ndarray, b_e: np.ndarray, packets: np.ndarray, nbytes: np.ndarray,
                       packets_ab: np.ndarray, bytes_ab: np.ndarray, start: np.ndarray, end: np.ndarray,
                       names: np.ndarray, is_dated: bool, how: str) -> pd.DataFrame:
    """Folded conversations (endpoints are ``address code * 65536 + port``, A sent first), biggest first."""
    k = len(packets)
    dur = (end - start) / 1e9
    out = pd.DataFrame({
        "protocol": pd.Categorical.from_codes(proto, dtype=schema.COLUMNS["protocol"]),
        "a": _endpoint_names(a_e // 65536, names),
        "a_port": (a_e % 65536).astype(np.uint16),
        "b": _endpoint_names(b_e // 65536, names),
        "b_port": (b_e % 65536).astype(np.uint16),
        "packets_ab": packets_ab, "bytes_ab": bytes_ab, "packets_ba": packets - packets_ab, "bytes_ba": nbytes - bytes_ab,
        "packets": packets, "bytes": nbytes,
        "start": columns.time_index(start, is_dated) if k else pd.Series([], dtype="datetime64[ns, UTC]"),
        "duration": dur,
        "bps": pd.array(np.where(dur > 0, nbytes * 8 / np.where(dur > 0, dur, 1), np.nan), dtype="Float64"),
    })
    out["bps"] = out["bps"].mask(out["duration"] <= 0)
    out = out.sort_values(["bytes", "packets"], ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["bytes_source"] = how
    return out


def talker_table(names: np.ndarray, ps: np.ndarray, bs: np.ndarray, pr: np.ndarray, br: np.ndarray,
                 n: int | None) -> pd.DataFrame:
    """Addresses by bytes sent + received (all of them when ``n`` is None)."""
    out = pd.DataFrame({"address": names, "packets_sent": np.asarray(ps, np.int64), "bytes_sent": np.asarray(bs, np.int64),
                        "packets_received": np.asarray(pr, np.int64), "bytes_received": np.asarray(br, np.int64)})
    out["bytes"] = out["bytes_sent"] + out["bytes_received"]
    out["packets"] = out["packets_sent"] + out["packets_received"]
    out = out[out["packets"] > 0]
    out = out.sort_values(["bytes", "packets"], ascending=False, kind="stable")
    return (out.head(n) if n is not None else out).reset_index(drop=True)


def interval_table(bins: np.ndarray, keys: Mapping[str, np.ndarray], packets: np.ndarray, nbytes: np.ndarray,
                   step: int, interval: str, is_dated: bool, how: str) -> pd.DataFrame:
    """Packets and bytes per time bin (bin starts in ns) and per key column, from per-(bin, key) sums."""
    byl = list(keys)
    g = pd.DataFrame({"bin": (bins // step) * step, **keys, "p": packets, "b": nbytes})
    res = g.groupby(["bin"] + byl, sort=True, dropna=False).agg(packets=("p", "sum"), bytes=("b", "sum")).reset_index()
    sec = step / 1e9
    res.insert(0, "time", columns.time_index(res.pop("bin").to_numpy(np.int64), is_dated))
    res["packets_per_s"] = res["packets"] / sec
    res["bits_per_s"] = res["bytes"] * 8 / sec
    res.attrs["bytes_source"] = how
    res.attrs["interval"] = interval
    return res


def flag_table(counts: np.ndarray) -> pd.DataFrame:
    """TCP packets per flag combination from 257 counts (the 256 flag bytes, then "no flags read")."""
    labels = [*schema.FLAG_STRINGS, "?"]
    rows = counts_in_order(labels, counts)
    out = pd.DataFrame({"flags": pd.Index([f for f, _ in rows], dtype=object),
                        "packets": np.array([c for _, c in rows], np.int64)})
    out["share"] = out["packets"] / max(int(out["packets"].sum()), 1)
    return out.reset_index(drop=True)


def _when(t: object) -> str:
    """A capture time as text: an ISO timestamp, or a time of day for tcpdump text without a date."""
    if isinstance(t, pd.Timedelta):
        secs = t.total_seconds()
        h, rem = divmod(secs, 3600)
        m, sec = divmod(rem, 60)
        return f"{int(h):02d}:{int(m):02d}:{sec:09.6f} (time of day; the text has no date)"
    return str(t)


def summary_table(packets: int, nbytes: int, how: str, span: tuple[int, int] | None, is_dated: bool,
                  groups: Sequence[tuple[str, Sequence[Any], np.ndarray]], conversations: Mapping[str, int],
                  resets: int, attrs: Mapping[Any, Any]) -> pd.DataFrame:
    """The one-table summary: totals, time span, counts per protocol/interface/direction, conversations, resets.

    ``groups`` is (prefix, labels in category order, counts); ``span`` the first and last valid time (ns).
    """
    rows: list[tuple[str, object]] = [("packets", int(packets)), ("bytes", int(nbytes)), ("bytes_source", how)]
    if span is not None:
        lo, hi = span
        ti = columns.time_index(np.array([lo, hi], np.int64), is_dated)
        dur = (hi - lo) / 1e9
        rows += [("start", _when(ti[0])), ("end", _when(ti[1])), ("duration_s", round(float(dur), 6)),
                 ("avg_bps", round(float(nbytes * 8 / dur), 1) if dur > 0 else None)]
    for prefix, labels, counts in groups:
        rows += [(f"{prefix}.{k}", c) for k, c in counts_in_order(labels, counts)]
    rows += [(f"conversations.{p.lower()}", int(conversations.get(p, 0))) for p in ("TCP", "UDP")]
    rows.append(("tcp.resets", int(resets)))
    if "unparsed_count" in attrs:
        rows.append(("unparsed_lines", int(attrs["unparsed_count"])))
    if "truncated_at" in attrs:
        rows.append(("truncated_at", int(attrs["truncated_at"])))
    return pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")


# ----------------------------------------------------------------------------- protocol hierarchy
#: link layer and VLAN tags, as tshark's protocol hierarchy names them (the ``link`` column's categories)
HIERARCHY_LINKS: tuple[str, ...] = schema.LINKS
_NETS = ("ip", "ipv6", "arp", "lldp", "data")
_TRANSPORTS = ("", "tcp", "udp", "icmp", "icmpv6", "data")


def hierarchy_keys(link: np.ndarray, protocol: np.ndarray, ip_version: np.ndarray) -> np.ndarray:
    """One int per packet naming its path (link, network, transport): link codes (-1: unknown), protocol
    codes (schema order), IP version (0: not IP)."""
    net = np.where(ip_version == 4, 0, np.where(ip_version == 6, 1, np.where(protocol == 4, 2, np.where(protocol == 5, 3, 4))))
    tr = np.where(net <= 1, np.select([protocol == 0, protocol == 1, protocol == 2, protocol == 3], [1, 2, 3, 4], 5), 0)
    return ((link.astype(np.int64) + 1) * 64 + net * 8 + tr).astype(np.int32)


def _path(key: int) -> list[str]:
    link, rest = divmod(key, 64)
    net, tr = divmod(rest, 8)
    parts = HIERARCHY_LINKS[link - 1].split(":") if link else []
    parts.append(_NETS[net])
    if tr:
        parts.append(_TRANSPORTS[tr])
    return parts


def hierarchy_table(keys: np.ndarray, frames: np.ndarray, nbytes: np.ndarray, first: np.ndarray) -> pd.DataFrame:
    """tshark's protocol hierarchy (``-z io,phs``) down to the transport layer: one row per node, depth first,
    children in the order they first appear; frames and bytes include the children's."""
    nodes: dict[tuple[str, ...], list[int]] = {}
    for k, f, b, o in zip(np.asarray(keys).tolist(), np.asarray(frames).tolist(), np.asarray(nbytes).tolist(),
                          np.asarray(first).tolist()):
        parts = _path(int(k))
        for i in range(1, len(parts) + 1):
            node = nodes.setdefault(tuple(parts[:i]), [0, 0, o])
            node[0] += f
            node[1] += b
            node[2] = min(node[2], o)
    # depth first: a node sorts by the first appearances along its path
    firsts = {p: v[2] for p, v in nodes.items()}
    order = sorted(nodes, key=lambda p: [(firsts[p[:i]], p[i - 1]) for i in range(1, len(p) + 1)])
    return pd.DataFrame({
        "path": pd.Series([":".join(p) for p in order], dtype=object),
        "protocol": pd.Series([p[-1] for p in order], dtype=object),
        "level": np.array([len(p) - 1 for p in order], np.int64),
        "frames": np.array([nodes[p][0] for p in order], np.int64),
        "bytes": np.array([nodes[p][1] for p in order], np.int64),
    })


# ----------------------------------------------------------------------------- TCP expert tables
def expert_count_table(kinds: Sequence[tuple[str, str, str]], counts: Mapping[str, int], unavailable: Mapping[str, str],
                       inferred: Mapping[str, str], differences: Mapping[str, str]) -> pd.DataFrame:
    """One row per kind: tshark filter, packets flagged, whether the source gives it (exactly), notes."""
    rows = []
    for kind, filt, meaning in kinds:
        ok = kind not in unavailable
        rows.append({"kind": kind, "tshark_filter": filt, "packets": int(counts.get(kind, 0)) if ok else pd.NA,
                     "available": ok, "exact": ok and kind not in inferred, "meaning": meaning,
                     "note": "; ".join(x for x in (unavailable.get(kind), inferred.get(kind), differences.get(kind)) if x)})
    out = pd.DataFrame(rows)
    out["packets"] = out["packets"].astype("Int64")
    return out


EVENT_COLUMNS = ["frame", "timestamp", "time_of_day", "src", "sport", "dst", "dport", "tcp_flags", "seq", "ack", "payload_len"]


def event_table(rows: pd.DataFrame, flags: Mapping[str, np.ndarray], stream: np.ndarray) -> pd.DataFrame:
    """Long table, one row per (packet, kind) flagged, in frame order (kinds in the order given)."""
    parts = []
    for k, m in flags.items():
        if m.any():
            parts.append(rows.loc[m, EVENT_COLUMNS].assign(kind=k, stream=np.asarray(stream, np.int64)[m]))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=rows[c].dtype) for c in EVENT_COLUMNS}).assign(
            kind=pd.Series([], dtype=object), stream=pd.Series([], dtype=np.int64))[["kind", "stream", *EVENT_COLUMNS]]
    out = pd.concat(parts).sort_values(["frame"], kind="stable")
    return out[["kind", "stream", *EVENT_COLUMNS]].reset_index(drop=True)


WARN_KINDS = ("retransmission", "lost_segment", "duplicate_ack", "out_of_order", "zero_window", "window_full")
PROBLEM_COLUMNS = ["stream", "a", "a_port", "b", "b_port", "packets", "start", "duration", "resets", *WARN_KINDS]


def problem_table(agg: pd.DataFrame, first: pd.DataFrame, is_dated: bool, n: int | None) -> pd.DataFrame:
    """TCP streams with resets or retransmissions, worst first.

    ``agg`` is indexed by stream (ascending) with packets, t0, t1, resets and one count per
    :data:`WARN_KINDS`; ``first`` (same index) has a, a_port, b, b_port of each stream's first packet.
    """
    bad = agg[(agg["resets"] > 0) | (agg["retransmission"] > 0)].copy()
    if bad.empty:
        return pd.DataFrame({c: [] for c in PROBLEM_COLUMNS})
    f = first.loc[bad.index]
    bad.insert(0, "a", f["a"].to_numpy())
    bad.insert(1, "a_port", f["a_port"].array)
    bad.insert(2, "b", f["b"].to_numpy())
    bad.insert(3, "b_port", f["b_port"].array)
    bad["start"] = pd.to_datetime(bad["t0"], utc=True) if is_dated else pd.to_timedelta(bad["t0"], unit="ns")
    bad["duration"] = (bad["t1"] - bad["t0"]) / 1e9
    bad["_sev"] = bad["resets"] + bad["retransmission"]
    bad["_other"] = bad[list(WARN_KINDS)].sum(axis=1)
    bad = bad.sort_values(["_sev", "_other", "packets"], ascending=False, kind="stable").reset_index()
    out = bad[PROBLEM_COLUMNS].reset_index(drop=True)
    return out.head(n) if n else out


RTT_COLUMNS = ["stream", "client", "client_port", "server", "server_port", "start", "syn_to_synack_ms", "synack_to_ack_ms",
               "rtt_ms"]


def rtt_table(stream: np.ndarray, client: np.ndarray, client_port: Any, server: np.ndarray, server_port: Any,
              t_syn: np.ndarray, t_synack: np.ndarray, t_ack: np.ndarray, is_dated: bool) -> pd.DataFrame:
    """Handshake round-trip times, one row per stream whose SYN, SYN-ACK and ACK were captured (stream order)."""
    if not len(stream):
        return pd.DataFrame({c: [] for c in RTT_COLUMNS})
    out = pd.DataFrame({
        "stream": np.asarray(stream, np.int64),
        "client": client, "client_port": client_port, "server": server, "server_port": server_port,
        "start": pd.to_datetime(t_syn, utc=True) if is_dated else pd.to_timedelta(t_syn, unit="ns"),
        "syn_to_synack_ms": (t_synack - t_syn) / 1e6,
        "synack_to_ack_ms": (t_ack - t_synack) / 1e6,
    })
    out["rtt_ms"] = out["syn_to_synack_ms"] + out["synack_to_ack_ms"]
    return out.reset_index(drop=True)
