"""The record on disk: the validated lab a run hands its kernels, and the list of runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook import record as records
from spkrunbook.errors import RecordError
from spkrunbook.secrets import Scrubber
from tests.support.paths import DEMO_DIR, DEMO_PARAMS


def _record(tmp_path: Path, lab: params.Lab, **run: object) -> tuple[Path, str]:
    path = records.create(tmp_path / "records", lab.lab)
    digest = records.write_lab(path, lab, Scrubber.for_lab(lab))
    records.write_run(path, {"lab": lab.lab, "status": "incomplete", "warnings": [str(w) for w in lab.warnings()],
                             **run}, Scrubber.for_lab(lab))
    return path, digest


def _warned_lab(tmp_path: Path) -> params.Lab:
    text = DEMO_PARAMS.read_text().replace('cni_version: "0.3.1"', 'cni_version: "0.3.0"', 1).replace("./", f"{DEMO_DIR}/")
    p = tmp_path / "warned.yaml"
    p.write_text(text)
    return params.load(p)


def test_a_kernel_trusts_the_lab_its_run_validated_and_judges_nothing_again(tmp_path, monkeypatch):
    lab = _warned_lab(tmp_path)
    path, digest = _record(tmp_path, lab)
    monkeypatch.setenv(records.LAB_DIGEST_ENV, digest)

    def judged(_lab: params.Lab) -> list:
        raise AssertionError("the lab was judged again")

    monkeypatch.setattr(params, "semantic_problems", judged)
    again = records.read(path).lab()
    assert again.lab == lab.lab and again.cni_networks == lab.cni_networks
    assert [str(w) for w in again.warnings()] == [str(w) for w in lab.warnings()]  # the run's, not judged again
    assert [w.path for w in again.warnings()] == ["networks.internal.cni_version"]


def test_a_changed_lab_json_is_refused_inside_a_run(tmp_path, monkeypatch):
    lab = params.load(DEMO_PARAMS)
    path, digest = _record(tmp_path, lab)
    monkeypatch.setenv(records.LAB_DIGEST_ENV, digest)
    data = json.loads((path / records.LAB_FILE).read_text())
    data["networks"]["internal"]["master"] = "ens999"  # a valid lab, but not the one the run validated
    (path / records.LAB_FILE).write_text(json.dumps(data, indent=2) + "\n")
    with pytest.raises(RecordError, match="not the lab this run validated"):
        records.read(path).lab()


def test_opened_by_a_person_the_lab_is_validated_like_a_params_file(tmp_path, monkeypatch):
    lab = params.load(DEMO_PARAMS)
    path, _ = _record(tmp_path, lab)
    monkeypatch.delenv(records.LAB_DIGEST_ENV, raising=False)
    data = json.loads((path / records.LAB_FILE).read_text())
    data["networks"]["external"]["name"] = data["networks"]["internal"]["name"]  # a cross-field error
    (path / records.LAB_FILE).write_text(json.dumps(data))
    with pytest.raises(params.ParameterError, match=r"networks\.external\.name"):
        records.read(path).lab()


def test_runs_lists_each_run_with_its_verdict_and_steps_as_objects(tmp_path):
    lab = params.load(DEMO_PARAMS)
    steps = [{"step": "prerequisites", "status": "passed", "verdict": "passed, 1 warning", "duration_s": 1.5},
             {"step": "network-attachments", "status": "failed", "verdict": "failed, 1 failed check", "duration_s": 2}]
    _record(tmp_path, lab, status="failed", counts={"fail": 1, "warn": 1}, steps=steps, duration_s=3.5)
    (tmp_path / "records" / "20200101T000000Z-half").mkdir()  # no run.json: incomplete
    found = records.runs(tmp_path / "records")
    assert [r["status"] for r in found] == ["failed", "incomplete"]
    assert found[0]["verdict"] == "failed, 1 failed check, 1 warning"
    assert found[0]["steps"][1] == {"step": "network-attachments", "status": "failed",
                                    "verdict": "failed, 1 failed check", "duration_s": 2}
    table = records.list_records(tmp_path / "records")
    assert list(table["verdict"]) == ["failed, 1 failed check, 1 warning", "incomplete"]
