#!/usr/bin/env python3
"""The headless runbook against its floor: what `spkrunbook demo` costs beyond papermill itself.

    python benchmarks/bench_runbook.py            # floor, demo, demo without forks interleaved, 5 rounds, a table
    python benchmarks/bench_runbook.py -n 3       # fewer rounds
    python benchmarks/bench_runbook.py --floor    # one floor run (to time from outside, e.g. /usr/bin/time -v)
    python benchmarks/bench_runbook.py --demo     # one demo run
    python benchmarks/bench_runbook.py --where    # one demo run and where its time went (cells, record)

The floor is four notebooks of one trivial cell each, executed by papermill one
after another with the same kernel the runbook uses: the cost of starting and
stopping four kernels that no runbook can avoid. The demo is the whole runbook on
the bundled demo lab, into a temporary records folder; "demo, no forks" is the
same with ``SPKRUNBOOK_NO_FORK=1`` (kernels launched by jupyter_client ahead of their
step, figures drawn in the kernel): what forking buys. Whole processes, started in
turn (floor, demo, demo without forks, floor ...) so a machine whose speed drifts
affects all alike; wall time and CPU time (user + system of the process and every
descendant, kernels, the kernel server and the drawing children included) are
taken per round and each ratio quoted is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def floor() -> None:
    import nbformat
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(4):
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            src = Path(tmp) / f"{i}.ipynb"
            nbformat.write(nb, src)
            papermill.execute_notebook(str(src), str(Path(tmp) / f"{i}-out.ipynb"), kernel_name="python3",
                                       progress_bar=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])


def demo(keep: Path | None = None) -> None:
    from spkrunbook import cli

    with tempfile.TemporaryDirectory() as tmp:
        rc = cli.main(["demo", "--records", str(keep or tmp)])
    if rc != 0:
        raise SystemExit(rc)


def where() -> None:
    """One demo run, then where its time went: each notebook's cells (papermill's own timings), the
    rest of each step (kernel start and stop, papermill, the record: metadata, scrub, HTML), the run."""
    with tempfile.TemporaryDirectory() as tmp:
        self0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        demo(Path(tmp))
        total = time.monotonic() - t0
        self1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)

        def cpu(a: resource.struct_rusage, b: resource.struct_rusage) -> float:
            return (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)

        record = next(p for p in Path(tmp).iterdir() if p.is_dir())
        run = json.loads((record / "run.json").read_text())
        print(f"| demo, whole process after imports | {total:.1f} s | CPU: this process {cpu(self0, self1):.1f} s, "
              f"its descendants (kernel server, kernels, drawing children) {cpu(kids0, kids1):.1f} s |")
        for s in run["steps"]:
            nb = json.loads((record / s["notebook"]).read_text())
            cells = [(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0,
                      "".join(c["source"]).splitlines()[0][:60] if c["source"] else "") for c in nb["cells"]
                     if c["cell_type"] == "code"]
            in_cells = sum(d for d, _ in cells)
            top = sorted(cells, reverse=True)[:3]
            print(f"| {s['step']} | {s['duration_s']:.1f} s | cells {in_cells:.1f} s: "
                  + "; ".join(f"{d:.1f} s `{src}`" for d, src in top) + " |")


def timed(flag: str, **env: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and all it waited for) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run([sys.executable, __file__, flag], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore", **env})
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--floor", action="store_true")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--where", action="store_true")
    ap.add_argument("-n", type=int, default=5, help="pairs (floor, demo) to run in turn (default 5)")
    a = ap.parse_args()
    if a.floor:
        return floor()
    if a.demo:
        return demo()
    if a.where:
        return where()
    timed("--floor")  # warm-up: the page cache, the kernel spec, compiled bytecode
    rounds = []
    for _ in range(a.n):
        rounds.append((timed("--floor"), timed("--demo"), timed("--demo", SPKRUNBOOK_NO_FORK="1")))
    floor_w = [r[0][0] for r in rounds]
    rows = [("floor (4 trivial notebooks, papermill)", 0), ("spkrunbook demo", 1), ("spkrunbook demo, no forks", 2)]
    out = [f"| {a.n} rounds, medians | wall | CPU | ÷ floor, wall | ÷ floor, CPU |", "|---|---:|---:|---:|---:|"]
    for name, i in rows:
        wall = statistics.median(r[i][0] for r in rounds)
        cpu = statistics.median(r[i][1] for r in rounds)
        rw = statistics.median(r[i][0] / r[0][0] for r in rounds)
        rc = statistics.median(r[i][1] / r[0][1] for r in rounds)
        out.append(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rw:.2f}x | {rc:.2f}x |")
    print("\n".join(out))
    print(f"\nfloor wall per round: {', '.join(f'{w:.2f}' for w in floor_w)} s; "
          f"demo wall per round: {', '.join(f'{r[1][0]:.2f}' for r in rounds)} s")


if __name__ == "__main__":
    main()
