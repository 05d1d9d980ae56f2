"""The NAD form without a browser: set widget values, click buttons, check the Lab and the output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest

from spkrunbook import notebook, params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.secrets import Scrubber
from spkrunbook.steps import nad
from spkrunbook.widgets import common
from spkrunbook.widgets.nad import NadForm
from tests.support import labdata


def make_lab(target: dict[str, Any], **extra: Any) -> params.Lab:
    data: dict[str, Any] = {
        "lab": "form",
        "target": target,
        "networks": {
            "internal": {"name": "macvlan-internal", "master": "ens224", "cni_version": "0.3.0"},
            "external": {"name": "macvlan-external", "master": "ens256", "cni_version": "0.3.0"},
        },
        **extra,
    }
    return params.parse(data)


@pytest.fixture(autouse=True)
def not_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at the form: ConfirmGate refuses everything headless."""
    monkeypatch.delenv("SPKRUNBOOK_HEADLESS", raising=False)


@pytest.fixture
def snap(tmp_path: Path) -> SnapshotTarget:
    return SnapshotTarget(_write(tmp_path, "ok"))


def _write(tmp_path: Path, variant: str) -> Path:
    root = tmp_path / f"snap-{variant}"
    labdata.write_snapshot(labdata.lab_objects(variant), root)
    return root


@pytest.fixture
def form(snap: SnapshotTarget, tmp_path: Path) -> NadForm:
    lab = make_lab({"kind": "snapshot", "snapshot": str(snap.root)})
    return NadForm(notebook.Step("network-attachments", lab, snap, tmp_path / "record", Scrubber()))


def test_master_dropdown_lists_the_tmm_nodes_nics(form):
    master = form.fields["internal"]["master"]
    assert isinstance(master, w.Combobox)  # common.choice_widget: pick a discovered NIC or type one
    assert list(master.options) == ["br-ex", "ens192", "ens224", "ens256", "ovn-k8s-mp0"]
    assert master.options == tuple(common.Choices.discover(form.lab, form.target).interfaces)
    assert master.value == "ens224"
    assert "dropdown" in form.hint.value


def test_typed_master_outside_the_list_is_still_validated(form):
    master = form.fields["internal"]["master"]
    master.value = "ens 224"
    assert "&#x27;ens 224&#x27; is not a valid interface name" in form.messages["internal"]["master"].value
    assert form.lab.networks.internal.master == "ens224"  # invalid: the lab keeps the old value
    master.value = "bond0"  # not on the nodes but a valid name: taken (render's node check reports it)
    assert form.messages["internal"]["master"].value == ""
    assert form.lab.networks.internal.master == "bond0"


def test_namespace_offers_the_targets_namespaces(form):
    ns = form.fields["internal"]["namespace"]
    assert isinstance(ns, w.Combobox) and "default" in ns.options
    assert list(ns.options) == common.Choices.discover(form.lab, form.target).namespaces
    ns.value = "Bad_NS"
    assert "DNS-1123" in form.messages["internal"]["namespace"].value
    assert form.lab.networks.internal.namespace == "default"


def test_master_is_free_text_when_the_target_does_not_know(tmp_path):
    root = _write(tmp_path, "no-nmstate")
    lab = make_lab({"kind": "snapshot", "snapshot": str(root)})
    f = NadForm(lab=lab, target=SnapshotTarget(root))
    assert isinstance(f.fields["internal"]["master"], w.Text)
    assert not isinstance(f.fields["internal"]["master"], w.Combobox)
    assert "type the name" in f.hint.value
    f.fields["internal"]["master"].value = "ens 224"
    assert "not a valid interface name" in f.messages["internal"]["master"].value


def test_valid_edits_go_into_the_lab_model(form):
    form.fields["external"]["master"].value = "ens192"
    form.fields["internal"]["mode"].value = "private"
    form.fields["internal"]["mtu"].value = "1400"
    form.fields["internal"]["cni_version"].value = "0.4.0"
    form.fields["external"]["cni_version"].value = "0.3.1"
    net = form.lab.networks
    assert (net.external.master, net.internal.mode, net.internal.mtu, net.internal.cni_version) == ("ens192", "private", 1400, "0.4.0")
    assert form.messages["internal"]["cni_version"].value == ""
    assert "all fields valid" in form.status.value
    form.fields["internal"]["mtu"].value = ""
    assert net.internal.mtu is None


def test_invalid_input_shows_the_same_message_as_validate_and_leaves_the_model(form):
    form.fields["internal"]["name"].value = "Bad_Name"
    msg = form.messages["internal"]["name"].value
    expected = params.field_problems(form.lab, "networks.internal.name", "Bad_Name")[0].message
    assert "DNS-1123" in msg and expected.split(" (")[0].replace("'", "&#x27;") in msg
    assert form.lab.networks.internal.name == "macvlan-internal"
    form.fields["external"]["mtu"].value = "70000"
    assert "outside 68..9216" in form.messages["external"]["mtu"].value
    assert form.lab.networks.external.mtu is None
    assert "2 error(s)" in form.status.value


def test_old_cni_version_is_a_warning_beside_the_field(form):
    assert "0.3.1" in form.messages["internal"]["cni_version"].value
    assert "#9a6700" in form.messages["internal"]["cni_version"].value


def test_shared_name_and_master_are_flagged_on_the_external_fields(form):
    form.fields["external"]["name"].value = "macvlan-internal"
    form.fields["external"]["master"].value = "ens224"
    assert "must differ" in form.messages["external"]["name"].value
    assert "separate interfaces" in form.messages["external"]["master"].value
    form.render_button.click()
    assert "Fix these first" in form.output.value


