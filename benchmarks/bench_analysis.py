"""Benchmark: TCP expert analysis, statistics and the conversation pictures on a 1 M-packet capture.

Why this capture: the expert analysis follows sequence numbers, so random
headers would measure nothing real.  The generator writes connections with
handshakes (window scale 7), a request, a server transfer of full-size segments
acknowledged every second segment, ~1 % of the server's segments lost before the
capture point (so: previous segment not captured, duplicate ACKs until the
retransmission), 0.3 % duplicated on the way, a zero window and its window update
in every 40th connection, a keep-alive and its ACK in every 50th, and FIN or RST
closes, interleaved in time over 60 s.  Frames
are headers only (caplen 58, orig_len with the payload), as ``tcpdump -s 58``
would write them.  Deterministic (seeded).

One run measures, on the same file: our reader (for reference), our expert
analysis, the statistics, problem conversations + flow diagram + stream graph +
I/O graph (figures built and saved as PNG), and tshark's own expert analysis
(``tshark -r FILE -Y tcp.analysis.flags -T fields -e frame.number -e
tcp.analysis.<kind>...``), whose per-kind frame lists are also compared with ours.

    python benchmarks/bench_analysis.py [--packets 1000000] [--write-readme]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spkrunbook.capture import expert, flows, plots, read_pcap, stats  # noqa: E402 (after the path above)

REC = np.dtype([
    ("ts_sec", "<u4"), ("ts_usec", "<u4"), ("caplen", "<u4"), ("origlen", "<u4"),
    ("edst", "V6"), ("esrc", "V6"), ("etype", ">u2"),
    ("vihl", "u1"), ("tos", "u1"), ("totlen", ">u2"), ("ipid", ">u2"), ("frag", ">u2"), ("ttl", "u1"), ("proto", "u1"),
    ("ipsum", ">u2"), ("src", ">u4"), ("dst", ">u4"),
    ("sport", ">u2"), ("dport", ">u2"), ("seq", ">u4"), ("ack", ">u4"), ("off", "u1"), ("flags", "u1"), ("win", ">u2"),
    ("tsum", ">u2"), ("urg", ">u2"), ("opt", "V4"),
])
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
MSS = 1448


def _connection(rng: np.random.Generator, conn: int) -> list[tuple[int, ...]]:
    """One connection's packets: (t_us, client_to_server, conn, seq, ack, flags, win, payload, wscale or -1)."""
    t = int(rng.integers(0, 60_000_000))
    isn_c, isn_s = int(rng.integers(0, 2**32)), int(rng.integers(0, 2**32))
    n = int(rng.integers(100, 500))
    rtt = int(rng.integers(100, 2000))
    out: list[tuple[int, ...]] = []

    def add(c2s: int, seq: int, ack: int, flags: int, win: int, plen: int, ws: int = -1) -> None:
        nonlocal t
        out.append((t, c2s, conn, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, win, plen, ws))
        t += int(rng.integers(20, 80))

    c, s = isn_c, isn_s
    add(1, c, 0, SYN, 64240, 0, 7)
    t += rtt
    add(0, s, c + 1, SYN | ACK, 65160, 0, 7)
    c += 1
    s += 1
    add(1, c, s, ACK, 502, 0)
    add(1, c, s, PSH | ACK, 502, 200)
    c += 200
    t += rtt
    add(0, s, c, ACK, 509, 0)
    hole: int | None = None
    since = 0
    for i in range(n):
        seg = s + i * MSS
        if hole is None and rng.random() < 0.01:
            hole = seg  # lost before the capture point: never seen here
            continue
        add(0, seg, c, ACK | (PSH if i % 8 == 7 else 0), 509, MSS)
        if rng.random() < 0.003:
            add(0, seg, c, ACK, 509, MSS)  # duplicated on the way: a retransmission here
        if conn % 40 == 5 and i == n // 2 and hole is None:
            add(1, c, seg + MSS, ACK, 0, 0)  # the client's buffer is full: zero window
            t += 50_000
            add(1, c, seg + MSS, ACK, 502, 0)  # and open again: window update
        if hole is not None:
            add(1, c, hole, ACK, 502, 0)  # a duplicate ACK asking for the hole
            since += 1
            if since >= 3:
                t += rtt
                add(0, hole, c, ACK, 509, MSS)  # the (fast) retransmission
                hole, since = None, 0
                add(1, c, seg + MSS, ACK, 502, 0)
        elif i % 2 == 1:
            add(1, c, seg + MSS, ACK, 502, 0)
    if hole is not None:
        t += 200_000
        add(0, hole, c, ACK, 509, MSS)
    end = s + n * MSS
    add(1, c, end, ACK, 502, 0)
    if conn % 50 == 7:  # idle, then a keep-alive from the client and its ACK
        t += 1_000_000
        add(1, c - 1, end, ACK, 502, 0)
        add(0, end, c, ACK, 509, 0)
    if conn % 10 == 9:
        add(1, c, end, RST | ACK, 0, 0)
    else:
        add(0, end, c, FIN | ACK, 509, 0)
        add(1, c, end + 1, FIN | ACK, 502, 0)
        add(0, end + 1, c + 1, ACK, 509, 0)
    return out


