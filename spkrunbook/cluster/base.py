"""The one interface every step uses to read (and, live only, write) cluster state.

Two implementations: ``LiveTarget`` (official ``kubernetes`` client) and
``SnapshotTarget`` (an ``oc adm must-gather`` directory read offline). Steps ask
``can_write(target)`` and produce a *plan* instead of writing when it is False.

Resources are addressed by a short name from ``RESOURCES`` (``"nodes"``,
``"network-attachment-definitions"`` ...) or by an explicit ``Resource``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

if TYPE_CHECKING:
    from .ovn.nbdb import NbdbFile

Obj = dict[str, Any]
#: A list of objects; a module-level name because ``Target.list`` shadows ``list`` inside the classes.
Objs = list[Obj]
#: A command as argument words (never a shell string).
Argv = list[str]
#: The OVN NB database files a target holds (a module-level name for the same reason as ``Objs``).
NbdbFiles = list["NbdbFile"]


@dataclass(frozen=True)
class Resource:
    """A REST resource: API group ('' for core), version, plural, and whether it is namespaced."""

    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_dir(self) -> str:
        """How must-gather / oc adm inspect names the group in paths (core for '')."""
        return self.group or "core"


RESOURCES: dict[str, Resource] = {
    "nodes": Resource("", "v1", "nodes", False, "Node"),
    "pods": Resource("", "v1", "pods", True, "Pod"),
    "namespaces": Resource("", "v1", "namespaces", False, "Namespace"),
    "events": Resource("", "v1", "events", True, "Event"),
    "configmaps": Resource("", "v1", "configmaps", True, "ConfigMap"),
    "customresourcedefinitions": Resource(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", False, "CustomResourceDefinition"
    ),
    "clusterversions": Resource("config.openshift.io", "v1", "clusterversions", False, "ClusterVersion"),
    "infrastructures": Resource("config.openshift.io", "v1", "infrastructures", False, "Infrastructure"),
    "networks.config": Resource("config.openshift.io", "v1", "networks", False, "Network"),
    "networks.operator": Resource("operator.openshift.io", "v1", "networks", False, "Network"),
    "kubeletconfigs": Resource("machineconfiguration.openshift.io", "v1", "kubeletconfigs", False, "KubeletConfig"),
    "machineconfigpools": Resource(
        "machineconfiguration.openshift.io", "v1", "machineconfigpools", False, "MachineConfigPool"
    ),
    "performanceprofiles": Resource("performance.openshift.io", "v2", "performanceprofiles", False, "PerformanceProfile"),
    "nodenetworkstates": Resource("nmstate.io", "v1beta1", "nodenetworkstates", False, "NodeNetworkState"),
    # NMState serves v1 from OpenShift 4.10 on; older operators only v1beta1 (tried second).
    "nodenetworkstates.v1": Resource("nmstate.io", "v1", "nodenetworkstates", False, "NodeNetworkState"),
    "network-attachment-definitions": Resource(
        "k8s.cni.cncf.io", "v1", "network-attachment-definitions", True, "NetworkAttachmentDefinition"
    ),
    "f5-spk-vlans": Resource("k8s.f5net.com", "v1", "f5-spk-vlans", True, "F5SPKVlan"),
    "f5-spk-staticroutes": Resource("k8s.f5net.com", "v1", "f5-spk-staticroutes", True, "F5SPKStaticRoute"),
    "deployments": Resource("apps", "v1", "deployments", True, "Deployment"),
    "replicasets": Resource("apps", "v1", "replicasets", True, "ReplicaSet"),
    "adminpolicybasedexternalroutes": Resource(
        "k8s.ovn.org", "v1", "adminpolicybasedexternalroutes", False, "AdminPolicyBasedExternalRoute"
    ),
}

NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"
F5_VLAN_CRD = "f5-spk-vlans.k8s.f5net.com"


def resource(name_or_res: str | Resource) -> Resource:
    if isinstance(name_or_res, Resource):
        return name_or_res
    try:
        return RESOURCES[name_or_res]
    except KeyError:
        raise KeyError(f"unknown resource {name_or_res!r}; known: {', '.join(sorted(RESOURCES))}") from None


@dataclass
class ExecResult:
    """What a command run in a container returned: bytes kept as bytes (a pcap must survive)."""

    argv: Argv
    stdout: bytes
    stderr: bytes
    exit_code: int | None
    timed_out: bool = False
    cut: str = ""  # what was cut and why (a byte cap, a deadline); empty when the output is whole

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cut

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class ClusterAccess:
    """How another program (helm) reaches the same cluster with the same credentials as the target.

    ``args`` and ``env`` are for running it; ``shown`` is the same for a person to read or paste
    (no secret: a token is written as the ``$VARIABLE`` it is passed in).
    """

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    shown: tuple[str, ...] = ()
    shown_env: dict[str, str] = field(default_factory=dict)  # e.g. HELM_KUBETOKEN -> "$SPKRUNBOOK_TOKEN"


@dataclass
class TargetInfo:
    """What a record says about the target (never a credential)."""

    kind: str
    name: str
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Target(Protocol):
    """Read interface shared by live and snapshot targets; writes exist on live only."""

    kind: str  # "live" or "snapshot"
    can_write: bool

    def info(self) -> TargetInfo: ...

    def get(self, res: str | Resource, name: str, namespace: str | None = None) -> Obj:
        """One object; raises ``ResourceMissing`` when absent (or the CRD is missing)."""
        ...

    def list(
        self,
        res: str | Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Objs:
        """Objects of a resource (all namespaces when ``namespace`` is None)."""
        ...

    def exists(self, res: str | Resource, name: str, namespace: str | None = None) -> bool: ...

    def logs(self, namespace: str, pod: str, container: str, *, previous: bool = False,
             tail_lines: int = 400) -> str | None:
        """A container's log (``previous``: before its last restart); None when there is none."""
        ...

    def exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Argv,
        *,
        timeout: float = 30.0,
        stdin: bytes | None = None,
    ) -> ExecResult: ...

    def ovn_nb_databases(self) -> NbdbFiles:
        """The OVN northbound database files the target holds (a must-gather's ``network_logs``); [] when
        it holds none (a live cluster answers ``ovn-nbctl`` in its OVN pods instead)."""
        ...


