"""``fleet apply`` against the real kube-apiserver: the server stores and validates every rendered object
(the Indexed Job's podFailurePolicy, the CronJob, RBAC), and the NADs' reconcile rules hold."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook import cli, fleet
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.reconcile import to_yaml
from spkrunbook.fleet import apply, render
from tests.support import fleetlabs

pytestmark = pytest.mark.apiserver


def _plan(tmp_path: Path, **fields: Any) -> fleet.FleetPlan:
    labs = tmp_path / "labs"
    entries: list[dict[str, Any]] = []
    for i, variant in enumerate(("ok", "no-hugepages")):
        fleetlabs.variant_lab(labs, f"lab-{i}", variant)
        entries.append({"params": f"labs/lab-{i}.yaml"})
    p = fleetlabs.variant_lab(labs, "live", "ok", steps=["prerequisites", "debugging"])
    text = p.read_text()
    p.write_text(text[:text.index("target:")] + "target:\n  kind: live\n  in_cluster: true\n" + text[text.index("networks:"):])
    entries.append({"params": "labs/live.yaml"})
    return fleet.load(fleetlabs.fleet_file(tmp_path, entries, namespace="spk-runbooks", **fields))


def _actions(results: list[Any]) -> dict[str, str]:
    return {f"{r.kind}/{c.ref}": c.action for r in results for c in r.changes}


def test_apply_then_unchanged_then_update(cluster: Any, tmp_path: Path) -> None:
    admin: LiveTarget = LiveTarget.from_kubeconfig(cluster.kubeconfig())
    plan = _plan(tmp_path, schedule="30 1 * * *")
    first = _actions(apply.apply(plan, admin))
    assert set(first.values()) == {"create"}, first
    assert first["CronJob/spk-runbooks/spk-labs"] == "create"
    # stored as rendered, defaults added by the server; a second apply writes nothing
    again = _actions(apply.apply(plan, admin))
    assert set(again.values()) == {"unchanged"}, again
    stored = admin.get(apply.KINDS[("batch/v1", "CronJob")], "spk-labs", "spk-runbooks")
    job = stored["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == 3 and job["backoffLimitPerIndex"] == 2
    assert job["podFailurePolicy"]["rules"][0]["action"] == "FailIndex"
    # one lab's steps change: its params and the fleet's index (which lists the steps) are updated, nothing else
    fleetlabs.variant_lab(tmp_path / "labs", "lab-1", "ok", steps=["prerequisites"])
    changed = apply.apply(fleet.load(plan.source), admin)
    acts = _actions(changed)
    updated = {k for k, a in acts.items() if a == "update"}
    assert updated == {"ConfigMap/spk-runbooks/spk-labs-lab-lab-1", "ConfigMap/spk-runbooks/spk-labs-fleet"}
    assert {a for k, a in acts.items() if k not in updated} == {"unchanged"}
    diff = next(c.diff for r in changed for c in r.changes if c.name == "spk-labs-lab-lab-1")
    assert "steps" in diff and "prerequisites" in diff
    admin.close()


def test_an_indexed_job_is_stored_and_its_template_cannot_change(cluster: Any, tmp_path: Path) -> None:
    admin = LiveTarget.from_kubeconfig(cluster.kubeconfig())
    plan = _plan(tmp_path)
    assert _actions(apply.apply(plan, admin))["Job/spk-runbooks/spk-labs"] == "create"
    moved = fleet.FleetPlan(plan.fleet.model_copy(update={"image": "localhost/spkrunbook:other"}), plan.labs, plan.source)
    res = next(r for r in apply.apply(moved, admin) if r.kind == "Job")
    (change,) = res.changes
    assert change.action == "failed" and "immutable" in change.reason
    assert "delete the Job" in res.findings.rows[0].action
    admin.close()


def test_someone_elses_object_is_refused_unless_forced(cluster: Any, tmp_path: Path) -> None:
    admin = LiveTarget.from_kubeconfig(cluster.kubeconfig())
    plan = _plan(tmp_path)
    cluster.admin.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "spk-labs-fleet", "namespace": "spk-runbooks"},
                                        "data": {"fleet.json": "{}"}}, "spk-runbooks")
    acts = _actions(apply.apply(plan, admin))
    assert acts["ConfigMap/spk-runbooks/spk-labs-fleet"] == "refused"
    assert _actions(apply.apply(plan, admin, force=True))["ConfigMap/spk-runbooks/spk-labs-fleet"] == "update"
    admin.close()


@pytest.mark.parametrize("version", ["1.28", "1.25"])
def test_the_fallback_for_older_clusters_is_valid_too(cluster: Any, tmp_path: Path, version: str) -> None:
    """The per-lab Jobs are rendered for an older cluster; this 1.34 server still judges their schema."""
    plan = _plan(tmp_path, kubernetes_version=version)
    out = tmp_path / "objects.yaml"
    out.write_text(to_yaml(render.render(plan)))
    done = cluster.kubectl("apply", "--dry-run=server", "-f", str(out), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("job.batch/spk-labs-") == 3


def test_cli_apply_and_kubectl_reads_the_same(cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan(tmp_path)
    kc = cluster.kubeconfig()
    assert cli.main(["fleet", "apply", str(plan.source), "--kubeconfig", str(kc)]) == 0
    assert "created" in capsys.readouterr().out
    got = subprocess.run(["kubectl", "--kubeconfig", str(kc), "-n", "spk-runbooks", "get", "job", "spk-labs",
                          "-o", "jsonpath={.spec.completions}"], capture_output=True, text=True, timeout=60)
    assert got.stdout == "3"
    assert cli.main(["fleet", "apply", str(plan.source), "--kubeconfig", str(kc)]) == 0
    assert "created" not in capsys.readouterr().out


def test_a_lab_taken_out_is_kept_and_said_then_pruned(cluster: Any, tmp_path: Path) -> None:
    """A lab removed from the fleet file leaves its ConfigMap: apply lists it as kept with the flag that deletes it;
    --prune deletes it and nothing else (another fleet's objects in the namespace are not ours to prune)."""
    admin: LiveTarget = LiveTarget.from_kubeconfig(cluster.kubeconfig())
    plan = _plan(tmp_path, schedule="15 2 * * *")
    (tmp_path / "other").mkdir()
    other = fleet.load(fleetlabs.fleet_file(tmp_path / "other", [{"params": "../labs/lab-0.yaml"}], fleet="other-labs",
                                            namespace="spk-runbooks", schedule="15 3 * * *"))
    assert set(_actions(apply.apply(plan, admin)).values()) == {"create"}
    assert set(_actions(apply.apply(other, admin)).values()) == {"create"}
    # lab-1 is taken out of the fleet file
    data = YAML().load(plan.source.read_text())
    data["labs"] = [e for e in data["labs"] if e["params"] != "labs/lab-1.yaml"]
    with open(plan.source, "w") as fh:
        YAML().dump(data, fh)
    smaller = fleet.load(plan.source)
    kept = {k: a for k, a in _actions(apply.apply(smaller, admin)).items() if a not in ("unchanged", "update")}
    assert kept == {"ConfigMap/spk-runbooks/spk-labs-lab-lab-1": "kept"}, kept
    cm = apply.KINDS[("v1", "ConfigMap")]
    assert admin.exists(cm, "spk-labs-lab-lab-1", "spk-runbooks"), "nothing is deleted without --prune"
    pruned = {k: a for k, a in _actions(apply.apply(smaller, admin, prune=True)).items() if a != "unchanged"}
    assert pruned == {"ConfigMap/spk-runbooks/spk-labs-lab-lab-1": "delete"}, pruned
    assert not admin.exists(cm, "spk-labs-lab-lab-1", "spk-runbooks")
    assert admin.exists(cm, "other-labs-lab-lab-0", "spk-runbooks"), "another fleet's objects are left alone"
    assert set(_actions(apply.apply(smaller, admin, prune=True)).values()) == {"unchanged"}
    admin.close()
