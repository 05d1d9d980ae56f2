"""Records folders that cannot take a record: a file, a read-only file system, a full disk.

Before the run: exit 2 with a message and nothing run. During the run: the step that
could not be written is an error with the reason, never "passed". The read-only and
full-disk cases use a small tmpfs mounted by the test (root only; skipped otherwise).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from spkrunbook import cli
from tests.support.hostile import tiny_tmpfs
from tests.support.paths import DEMO_PARAMS


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    # smaller than the first step's record (about 170 kB: its notebook, the notebook's page, the findings)
    with tiny_tmpfs(tmp_path / "mnt", "100k") as mnt:
        yield mnt


def test_records_path_that_is_a_file_is_exit_2_before_anything_runs(tmp_path: Path, capsys) -> None:
    f = tmp_path / "records"
    f.write_text("not a folder\n")
    assert cli.main(["run", str(DEMO_PARAMS), "--records", str(f)]) == 2
    err = capsys.readouterr().err
    assert "records" in err and "Traceback" not in err
    assert "RecordError" not in err and "NotADirectoryError" not in err and "Errno" not in err
    assert f.read_text() == "not a folder\n"


def test_read_only_records_folder_is_exit_2_before_anything_runs(tmpfs: Path, capsys) -> None:
    (tmpfs / "records").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    assert cli.main(["run", str(DEMO_PARAMS), "--records", str(tmpfs / "records")]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err.lower() and "--records" in err
    assert list((tmpfs / "records").iterdir()) == []


@pytest.mark.slow
def test_full_disk_fails_the_step_with_the_reason_never_passed(tmpfs: Path, capsys) -> None:
    rc = cli.main(["run", str(DEMO_PARAMS), "--records", str(tmpfs / "records")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "disk is full" in " ".join(out.split())
    (record,) = [p for p in (tmpfs / "records").iterdir() if p.is_dir()]
    run = json.loads((record / "run.json").read_text())
    statuses = [s["status"] for s in run["steps"]]
    assert statuses[0] == "error" and "passed" not in statuses
    assert run["status"] != "passed"
