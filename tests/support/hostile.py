"""Run the ``spkrunbook`` command in a child process as a user would, and measure how it ended.

Issue 23 sets limits on each hostile case: it ends within its configured timeout plus
a small margin, under 300 MB RSS, with exit 1 or 2 and an actionable message. A child
process is the only honest way to see all of that at once: its exit code, its wall
time, and its peak RSS (its own, ``VmHWM``, or any process it waited for, such as a
kernel, by ``resource.getrusage``), which it writes at exit. Not its own ``ru_maxrss``:
Linux keeps that across fork and exec, so it would report the test runner's size. A child
still running at ``kill_after``
is killed and says so (``killed``), as the issue's "before" numbers were taken.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .paths import ROOT

RSS_LIMIT_MB = 300

_WRAPPER = """
import atexit, os, resource, sys, time
# Imported before the clock starts: on a loaded machine these imports alone vary by seconds.
import spkrunbook.cli, spkrunbook.runbook, spkrunbook.params, spkrunbook.cluster.live
t0 = time.monotonic()
def _peak():
    # VmHWM: this process's own peak (its own address space since exec); its ru_maxrss would carry the parent's
    # (Linux keeps it across fork and exec). Children (kernels) by getrusage: their peak, or this one's at fork.
    with open("/proc/self/status") as fh:
        own = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    kb = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    with open(os.environ["SPKRUNBOOK_PEAK_RSS_FILE"], "w") as fh:
        fh.write(f"{kb} {time.monotonic() - t0}")
atexit.register(_peak)
sys.exit(spkrunbook.cli.main(sys.argv[1:]))
"""


@dataclass
class Ended:
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float  # from the command's start to its exit, imports excluded (None-like inf when killed)
    rss_mb: float | None
    killed: bool = False
    wall: float = 0.0  # the whole child, Python's start and imports included

    @property
    def said(self) -> str:
        """stdout and stderr joined, wrapped lines unwrapped (rich folds long lines)."""
        return " ".join((self.stdout + "\n" + self.stderr).split())

    def __str__(self) -> str:
        state = "killed" if self.killed else f"exit {self.returncode}"
        rss = f"{self.rss_mb:.0f}" if self.rss_mb is not None else "?"
        return (f"spkrunbook {' '.join(self.argv)}: {state} after {self.seconds:.1f}s ({self.wall:.1f}s with Python's "
                f"start and imports), peak RSS {rss} MB\n{self.stdout[-1500:]}\n{self.stderr[-1500:]}")


def run_cli(argv: list[str], *, kill_after: float = 300.0, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Ended:
    """``spkrunbook ARGV`` in a child, timed, its peak RSS read back."""
    with tempfile.NamedTemporaryFile(prefix="spkrunbook-rss-", delete=False) as fh:
        rss_file = Path(fh.name)
    child_env = {**os.environ, **(env or {}), "SPKRUNBOOK_PEAK_RSS_FILE": str(rss_file), "COLUMNS": "200",
                 "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env, cwd=cwd, start_new_session=True)
    killed = False
    try:
        out, err = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        killed = True
    wall = time.monotonic() - t0
    rss: float | None = None
    seconds = float("inf")
    try:
        kb, took = rss_file.read_text().split()
        rss, seconds = int(kb) / 1024, float(took)
    except (OSError, ValueError):
        pass
    finally:
        rss_file.unlink(missing_ok=True)
    return Ended(argv, None if killed else proc.returncode, out, err, seconds, rss, killed, wall)


@contextmanager
def tiny_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (made here): a disk that fills up. Skips without root or mount."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