def test_render_shows_yaml_and_command_and_saves_them(form, tmp_path):
    form.fields["internal"]["mode"].value = "vepa"
    form.render_button.click()
    out = form.output.value
    assert "kind: NetworkAttachmentDefinition" in out
    assert "&quot;mode&quot;: &quot;vepa&quot;" in out or "vepa" in out
    assert "oc apply -n default -f nads.yaml" in out
    assert "master on TMM nodes" in out  # the validate table, with the node check
    saved = tmp_path / "record" / "network-attachments" / "form" / "nads.yaml"
    assert "vepa" in saved.read_text()


def test_apply_on_a_snapshot_shows_the_plan_with_the_diff(form):
    form.fields["internal"]["master"].value = "ens192"
    form.apply_button.click()
    out = form.output.value
    assert "Plan (read-only target" in out
    assert "would update" in out and "-    master: ens224" in out
    assert form.confirm is form.gate.checkbox and form.confirm.value is False  # a plan needs no confirmation


def test_teardown_on_a_snapshot_shows_the_plan(form):
    form.teardown_button.click()
    assert "Teardown plan" in form.output.value


def test_save_as_new_params_file_keeps_the_edits(snap, tmp_path):
    lab = make_lab({"kind": "snapshot", "snapshot": str(snap.root)})
    folder = tmp_path / "params"
    folder.mkdir()
    step = notebook.Step("network-attachments", lab, snap, tmp_path / "record", Scrubber())
    step.params_file = str(folder / "lab.yaml")
    form = NadForm(step)
    assert form.save.folder == folder
    form.fields["internal"]["mode"].value = "private"
    form.save.name.value = "lab-7"
    assert form.save.save() == folder / "lab-7.yaml"
    assert params.load(folder / "lab-7.yaml").networks.internal.mode == "private"
    assert form.save.save() is None and "already exists" in form.save.message.value


def test_verify_shows_the_table_and_cni_networks(form):
    form.verify_button.click()
    assert "macvlan-internal" in form.output.value
    assert "default/macvlan-internal,default/macvlan-external" in form.output.value


@pytest.fixture
def live(api, kubeconfig) -> Iterator[tuple[NadForm, Any]]:
    for obj in labdata.lab_objects():
        if obj.get("kind") != "NetworkAttachmentDefinition":
            api.add(obj)
    lab = make_lab({"kind": "live", "kubeconfig": str(kubeconfig)})
    target = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    yield NadForm(lab=lab, target=target), api
    target.close()


def test_apply_needs_the_confirmation_box(live):
    form, api = live
    form.apply_button.click()
    assert "Tick the confirmation box" in form.output.value
    assert not [r for r in api.requests if r.method != "GET"]
    form.confirm.value = True
    form.apply_button.click()
    assert "created" in form.output.value
    assert api.get_object(nad.NAD, "macvlan-internal", "default") is not None
    assert form.confirm.value is False  # each apply needs a fresh confirmation
    assert isinstance(form.gate, common.ConfirmGate) and form.gate.widget in form.widget.children
    # teardown is destructive too: refused until ticked, then deletes the managed NADs
    form.teardown_button.click()
    assert "Tick the confirmation box" in form.output.value
    assert api.get_object(nad.NAD, "macvlan-internal", "default") is not None
    form.confirm.value = True
    form.teardown_button.click()
    assert "deleted" in form.output.value
    assert api.get_object(nad.NAD, "macvlan-internal", "default") is None
    assert form.confirm.value is False


def test_force_checkbox_is_bound_to_the_lab_and_used_by_apply(live):
    form, api = live
    api.add({
        "apiVersion": nad.API_VERSION, "kind": nad.KIND,
        "metadata": {"name": "macvlan-external", "namespace": "default"},
        "spec": {"config": json.dumps({"cniVersion": "0.3.1", "type": "macvlan", "master": "ens256", "mode": "vepa"})},
    })
    form.confirm.value = True
    form.apply_button.click()
    assert "refused" in form.output.value
    form.force.value = True
    assert form.lab.nad.force is True
    form.confirm.value = True
    form.apply_button.click()
    assert "updated" in form.output.value
    stored = api.get_object(nad.NAD, "macvlan-external", "default")
    assert json.loads(stored["spec"]["config"])["mode"] == "bridge"


def test_cluster_errors_are_shown_not_raised(api, kubeconfig):
    for obj in labdata.lab_objects("no-nad-crd"):
        api.add(obj)
    lab = make_lab({"kind": "live", "kubeconfig": str(kubeconfig)})
    with LiveTarget.from_kubeconfig(kubeconfig, retries=0) as target:
        form = NadForm(lab=lab, target=target)
        form.verify_button.click()
        assert "Multus" in form.output.value


def _all_widgets(widget: w.Widget) -> Iterator[w.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all_widgets(child)


def test_no_secret_in_widget_state(api, kubeconfig):
    FAKE_TOKEN = api.token  # the bearer token the stand-in server requires

    for obj in labdata.lab_objects():
        api.add(obj)
    lab = make_lab({"kind": "live", "server": api.url, "token": FAKE_TOKEN})
    with LiveTarget.from_kubeconfig(kubeconfig, retries=0) as target:
        form = NadForm(lab=lab, target=target)
        form.render_button.click()
        form.verify_button.click()
        for widget in _all_widgets(form.widget):
            assert FAKE_TOKEN not in json.dumps(widget.get_state(), default=str)
