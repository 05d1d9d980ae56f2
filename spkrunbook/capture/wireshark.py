"""Wireshark's statistics tables from the engine's frames: Conversations, Endpoints, Protocol Hierarchy,
Expert Information, Capture File Properties and the packet list of flagged packets.

Why a layer of its own: the engine's frames keep their own column names and
plain numbers (``a``, ``a_port``, ``packets_ab``, bytes as integers), which code,
CSVs and the streaming engine rely on. A person who lives in Wireshark reads
Wireshark's names (Address A, Packets A→B, Rel Start, Bits/s A→B ...), its
severities (Error, Warning, Note, Chat) and its summaries ("This frame is a
(suspected) retransmission"), and sequence numbers relative to each direction's
first one. These functions map the one onto the other and compute nothing the
engine already computes; each table says how its columns read in
``attrs["kinds"]`` (bytes, bit/s, seconds ...), which the renderer
(``spkrunbook.display`` in notebooks and records, :mod:`.cli` on a terminal)
turns into text with :mod:`.units`.

A capture analysed in one streaming pass (a :class:`~.streaming.CaptureStats`,
no frame) gives what its aggregates hold: :func:`capture_properties`,
:func:`protocol_hierarchy`, :func:`conversations` (TCP per address and port
pair, not per stream) and :func:`expert_info` (the analysis flags and resets;
see :data:`STREAMING_EXPERT`). The IP conversations and endpoints, and the packet
list, need every packet; :data:`STREAMING_LEFT_OUT` says so.

Held against ``tshark -z conv,tcp``, ``-z conv,ip``, ``-z endpoints,ip``,
``-z io,phs`` and ``-z expert`` on the demo captures (``tests/capture/test_wireshark.py``
and the browser test of the debugging notebook). What the engine does not
dissect is not invented: SACK blocks (tshark's "D-SACK Sequence"), reassembly
("Malformed") and protocols above TCP/UDP (HTTP chats) are named in
:data:`NOT_ANALYSED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import columns, stats, units
from .expert import TcpExpert

if TYPE_CHECKING:
    from .streaming import CaptureStats

__all__ = ["CONVERSATION_COLUMNS", "ENDPOINT_COLUMNS", "EXPERT_COLUMNS", "HIERARCHY_COLUMNS", "NOT_ANALYSED",
           "PACKET_COLUMNS", "SEVERITIES", "STREAMING_EXPERT", "STREAMING_LEFT_OUT", "capture_properties", "conversations", "endpoints", "expert_counts",
           "expert_info", "flagged_packets", "ip_conversations", "packet_list", "protocol_hierarchy"]

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128
#: Wireshark's severities, loudest first, and the palette word each is shown in.
SEVERITIES: dict[str, str] = {"Error": "fail", "Warning": "warn", "Note": "note", "Chat": "skip"}

CONVERSATION_COLUMNS = ["Address A", "Port A", "Address B", "Port B", "Packets", "Bytes", "Packets A→B", "Bytes A→B",
                        "Packets B→A", "Bytes B→A", "Rel Start", "Duration", "Bits/s A→B", "Bits/s B→A"]
_CONV_KINDS = {"Port A": "id", "Port B": "id", "Packets": "count", "Bytes": "bytes", "Packets A→B": "count", "Bytes A→B": "bytes",
               "Packets B→A": "count", "Bytes B→A": "bytes", "Rel Start": "seconds:6", "Duration": "seconds:4",
               "Bits/s A→B": "bits/s", "Bits/s B→A": "bits/s"}
ENDPOINT_COLUMNS = ["Address", "Packets", "Bytes", "Tx Packets", "Tx Bytes", "Rx Packets", "Rx Bytes"]
_ENDPOINT_KINDS = {"Packets": "count", "Bytes": "bytes", "Tx Packets": "count", "Tx Bytes": "bytes",
                   "Rx Packets": "count", "Rx Bytes": "bytes"}
HIERARCHY_COLUMNS = ["Protocol", "Name", "Percent Packets", "Packets", "Percent Bytes", "Bytes", "Bits/s",
                     "End Packets", "End Bytes"]
_HIERARCHY_KINDS = {"Percent Packets": "ratio", "Packets": "count", "Percent Bytes": "ratio", "Bytes": "bytes",
                    "Bits/s": "bits/s", "End Packets": "count", "End Bytes": "bytes"}
EXPERT_COLUMNS = ["Severity", "Summary", "Group", "Protocol", "Count", "Packets", "Display filter"]
PACKET_COLUMNS = ["No.", "Time", "Source", "Destination", "Protocol", "Length", "Stream", "Info"]
_PACKET_KINDS = {"No.": "id", "Time": "seconds:6", "Length": "count", "Stream": "id"}

#: What tshark's Expert Information and hierarchy hold that these tables do not, and why.
NOT_ANALYSED = ("SACK blocks (tshark's \"D-SACK Sequence\"), reassembly (\"Malformed\") and protocols above "
                "TCP/UDP (HTTP, TLS ...) are not dissected here; the Protocol Hierarchy stops at the transport layer")

_NAMES = {"eth": "Ethernet", "sll": "Linux cooked-mode capture", "raw": "Raw packet data", "null": "Null/Loopback",
          "loop": "OpenBSD loopback", "vlan": "802.1Q Virtual LAN", "ieee8021ad": "802.1ad Provider Bridge (Q-in-Q)",
          "ip": "Internet Protocol Version 4", "ipv6": "Internet Protocol Version 6",
          "arp": "Address Resolution Protocol", "lldp": "Link Layer Discovery Protocol", "data": "Data",
          "tcp": "Transmission Control Protocol", "udp": "User Datagram Protocol",
          "icmp": "Internet Control Message Protocol", "icmpv6": "Internet Control Message Protocol v6"}

#: The network layer's names in a hierarchy path (what comes before them is the link layer).
_NETWORK = frozenset(("ip", "ipv6", "arp", "lldp", "data"))

#: tshark's expert entry for each kind of the TCP analysis: severity, summary, display filter.
_ANALYSIS: dict[str, tuple[str, str, str]] = {
    "retransmission": ("Note", "This frame is a (suspected) retransmission", "tcp.analysis.retransmission"),
    "fast_retransmission": ("Note", "This frame is a (suspected) fast retransmission", "tcp.analysis.fast_retransmission"),
    "spurious_retransmission": ("Note", "This frame is a (suspected) spurious retransmission",
                                "tcp.analysis.spurious_retransmission"),
    "out_of_order": ("Warning", "This frame is a (suspected) out-of-order segment", "tcp.analysis.out_of_order"),
    "lost_segment": ("Warning", "Previous segment(s) not captured (common at capture start)", "tcp.analysis.lost_segment"),
    "duplicate_ack": ("Note", "Duplicate ACK (#{n})", "tcp.analysis.duplicate_ack"),
    "zero_window": ("Warning", "TCP Zero Window segment", "tcp.analysis.zero_window"),
    "zero_window_probe": ("Note", "TCP Zero Window Probe", "tcp.analysis.zero_window_probe"),
    "zero_window_probe_ack": ("Note", "ACK to a TCP Zero Window Probe", "tcp.analysis.zero_window_probe_ack"),
    "window_full": ("Warning", "TCP window specified by the receiver is now completely full", "tcp.analysis.window_full"),
    "window_update": ("Chat", "TCP window update", "tcp.analysis.window_update"),
    "keep_alive": ("Note", "TCP keep-alive segment", "tcp.analysis.keep_alive"),
    "keep_alive_ack": ("Note", "ACK to a TCP keep-alive segment", "tcp.analysis.keep_alive_ack"),
}
#: The packet list's bracketed notes (Wireshark's Info column), in Wireshark's order.
_INFO_MARKS = (("spurious_retransmission", "TCP Spurious Retransmission"), ("fast_retransmission", "TCP Fast Retransmission"),
               ("retransmission", "TCP Retransmission"), ("out_of_order", "TCP Out-Of-Order"),
               ("lost_segment", "TCP Previous segment not captured"), ("window_full", "TCP Window Full"),
               ("zero_window", "TCP ZeroWindow"), ("zero_window_probe", "TCP ZeroWindowProbe"),
               ("zero_window_probe_ack", "TCP ZeroWindowProbeAck"), ("keep_alive", "TCP Keep-Alive"),
               ("keep_alive_ack", "TCP Keep-Alive ACK"), ("window_update", "TCP Window Update"))
#: How many frame numbers an Expert Information row lists (the count is always whole).
PACKETS_LISTED = 30
#: What Expert Information leaves out after a streaming pass, and why.
STREAMING_EXPERT = ("Streaming pass: the TCP analysis flags and the resets only, every packet counted; the "
                    "connection chats (SYN, SYN+ACK, FIN), the closing notes and reused ports need every packet of "
                    "each stream, which the pass does not keep; duplicate ACKs are not split by their number; the "
                    "frame numbers listed are those of the packets it kept")
#: The tables a streaming pass cannot give, and why.
STREAMING_LEFT_OUT = ("IPv4/IPv6 Conversations and Endpoints and the packet list of flagged packets are left out: "
                      "the streaming pass keeps TCP/UDP conversations and all addresses together (ARP's too), and "
                      "does not keep the packets a packet list shows")


def _totals(df: pd.DataFrame | CaptureStats) -> tuple[int, int, str, tuple[int, int] | None]:
    """Packets, bytes, what the bytes count (``wire_len`` ...) and the first and last valid time (ns)."""
    if not isinstance(df, pd.DataFrame):
        value = df.summary()["value"]
        return len(df), int(value["bytes"]), str(value["bytes_source"]), df.time_span()
    nbytes, how = columns.bytes_column(df)
    t = columns.time_ns(df)
    t = t[t != np.iinfo(np.int64).min]
    return len(df), int(nbytes.sum()), how, ((int(t.min()), int(t.max())) if len(t) else None)


def _with_kinds(df: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    df.attrs["kinds"] = dict(kinds)
    return df


def _start_ns(df: pd.DataFrame | CaptureStats) -> int:
    """The first packet's time on the engine's time axis (Wireshark's times are relative to it)."""
    if not isinstance(df, pd.DataFrame):
        span = df.time_span()
        return span[0] if span is not None else 0
    t = columns.time_ns(df)
    t = t[t != np.iinfo(np.int64).min]
    return int(t.min()) if len(t) else 0


def _ns(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None).to_numpy().astype("M8[ns]").view("i8")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.to_numpy().astype("M8[ns]").view("i8")
    return values.to_numpy().astype("m8[ns]").view("i8")


def _duration(start_ns: np.ndarray, end_ns: np.ndarray, t0: int) -> np.ndarray:
    """Seconds from first to last packet, as Wireshark takes them: relative stop minus relative start."""
    return (np.asarray(end_ns, np.int64) - t0) / 1e9 - (np.asarray(start_ns, np.int64) - t0) / 1e9


def _rates(nbytes: np.ndarray, duration: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Bits per second over each duration; missing (not 0) for a single instant."""
    ok = duration > 0
    return pd.array(np.where(ok, nbytes * 8 / np.where(ok, duration, 1), np.nan), dtype="Float64")


def conversations(df: pd.DataFrame | CaptureStats, protocol: str = "TCP", ex: TcpExpert | None = None) -> pd.DataFrame:
    """Wireshark's TCP (or UDP) Conversations under Wireshark's columns (A sent the first packet; Rel Start
    in seconds since the capture's first packet).

    UDP, and TCP without ``ex``: the engine's :func:`stats.conversations` (one row per address and port
    pair). TCP with the expert analysis ``ex``: one row per TCP stream, as Wireshark counts them, so a
    connection that reuses the ports of an earlier one is a conversation of its own. A streaming pass's
    :class:`~.streaming.CaptureStats` gives the former (its own conversation table).
    """
    if protocol == "TCP" and ex is not None and isinstance(df, pd.DataFrame):
        return _stream_conversations(df, ex)
    conv = stats.conversations(df, (protocol,))
    t0 = _start_ns(df)
    start = _ns(conv["start"]) if len(conv) else np.array([], np.int64)
    end = start + np.rint(conv["duration"].to_numpy(np.float64) * 1e9).astype(np.int64)
    dur = _duration(start, end, t0)
    out = pd.DataFrame({
        "Address A": conv["a"].astype(object).to_numpy(), "Port A": conv["a_port"].to_numpy(np.int64),
        "Address B": conv["b"].astype(object).to_numpy(), "Port B": conv["b_port"].to_numpy(np.int64),
        "Packets": conv["packets"].to_numpy(np.int64), "Bytes": conv["bytes"].to_numpy(np.int64),
        "Packets A→B": conv["packets_ab"].to_numpy(np.int64), "Bytes A→B": conv["bytes_ab"].to_numpy(np.int64),
        "Packets B→A": conv["packets_ba"].to_numpy(np.int64), "Bytes B→A": conv["bytes_ba"].to_numpy(np.int64),
        "Rel Start": (start - t0) / 1e9, "Duration": dur,
        "Bits/s A→B": _rates(conv["bytes_ab"].to_numpy(np.int64), dur),
        "Bits/s B→A": _rates(conv["bytes_ba"].to_numpy(np.int64), dur),
    }, columns=CONVERSATION_COLUMNS)
    out.attrs["bytes_source"] = conv.attrs.get("bytes_source", "wire_len")
    return _with_kinds(out, _CONV_KINDS)


def _stream_conversations(df: pd.DataFrame, ex: TcpExpert) -> pd.DataFrame:
    """TCP conversations, one per stream of the expert analysis, most bytes first."""
    p = ex.packets
    rows = p["row"].to_numpy(np.int64)
    nbytes, how = columns.bytes_column(df)
    g = pd.DataFrame({"stream": p["stream"].to_numpy(np.int64), "row": rows, "b": nbytes[rows],
                      "t": columns.time_ns(df)[rows]})
    first = g.groupby("stream", sort=True)["row"].min()
    a_src = df["src"].astype(object).to_numpy()[first.to_numpy()]
    src = df["src"].astype(object).to_numpy()[rows]
    sport = columns.int_column(df, "sport")[rows]
    a_port = columns.int_column(df, "sport")[first.to_numpy()]
    lookup = pd.DataFrame({"a": a_src, "ap": a_port}, index=first.index)
    g["ab"] = (src == lookup["a"].reindex(g["stream"]).to_numpy()) & (sport == lookup["ap"].reindex(g["stream"]).to_numpy())
    g["b_ab"] = np.where(g["ab"], g["b"], 0)
    agg = g.groupby("stream", sort=True).agg(packets=("b", "size"), bytes=("b", "sum"), p_ab=("ab", "sum"),
                                             b_ab=("b_ab", "sum"), t0=("t", "min"), t1=("t", "max"))
    fr = first.to_numpy()
    dur = _duration(agg["t0"].to_numpy(np.int64), agg["t1"].to_numpy(np.int64), _start_ns(df))
    b_ab = agg["b_ab"].to_numpy(np.int64)
    b_ba = agg["bytes"].to_numpy(np.int64) - b_ab
    out = pd.DataFrame({
        "Address A": a_src, "Port A": a_port,
        "Address B": df["dst"].astype(object).to_numpy()[fr], "Port B": columns.int_column(df, "dport")[fr],
        "Packets": agg["packets"].to_numpy(np.int64), "Bytes": agg["bytes"].to_numpy(np.int64),
        "Packets A→B": agg["p_ab"].to_numpy(np.int64), "Bytes A→B": b_ab,
        "Packets B→A": (agg["packets"] - agg["p_ab"]).to_numpy(np.int64), "Bytes B→A": b_ba,
        "Rel Start": (agg["t0"].to_numpy(np.int64) - _start_ns(df)) / 1e9, "Duration": dur,
        "Bits/s A→B": _rates(b_ab, dur), "Bits/s B→A": _rates(b_ba, dur),
    }, columns=CONVERSATION_COLUMNS)
    out = out.sort_values(["Bytes", "Packets"], ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["bytes_source"] = how
    return _with_kinds(out, _CONV_KINDS)


def _ip_rows(df: pd.DataFrame, version: int) -> np.ndarray:
    """Rows of IP packets of ``version`` (ARP's addresses are not IP endpoints)."""
    return df["ip_version"].to_numpy(np.int64, na_value=0) == version


def ip_conversations(df: pd.DataFrame, version: int = 4) -> pd.DataFrame:
    """Wireshark's IPv4 (or IPv6) Conversations: address pairs, both directions folded, A the first sender."""
    sc, dc, names = columns.addr_codes(df)
    idx = np.nonzero(_ip_rows(df, version) & (sc >= 0) & (dc >= 0))[0]
    s, d = sc[idx], dc[idx]
    lo, hi = np.minimum(s, d), np.maximum(s, d)
    if len(idx):
        gid, k = columns.group_ids([lo, hi])
    else:
        gid, k = np.zeros(0, np.int64), 0
    nbytes, how = columns.bytes_column(df)
    b, t = nbytes[idx], columns.time_ns(df)[idx]
    first = np.full(k, len(idx), np.int64)
    np.minimum.at(first, gid, np.arange(len(idx), dtype=np.int64))
    a_is_lo = (s == lo)[first] if k else np.zeros(0, bool)
    fwd_lo = s == lo
    pk = np.bincount(gid, minlength=k).astype(np.int64)
    by = np.bincount(gid, weights=b, minlength=k).astype(np.int64)
    p_lo = np.bincount(gid[fwd_lo], minlength=k).astype(np.int64)
    b_lo = np.bincount(gid[fwd_lo], weights=b[fwd_lo], minlength=k).astype(np.int64)
    start = np.full(k, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(start, gid, t)
    end = np.full(k, np.iinfo(np.int64).min, np.int64)
    np.maximum.at(end, gid, t)
    p_ab, b_ab = np.where(a_is_lo, p_lo, pk - p_lo), np.where(a_is_lo, b_lo, by - b_lo)
    a = np.where(a_is_lo, lo[first], hi[first]) if k else np.zeros(0, np.int64)
    bb = np.where(a_is_lo, hi[first], lo[first]) if k else np.zeros(0, np.int64)
    dur = _duration(start, end, _start_ns(df)) if k else np.zeros(0)
    out = pd.DataFrame({
        "Address A": names[a] if k else np.array([], object), "Address B": names[bb] if k else np.array([], object),
        "Packets": pk, "Bytes": by, "Packets A→B": p_ab, "Bytes A→B": b_ab, "Packets B→A": pk - p_ab,
        "Bytes B→A": by - b_ab, "Rel Start": (start - _start_ns(df)) / 1e9, "Duration": dur,
        "Bits/s A→B": _rates(b_ab, dur), "Bits/s B→A": _rates(by - b_ab, dur),
    })
    out = out.sort_values(["Bytes", "Packets"], ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["bytes_source"] = how
    return _with_kinds(out, _CONV_KINDS)


def endpoints(df: pd.DataFrame, version: int = 4) -> pd.DataFrame:
    """Wireshark's IPv4 (or IPv6) Endpoints: the engine's :func:`stats.endpoints` over the IP packets."""
    ep = stats.endpoints(df[_ip_rows(df, version)])
    out = pd.DataFrame({"Address": ep["address"].astype(object).to_numpy(), "Packets": ep["packets"].to_numpy(np.int64),
                        "Bytes": ep["bytes"].to_numpy(np.int64), "Tx Packets": ep["packets_sent"].to_numpy(np.int64),
                        "Tx Bytes": ep["bytes_sent"].to_numpy(np.int64),
                        "Rx Packets": ep["packets_received"].to_numpy(np.int64),
                        "Rx Bytes": ep["bytes_received"].to_numpy(np.int64)}, columns=ENDPOINT_COLUMNS)
    return _with_kinds(out, _ENDPOINT_KINDS)


def protocol_hierarchy(df: pd.DataFrame | CaptureStats) -> pd.DataFrame:
    """Wireshark's Protocol Hierarchy: each protocol indented under its parent, with its share of the
    packets and bytes, its bit rate over the capture, and what ends there (End Packets / End Bytes)."""
    ph = stats.protocol_hierarchy(df)
    packets, nbytes, _, times = _totals(df)
    total_p, total_b = max(packets, 1), max(nbytes, 1)
    span = (times[1] - times[0]) / 1e9 if times is not None else 0.0
    paths = ph["path"].tolist()
    frames, byts = ph["frames"].to_numpy(np.int64), ph["bytes"].to_numpy(np.int64)
    child_p = np.zeros(len(paths), np.int64)
    child_b = np.zeros(len(paths), np.int64)
    index = {p: i for i, p in enumerate(paths)}
    for i, p in enumerate(paths):
        parent = p.rpartition(":")[0]
        if parent in index:
            child_p[index[parent]] += frames[i]
            child_b[index[parent]] += byts[i]
    out = pd.DataFrame({
        "Protocol": ["\u00a0\u00a0" * int(lv) + str(pr) for lv, pr in zip(ph["level"], ph["protocol"])],
        "Name": [_NAMES.get(str(pr), str(pr)) for pr in ph["protocol"]],
        "Percent Packets": frames / total_p, "Packets": frames, "Percent Bytes": byts / total_b, "Bytes": byts,
        "Bits/s": _rates(byts, np.full(len(byts), span)),
        "End Packets": frames - child_p, "End Bytes": byts - child_b,
    }, columns=HIERARCHY_COLUMNS)
    out.attrs["path"] = paths
    return _with_kinds(out, _HIERARCHY_KINDS)


# ----------------------------------------------------------------------------- Expert Information
def _events(df: pd.DataFrame, ex: TcpExpert) -> pd.DataFrame:
    """One row per (packet, expert entry) tshark would add for TCP: severity, summary, filter, frame, row."""
    p = ex.packets
    if p.empty:
        return pd.DataFrame({"severity": [], "summary": [], "filter": [], "frame": [], "row": []})
    rows = p["row"].to_numpy(np.int64)
    frames = p["frame"].to_numpy(np.int64)
    bits = columns.int_column(df, "tcp_flagbits")[rows]
    sport = columns.int_column(df, "sport")[rows]
    dport = columns.int_column(df, "dport")[rows]
    stream, direction = p["stream"].to_numpy(np.int64), p["direction"].to_numpy(np.int64)
    parts: list[pd.DataFrame] = []

    def add(mask: np.ndarray, severity: str, summary: Any, filt: str) -> None:
        if mask.any():
            parts.append(pd.DataFrame({"severity": severity,
                                       "summary": summary[mask] if isinstance(summary, np.ndarray) else summary,
                                       "filter": filt, "frame": frames[mask], "row": rows[mask]}))

    syn, synack = (bits & (SYN | ACK)) == SYN, (bits & (SYN | ACK)) == (SYN | ACK)
    add(syn, "Chat", np.array([f"Connection establish request (SYN): server port {x}" for x in dport], object),
        "tcp.connection.syn")
    add(synack, "Chat", np.array([f"Connection establish acknowledge (SYN+ACK): server port {x}" for x in sport], object),
        "tcp.connection.synack")
    fin = (bits & FIN) != 0
    add(fin, "Chat", "Connection finish (FIN)", "tcp.connection.fin")
    if fin.any():  # the direction of a stream's first FIN initiates the closing; the other undergoes it
        f = pd.DataFrame({"stream": stream[fin], "direction": direction[fin]})
        first_dir = f.groupby("stream", sort=False)["direction"].first()
        initiator = np.full(int(stream.max()) + 1, -1, np.int64)
        initiator[first_dir.index.to_numpy(np.int64)] = first_dir.to_numpy(np.int64)
        active = fin & (direction == initiator[stream])
        add(active, "Note", "This frame initiates the connection closing", "tcp.connection.fin_active")
        add(fin & ~active, "Note", "This frame undergoes the connection closing", "tcp.connection.fin_passive")
    add((bits & RST) != 0, "Warning", "Connection reset (RST)", "tcp.connection.rst")
    add(_reused_ports(df, p), "Note", "A new tcp session is started with the same ports as an earlier session in this trace",
        "tcp.analysis.reused_ports")
    for kind, (severity, summary, filt) in _ANALYSIS.items():
        if kind not in p or kind in ex.unavailable:
            continue
        mask = p[kind].to_numpy(bool)
        if kind == "duplicate_ack":
            nums = p["dupack_num"].to_numpy(np.int64)
            add(mask, severity, np.array([summary.format(n=n) for n in nums], object), filt)
        else:
            add(mask, severity, summary, filt)
    return pd.concat(parts, ignore_index=True)


def _reused_ports(df: pd.DataFrame, p: pd.DataFrame) -> np.ndarray:
    """The first packet of every stream whose addresses and ports an earlier stream already used."""
    rows = p["row"].to_numpy(np.int64)
    stream = p["stream"].to_numpy(np.int64)
    out = np.zeros(len(p), bool)
    if not len(p):
        return out
    first = pd.Series(np.arange(len(p))).groupby(stream, sort=False).min().to_numpy(np.int64)
    sc, dc, _ = columns.addr_codes(df)
    ea = sc[rows[first]] * 65536 + columns.int_column(df, "sport")[rows[first]]
    eb = dc[rows[first]] * 65536 + columns.int_column(df, "dport")[rows[first]]
    key = pd.Series(list(zip(np.minimum(ea, eb).tolist(), np.maximum(ea, eb).tolist())))
    again = key.duplicated(keep="first").to_numpy(bool)
    out[first[again]] = True
    return out


def expert_info(df: pd.DataFrame | CaptureStats, ex: TcpExpert | None) -> pd.DataFrame:
    """Wireshark's Expert Information for TCP: one row per entry, loudest severity first, then in the
    order the entries first appear; Count is how many packets carry it, Packets their frame numbers.

    After a streaming pass (``df`` a :class:`~.streaming.CaptureStats`, ``ex`` None): the rows its
    counts give, as :data:`STREAMING_EXPERT` says."""
    empty = _with_kinds(pd.DataFrame({c: [] for c in EXPERT_COLUMNS}), {"Count": "count"})
    if not isinstance(df, pd.DataFrame):
        return _streaming_expert_info(df, empty)
    if ex is None:
        return empty
    ev = _events(df, ex)
    if ev.empty:
        return empty
    order = {s: i for i, s in enumerate(SEVERITIES)}
    g = ev.groupby(["severity", "summary", "filter"], sort=False)
    agg = g.agg(count=("frame", "size"), first=("frame", "min")).reset_index()
    frames = g["frame"].apply(lambda s: sorted(s.tolist())[:PACKETS_LISTED]).reset_index(drop=True)
    agg["frames"] = frames.to_numpy()
    agg["rank"] = agg["severity"].map(order)
    agg = agg.sort_values(["rank", "first"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame({
        "Severity": agg["severity"], "Summary": agg["summary"], "Group": "Sequence", "Protocol": "TCP",
        "Count": agg["count"].to_numpy(np.int64),
        "Packets": [f + ["…"] if c > len(f) else f for f, c in zip(agg["frames"], agg["count"])],
        "Display filter": agg["filter"],
    }, columns=EXPERT_COLUMNS)
    return _with_kinds(out, {"Count": "count", "Packets": "id"})


def _streaming_expert_info(cs: CaptureStats, empty: pd.DataFrame) -> pd.DataFrame:
    """Expert Information from a streaming pass's counts: each analysis kind it gives, and the resets."""
    if not cs.expert_packets:
        return empty
    counts = cs.expert_counts().set_index("kind")
    rows: list[tuple[str, str, str, int, list[int]]] = []
    resets = int(cs.summary()["value"].get("tcp.resets", 0))
    if resets:
        frames = sorted(cs.resets()["frame"].astype("int64").tolist())
        rows.append(("Warning", "Connection reset (RST)", "tcp.connection.rst", resets, frames))
    for kind, (severity, summary, filt) in _ANALYSIS.items():
        if kind not in counts.index or kind in cs.unavailable:
            continue
        n = counts.at[kind, "packets"]
        if pd.isna(n) or not int(n):
            continue
        rows.append((severity, summary.replace(" (#{n})", ""), filt, int(n), sorted(cs.frames(kind))))
    if not rows:
        return empty
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows.sort(key=lambda r: (order[r[0]], r[4][0] if r[4] else np.iinfo(np.int64).max))
    out = pd.DataFrame({
        "Severity": [r[0] for r in rows], "Summary": [r[1] for r in rows], "Group": "Sequence", "Protocol": "TCP",
        "Count": np.array([r[3] for r in rows], np.int64),
        "Packets": [r[4][:PACKETS_LISTED] + (["…"] if r[3] > min(len(r[4]), PACKETS_LISTED) else []) for r in rows],
        "Display filter": [r[2] for r in rows],
    }, columns=EXPERT_COLUMNS)
    return _with_kinds(out, {"Count": "count", "Packets": "id"})


def expert_counts(info: pd.DataFrame) -> dict[str, int]:
    """Packets per severity (``{"Error": 0, "Warning": 604, ...}``), what tshark -z expert heads each part with."""
    got = info.groupby("Severity")["Count"].sum() if len(info) else pd.Series(dtype="int64")
    return {s: int(got.get(s, 0)) for s in SEVERITIES}


# ----------------------------------------------------------------------------- the packet list
def _flag_names(bits: int) -> str:
    names = [n for b, n in ((FIN, "FIN"), (SYN, "SYN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG"),
                            (ECE, "ECE"), (CWR, "CWR")) if bits & b]
    return ", ".join(names) or "<None>"


def _dupack_of(p: pd.DataFrame) -> np.ndarray:
    """For each duplicate ACK the frame it repeats (Wireshark's ``Dup ACK <frame>#<n>``): the packet of its
    direction in its stream where the ACK number last changed (tshark's ``lastnondupack``)."""
    key = p["stream"].to_numpy(np.int64) * 2 + p["direction"].to_numpy(np.int64)
    frames = p["frame"].to_numpy(np.int64)
    order = np.lexsort((np.arange(len(p)), key))  # capture order within each (stream, direction)
    k, f, ack = key[order], frames[order], p["ack_rel"].to_numpy(np.int64)[order]
    new_group = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)
    changed = new_group | np.r_[True, ack[1:] != ack[:-1]] if len(k) else new_group
    last = np.maximum.accumulate(np.where(changed, np.arange(len(k)), -1)) if len(k) else np.zeros(0, np.int64)
    out = np.full(len(p), -1, np.int64)
    out[order] = f[np.maximum(last, 0)] if len(k) else out[order]
    return np.where(p["duplicate_ack"].to_numpy(bool), out, -1)


def _window_shift(df: pd.DataFrame, p: pd.DataFrame) -> np.ndarray:
    """The window-scale shift each packet's window is multiplied by (0: unknown, none, or a SYN)."""
    out = np.zeros(len(p), np.int64)
    if "tcp_wscale" not in df.columns or p.empty:
        return out
    rows = p["row"].to_numpy(np.int64)
    bits = columns.int_column(df, "tcp_flagbits")[rows]
    ws = columns.int_column(df, "tcp_wscale", -1)[rows]
    st, d = p["stream"].to_numpy(np.int64), p["direction"].to_numpy(np.int64)
    syn = (bits & SYN) != 0
    first = pd.DataFrame({"stream": st[syn], "d": d[syn], "ws": ws[syn]}).groupby(["stream", "d"])["ws"].first()
    seen = {(int(a), int(b)): int(w) for (a, b), w in first.items()}
    shift: dict[tuple[int, int], int] = {}
    for (stream, direction), w in seen.items():
        other = seen.get((stream, 1 - direction), -1)
        if w >= 0 and other >= 0:
            shift[(stream, direction)] = min(w, 14)
    if shift:
        out = np.array([0 if sy else shift.get((a, b), 0) for a, b, sy in zip(st.tolist(), d.tolist(), syn.tolist())],
                       np.int64)
    return out


def packet_list(df: pd.DataFrame, ex: TcpExpert, frames: list[int] | np.ndarray) -> pd.DataFrame:
    """Wireshark's packet list for some TCP frames: No., Time (seconds since the first packet), Source,
    Destination, Protocol, Length, Stream and Info with relative Seq/Ack, the calculated window and the
    expert notes in brackets (``[TCP Retransmission] 56114 → 8080 [PSH, ACK] Seq=1 Ack=1 Win=502 Len=100``)."""
    p = ex.packets
    want = np.isin(p["frame"].to_numpy(np.int64), np.asarray(frames, np.int64))
    dupof = _dupack_of(p)[want]
    streams = np.isin(p["stream"].to_numpy(np.int64), p["stream"].to_numpy(np.int64)[want])
    shift = _window_shift(df, p[streams])[want[streams]]
    q = p[want]
    rows = q["row"].to_numpy(np.int64)
    t = (columns.time_ns(df)[rows] - _start_ns(df)) / 1e9
    bits = columns.int_column(df, "tcp_flagbits")[rows]
    sport, dport = df["sport"].to_numpy(np.int64, na_value=0)[rows], df["dport"].to_numpy(np.int64, na_value=0)[rows]
    window = df["window"].to_numpy(np.int64, na_value=-1)[rows]
    wire = df["wire_len"].array[rows]
    info = []
    for i, r in enumerate(q.itertuples(index=False)):
        marks = [text for kind, text in _INFO_MARKS if bool(getattr(r, kind, False))]
        if bool(getattr(r, "fast_retransmission", False)) or bool(getattr(r, "spurious_retransmission", False)):
            marks = [m for m in marks if m != "TCP Retransmission"]  # Wireshark names the more precise kind only
        if bool(r.duplicate_ack):
            marks.insert(0, f"TCP Dup ACK {dupof[i]}#{int(r.dupack_num)}" if dupof[i] >= 0 else
                         f"TCP Dup ACK #{int(r.dupack_num)}")
        parts = [f"[{m}]" for m in marks] + [f"{sport[i]} → {dport[i]} [{_flag_names(int(bits[i]))}]"]
        if int(r.seq_rel) >= 0:
            parts.append(f"Seq={int(r.seq_rel)}")
        if bits[i] & ACK and int(r.ack_rel) >= 0:
            parts.append(f"Ack={int(r.ack_rel)}")
        if window[i] >= 0:
            parts.append(f"Win={int(window[i]) << int(shift[i])}")
        parts.append(f"Len={int(r.payload_len)}")
        info.append(" ".join(parts))
    out = pd.DataFrame({
        "No.": q["frame"].to_numpy(np.int64), "Time": t,
        "Source": df["src"].astype(object).to_numpy()[rows], "Destination": df["dst"].astype(object).to_numpy()[rows],
        "Protocol": "TCP", "Length": wire, "Stream": q["stream"].to_numpy(np.int64), "Info": info,
    }, columns=PACKET_COLUMNS)
    return _with_kinds(out.reset_index(drop=True), _PACKET_KINDS)


def flagged_packets(df: pd.DataFrame, ex: TcpExpert | None, n: int = 25) -> pd.DataFrame:
    """The first ``n`` packets with a TCP warning or note (analysis flags, resets, reused ports; not the
    chats nor the closing notes), as Wireshark's packet list shows them."""
    if ex is None or ex.packets.empty:
        return _with_kinds(pd.DataFrame({c: [] for c in PACKET_COLUMNS}), _PACKET_KINDS)
    p = ex.packets
    loud = (columns.int_column(df, "tcp_flagbits")[p["row"].to_numpy(np.int64)] & RST) != 0
    for kind, (severity, _, _) in _ANALYSIS.items():
        if kind in p and kind not in ex.unavailable and severity != "Chat":
            loud |= p[kind].to_numpy(bool)
    loud |= _reused_ports(df, p)
    return packet_list(df, ex, p["frame"].to_numpy(np.int64)[loud][:n])


def capture_properties(df: pd.DataFrame | CaptureStats) -> pd.DataFrame:
    """Wireshark's Capture File Properties, the part a frame knows: format, encapsulation, first and
    last packet, elapsed time, packets, bytes and the averages (each value as text, with its unit).
    A streaming pass's :class:`~.streaming.CaptureStats` knows the same (its encapsulations from the
    protocol hierarchy)."""
    packets, total, how, times = _totals(df)
    rows: list[tuple[str, str]] = []
    attrs: Mapping[Any, Any]
    if isinstance(df, pd.DataFrame):
        fmt, attrs, dated = df.attrs.get("format"), df.attrs, columns.dated(df)
        links = list(df["link"].dropna().unique()) if "link" in df.columns else []
    else:
        fmt, attrs, dated = df.format, df.attrs, df.dated
        links = []
        for path in stats.protocol_hierarchy(df)["path"]:  # the link part of each path, in order of appearance
            parts = str(path).split(":")
            net = next((i for i, x in enumerate(parts) if x in _NETWORK), None)  # None: a node above the network
            link = ":".join(parts[:net]) if net else ""
            if link and link not in links:
                links.append(link)
    if fmt:
        rows.append(("Format", {"pcap": "Wireshark/tcpdump/... - pcap", "pcapng": "Wireshark/... - pcapng",
                                "text": "tcpdump text"}.get(str(fmt), str(fmt))))
    if links:
        rows.append(("Encapsulation", ", ".join(" over ".join(_NAMES.get(p, p) for p in reversed(str(x).split(":")))
                                                for x in links)))
    if times is not None:
        first, last = columns.time_index(np.array(times, np.int64), dated)
        when = (lambda x: pd.Timestamp(x).strftime("%Y-%m-%d %H:%M:%S.%f UTC")) if dated else \
            (lambda x: str(pd.Timedelta(x)).split(" days ")[-1] + " (time of day; the text has no date)")
        span = (times[1] - times[0]) / 1e9
        rows += [("First packet", when(first)), ("Last packet", when(last)), ("Elapsed", units.seconds(span, 3) + " s")]
    else:
        span = 0.0
    rows += [("Packets", units.count(packets)), ("Bytes", f"{units.size(total)}" + (f" ({total:,} bytes)" if total >= 10_000 else ""))]
    if how != "wire_len":
        rows.append(("Bytes counted", "TCP/UDP payload (the text has no frame lengths; tcpdump -e prints them)"))
    if span > 0:
        rows += [("Average packets/s", f"{packets / span:,.1f}"), ("Average packet size", f"{total / max(packets, 1):,.0f} bytes"),
                 ("Average bits/s", units.bit_rate(total * 8 / span))]
    for key, label in (("unparsed_count", "Lines not understood"), ("truncated_at", "Cut off at byte")):
        if key in attrs:
            rows.append((label, units.count(int(attrs[key]))))
    return pd.DataFrame(rows, columns=["Property", "Value"])