def generate(path: Path, packets: int, seed: int = 14) -> int:
    """Write the capture; returns the number of packets written."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, ...]] = []
    conn = 0
    while len(rows) < packets:
        rows.extend(_connection(rng, conn))
        conn += 1
    a = np.array(rows, dtype=np.int64)
    a = a[np.argsort(a[:, 0], kind="stable")][:packets]  # the first `packets` in time (a few connections cut short)
    n = len(a)
    t_us, c2s, cid, seq, ack, flg, win, plen, ws = (a[:, i] for i in range(9))
    r = np.zeros(n, REC)
    r["ts_sec"], r["ts_usec"] = 1_800_000_000 + t_us // 1_000_000, t_us % 1_000_000
    r["caplen"] = 58
    r["origlen"] = 58 + plen
    client = (0x0A800000 + cid // 60000 * 256 + 2).astype(np.uint32)
    cport = (1024 + cid % 60000).astype(np.uint16)
    server = np.uint32(0x0A010A64)  # 10.1.10.100
    r["etype"] = 0x0800
    r["vihl"], r["ttl"], r["proto"] = 0x45, 64, 6
    r["totlen"] = 20 + 24 + plen
    r["frag"] = 0x4000
    r["src"] = np.where(c2s == 1, client, server)
    r["dst"] = np.where(c2s == 1, server, client)
    r["sport"] = np.where(c2s == 1, cport, 443)
    r["dport"] = np.where(c2s == 1, 443, cport)
    r["seq"], r["ack"], r["flags"], r["win"] = seq, ack, flg, win
    r["off"] = 6 << 4
    opt = np.where(ws >= 0, (0x01030300 | np.maximum(ws, 0)).astype(np.uint32), np.uint32(0x01010101))
    r["opt"] = opt.astype(">u4").view("V4")
    hdr = np.array([0xA1B2C3D4, 0x00040002, 0, 0, 65535, 1], dtype="<u4").tobytes()
    with open(path, "wb") as f:
        f.write(hdr)
        f.write(r.tobytes())
    return n


CPU: dict[str, float] = {}


def _t(fn: Callable[[], Any], name: str = "") -> tuple[Any, float]:
    """Run ``fn``; returns (result, wall seconds) and records its CPU seconds under ``name`` (fair under load)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    CPU[name] = time.process_time() - c
    return out, time.perf_counter() - t


