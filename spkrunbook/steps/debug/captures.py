"""Packet captures for the debugging step: live (pod or node) or from saved files.

Live, in the TMM pod: ``tcpdump -i IF -U -w - -s SNAPLEN [-c N] FILTER...`` runs in
the ``debug`` sidecar under ``timeout -s INT SECONDS``; its stdout (pcap) streams
over the exec websocket into the capture engine's ``PcapStreamReader`` while a
progress callback sees bytes, packets, elapsed time and packets per second per
interface.

Live, on the node (F5's guide's ``tcpdump -i cni0``): done the way ``oc debug node``
does it -- a short-lived privileged host-network pod pinned to the node, waited
for until Ready, tcpdump exec'd in it, and the pod deleted in a ``finally`` even
when the capture fails.

Offline: a pcap / pcapng file or a saved tcpdump text log is read by the engine
instead (``lab.debug.analyse``; the demo does this).  A file of
``capture.STREAMING_BYTES`` (256 MiB) or more is analysed in one streaming pass
in bounded memory (``capture.analyze_capture``): every statistic covers every
packet, only resets, flagged packets and the worst stream are kept, the file is
not copied into the record (its SHA-256 identifies it), and the result says so.

Every capture ends as a ``CaptureResult``: the packets (engine schema) or the
streaming pass's ``CaptureStats``, the pcap saved in the record with its SHA-256,
Wireshark's statistics tables (:mod:`spkrunbook.capture.wireshark`; after a
streaming pass, those its aggregates give) and the figures the record shows
(:data:`FIGURES`), each drawn once and stored once, as SVG.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import capture as engine
from ... import display
from ...capture import expert, flows, forked, plots, stats, units, wireshark
from ...capture.l2 import mac_counts
from ...cluster.base import Obj, Target
from ...errors import CaptureError, ExecError, NotAvailable, ParameterError, Problem, ResourceMissing, SpkRunbookError
from ...params import Lab, bpf_word_problem
from ...progress import Progress
from .sidecar import check_argv, tmm_pods

NODE_CAPTURE_IMAGE = "registry.redhat.io/rhel8/support-tools:latest"
#: Seconds the exec may run past the capture's own limit (start-up, flushing).
EXEC_GRACE = 15.0


# -- commands and manifests ---------------------------------------------------------------------------------
#: The most a live capture keeps (then it stops and says so): held in memory while it streams, then in the record.
MAX_CAPTURE_BYTES = 128 << 20


def tcpdump_argv(interface: str, *, snaplen: int = 262144, packets: int | None = None,
                 filter: Iterable[str] = (), seconds: float | None = None) -> list[str]:
    """The capture command: pcap on stdout, flushed per packet, optionally bounded in time and count.

    ``filter`` is a list of BPF words (``["tcp", "port", "443"]``), each passed as its
    own argument to tcpdump, never through a shell.
    """
    words = check_argv(["tcpdump", *filter])[1:]
    bad = [Problem("debug.capture.filter", why) for w in words if (why := bpf_word_problem(w))]
    if bad:
        raise ParameterError(bad, hint="fix the capture filter; nothing was captured")
    argv = ["tcpdump", "-i", interface, "-U", "-w", "-", "-s", str(int(snaplen))]
    if packets:
        argv += ["-c", str(int(packets))]
    argv += words
    if seconds:
        argv = ["timeout", "-s", "INT", f"{float(seconds):g}", *argv]
    return argv


def node_capture_pod(node: str, namespace: str, *, image: str = NODE_CAPTURE_IMAGE, seconds: float = 10.0,
                     name: str | None = None) -> Obj:
    """The short-lived privileged host-network pod a node capture runs in (like ``oc debug node``)."""
    name = name or f"spkrunbook-capture-{re.sub(r'[^a-z0-9-]', '-', node.lower())[:30].strip('-')}-{secrets.token_hex(3)}"
    lifetime = int(seconds) + 300  # the pod ends itself even if nobody deletes it
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "spkrunbook", "spkrunbook.f5.lab/role": "node-capture"},
            "annotations": {"debug.openshift.io/source-resource": f"/v1, Resource=nodes/{node}",
                            "debug.openshift.io/source-container": "capture"},
        },
        "spec": {
            "nodeName": node,
            "hostNetwork": True,
            "hostPID": True,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": lifetime,
            "terminationGracePeriodSeconds": 0,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "capture",
                "image": image,
                "command": ["sleep", str(lifetime)],
                "securityContext": {"privileged": True, "runAsUser": 0},
                "volumeMounts": [{"name": "host", "mountPath": "/host"}],
            }],
            "volumes": [{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}],
        },
    }


def _pod_ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") in ("Failed", "Succeeded"):
        raise ExecError(f"the capture pod {pod['metadata']['name']} ended ({status.get('phase')}) before the capture",
                        hint="look at its events: the image may not be pullable on that node")
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


# -- progress -----------------------------------------------------------------------------------------------
@dataclass
class CaptureProgress:
    """Where a running capture is: bytes and packets so far, elapsed seconds, packets per second per interface."""

    name: str
    interface: str
    bytes: int = 0
    packets: int = 0
    elapsed: float = 0.0
    done: bool = False
    per_second: dict[str, dict[int, int]] = field(default_factory=dict)

    def rate_frame(self) -> pd.DataFrame:
        """second, interface, packets (one row per second that saw packets)."""
        rows = [(s, i, n) for i, d in self.per_second.items() for s, n in sorted(d.items())]
        return pd.DataFrame(rows, columns=["second", "interface", "packets"])

    def line(self) -> str:
        return (f"capture {self.name} on {self.interface}: {self.elapsed:5.1f} s, {self.packets} packets, "
                f"{self.bytes / 1000:.1f} kB{' (done)' if self.done else ''}")


def to_progress(progress: Progress, seconds: float | None) -> Callable[[CaptureProgress], None]:
    """A capture's state reported through a ``Progress`` (elapsed seconds of ``seconds``)."""
    def report(p: CaptureProgress) -> None:
        if p.done:
            progress.done(p.line())
        else:
            progress.update(p.elapsed, p.line(), total=seconds)
    return report


