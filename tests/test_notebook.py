"""The step context a notebook opens: interactive sessions keep one record, listed like any run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spkrunbook import cli, notebook
from spkrunbook import record as records
from spkrunbook.results import Findings
from tests.support.paths import DEMO_DIR, DEMO_PARAMS


@pytest.fixture
def lab_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lab folder as `spkrunbook init` writes it, holding the demo's params."""
    folder = tmp_path / "mylab"
    (folder / "params").mkdir(parents=True)
    (folder / "params" / "mylab.yaml").write_text(DEMO_PARAMS.read_text().replace("./", f"{DEMO_DIR}/"))
    monkeypatch.chdir(folder)
    monkeypatch.delenv(records.LAB_DIGEST_ENV, raising=False)
    notebook._SESSION.clear()
    return folder


def _finish(step: notebook.Step, status: str = "pass") -> None:
    f = Findings(step.name)
    f.add("a check", status, "evidence", "what to do" if status != "pass" else "")
    try:
        step.finish(f)
    except Exception:  # a failed finding raises StepFailed, as in a notebook
        pass


def test_a_notebook_session_keeps_one_record_with_the_steps_run_so_far(lab_folder: Path) -> None:
    first = notebook.start("prerequisites")
    _finish(first, "warn")
    again = notebook.start("prerequisites")  # the person runs the cell again
    assert again.record_dir == first.record_dir
    _finish(again, "warn")
    nad = notebook.start("network-attachments")
    _finish(nad, "fail")
    assert nad.record_dir == first.record_dir
    assert first.record_dir.parent == lab_folder / "records", "the lab folder's records/, as `spkrunbook run` uses"
    run = json.loads((first.record_dir / "run.json").read_text())
    assert run["kind"] == "interactive" and run["status"] == "failed"
    assert [s["step"] for s in run["steps"]] == ["prerequisites", "network-attachments"]
    assert run["verdict"] == "failed, 1 failed check, 1 warning"
    listed = records.runs(lab_folder / "records")
    assert [(r["kind"], r["verdict"]) for r in listed] == [("interactive", "failed, 1 failed check, 1 warning")]
    assert (first.record_dir / "index.html").is_file() and (lab_folder / "records" / "index.html").is_file()


def test_a_new_session_makes_a_new_record(lab_folder: Path) -> None:
    one = notebook.start("prerequisites")
    notebook._SESSION.clear()  # what a kernel restart does
    two = notebook.start("prerequisites")
    assert one.record_dir != two.record_dir


def test_headless_and_interactive_runs_of_a_lab_land_in_one_place(lab_folder: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # `spkrunbook run mylab/params/mylab.yaml` from another folder
    rc = cli.main(["run", str(lab_folder / "params" / "mylab.yaml"), "--step", "1"])
    assert rc == 0
    assert not (elsewhere / "records").exists()
    assert [r["kind"] for r in records.runs(lab_folder / "records")] == ["run"]
    shutil.rmtree(lab_folder / "records")
