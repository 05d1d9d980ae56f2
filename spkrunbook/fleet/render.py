"""A fleet as the Kubernetes objects a platform team applies (``oc apply -f``) or keeps in Git.

One ConfigMap of params per lab (the params text and the small files it names),
one ConfigMap with the fleet's index (``fleet.json``: index -> lab), a ServiceAccount
(its token mounted only when a lab runs against the cluster it is in), the least
RBAC those labs' steps need (``fleet.rbac``), and the run itself:

- Kubernetes 1.33 and later (``backoffLimitPerIndex`` GA; beta and on since 1.29): an
  **Indexed Job** (or a CronJob of one), one index per lab, ``parallelism`` at a time,
  and a ``podFailurePolicy`` that maps the runbook's exit codes: 1 (a check failed:
  the record is the verdict) and 2 (bad input) fail that index without a retry; 130,
  143 (interrupted, terminated) and 75 (the store did not take the record) count
  towards ``retries``; a pod the cluster disrupted (drain, preemption) is retried
  without counting;
- 1.26 to 1.28: one Job (or CronJob) per lab, each with ``podFailurePolicy``
  ``FailJob`` for 1 and 2 (the per-index form does not exist yet);
- older: one Job per lab without a policy; the pod itself keeps the rule: a retried
  pod whose lab already has a verdict in this Job's run exits with that verdict and
  runs nothing (``fleet.runner``).

Secrets appear only as references (``secretKeyRef``, ``envFrom``, projected Secret
items); nothing rendered holds a value.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..cluster.reconcile import MANAGED_BY, MANAGER
from . import rbac
from .model import LAB_DIR, FleetPlan, LabPlan, seconds

Obj = dict[str, Any]
CONTAINER = "runbook"
FLEET_FILE = "/etc/spkrunbook/fleet.json"
#: Exit codes (``spkrunbook.cli``) by what the Job does with them.
NO_RETRY = [1, 2]
RETRY = [75, 130, 143]
# Seconds a terminated pod gets to finish its record and upload it (SIGTERM -> exit 143).
GRACE_S = 90
# Finished Jobs stay three days for `oc get jobs` and `oc logs`, then go; the records stay in the store.
TTL_S = 3 * 24 * 3600


def labels(plan: FleetPlan, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "spkrunbook", "app.kubernetes.io/instance": plan.fleet.fleet,
            "app.kubernetes.io/component": component, MANAGED_BY: MANAGER}


def _meta(plan: FleetPlan, name: str, component: str, *, namespaced: bool = True) -> Obj:
    md: Obj = {"name": name, "labels": labels(plan, component)}
    if namespaced:
        md["namespace"] = plan.fleet.namespace
    return md


def names(plan: FleetPlan) -> dict[str, str]:
    f = plan.fleet.fleet
    return {"sa": f"{f}-runner", "fleet": f"{f}-fleet", "role": f"{f}-read", "job": f, "admin": f"{f}-helm"}


def lab_configmap_name(plan: FleetPlan, lab: LabPlan) -> str:
    return f"{plan.fleet.fleet}-lab-{lab.name}"


def lab_configmap(plan: FleetPlan, lab: LabPlan) -> Obj:
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, content in sorted(lab.files.items()):
        try:
            data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode()
    cm: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(plan, lab_configmap_name(plan, lab), "params"),
               "data": data}
    if binary:
        cm["binaryData"] = binary
    return cm


def fleet_index(plan: FleetPlan) -> dict[str, Any]:
    """What the pod reads (``fleet.json``): the records store and, per index, the lab and its steps."""
    f = plan.fleet
    return {"fleet": f.fleet, "records": f.records,
            "labs": [{"index": i, "lab": lab.name, "params": f"{LAB_DIR}/{lab.name}/params.yaml", "steps": lab.steps}
                     for i, lab in enumerate(plan.labs)]}


def fleet_configmap(plan: FleetPlan) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(plan, names(plan)["fleet"], "index"),
            "data": {"fleet.json": json.dumps(fleet_index(plan), indent=2) + "\n"}}


def service_account(plan: FleetPlan) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(plan, names(plan)["sa"], "runner"),
            "automountServiceAccountToken": plan.in_cluster}


def rbac_objects(plan: FleetPlan) -> list[Obj]:
    """ClusterRole + binding for the reads, Role + binding per namespace for the writes; none for a fleet
    whose labs all bring their own credentials."""
    if not plan.in_cluster:
        return []
    n = names(plan)
    subject = [{"kind": "ServiceAccount", "name": n["sa"], "namespace": plan.fleet.namespace}]
    cluster_name = f"{plan.fleet.namespace}-{n['role']}"  # cluster-scoped: the namespace keeps two fleets apart
    out: list[Obj] = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(plan, cluster_name, "rbac", namespaced=False), "rules": rbac.READS},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(plan, cluster_name, "rbac", namespaced=False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
         "subjects": subject},
    ]
    labs = [(lab.lab, lab.steps) for lab in plan.labs if lab.in_cluster]
    for ns, rules in sorted(rbac.namespaced_rules(labs).items()):
        name = f"{plan.fleet.fleet}-steps"
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {**_meta(plan, name, "rbac"), "namespace": ns}, "rules": rules})
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {**_meta(plan, name, "rbac"), "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                    "subjects": subject})
    for ns in rbac.helm_namespaces(labs):
        out.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {**_meta(plan, n["admin"], "rbac"), "namespace": ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                    "subjects": subject})
    return out


def _volume(plan: FleetPlan) -> Obj:
    """One read-only projected volume: fleet.json, each lab's ConfigMap, each lab's kubeconfig Secret."""
    sources: list[Obj] = [{"configMap": {"name": names(plan)["fleet"], "items": [{"key": "fleet.json",
                                                                                   "path": "fleet.json"}]}}]
    for lab in plan.labs:
        sources.append({"configMap": {"name": lab_configmap_name(plan, lab),
                                      "items": [{"key": k, "path": f"labs/{lab.name}/{k}"} for k in sorted(lab.files)]}})
        if lab.entry.kubeconfig is not None:
            sources.append({"secret": {"name": lab.entry.kubeconfig.secret,
                                       "items": [{"key": lab.entry.kubeconfig.key, "path": f"labs/{lab.name}/kubeconfig"}]}})
    return {"name": "spkrunbook", "projected": {"sources": sources, "defaultMode": 0o444}}


def _env(plan: FleetPlan, uid_label: str) -> list[Obj]:
    f = plan.fleet
    env: list[Obj] = [
        {"name": "HOME", "value": "/tmp"},  # the kernel, matplotlib and IPython write their state there
        {"name": "SPKRUNBOOK_STAGING", "value": "/tmp/staging"},
        {"name": "SPKRUNBOOK_FLEET_RUN", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{uid_label}']"}}},
    ]
    if f.s3.endpoint:
        env.append({"name": "AWS_ENDPOINT_URL_S3", "value": f.s3.endpoint})
    if f.s3.region:
        env.append({"name": "AWS_REGION", "value": f.s3.region})
    if f.records_link:
        env.append({"name": "SPKRUNBOOK_RECORDS_LINK", "value": f.records_link})
    if f.notify is not None:
        env.append({"name": "SPKRUNBOOK_NOTIFY_URL",
                    "valueFrom": {"secretKeyRef": {"name": f.notify.secret, "key": f.notify.key}}})
    seen: set[str] = set()
    for lab in plan.labs:
        for var, ref in sorted(lab.entry.secrets.items()):
            if var in seen:
                continue
            seen.add(var)
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}})
    return env


def pod_template(plan: FleetPlan, *, index: int | None = None) -> Obj:
    """The pod every index (or, in the fallback, every lab's Job) runs."""
    f = plan.fleet
    uid_label = "batch.kubernetes.io/controller-uid" if f.minor >= 27 else "controller-uid"
    command = ["spkrunbook", "fleet", "run", FLEET_FILE]
    if index is not None:
        command += ["--index", str(index)]
    container: Obj = {
        "name": CONTAINER, "image": f.image, "imagePullPolicy": f.image_pull_policy, "command": command,
        "env": _env(plan, uid_label), "resources": f.resources,
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "spkrunbook", "mountPath": "/etc/spkrunbook", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *f.volume_mounts],
    }
    if f.s3.credentials is not None:
        container["envFrom"] = [{"secretRef": {"name": f.s3.credentials.secret}}]
    return {
        "metadata": {"labels": labels(plan, "run")},
        "spec": {
            "serviceAccountName": names(plan)["sa"],
            "automountServiceAccountToken": plan.in_cluster,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": GRACE_S,
            "activeDeadlineSeconds": seconds(f.deadline),
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [_volume(plan), {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}}, *f.volumes],
        },
    }


