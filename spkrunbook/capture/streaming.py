"""A capture of any size analysed in one streaming pass, in bounded memory, with the whole-file path's tables.

Why: the whole-file path (:func:`~spkrunbook.capture.read_capture` then
:mod:`stats`/:mod:`expert`) holds every packet as a DataFrame row, about 200 MiB
per million packets at its peak; a busy TMM's capture runs to many GB.  Here the
readers decode a chunk at a time as usual, and each chunk is reduced at once to
state kept per conversation, per TCP stream, per address and per time bin (the C
loop in ``_account.c``); the chunk is then dropped.  Only the packets a table or
a figure shows are kept: every TCP reset, every packet the expert analysis flags
(up to :data:`~spkrunbook.capture.limits.MAX_KEPT_ROWS`), and the packets of the
worst streams, read back from the file for their flow and sequence graphs.

>>> cs = analyze_capture("big.pcap")        # doctest: +SKIP
>>> cs.conversations(); cs.summary(); cs.expert_counts(); cs.problem_conversations()  # doctest: +SKIP
>>> stats.conversations(cs)                 # the stats functions take it in place of a frame  # doctest: +SKIP

Every table equals the whole-file path's on the same capture (tested on every
kept capture): both paths reduce the packets to the same aggregates and build
the tables with :mod:`spkrunbook.capture.tables`.  What differs:

- I/O bins are kept at the finest width that keeps the capture's span within
  131,072 bins (100 µs for up to 13 s, 1 ms up to 2 min, ... one day at most);
  :meth:`CaptureStats.per_interval` takes any multiple of it (every interval
  :func:`plots.choose_interval` picks is one) and ``by`` interface and/or direction.
- Memory grows with the connections, conversations and addresses a capture
  holds (a few hundred bytes each), not with its packets.

Without the C extension (no compiler at install) the statistics are taken from
the whole-file path instead, and :attr:`CaptureStats.notes` says so.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spkrunbook.errors import CaptureError

from . import _text_stream, columns, expert, l2, pcap, schema, stats, tables
from .limits import MAX_KEPT_ROWS, MAX_PACKETS, MAX_STREAM_PACKETS, TEXT_CHUNK, open_regular

try:  # the per-packet loop; optional like the record walk
    from . import _account
except ImportError:  # pragma: no cover - depends on the build
    _account = None  # type: ignore[assignment]

__all__ = ["HAVE_C_ACCOUNT", "CaptureStats", "analyze_capture"]

HAVE_C_ACCOUNT = _account is not None
_RST = 4
_TCP = 0
_KIND_BIT = {k: 1 << i for i, k in enumerate(expert.KIND_NAMES)}


# ----------------------------------------------------------------------------- the result
@dataclass
class CaptureStats:
    """The statistics and TCP expert analysis of one capture, from one streaming pass.

    Methods return the tables :mod:`stats`, :mod:`expert` and :mod:`flows` return
    for the whole capture's frame; ``kept`` is the frame of the packets kept
    (resets and flagged packets), ``notes`` says what the pass could not keep.
    """

    source: str
    format: str
    packets: int
    file_bytes: int
    attrs: dict[str, Any]
    kept: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    # reduced state (from the accounting loop, addresses in the frame's category order)
    _t: dict[str, Any] = field(default_factory=dict, repr=False)
    _x: dict[str, Any] = field(default_factory=dict, repr=False)
    _figure_streams: dict[int, tuple[pd.DataFrame, expert.TcpExpert]] = field(default_factory=dict, repr=False)
    _reader: Any = field(default=None, repr=False)
    _opts: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- what it was
    @property
    def dated(self) -> bool:
        """Whether times are dates (pcap, dated text) or times of day (text without a date)."""
        return bool(self._t["dated"])

    @property
    def bytes_source(self) -> str:
        return str(self._t["how"])

    def __len__(self) -> int:
        return self.packets

    def time_span(self) -> tuple[int, int] | None:
        """First and last packet time (ns on the capture's time axis), or None without times."""
        t = self._t
        return (int(t["tmin"]), int(t["tmax"])) if t["valid_times"] else None

    # ---------------------------------------------------------------- stats
    def summary(self) -> pd.DataFrame:
        t = self._t
        groups: list[tuple[str, list[Any], np.ndarray]] = [("protocol", list(schema.PROTOCOLS), t["proto_counts"][:7])]
        if t["iface_counts"].sum():
            groups.append(("interface", t["iface_labels"], t["iface_counts"]))
        if t["dir_counts"][:5].sum():
            groups.append(("direction", list(schema.DIRECTIONS), t["dir_counts"][:5]))
        proto = t["conv_proto"]
        convs = {p: int((proto == schema.PROTOCOLS.index(p)).sum()) for p in ("TCP", "UDP")}
        return tables.summary_table(self.packets, int(t["bytes"]), self.bytes_source, self.time_span(), self.dated,
                                    groups, convs, int(t["resets"]), self.attrs)

    def conversations(self, protocols: tuple[str, ...] = ("TCP", "UDP")) -> pd.DataFrame:
        t = self._t
        sel = np.isin(t["conv_proto"], [schema.PROTOCOLS.index(p) for p in protocols if p in schema.PROTOCOLS])
        g = {k: t[k][sel] for k in ("conv_proto", "conv_a", "conv_b", "conv_packets", "conv_bytes", "conv_pk_ab",
                                     "conv_by_ab", "conv_start", "conv_end")}
        return tables.conversation_table(g["conv_proto"], g["conv_a"], g["conv_b"], g["conv_packets"], g["conv_bytes"],
                                         g["conv_pk_ab"], g["conv_by_ab"], g["conv_start"], g["conv_end"], t["names"],
                                         self.dated, self.bytes_source)

    def per_interval(self, interval: str = "1s", by: str | list[str] | None = None) -> pd.DataFrame:
        t = self._t
        step = pd.Timedelta(interval).value
        if step <= 0:
            raise ValueError("interval must be positive")
        width = int(t["bin_ns"])
        if step % width:
            raise ValueError(f"this capture's I/O bins are {pd.Timedelta(width, unit='ns')} wide (streaming pass); "
                             f"ask for a multiple of that, not {interval}")
        byl = [by] if isinstance(by, str) else list(by or [])
        keys: dict[str, np.ndarray] = {}
        combo = t["bin_combo"]
        for b in byl:
            if b == "interface":
                code = (combo >> 8) - 1
                labels = np.array([*t["iface_names_by_code"], np.nan], dtype=object)
                keys[b] = labels[np.where(code >= 0, code, len(labels) - 1)]
            elif b == "direction":
                code = (combo & 0xFF) - 1
                labels = np.array([*schema.DIRECTIONS, np.nan], dtype=object)
                keys[b] = labels[np.where(code >= 0, code, len(labels) - 1)]
            else:
                raise ValueError(f"the streaming pass keeps I/O bins per interface and direction, not per {b!r}")
        return tables.interval_table(t["bin_key"] * width, keys, t["bin_packets"], t["bin_bytes"], step, interval,
                                     bool(t["dated_valid"]), self.bytes_source)

    def tcp_flag_counts(self) -> pd.DataFrame:
        return tables.flag_table(np.append(self._t["flag_counts"], self._t["tcp_no_header"]))

    def resets(self) -> pd.DataFrame:
        return stats.resets(self.kept)

    def top_talkers(self, n: int = 10) -> pd.DataFrame:
        t = self._t
        return tables.talker_table(t["names"], t["ps"], t["bs"], t["pr"], t["br"], n)

    def endpoints(self) -> pd.DataFrame:
        t = self._t
        return tables.talker_table(t["names"], t["ps"], t["bs"], t["pr"], t["br"], None)

    def protocol_hierarchy(self) -> pd.DataFrame:
        t = self._t
        return tables.hierarchy_table(t["hier_key"], t["hier_frames"], t["hier_bytes"], t["hier_first"])

    def tcp_anomalies(self) -> pd.DataFrame:
        x = self._x
        bits = x["bits"]
        return stats.anomaly_table(self.kept, np.arange(len(self.kept)), (bits & _KIND_BIT["retransmission"]) != 0,
                                   (bits & _KIND_BIT["duplicate_ack"]) != 0)

    @property
    def tcp_packets(self) -> int:
        """Packets whose protocol is TCP (with or without a TCP header)."""
        return int(self._t["proto_counts"][_TCP])

    @property
    def tcp_data_segments(self) -> int:
        """TCP packets that carry payload."""
        return int(self._t["tcp_data"])

    @property
    def expert_packets(self) -> int:
        """TCP packets the expert analysis looked at (a TCP header and both addresses)."""
        return int(self._x["rows"])

    # ---------------------------------------------------------------- the expert analysis
    @property
    def relative_text(self) -> bool | None:
        return self._x["relative_text"]

    @property
    def unavailable(self) -> dict[str, str]:
        return dict(self._x["unavailable"])

    @property
    def inferred(self) -> dict[str, str]:
        return dict(self._x["inferred"])

    def expert_counts(self) -> pd.DataFrame:
        """tshark's Expert Information for TCP: what :meth:`expert.TcpExpert.counts` gives."""
        x = self._x
        return tables.expert_count_table(expert.KINDS, x["counts"], x["unavailable"], x["inferred"], expert.DIFFERENCES)

    def events(self, kinds: Iterable[str] | None = None) -> pd.DataFrame:
        """One row per (packet, kind) flagged: what :meth:`expert.TcpExpert.events` gives."""
        x = self._x
        ks = [k for k in (kinds or expert.KIND_NAMES) if k not in x["unavailable"]]
        bits = x["bits"]
        hit = np.zeros(len(bits), bool)
        for k in ks:
            hit |= (bits & _KIND_BIT[k]) != 0
        rows = self.kept.iloc[np.flatnonzero(hit)].reset_index(drop=True)
        return tables.event_table(rows, {k: (bits[hit] & _KIND_BIT[k]) != 0 for k in ks}, x["stream"][hit])

    def frames(self, kind: str) -> list[int]:
        """Frame numbers flagged with ``kind`` (what ``tshark -Y tcp.analysis.<kind>`` lists)."""
        if kind not in expert.KIND_NAMES:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(expert.KIND_NAMES)}")
        m = (self._x["bits"] & _KIND_BIT[kind]) != 0
        return self.kept["frame"].to_numpy(np.int64)[m].tolist()

    def problem_conversations(self, n: int | None = None) -> pd.DataFrame:
        s = self._x["streams"]
        if not len(s):
            return pd.DataFrame({c: [] for c in tables.PROBLEM_COLUMNS})
        agg = s[["packets", "t0", "t1", "resets", *tables.WARN_KINDS]]
        names = self._t["names"]
        first = pd.DataFrame({"a": names[s["a"].to_numpy()], "a_port": pd.array(s["a_port"].to_numpy(), dtype="UInt16"),
                              "b": names[s["b"].to_numpy()], "b_port": pd.array(s["b_port"].to_numpy(), dtype="UInt16")},
                             index=s.index)
        return tables.problem_table(agg, first, self.dated, n)

    def handshake_rtts(self) -> pd.DataFrame:
        s = self._x["streams"]
        h = s[s["has_handshake"].to_numpy() != 0] if len(s) else s
        names = self._t["names"]
        return tables.rtt_table(h.index.to_numpy(), names[h["client"].to_numpy()],
                                pd.array(h["client_port"].to_numpy(), dtype="UInt16"), names[h["server"].to_numpy()],
                                pd.array(h["server_port"].to_numpy(), dtype="UInt16"), h["t_syn"].to_numpy(),
                                h["t_synack"].to_numpy(), h["t_ack"].to_numpy(), self.dated or not self.packets)

    def stream(self, stream: int) -> tuple[pd.DataFrame, expert.TcpExpert]:
        """The packets of one TCP stream (a schema frame) and their expert analysis, stream numbers global:
        what :func:`flows.flow_diagram` and :func:`flows.stream_graph` draw.  The worst streams were kept
        during the pass; any other is read back from the file (which must still be there)."""
        if stream not in self._figure_streams:
            self._figure_streams[stream] = _read_stream(self, stream)
        return self._figure_streams[stream]

    def problem_figures(self, n: int = 1) -> dict[str, Any]:
        """Flow diagram and stream graph of the ``n`` worst streams (what :func:`flows.problem_figures` draws)."""
        from . import flows

        out: dict[str, Any] = {}
        for st in self.problem_conversations(n)["stream"].astype(int):
            df, ex = self.stream(int(st))
            out[f"stream-{st}-flow"] = flows.flow_diagram(df, int(st), ex=ex)
            out[f"stream-{st}-sequence"] = flows.stream_graph(df, int(st), ex=ex)
        return out

    def mac_counts(self) -> tuple[Counter[str], Counter[str]]:
        """(frames per destination MAC, frames per source MAC), what :func:`l2.mac_counts` counts in the file."""
        if "macs" not in self._opts:
            raise CaptureError(f"{self.source}: MAC addresses were not counted (tcpdump text, or macs=False)",
                               hint="MAC addresses are read from pcap/pcapng captures: analyze_capture(path, macs=True)")
        to, frm = self._opts["macs"]
        return Counter(to), Counter(frm)

    def interfaces(self) -> list[str]:
        """The interfaces packets were seen on (pcapng names, ``-i any`` text), in category order."""
        t = self._t
        return [str(x) for x, c in zip(t["iface_labels"], t["iface_counts"]) if c]

    def directions(self) -> list[str]:
        """The Linux cooked directions seen (In, Out, ...)."""
        c = self._t["dir_counts"]
        return [d for i, d in enumerate(schema.DIRECTIONS) if c[i]]


