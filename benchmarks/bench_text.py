"""tcpdump text parser benchmark alone: ``read_tcpdump_text`` vs the plain Python
``re`` loop, side by side, on text tcpdump prints from the generated capture.

    python benchmarks/bench_text.py [--packets N] [--flavours nn,e,tttt,names] [--repeat R]

Reuses bench_capture.py's generator route (make_capture_bench.write, then
``tcpdump -r FILE -nn``) and its measuring children (``text`` and ``text_re``,
each in a fresh subprocess), so the numbers are the ones bench_capture reports;
this script only lets the text part run on its own, on more tcpdump flavours,
and interleaves the two readers ``--repeat`` times (best run of each kept) so
a busy machine slows both alike.  The ``re`` loop only understands the
default ``-nn`` shape; on other flavours its row count is shown for what it is.
No assertions: numbers, not tests.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAVOURS = {"nn": ["-nn"], "e": ["-nn", "-e"], "tttt": ["-nn", "-tttt"], "names": [], "tt": ["-nn", "-tt"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--flavours", default="nn", help="comma list of " + ",".join(FLAVOURS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_capture import child
    from make_capture_bench import write

    wd = Path(a.workdir or tempfile.mkdtemp(prefix="textbench-"))
    wd.mkdir(parents=True, exist_ok=True)
    pcap = wd / "bench.pcap"
    if not pcap.exists():
        write(str(pcap), a.packets)
    out = ["| tcpdump flags | lines | ours s | ours lines/s | re loop s | re loop lines/s (rows) | ours ÷ re |", "|---|---:|---:|---:|---:|---:|---:|"]
    for fl in a.flavours.split(","):
        txt = wd / f"bench.{fl}.txt"
        if not txt.exists():
            with open(txt, "wb") as f:
                subprocess.run(["tcpdump", "-r", str(pcap), *FLAVOURS[fl]], stdout=f, stderr=subprocess.DEVNULL, check=False)
        with open(txt, "rb") as f:
            lines = sum(1 for _ in f)
        best: dict[str, dict] = {}
        for _ in range(a.repeat):
            for kind in ("text", "text_re"):
                r = child(kind, str(txt))
                if "seconds" in r and ("seconds" not in best.get(kind, {}) or r["seconds"] < best[kind]["seconds"]) or kind not in best:
                    best[kind] = r
        t, r = best["text"], best["text_re"]
        if "seconds" not in t or "seconds" not in r:
            out.append(f"| {' '.join(FLAVOURS[fl])} | {lines:,} | {t.get('error', '')} | | {r.get('error', '')} | | |")
            continue
        tl, rl = lines / t["seconds"], lines / r["seconds"]
        out.append(f"| `{' '.join(FLAVOURS[fl]) or '(names)'}` | {lines:,} | {t['seconds']:.3f} | {tl:,.0f} | {r['seconds']:.3f} | "
                   f"{rl:,.0f} ({r['packets']:,}) | {tl / rl:.2f}x |")
        print(out[-1], flush=True)
    print("\n".join(out))
    if a.workdir is None:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main()
