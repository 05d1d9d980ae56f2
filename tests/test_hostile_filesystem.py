"""The file system of a user with a bad day (issue 23 item 5): every command that writes checks where first,
says read-only / not a folder / permission / full disk as exit 2 with the path and what to do, and leaves
nothing half made; symbolic link loops are refused with a message; negative or zero limits are refused by
the params model and the command line.

Before: ``init`` gave tracebacks (and on a full disk left half a lab folder and said "done"), a params file
or records folder that is a symlink loop gave tracebacks, and ``capture --max-packets -1`` read 0 packets
and exited 0. The read-only and full-disk cases use a small tmpfs the test mounts (root only).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spkrunbook import cli, params
from spkrunbook.errors import ParameterError
from tests.support.hostile import tiny_tmpfs
from tests.support.paths import DEMO_DIR, DEMO_PARAMS


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with tiny_tmpfs(tmp_path / "mnt", "16k") as mnt:
        yield mnt


def said(capsys: pytest.CaptureFixture[str]) -> str:
    got = capsys.readouterr()
    return " ".join((got.out + got.err).split())


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- init -----------------------------------------------------------------------------------------------------------
def test_init_into_a_read_only_folder(small_tmpfs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    assert cli.main(["init", "mylab", "--folder", str(small_tmpfs / "mylab")]) == 2
    out = said(capsys)
    assert f"cannot write {small_tmpfs / 'mylab'}: the file system is read-only" in out and "--folder" in out, out
    assert "Traceback" not in out and tree(small_tmpfs) == []


def test_init_onto_a_full_disk_leaves_nothing_behind(small_tmpfs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (small_tmpfs / "mine.txt").write_text("a file the user had\n")
    assert cli.main(["init", "mylab", "--folder", str(small_tmpfs / "mylab")]) == 2
    out = said(capsys)
    assert "the disk is full" in out and "nothing was left behind" in out and "wrote" not in out, out
    assert tree(small_tmpfs) == ["mine.txt"], "what init made is removed; what the user had is not touched"


def test_init_where_params_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = tmp_path / "mylab"
    lab.mkdir()
    (lab / "params").write_text("not a folder\n")
    assert cli.main(["init", "mylab", "--folder", str(lab)]) == 2
    out = said(capsys)
    assert f"{lab / 'params'} is a file, not a folder" in out and "nothing was written" in out, out
    assert tree(lab) == ["params"] and (lab / "params").read_text() == "not a folder\n"


@pytest.fixture
def root_owned() -> Iterator[Path]:
    """A folder root owns that any user may enter but not write (pytest's own tmp folders are private)."""
    top = Path(tempfile.mkdtemp(prefix="spkrunbook-root-owned-"))
    top.chmod(0o755)
    yield top
    shutil.rmtree(top)


def test_init_as_a_user_into_a_root_owned_folder(root_owned: Path) -> None:
    """The command runs in a child that gave up root (root may write anywhere)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    top = root_owned
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code, err = -1, io.StringIO()
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = cli.main(["init", "mylab", "--folder", str(top / "mylab")])
        finally:
            os.write(w, f"{err.getvalue()}\nEXIT {code}\n".encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        out = " ".join(fh.read().split())
    os.waitpid(pid, 0)
    assert out.endswith("EXIT 2") and f"cannot write {top / 'mylab'}: permission denied" in out, out
    assert tree(top) == []


# -- symbolic link loops -----------------------------------------------------------------------------------------------
def test_a_params_file_that_is_a_symlink_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "lab.yaml"
    loop.symlink_to(loop)
    assert cli.main(["validate", str(loop), "--offline"]) == 2
    out = said(capsys)
    assert "is a symbolic link that points to itself (a loop)" in out and "Traceback" not in out, out


def test_a_records_folder_that_is_a_symlink_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "records"
    loop.symlink_to(loop)
    assert cli.main(["run", str(DEMO_PARAMS), "--records", str(loop)]) == 2
    out = said(capsys)
    assert "points to itself (a loop)" in out and "--records" in out and "Traceback" not in out, out


def test_a_snapshot_or_kubeconfig_that_is_a_symlink_loop_is_a_field_problem(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    data = params.load(DEMO_PARAMS).model_dump(mode="json")
    data["target"]["snapshot"] = str(loop)
    with pytest.raises(ParameterError) as caught:
        params.parse(data, base_dir=tmp_path)
    assert [str(p) for p in caught.value.problems] == [f"target.snapshot: {loop} is a symbolic link that points to "
                                                       "itself (a loop)"]


# -- limits ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-1", "-100", "x"])
def test_capture_refuses_a_negative_packet_limit(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        cli.main(["capture", "--max-packets", value, str(DEMO_DIR / "captures" / "cni0.pcap")])
    assert ended.value.code == 2 and "--max-packets" in capsys.readouterr().err


def test_capture_top_must_show_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        cli.main(["capture", "--top", "0", str(DEMO_DIR / "captures" / "cni0.pcap")])
    assert ended.value.code == 2 and "0 is less than 1" in capsys.readouterr().err


def test_negative_or_zero_limits_in_params_are_each_refused_with_their_field(tmp_path: Path) -> None:
    data = params.load(DEMO_PARAMS).model_dump(mode="json")
    data["target"] = {"kind": "live", "kubeconfig": str(tmp_path / "kc"), "request_timeout": 0, "retries": -1,
                      "max_response_mb": 0}
    (tmp_path / "kc").write_text(json.dumps({"apiVersion": "v1", "kind": "Config"}))
    data["install"].update(helm_timeout="0m", wait_timeout=-5)
    data["debug"].update(exec_timeout=0, capture={"seconds": -1, "packets": 0})
    data["tmm"].update(replicas=0, cpu=-2)
    with pytest.raises(ParameterError) as caught:
        params.parse(data)
    paths = sorted(p.path for p in caught.value.problems)
    assert paths == ["debug.capture.packets", "debug.capture.seconds", "debug.exec_timeout", "install.helm_timeout",
                     "install.wait_timeout", "target.max_response_mb", "target.request_timeout", "target.retries",
                     "tmm.cpu", "tmm.replicas"], paths