def _bucket(progress: CaptureProgress, df: pd.DataFrame, t0_ns: list[int]) -> None:
    if df.empty:
        return
    ts = df["timestamp"]
    ns = ts.astype("int64").to_numpy() if ts.notna().all() else df["time_of_day"].astype("int64").to_numpy()
    if not t0_ns:
        t0_ns.append(int(ns.min()))
    sec = (ns - t0_ns[0]) // 1_000_000_000
    ifaces = df["interface"].astype(object).where(df["interface"].notna(), progress.interface).to_numpy() \
        if "interface" in df else np.full(len(df), progress.interface, dtype=object)
    for i, s in zip(ifaces, sec):
        d = progress.per_second.setdefault(str(i), {})
        d[int(s)] = d.get(int(s), 0) + 1


# -- results ------------------------------------------------------------------------------------------------
#: The pictures the record keeps for a capture, with what each shows; the tables hold the rest (top
#: conversations and talkers, flag counts). ``flow`` and ``sequence`` are of the worst TCP conversation.
FIGURES: dict[str, str] = {
    "io": "I/O graph",
    "rtt": "handshake round-trip times",
    "flow": "flow graph of the worst conversation",
    "sequence": "tcptrace sequence graph of the worst conversation",
}
#: Conversations a notebook and a record page list (the CSV in the record has them all).
TOP = 10