# ----------------------------------------------------------------------------- the pass
class _Pass:
    """The accounting of one capture: the C tallies and expert state machine(s), and the rows kept."""

    def __init__(self, *, text: bool, has_ws: bool, relative: bool | None, max_kept: int) -> None:
        assert _account is not None
        self.tally = _account.Tally()
        self.text = text
        # text: both readings of the sequence numbers run side by side until the jumps decide
        readings = ([relative] if relative is not None else [True, False]) if text else [False]
        self.experts = {r: _account.Expert(text, r, has_ws) for r in readings}
        self.ordinal = 0
        self.max_kept = max_kept
        self.kept_rows = 0
        self.dropped_rows = 0
        self.bits: dict[bool, list[np.ndarray]] = {r: [] for r in readings}
        self.streams: dict[bool, list[np.ndarray]] = {r: [] for r in readings}

    def feed(self, n: int, a: Mapping[str, np.ndarray]) -> np.ndarray:
        """Tally and analyse ``n`` rows (arrays named as the C calls take them); return the rows to keep."""
        self.tally.add(n, self.ordinal, a["t"], a["wire"], a["wire_ok"], a["payload"], a["payload_ok"], a["src"], a["dst"],
                       a["sport"], a["dport"], a["proto"], a["flags"], a["tcp_ok"], a["iface"], a["pkttype"],
                       a["pkttype_ok"], a["link"], a["ipv"])
        self.ordinal += n
        keep = a["tcp_ok"] & ((a["flags"] & _RST) != 0)
        out: dict[bool, tuple[np.ndarray, np.ndarray]] = {}
        for r, ex in self.experts.items():
            b, s = ex.add(n, a["src"], a["dst"], a["sport"], a["dport"], a["proto"], a["flags"], a["tcp_ok"], a["seq"],
                          a["seq_ok"], a["ack"], a["ack_ok"], a["win"], a["win_ok"], a["payload"], a["payload_ok"], a["t"],
                          a.get("wscale"), a.get("wscale_ok"), a["frame"], a.get("offset"), a.get("end"))
            bits, stream = np.frombuffer(b, np.uint16), np.frombuffer(s, np.int32)
            keep = keep | (bits != 0)
            out[r] = (bits, stream)
        idx = np.flatnonzero(keep)
        room = self.max_kept - self.kept_rows
        if len(idx) > room:
            self.dropped_rows += len(idx) - max(room, 0)
            idx = idx[:max(room, 0)]
        self.kept_rows += len(idx)
        for r, (bits, stream) in out.items():
            self.bits[r].append(bits[idx])
            self.streams[r].append(stream[idx])
        return idx

    def finish(self) -> tuple[dict[str, Any], dict[bool, dict[str, Any]]]:
        tally = {k: (np.frombuffer(v, np.int64).copy() if isinstance(v, bytes) else v) for k, v in self.tally.tables().items()}
        ex = {}
        for r, e in self.experts.items():
            d = e.streams()
            ex[r] = {k: (np.frombuffer(v, np.int64).copy() if isinstance(v, bytes) else v) for k, v in d.items()}
            ex[r]["bits"] = np.concatenate(self.bits[r]) if self.bits[r] else np.zeros(0, np.uint16)
            ex[r]["stream"] = np.concatenate(self.streams[r]).astype(np.int64) if self.streams[r] else np.zeros(0, np.int64)
        return tally, ex


