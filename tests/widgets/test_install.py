"""spkrunbook.widgets.install: the install form's logic, driven without a browser."""

from __future__ import annotations

import html
import json
from pathlib import Path

import ipywidgets as w
import pytest

from spkrunbook import notebook, params
from spkrunbook.widgets import common
from spkrunbook.widgets.install import InstallForm
from tests.support import FakeApiServer, labdata, paths
from tests.support.paths import DEMO_PARAMS

ROOT = paths.ROOT
DEMO = DEMO_PARAMS


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
    form.replicas.value = 2  # one self IP per VLAN for two replicas: params reject it before anything is rendered
    assert form.render() is None
    assert "add 1 more (one per replica, in order)" in form.status.value


def test_render_reports_a_self_ip_outside_the_node_subnet(form: InstallForm) -> None:
    form.internal_ips.value = "10.1.30.100"  # a rule only the target can check
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
    assert (form.step.record_dir / "spk-install" / "form" / "helm-command.sh").exists()


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
    assert out["ok"] and out["tmm"].findings.ok
    assert form.progress is not None and len(form.progress.history) > 1  # the TMM wait drew a common.ProgressBar
    assert form.progress.history[-1].endswith("TMM ready (done)") and form.progress.bar.bar_style == "success"


# -- the shared pieces: validation as typed, confirmation, secret field, save-as, progress -----------------


@pytest.fixture(autouse=True)
def not_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at the form: ConfirmGate refuses everything headless."""
    monkeypatch.delenv("SPKRUNBOOK_HEADLESS", raising=False)


def test_fields_are_checked_as_typed_with_the_headless_validation(form: InstallForm) -> None:
    ips = form.fields["vlans.internal.selfip_v4s"]
    assert isinstance(ips, common.ValidatedField) and ips.input is form.internal_ips
    form.internal_ips.value = "10.1.10.300"
    assert "not an IPv4 address" in ips.message.value and not ips.ok
    expected = params.field_problems(form.step.lab, "vlans.internal.selfip_v4s", ["10.1.10.300"])
    assert expected and html.escape(expected[0].message) in ips.message.value
    form.internal_ips.value = "10.1.10.100, 10.1.10.101"
    assert ips.ok and "extra ones are unused" in ips.message.value and ips.value == ["10.1.10.100", "10.1.10.101"]
    form.internal_ips.value = "10.1.10.100"
    assert ips.ok and ips.message.value == ""
    cpu = form.fields["tmm.cpu"]
    form.cpu.value = 0
    assert "greater than or equal to 1" in cpu.message.value
    form.cpu.value = 65
    assert "less than or equal to 64" in cpu.message.value
    form.cpu.value = 2
    assert cpu.ok and cpu.message.value == ""
    form.replicas.value = 0
    assert not form.fields["tmm.replicas"].ok
    assert form.render() is None  # render says the same: the form's lab does not parse


def test_install_is_behind_the_shared_confirm_gate(form: InstallForm) -> None:
    assert isinstance(form.gate, common.ConfirmGate) and form.confirm is form.gate.checkbox
    assert form.gate.widget in form.widget.children
    form.install_button.click()
    assert "Tick the box first" in form.gate.message.value


def _widgets(widget: w.Widget) -> list[w.Widget]:
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += _widgets(child)
    return out


def test_registry_password_never_enters_widget_state(form: InstallForm, tmp_path: Path) -> None:
    password = "registry-pass-DO-NOT-LEAK-9876"
    assert not any(type(x) is w.Password for x in _widgets(form.widget) if x is not form.password.input)
    form.registry.value, form.username.value = "registry.example.com", "spk"
    form.password.input.value = password  # what the browser sends on Enter
    assert form.password.input.value == "" and form.password.is_set
    assert password not in common.widget_state_text()
    lab = form.lab()
    creds = lab.install.image_credentials
    assert creds is not None and creds.password.get_secret_value() == password
    assert (creds.registry, creds.username) == ("registry.example.com", "spk")
    form.confirm.value = True
    out = form.install()
    assert out is not None, form.status.value
    for f in (form.step.record_dir / "spk-install").rglob("*"):
        if f.is_file():
            assert password not in f.read_text(errors="replace"), f
    # save as a new params file: the password is an ${ENV} reference, never written
    folder = tmp_path / "params"
    folder.mkdir()
    form.save.folder = folder
    form.save.name.value = "with-registry"
    saved = form.save.save()
    assert saved == folder / "with-registry.yaml"
    text = saved.read_text()
    assert password not in text and "${SPKRUNBOOK_REGISTRY_PASSWORD}" in text
    assert "SPKRUNBOOK_REGISTRY_PASSWORD" in form.save.message.value
    assert password not in common.widget_state_text()


def test_save_as_new_writes_the_edited_lab(form: InstallForm, tmp_path: Path) -> None:
    assert form.save.folder == DEMO.parent.resolve()
    folder = tmp_path / "params"
    folder.mkdir()
    form.save.folder = folder
    form.cpu.value = 2
    form.external_ips.value = "10.1.20.111"
    form.save.name.value = "bigger"
    path = form.save.save()
    assert path is not None
    saved = notebook.params.load(path)
    assert saved.tmm.cpu == 2 and saved.vlans.external.selfip_v4s == ["10.1.20.111"]
    form.internal_ips.value = "nope"
    form.save.name.value = "broken"
    assert form.save.save() is None and "not an IPv4 address" in form.save.message.value
    assert not (folder / "broken.yaml").exists()
