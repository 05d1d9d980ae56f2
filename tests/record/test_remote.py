"""Records in a real S3 server (SeaweedFS): staged, uploaded with run.json last, listed, compared, shared,
indexed; a refused upload keeps the staged copy and says where; no credential ever lands in the store."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import cli
from spkrunbook.errors import RecordNotStored
from spkrunbook.record import RUN_FILE, remote
from tests.support import fleetlabs

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fleetlabs.variant_lab(tmp_path_factory.mktemp("labs"), "lab-s3", "ok", steps=["prerequisites"])


def _objects(s3: Any) -> dict[str, bytes]:
    fs = s3.filesystem()
    bucket_prefix = s3.url.removeprefix("s3://")
    return {p[len(bucket_prefix) + 1:]: fs.cat_file(p) for p in fs.find(bucket_prefix)}


def test_a_run_goes_to_the_store_and_leaves_no_staged_copy(s3: Any, lab: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", str(lab), "--records", s3.url]) == 0
    out = re.sub(r"\s*\n\s*", " ", capsys.readouterr().out)  # rich folds long lines
    assert re.search(r"uploaded: s3://\S+ \(\d+ objects, [\d,]+ bytes", out), out
    objects = _objects(s3)
    (name,) = {k.split("/")[0] for k in objects}
    run = json.loads(objects[f"{name}/{RUN_FILE}"])
    assert run["status"] == "passed" and run["lab"] == "lab-s3"
    assert f"{name}/index.html" in objects and f"{name}/steps/prerequisites.json" in objects
    assert not any(p.is_dir() for p in (tmp_path / "staging").rglob("2*-lab-s3"))  # the staged copy is gone
    # no credential in any object, nor in any key
    key, secret = s3.keys["admin"]
    for k, data in objects.items():
        assert secret.encode() not in data and key.encode() not in data, k
        assert secret not in k and key not in k


def test_run_json_is_uploaded_last(s3: Any, lab: Path, tmp_path: Path) -> None:
    """A reader polling the store while a record uploads: whenever run.json is there, every file is."""
    from spkrunbook import runbook

    record = runbook.run(lab, records_root=tmp_path / "local").record
    local = sorted(p.relative_to(record).as_posix() for p in record.rglob("*") if p.is_file())
    store = remote.open_store(s3.url)
    seen: list[tuple[bool, int]] = []
    done = threading.Event()

    def watch() -> None:
        fs = s3.filesystem()
        base = f"{s3.url.removeprefix('s3://')}/{record.name}"
        while not done.is_set():
            try:
                files = [f[len(base) + 1:] for f in fs.find(base)]
            except FileNotFoundError:
                files = []
            seen.append((RUN_FILE in files, len(files)))

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        result = remote.Uploader(store, record).sync()
    finally:
        done.set()
        reader.join()
    assert result.objects == len(local)
    assert seen and all(n == len(local) for has_run, n in seen if has_run), seen
    # deterministic too: an upload that stops half way never leaves run.json behind
    other = runbook.run(lab, records_root=tmp_path / "local").record
    real_put = store.put
    calls = {"n": 0}

    def put_then_fail(path: Path, name: str, relative: str) -> None:
        """Fault injected here: after 5 real PUTs the store 'fails'."""
        calls["n"] += 1
        if calls["n"] > 5:
            raise ConnectionResetError("injected: connection reset by the store")
        real_put(path, name, relative)

    store.put = put_then_fail  # type: ignore[method-assign,assignment]
    with pytest.raises(RecordNotStored) as exc:
        remote.Uploader(store, other).sync()
    assert str(other) in (exc.value.hint or "") and other.is_dir()
    assert store.read_json(other.name) is None and len(store.files(other.name)) == 5


def test_a_refused_upload_exits_75_and_keeps_the_staged_record(s3: Any, lab: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    for k, v in s3.env("reader").items():  # may list and read, not write: the store answers 403
        monkeypatch.setenv(k, v)
    assert cli.main(["run", str(lab), "--records", s3.url]) == 75
    err = re.sub(r"\n\s*", "", capsys.readouterr().err)  # rich folds long lines
    (kept,) = [p.parent for p in (tmp_path / "staging").rglob(RUN_FILE)]
    assert f"the record is kept at {kept};" in err
    assert (kept / RUN_FILE).is_file() and json.loads((kept / RUN_FILE).read_text())["status"] == "passed"
    assert s3.keys["reader"][1] not in err
    for k, v in s3.env("admin").items():
        monkeypatch.setenv(k, v)
    assert cli.main(["records", "upload", str(kept), "--records", s3.url]) == 0
    assert (remote.open_store(s3.url).read_json(kept.name) or {}).get("status") == "passed"


def test_a_store_that_does_not_answer_stops_the_run_before_it_starts(s3: Any, lab: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123456")
    assert cli.main(["run", str(lab), "--records", s3.url]) == 2
    err = capsys.readouterr().err
    assert "cannot list" in err and "wrong-secret-value-123456" not in err
    assert not (tmp_path / "staging").exists() or not any((tmp_path / "staging").rglob("run.json"))


def test_records_list_diff_share_and_index_read_the_store(s3: Any, lab: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.main(["run", str(lab), "--records", s3.url]) == 0
    assert cli.main(["run", str(lab), "--records", s3.url]) == 0
    capsys.readouterr()
    assert cli.main(["records", "--records", s3.url, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and {r["lab"] for r in rows} == {"lab-s3"} and {r["status"] for r in rows} == {"passed"}
    a, b = sorted(r["record"] for r in rows)
    assert cli.main(["records", "diff", a, b, "--records", s3.url, "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert all(c["what"] != "step" for c in changes)  # same lab, same cluster: no step changed
    monkeypatch.chdir(tmp_path)
    assert cli.main(["records", "share", f"{s3.url}/{b}", "--records", s3.url]) == 0
    assert (tmp_path / f"{b}-shared" / RUN_FILE).is_file()
    assert cli.main(["records", "index", s3.url]) == 0
    page = s3.filesystem().cat_file(f"{s3.url.removeprefix('s3://')}/labs.html").decode()
    assert f'href="{b}/index.html"' in page and f'href="{a}/index.html"' not in page
    assert "(2 runs)" in page  # two runs in one night: the cell is the last one


def test_store_urls_are_judged_before_anything_runs() -> None:
    assert remote.is_remote("s3://b/p") and not remote.is_remote("records") and not remote.is_remote("file:///x")
    assert remote.local_path("file:///srv/records") == Path("/srv/records")
    for bad in ("s3://", "s3:///"):
        with pytest.raises(Exception, match="names no bucket"):
            remote.open_store(bad)
    assert os.sep not in remote.staging_root("s3://bucket/a/b").name
