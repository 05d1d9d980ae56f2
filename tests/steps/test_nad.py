"""Unit tests for spkrunbook.steps.nad: build (seed golden test), validate, render, and plans on snapshots."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook import params
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.errors import ApplyRefused, ResourceMissing
from spkrunbook.results import Findings
from spkrunbook.steps import nad
from tests.support import labdata, paths
from tests.support.notebooks import WIDGET_VIEW, execute
from tests.support.paths import DEMO_PARAMS

DATA = paths.FIXTURES / "nad"


def lab_data(snapshot: Path | str = "snapshot", **networks: dict[str, Any]) -> dict[str, Any]:
    """Params with the seed's example values (macvlan-internal/ens224, macvlan-external/ens256)."""
    data: dict[str, Any] = {
        "lab": "nadtest",
        "target": {"kind": "snapshot", "snapshot": str(snapshot)},
        "networks": {
            "internal": {"name": "macvlan-internal", "namespace": "default", "master": "ens224", "mode": "bridge", "cni_version": "0.3.1"},
            "external": {"name": "macvlan-external", "namespace": "default", "master": "ens256", "mode": "bridge", "cni_version": "0.3.1"},
        },
    }
    for role, changes in networks.items():
        data["networks"][role].update(changes)
    return data


def make_lab(snapshot: Path | str = "snapshot", **networks: dict[str, Any]) -> params.Lab:
    return params.parse(lab_data(snapshot, **networks))


def snapshot(tmp_path: Path, variant: str = "ok", edit=None) -> SnapshotTarget:
    objs = labdata.lab_objects(variant)
    if edit is not None:
        objs = edit(objs)
    root = tmp_path / f"snap-{variant}"
    labdata.write_snapshot(objs, root)
    return SnapshotTarget(root)


def _edit_nad(name: str, fn):
    def edit(objs):
        out = []
        for o in objs:
            if o.get("kind") == "NetworkAttachmentDefinition" and o["metadata"]["name"] == name:
                o = copy.deepcopy(o)
                fn(o)
            out.append(o)
        return out

    return edit


def _drop_nad(name: str):
    def edit(objs):
        return [o for o in objs if not (o.get("kind") == "NetworkAttachmentDefinition" and o["metadata"]["name"] == name)]

    return edit


