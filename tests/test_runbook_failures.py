"""The runner's failure paths, each with a tiny purpose-named notebook (as nbclient and papermill test).

A step's notebook can fail four ways besides a failed check: a cell raises, a cell calls
``sys.exit``, the kernel dies, a cell runs past the timeout. Each must end the step with a
status and a message a person can act on, leave the executed notebook in the record, and
never take the run down with a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spkrunbook import kernels, runbook
from spkrunbook.runbook import StepOutcome
from spkrunbook.secrets import Scrubber
from tests.support.paths import FIXTURES

NOTEBOOKS = FIXTURES / "notebooks"
pytestmark = pytest.mark.slow


def run_one(name: str, record: Path) -> tuple[StepOutcome, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    record.mkdir(parents=True, exist_ok=True)
    run_data: dict[str, Any] = {"steps": [{"step": name, "status": "pending"}]}
    outcome = runbook._run_step(name, 1, 1, record, Scrubber(), events.append, "snapshot", run_data,
                                src=NOTEBOOKS / f"{name}.ipynb")
    return outcome, events


def test_a_notebook_that_passes(tmp_path: Path) -> None:
    outcome, events = run_one("passes", tmp_path / "rec")
    assert outcome.status == "passed" and outcome.error is None
    assert (tmp_path / "rec" / "passes.ipynb").is_file() and outcome.html == "passes.html"
    assert [e["event"] for e in events][0] == "step-start" and events[-1]["event"] == "step-end"


def test_a_cell_that_raises_fails_the_step_with_its_message_and_cell(tmp_path: Path) -> None:
    outcome, _ = run_one("raises", tmp_path / "rec")
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.name == "ValueError"
    assert outcome.error.message == "the cell failed on purpose"
    assert outcome.error.cell == 4  # markdown, papermill's parameters, ours, injected parameters: the raising cell
    assert (tmp_path / "rec" / "raises.html").is_file(), "the failed notebook is still rendered for the record"


def test_sys_exit_in_a_cell_fails_the_step_not_the_run(tmp_path: Path) -> None:
    outcome, _ = run_one("sys_exit", tmp_path / "rec")
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.name == "SystemExit"


@pytest.fixture(params=["forked", "launched"])
def launcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either way a run gets its kernels: forked from the warm server, or launched by jupyter_client."""
    if request.param == "launched":
        monkeypatch.setenv(kernels.NO_FORK_ENV, "1")
    elif not kernels.Server.usable():
        pytest.skip("kernels cannot be forked here")
    return str(request.param)


def test_a_kernel_that_dies_is_an_error_that_quotes_what_the_kernel_said(tmp_path: Path, launcher: str) -> None:
    outcome, _ = run_one("kernel_dies", tmp_path / "rec")
    assert outcome.status == "error"
    assert outcome.error is not None
    assert "dying on purpose" in outcome.error.message, outcome.error.message
    assert "out of memory" in outcome.error.hint
    assert (tmp_path / "rec" / "kernel_dies.ipynb").is_file()


def test_a_cell_past_the_timeout_is_an_error_that_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          launcher: str) -> None:
    monkeypatch.setattr(runbook, "CELL_TIMEOUT_S", 3)
    outcome, _ = run_one("hangs", tmp_path / "rec")
    assert outcome.status == "error"
    assert outcome.error is not None and "timed out" in outcome.error.message.lower(), outcome.error
    assert "longer than 3 s" in outcome.error.hint
    assert outcome.duration_s < 60
