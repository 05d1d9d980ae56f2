"""The shared form pieces without a browser: set widget values, click buttons, read messages and files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import ipywidgets as w
import pytest
from ruamel.yaml import YAML

from spkrunbook import kubeconfig, params
from spkrunbook.cluster import facts
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.errors import ParameterError, SpkRunbookError
from spkrunbook.widgets import common
from tests.support import labdata, paths
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

REPO = paths.ROOT
DEMO_SNAPSHOT = DEMO_DIR / "snapshot"


def snapshot(tmp_path: Path, variant: str = "ok") -> Path:
    root = tmp_path / f"snap-{variant}"
    labdata.write_snapshot(labdata.lab_objects(variant), root)
    return root


def lab_data(target: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "lab": "form",
        "target": target,
        "networks": {
            "internal": {"name": "macvlan-internal", "master": "ens224"},
            "external": {"name": "macvlan-external", "master": "ens256"},
        },
        **extra,
    }


@pytest.fixture
def snap_lab(tmp_path: Path) -> tuple[params.Lab, SnapshotTarget]:
    root = snapshot(tmp_path)
    return params.parse(lab_data({"kind": "snapshot", "snapshot": str(root)})), SnapshotTarget(root)


@pytest.fixture(autouse=True)
def not_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPKRUNBOOK_HEADLESS", raising=False)


# -- headless guard ----------------------------------------------------------------------------------


def test_show_displays_for_a_person(capsys):
    box = w.VBox([w.Text(value="x")])
    assert common.show(box, True) is box
    assert "VBox" in capsys.readouterr().out


def test_show_builds_a_form_class_only_when_shown(monkeypatch, capsys):
    built: list[Any] = []

    class Form:
        def __init__(self, step: Any, *, extra: int = 0) -> None:
            built.append((step, extra))
            self.widget = w.HBox()

    form = common.show(Form, True, "step", extra=1)
    assert isinstance(form, Form) and built == [("step", 1)]
    assert "HBox" in capsys.readouterr().out
    assert common.show(Form, False, "step") is None
    monkeypatch.setenv("SPKRUNBOOK_HEADLESS", "1")
    assert common.headless() and not common.interactive(True)
    assert common.show(Form, True, "step") is None
    assert built == [("step", 1)]  # headless: no form, no widgets, no widget state
    assert capsys.readouterr().out == ""


# -- params files --------------------------------------------------------------------------------------


def test_params_dropdown_lists_the_folder_and_selects_the_current_file(tmp_path):
    folder = tmp_path / "params"
    folder.mkdir()
    for name in ("b.yaml", "a.yaml", "notes.txt"):
        (folder / name).write_text("lab: x\n")
    dd = common.params_dropdown(folder / "b.yaml")
    assert [label for label, _ in dd.options] == ["a.yaml", "b.yaml"]
    assert dd.value == str((folder / "b.yaml").resolve())


def test_params_dropdown_finds_params_upwards_and_keeps_a_file_from_elsewhere(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "demo.yaml").write_text("lab: x\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    assert common.params_files(start=notebooks) == [str((tmp_path / "params" / "demo.yaml").resolve())]
    other = tmp_path / "elsewhere.yaml"
    other.write_text("lab: y\n")
    files = common.params_files(other, start=notebooks)
    assert files[0] == str(other.resolve())


def test_repo_params_dropdown_preselects_demo():
    dd = common.params_dropdown(DEMO_PARAMS)
    assert "demo.yaml" in [label for label, _ in dd.options]
    assert dd.label == "demo.yaml"


# -- choices -------------------------------------------------------------------------------------------


def test_kube_contexts_lists_every_context_and_the_active_one(tmp_path):
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab-b",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("lab-b", "lab-a")],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(cfg))
    assert facts.kube_contexts(path) == (["lab-a", "lab-b"], "lab-b")
    assert facts.kube_contexts(tmp_path / "missing") == ([], None)
    # the plain reader params uses for validation agrees with the client's
    assert kubeconfig.contexts(path) == (["lab-a", "lab-b"], "lab-b")


def test_choices_from_a_snapshot(snap_lab):
    lab, target = snap_lab
    ch = common.Choices.discover(lab, target)
    assert ch.nodes == ["worker-0", "worker-1", "worker-2"]
    assert {"ens224", "ens256"} <= set(ch.interfaces or []) and "lo" not in (ch.interfaces or [])
    assert ch.pods == [labdata.TMM_POD]
    assert ch.capture_interfaces == ["any", "eth0", "net1", "net2"]
    assert "default" in (ch.namespaces or [])
    assert ch.contexts == []  # a snapshot has no kube contexts


def test_interfaces_unknown_without_nmstate(tmp_path):
    root = snapshot(tmp_path, "no-nmstate")
    lab = params.parse(lab_data({"kind": "snapshot", "snapshot": str(root)}))
    ch = common.Choices.discover(lab, SnapshotTarget(root))
    assert ch.interfaces is None
    assert ch.nodes  # nodes are still known


def test_node_interfaces_are_those_on_every_tmm_node(tmp_path):
    root = snapshot(tmp_path, "missing-interface")
    lab = params.parse(lab_data({"kind": "snapshot", "snapshot": str(root)}))
    ok_root = snapshot(tmp_path, "ok")
    full = set(common.Choices.discover(lab, SnapshotTarget(ok_root)).interfaces or [])
    partial = set(common.Choices.discover(lab, SnapshotTarget(root)).interfaces or [])
    assert partial < full  # a NIC missing on one worker is not offered


def test_choices_from_a_live_target(api, kubeconfig):
    api.seed_from_snapshot(DEMO_SNAPSHOT)
    lab = params.parse(lab_data({"kind": "live", "kubeconfig": str(kubeconfig)}))
    ch = common.Choices.discover(lab, LiveTarget.from_params(lab.target))
    assert ch.contexts == ["fake-lab"] and ch.active_context == "fake-lab"
    assert ch.pods == [labdata.TMM_POD]
    assert "net1" in ch.capture_interfaces


# -- validation: the same as a headless run --------------------------------------------------------------


@pytest.mark.parametrize(
    "path, value",
    [
        ("networks.internal.master", "ens 224"),
        ("networks.internal.master", "a-very-long-interface-name"),
        ("networks.external.name", "Macvlan_External"),
        ("tmm.cpu", "500m"),
        ("networks.internal.mtu", 20),
    ],
)
def test_field_problems_match_a_params_file_with_that_value(tmp_path, snap_lab, path, value):
    lab, _ = snap_lab
    data = lab_data({"kind": "snapshot", "snapshot": str(lab.target.snapshot)})
    params._set_path(data, path, value)
    f = tmp_path / "lab.yaml"
    YAML().dump(data, f.open("w"))
    with pytest.raises(ParameterError) as headless_run:
        params.load(f)
    expected = [p for p in headless_run.value.problems if p.path == path]
    assert expected, "the headless run must reject this value"
    assert params.field_problems(lab, path, value) == expected


def test_field_problems_include_warnings_and_accept_good_values(snap_lab):
    lab, _ = snap_lab
    assert params.field_problems(lab, "networks.internal.master", "ens192") == []
    warns = params.field_problems(lab, "networks.external.master", "ens224")
    assert [p.severity for p in warns] == ["warning"] and "separate interfaces" in warns[0].message


def test_lab_field_shows_the_message_beside_the_field_as_the_person_types(snap_lab):
    lab, target = snap_lab
    seen: list[Any] = []
    ch = common.Choices.discover(lab, target)
    field = common.lab_field(lab, "networks.internal.master", description="master NIC", choices=ch.interfaces,
                             on_valid=seen.append)
    assert isinstance(field.input, w.Combobox) and field.input.value == "ens224"
    assert field.widget.children == (field.input, field.message)
    assert field.message.value == "" and field.ok
    field.input.value = "ens 224"
    assert "is not a valid interface name" in field.message.value and not field.ok
    field.input.value = "ens192"
    assert field.message.value == "" and field.ok
    assert seen == ["ens224", "ens192"]  # never the bad value
    assert lab.networks.internal.master == "ens224"  # the field does not touch the lab by itself


def test_interface_field_is_free_text_when_the_target_cannot_tell():
    field = common.interface_field("eth0", choices=None, description="capture on")
    assert isinstance(field.input, w.Text) and not isinstance(field.input, w.Combobox)
    field.input.value = "eth0:1"
    assert "not a valid interface name" in field.message.value


def test_conversion_errors_show_beside_the_field(snap_lab):
    lab, _ = snap_lab
    field = common.lab_field(lab, "networks.internal.mtu", widget=w.Text(value=""), convert=common.optional_int)
    assert field.ok
    field.input.value = "15OO"
    assert "not a whole number" in field.message.value and not field.ok
    field.input.value = "20"
    assert "outside 68..9216" in field.message.value
    field.input.value = "1500"
    assert field.ok and field.value == 1500


def test_lab_with_applies_dotted_changes_and_validates(snap_lab):
    lab, _ = snap_lab
    new = params.lab_with(lab, {"tmm.cpu": 2, "networks.internal.mode": "private"})
    assert (new.tmm.cpu, new.networks.internal.mode, lab.tmm.cpu) == (2, "private", 1)
    with pytest.raises(ParameterError):
        params.lab_with(lab, {"networks.internal.master": "ens 224"})


# -- secrets ---------------------------------------------------------------------------------------------


def test_secret_field_keeps_the_value_out_of_widget_state():
    got: list[Any] = []
    field = common.SecretField("registry password", on_set=got.append)
    field.input.value = "hunter2-Pa55word!"  # what the front end sends on Enter
    assert field.input.value == ""
    assert field.secret is not None and field.secret.get_secret_value() == "hunter2-Pa55word!"
    assert "hunter2" not in json.dumps(field.input.get_state(), default=str)
    assert "hunter2" not in common.widget_state_text()
    assert "hunter2" not in repr(field.secret) and "hunter2" not in field.message.value
    assert got and got[0] is field.secret
    field.clear()
    assert not field.is_set


# -- confirmation ------------------------------------------------------------------------------------------


def test_confirm_gate_refuses_until_ticked_and_unticks_after_one_run():
    calls: list[int] = []
    gate = common.ConfirmGate("apply the NADs to the cluster")
    button = w.Button(description="Apply")
    button.on_click(gate.guard(lambda: calls.append(1)))
    button.click()
    assert calls == [] and "Tick the box first" in gate.message.value
    gate.checkbox.value = True
    button.click()
    assert calls == [1] and gate.checkbox.value is False and gate.message.value == ""
    button.click()
    assert calls == [1]


def test_confirm_gate_never_allows_headless(monkeypatch):
    gate = common.ConfirmGate("install SPK")
    gate.checkbox.value = True
    monkeypatch.setenv("SPKRUNBOOK_HEADLESS", "1")
    assert gate.allow() is False and "headless" in gate.message.value


# -- save as a new params file -------------------------------------------------------------------------------


def test_save_new_params_round_trips_and_writes_secrets_as_env_refs(tmp_path, monkeypatch, snap_lab):
    lab, _ = snap_lab
    lab = params.lab_with(lab, {"install.image_credentials": {"registry": "r.example", "username": "u", "password": "s3cr3t-registry-pw"},
                                "networks.internal.master": "ens192"})
    path = common.save_new_params(lab, "lab-7", tmp_path)
    text = path.read_text()
    assert path.name == "lab-7.yaml"
    assert "s3cr3t-registry-pw" not in text and "${SPKRUNBOOK_REGISTRY_PASSWORD}" in text
    monkeypatch.setenv("SPKRUNBOOK_REGISTRY_PASSWORD", "s3cr3t-registry-pw")
    back = params.load(path)
    assert back.networks.internal.master == "ens192"
    assert back.install.image_credentials.password.get_secret_value() == "s3cr3t-registry-pw"
    assert back.target.snapshot == lab.target.snapshot
    assert common.secret_refs(lab) == ["SPKRUNBOOK_REGISTRY_PASSWORD"]


def test_save_new_params_never_overwrites(tmp_path, snap_lab):
    lab, _ = snap_lab
    existing = tmp_path / "demo.yaml"
    existing.write_text("# a person's file\n")
    with pytest.raises(SpkRunbookError, match="already exists"):
        common.save_new_params(lab, "demo", tmp_path)
    assert existing.read_text() == "# a person's file\n"
    with pytest.raises(SpkRunbookError, match="not a usable file name"):
        common.save_new_params(lab, "../escape", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.yaml", "snap-ok"]


def test_save_as_new_button_writes_and_selects_the_file(tmp_path, snap_lab):
    lab, _ = snap_lab
    folder = tmp_path / "params"
    folder.mkdir()
    first = folder / "demo.yaml"
    params.dump(lab, first)
    dd = common.params_dropdown(first)
    saver = common.SaveAsNew(lambda: lab, folder, dropdown=dd)
    saver.name.value = "lab-8"
    saver.button.click()
    assert saver.saved == folder / "lab-8.yaml" and "saved" in saver.message.value
    assert dd.label == "lab-8.yaml" and [label for label, _ in dd.options] == ["demo.yaml", "lab-8.yaml"]
    saver.button.click()  # same name again: refused, file unchanged
    assert "already exists" in saver.message.value


def test_save_as_new_shows_why_an_invalid_form_cannot_be_saved(tmp_path, snap_lab):
    lab, _ = snap_lab
    saver = common.SaveAsNew(lambda: params.lab_with(lab, {"tmm.cpu": "500m"}), tmp_path)
    saver.name.value = "broken"
    assert saver.save() is None
    assert "millicores" in saver.message.value and not (tmp_path / "broken.yaml").exists()


# -- progress -------------------------------------------------------------------------------------------------


def test_progress_prints_plain_lines_headless(monkeypatch, capsys):
    monkeypatch.setenv("SPKRUNBOOK_HEADLESS", "1")
    with common.ProgressBar("capture", total=2, notebook=False, every=0) as p:
        assert p.widget is None
        p.update(1, "worker-1")
        p.update(2, "worker-2")
    out = capsys.readouterr().out.splitlines()
    assert [line.split("] ", 1)[-1] for line in out] == ["0 / 2", "1 / 2 worker-1", "2 / 2 worker-2", "2 / 2 done (done)"]


def test_progress_is_a_bar_in_lab(capsys):
    p = common.ProgressBar("check", total=4, widget=True)
    p.update(1, "nodes")
    p.update(3, "interfaces")
    assert (p.bar.value, p.text.value) == (3, "interfaces")
    p.done("4 checks passed")
    assert p.bar.value == 4 and p.bar.bar_style == "success"
    assert capsys.readouterr().out == ""


# -- binder: the versions mybinder installs are the ones these tests ran with ---------------------------------


def test_binder_pins_the_widget_packages_the_tests_use():
    from importlib.metadata import version

    binder = REPO / "binder"
    pins = dict(line.split("==") for line in (binder / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    for pkg in ("ipywidgets", "jupyterlab_widgets", "widgetsnbextension", "jupyterlab"):
        assert pins.get(pkg) == version(pkg), f"binder pins {pkg}=={pins.get(pkg)}, tests ran with {version(pkg)}"
    assert pins["ipywidgets"].startswith("8.") and pins["jupyterlab_widgets"].startswith("3.")
    assert not (binder / "environment.yml").exists(), "with environment.yml repo2docker ignores requirements.txt"
    post = (binder / "postBuild").read_text()
    assert "pip install --no-cache-dir '.[lab]'" in post
    start = (binder / "start").read_text().rstrip().splitlines()
    assert start[-1] == 'exec "$@"'
    for script in ("postBuild", "start"):
        assert os.access(binder / script, os.X_OK)
        assert subprocess.run(["bash", "-n", str(binder / script)]).returncode == 0
    demo = params.load(DEMO_PARAMS)
    assert demo.target.kind == "snapshot" and demo.target.snapshot.is_dir()  # Binder has no cluster
