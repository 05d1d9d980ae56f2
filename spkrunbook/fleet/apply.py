"""``fleet apply``: the rendered objects applied with the NADs' rules, through the one cluster boundary.

Each object goes through ``cluster.reconcile`` (create when absent, unchanged when
equal, update when ours and different, refused when someone else's unless
``force``), with comparison rules for kinds the server fills in: an object is
unchanged when every field we render is there with our value, whatever the server
added (a Job's selector and template labels, a container's defaults). A Job's
template cannot change once created: its update is refused by the server and the
hint says to delete the finished Job, or to give the fleet a schedule.

The Kubernetes version the failure policy is rendered for is read from the cluster
(``GET /version``), not taken from the fleet file.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Any

from ..cluster import reconcile
from ..cluster.base import Obj, Resource, Target, can_write
from ..errors import ResourceMissing, SpkRunbookError
from .model import FleetPlan
from .render import render

KINDS: dict[tuple[str, str], Resource] = {
    ("v1", "ConfigMap"): Resource("", "v1", "configmaps", True, "ConfigMap"),
    ("v1", "ServiceAccount"): Resource("", "v1", "serviceaccounts", True, "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): Resource("rbac.authorization.k8s.io", "v1", "clusterroles", False, "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False,
                                                                     "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"): Resource("rbac.authorization.k8s.io", "v1", "roles", True, "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Resource("rbac.authorization.k8s.io", "v1", "rolebindings", True, "RoleBinding"),
    ("batch/v1", "Job"): Resource("batch", "v1", "jobs", True, "Job"),
    ("batch/v1", "CronJob"): Resource("batch", "v1", "cronjobs", True, "CronJob"),
}
_TOP = ("apiVersion", "kind", "metadata", "status")


def subset(desired: Any, existing: Any) -> bool:
    """Every field of ``desired`` is in ``existing`` with the same value (the server may add more)."""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(subset(v, existing.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(existing, list) and len(desired) == len(existing) and all(
            subset(d, e) for d, e in zip(desired, existing))
    return bool(desired == existing)


def _content(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in _TOP}


def same(existing: Obj, desired: Obj) -> bool:
    return subset(_content(desired), existing) and subset(
        (desired.get("metadata") or {}).get("labels") or {}, (existing.get("metadata") or {}).get("labels") or {})


def merge(existing: Obj, desired: Obj) -> Obj:
    """The body of an update: the cluster's object with our fields (and labels) put in."""
    body = copy.deepcopy(existing)
    body.pop("status", None)
    for k, v in _content(desired).items():
        body[k] = copy.deepcopy(v)
    md = body.setdefault("metadata", {})
    md["labels"] = {**(md.get("labels") or {}), **((desired.get("metadata") or {}).get("labels") or {})}
    return body


