"""The streaming pass against the whole-file path: peak memory by input size, and packets per second.

    python benchmarks/bench_stream.py [--packets 10000,100000,1000000,5000000] [--repeat R]
                                      [--workdir DIR] [--keep] [--plot PNG] [--write-readme]

For each size the generated capture (benchmarks/make_capture_bench.py: real TCP
sequencing, losses, UDP, ICMP errors, fragments, IPv6, VLAN and QinQ; 939 bytes a
packet on average, so 10 k .. 5 M packets is 10 MB .. 4.7 GB) is read, each
reader in a fresh process, interleaved ``R`` times:

- streaming: ``capture.analyze_capture`` -- conversations, endpoints, I/O bins,
  protocol hierarchy, the TCP expert analysis, and the worst stream read back;
- whole-file reader: ``capture.read_pcap`` (the DataFrame of every packet, and
  nothing else);
- whole-file path: ``read_pcap`` then the same tables (``stats.summary``,
  ``conversations``, ``endpoints``, ``protocol_hierarchy``, ``per_interval``,
  ``expert.analyze``).

Peak memory is the process's own high-water mark (VmHWM: Python, numpy,
pandas, pyarrow and the package included); packets/s is the best run's, beside
packets per CPU-second (on a shared machine wall time is the share of a core a
reader got, and reading a file larger than the page cache waits on the disk).
The plot (``--plot``) draws peak memory against input size.  No assertions:
numbers, not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable

CHILD = r'''
import json, sys, time, warnings
kind, path = sys.argv[1], sys.argv[2]
import numpy, pandas, pyarrow
from spkrunbook.capture import analyze_capture, expert, read_pcap, stats
warnings.simplefilter("ignore")
def status(k):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(k + ":"):
                return int(line.split()[1]) * 1024
base = status("VmRSS")
t, c = time.perf_counter(), time.process_time()
if kind == "stream":
    cs = analyze_capture(path)
    n = cs.packets
elif kind == "read":
    df = read_pcap(path, max_packets=None)
    n = len(df)
else:
    df = read_pcap(path, max_packets=None)
    n = len(df)
    stats.summary(df); stats.conversations(df); stats.endpoints(df); stats.protocol_hierarchy(df)
    stats.per_interval(df, "1s"); expert.analyze(df)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "packets": n,
                  "peak_mb": status("VmHWM") / 2**20, "base_mb": base / 2**20}))
'''
KINDS = ("stream", "read", "whole")


def child(kind: str, path: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([PY, "-c", CHILD, kind, path], capture_output=True, text=True, env=env)
    if r.returncode:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def _cell(b: dict, pps: dict[str, float], k: str) -> str:
    return f"{b[k]['peak_mb']:,.0f} | {pps[k]:,.0f}" if k in pps else f"{b[k].get('error', '-')} | -"


def _ratio(pps: dict[str, float], k: str) -> str:
    return f"{pps['stream'] / pps[k]:.2f}x" if k in pps and "stream" in pps else "-"


def plot(results: list[tuple[int, int, dict]], out: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    sizes = [size / 1e6 for _, size, _ in results]
    for kind, label, style in (("stream", "streaming pass (analyze_capture)", "o-"),
                               ("read", "whole-file reader (read_pcap)", "s--"),
                               ("whole", "whole-file path (read_pcap + stats + expert)", "^:")):
        ys = [b[kind].get("peak_mb") for _, _, b in results]
        pts = [(x, y) for x, y in zip(sizes, ys) if y is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], style, label=label)
    ax.axhline(512, color="tab:red", lw=0.8, ls="--")
    ax.text(sizes[0], 530, "512 MiB", color="tab:red", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("capture size (MB, log scale)")
    ax.set_ylabel("peak RSS of the process (MiB)")
    ax.set_title("Peak memory against capture size", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(out, dpi=100, metadata={"Software": None})


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--packets", default="10000,100000,1000000,5000000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the generated captures")
    ap.add_argument("--plot", type=Path, default=None, help="write the memory plot here (PNG)")
    ap.add_argument("--write-readme", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))  # the checkout: benchmarks.* by its package name (as mypy reads it)
    from benchmarks.make_capture_bench import write

    wd = Path(a.workdir or tempfile.mkdtemp(prefix="streambench-"))
    wd.mkdir(parents=True, exist_ok=True)
    results: list[tuple[int, int, dict]] = []
    for packets in (int(x) for x in a.packets.split(",")):
        path = wd / f"bench.{packets}.pcap"
        size = path.stat().st_size if path.exists() else write(str(path), packets)
        best: dict[str, dict] = {}
        for _ in range(a.repeat):
            for kind in KINDS:
                r = child(kind, str(path))
                prev = best.get(kind)
                if prev is None or ("seconds" in r and r["seconds"] < prev.get("seconds", float("inf"))):
                    best[kind] = r
                if "peak_mb" in r and "peak_mb" in best[kind]:
                    best[kind]["peak_mb"] = max(best[kind]["peak_mb"], r["peak_mb"])
        results.append((packets, size, best))
        print(packets, size, json.dumps(best), flush=True)
        if not a.keep:
            path.unlink()
            Path(str(path) + ".truth.json").unlink(missing_ok=True)
    table = ["| capture | packets | streaming: peak MiB | packets/s | whole-file reader: peak MiB | packets/s | "
             "streaming ÷ reader (packets/s) | whole-file path: peak MiB | packets/s | streaming ÷ path | "
             "packets per CPU-second: streaming / reader / path |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for packets, size, b in results:
        pps = {k: b[k]["packets"] / b[k]["seconds"] for k in KINDS if "seconds" in b[k]}
        cpu = " / ".join(f"{b[k]['packets'] / b[k]['cpu']:,.0f}" if "cpu" in b[k] else "-" for k in KINDS)
        table.append(f"| {size / 1e6:,.0f} MB | {packets:,} | {_cell(b, pps, 'stream')} | {_cell(b, pps, 'read')} | "
                     f"{_ratio(pps, 'read')} | {_cell(b, pps, 'whole')} | {_ratio(pps, 'whole')} | {cpu} |")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    base = results[0][2]["stream"].get("base_mb", float("nan")) if results else float("nan")
    report = (f"machine: {os.cpu_count()} cores, {platform.machine()}; Python {platform.python_version()}; load average "
              f"{load:.1f} at the end; best of {a.repeat}, interleaved; a process holds {base:.0f} MiB once its imports "
              f"are done\n\n" + "\n".join(table))
    print(report)
    if a.plot:
        plot(results, a.plot)
    if a.write_readme:
        readme = HERE / "README.md"
        marker = "<!-- bench_stream -->"
        text = readme.read_text()
        pic = f"\n\n![peak memory against capture size]({a.plot.name})" if a.plot else ""
        body = (f"{marker}\n## Capture of any size: the streaming pass (`python benchmarks/bench_stream.py --plot "
                f"benchmarks/stream_memory.png --write-readme`)\n\n{(__doc__ or '').split(chr(10) + chr(10), 2)[2].strip()}"
                f"\n\n{report}{pic}\n{marker}\n")
        parts = text.split(marker)
        text = parts[0] + body + parts[2].lstrip("\n") if len(parts) >= 3 else text.rstrip("\n") + "\n\n" + body
        readme.write_text(text)
    if a.workdir is None and not a.keep:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main()