class _PcapSink(pcap._Columns):
    """Where a PcapStreamReader puts decoded chunks: tallied, analysed, then only the kept rows stored."""

    def __init__(self, acc: _Pass, macs: bool) -> None:
        super().__init__()
        self.want_macs = macs
        self.acc = acc
        self.packets_at_first_chunk_ifaces: int | None = None
        self.macs: tuple[dict[int, int], dict[int, int]] = ({}, {})

    def _count_macs(self, cols: dict[str, np.ndarray]) -> None:
        for values, into in zip((cols["mac_to"], cols["mac_from"]), self.macs):
            u, c = np.unique(values[values < np.uint64(1 << 63)], return_counts=True)
            for k, v in zip(u.tolist(), c.tolist()):
                into[k] = into.get(k, 0) + v

    def add(self, cols: dict[str, np.ndarray], frames: np.ndarray | None = None) -> None:
        n = len(cols["ts"])
        fr = (np.arange(self.count + 1, self.count + n + 1, dtype=np.int64) if frames is None
              else frames.astype(np.int64))
        self.count += n
        if self.packets_at_first_chunk_ifaces is None:
            self.packets_at_first_chunk_ifaces = len(self.ifnames)
        m_tcp = cols["m_tcp"]
        a = {
            "t": cols["ts"].astype(np.int64, copy=False), "wire": cols["wire"], "wire_ok": np.ones(n, bool),
            "src": cols["src"], "dst": cols["dst"], "sport": cols["sport"], "dport": cols["dport"], "proto": cols["proto"],
            "flags": cols["flags"], "tcp_ok": m_tcp, "payload": cols["payload"], "payload_ok": cols["m_payload"],
            "iface": cols["ifid"].astype(np.int32, copy=False), "pkttype": cols["pkttype"],
            "pkttype_ok": cols["m_pkttype"], "link": cols["link"], "ipv": cols["ipv"] * cols["m_ipv"],
            "seq": cols["seq"], "seq_ok": m_tcp, "ack": cols["ack"], "ack_ok": cols["m_ack"], "win": cols["win"],
            "win_ok": m_tcp, "wscale": cols["wscale"], "wscale_ok": cols["m_wscale"], "frame": fr,
            "offset": cols["offset"].astype(np.int64, copy=False),
            "end": cols["offset"].astype(np.int64) + cols["cap"],
        }
        idx = self.acc.feed(n, a)
        if self.want_macs:
            self._count_macs(cols)
        if len(idx) or not self.parts["ts"]:  # (an empty first part: the kept frame has the capture's categories)
            _keep(self, cols, fr, idx)


