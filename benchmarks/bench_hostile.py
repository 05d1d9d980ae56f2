"""Hostile capture inputs: what each one does to ``read_capture``, and the peak memory it costs.

    python benchmarks/bench_hostile.py [--tree PATH] [--big] [--timeout S]

Each input is generated in a temporary folder, then read by ``read_capture`` in
a fresh interpreter (``python -c``, so nothing is inherited from this process).
The child measures itself: after its imports it resets the kernel's peak-RSS
mark (``/proc/self/clear_refs``, 5) and reports ``VmHWM - VmRSS`` from
``/proc/self/status`` after the read -- the memory the read itself added, not
the interpreter's.  ``--tree`` runs another checkout's code (e.g. the commit
before the bounds work) for a before/after table.  A child still running after
``--timeout`` seconds is killed and reported as a hang.  ``--big`` adds the 2 GB
sparse file.  Each child runs under an address-space limit (``--mem-limit``).  Numbers, not tests (the tests assert generous bounds).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHILD = r'''
import json, sys, time, warnings
import numpy, pandas, pyarrow
import spkrunbook.capture as cap
def status(k):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(k + ":"):
                return int(line.split()[1]) * 1024
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = status("VmRSS")
out = {}
t = time.perf_counter()
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        df = cap.read_capture(sys.argv[1])
        out["result"] = f"{len(df):,} packets"
    except cap.CaptureError as e:
        out["result"] = "CaptureError: " + e.message.splitlines()[0]
    except MemoryError:
        out["result"] = "MemoryError"
out["seconds"] = time.perf_counter() - t
out["warnings"] = [str(x.message)[:160] for x in w]
out["peak_mib"] = (status("VmHWM") - base) / 2**20
out["base_mib"] = base / 2**20
print(json.dumps(out))
'''

PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


def make_inputs(d: Path, big: bool) -> list[tuple[str, Path]]:
    out = []
    p = d / "zeros-512M.pcap"  # a pcap header, then zeros (sparse)
    with open(p, "wb") as f:
        f.write(PCAP_HDR)
        f.truncate(512 * 2**20)
    out.append(("pcap header + 512 MB of zeros (sparse)", p))
    if big:
        p = d / "zeros-2G.pcap"
        with open(p, "wb") as f:
            f.write(PCAP_HDR)
            f.truncate(2 * 2**30)
        out.append(("pcap header + 2 GB of zeros (sparse)", p))
    p = d / "huge-caplen.pcap"  # snaplen 0xffffffff, one record claiming 1 GB
    with open(p, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFFFFF, 1))
        f.write(struct.pack("<IIII", 1, 0, 2**30, 2**30))
        f.truncate(300 * 2**20)
    out.append(("pcap record claiming 1 GB (snaplen 0xffffffff), 300 MB file", p))
    p = d / "absurd-block.pcapng"
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20)
    with open(p, "wb") as f:
        f.write(shb + idb + struct.pack("<II", 6, 0xFFFFFFF0))
        f.truncate(300 * 2**20)
    out.append(("pcapng block claiming 4 GB, 300 MB file", p))
    p = d / "garbage.txt"  # printable, so sniffed as text; no packet lines
    line = b"x" * 99 + b"\n"
    with open(p, "wb") as f:
        for _ in range(4):
            f.write(line * 500_000)
    out.append(("200 MB of text, no packet lines", p))
    p = d / "one-line.txt"
    with open(p, "wb") as f:
        f.write(b"y" * (200 * 2**20))
    out.append(("200 MB text file, one line (no newline)", p))
    p = d / "fifo"
    os.mkfifo(p)
    out.append(("FIFO with no writer", p))
    p = d / "cut.pcap"
    with open(p, "wb") as f:
        f.write(PCAP_HDR + struct.pack("<IIII", 1, 0, 100, 100) + b"\0" * 40)
    out.append(("pcap cut inside its first record", p))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=str(HERE.parent), help="checkout whose spkrunbook is measured")
    ap.add_argument("--big", action="store_true", help="also the 2 GB sparse file")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--mem-limit", type=float, default=6.0,
                    help="address-space limit of each child in GiB (RLIMIT_AS), so an unbounded reader fails "
                         "with MemoryError instead of taking the machine's memory (default 6)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="capture-hostile-"))
    env = dict(os.environ, PYTHONPATH=a.tree)
    rows = []
    try:
        for name, path in make_inputs(d, a.big):
            t = time.perf_counter()
            res: dict[str, Any]  # the child's JSON, or what became of it; then the wall time
            try:
                lim = int(a.mem_limit * 2**30)
                r = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env,
                                   timeout=a.timeout, cwd=a.tree,
                                   preexec_fn=functools.partial(resource.setrlimit, resource.RLIMIT_AS, (lim, lim)))
                if r.returncode:
                    res = {"result": "crash: " + (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1][:120]}
                else:
                    res = json.loads(r.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                res = {"result": f"hang (killed after {a.timeout:.0f} s)"}
            res["wall"] = time.perf_counter() - t
            rows.append((name, res))
            pk = f"{res['peak_mib']:.0f}" if "peak_mib" in res else "-"
            print(f"| {name} | {res['result'][:110]} | {pk} | {res['wall']:.1f} |", flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if a.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
