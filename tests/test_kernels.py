"""The run's kernels: forked from one warm server where that can be done, launched by jupyter_client where
not; either way a real ipykernel that nbclient drives, that an interrupt reaches, that is seen dead when
it dies, and that leaves no process behind, even when the run itself is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from spkrunbook import bundle, kernels
from spkrunbook.capture import forked

pytestmark = pytest.mark.slow

HEAVY = {"pandas", "numpy", "matplotlib", "pyarrow", "pydantic", "ipywidgets", "ruamel", "jinja2", "scipy",
         "kubernetes", "nbconvert"}


def execute(kernel: kernels.Kernel, *cells: str, **options: Any) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, km=kernel.manager, **options).execute()
    for made in kernel.manager.made:  # what Kernel.stop does; here the test reads the outputs first
        made.stop_channels()
    kernel.manager.made.clear()
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not kernels._alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def pool() -> Any:
    if not kernels.Server.usable():
        pytest.skip("kernels cannot be forked here (not Linux, or the python3 kernel spec is another Python)")
    p = kernels.Kernels(arguments=("--IPKernelApp.log_level=ERROR",))
    yield p
    p.close()


def test_a_forked_kernel_runs_a_notebook_in_its_folder_with_the_steps_imports_loaded(pool: Any,
                                                                                     tmp_path: Path) -> None:
    kernel = pool.take("debugging", tmp_path)
    assert isinstance(kernel, kernels.ForkedKernel)
    nb = execute(kernel, "import os, sys; print(os.getcwd()); print(sorted(m for m in ('pandas', 'matplotlib') "
                         "if m in sys.modules))", "x = 6 * 7\nprint(x)")
    assert text(nb).split("\n")[:3] == [str(tmp_path), "['matplotlib', 'pandas']", "42"]
    pid, server = kernel.pid.result(), pool.server.process
    assert pid is not None
    pool.done(kernel)
    pool.close()
    assert gone(pid), "the kernel was stopped"
    assert server.poll() is not None, "the server ended with the run's kernels"


def test_an_interrupt_reaches_a_forked_kernel_and_a_killed_one_is_seen_dead(pool: Any, tmp_path: Path) -> None:
    kernel = pool.take("prerequisites", tmp_path)
    with pytest.raises(CellExecutionError, match="KeyboardInterrupt"):
        execute(kernel, "import time\ntime.sleep(60)", timeout=3, interrupt_on_timeout=True)
    assert kernel.manager.is_alive(), "interrupted, not killed"
    os.kill(kernel.pid.result(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while kernel.manager.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kernel.manager.is_alive(), "a dead kernel must read as dead (the server reaps it)"
    pool.done(kernel)


def test_killing_the_run_ends_its_kernel_server_and_kernels(tmp_path: Path) -> None:
    if not kernels.Server.usable():
        pytest.skip("kernels cannot be forked here")
    script = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from spkrunbook import kernels
        pool = kernels.Kernels(arguments=("--IPKernelApp.log_level=ERROR",))
        pids = [pool.take(step, Path({str(tmp_path)!r})).pid.result() for step in ("prerequisites", "debugging")]
        print(json.dumps([pool.server.process.pid, *pids]), flush=True)
        sys.stdin.read()
    """)
    run = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    pids = json.loads(run.stdout.readline())
    assert len(pids) == 3 and all(kernels._alive(p) for p in pids)
    run.kill()
    run.wait()
    for pid in pids:
        assert gone(pid, within=20), f"process {pid} outlived the run that was killed"