def failure_policy(per_index: bool) -> Obj:
    rules: list[Obj] = [
        {"action": "FailIndex" if per_index else "FailJob",
         "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": NO_RETRY}},
        {"action": "Count", "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": RETRY}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]
    return {"rules": rules}


def job_spec(plan: FleetPlan, *, index: int | None = None) -> Obj:
    f = plan.fleet
    spec: Obj = {"ttlSecondsAfterFinished": TTL_S, "template": pod_template(plan, index=index)}
    if index is None:  # the Indexed Job: one index per lab
        spec.update({"completionMode": "Indexed", "completions": len(plan.labs),
                     "parallelism": min(f.parallelism, len(plan.labs)), "backoffLimitPerIndex": f.retries,
                     "maxFailedIndexes": len(plan.labs), "podFailurePolicy": failure_policy(True)})
    else:
        spec.update({"completions": 1, "parallelism": 1, "backoffLimit": f.retries})
        if f.minor >= 26:
            spec["podFailurePolicy"] = failure_policy(False)
    return spec


def mode(plan: FleetPlan) -> str:
    """``indexed`` (1.29+), ``per-lab`` (1.26-1.28, podFailurePolicy without FailIndex), ``per-lab-no-policy``."""
    minor = plan.fleet.minor
    return "indexed" if minor >= 29 else "per-lab" if minor >= 26 else "per-lab-no-policy"


def runs(plan: FleetPlan) -> list[Obj]:
    """The Job(s) or CronJob(s)."""
    f = plan.fleet
    base = names(plan)["job"]
    specs: list[tuple[str, Obj]]
    if mode(plan) == "indexed":
        specs = [(base, job_spec(plan))]
    else:
        specs = [(f"{base}-{lab.name}", job_spec(plan, index=i)) for i, lab in enumerate(plan.labs)]
    out = []
    for name, spec in specs:
        if f.schedule:
            cron: Obj = {"schedule": f.schedule, "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3,
                         "failedJobsHistoryLimit": 3, "jobTemplate": {"metadata": {"labels": labels(plan, "run")},
                                                                     "spec": spec}}
            if f.time_zone:
                cron["timeZone"] = f.time_zone
            out.append({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(plan, name, "schedule"),
                        "spec": cron})
        else:
            out.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(plan, name, "run"), "spec": spec})
    return out


def render(plan: FleetPlan) -> list[Obj]:
    """Every object, in the order ``oc apply`` should create them (config first, the run last)."""
    return [fleet_configmap(plan), *(lab_configmap(plan, lab) for lab in plan.labs), service_account(plan),
            *rbac_objects(plan), *runs(plan)]