@dataclass(repr=False)
class CaptureResult:
    """One capture (live or file): packets, where it was saved, statistics and what went wrong."""

    name: str
    interface: str
    source: str
    frame: pd.DataFrame | None = None
    path: str = ""
    sha256: str = ""
    size: int = 0
    error: str = ""
    skipped: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration: float = 0.0
    progress: CaptureProgress | None = None
    notes: list[str] = field(default_factory=list)
    data: bytes = b""  # the pcap (or text) as read or captured, for the record
    suffix: str = ".pcap"
    #: a large file, analysed in one streaming pass (``frame`` is None then)
    analysis: engine.CaptureStats | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _drawing: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __repr__(self) -> str:  # a notebook's text/plain: one line, never the packets
        what = (f"skipped: {self.skipped}" if self.skipped else f"error: {self.error}" if self.error
                else f"{self.packets:,} packets, {units.size(self.size)}")
        return f"<CaptureResult {self.name} ({self.interface}): {what}>"

    @property
    def label(self) -> str:
        """How findings and headings name the capture: ``net1``, or ``demo-cap (net1)`` when the names differ."""
        return self.name if self.name == self.interface else f"{self.name} ({self.interface})"

    @property
    def ok(self) -> bool:
        return (self.frame is not None or self.analysis is not None) and not self.error

    @property
    def packets(self) -> int:
        return len(self.frame) if self.frame is not None else self.analysis.packets if self.analysis is not None else 0

    @property
    def _data(self) -> pd.DataFrame | engine.CaptureStats | None:
        """What the statistics are computed from: the packets, or the streaming pass's result."""
        return self.frame if self.frame is not None else self.analysis

    # statistics (engine) --------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        return stats.summary(self._data) if self._data is not None else pd.DataFrame()

    def conversations(self) -> pd.DataFrame:
        return stats.conversations(self._data) if self._data is not None else pd.DataFrame()

    def tcp_flags(self) -> pd.DataFrame:
        return stats.tcp_flag_counts(self._data) if self._data is not None else pd.DataFrame()

    def resets(self) -> pd.DataFrame:
        return stats.resets(self._data) if self._data is not None else pd.DataFrame()

    def anomalies(self) -> pd.DataFrame:
        return stats.tcp_anomalies(self._data) if self._data is not None else pd.DataFrame()

    def mac_counts(self) -> tuple[Counter[str], Counter[str]]:
        """(frames per destination MAC, frames per source MAC) of the capture (pcap/pcapng only)."""
        if self.analysis is not None:
            return self.analysis.mac_counts()
        return mac_counts(self.data)

    def expert(self) -> expert.TcpExpert | None:
        """tshark's TCP expert flags for every TCP packet (computed once; None after a streaming pass)."""
        if self.frame is None or self.frame.empty:
            return None
        if "expert" not in self._cache:
            self._cache["expert"] = expert.analyze(self.frame)
        return self._cache["expert"]

    def expert_counts(self) -> pd.DataFrame:
        """Wireshark's Expert Information for TCP: each kind, its display filter, how many, and how sure."""
        ex = self.expert()
        if ex is not None:
            c = ex.counts()
        elif self.analysis is not None and self.analysis.packets:
            c = self.analysis.expert_counts()
        else:
            return pd.DataFrame(columns=["kind", "tshark_filter", "packets", "exact", "note"])
        return c[c["available"]][["kind", "tshark_filter", "packets", "exact", "note"]].reset_index(drop=True)

    def expert_events(self, n: int = 25) -> pd.DataFrame:
        """The first ``n`` flagged packets, as Wireshark's expert list shows them."""
        ev = self._events()
        return ev.head(n).drop(columns=["timestamp"], errors="ignore") if ev is not None else pd.DataFrame()

    def _events(self) -> pd.DataFrame | None:
        if self.analysis is not None:
            return self.analysis.events()
        ex = self.expert()
        return ex.events(self.frame) if ex is not None and self.frame is not None else None

    def per_second(self) -> pd.DataFrame:
        if self._data is None or not self.packets:
            return pd.DataFrame(columns=["time", "interface", "packets"])
        if self.frame is None:
            out = stats.per_interval(self._data, "1s", by="interface")
            if out["interface"].isna().all():
                out["interface"] = self.interface
            return out
        df = self.frame
        if df["interface"].isna().all():
            df = df.assign(interface=self.interface)
        return stats.per_interval(df, "1s", by="interface")

    def tcp_counts(self) -> dict[str, Any]:
        """TCP conversations, data segments, resets, and tshark's retransmission and duplicate-ACK counts."""
        data_ = self._data
        if data_ is None:
            return {}
        if isinstance(data_, pd.DataFrame):
            tcp = data_[data_["protocol"].astype(object) == "TCP"]
            n_tcp, data = len(tcp), int((tcp["payload_len"].fillna(0) > 0).sum())
        else:
            n_tcp, data = data_.tcp_packets, data_.tcp_data_segments
        convs = len(stats.conversations(data_, ("TCP",))) if n_tcp else 0
        rst = stats.resets(data_) if n_tcp else pd.DataFrame(columns=["src", "sport", "dst", "dport"])
        reset_convs = {frozenset([(str(r.src), r.sport), (str(r.dst), r.dport)]) for r in rst.itertuples()}
        counts = self.expert_counts().set_index("kind")["packets"] if n_tcp else pd.Series(dtype="Int64")

        def count(kind: str) -> int:
            v = counts.get(kind, 0)
            return 0 if pd.isna(v) else int(v)

        retrans = count("retransmission")
        return {
            "tcp_packets": n_tcp, "tcp_conversations": int(convs), "tcp_data_segments": data,
            "resets": len(rst), "reset_conversations": len(reset_convs),
            "retransmissions": retrans, "duplicate_acks": count("duplicate_ack"),
            "out_of_order": count("out_of_order"), "lost_segments": count("lost_segment"),
            "zero_windows": count("zero_window"),
            "reset_ratio": round(len(reset_convs) / convs, 4) if convs else 0.0,
            "retransmission_ratio": round(retrans / data, 4) if data else 0.0,
        }

    def overview(self) -> pd.DataFrame:
        """One row: what was captured where, how much, and the saved file's SHA-256."""
        row = {"capture": self.name, "interface": self.interface, "source": self.source, "packets": self.packets,
               "bytes": self.size, "sha256": self.sha256[:16] + ("..." if self.sha256 else ""),
               "saved as": self.path, "status": "skip" if self.skipped else "error" if self.error else "ok",
               "note": self.skipped or self.error or (STREAMING_NOTE if self.analysis is not None else "")}
        return pd.DataFrame([row])

    def _figure_keys(self) -> list[str]:
        """``io``, ``rtt`` (when a handshake was captured), ``stream-<N>-flow`` and ``stream-<N>-sequence``
        (the worst conversation: resets, retransmissions), computed once."""
        if "figure_keys" not in self._cache:
            keys: list[str] = []
            if self.frame is not None and not self.frame.empty:
                keys.append("io")
                ex = self.expert()
                if ex is not None and not ex.packets.empty:
                    if not flows.handshake_rtts(self.frame, ex).empty:
                        keys.append("rtt")
                    worst = flows.problem_conversations(self.frame, ex, n=1)
                    keys += [f"stream-{int(st)}-{k}" for st in worst["stream"] for k in ("flow", "sequence")]
            elif self.analysis is not None and self.analysis.packets:  # the streaming pass answers the same
                cs = self.analysis
                keys.append("io")
                if cs.expert_packets:
                    if not cs.handshake_rtts().empty:
                        keys.append("rtt")
                    worst = cs.problem_conversations(1)
                    keys += [f"stream-{int(st)}-{k}" for st in worst["stream"] for k in ("flow", "sequence")]
            self._cache["figure_keys"] = keys
        return list(self._cache["figure_keys"])

    def figures(self) -> dict[str, Any]:
        """The pictures a Wireshark user looks for (:data:`FIGURES`) as matplotlib Figures: the I/O
        graph, the handshake RTTs, and the flow (ladder) and sequence graphs of the worst conversation."""
        with self._drawing:
            if "figures" not in self._cache:
                df, ex = self.frame, self.expert()
                figs: dict[str, Any] = {}
                if df is None and self.analysis is not None and self.analysis.packets:
                    figs = self._streaming_figures(self.analysis)
                elif df is not None and not df.empty:
                    if df["interface"].isna().all():
                        df = df.assign(interface=self.interface)
                    for key in self._figure_keys():
                        if key == "io":
                            figs[key] = plots.io_graph(df)
                        elif key == "rtt":
                            figs[key] = flows.rtt_plot(df, ex)
                        elif key.endswith("-flow"):
                            figs[key] = flows.flow_diagram(df, int(key.split("-")[1]), ex=ex)
                        else:
                            figs[key] = flows.stream_graph(df, int(key.split("-")[1]), ex=ex)
                for key, fig in figs.items():
                    if not fig.axes or not any(fig.axes[0].get_title(loc) for loc in ("left", "center", "right")):
                        fig.suptitle(f"{self.name}: {key}", fontsize=10)
                self._cache["figures"] = figs
            return dict(self._cache["figures"])

    def _streaming_figures(self, cs: engine.CaptureStats) -> dict[str, Any]:
        """The same figures from a streaming pass: its I/O bins, its handshakes, the worst stream read back."""
        figs: dict[str, Any] = {}
        for key in self._figure_keys():
            if key == "io":
                figs[key] = plots.io_graph(cs)
            elif key == "rtt":
                figs[key] = flows.rtt_plot(cs)
            else:
                st = int(key.split("-")[1])
                df, ex = cs.stream(st)
                figs[key] = (flows.flow_diagram if key.endswith("-flow") else flows.stream_graph)(df, st, ex=ex)
        return figs

    def svgs(self) -> dict[str, str]:
        """Each figure as SVG text (text kept as text, stable ids, no date), drawn once; a second caller
        (the record, while a background drawing runs) waits for the first."""
        with self._drawing:
            if "svg" not in self._cache:
                elsewhere = self._cache.pop("svg_elsewhere", None)  # a child drawing them (draw_in_background)
                drawn = elsewhere.result() if elsewhere is not None else None
                self._cache["svg"] = drawn if drawn is not None else \
                    {k: plots.svg_text(f) for k, f in self.figures().items()}
                self._cache.pop("figures", None)  # the SVGs are what is kept; the Figures are large
            return dict(self._cache["svg"])

    def draw_elsewhere(self) -> None:
        """Start drawing the figures in a forked child (:mod:`spkrunbook.capture.forked`); :meth:`svgs`
        takes its SVGs, or draws them here if the child could not."""
        with self._drawing:
            if "svg" not in self._cache and "svg_elsewhere" not in self._cache:
                self._figure_keys()  # known to both processes: the files are named without drawing
                self._cache["svg_elsewhere"] = forked.svgs(self.figures, name=f"figures-{self.name}")

    def figure_files(self) -> dict[str, str]:
        """``{file in the step's folder: caption}`` of the figures, known without drawing them."""
        out = {}
        for key in self._figure_keys():
            kind = key.rsplit("-", 1)[-1] if key.startswith("stream-") else key
            stream = f", TCP stream {key.split('-')[1]}" if key.startswith("stream-") else ""
            out[f"captures/{self.name}.{key}.svg"] = f"{FIGURES[kind]}{stream}"
        return out

    # Wireshark's statistics ---------------------------------------------------------------------------
    def statistics(self) -> dict[str, display.Table]:
        """Wireshark's tables for this capture, in the order a person reads them: Capture File Properties,
        Protocol Hierarchy, Conversations (TCP, UDP, IPv4, IPv6), Endpoints, Expert Information and
        the first flagged packets (relative sequence numbers, as Wireshark's packet list shows them)."""
        if not self.ok:
            return {}
        if "statistics" in self._cache:
            return dict(self._cache["statistics"])
        if self.frame is None:
            assert self.analysis is not None  # (ok: one of the two is there)
            self._cache["statistics"] = self._streaming_statistics(self.analysis)
            return dict(self._cache["statistics"])
        df, ex, n = self.frame, self.expert(), self.name
        props = wireshark.capture_properties(df)
        props = pd.concat([pd.DataFrame([("File", self.path or self.source), ("SHA256", self.sha256)],
                                        columns=props.columns), props], ignore_index=True)
        out: dict[str, display.Table] = {
            "properties": display.Table(props, "Capture File Properties", status_column=None, name=f"{n}:properties"),
            "hierarchy": display.Table(wireshark.protocol_hierarchy(df), "Protocol Hierarchy", status_column=None,
                                       name=f"{n}:hierarchy", note=wireshark.NOT_ANALYSED.split("; ")[-1]),
        }
        for proto in ("TCP", "UDP"):
            conv = wireshark.conversations(df, proto, ex)
            if len(conv):
                shown = f"the {TOP} with the most bytes of {len(conv):,}" if len(conv) > TOP else f"{len(conv):,}"
                out[f"conversations-{proto.lower()}"] = display.Table(
                    conv.head(TOP), f"{proto} Conversations ({shown})", status_column=None,
                    name=f"{n}:conversations-{proto.lower()}")
        for v in (4, 6):
            conv = wireshark.ip_conversations(df, v)
            if len(conv):
                out[f"conversations-ipv{v}"] = display.Table(conv.head(TOP), f"IPv{v} Conversations", status_column=None,
                                                             name=f"{n}:conversations-ipv{v}")
            ep = wireshark.endpoints(df, v)
            if len(ep):
                out[f"endpoints-ipv{v}"] = display.Table(ep.head(TOP), f"IPv{v} Endpoints", status_column=None,
                                                         name=f"{n}:endpoints-ipv{v}")
        info = wireshark.expert_info(df, ex)
        counts = wireshark.expert_counts(info)
        notes = [wireshark.NOT_ANALYSED.split("; ")[0] + "."]
        if ex is not None and (ex.inferred or ex.unavailable):
            notes.append("From tcpdump text: " + "; ".join(f"{k}: {v}" for k, v in {**ex.unavailable, **ex.inferred}.items()))
        out["expert"] = display.Table(
            info, "Expert Information (TCP): " + ", ".join(f"{v:,} {k.lower()}{'s' if v != 1 else ''}"
                                                           for k, v in counts.items()),
            status_column=None, group_column="Severity", badges=wireshark.SEVERITIES, group_total="Count",
            name=f"{n}:expert",
            empty="no TCP packets", note=" ".join(notes))
        out["flagged"] = display.Table(wireshark.flagged_packets(df, ex), "First flagged packets", status_column=None,
                                       name=f"{n}:flagged", empty="no packet flagged",
                                       note="Wireshark's packet list: relative sequence numbers, the calculated window")
        self._cache["statistics"] = out
        return dict(out)

    def _streaming_statistics(self, cs: engine.CaptureStats) -> dict[str, display.Table]:
        """The tables a streaming pass's aggregates give (Wireshark's where they can be made; what cannot
        is named in the notes, never guessed)."""
        n = self.name
        props = wireshark.capture_properties(cs)
        props = pd.concat([pd.DataFrame([("File", self.path or self.source), ("SHA256", self.sha256),
                                         ("Analysis", STREAMING_NOTE)], columns=props.columns), props],
                          ignore_index=True)
        out: dict[str, display.Table] = {
            "properties": display.Table(props, "Capture File Properties", status_column=None, name=f"{n}:properties",
                                        note=wireshark.STREAMING_LEFT_OUT + "."),
            "hierarchy": display.Table(wireshark.protocol_hierarchy(cs), "Protocol Hierarchy", status_column=None,
                                       name=f"{n}:hierarchy", note=wireshark.NOT_ANALYSED.split("; ")[-1]),
        }
        for proto in ("TCP", "UDP"):
            conv = wireshark.conversations(cs, proto)
            if len(conv):
                shown = f"the {TOP} with the most bytes of {len(conv):,}" if len(conv) > TOP else f"{len(conv):,}"
                out[f"conversations-{proto.lower()}"] = display.Table(
                    conv.head(TOP), f"{proto} Conversations ({shown})", status_column=None,
                    name=f"{n}:conversations-{proto.lower()}",
                    note="streaming pass: one row per address and port pair (a reused pair is one conversation)"
                    if proto == "TCP" else "")
        info = wireshark.expert_info(cs, None)
        counts = wireshark.expert_counts(info)
        notes = [wireshark.STREAMING_EXPERT + ".", wireshark.NOT_ANALYSED.split("; ")[0] + "."]
        if cs.inferred or cs.unavailable:
            notes.append("From tcpdump text: " + "; ".join(f"{k}: {v}" for k, v in {**cs.unavailable, **cs.inferred}.items()))
        out["expert"] = display.Table(
            info, "Expert Information (TCP): " + ", ".join(f"{v:,} {k.lower()}{'s' if v != 1 else ''}"
                                                           for k, v in counts.items()),
            status_column=None, group_column="Severity", badges=wireshark.SEVERITIES, group_total="Count",
            name=f"{n}:expert", empty="no TCP packets", note=" ".join(notes))
        out["flagged"] = display.Table(self.expert_events(), "First flagged packets", status_column=None,
                                       name=f"{n}:flagged", empty="no packet flagged",
                                       note="streaming pass: the engine's event list (one row per packet and kind, "
                                            "absolute sequence numbers); Wireshark's packet list needs every packet "
                                            "of each stream")
        return out

    def _repr_html_(self) -> str:
        """The capture and Wireshark's tables for it; the pictures are in the step's gallery."""
        parts = [display.heading(self.label),
                 display.frame_html(self.overview(), status_column=None, kinds={"packets": "count", "bytes": "bytes"})]
        if not self.ok:
            return "".join(parts)
        return "".join(parts) + display.tables(self.statistics().values())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "interface": self.interface, "source": self.source, "path": self.path,
                "sha256": self.sha256, "bytes": self.size, "packets": self.packets, "error": self.error,
                "skipped": self.skipped, "exit_code": self.exit_code, "duration_s": round(self.duration, 3),
                "stderr": self.stderr[-2000:], "notes": self.notes,
                "analysis": "streaming" if self.analysis is not None else "whole file",
                "summary": {str(k): v for k, v in self.summary()["value"].items()} if self.ok else {},
                "tcp": self.tcp_counts() if self.ok else {},
                "expert": self.expert_counts().to_dict(orient="records") if self.ok else []}

    def files(self) -> dict[str, str | bytes]:
        """The capture itself, its statistics (JSON, CSV) and its figures (SVG, each once)."""
        out: dict[str, str | bytes] = {}
        base = f"captures/{self.name}"
        if self.data:
            out[f"{base}{self.suffix}"] = self.data
        out[f"{base}.json"] = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        if self.ok:
            out[f"{base}.conversations.csv"] = self.conversations().to_csv(index=False)
            ev = self._events()
            if ev is not None:
                out[f"{base}.expert.csv"] = ev.to_csv(index=False)
            for key, svg in self.svgs().items():
                out[f"{base}.{key}.svg"] = svg
        return out


