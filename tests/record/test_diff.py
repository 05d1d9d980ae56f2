"""``records diff``: what changed between two runs, from the two records alone (neither is touched)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spkrunbook import cli
from spkrunbook.errors import RecordError
from spkrunbook.record.diff import diff


def make_record(root: Path, name: str, *, master: str, hugepages: str, extra_file: bool = False) -> Path:
    rec = root / name
    (rec / "steps").mkdir(parents=True)
    (rec / "prerequisites").mkdir()
    (rec / "lab.json").write_text(json.dumps({"lab": "l1", "networks": {"internal": {"master": master}},
                                              "target": {"token": "***"}}))
    (rec / "run.json").write_text(json.dumps({"lab": "l1", "status": "passed" if hugepages == "pass" else "failed",
                                              "steps": [{"step": "prerequisites", "status": "passed" if hugepages == "pass" else "failed"}]}))
    rows = [{"check": "hugepages", "subject": "worker-0", "status": hugepages, "evidence": f"hp {hugepages}",
             "action": "", "reference": ""},
            {"check": "tmm-nodes", "subject": "", "status": "pass", "evidence": "3 nodes", "action": "", "reference": ""}]
    (rec / "steps" / "prerequisites.json").write_text(json.dumps(
        {"step": "prerequisites", "duration_s": len(name), "findings": [{"title": "Prerequisites", "rows": rows}]}))
    (rec / "prerequisites" / "prerequisites.csv").write_text(f"hugepages,{hugepages}\n")
    if extra_file:
        (rec / "prerequisites" / "nodes.txt").write_text("x\n")
    return rec


def test_diff_names_each_param_step_finding_and_file_that_changed(tmp_path: Path) -> None:
    a = make_record(tmp_path, "20260101T000000Z-l1", master="ens224", hugepages="pass")
    b = make_record(tmp_path, "20260102T000000Z-l1", master="ens192", hugepages="fail", extra_file=True)
    before = {p: p.read_bytes() for p in a.rglob("*") if p.is_file()}
    d = diff(a, b)
    got = {(r["what"], r["where"]): (r["before"], r["after"]) for r in d.rows}
    assert got == {
        ("param", "networks.internal.master"): ("ens224", "ens192"),
        ("step", "prerequisites"): ("passed", "failed"),
        ("finding", "prerequisites / hugepages / worker-0"): ("pass: hp pass", "fail: hp fail"),
        ("file", "prerequisites/prerequisites.csv"): ("present", "changed"),
        ("file", "prerequisites/nodes.txt"): ("absent", "present"),
    }
    assert before == {p: p.read_bytes() for p in a.rglob("*") if p.is_file()}
    assert "<table" in d._repr_html_()


def test_same_run_twice_is_no_difference_and_cli_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_record(tmp_path, "20260101T000000Z-l1", master="ens224", hugepages="pass")
    make_record(tmp_path, "20260102T000000Z-l1", master="ens224", hugepages="pass")
    assert len(diff(tmp_path / "20260101T000000Z-l1", tmp_path / "20260102T000000Z-l1")) == 0
    rc = cli.main(["records", "--records", str(tmp_path), "diff", "20260101T000000Z-l1", "20260102T000000Z-l1"])
    assert rc == 0 and "agree" in capsys.readouterr().out


def test_diff_of_a_folder_that_is_not_a_record_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_record(tmp_path, "r1", master="ens224", hugepages="pass")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordError):
        diff(tmp_path / "r1", tmp_path / "empty")
    assert cli.main(["records", "--records", str(tmp_path), "diff", "r1", "nope"]) == 2
    assert "not a record folder" in capsys.readouterr().err


def test_times_and_durations_are_what_two_identical_runs_may_differ_in() -> None:
    from spkrunbook.record.diff import without_times

    a = '{"start_time": "2026-12-07T06:37:15.209373+00:00", "duration": 0.008175} 20261207T063711Z-demo (12.3s) 8.0 s'
    b = '{"start_time": "2026-12-07T06:38:39.043684+00:00", "duration": 0.002207} 20261207T063833Z-demo (9.1s) 16.4 s'
    assert without_times(a) == without_times(b)
    assert without_times("packets: 3581") != without_times("packets: 3582"), "data is not a time"
    assert without_times('"duration_s": 3') == '"duration_s": <t>'
