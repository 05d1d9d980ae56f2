"""The least RBAC each step needs on the cluster a fleet's pod runs in (labs with ``target.in_cluster``).

A lab that reaches its cluster through its own kubeconfig brings its own
credentials; only in-cluster labs use the fleet's ServiceAccount, so only their
steps widen its rules. Reads are cluster-wide (the prerequisites read nodes,
CRDs and OpenShift's config objects); writes are Roles in the namespaces the lab
names (the NADs' namespaces, TMM's namespace), never cluster-wide:

- prerequisites: get/list only, plus ``nodes/proxy`` get (the kubelet's configz);
- network-attachments: NetworkAttachmentDefinitions create/update/delete in the networks' namespaces;
- spk-install: F5SPKVlan create/update, and ``admin`` in TMM's namespace for helm (a chart's
  content is not known in advance; helm keeps its release in Secrets there);
- debugging: reads, ``pods/log``, ``pods/exec`` in TMM's namespace (the debug sidecar), and pod
  create/delete there only when a lab captures on a node (``debug.capture.where: node``).
"""

from __future__ import annotations

from typing import Any

from .. import params

Rule = dict[str, Any]
READ = ["get", "list", "watch"]

#: What every step reads, cluster-wide (the union of what ``cluster.facts`` and the steps ask).
READS: list[Rule] = [
    {"apiGroups": [""], "resources": ["nodes", "namespaces", "pods", "events", "configmaps"], "verbs": READ},
    {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": READ},
    {"apiGroups": ["config.openshift.io"], "resources": ["clusterversions", "infrastructures", "networks"], "verbs": READ},
    {"apiGroups": ["operator.openshift.io"], "resources": ["networks"], "verbs": READ},
    {"apiGroups": ["machineconfiguration.openshift.io"], "resources": ["kubeletconfigs", "machineconfigpools"],
     "verbs": READ},
    {"apiGroups": ["performance.openshift.io"], "resources": ["performanceprofiles"], "verbs": READ},
    {"apiGroups": ["nmstate.io"], "resources": ["nodenetworkstates"], "verbs": READ},
    {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"], "verbs": READ},
    {"apiGroups": ["k8s.f5net.com"], "resources": ["f5-spk-vlans", "f5-spk-staticroutes"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": READ},
    {"apiGroups": ["k8s.ovn.org"], "resources": ["adminpolicybasedexternalroutes"], "verbs": READ},
]


def namespaced_rules(labs: list[tuple[params.Lab, list[str]]]) -> dict[str, list[Rule]]:
    """Namespace -> the write rules the in-cluster labs' steps need there (empty: read-only fleet)."""
    out: dict[str, list[Rule]] = {}

    def add(ns: str, rule: Rule) -> None:
        rules = out.setdefault(ns, [])
        if rule not in rules:
            rules.append(rule)

    for lab, steps in labs:
        if "network-attachments" in steps:
            for _, net in lab.networks.ordered():
                add(net.namespace, {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"],
                                    "verbs": ["create", "update", "patch", "delete"]})
        if "spk-install" in steps:
            add(lab.tmm.namespace, {"apiGroups": ["k8s.f5net.com"], "resources": ["f5-spk-vlans"],
                                    "verbs": ["create", "update", "patch", "delete"]})
        if "debugging" in steps:
            add(lab.tmm.namespace, {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]})
            add(lab.tmm.namespace, {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]})
            if lab.debug.live_capture and lab.debug.capture.where == "node":
                add(lab.tmm.namespace, {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete"]})
    return out


def helm_namespaces(labs: list[tuple[params.Lab, list[str]]]) -> list[str]:
    """Namespaces where an in-cluster lab runs helm (bound to the ``admin`` ClusterRole there)."""
    return sorted({lab.tmm.namespace for lab, steps in labs if "spk-install" in steps and lab.install.run_helm})