def draw_in_background(results: list[CaptureResult]) -> None:
    """Start drawing every capture's figures, so the tables can be shown meanwhile; whoever needs the SVGs
    (``files()``, a gallery) waits for them there. On Linux each capture's figures are drawn by a forked
    child on a core of its own (matplotlib holds the GIL while it draws); elsewhere on a thread."""
    todo = [r for r in results if r.ok]
    if forked.available():
        for r in todo:
            r.draw_elsewhere()
        return
    threading.Thread(target=lambda: [r.svgs() for r in todo], name="spkrunbook-figures", daemon=True).start()


# -- plots --------------------------------------------------------------------------------------------------
def plot_rate(rate: pd.DataFrame, *, title: str = "packets per second", ax: Any = None) -> Any:
    """Packets per second, one line per interface; ``rate`` has (time or second), interface, packets."""
    import matplotlib

    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3))
        ax = fig.add_subplot(111)
    else:
        fig = ax.figure
    x = "second" if "second" in rate else "time"
    for iface, g in rate.groupby("interface", sort=True):
        ax.plot(g[x], g["packets"], marker="o", markersize=3, label=str(iface))
    ax.set_title(title)
    ax.set_xlabel("seconds since start" if x == "second" else "time")
    ax.set_ylabel("packets / s")
    if len(rate):
        ax.legend(loc="upper right", fontsize="small")
    ax.grid(True, alpha=0.3)
    del matplotlib
    return fig