def _view(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    shown = {"metadata": {"name": md.get("name"), "namespace": md.get("namespace"),
                          "labels": dict(sorted((md.get("labels") or {}).items()))}, **_content(obj)}
    return reconcile.to_yaml([reconcile.sort_keys(shown)])[4:]


def _diff(existing: Obj, desired: Obj) -> str:
    return reconcile.diff(_trim(existing, desired), desired, view=_view)


def _trim(existing: Any, desired: Any) -> Any:
    """The cluster's object cut to the fields we render, so a diff shows our changes and not server defaults."""
    if isinstance(desired, dict) and isinstance(existing, dict):
        return {k: _trim(existing[k], desired[k]) for k in desired if k in existing}
    if isinstance(desired, list) and isinstance(existing, list) and len(desired) == len(existing):
        return [_trim(e, d) for e, d in zip(existing, desired)]
    return existing


RULES = reconcile.Rules(same=same, merge=merge, diff=_diff, force_flag="--force",
                        force_hint="apply with --force to take it over, or rename the fleet", title="fleet",
                        noun="object", record_name="fleet-apply")
JOB_RULES = replace(RULES, failed_hint="a Job's template cannot change once it exists: delete the Job "
                                       "(`oc delete job NAME -n NAMESPACE`) and apply again, or give the fleet a schedule")


def cluster_minor(target: Target) -> int | None:
    """The cluster's Kubernetes minor version from ``GET /version`` (None when it does not say)."""
    version = getattr(target, "version", None)
    if version is None:
        return None
    info = version()
    m = re.match(r"^(\d+)", str(info.get("minor", "")))
    return int(m.group(1)) if m else None


def apply(plan: FleetPlan, target: Target, *, force: bool = False, prune: bool = False) -> list[reconcile.ApplyResult]:
    """Apply every rendered object, kind by kind in render order; one ``ApplyResult`` per kind. Objects this
    fleet made before that it no longer renders (a lab taken out of the fleet file) are listed as ``kept``
    with the flag that deletes them, and deleted with ``prune`` (``oc apply --prune``'s meaning)."""
    minor = cluster_minor(target)
    if minor is not None and minor != plan.fleet.minor:
        plan = FleetPlan(plan.fleet.model_copy(update={"kubernetes_version": f"1.{minor}"}), plan.labs, plan.source)
    ns = plan.fleet.namespace
    try:
        target.get("namespaces", ns)
    except ResourceMissing:
        raise ResourceMissing(f"the namespace {ns} does not exist", status=404, reason="NotFound",
                              hint=f"create it first (`oc create namespace {ns}`); the fleet does not own it") from None
    groups: dict[tuple[str, str], list[tuple[str, Obj]]] = {}
    for obj in render(plan):
        key = (obj["apiVersion"], obj["kind"])
        role = str(((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/component", ""))
        groups.setdefault(key, []).append((role, obj))
    out: dict[tuple[str, str], reconcile.ApplyResult] = {}
    for key, objs in groups.items():
        rules = JOB_RULES if key[1] in ("Job", "CronJob") else RULES
        result = reconcile.apply(target, KINDS[key], objs, force=force, rules=rules)
        for c in result.changes:
            if key[1] == "Job" and c.action == "failed" and c.error is not None and "immutable" in c.error.message:
                c.error.hint = JOB_RULES.failed_hint  # the server's schema hint does not say what to do here
        out[key] = result
    rendered = {(key, str(obj["metadata"]["name"])) for key, objs in groups.items() for _, obj in objs}
    for key, res in KINDS.items():
        left = _left_behind(plan, target, key, res, rendered, prune=prune)
        if left:
            out.setdefault(key, reconcile.ApplyResult(res.kind, [], planned=False, rules=RULES)).changes.extend(left)
    return list(out.values())


def _left_behind(plan: FleetPlan, target: Target, key: tuple[str, str], res: Resource,
                 rendered: set[tuple[tuple[str, str], str]], *, prune: bool) -> list[reconcile.Change]:
    """This fleet's objects of one kind (by its instance and managed-by labels) that it no longer renders."""
    selector = f"app.kubernetes.io/instance={plan.fleet.fleet},{reconcile.MANAGED_BY}={reconcile.MANAGER}"
    ns = plan.fleet.namespace if res.namespaced else None
    try:
        found = target.list(res, ns, label_selector=selector)
    except ResourceMissing:  # the kind is not served (an old cluster without CronJobs): nothing of ours there
        return []
    changes = []
    for obj in found:
        md = obj.get("metadata") or {}
        name = str(md.get("name", ""))
        # a Job its CronJob started carries the fleet's labels too, but belongs to the CronJob
        if (key, name) in rendered or md.get("deletionTimestamp") or md.get("ownerReferences"):
            continue
        change = reconcile.Change(res.kind, name, ns or "", "kept", "no longer in the fleet file; "
                                  "`fleet apply --prune` deletes it")
        if prune and can_write(target):
            try:
                target.delete(res, name, ns)
                change = reconcile.Change(res.kind, name, ns or "", "delete", "no longer in the fleet file (--prune)",
                                          applied=True)
            except SpkRunbookError as exc:
                change = reconcile.Change(res.kind, name, ns or "", "failed", f"could not delete it: {exc.message}",
                                          error=exc)
        changes.append(change)
    return changes