def _keep(sink: pcap._Columns, cols: dict[str, np.ndarray], frames: np.ndarray, idx: np.ndarray) -> None:
    """Store rows ``idx`` of a decoded chunk in ``sink`` (its frame is built from them at the end)."""
    for k in sink.NAMES:
        sink.parts[k].append(frames[idx].astype(np.uint32) if k == "frame" else cols[k][idx])


def _remap_addresses(names_first_seen: list[str], order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Address codes in first-seen order -> the frame's category order (``order`` sorts them); returns (names, remap)."""
    if not names_first_seen:
        return np.array([], dtype=object), np.zeros(0, np.int64)
    remap = np.empty(len(order), np.int64)
    remap[order] = np.arange(len(order))
    return np.array(names_first_seen, dtype=object)[order], remap


def _interface_labels(ifnames: dict[int, str], n_codes: int) -> tuple[list[str], list[str], np.ndarray]:
    """The interface column's categories as the frame builds them, the name of each interface code, and
    the category index of each code (pcapng ids; duplicate names share a category)."""
    if not ifnames:
        return [], [f"if{i}" for i in range(n_codes)], np.arange(n_codes)
    ifcats = [ifnames.get(i, f"if{i}") for i in range(max(max(ifnames) + 1, n_codes))]
    cats = list(dict.fromkeys(ifcats)) if len(set(ifcats)) == len(ifcats) else sorted(set(ifcats))
    return cats, ifcats, np.array([cats.index(x) for x in ifcats], np.int64)


def _bytes_label(packets: int, wire_rows: int) -> str:
    if packets and wire_rows == packets:
        return "wire_len"
    return "wire_len, else payload_len" if wire_rows else "payload_len"


def _finish(acc: _Pass, kept: pd.DataFrame, names_first_seen: list[str], order: np.ndarray,
            ifaces: dict[int, str] | tuple[list[str], list[str], np.ndarray], *, source: str, fmt: str, file_bytes: int,
            attrs: dict[str, Any], dated: bool, text: bool, has_ws: bool, dated_valid: bool | None = None) -> CaptureStats:
    """The pass's tallies and streams as a CaptureStats: addresses recoded in ``order`` (the frame's category order),
    interfaces as pcapng ids -> names (a dict) or (categories, name of each code, category of each code)."""
    t, ex = acc.finish()
    names, remap = _remap_addresses(names_first_seen, order)

    def recode(ep: np.ndarray) -> np.ndarray:
        return remap[ep >> 16] * 65536 + (ep & 0xFFFF) if len(ep) else ep

    t["conv_a"], t["conv_b"] = recode(t["conv_a"]), recode(t["conv_b"])
    order = np.argsort(remap) if len(remap) else np.zeros(0, np.int64)  # sorted position -> first-seen code
    for k in ("ps", "bs", "pr", "br"):
        v = t[k]
        full = np.zeros(len(names), np.int64)
        full[: len(v)] = v
        t[k] = full[order]
    t["names"] = names
    cats, by_code, cat_of_code = (_interface_labels(ifaces, len(t["iface_counts"])) if isinstance(ifaces, dict)
                                  else ifaces)
    counts = np.zeros(len(cats), np.int64)
    np.add.at(counts, cat_of_code[: len(t["iface_counts"])], t["iface_counts"])
    t["iface_labels"], t["iface_counts"], t["iface_names_by_code"] = cats, counts, by_code
    t["how"] = _bytes_label(int(t["packets"]), int(t["wire_rows"]))
    t["dated"] = dated
    t["dated_valid"] = dated if dated_valid is None else dated_valid
    notes = []
    if acc.dropped_rows:
        notes.append(f"{acc.dropped_rows:,} flagged or reset packets beyond the first {acc.max_kept:,} were counted but "
                     "not kept: the event and reset tables hold the first ones")
    # text: the reading of the sequence numbers with fewer jumps (what expert.analyze decides)
    if len(ex) == 2:
        relative = bool(ex[True]["jumps"] <= ex[False]["jumps"])
    else:
        relative = next(iter(ex))
    x = ex[relative]
    scols = ["packets", "t0", "t1", "resets", *tables.WARN_KINDS, "first_frame", "last_frame", "first_off", "last_end",
             "a", "a_port", "b", "b_port", "has_handshake", "t_syn", "t_synack", "t_ack", "client", "client_port", "server",
             "server_port"]
    streams = pd.DataFrame({c: x[c] for c in scols})
    streams["a_code"], streams["b_code"] = x["a"], x["b"]  # as the reader codes them (to read a stream back)
    for c in ("a", "b", "client", "server"):
        streams[c] = remap[streams[c].to_numpy()] if len(streams) else streams[c]
    streams.index = pd.RangeIndex(len(streams), name="stream").astype(np.int64)
    unavailable: dict[str, str] = dict(expert._TEXT_UNAVAILABLE) if text else {}
    if not text and not has_ws:
        unavailable["window_full"] = "this frame has no tcp_wscale column (the reader does not decode TCP options)"
    counts_arr = np.frombuffer(x["counts"], np.int64) if isinstance(x["counts"], bytes) else x["counts"]
    xd = {"counts": dict(zip(expert.KIND_NAMES, (int(c) for c in counts_arr))), "unavailable": unavailable,
          "inferred": dict(expert._TEXT_INFERRED) if text else {},
          "relative_text": relative if text and int(x["rows"]) else None,
          "streams": streams, "bits": x["bits"], "stream": x["stream"], "rows": int(x["rows"])}
    return CaptureStats(source=source, format=fmt, packets=int(t["packets"]), file_bytes=file_bytes, attrs=attrs,
                        kept=kept, notes=notes, _t=t, _x=xd)


# ----------------------------------------------------------------------------- entry point
def analyze_capture(path: str | os.PathLike[str], *, tz: str = "UTC", relative: bool | None = None, keep_streams: int = 1,
                    max_kept: int = MAX_KEPT_ROWS, max_packets: int | None = None, chunk_size: int | None = None,
                    macs: bool = False) -> CaptureStats:
    """Statistics and TCP expert analysis of a pcap, pcapng or tcpdump text file in one streaming pass.

    Memory is bounded (the packets are not kept; see the module docstring), so a
    capture of any size can be analysed.  ``keep_streams`` worst streams (resets,
    retransmissions) are read back for their figures; ``max_kept`` bounds the
    flagged and reset packets kept for the event tables; ``max_packets`` stops
    the pass early (None: read everything).  ``tz`` and ``relative`` are as for
    :func:`read_tcpdump_text` and :func:`expert.analyze`; ``chunk_size`` (bytes
    read at a time) defaults to the readers' own.  ``macs`` also counts the
    Ethernet addresses frames were sent to and from (:meth:`CaptureStats.mac_counts`).
    """
    from . import sniff_format

    p = os.fspath(path)
    with open_regular(p) as f:
        head = f.read(4096)
        size = os.fstat(f.fileno()).st_size
    kind = sniff_format(head)
    if kind not in ("pcap", "pcapng", "text"):
        raise CaptureError(f"{p} is neither pcap, pcapng nor tcpdump text (starts with {head[:8].hex(' ')})",
                           hint="save captures with 'tcpdump -w FILE' or paste tcpdump's text output into a .txt file")
    if _account is None:
        return _whole_file(p, size, tz, relative, max_packets)
    if kind == "text":
        r = _text_stream.analyze_text(p, lambda: _Pass(text=True, has_ws=False, relative=relative, max_kept=max_kept),
                                      tz=tz, max_packets=max_packets, chunk_size=chunk_size or TEXT_CHUNK)
        cs = _finish(r.acc, r.kept, r.names, r.order, r.ifaces, source=p, fmt="text", file_bytes=size, attrs=r.attrs,
                     dated=r.dated, text=True, has_ws=False, dated_valid=r.dated_valid)
        cs._opts = r.opts
    else:
        cs = _analyze_pcap(p, size, max_kept=max_kept, max_packets=max_packets, chunk_size=chunk_size or pcap.CHUNK,
                           macs=macs)
    for st in cs.problem_conversations(keep_streams)["stream"].astype(int) if keep_streams else []:
        cs.stream(int(st))
    return cs


def _analyze_pcap(p: str, size: int, *, max_kept: int, max_packets: int | None, chunk_size: int, macs: bool
                  ) -> CaptureStats:
    acc = _Pass(text=False, has_ws=True, relative=None, max_kept=max_kept)
    sink = _PcapSink(acc, macs)
    r = pcap.PcapStreamReader(p, min_batch=0, max_packets=max_packets)
    r._cols = sink
    with open_regular(p) as f:
        r._read_file(f, chunk_size)
    kept = r.close()
    attrs = {k: v for k, v in kept.attrs.items() if k in ("truncated_at", "skipped_records", "limit_reached")}
    cs = _finish(acc, kept, sink.addrs.names, sink.addrs.order(), sink.ifnames, source=p, fmt=str(kept.attrs.get("format", "pcap")),
                 file_bytes=size, attrs=attrs, dated=bool(r.packets), text=False, has_ws=True)
    cs._reader = _ReaderState.of(r, sink)
    if macs:
        cs._opts["macs"] = tuple(Counter({l2.mac_text(k): v for k, v in m.items()}) for m in sink.macs)
    return cs


# ----------------------------------------------------------------------------- the worst streams, read back
@dataclass
class _ReaderState:
    """What reading a pcap/pcapng file again from the middle needs: the header state and the address table."""

    fmt: str
    endian: str
    tsmult: int
    snaplen: int
    linktype: int
    ifaces: list[Any]
    ifbase: int
    single_section: bool
    sink: _PcapSink

    @classmethod
    def of(cls, r: pcap.PcapStreamReader, sink: _PcapSink) -> _ReaderState:
        same_ifaces = sink.packets_at_first_chunk_ifaces in (None, len(sink.ifnames))
        return cls(str(r._fmt), r._endian, r._tsmult, r._snaplen, r._linktype, list(r._ifaces), r._ifbase,
                   r._ifbase == 0 and same_ifaces, sink)


class _StreamSink(pcap._Columns):
    """Keeps the rows of one TCP stream (its 4-tuple within its frame range) while a file is read again."""

    def __init__(self, base: pcap._Columns, pair: tuple[int, int], ports: tuple[int, int], frames: tuple[int, int],
                 cap: int) -> None:
        super().__init__()
        self.addrs = base.addrs  # the same codes and names as the pass
        self.ifnames = base.ifnames
        self.pair, self.ports, self.frames = pair, ports, frames
        self.cap, self.kept = cap, 0
        self.reader: pcap.PcapStreamReader | None = None

    def add(self, cols: dict[str, np.ndarray], frames: np.ndarray | None = None) -> None:
        n = len(cols["ts"])
        fr = np.arange(self.count + 1, self.count + n + 1) if frames is None else frames.astype(np.int64)
        self.count += n
        (a, b), (pa, pb) = self.pair, self.ports
        s, d, sp, dp = cols["src"], cols["dst"], cols["sport"], cols["dport"]
        hit = (cols["proto"] == _TCP) & (fr >= self.frames[0]) & (fr <= self.frames[1]) & (
            ((s == a) & (d == b) & (sp == pa) & (dp == pb)) | ((s == b) & (d == a) & (sp == pb) & (dp == pa)))
        idx = np.flatnonzero(hit)[: max(self.cap - self.kept, 0)]
        if len(idx):
            _keep(self, cols, fr, idx)
            self.kept += len(idx)
        if self.kept >= self.cap and self.reader is not None:
            self.reader.limit_reached = f"{self.cap} packets of the stream"


def _block_start(f: Any, data_off: int, endian: str) -> int:
    """The start of the pcapng block whose packet data starts at ``data_off`` (enhanced/obsolete or simple)."""
    for back, types in ((28, (2, 6)), (12, (3,))):
        start = data_off - back
        if start < 0:
            continue
        f.seek(start)
        h = f.read(8)
        if len(h) < 8:
            continue
        btype, blen = struct.unpack(endian + "II", h)
        if btype in types and blen >= back:
            f.seek(start + blen - 4)
            tail = f.read(4)
            if len(tail) == 4 and struct.unpack(endian + "I", tail)[0] == blen:
                return start
    raise CaptureError(f"cannot find the packet block at byte {data_off} again; the file changed since it was analysed",
                       hint="analyse the file again")


def _read_stream(cs: CaptureStats, stream: int) -> tuple[pd.DataFrame, expert.TcpExpert]:
    s = cs._x["streams"]
    if not 0 <= stream < len(s):
        raise ValueError(f"no TCP stream {stream} in this capture")
    row = s.loc[stream]
    st: _ReaderState | None = cs._reader
    if st is None:
        if cs.format == "text":
            df = _text_stream.read_stream(cs, stream)
            return df, _stream_expert(cs, df, stream)
        raise ValueError(f"stream {stream} was not kept and this analysis cannot read its file again")
    first_frame, last_frame = int(row["first_frame"]), int(row["last_frame"])
    ssink = _StreamSink(st.sink, (int(row["a_code"]), int(row["b_code"])), (int(row["a_port"]), int(row["b_port"])),
                        (first_frame, last_frame), MAX_STREAM_PACKETS)
    r = pcap.PcapStreamReader(cs.source, min_batch=0, max_packets=None)
    r._cols = ssink
    ssink.reader = r
    with open_regular(cs.source) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if st.fmt == "pcap":
            start = int(row["first_off"]) - 16
            r._fmt, r._endian, r._tsmult, r._snaplen, r._linktype = "pcap", st.endian, st.tsmult, st.snaplen, st.linktype
        elif st.single_section:
            start = _block_start(f, int(row["first_off"]), st.endian)
            r._fmt, r._endian, r._ifaces, r._ifbase = "pcapng", st.endian, list(st.ifaces), st.ifbase
        else:  # several sections or interfaces described late: read from the start
            start = 0
            first_frame = 1
        r._base = start
        r.records = first_frame - 1
        r.max_packets = last_frame - first_frame + 1
        f.seek(start)
        r._read_file(f, min(pcap.CHUNK, max(int(row["last_end"]) - start + 65536, 1 << 16)))
        df = r.close()
    if ssink.kept >= MAX_STREAM_PACKETS and int(row["packets"]) > MAX_STREAM_PACKETS:
        cs.notes.append(f"stream {stream} has {int(row['packets']):,} packets; its figures show the first "
                        f"{MAX_STREAM_PACKETS:,}")
    df.attrs = {"source": cs.source, "format": cs.format, "stream": stream}
    return df, _stream_expert(cs, df, stream)


def _stream_expert(cs: CaptureStats, df: pd.DataFrame, stream: int) -> expert.TcpExpert:
    """The expert analysis of one stream's packets (a stream is analysed on its own), numbered as in the pass."""
    ex = expert.analyze(df, relative=cs.relative_text)
    ex.packets["stream"] = np.full(len(ex.packets), stream, np.int64)
    return ex


# ----------------------------------------------------------------------------- without the C loop
class _WholeFile(CaptureStats):
    """The same answers from the whole-file path, for an install without the C extension (memory grows with
    the packets there, up to the reader's ``max_packets``)."""

    frame: pd.DataFrame
    ex: expert.TcpExpert

    @property
    def dated(self) -> bool:
        return columns.dated(self.frame)

    @property
    def bytes_source(self) -> str:
        return columns.bytes_column(self.frame)[1]

    def time_span(self) -> tuple[int, int] | None:
        t = columns.time_ns(self.frame)
        t = t[t != np.iinfo(np.int64).min]
        return (int(t.min()), int(t.max())) if len(t) else None

    def summary(self) -> pd.DataFrame:
        return stats.summary(self.frame)

    def conversations(self, protocols: tuple[str, ...] = ("TCP", "UDP")) -> pd.DataFrame:
        return stats.conversations(self.frame, protocols)

    def per_interval(self, interval: str = "1s", by: str | list[str] | None = None) -> pd.DataFrame:
        return stats.per_interval(self.frame, interval, by)

    def tcp_flag_counts(self) -> pd.DataFrame:
        return stats.tcp_flag_counts(self.frame)

    def resets(self) -> pd.DataFrame:
        return stats.resets(self.frame)

    def top_talkers(self, n: int = 10) -> pd.DataFrame:
        return stats.top_talkers(self.frame, n)

    def endpoints(self) -> pd.DataFrame:
        return stats.endpoints(self.frame)

    def protocol_hierarchy(self) -> pd.DataFrame:
        return stats.protocol_hierarchy(self.frame)

    def tcp_anomalies(self) -> pd.DataFrame:
        return stats.tcp_anomalies(self.frame)

    @property
    def tcp_packets(self) -> int:
        return int(columns.proto_mask(self.frame, ("TCP",)).sum())

    @property
    def tcp_data_segments(self) -> int:
        tcp = self.frame[columns.proto_mask(self.frame, ("TCP",))]
        return int((tcp["payload_len"].fillna(0) > 0).sum())

    @property
    def expert_packets(self) -> int:
        return len(self.ex.packets)

    @property
    def relative_text(self) -> bool | None:
        return self.ex.relative_text

    @property
    def unavailable(self) -> dict[str, str]:
        return dict(self.ex.unavailable)

    @property
    def inferred(self) -> dict[str, str]:
        return dict(self.ex.inferred)

    def expert_counts(self) -> pd.DataFrame:
        return self.ex.counts()

    def events(self, kinds: Iterable[str] | None = None) -> pd.DataFrame:
        return self.ex.events(self.frame, kinds)

    def frames(self, kind: str) -> list[int]:
        return self.ex.frames(kind)

    def problem_conversations(self, n: int | None = None) -> pd.DataFrame:
        from . import flows

        return flows.problem_conversations(self.frame, self.ex, n=n)

    def handshake_rtts(self) -> pd.DataFrame:
        from . import flows

        return flows.handshake_rtts(self.frame, self.ex)

    def stream(self, stream: int) -> tuple[pd.DataFrame, expert.TcpExpert]:
        return self.frame, self.ex

    def mac_counts(self) -> tuple[Counter[str], Counter[str]]:
        with open_regular(self.source) as f:
            return l2.mac_counts(f.read())

    def interfaces(self) -> list[str]:
        return [str(x) for x in self.frame["interface"].dropna().unique()]

    def directions(self) -> list[str]:
        return [str(x) for x in self.frame["direction"].dropna().unique()]


def _whole_file(p: str, size: int, tz: str, relative: bool | None, max_packets: int | None) -> CaptureStats:
    from . import read_capture

    df = read_capture(p, tz=tz, max_packets=MAX_PACKETS if max_packets is None else max_packets)
    attrs = {k: v for k, v in df.attrs.items() if k in ("truncated_at", "skipped_records", "limit_reached", "unparsed_count")}
    cs = _WholeFile(source=p, format=str(df.attrs.get("format", "")), packets=len(df), file_bytes=size, attrs=attrs,
                    kept=df, notes=["the C extension spkrunbook.capture._account is not built: the statistics come from "
                                    "the whole capture read into memory (pip install -e . with a C compiler builds it)"])
    cs.frame, cs.ex = df, expert.analyze(df, relative=relative)
    return cs
