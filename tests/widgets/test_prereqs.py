"""PrereqsForm: the same params validation and checks as headless, driven without a browser."""

from __future__ import annotations

from spkrunbook import notebook
from spkrunbook.widgets.prereqs import PrereqsForm
from tests.support import labdata, paths
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

ROOT = paths.ROOT
DEMO = DEMO_PARAMS


def test_check_runs_the_prerequisites(tmp_path):
    form = PrereqsForm(notebook.start("prerequisites", str(DEMO), str(tmp_path)))
    assert form.file.value == str(DEMO.resolve())
    assert "demo.yaml" in [label for label, _ in form.file.options]
    assert form.context.disabled  # snapshot target: no kube context to pick
    form.check_button.click()
    assert form.findings is not None and form.findings.ok
    assert "passed, 1 warning" in form.message.value  # the verdict with its warning, never a bare PASSED


def test_bad_params_file_shows_its_problems(tmp_path):
    bad = tmp_path / "params" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text(DEMO.read_text().replace("./", f"{DEMO_DIR}/").replace("master: ens224", "master: 'ens 224'"))
    form = PrereqsForm(notebook.start("prerequisites", str(DEMO), str(tmp_path)))
    form.file.options = [*form.file.options, ("bad.yaml", str(bad))]
    form.file.value = str(bad)
    assert form.check() is None
    assert "is not a valid interface name" in form.message.value


def test_failing_lab_shows_failed_table(tmp_path):
    labdata.write_snapshot(labdata.lab_objects("no-hugepages"), tmp_path / "snap")
    p = tmp_path / "params" / "nohp.yaml"
    p.parent.mkdir()
    p.write_text(DEMO.read_text().replace("./snapshot", str(tmp_path / "snap")).replace("./", f"{DEMO_DIR}/"))
    form = PrereqsForm(notebook.start("prerequisites", str(p), str(tmp_path / "rec")))
    f = form.check()
    assert f is not None and not f.ok and "failed, 3 failed checks" in form.message.value
    assert {r.check for r in f.failed()} == {"hugepages"}
    # save the lab as a new params file for a headless run; never overwrite
    form.save.name.value = "copy"
    assert form.save.save() == p.parent / "copy.yaml"
    assert form.save.save() is None and "exists" in form.save.message.value