def _name_for(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem) or "capture"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def analyse_file(path: str | Path, *, name: str | None = None, interface: str | None = None,
                 streaming_bytes: int | None = None) -> CaptureResult:
    """Read a pcap / pcapng file or a tcpdump text log with the engine (its bytes kept for the record).

    A file of ``streaming_bytes`` (default ``capture.STREAMING_BYTES``) or more is analysed in one streaming
    pass instead (bounded memory; the result's ``analysis`` holds the tables, a note says so, and the file is
    not copied into the record).
    """
    streaming_bytes = engine.STREAMING_BYTES if streaming_bytes is None else streaming_bytes
    p = Path(path)
    name = name or p.stem
    iface = interface or p.stem
    res = CaptureResult(name=name, interface=iface, source=f"file {p}", suffix=p.suffix or ".pcap")
    try:
        size = p.stat().st_size
        if size >= streaming_bytes:
            return _analyse_large(res, p, size)
        data = p.read_bytes()
    except OSError as exc:
        res.error = f"cannot read {p}: {exc.strerror}"
        return res
    res.data = data
    res.path = f"captures/{name}{res.suffix}"
    res.size, res.sha256 = len(data), hashlib.sha256(data).hexdigest()
    try:
        res.frame = engine.read_capture(p)
    except CaptureError as exc:
        res.error = str(exc)
    if res.frame is not None and res.frame["interface"].notna().any():
        res.interface = ",".join(sorted(map(str, res.frame["interface"].dropna().unique())))
    return res


