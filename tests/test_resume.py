"""``spkrunbook run --resume RECORD``: from the first step that did not pass, into a new record linked to
the old one; the passed steps' results carried over; other params refused with the fields that differ."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spkrunbook import bundle, cli, params, resume
from spkrunbook.errors import ParameterError

RUN = [sys.executable, "-m", "spkrunbook"]


def _run_json(record: Path) -> dict:
    return json.loads((record / "run.json").read_text())


def _records(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


@pytest.mark.slow
def test_a_terminated_run_resumes_from_the_step_it_was_in(tmp_path: Path) -> None:
    root = tmp_path / "records"
    proc = subprocess.Popen([*RUN, "demo", "--records", str(root)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    record = None
    while time.monotonic() < deadline:  # SIGTERM once the first step has passed (a pod evicted mid-run)
        found = _records(root) if root.is_dir() else []
        if found and (found[0] / "run.json").is_file():
            record = found[0]
            try:
                steps = _run_json(record)["steps"]
            except ValueError:
                steps = []
            if steps and steps[0].get("status") == "passed":
                break
        time.sleep(0.2)
    assert record is not None, "the run never wrote its record"
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 143, out
    old = _run_json(record)
    assert old["status"] == "incomplete"
    assert [s["status"] for s in old["steps"]][0] == "passed"
    assert any(s["status"] in ("interrupted", "pending") for s in old["steps"][1:])

    done = subprocess.run([*RUN, "demo", "--records", str(root), "--resume", str(record)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    new = next(p for p in _records(root) if p != record)
    run = _run_json(new)
    assert run["status"] == "passed" and run["resumed_from"] == str(record)
    assert run["steps"][0]["carried_from"] == record.name
    assert all("carried_from" not in s for s in run["steps"][1:])
    # the carried step's notebook, page, summary and files are in the new record, byte for byte
    for rel in ("01-prerequisites.ipynb", "01-prerequisites.html", "steps/prerequisites.json"):
        assert (new / rel).read_bytes() == (record / rel).read_bytes()
    assert _run_json(record) == old  # the old record is never touched


def test_other_params_are_refused_naming_each_field(tmp_path: Path) -> None:
    record = tmp_path / "20261201T020000Z-demo"
    record.mkdir()
    lab = params.load(bundle.demo_params())
    (record / "lab.json").write_text(json.dumps(lab.referenced()))
    (record / "run.json").write_text(json.dumps({"lab": "demo", "status": "failed",
                                                 "steps": [{"step": "prerequisites", "status": "passed"},
                                                           {"step": "network-attachments", "status": "failed"}]}))
    changed = params.lab_with(lab, {"tmm.cpu": 2, "networks.internal.master": "ens300"})
    with pytest.raises(ParameterError) as exc:
        resume.prepare(record, changed)
    fields = {p.path for p in exc.value.problems}
    assert fields == {"tmm.cpu", "networks.internal.master"}
    same = resume.prepare(record, lab)
    assert list(same.carried) == ["prerequisites"] and same.first == "network-attachments"


def test_cli_refuses_a_resume_of_another_lab_before_connecting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "20261201T020000Z-other"
    record.mkdir()
    (record / "lab.json").write_text("{}")
    (record / "run.json").write_text(json.dumps({"lab": "other", "status": "failed", "steps": []}))
    assert cli.main(["demo", "--records", str(tmp_path / "r"), "--resume", str(record)]) == 2
    assert "the record is of lab 'other'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not os.listdir(tmp_path / "r")
