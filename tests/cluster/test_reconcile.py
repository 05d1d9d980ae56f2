"""spkrunbook.cluster.reconcile: the shared idempotent apply and the hooks a kind uses to differ (``Rules``)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from spkrunbook.cluster import reconcile as applier
from spkrunbook.cluster.base import NAD_CRD, resource
from spkrunbook.errors import Conflict, ResourceMissing
from spkrunbook.steps import nad as nad_step

NAD = "network-attachment-definitions"


class MemoryTarget:
    """Objects in a dict; ``conflicts`` 409s the next writes; ``crds`` is what CRD listing shows."""

    def __init__(self, objs: list[dict[str, Any]] = (), *, can_write: bool = True, crds: list[str] = (), conflicts: int = 0):
        self.objs = {(o["metadata"].get("namespace"), o["metadata"]["name"]): copy.deepcopy(o) for o in objs}
        self.can_write, self.kind = can_write, "live" if can_write else "snapshot"
        self.crds, self.conflicts = list(crds), conflicts
        self.writes: list[tuple[str, str]] = []

    def get(self, res, name, namespace=None):
        try:
            return copy.deepcopy(self.objs[(namespace, name)])
        except KeyError:
            raise ResourceMissing(f"{name} not found", status=404) from None

    def list(self, res, namespace=None, **_: Any):
        if resource(res).plural == "customresourcedefinitions":
            return [{"metadata": {"name": c}} for c in self.crds]
        return list(self.objs.values())

    def exists(self, res, name, namespace=None):
        return name in self.crds if resource(res).plural == "customresourcedefinitions" else (namespace, name) in self.objs

    def _write(self, verb: str, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("the object has been modified", status=409)
        self.writes.append((verb, obj["metadata"]["name"]))
        self.objs[(namespace, obj["metadata"]["name"])] = copy.deepcopy(obj)
        return obj

    def create(self, res, obj, namespace=None):
        return self._write("create", obj, namespace)

    def replace(self, res, obj, namespace=None):
        return self._write("replace", obj, namespace)


def nad(name: str, config: dict[str, Any] | str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    raw = config if isinstance(config, str) else json.dumps(config)
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"config": raw, **spec},
    }


OURS = {applier.MANAGED_BY: applier.MANAGER}
CFG = {"cniVersion": "0.3.1", "type": "macvlan", "master": "ens224", "mode": "bridge"}


def parsed(obj: dict[str, Any]) -> Any:
    return json.loads(obj["spec"]["config"])


# The NAD step's rules (parsed-JSON comparison, config merge, sorted diff, its words and columns), with short hints.
RULES = replace(nad_step.RULES, force_hint="set nad.force: true", failed_hint="try again")


def test_same_hook_compares_parsed_json_not_the_string() -> None:
    reordered = json.dumps(dict(reversed(list(CFG.items()))), indent=2)
    t = MemoryTarget([nad("a", reordered, OURS)])
    desired = [("internal", nad("a", CFG, OURS))]
    assert applier.apply(t, NAD, desired, rules=RULES).change("a").action == "unchanged"
    assert applier.apply(t, NAD, desired).change("a").action == "update"  # the default compares spec as it is


def test_merge_and_diff_hooks_shape_the_update() -> None:
    t = MemoryTarget([nad("a", {**CFG, "master": "ens192"}, OURS, extra="kept")])
    res = applier.apply(t, NAD, [("internal", nad("a", CFG, OURS))], rules=RULES)
    c = res.change("a")
    assert (c.action, c.applied, c.role) == ("update", True, "internal")
    assert c.diff.startswith("--- cluster: default/a\n+++ params: default/a\n")
    assert "-    master: ens192\n" in c.diff and "+    master: ens224\n" in c.diff
    stored = t.objs[("default", "a")]
    assert stored["spec"]["extra"] == "kept" and parsed(stored) == CFG  # merged, not replaced
    assert res.diffs == {"default/a": c.diff}


def test_foreign_object_is_refused_with_the_kinds_hint_and_forced_with_its_flag() -> None:
    foreign = nad("a", {**CFG, "mode": "vepa"}, {applier.MANAGED_BY: "someone-else"})
    t = MemoryTarget([foreign])
    res = applier.apply(t, NAD, [("external", nad("a", CFG, OURS))], rules=RULES)
    c = res.change("a")
    assert c.action == "refused" and c.error is not None and c.error.hint == "set nad.force: true"
    assert res.findings.rows[0].action.endswith("set nad.force: true") and t.writes == []
    forced = applier.apply(t, NAD, [("external", nad("a", CFG, OURS))], force=True, rules=RULES).change("a")
    assert forced.action == "update" and forced.reason.startswith("nad.force: overwriting an object managed by 'someone-else'")
    assert applier.is_managed(t.objs[("default", "a")])


def test_force_hint_shortcut_keeps_the_default_rules() -> None:
    t = MemoryTarget([nad("a", {**CFG, "mode": "vepa"})])
    res = applier.apply(t, NAD, [("x", nad("a", CFG))], force_hint="rename it")
    assert res.rules.force_hint == res.force_hint == "rename it" and res.rules.same is applier.same_spec
    assert res.findings.rows[0].action == "this object is not managed by spkrunbook: rename it"


def test_presentation_title_noun_and_columns() -> None:
    t = MemoryTarget([nad("b", {**CFG, "mode": "vepa"})])
    res = applier.apply(t, NAD, [("internal", nad("a", CFG)), ("external", nad("b", CFG))], rules=RULES)
    assert [c.action for c in res.changes] == ["create", "refused"] and res.partial
    assert res.findings.title == "NetworkAttachmentDefinitions applied"
    assert list(res.to_frame().columns) == ["name", "namespace", "role", "action", "result", "reason", "diff"]
    page = res._repr_html_()
    assert ">NAD</th>" in page and "some NADs were written" in page and "diff for default/b" in page
    d = res.to_dict()
    assert (d["planned"], d["target"], d["partial"]) == (False, "live", True)
    assert d["changes"][0] == {"name": "a", "namespace": "default", "role": "internal", "action": "create", "result": "created",
                               "applied": True, "reason": "absent from the cluster", "diff": ""}
    plain = applier.apply(MemoryTarget(), NAD, [("internal", nad("c", CFG))])
    assert list(plain.to_frame().columns) == list(applier.COLUMNS) and plain.findings.title == "NetworkAttachmentDefinition applied"


def test_read_only_target_gives_a_plan_and_skipped_keeps_the_rules() -> None:
    t = MemoryTarget([], can_write=False)
    res = applier.apply(t, NAD, [("internal", nad("a", CFG))], rules=RULES)
    assert res.planned and res.change("a").outcome(True) == "would create" and not res.change("a").applied
    assert "Plan (read-only target: nothing written)" in res._repr_html_() and res.findings.title.endswith("plan")
    sk = applier.skipped(NAD, [("internal", nad("a", CFG))], "checks failed", planned=True, rules=RULES, target="snapshot")
    assert [c.action for c in sk.changes] == ["skipped"] and sk.to_dict()["target"] == "snapshot"
    assert "diff" in sk.to_frame().columns and sk.findings.title == "NetworkAttachmentDefinitions plan"


def test_409_is_re_read_and_retried_once_then_failed() -> None:
    t = MemoryTarget(conflicts=1)
    c = applier.apply(t, NAD, [("internal", nad("a", CFG))], rules=RULES).change("a")
    assert c.applied and "409" in c.reason
    t = MemoryTarget(conflicts=2)
    res = applier.apply(t, NAD, [("internal", nad("a", CFG))], rules=RULES)
    assert res.change("a").action == "failed" and "409 conflict twice" in res.change("a").reason
    assert res.findings.rows[0].action == "try again"


def test_crd_installed_and_require_crd() -> None:
    assert applier.crd_installed(MemoryTarget(crds=[NAD_CRD]), NAD_CRD, NAD) is True
    assert applier.crd_installed(MemoryTarget(), NAD_CRD, NAD) is False
    # A snapshot: its objects prove the CRD; only a snapshot that collected CRDs proves absence.
    assert applier.crd_installed(MemoryTarget([nad("a", CFG)], can_write=False), NAD_CRD, NAD) is True
    assert applier.crd_installed(MemoryTarget(can_write=False, crds=["other.example.com"]), NAD_CRD, NAD) is False
    assert applier.crd_installed(MemoryTarget(can_write=False), NAD_CRD, NAD) is None
    applier.require_crd(MemoryTarget(can_write=False), NAD_CRD, NAD)  # cannot say: no error
    with pytest.raises(ResourceMissing) as exc:
        applier.require_crd(MemoryTarget(), NAD_CRD, NAD, why="Multus is not running", hint="check multus")
    assert exc.value.message.endswith(f"{NAD_CRD}: Multus is not running") and exc.value.hint == "check multus"


def test_read_returns_none_when_absent() -> None:
    t = MemoryTarget([nad("a", CFG)])
    assert applier.read(t, NAD, "a", "default")["metadata"]["name"] == "a"
    assert applier.read(t, NAD, "b", "default") is None
