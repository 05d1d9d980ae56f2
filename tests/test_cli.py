"""The terminal: a verdict that carries its warnings, --strict, one line per run and per step, quick help."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from spkrunbook import cli, runbook
from spkrunbook import record as records
from spkrunbook.runbook import RunResult, StepError, StepOutcome
from tests.support.paths import DEMO_PARAMS

WARN = {"step": "debugging", "status": "warn", "check": "TCP resets", "subjects": ["net2"],
        "evidence": "588 of 785 TCP conversations reset (74.9%; threshold 5.0%)",
        "action": "look at the resets table: refused ports or aborted connections", "reference": ""}


def _result(tmp_path: Path, *, strict: bool = False) -> RunResult:
    steps = [StepOutcome("prerequisites", "passed", 5.8, counts={"pass": 23, "warn": 0}),
             StepOutcome("debugging", "passed", 56.4, counts={"pass": 30, "warn": 3}, worst=[WARN])]
    return RunResult(record=tmp_path / "records" / "20261207T051908Z-demo", lab="demo", steps=steps, strict=strict)


def _text(width: int) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False), buf


def test_a_pass_with_warnings_says_so_and_names_the_worst_with_what_to_do(tmp_path: Path) -> None:
    result = _result(tmp_path)
    assert result.verdict == "passed, 3 warnings" and result.exit_code == 0
    console, buf = _text(100)
    cli._summary(console, result)
    out = " ".join(buf.getvalue().split())
    assert "run: passed, 3 warnings" in out
    assert "WARN TCP resets (net2): 588 of 785 TCP conversations reset" in out
    assert "what to do: look at the resets table" in out


def test_strict_fails_a_run_that_warned(tmp_path: Path) -> None:
    result = _result(tmp_path, strict=True)
    assert result.exit_code == 1 and result.verdict.startswith("failed (--strict")
    quiet = RunResult(record=tmp_path, lab="demo", steps=[StepOutcome("prerequisites", "passed", 1.0,
                                                                     counts={"pass": 3})], strict=True)
    assert quiet.exit_code == 0 and quiet.verdict == "passed"


def test_a_failed_step_shows_its_message_and_what_to_do(tmp_path: Path) -> None:
    failed = StepOutcome("prerequisites", "failed", 5.0, error=StepError("StepFailed", "1 check(s) failed",
                                                                        "migrate the cluster to OVN-Kubernetes"),
                         counts={"fail": 1})
    console, buf = _text(80)
    cli._summary(console, RunResult(record=tmp_path, lab="demo", steps=[failed]))
    out = " ".join(buf.getvalue().replace("│", " ").split())
    assert "run: failed, 1 failed check" in out and "migrate the cluster" in out


def test_progress_in_a_log_is_a_line_when_a_step_starts_and_ends_nothing_per_cell(tmp_path: Path) -> None:
    console, buf = _text(120)
    progress = cli.TerminalProgress(console)
    progress({"event": "run-start", "lab": "demo", "steps": ["prerequisites"], "record": str(tmp_path)})
    progress({"event": "step-start", "step": "prerequisites", "index": 1, "total": 1, "cells": 12})
    for n in range(1, 13):
        progress({"event": "cell", "step": "prerequisites", "index": 1, "total": 1, "cell": n, "source": "x = 1",
                  "elapsed": 0.1})
    progress({"event": "step-end", "step": "prerequisites", "index": 1, "total": 1, "status": "passed",
              "duration": 5.8, "error": None, "verdict": "passed, 1 warning", "worst": []})
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    assert len(lines) == 4, lines  # lab, record, step start, step end
    assert lines[-1].endswith("step 1/1 prerequisites: passed, 1 warning in 5.8s")


def test_progress_on_a_terminal_is_one_live_line_with_a_bar_and_the_cell(tmp_path: Path) -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=100, force_terminal=True, color_system=None)
    progress = cli.TerminalProgress(console)
    progress({"event": "step-start", "step": "debugging", "index": 4, "total": 4, "cells": 10})
    progress({"event": "cell", "step": "debugging", "index": 4, "total": 4, "cell": 5,
              "source": "result = spk.debug.run(step.lab, step.target, progress=step.progress('capture'))",
              "elapsed": 1.0})
    progress._bar.refresh()
    live = buf.getvalue()
    assert "step 4/4 debugging" in live and "4/10" in live and "result = spk.debug.run" in live
    progress({"event": "step-end", "step": "debugging", "index": 4, "total": 4, "status": "passed",
              "duration": 9.0, "error": None, "verdict": "passed", "worst": []})
    assert progress._bar is None
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    assert "step 4/4 debugging: passed in 9.0s" in final


def test_first_words_never_cut_a_word() -> None:
    text = "display(result.attachments.table('device_probed'), result.attachments.table('link'))"
    cut = cli._first_words(text, 40)
    assert cut.endswith(" …") and text.startswith(cut[:-2]) and len(cut) <= 42


def _records_root(tmp_path: Path) -> Path:
    root = tmp_path / "records"
    for n, (status, counts) in enumerate([("passed", {"warn": 16}), ("failed", {"fail": 2, "warn": 1}),
                                          ("passed", {})]):
        d = root / f"2026120{n + 1}T051908Z-a-long-lab-name-{n}"
        d.mkdir(parents=True)
        steps = [{"step": s, "status": "passed", "verdict": "passed"} for s in ("prerequisites", "network-attachments")]
        (d / records.RUN_FILE).write_text(json.dumps({"lab": f"a-long-lab-name-{n}", "status": status, "counts": counts,
                                                      "steps": steps, "duration_s": 83.2, "started": "x",
                                                      "target": {"name": "demo/snapshot"}}))
    return root


def test_records_at_80_columns_is_one_line_per_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = _records_root(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["records", "--records", str(root)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert lines[0].split() == ["RUN", "VERDICT", "TIME"]
    rows = lines[1:4]  # one line per run, then where they are
    assert all(len(ln) <= 80 for ln in rows) and all(ln.startswith("2026120") for ln in rows), lines
    assert "passed, 16 warnings" in rows[2] and "failed, 2 failed checks, 1 warning" in rows[1]
    assert lines[4].startswith("3 run(s) in ")
    assert cli.main(["records", "--records", str(root), "-o", "wide"]) == 0
    assert "a-long-lab-name-0" in capsys.readouterr().out


def test_records_json_gives_steps_as_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _records_root(tmp_path)
    assert cli.main(["records", "--records", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["steps"][0] == {"step": "prerequisites", "status": "passed", "verdict": "passed", "duration_s": None}
    assert data[-1]["verdict"] == "passed, 16 warnings"


def test_help_and_version_load_nothing_heavy() -> None:
    code = ("import sys; from spkrunbook import cli; cli.build_parser().format_help(); "
            "print([m for m in ('pandas', 'pyarrow', 'pydantic', 'kubernetes', 'papermill', 'matplotlib') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert subprocess.run([sys.executable, "-m", "spkrunbook", "--version"], capture_output=True, text=True,
                          check=True).stdout.startswith("spkrunbook ")


def test_lab_without_jupyterlab_says_the_one_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    folder = tmp_path / "mylab"
    assert cli.main(["init", "mylab", "--folder", str(folder)]) == 0
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else real(name, *a))
    assert cli.main(["lab", str(folder), "--dry-run"]) == 2
    assert "pip install 'spkrunbook[lab]'" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0, reason="needs root")
def test_lab_as_root_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mylab"
    assert cli.main(["init", "mylab", "--folder", str(folder)]) == 0
    capsys.readouterr()
    assert cli.main(["lab", str(folder), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "refuses to run as root" in err and "-- --allow-root" in err
    assert cli.main(["lab", str(folder), "--dry-run", "--", "--allow-root"]) == 0


@pytest.mark.slow
def test_a_strict_demo_run_exits_1_on_its_deliberate_warnings(tmp_path: Path) -> None:
    result = runbook.run(DEMO_PARAMS, records_root=tmp_path, steps=["prerequisites"], strict=True)
    assert result.counts["warn"] == 1, "the demo's vSphere reminder is its one prerequisites warning"
    assert result.exit_code == 1
    run = json.loads((result.record / "run.json").read_text())
    assert run["status"] == "failed" and run["strict"] is True and run["verdict"].endswith("1 warning")
    assert run["worst"][0]["check"] == "platform"
