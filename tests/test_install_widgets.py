"""spkrunbook.widgets.install: the install form's logic, driven without a browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spkrunbook import notebook
from spkrunbook.testing import FakeApiServer, labdata
from spkrunbook.widgets.install import InstallForm

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "params" / "demo.yaml"


@pytest.fixture
def form(tmp_path: Path) -> InstallForm:
    return InstallForm(notebook.start("spk-install", str(DEMO), str(tmp_path / "rec")))


def test_fields_start_from_the_lab(form: InstallForm) -> None:
    assert (form.cpu.value, form.replicas.value) == (1, 1)
    assert form.internal_ips.value == "10.1.10.100" and form.external_ips.value == "10.1.20.100"
    assert form.values_file.value.endswith("demo/values/ingress-values.yaml")
    assert form.confirm.value is False


def test_render_shows_the_changes_and_writes_nothing(form: InstallForm) -> None:
    form.cpu.value = 2
    out = form.render()
    assert out is not None and out["checks"].ok
    res = next(c for c in out["values"].changes if c.path == "tmm.resources.limits.hugepages-2Mi")
    assert res.new == "3Gi"
    assert "helm upgrade --install f5ingress" in out["command"]
    assert "ready to install" in form.status.value
    assert not (form.step.record_dir / "spk-install").exists()


def test_render_reports_bad_self_ips(form: InstallForm) -> None:
    form.replicas.value = 2
    out = form.render()
    assert out is not None and not out["checks"].ok
    assert "fix the failed checks" in form.status.value


def test_render_reports_invalid_params(form: InstallForm) -> None:
    form.internal_ips.value = "10.1.10.300"
    assert form.render() is None
    assert "not an IPv4 address" in form.status.value


def test_install_requires_the_confirmation(form: InstallForm) -> None:
    form.install_button.click()
    assert form.last == {"refused": True}
    assert "Tick the confirmation box" in form.status.value
    assert not (form.step.record_dir / "spk-install").exists()


def test_install_on_the_snapshot_plans_and_unticks(form: InstallForm) -> None:
    form.confirm.value = True
    out = form.install()
    assert out is not None and out["ok"], form.status.value
    assert out["vlans"].result.planned and not out["helm"].ran
    assert form.confirm.value is False
    assert (form.step.record_dir / "spk-install" / "helm-command.sh").exists()


def test_install_on_live_applies_the_form_values(api: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    api.add_many(o for o in labdata.lab_objects() if o["kind"] != "F5SPKVlan")
    data = json.loads(json.dumps(notebook.params.load(DEMO).model_dump(mode="json")))
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig)}
    data["install"]["wait_timeout"] = 5
    pfile = tmp_path / "lab.json"
    pfile.write_text(json.dumps(data))
    form = InstallForm(notebook.start("spk-install", str(pfile), str(tmp_path / "rec")))
    form.external_ips.value = "10.1.20.111"
    form.confirm.value = True
    out = form.install()
    assert out is not None, form.status.value
    assert api.get_object("f5-spk-vlans", "external", "default")["spec"]["selfip_v4s"] == ["10.1.20.111"]
    assert out["ok"] and out["tmm"].ok