STREAMING_NOTE = "large file: analysed in one streaming pass (bounded memory), not copied into the record"


def _analyse_large(res: CaptureResult, p: Path, size: int) -> CaptureResult:
    """A file too large to hold: one streaming pass, the SHA-256 read alongside, nothing copied."""
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    res.sha256 = h.hexdigest()
    res.size = size
    try:
        res.analysis = engine.analyze_capture(p, macs=True)  # (the MACs for the promiscuous-mode check)
    except CaptureError as exc:
        res.error = str(exc)
        return res
    iface = res.analysis.interfaces()
    if iface:
        res.interface = ",".join(sorted(iface))
    res.notes.append(f"{size / 2**20:,.0f} MiB, {res.analysis.packets:,} packets: analysed in one streaming pass in bounded "
                     "memory (every statistic covers every packet; only resets, flagged packets and the worst stream are "
                     "kept); the capture is not copied into the record, its SHA-256 identifies it")
    res.notes += res.analysis.notes
    return res


def redraw(path: str | Path, name: str) -> dict[str, str | bytes]:
    """A capture's pictures drawn again from ``path`` (a vendor copy's pseudonymised capture) by this step's own
    code (``analyse_file``, ``CaptureResult.figures`` and ``files``): {path under the step's folder: SVG text}.
    SVG text stays text (``plots.SVG_RC``), so what a picture says can be searched and read."""
    res = analyse_file(path, name=name)
    if res.error:
        raise CaptureError(res.error)
    return {k: v for k, v in res.files().items() if k.endswith((".png", ".svg"))}


def analyse(lab: Lab, target: Target | None = None) -> list[CaptureResult]:
    """Every file in ``lab.debug.analyse`` (params validation has checked they exist)."""
    taken: set[str] = set()
    return [analyse_file(Path(p), name=_name_for(Path(p), taken)) for p in lab.debug.analyse]


