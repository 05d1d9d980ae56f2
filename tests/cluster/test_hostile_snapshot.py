"""A must-gather copied from a broken node (issue 23 item 4): reported, never crashed on.

The demo snapshot, copied, with one node file broken the ways a damaged copy is: a
Latin-1 byte, ``metadata`` as a string, labels as a list, a 200 MB annotation, no read
permission for the user, an alias bomb. Each is named with what is wrong by
``SnapshotTarget.problems()`` (what ``validate`` and ``run`` both print), and each check
that needs the file fails saying so; before, these were ``UnicodeDecodeError``,
``AttributeError`` and ``PermissionError`` tracebacks, and ``validate`` was killed after
600 s on the 200 MB annotation.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster.snapshot import MAX_FILE_BYTES, SnapshotTarget
from spkrunbook.steps import prereqs
from tests.support.hostile import RSS_LIMIT_MB, run_cli
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

NODE = "cluster-scoped-resources/core/nodes/worker-1.yaml"


def data_dir(root: Path) -> Path:
    return next(p for p in root.iterdir() if (p / "cluster-scoped-resources").is_dir())


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "must-gather"
    shutil.copytree(DEMO_DIR / "snapshot", root)
    return root


def latin1(f: Path) -> None:
    f.write_bytes(f.read_bytes().replace(b"worker-1", b"worker-1-caf\xe9", 1))


def metadata_string(f: Path) -> None:
    f.write_text("apiVersion: v1\nkind: Node\nmetadata: worker-1\n")


def labels_list(f: Path) -> None:
    text = f.read_text()
    f.write_text(text.replace("  labels:\n", "  labels: [a, b]\n  old-labels:\n", 1))


def huge_annotation(f: Path) -> None:
    with open(f, "ab") as fh:  # sparse: 200 MB on paper, a few blocks on disk
        fh.truncate(200 << 20)


def alias_bomb(f: Path) -> None:
    from tests.cluster.test_hostile_cluster import alias_bomb as bomb

    f.write_text(bomb(12).replace("kind: Config", "kind: Node\nmetadata: {name: worker-1}"))


BREAKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "latin-1": (latin1, "is not UTF-8 text (byte"),
    "metadata-string": (metadata_string, "has metadata that is a str, not a mapping"),
    "labels-list": (labels_list, "has metadata.labels that is a CommentedSeq, not a mapping"),
    "200MB": (huge_annotation, f"is 209,715,200 bytes; refused, at most {MAX_FILE_BYTES:,} are read"),
    "alias-bomb": (alias_bomb, "uses YAML aliases"),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_a_broken_node_file_is_named_and_the_checks_that_need_it_say_so(snapshot: Path, case: str) -> None:
    broken, said = BREAKS[case]
    broken(data_dir(snapshot) / NODE)
    target = SnapshotTarget(snapshot)
    t0 = time.monotonic()
    problems = target.problems()
    assert time.monotonic() - t0 < 5
    assert [f for f, _ in problems] == [f"{data_dir(snapshot).name}/{NODE}"], problems
    assert said.replace("CommentedSeq", "list") in problems[0][1].replace("CommentedSeq", "list"), problems
    lab = params.load(DEMO_PARAMS)
    lab.target.snapshot = snapshot
    rows = prereqs.checks(lab, target).rows
    failed = [r for r in rows if r.status == "fail"]
    assert failed and all(NODE in r.evidence for r in failed), [(r.check, r.evidence) for r in failed]
    assert all(r.action for r in failed)


@pytest.fixture
def open_snapshot() -> Iterator[Path]:
    """The demo snapshot in a folder every user may enter (pytest's own tmp folders are private to root)."""
    top = Path(tempfile.mkdtemp(prefix="spkrunbook-perm-"))
    top.chmod(0o755)
    root = top / "must-gather"
    shutil.copytree(DEMO_DIR / "snapshot", root)
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield root
    shutil.rmtree(top)


def test_a_file_the_user_cannot_read_is_named_with_what_to_do(open_snapshot: Path) -> None:
    """Read by an unprivileged user (root reads anything): the reading happens in a child that gave up root."""
    if os.geteuid() != 0:
        pytest.skip("needs root to read as another user")
    snapshot = open_snapshot
    (data_dir(snapshot) / NODE).chmod(0o000)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nobody
        os.close(r)
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            out = SnapshotTarget(snapshot).problems()
        except BaseException as exc:
            out = [("error", f"{type(exc).__name__}: {exc}")]
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        got = json.loads(fh.read())
    os.waitpid(pid, 0)
    assert got == [[f"{data_dir(snapshot).name}/{NODE}",
                    f"the snapshot file {data_dir(snapshot).name}/{NODE} cannot be read: Permission denied"]]


@pytest.mark.slow
def test_validate_and_run_name_the_same_broken_file(snapshot: Path, tmp_path: Path) -> None:
    latin1(data_dir(snapshot) / NODE)
    huge_annotation(data_dir(snapshot) / "cluster-scoped-resources/core/nodes/worker-2.yaml")
    data = params.load(DEMO_PARAMS).model_dump(mode="json")
    data["target"]["snapshot"] = str(snapshot)
    data["steps"] = ["prerequisites", "spk-install"]  # the install step's own preflight reads the nodes too
    pfile = tmp_path / "broken.json"
    pfile.write_text(json.dumps(data))
    validated = run_cli(["validate", str(pfile)])
    assert validated.returncode == 0 and "Traceback" not in validated.said, validated
    assert validated.seconds < 10 and validated.rss_mb is not None and validated.rss_mb < RSS_LIMIT_MB, validated
    ran = run_cli(["run", str(pfile), "--step", "prerequisites", "--step", "spk-install", "--records", str(tmp_path / "rec")])
    assert ran.returncode == 1 and "Traceback" not in ran.said, ran
    for name, why in (("worker-1.yaml", "is not UTF-8 text"), ("worker-2.yaml", "is 209,715,200 bytes; refused")):
        line = f"warning: target.snapshot: the snapshot file {data_dir(snapshot).name}/cluster-scoped-resources/core/nodes/{name} {why}"
        assert line in validated.said and line in ran.said, (line, validated.said, ran.said)
    (record,) = [p for p in (tmp_path / "rec").iterdir() if p.is_dir()]
    run = json.loads((record / "run.json").read_text())
    assert any("worker-1.yaml" in w for w in run["warnings"])
    findings = (record / "steps" / "prerequisites.json").read_text()
    assert "worker-1.yaml is not UTF-8 text" in findings
