"""What ``fleet plan`` renders: an Indexed Job whose failure policy follows the exit codes, secrets only as
references, the least RBAC; per-lab Jobs for clusters older than the per-index fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook import cli, fleet
from spkrunbook.fleet import render
from tests.support import fleetlabs

SECRET = "sEcReT-value-never-rendered-4711"


def _fleet(tmp_path: Path, *, live: bool = False, steps: list[str] | None = None, **fields: Any) -> fleet.FleetPlan:
    labs = tmp_path / "labs"
    entries: list[dict[str, Any]] = []
    for i, variant in enumerate(("ok", "no-hugepages", "openshift-sdn")):
        fleetlabs.variant_lab(labs, f"lab-{i}", variant)
        entries.append({"params": f"labs/lab-{i}.yaml"})
    if live:
        p = fleetlabs.variant_lab(labs, "live", "ok", steps=steps)
        text = p.read_text()
        start = text.index("target:")
        end = text.index("networks:")
        p.write_text(text[:start] + "target:\n  kind: live\n  in_cluster: true\n  token: ${LIVE_TOKEN}\n" + text[end:])
        entries.append({"params": "labs/live.yaml", "secrets": {"LIVE_TOKEN": {"secret": "live-lab", "key": "token"}}})
    return fleet.load(fleetlabs.fleet_file(tmp_path, entries, **fields))


def _by_kind(objs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for o in objs:
        out.setdefault(o["kind"], []).append(o)
    return out


def test_indexed_job_one_index_per_lab_and_the_exit_code_policy(tmp_path: Path) -> None:
    plan = _fleet(tmp_path, parallelism=2, retries=3)
    objs = _by_kind(render.render(plan))
    (job,) = objs["Job"]
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 2)
    assert spec["backoffLimitPerIndex"] == 3 and spec["maxFailedIndexes"] == 3
    rules = spec["podFailurePolicy"]["rules"]
    assert {"action": "FailIndex", "onExitCodes": {"containerName": "runbook", "operator": "In", "values": [1, 2]}} in rules
    assert any(r["action"] == "Count" and set(r["onExitCodes"]["values"]) == {130, 143, 75} for r in rules)
    assert any(r["action"] == "Ignore" and r["onPodConditions"][0]["type"] == "DisruptionTarget" for r in rules)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy requires it
    assert pod["automountServiceAccountToken"] is False  # no lab talks to this cluster: no token in the pod
    index = json.loads(objs["ConfigMap"][0]["data"]["fleet.json"])
    assert [lab["lab"] for lab in index["labs"]] == ["lab-0", "lab-1", "lab-2"]
    assert "ClusterRole" not in objs and "Role" not in objs  # labs with their own credentials need no RBAC here


def test_a_cronjob_when_scheduled(tmp_path: Path) -> None:
    objs = _by_kind(render.render(_fleet(tmp_path, schedule="0 2 * * *", time_zone="Europe/Berlin")))
    (cron,) = objs["CronJob"]
    assert cron["spec"]["schedule"] == "0 2 * * *" and cron["spec"]["timeZone"] == "Europe/Berlin"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"  # tonight's run never overlaps yesterday's
    assert cron["spec"]["jobTemplate"]["spec"]["completionMode"] == "Indexed"


def test_secrets_only_as_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVE_TOKEN", SECRET)  # even when the operator's shell has it, it is never rendered
    plan = _fleet(tmp_path, live=True, notify={"secret": "chat", "key": "webhook"},
                  s3={"endpoint": "https://s3.example.com", "credentials": {"secret": "store-keys"}})
    text = json.dumps(render.render(plan))
    assert SECRET not in text
    pod = render.pod_template(plan)["spec"]["containers"][0]
    env = {e["name"]: e for e in pod["env"]}
    assert env["LIVE_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "live-lab", "key": "token"}}
    assert env["SPKRUNBOOK_NOTIFY_URL"]["valueFrom"] == {"secretKeyRef": {"name": "chat", "key": "webhook"}}
    assert pod["envFrom"] == [{"secretRef": {"name": "store-keys"}}]
    live_params = next(o for o in render.render(plan) if o["metadata"]["name"] == "spk-labs-lab-live")
    assert "${LIVE_TOKEN}" in live_params["data"]["params.yaml"]


def test_rbac_read_only_for_prerequisites_and_debugging(tmp_path: Path) -> None:
    plan = _fleet(tmp_path, live=True, steps=["prerequisites", "debugging"])
    objs = _by_kind(render.render(plan))
    (role,) = objs["ClusterRole"]
    assert {v for r in role["rules"] for v in r["verbs"]} == {"get", "list", "watch"}
    (ns_role,) = objs["Role"]
    writes = {(res, v) for r in ns_role["rules"] for res in r["resources"] for v in r["verbs"]
              if v not in ("get", "list", "watch")}
    assert writes == {("pods/exec", "create")}  # the debug sidecar; nothing else is written
    assert render.pod_template(plan)["spec"]["automountServiceAccountToken"] is True
    assert "RoleBinding" in objs and all(b["roleRef"]["name"] != "admin" for b in objs["RoleBinding"])


def test_rbac_for_the_nads_writes_only_in_their_namespace(tmp_path: Path) -> None:
    objs = _by_kind(render.render(_fleet(tmp_path, live=True, steps=["prerequisites", "network-attachments"])))
    (ns_role,) = objs["Role"]
    assert ns_role["metadata"]["namespace"] == "default"
    assert any("network-attachment-definitions" in r["resources"] and "create" in r["verbs"] for r in ns_role["rules"])


@pytest.mark.parametrize(("version", "jobs", "policy"), [("1.28", 3, "FailJob"), ("1.25", 3, None)])
def test_older_clusters_get_one_job_per_lab(tmp_path: Path, version: str, jobs: int, policy: str | None) -> None:
    plan = _fleet(tmp_path, kubernetes_version=version)
    objs = _by_kind(render.render(plan))
    assert len(objs["Job"]) == jobs
    for i, job in enumerate(objs["Job"]):
        assert "completionMode" not in job["spec"]
        assert job["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == ["--index", str(i)]
        got = job["spec"].get("podFailurePolicy")
        assert (got["rules"][0]["action"] if got else None) == policy


def test_cli_plan_writes_yaml_that_reads_back(tmp_path: Path) -> None:
    plan = _fleet(tmp_path)
    out = tmp_path / "fleet-objects.yaml"
    assert cli.main(["fleet", "plan", str(plan.source), "--out", str(out)]) == 0
    docs = [d for d in YAML(typ="safe").load_all(out.read_text()) if d]
    assert [d["kind"] for d in docs] == ["ConfigMap"] * 4 + ["ServiceAccount", "Job"]