# -- live ---------------------------------------------------------------------------------------------------
class LiveCapture:
    """One live capture; ``run()`` streams it and returns a ``CaptureResult`` (errors are in the result)."""

    def __init__(self, target: Target, *, interface: str, where: str = "pod", pod: str | None = None,
                 namespace: str = "default", node: str | None = None, seconds: float | None = 10.0,
                 packets: int | None = None, filter: Iterable[str] = (), snaplen: int = 262144,
                 container: str = "debug", image: str = NODE_CAPTURE_IMAGE, name: str | None = None,
                 ready_timeout: float = 120.0,
                 on_progress: Iterable[Callable[[CaptureProgress], None]] = ()) -> None:
        if where not in ("pod", "node"):
            raise ValueError("where must be 'pod' or 'node'")
        if where == "pod" and not pod:
            raise ValueError("a pod capture needs the pod name")
        if where == "node" and not node:
            raise ValueError("a node capture needs the node name")
        if not seconds and not packets:
            raise ValueError("give seconds or packets (or both): a capture must end")
        self.target, self.interface, self.where = target, interface, where
        self.pod, self.namespace, self.node = pod, namespace, node
        self.seconds, self.packets, self.snaplen = seconds, packets, snaplen
        self.container, self.image, self.ready_timeout = container, image, ready_timeout
        self.argv = tcpdump_argv(interface, snaplen=snaplen, packets=packets, filter=list(filter), seconds=seconds)
        self.name = name or f"{where}-{(node if where == 'node' else pod)}-{interface}"
        self.callbacks = list(on_progress)
        self.capture_pod: str | None = None
        self.max_bytes = MAX_CAPTURE_BYTES
        self.deleted = False
        self._stop = False
        self._stream: Any = None

    def stop(self) -> None:
        """Ask a running capture to end (the bytes so far are kept)."""
        self._stop = True

    def _exec_timeout(self) -> float:
        return (self.seconds or 3600.0) + EXEC_GRACE

    def run(self) -> CaptureResult:
        where = f"pod {self.namespace}/{self.pod}" if self.where == "pod" else f"node {self.node}"
        res = CaptureResult(name=self.name, interface=self.interface, source=f"live {where}")
        if not hasattr(self.target, "exec_stream"):
            res.skipped = f"a live capture needs a live cluster; the {self.target.kind} target cannot run tcpdump"
            return res
        started = time.monotonic()
        try:
            if self.where == "pod":
                data = self._stream_capture(res, self.namespace, self.pod or "", self.container)
            else:
                data = self._node_capture(res)
        except NotAvailable as exc:
            res.skipped = exc.message
            return res
        except SpkRunbookError as exc:
            res.error = str(exc)
            data = getattr(exc, "partial", b"")
        res.duration = time.monotonic() - started
        self._finish(res, data)
        return res

    def _node_capture(self, res: CaptureResult) -> bytes:
        tgt: Any = self.target
        manifest = node_capture_pod(self.node or "", self.namespace, image=self.image, seconds=self._exec_timeout())
        name = manifest["metadata"]["name"]
        tgt.create("pods", manifest, self.namespace)
        self.capture_pod = name
        try:
            if hasattr(tgt, "wait_for"):
                tgt.wait_for("pods", name, self.namespace, _pod_ready, timeout=self.ready_timeout)
            else:
                deadline = time.monotonic() + self.ready_timeout
                while not _pod_ready(tgt.get("pods", name, self.namespace)):
                    if time.monotonic() > deadline:
                        raise ExecError(f"the capture pod {name} did not become Ready in {self.ready_timeout:g}s")
                    time.sleep(0.5)
            return self._stream_capture(res, self.namespace, name, "capture")
        finally:
            try:
                tgt.delete("pods", name, self.namespace)
                self.deleted = True
            except ResourceMissing:
                self.deleted = True
            except SpkRunbookError as exc:
                res.notes.append(f"the capture pod {self.namespace}/{name} could not be deleted: {exc}; "
                                 f"delete it by hand: oc delete pod -n {self.namespace} {name}")

    def _stream_capture(self, res: CaptureResult, namespace: str, pod: str, container: str) -> bytes:
        reader = engine.PcapStreamReader(f"{self.name}.pcap", min_batch=0)
        progress = CaptureProgress(name=self.name, interface=self.interface)
        res.progress = progress
        out, err = bytearray(), bytearray()
        t0: list[int] = []
        start = time.monotonic()
        stream = self.target.exec_stream(namespace, pod, container, self.argv,  # type: ignore[attr-defined]
                                         timeout=self._exec_timeout())
        self._stream = stream
        try:
            for channel, chunk in stream:
                if channel == 1:
                    if len(out) + len(chunk) > self.max_bytes:  # a record holds a capture, not a link's whole day
                        res.notes.append(f"the capture was cut at {self.max_bytes:,} bytes (the link was busier than a "
                                         "record should hold): narrow it with debug.capture.filter or packets")
                        self._stop = True
                        break
                    out += chunk
                    if reader.truncated_at is None:
                        try:
                            reader.feed(chunk)
                            _bucket(progress, reader.drain(), t0)
                        except CaptureError as exc:
                            res.notes.append(f"live decoding stopped: {exc}")
                            reader.truncated_at = -1
                    progress.bytes, progress.packets = len(out), reader.packets
                else:
                    err += chunk
                progress.elapsed = time.monotonic() - start
                for cb in self.callbacks:
                    cb(progress)
                if self._stop:
                    break
        except ExecError as exc:
            exc.partial = bytes(out)  # type: ignore[attr-defined]
            raise
        finally:
            if self._stop and hasattr(stream, "close"):
                stream.close()
            res.stderr = err.decode("utf-8", "replace")
            res.exit_code = getattr(stream, "exit_code", None)
            progress.elapsed, progress.done = time.monotonic() - start, True
            for cb in self.callbacks:
                cb(progress)
        if getattr(stream, "timed_out", False):
            res.notes.append(f"the exec was cut after {self._exec_timeout():g}s")
        # timeout(1) exits 124 when it ended tcpdump; tcpdump ended by SIGINT exits 0
        if res.exit_code not in (0, 124, None) and not self._stop:
            tail = res.stderr.strip()[-600:] or "(no stderr)"
            failed = ExecError(f"`{' '.join(self.argv)}` in {namespace}/{pod} container {container} exited with "
                               f"status {res.exit_code}: {tail}",
                               hint="check the interface name (`ip -br link` in the same container) and the filter")
            failed.partial = bytes(out)  # type: ignore[attr-defined]
            raise failed
        return bytes(out)

    def _finish(self, res: CaptureResult, data: bytes) -> None:
        res.size = len(data)
        if not data:
            if not res.error:
                res.error = "the capture produced no pcap bytes" + (f": {res.stderr.strip()[-300:]}" if res.stderr.strip() else "")
            return
        res.sha256 = hashlib.sha256(data).hexdigest()
        res.data, res.path = data, f"captures/{self.name}.pcap"
        try:
            with warnings.catch_warnings(record=True) as caught:  # a cut-off last record is a note, not noise
                warnings.simplefilter("always")
                res.frame = engine.read_pcap(data)
            res.notes += [str(w.message) for w in caught]
        except CaptureError as exc:
            res.error = res.error or f"the captured bytes are not a readable pcap: {exc}"


