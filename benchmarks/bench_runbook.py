#!/usr/bin/env python3
"""The headless runbook against its floor: what `spkrunbook demo` costs beyond papermill itself.

    python benchmarks/bench_runbook.py            # both, 3 runs each, a table
    python benchmarks/bench_runbook.py --floor    # one floor run (for farm-bench)
    python benchmarks/bench_runbook.py --demo     # one demo run (for farm-bench)

The floor is four notebooks of one trivial cell each, executed by papermill one
after another with the same kernel the runbook uses: the cost of starting and
stopping four kernels that no runbook can avoid. The demo is the whole runbook on
the bundled demo lab, into a temporary records folder. Whole-process wall time,
so start-up and imports count.
"""

from __future__ import annotations

import argparse
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


def demo() -> None:
    from spkrunbook import cli

    with tempfile.TemporaryDirectory() as tmp:
        rc = cli.main(["demo", "--records", tmp])
    if rc != 0:
        raise SystemExit(rc)


def timed(flag: str) -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, __file__, flag], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--floor", action="store_true")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("-n", type=int, default=3)
    a = ap.parse_args()
    if a.floor:
        return floor()
    if a.demo:
        return demo()
    f = [timed("--floor") for _ in range(a.n)]
    d = [timed("--demo") for _ in range(a.n)]
    mf, md = statistics.median(f), statistics.median(d)
    print(f"| floor (4 trivial notebooks) | {mf:.2f} s |\n| spkrunbook demo | {md:.2f} s |\n| ratio | {md / mf:.2f}x |")


if __name__ == "__main__":
    main()