class WritableTarget(Target, Protocol):
    def create(self, res: str | Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def replace(self, res: str | Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def delete(self, res: str | Resource, name: str, namespace: str | None = None) -> None: ...

    def exec_stream(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Argv,
        *,
        timeout: float = 30.0,
    ) -> Iterator[tuple[int, bytes]]:
        """Yield (channel, bytes) as a command runs: 1 stdout, 2 stderr; ends when it exits."""
        ...


def can_write(target: Target) -> TypeGuard[WritableTarget]:
    """The one answer to "may this target be written to": a live cluster yes, a snapshot no (it plans).

    A ``TypeGuard``, so code that asked may call ``create``/``replace``/``delete`` on it.
    """
    return bool(getattr(target, "can_write", False))


def label_selector_matches(labels: dict[str, str] | None, selector: str | None) -> bool:
    """Equality-based and set-based selectors (``a=b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x)``)."""
    if not selector:
        return True
    labels = labels or {}
    for term in _split_selector(selector):
        term = term.strip()
        if not term:
            continue
        if " notin " in term or " in " in term:
            key, op, rest = term.partition(" notin ") if " notin " in term else term.partition(" in ")
            values = {v.strip() for v in rest.strip().strip("()").split(",")}
            key = key.strip()
            if op.strip() == "in" and labels.get(key) not in values:
                return False
            if op.strip() == "notin" and key in labels and labels[key] in values:
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term or "=" in term:
            k, v = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_selector(selector: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def field_selector_matches(obj: Obj, selector: str | None) -> bool:
    """The field selectors the tool uses: ``metadata.name``, ``metadata.namespace``, ``spec.nodeName``, ``status.phase``."""
    if not selector:
        return True
    for term in selector.split(","):
        neg = "!=" in term
        k, v = term.split("!=" if neg else "=", 1)
        cur: Any = obj
        for part in k.strip().split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if (str(cur) == v.strip()) == neg:
            return False
    return True