def test_a_server_that_cannot_fork_leaves_the_kernel_to_jupyter_client(pool: Any, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(self: Any, request: dict[str, Any]) -> Future[int | None]:
        answer: Future[int | None] = Future()
        answer.set_result(None)
        return answer

    monkeypatch.setattr(kernels.Server, "fork", refused)
    kernel = pool.take("prerequisites", tmp_path)
    assert type(kernel) is kernels.Kernel and not pool.forking
    assert text(execute(kernel, "print('launched')")).strip() == "launched"
    pool.done(kernel)


def test_kernels_are_forked_only_from_the_python_the_kernel_spec_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    def spec(argv: list[str]) -> Any:
        return lambda self, name: KernelSpec(argv=argv, display_name="Python 3", language="python")

    ours = [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", spec(ours))
    if sys.platform.startswith("linux"):
        assert kernels.Server.usable()
    monkeypatch.setenv(kernels.NO_FORK_ENV, "1")
    assert not kernels.Server.usable(), "the switch turns forking off"
    assert not forked.available(), "for the figures too"
    monkeypatch.delenv(kernels.NO_FORK_ENV)
    for other in (["/opt/other/bin/python", *ours[1:]], [sys.executable, "-m", "other_kernel", "-f", "{c}"],
                  [sys.executable, "-I", "-m", "ipykernel_launcher", "-f", "{c}"]):
        monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", spec(other))
        assert not kernels.Server.usable(), other


def _notebook_imports(step: str, folder: Path, *, warm: bool) -> dict[str, list[str]]:
    """Run the step's notebook's cells in a fresh interpreter (IPython, every display format computed, as a
    kernel does), after its warm imports or not: what the warm imports and then the cells loaded."""
    script = textwrap.dedent(f"""
        import json, sys
        import nbformat
        from IPython.core.interactiveshell import InteractiveShell
        from spkrunbook import bundle, kernels
        shell = InteractiveShell.instance()
        shell.display_formatter.active_types = list(shell.display_formatter.formatters)
        nb = nbformat.read(bundle.notebook({step!r}), as_version=4)
        before = set(sys.modules)
        for module in kernels.WARM[{step!r}] if {warm!r} else ():
            __import__(module)
        warm = set(sys.modules) - before
        shell.run_cell("params_file = ''; record = " + repr({str(folder / "rec")!r}) + "; interactive = False")
        for cell in nb.cells[1:]:
            if cell.cell_type == "code":
                result = shell.run_cell(cell.source)
                if not result.success and type(result.error_in_exec).__name__ != "StepFailed":
                    raise SystemExit(f"{{cell.source!r}}: {{result.error_in_exec!r}}")
        print(json.dumps({{"warm": sorted(warm), "cells": sorted(set(sys.modules) - before - warm)}}))
    """)
    # NO_FORK: the figures are drawn in this process, not in children, so their imports are counted
    env = {**os.environ, "HOME": str(folder), kernels.NO_FORK_ENV: "1", "MPLBACKEND": "agg"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=folder, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("step", bundle.STEPS)
def test_the_warm_imports_are_what_a_steps_notebook_needs(step: str, tmp_path: Path) -> None:
    """After its step's warm imports (a forked kernel has all steps'), a notebook's cells load none of the
    heavy libraries themselves (a submodule loaded on first use may follow); and each warm import is one
    the notebook makes without them."""
    after = _notebook_imports(step, tmp_path, warm=True)
    late = sorted({m for m in after["cells"] if "." not in m} & HEAVY)  # a library first loaded by a cell
    assert not late, f"the {step} notebook still imports {late} itself: add them to kernels.WARM"
    alone = _notebook_imports(step, tmp_path, warm=False)
    assert set(kernels.WARM[step]) <= set(alone["cells"]), "a warm import the notebook does not make"


def test_one_switch_turns_off_both_forks() -> None:
    assert kernels.NO_FORK_ENV == forked.NO_FORK_ENV == "SPKRUNBOOK_NO_FORK"


@pytest.mark.parametrize("forking", [True, False])
def test_a_run_kernel_keeps_no_ipython_history_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    forking: bool) -> None:
    """As when nbclient starts the kernel itself: a run's kernels never share (or lock) a history file."""
    if forking and not kernels.Server.usable():
        pytest.skip("kernels cannot be forked here")
    if not forking:
        monkeypatch.setenv(kernels.NO_FORK_ENV, "1")
    pool = kernels.Kernels(arguments=("--IPKernelApp.log_level=ERROR",))
    try:
        kernel = pool.take("prerequisites", tmp_path)
        assert isinstance(kernel, kernels.ForkedKernel) is forking
        out = text(execute(kernel, "print(get_ipython().history_manager.hist_file)"))
        assert out.strip() == ":memory:"
        pool.done(kernel)
    finally:
        pool.close()


def test_the_server_the_cli_starts_early_is_the_runs_or_is_stopped(tmp_path: Path) -> None:
    """The CLI starts the kernel server before its own imports; the run's pool takes that one over (no
    second server), and a pool that never needed it still stops it."""
    if not kernels.Server.usable():
        pytest.skip("kernels cannot be forked here")
    kernels.start_server_early()
    early = kernels._EARLY[0]
    pool = kernels.Kernels(arguments=("--IPKernelApp.log_level=ERROR",))
    pool.warm()
    assert pool.server is early and not kernels._EARLY
    kernel = pool.take("prerequisites", tmp_path)
    assert text(execute(kernel, "print('forked')")).strip() == "forked"
    pool.done(kernel)
    pool.close()
    assert early.process.poll() is not None

    kernels.start_server_early()
    unused = kernels._EARLY[0]
    kernels.Kernels().close()  # a run that ended before its first kernel
    assert unused.process.poll() is not None and not kernels._EARLY