def default_pod(lab: Lab, target: Target) -> Obj | None:
    pods = tmm_pods(lab, target)
    return pods[0] if pods else None


def capture(lab: Lab, target: Target, *, pod: str | None = None, node: str | None = None,
            interface: str | None = None, where: str | None = None, seconds: float | None = None,
            packets: int | None = None, filter: Iterable[str] | None = None,
            progress: Callable[[CaptureProgress], None] | None = None, image: str = NODE_CAPTURE_IMAGE) -> CaptureResult:
    """A live capture with the params' settings (``lab.debug.capture``), any of them overridden.

    Pod captures default to the first TMM pod; node captures to ``capture.node`` or the
    TMM pod's node. Progress goes to ``progress`` (default: a ``Progress`` line).
    """
    c = lab.debug.capture
    where = where or c.where
    interface = interface or c.interface
    res_name = None
    try:
        if where == "pod" and pod is None:
            p = default_pod(lab, target)
            pod = p["metadata"]["name"] if p else None
        if where == "node" and node is None:
            node = c.node
            if node is None:
                p = default_pod(lab, target)
                node = (p.get("spec") or {}).get("nodeName") if p else None
    except SpkRunbookError as exc:
        return CaptureResult(name="capture", interface=interface, source=f"live {where}", error=str(exc))
    if (where == "pod" and not pod) or (where == "node" and not node):
        return CaptureResult(name="capture", interface=interface, source=f"live {where}",
                             error=f"no TMM pod matches {lab.tmm.pod_selector!r} in {lab.tmm.namespace} to capture in")
    live = LiveCapture(target, interface=interface, where=where, pod=pod, namespace=lab.tmm.namespace, node=node,
                       seconds=seconds if seconds is not None else c.seconds,
                       packets=packets if packets is not None else c.packets,
                       filter=list(filter if filter is not None else c.filter), snaplen=c.snaplen, image=image,
                       name=res_name,
                       on_progress=[progress or to_progress(Progress(f"capture on {interface}"), seconds or c.seconds)])
    return live.run()


def captures(lab: Lab, target: Target, *,
             progress: Callable[[CaptureProgress], None] | None = None) -> list[CaptureResult]:
    """What the step analyses: a live capture when ``debug.live_capture`` is set, plus the files in ``debug.analyse``.

    A live capture asked for on a snapshot target comes back as a skipped result with the reason.
    """
    out: list[CaptureResult] = []
    if lab.debug.live_capture:
        out.append(capture(lab, target, progress=progress))
    out += analyse(lab, target)
    return out


def overview(results: list[CaptureResult]) -> pd.DataFrame:
    """One row per capture (what, where, how many packets, SHA-256, saved as)."""
    if not results:
        return pd.DataFrame(columns=["capture", "interface", "source", "packets", "bytes", "sha256", "saved as",
                                     "status", "note"])
    return pd.concat([r.overview() for r in results], ignore_index=True)


def tcp_table(results: list[CaptureResult]) -> pd.DataFrame:
    """TCP health per capture: conversations, resets, retransmissions and their ratios."""
    rows = [{"capture": r.name, "interface": r.interface, **r.tcp_counts()} for r in results if r.ok]
    return pd.DataFrame(rows)