def _foreign(o):
    o["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "someone-else"}
    cfg = json.loads(o["spec"]["config"])
    cfg["mode"] = "vepa"
    o["spec"]["config"] = json.dumps(cfg)


def statuses(f: Findings, check: str | None = None) -> list[str]:
    return [r.status for r in f.rows if check is None or r.check == check]


# -- build -----------------------------------------------------------------------------


def test_build_matches_the_seed_example_semantically():
    seed = list(YAML(typ="safe").load_all((DATA / "seed-macvlan_example.yml").read_text()))
    guide = {"cni_version": "0.3.0"}  # the guide's example; the demo and our default use 0.3.1 (OpenShift's minimum)
    built = nad.build(make_lab(internal=guide, external=guide))
    assert len(built) == len(seed) == 2
    for mine, theirs in zip(built, seed):
        assert json.loads(mine["spec"]["config"]) == json.loads(theirs["spec"]["config"])
        # Our only additions: the namespace (the seed passes it as `oc apply -n default`) and our label.
        mine_md = dict(mine["metadata"])
        assert mine_md.pop("namespace") == "default"
        assert mine_md.pop("labels") == {"app.kubernetes.io/managed-by": "spkrunbook"}
        assert mine_md == theirs["metadata"]
        rest = {k: v for k, v in mine.items() if k not in ("metadata", "spec")}
        assert rest == {k: v for k, v in theirs.items() if k not in ("metadata", "spec")}
        assert set(mine["spec"]) == set(theirs["spec"]) == {"config"}


def test_config_is_a_json_string_in_the_seed_key_order_without_name():
    cfg = nad.build(make_lab())[0]["spec"]["config"]
    assert isinstance(cfg, str)
    assert list(json.loads(cfg)) == ["cniVersion", "type", "master", "mode", "ipam"]
    assert "name" not in json.loads(cfg)


def test_mtu_is_in_the_config_only_when_set():
    lab = make_lab(internal={"mtu": 1400})
    internal, external = (json.loads(o["spec"]["config"]) for o in nad.build(lab))
    assert internal["mtu"] == 1400
    assert "mtu" not in external


def test_build_follows_the_interface_order():
    data = lab_data()
    data["networks"]["order"] = ["external", "internal"]
    lab = params.parse(data)
    assert [o["metadata"]["name"] for o in nad.build(lab)] == ["macvlan-external", "macvlan-internal"]
    assert lab.cni_networks == "default/macvlan-external,default/macvlan-internal"


# -- validate --------------------------------------------------------------------------


def test_validate_demo_values_against_the_snapshot(tmp_path):
    t = snapshot(tmp_path)
    f = nad.validate(make_lab(), t)
    assert f.ok
    assert statuses(f, "cniVersion") == ["pass", "pass"]
    old = nad.validate(make_lab(internal={"cni_version": "0.3.0"}), t)  # as F5's guide writes it
    assert old.ok and statuses(old, "cniVersion") == ["warn", "pass"]
    masters = [r for r in f.rows if r.check == "master on TMM nodes"]
    assert [(r.subject, r.status) for r in masters] == [("internal", "pass"), ("external", "pass")]
    assert "worker-0, worker-1, worker-2" in masters[0].evidence
    assert "master-0" not in masters[0].evidence
    assert f.to_frame().shape[0] == len(f.rows)
    assert "<table" in f._repr_html_()


def test_validate_fails_when_a_master_is_missing_on_one_tmm_node(tmp_path):
    t = snapshot(tmp_path, "missing-interface")
    f = nad.validate(make_lab(), t)
    assert not f.ok
    row = next(r for r in f.rows if r.check == "master on TMM nodes" and r.status == "fail")
    assert row.subject == "external"
    assert "worker-2" in row.evidence and "ens256" in row.evidence and "ens224" in row.evidence
    assert "networks.external.master" in row.action


def test_validate_warns_with_the_command_when_interfaces_are_unknown(tmp_path):
    t = snapshot(tmp_path, "no-nmstate")
    f = nad.validate(make_lab(), t)
    assert f.ok
    rows = [r for r in f.rows if r.check == "master on TMM nodes"]
    assert [r.status for r in rows] == ["warn", "warn"]
    assert "oc debug node/worker-1 -- ip -br link" in rows[0].action


def test_validate_without_a_target_warns():
    f = nad.validate(make_lab())
    rows = [r for r in f.rows if r.check == "master on TMM nodes"]
    assert [r.status for r in rows] == ["warn", "warn"]
    assert "ip -br link" in rows[0].action


def test_validate_warns_when_no_node_matches_the_selector(tmp_path):
    data = lab_data()
    data["tmm"] = {"node_selector": {"spk": "tmm"}}
    f = nad.validate(params.parse(data), snapshot(tmp_path))
    assert [r.status for r in f.rows if r.check == "master on TMM nodes"] == ["warn", "warn"]


def test_validate_checks_mtu_against_the_master(tmp_path):
    f = nad.validate(make_lab(internal={"mtu": 9000}), snapshot(tmp_path))
    row = next(r for r in f.rows if r.check == "master on TMM nodes" and r.subject == "internal")
    assert row.status == "fail" and "MTU 9000 exceeds" in row.evidence


def test_validate_reports_a_shared_name_set_after_loading():
    lab = make_lab()
    lab.networks.external.name = "macvlan-internal"  # a form can do this; the model only checks fields
    lab.networks.external.master = "ens224"
    f = nad.validate(lab)
    assert {(r.check, r.status) for r in f.rows if r.subject == "both"} == {
        ("distinct NAD names", "fail"),
        ("separate masters", "warn"),
    }


def test_node_interface_choices_are_common_to_all_tmm_nodes(tmp_path):
    nodes = nad.tmm_interfaces(make_lab(), snapshot(tmp_path, "missing-interface"))
    assert nodes.nodes == ["worker-0", "worker-1", "worker-2"]
    assert "ens224" in nodes.choices() and "ens256" not in nodes.choices() and "lo" not in nodes.choices()
    assert nad.tmm_interfaces(make_lab(), snapshot(tmp_path, "no-nmstate")).choices() is None


# -- render ----------------------------------------------------------------------------


def test_render_yaml_round_trips_and_gives_the_oc_commands():
    lab = make_lab()
    r = nad.render(lab)
    assert list(YAML(typ="safe").load_all(r.yaml)) == nad.build(lab)
    assert r.yaml.startswith("---\n") and r.yaml.count("\n---\n") == 1
    assert list(r.files_by_name) == ["nads.yaml"]
    assert r.apply_commands == ["oc apply -n default -f nads.yaml"]
    assert "oc get -n default network-attachment-definitions" in r.commands
    assert "```yaml" in r.markdown() and "oc apply -n default -f nads.yaml" in r._repr_markdown_()
    # spec.config stays on one line, as `oc get -o yaml` shows it
    assert "  config: '{\"cniVersion\": \"0.3.1\", \"type\": \"macvlan\", \"master\": \"ens224\"" in r.yaml


def test_render_splits_files_per_namespace():
    r = nad.render(make_lab(external={"namespace": "spk-ext"}))
    assert list(r.files_by_name) == ["nads-default.yaml", "nads-spk-ext.yaml"]
    assert r.apply_commands == ["oc apply -n default -f nads-default.yaml", "oc apply -n spk-ext -f nads-spk-ext.yaml"]


def test_render_files_are_the_yaml_and_the_commands():
    files = nad.render(make_lab()).files()
    assert list(files) == ["nads.yaml", "apply.sh"]
    assert "oc apply -n default -f nads.yaml" in files["apply.sh"]


def test_step_save_puts_a_result_under_its_folder(tmp_path):
    from spkrunbook import notebook
    from spkrunbook.secrets import Scrubber

    lab = make_lab()
    step = notebook.Step("network-attachments", lab, snapshot(tmp_path), tmp_path / "rec", Scrubber())
    written = step.save(nad.render(lab))
    assert [p.relative_to(tmp_path / "rec").as_posix() for p in written] == [
        "network-attachments/nads.yaml", "network-attachments/apply.sh"]
    assert [a["path"] for a in step.artifacts] == ["network-attachments/nads.yaml", "network-attachments/apply.sh"]


def test_run_is_the_procedure_and_its_result_has_every_part(tmp_path):
    result = nad.run(make_lab(), snapshot(tmp_path))
    assert result.ok and result.applied.planned
    assert [t.title for t in (p.findings for p in result.parts) if len(t)] == [
        "NetworkAttachmentDefinition parameters", "NetworkAttachmentDefinitions plan",
        "NetworkAttachmentDefinitions on the cluster", "NetworkAttachmentDefinitions removal plan"]
    assert {"nads.yaml", "apply.sh", "apply.json", "verify.json"} <= set(result.files())
    assert result.cni_networks == "default/macvlan-internal,default/macvlan-external"


# -- apply as a plan (read-only snapshot) -----------------------------------------------


def test_plan_on_demo_snapshot_is_unchanged(tmp_path):
    res = nad.apply(make_lab(), snapshot(tmp_path))
    assert res.planned
    assert [c.action for c in res.changes] == ["unchanged", "unchanged"]
    assert not any(c.applied for c in res.changes)
    assert res.ok and not res.partial
    assert res.findings.title.endswith("plan")
    frame = res.to_frame()
    assert list(frame.columns) == ["name", "namespace", "role", "action", "result", "reason", "diff"]


def test_plan_create_update_and_refuse_per_nad(tmp_path):
    t = snapshot(tmp_path, edit=lambda objs: _edit_nad("macvlan-external", _foreign)(_drop_nad("macvlan-internal")(objs)))
    res = nad.apply(make_lab(), t)
    internal, external = res.changes
    assert internal.action == "create" and internal.outcome(True) == "would create"
    assert external.action == "refused"
    assert isinstance(external.error, ApplyRefused)
    assert "-    mode: vepa\n" in external.diff and "+    mode: bridge\n" in external.diff
    assert "-    app.kubernetes.io/managed-by: someone-else\n" in external.diff
    assert "+    app.kubernetes.io/managed-by: spkrunbook\n" in external.diff
    assert not res.ok
    assert [r.status for r in res.findings.rows] == ["pass", "fail"]
    assert "nad.force" in res.findings.rows[1].action
    forced = nad.apply(make_lab(), t, force=True)
    assert forced.change("macvlan-external").action == "update"
    assert "force" in forced.change("macvlan-external").reason
    assert forced.ok


def test_plan_updates_our_own_drifted_nad_with_a_diff(tmp_path):
    def drift(o):
        cfg = json.loads(o["spec"]["config"])
        cfg["master"] = "ens192"
        o["spec"]["config"] = json.dumps(cfg)

    res = nad.apply(make_lab(), snapshot(tmp_path, edit=_edit_nad("macvlan-internal", drift)))
    change = res.change("macvlan-internal")
    assert change.action == "update"
    assert change.diff.startswith("--- cluster: default/macvlan-internal\n+++ params: default/macvlan-internal\n")
    assert "-    master: ens192\n" in change.diff and "+    master: ens224\n" in change.diff
    assert res.diffs == {"default/macvlan-internal": change.diff}
    assert "diff for default/macvlan-internal" in res._repr_html_()


def test_equal_config_by_someone_else_is_left_alone(tmp_path):
    def unlabel(o):
        o["metadata"].pop("labels", None)

    res = nad.apply(make_lab(), snapshot(tmp_path, edit=_edit_nad("macvlan-internal", unlabel)))
    change = res.change("macvlan-internal")
    assert change.action == "unchanged" and "not managed by spkrunbook" in change.reason


def test_semantic_comparison_ignores_json_formatting(tmp_path):
    def reformat(o):
        o["spec"]["config"] = '{ "ipam": {}, "mode": "bridge",\n  "master": "ens224", "type": "macvlan", "cniVersion": "0.3.1" }'

    res = nad.apply(make_lab(), snapshot(tmp_path, edit=_edit_nad("macvlan-internal", reformat)))
    assert res.change("macvlan-internal").action == "unchanged"


def test_missing_nad_crd_is_a_clear_error(tmp_path):
    with pytest.raises(ResourceMissing, match=r"network-attachment-definitions\.k8s\.cni\.cncf\.io") as exc:
        nad.apply(make_lab(), snapshot(tmp_path, "no-nad-crd"))
    assert "Multus" in str(exc.value)


def test_failed_checks_skip_the_apply(tmp_path):
    checks = Findings("x")
    checks.add("something", "fail")
    res = nad.apply(make_lab(), snapshot(tmp_path), checks=checks)
    assert [c.action for c in res.changes] == ["skipped", "skipped"]
    assert statuses(res.findings) == ["skip", "skip"]


# -- verify and teardown on a snapshot --------------------------------------------------


def test_verify_reads_back_like_oc_get(tmp_path):
    now = datetime(2023, 1, 11, 6, 0, 11, tzinfo=timezone.utc)
    v = nad.verify(make_lab(), snapshot(tmp_path), now=now)
    frame = v.to_frame()
    assert list(frame.columns) == ["NAME", "NAMESPACE", "MASTER", "MODE", "AGE", "MANAGED"]
    assert frame.to_dict("records")[0] == {
        "NAME": "macvlan-internal", "NAMESPACE": "default", "MASTER": "ens224", "MODE": "bridge", "AGE": "90s", "MANAGED": "spkrunbook",
    }
    assert v.cni_networks == "default/macvlan-internal,default/macvlan-external"
    assert v.interfaces == {"1.1": "default/macvlan-internal", "1.2": "default/macvlan-external"}
    assert v.findings.ok and statuses(v.findings) == ["pass"] * 4
    assert "tmm.cniNetworks" in v._repr_html_()


def test_verify_on_a_snapshot_warns_about_absent_or_different_nads(tmp_path):
    t = snapshot(tmp_path, edit=lambda objs: _edit_nad("macvlan-external", _foreign)(_drop_nad("macvlan-internal")(objs)))
    v = nad.verify(make_lab(), t)
    assert v.findings.ok
    assert statuses(v.findings) == ["warn", "pass", "warn"]
    assert "mode: 'vepa' -> 'bridge'" in v.findings.rows[2].evidence
    assert v.to_frame()["AGE"].tolist()[0] == "(absent)"


def test_teardown_plan_deletes_only_ours(tmp_path):
    t = snapshot(tmp_path, edit=_edit_nad("macvlan-external", _foreign))
    res = nad.teardown(make_lab(), t)
    assert res.planned
    assert [(c.name, c.action, c.applied) for c in res.changes] == [
        ("macvlan-internal", "delete", False),
        ("macvlan-external", "kept", False),
    ]
    assert [r.evidence.split(":")[0] for r in res.findings.rows] == ["would delete", "kept"]
    assert statuses(res.findings) == ["pass", "warn"]


def test_teardown_not_requested_is_a_skip(tmp_path):
    res = nad.teardown(make_lab(), snapshot(tmp_path), when=False)
    assert res.changes == [] and statuses(res.findings) == ["skip"]


@pytest.mark.parametrize(
    "seconds,text",
    [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (9 * 3600, "9h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d"), (800 * 86400, "2y70d")],
)
def test_age_like_oc(seconds, text):
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    ts = (now - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert nad.age(ts, now) == text
    assert nad.age(None) == "<unknown>"


# -- the notebook, executed for real (papermill + python3 kernel) on the demo snapshot ----


@pytest.mark.slow
def test_notebook_plans_on_the_demo_snapshot(tmp_path):
    run = execute("network-attachments", DEMO_PARAMS, tmp_path)
    summary, record = run.summary, run.record
    assert summary["status"] == "passed"
    assert summary["target"]["kind"] == "snapshot"
    assert summary["data"]["result"]["cni_networks"] == "default/macvlan-internal,default/macvlan-external"
    assert summary["data"]["result"]["tmm_interfaces"] == {"1.1": "default/macvlan-internal", "1.2": "default/macvlan-external"}
    titles = [f["title"] for f in summary["findings"]]
    assert titles == [
        "NetworkAttachmentDefinition parameters",
        "NetworkAttachmentDefinitions plan",
        "NetworkAttachmentDefinitions on the cluster",
        "NetworkAttachmentDefinitions removal plan",
    ]
    applied = json.loads((record / "network-attachments" / "apply.json").read_text())
    assert applied["planned"] and [c["action"] for c in applied["changes"]] == ["unchanged", "unchanged"]
    lab = params.load(DEMO_PARAMS)
    assert (record / "network-attachments" / "nads.yaml").read_text() == nad.render(lab).files()["nads.yaml"]
    assert "oc apply -n default -f nads.yaml" in (record / "network-attachments" / "apply.sh").read_text()
    outs = run.outputs()
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outs)  # interactive=False: no form
    assert not run.errors()
    assert "cniNetworks: &quot;default/macvlan-internal,default/macvlan-external&quot;" in run.text()


@pytest.mark.slow
def test_notebook_shows_the_form_when_interactive(tmp_path):
    run = execute("network-attachments", DEMO_PARAMS, tmp_path, interactive=True)
    assert run.summary["status"] == "passed"
    assert any(WIDGET_VIEW in o.get("data", {}) for o in run.outputs())


def test_a_master_that_is_a_bridge_port_fails_before_any_write(tmp_path):
    f = nad.validate(make_lab(), snapshot(tmp_path, "bridge-port"))
    assert not f.ok
    (row,) = [r for r in f.rows if r.status == "fail"]
    assert (row.check, row.subject) == ("master-bridge-port", "internal")
    assert "a port of bridge br-lab" in row.evidence and "worker-0" in row.evidence
    assert "use the bridge itself (e.g. br-ex) or a free NIC" in row.action
    assert row.reference.startswith("https://")
    assert statuses(f, "master on TMM nodes") == ["pass"], "the external master is fine"


def test_passthru_says_one_attachment_per_master_per_node(tmp_path):
    f = nad.validate(make_lab(internal={"mode": "passthru"}), snapshot(tmp_path))
    assert f.ok
    (row,) = [r for r in f.rows if r.check == "passthru"]
    assert row.status == "warn" and row.subject == "internal"
    assert "one attachment per node" in row.evidence and "ens224" in row.evidence
    with pytest.raises(params.ParameterError) as err:  # refused when the params load, before any step
        make_lab(internal={"mode": "passthru"}, external={"master": "ens224"})
    assert [p.path for p in err.value.problems] == ["networks.external.master"]
    assert "passthru" in err.value.problems[0].message