def tshark_expert(path: Path) -> tuple[dict[str, list[int]], float]:
    cmd = ["tshark", "-r", str(path), "-Y", "tcp.analysis.flags", "-T", "fields", "-E", "separator=,", "-E", "occurrence=f",
           "-e", "frame.number"]
    for _, filt, _ in expert.KINDS:
        cmd += ["-e", filt]
    t = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["tshark"] = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    dt = time.perf_counter() - t
    res: dict[str, list[int]] = {k: [] for k in expert.KIND_NAMES}
    for line in out.splitlines():
        parts = line.split(",")
        for k, v in zip(expert.KIND_NAMES, parts[1:]):
            if v:
                res[k].append(int(parts[0]))
    return res, dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path, default=Path(tempfile.gettempdir()) / "spkrunbook-bench" / "analysis.pcap")
    ap.add_argument("--skip-tshark", action="store_true")
    ap.add_argument("--write-readme", action="store_true", help="replace this benchmark's section of benchmarks/README.md")
    a = ap.parse_args()
    a.file.parent.mkdir(parents=True, exist_ok=True)
    tag = a.file.with_suffix(f".{a.packets}.ok")
    if not tag.exists():
        _, dt = _t(lambda: generate(a.file, a.packets))
        tag.write_text("generated\n")
        print(f"generated {a.file} ({a.file.stat().st_size / 1e6:.0f} MB) in {dt:.1f} s", file=sys.stderr)
    load0 = os.getloadavg()
    df, t_read = _t(lambda: read_pcap(a.file), "read")
    e, t_expert = _t(lambda: expert.analyze(df), "expert")
    _, t_expert2 = _t(lambda: expert.analyze(df), "expert2")

    def statistics() -> None:
        stats.conversations(df)
        stats.per_interval(df, plots.choose_interval(df))
        stats.top_talkers(df)
        stats.tcp_flag_counts(df)
        stats.resets(df)
        stats.summary(df)

    _, t_stats = _t(statistics, "stats")
    out = Path(tempfile.mkdtemp())

    def pictures() -> int:
        pc = flows.problem_conversations(df, e)
        st = int(pc["stream"].iloc[0])
        plots.save_png(flows.flow_diagram(df, st, ex=e), out, "flow")
        plots.save_png(flows.stream_graph(df, st, ex=e), out, "stream")
        plots.save_png(plots.io_graph(df), out, "io")
        return len(pc)

    n_problem, t_pics = _t(pictures, "pics")
    _, t_rtt = _t(lambda: flows.handshake_rtts(df, e), "rtt")
    ours = {k: e.frames(k) for k in expert.KIND_NAMES}
    counts = {k: len(v) for k, v in ours.items() if v}
    agree = None
    t_tshark = None
    if not a.skip_tshark and shutil.which("tshark"):
        theirs, t_tshark = tshark_expert(a.file)
        agree = {k: ours[k] == theirs[k] for k in expert.KIND_NAMES if ours[k] or theirs[k]}
    load1 = os.getloadavg()
    lines = [
        (f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; Python {platform.python_version()}; "
         f"load average {load0[0]:.1f} before, {load1[0]:.1f} after"),
        "",
        (f"capture: {len(df):,} packets, {a.file.stat().st_size / 1e6:.0f} MB pcap, {df['protocol'].eq('TCP').sum():,} TCP, "
         f"{int(e.packets['stream'].max()) + 1:,} connections; flagged: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())),
        "",
        "| step | wall s | CPU s | packets/s (CPU) |",
        "|---|---:|---:|---:|",
        f"| read_pcap (for reference) | {t_read:.2f} | {CPU['read']:.2f} | {len(df) / CPU['read']:,.0f} |",
        f"| expert.analyze, all 13 kinds (first call in the process) | {t_expert:.2f} | {CPU['expert']:.2f} | {len(df) / CPU['expert']:,.0f} |",
        f"| expert.analyze again (memory already mapped) | {t_expert2:.2f} | {CPU['expert2']:.2f} | {len(df) / CPU['expert2']:,.0f} |",
        f"| statistics (conversations, per_interval, top_talkers, flags, resets, summary) | {t_stats:.2f} | {CPU['stats']:.2f} | {len(df) / CPU['stats']:,.0f} |",
        f"| problem_conversations + flow diagram + stream graph + I/O graph, PNGs ({n_problem:,} problem streams) | {t_pics:.2f} | {CPU['pics']:.2f} | – |",
        f"| handshake_rtts | {t_rtt:.2f} | {CPU['rtt']:.2f} | – |",
    ]
    if t_tshark is not None:
        lines.append(f"| tshark -Y tcp.analysis.flags -T fields (its expert analysis) | {t_tshark:.2f} | {CPU['tshark']:.2f} | {len(df) / CPU['tshark']:,.0f} |")
        lines += ["", (f"tshark ÷ ours, expert analysis (first call): {t_tshark / t_expert:.1f}x wall, {CPU['tshark'] / CPU['expert']:.1f}x CPU; "
                       f"reader + expert analysis: {CPU['tshark'] / (CPU['read'] + CPU['expert']):.1f}x CPU"),
                  "frame lists equal to tshark's, kind by kind: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in (agree or {}).items())]
    text = "\n".join(lines)
    print(text)
    if a.write_readme:
        readme = ROOT / "benchmarks" / "README.md"
        body = readme.read_text()
        mark = "<!-- bench_analysis -->"
        section = (f"{mark}\n## TCP expert analysis and pictures (`python benchmarks/bench_analysis.py --write-readme`)\n\n"
                   "Generated capture with realistic TCP sequencing (see the script's docstring); one run, ratios within it.\n\n"
                   f"{text}\n{mark}\n")
        if mark in body:
            body = re.sub(f"{mark}.*?{mark}\n", section.replace("\\", "\\\\"), body, flags=re.DOTALL)
        else:
            body = body.rstrip() + "\n\n" + section
        readme.write_text(body)
    return 0 if agree is None or all(agree.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
