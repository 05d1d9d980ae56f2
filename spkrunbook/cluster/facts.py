"""What the cluster says about the lab, answered once: TMM nodes, their NICs, TMM pods, readiness.

Every step and every form asks here: which nodes TMM can run on, which NICs
those nodes report (NodeNetworkState), which pods are TMM's and what Multus
attached to them (``network-status``, and the legacy ``networks-status`` key),
whether a pod or node is ready, the OpenShift version, the OVN mode, the node
subnets, the namespaces, the kube contexts. ``ClusterFacts`` reads each thing
at most once with list calls (never node by node), so a 1,000-node cluster costs
the same handful of requests; a missing API (CRD not installed) is ``None``, not
an error.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ClusterUnreachable, Forbidden, ResourceMissing, SpkRunbookError
from .base import Obj, Resource, Target, can_write, label_selector_matches

if TYPE_CHECKING:
    from ..params import Lab

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
NETWORK_STATUS_LEGACY = "k8s.v1.cni.cncf.io/networks-status"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
NODE_IFADDR = "k8s.ovn.org/node-primary-ifaddr"
L3_GATEWAY = "k8s.ovn.org/l3-gateway-config"
ZONE_NAME = "k8s.ovn.org/zone-name"
OVN_NAMESPACE = "openshift-ovn-kubernetes"
# OVN-Kubernetes interconnect (a NB database per node) is the default from OpenShift 4.14.
INTERCONNECT_SINCE = (4, 14)
#: What the prerequisites read from the running kubelet when no KubeletConfig or PerformanceProfile says it.
RUNNING_KUBELET_KEYS = ("cpuManagerPolicy", "topologyManagerPolicy", "reservedSystemCPUs", "systemReserved")


# -- single objects --------------------------------------------------------------------------------
def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("status")) == "True"
    return False


def pod_state(pod: Obj) -> str:
    """``oc get pods``-like one-liner: name, phase, n/m ready, waiting reasons and restarts."""
    st = pod.get("status") or {}
    cs = st.get("containerStatuses") or []
    n = len((pod.get("spec") or {}).get("containers") or []) or len(cs)
    ready = sum(1 for c in cs if c.get("ready"))
    waits = [f"{c.get('name')}: {(c.get('state') or {}).get('waiting', {}).get('reason')}"
             for c in cs if (c.get("state") or {}).get("waiting")]
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    extra = f" ({'; '.join(waits)})" if waits else ""
    extra += f", {restarts} restart(s)" if restarts else ""
    return f"{(pod.get('metadata') or {}).get('name')} {st.get('phase', 'Unknown')} {ready}/{n}{extra}"


#: Warning reasons that say why a pod cannot start (the kubelet's and the scheduler's), ahead of the
#: Warnings a running cluster also emits about a pod that has nothing to do with it starting
#: (``MissingClusterDNS``, ``DNSConfigForming``, probe failures ...).
BLOCKING_REASONS = ("FailedCreatePodSandBox", "FailedScheduling", "FailedMount", "FailedAttachVolume",
                    "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InspectFailed", "Failed",
                    "CreateContainerConfigError", "CreateContainerError", "BackOff", "FailedKillPod",
                    "FailedPreStopHook", "FailedPostStartHook", "OutOfhugepages-2Mi", "OutOfcpu", "OutOfmemory")


def pod_trouble(target: Target, pod: Obj) -> tuple[str, str] | None:
    """Why a pod does not run, in the cluster's own words: ``(reason, message)`` of the scheduler's
    ``PodScheduled=False`` condition, else of the pod's latest Warning event that says why a pod cannot
    start (a kubelet's ``FailedCreatePodSandBox`` quotes the CNI error), else of its latest Warning.
    None when nothing says anything."""
    md = pod.get("metadata") or {}
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("message"):
            return str(c.get("reason") or "Unschedulable"), str(c["message"])
    try:
        events = target.list("events", md.get("namespace"), field_selector=f"involvedObject.name={md.get('name')}")
    except SpkRunbookError:
        return None
    warnings = [e for e in events if e.get("type") == "Warning"
                and (e.get("involvedObject") or {}).get("uid") in (None, md.get("uid"))]
    if not warnings:
        return None
    blocking = [e for e in warnings if str(e.get("reason") or "") in BLOCKING_REASONS]
    latest = max(blocking or warnings, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime")
                                                         or (e.get("metadata") or {}).get("creationTimestamp") or ""))
    return str(latest.get("reason") or "Warning"), str(latest.get("message") or "").strip()


def network_status(pod: Obj) -> list[dict[str, Any]] | None:
    """What Multus attached to a pod: the ``network-status`` annotation, else the legacy ``networks-status``.

    None when neither is present or readable. A hint, not proof: Multus 4.1.3 lists
    only the first network of a NAD in ``plugins`` form (NAD-client#75), so verify
    inside the pod too.
    """
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    for key in (NETWORK_STATUS, NETWORK_STATUS_LEGACY):
        raw = ann.get(key)
        if raw is None:
            continue
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(data, list):
            return [d for d in data if isinstance(d, dict)]
    return None


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A ``LabelSelector`` (matchLabels + matchExpressions) against labels; an empty selector matches nothing."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def version_tuple(text: str | None) -> tuple[int, int] | None:
    m = re.match(r"^v?(\d+)\.(\d+)", str(text or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def kube_contexts(kubeconfig: str | Path | None = None) -> tuple[list[str], str | None]:
    """Context names in a kubeconfig and the active one; ``([], None)`` without a usable file
    (asked of the one kubeconfig reader, ``spkrunbook.kubeconfig``)."""
    from .. import kubeconfig as kubeconfigs

    return kubeconfigs.contexts(kubeconfig)


#: The facts ``ClusterFacts.of`` handed out in this process, newest last.
_SHARED: list[ClusterFacts] = []
_SHARED_MAX = 4


@dataclass
class NodeInterfaces:
    """What the target says about NICs on the TMM nodes; ``interfaces`` holds only nodes it knows."""

    nodes: list[str]
    interfaces: dict[str, dict[str, dict[str, Any]]]

    def known(self, node: str) -> bool:
        return node in self.interfaces

    def bridge_of(self, node: str, iface: str) -> str | None:
        """The Linux or OVS bridge ``iface`` is a port of on ``node`` (None: not a port, or unknown).

        Macvlan on a bridge port sees nothing: the bridge takes the frames first.
        """
        row = self.interfaces.get(node, {}).get(iface)
        if row is None:
            return None
        return row.get("controller") or None

    def choices(self) -> list[str] | None:
        """Interface names present on every known TMM node (None when no node is known)."""
        known = [self.interfaces[n] for n in self.nodes if n in self.interfaces] or list(self.interfaces.values())
        if not known:
            return None
        common = set(known[0])
        for ifaces in known[1:]:
            common &= set(ifaces)
        return sorted(i for i in common if i and i != "lo")


# -- is this macvlan master usable on the TMM nodes ---------------------------------------------
MasterKind = Literal["ok", "unknown", "missing", "bridge-port", "down", "mtu", "not-promiscuous", "promiscuous-unknown"]
#: What stops a NAD on that master from attaching a pod at all (the rest only stops traffic).
MASTER_BLOCKING: frozenset[str] = frozenset({"missing", "bridge-port", "down", "mtu"})


@dataclass(frozen=True)
class MasterFinding:
    """One thing a TMM node says about one macvlan master: what it is, how bad, and what to do.

    ``detail`` is what the node says, to follow the master's name (``is down (state down)``,
    ``is a port of bridge br-lab: ...``); prerequisites show one row per node, the NAD
    step one per master, both from these findings and in these words.
    """

    role: str
    master: str
    node: str
    kind: MasterKind
    status: Literal["pass", "warn", "fail"]
    detail: str
    action: str = ""

    @property
    def sentence(self) -> str:
        return f"{self.role} master {self.master} {self.detail}"


def master_nics(lab: Lab, nodes: NodeInterfaces) -> list[MasterFinding]:
    """The one rule for "is each macvlan master usable on every TMM node", node by node, master by master.

    A master must exist on the node (macvlan looks it up by name there), must not be a
    port of a Linux or OVS bridge (the bridge takes its frames first), must be up, and
    must carry the NAD's MTU (the macvlan plugin refuses an MTU above the master's).
    Promiscuous mode is judged too, as a warning: only the network beyond can prove it.
    """
    out: list[MasterFinding] = []
    for node in nodes.nodes:
        for role, net in lab.networks.ordered():
            out.extend(_master_on(role, net.master, net.mtu, node, nodes))
    return out


def _master_on(role: str, m: str, mtu: int | None, node: str, nodes: NodeInterfaces) -> list[MasterFinding]:
    if not nodes.known(node):
        return [MasterFinding(role, m, node, "unknown", "warn", "is unknown: the target does not report this node's interfaces",
                              f"look by hand: oc debug node/{node} -- ip -br link show {m}")]
    iface = nodes.interfaces[node].get(m)
    if iface is None:
        have = ", ".join(sorted(i for i in nodes.interfaces[node] if i and i != "lo")) or "no interfaces"
        return [MasterFinding(role, m, node, "missing", "fail", f"not found (the node has {have})",
                              f"attach a NIC named {m} to {node} or change networks.{role}.master")]
    bridge = nodes.bridge_of(node, m)
    if bridge:
        return [MasterFinding(role, m, node, "bridge-port", "fail",
                              f"is a port of bridge {bridge}: the bridge takes its frames first, so macvlan interfaces "
                              "on it would receive nothing",
                              f"use the bridge itself (e.g. br-ex) or a free NIC as networks.{role}.master")]
    found: list[MasterFinding] = []
    state = iface.get("state")
    if state not in (None, "up"):
        found.append(MasterFinding(role, m, node, "down", "fail", f"is {state} (state {state})",
                                   f"bring {m} up on {node}: ip link set {m} up (or an NMState policy with state: up)"))
    master_mtu = iface.get("mtu")
    if mtu is not None and isinstance(master_mtu, int) and mtu > master_mtu:
        found.append(MasterFinding(role, m, node, "mtu", "fail", f"cannot carry the NAD's MTU: MTU {mtu} exceeds {m}'s MTU {master_mtu}",
                                   f"lower networks.{role}.mtu to {master_mtu} or less, or raise {m}'s MTU"))
    promisc = iface.get("promisc")
    if promisc is False:
        found.append(MasterFinding(role, m, node, "not-promiscuous", "warn", "is not promiscuous",
                                   f"enable promiscuous mode (VM port group: allow promiscuous/forged transmits; node: "
                                   f"ip link set {m} promisc on, or an NMState policy with accept-all-mac-addresses: true)"))
    elif promisc is None:
        found.append(MasterFinding(role, m, node, "promiscuous-unknown", "warn", "is up; promiscuous mode unknown",
                                   f"check: oc debug node/{node} -- cat /sys/class/net/{m}/flags "
                                   "(bit 0x100 set = promiscuous)"))
    return found or [MasterFinding(role, m, node, "ok", "pass", "up, promiscuous")]


def _interface_row(i: dict[str, Any]) -> dict[str, Any]:
    bridge = i.get("bridge") or {}
    return {
        "state": i.get("state"),
        "promisc": i.get("accept-all-mac-addresses"),
        "type": i.get("type"),
        "mac": i.get("mac-address"),
        "mtu": i.get("mtu"),
        "controller": i.get("controller") or i.get("master"),
        "ports": [p.get("name") for p in bridge.get("port") or [] if isinstance(p, dict) and p.get("name")],
    }


@dataclass
class ClusterFacts:
    """The cluster as the lab sees it; each fact fetched lazily, at most once.

    ``ClusterFacts.of(lab, target)`` is the one a process shares: the parts of a step and its
    form ask the same object, so a fact is read once per step run, not once per caller.
    What changes while a step waits (TMM pods) is read again with ``refresh_pods``.
    """

    lab: Lab
    target: Target
    _cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, lab: Lab, target: Target, *, fresh: bool = False) -> ClusterFacts:
        """The shared facts of this very lab on this very target (built on first use).

        ``fresh``: start over, as each step's ``run`` does, so a step run again (a person
        re-running a cell after fixing a node) reads the cluster as it is now.
        """
        for facts in _SHARED:
            if facts.lab is lab and facts.target is target:
                if not fresh:
                    return facts
                _SHARED.remove(facts)
                break
        facts = cls(lab, target)
        _SHARED.append(facts)
        del _SHARED[:-_SHARED_MAX]  # a kernel works with one lab and one target; a form may add a few
        return facts

    def _get(self, key: str, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = fn()
            except ResourceMissing:
                self._cache[key] = None
            except ClusterUnreachable as exc:  # too slow or gone: every check asking this again would wait again
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, ClusterUnreachable):
            raise value
        return value

    # -- nodes ----------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[Obj]:
        return self._get("nodes", lambda: self.target.list("nodes")) or []

    @property
    def tmm_nodes(self) -> list[Obj]:
        """Nodes matching ``tmm.node_selector`` (where TMM can be scheduled)."""
        sel = self.lab.tmm.selector_string()
        return [n for n in self.nodes if label_selector_matches(n["metadata"].get("labels"), sel)]

    @property
    def tmm_node_names(self) -> list[str]:
        return sorted(n["metadata"]["name"] for n in self.tmm_nodes)

    # -- OpenShift configuration ------------------------------------------------------------------
    @property
    def cluster_version(self) -> Obj | None:
        return self._get("clusterversion", lambda: self.target.get("clusterversions", "version"))

    @property
    def openshift_version_text(self) -> str | None:
        status = (self.cluster_version or {}).get("status") or {}
        candidates = [(status.get("desired") or {}).get("version")]
        candidates += [h.get("version") for h in status.get("history") or [] if h.get("state") == "Completed"]
        return next((v for v in candidates if version_tuple(v)), None)

    @property
    def openshift_version(self) -> tuple[int, int] | None:
        """(major, minor) from ``clusterversion/version`` (desired, else the last completed), or None."""
        return version_tuple(self.openshift_version_text)

    @property
    def network_config(self) -> Obj | None:
        return self._get("network", lambda: self.target.get("networks.config", "cluster"))

    @property
    def infrastructure(self) -> Obj | None:
        return self._get("infrastructure", lambda: self.target.get("infrastructures", "cluster"))

    @property
    def platform(self) -> str | None:
        """``status.platformStatus.type`` of ``infrastructures.config.openshift.io/cluster`` (VSphere, OpenStack, ...)."""
        st = (self.infrastructure or {}).get("status") or {}
        return (st.get("platformStatus") or {}).get("type") or st.get("platform")

    @property
    def kubeletconfigs(self) -> list[Obj]:
        return self._get("kubeletconfigs", lambda: self.target.list("kubeletconfigs")) or []

    @property
    def machineconfigpools(self) -> list[Obj]:
        return self._get("mcps", lambda: self.target.list("machineconfigpools")) or []

    @property
    def performanceprofiles(self) -> list[Obj]:
        return self._get("pp", lambda: self.target.list("performanceprofiles")) or []

    def kubelet_settings(self, node: Obj) -> dict[str, Any]:
        """The kubelet settings that apply to a node: from KubeletConfigs and PerformanceProfiles, and when
        those do not say the CPU manager policy (a node no Machine Config Operator manages), from the running
        kubelet itself.

        ``_source_of`` names where each setting came from; ``_unread`` says why the running kubelet could
        not be asked when it was needed.
        """
        labels = node["metadata"].get("labels") or {}
        out: dict[str, Any] = {}
        source_of: dict[str, str] = {}
        pools = [p for p in self.machineconfigpools if selector_matches(p.get("spec", {}).get("nodeSelector"), labels)]
        for kc in self.kubeletconfigs:
            sel = kc.get("spec", {}).get("machineConfigPoolSelector")
            if any(selector_matches(sel, p["metadata"].get("labels") or {}) for p in pools):
                for k, v in (kc.get("spec", {}).get("kubeletConfig") or {}).items():
                    out[k] = v
                    source_of[k] = f"KubeletConfig/{kc['metadata']['name']}"
                out.setdefault("_sources", []).append(f"KubeletConfig/{kc['metadata']['name']}")
        for pp in self.performanceprofiles:
            if selector_matches({"matchLabels": pp.get("spec", {}).get("nodeSelector") or {}}, labels):
                # A PerformanceProfile makes the node tuning operator set the static CPU manager.
                out["cpuManagerPolicy"] = "static"
                out["topologyManagerPolicy"] = (pp.get("spec", {}).get("numa") or {}).get("topologyPolicy", "best-effort")
                source_of["cpuManagerPolicy"] = source_of["topologyManagerPolicy"] = f"PerformanceProfile/{pp['metadata']['name']}"
                out.setdefault("_sources", []).append(f"PerformanceProfile/{pp['metadata']['name']}")
        if "cpuManagerPolicy" not in out:  # one request per node, only where the objects are silent
            running, how = self.running_kubelet(node["metadata"]["name"])
            if running is None:
                out["_unread"] = how
            else:
                for k in RUNNING_KUBELET_KEYS:
                    if k not in out and k in running:
                        out[k] = running[k]
                        source_of[k] = how
                out.setdefault("_sources", []).append(how)
        out["_source_of"] = source_of
        return out

    def running_kubelet(self, node: str) -> tuple[dict[str, Any] | None, str]:
        """The kubelet's running configuration on ``node`` (``oc get --raw /api/v1/nodes/<n>/proxy/configz``) and
        how it was read; ``None`` and the reason when the target cannot ask (a snapshot, RBAC, no answer)."""
        def fetch() -> tuple[dict[str, Any] | None, str]:
            read = getattr(self.target, "kubelet_config", None)
            if read is None:
                return None, f"a {self.target.kind} target cannot ask the running kubelet"
            try:
                return dict(read(node)), f"the running kubelet: /api/v1/nodes/{node}/proxy/configz"
            except SpkRunbookError as exc:
                return None, f"the running kubelet's /api/v1/nodes/{node}/proxy/configz could not be read: {exc.message}"

        got: tuple[dict[str, Any] | None, str] = self._get(f"configz/{node}", fetch)
        return got

    # -- NICs -------------------------------------------------------------------------------------
    @property
    def nodenetworkstates(self) -> dict[str, Obj] | None:
        """NodeNetworkState per node name (NMState), or None when the API is not installed."""
        def fetch() -> list[Obj]:
            try:
                return self.target.list("nodenetworkstates.v1")
            except ResourceMissing:
                return self.target.list("nodenetworkstates")

        items = self._get("nns", fetch)
        if items is None:
            return None
        return {o["metadata"]["name"]: o for o in items}

    def node_interfaces(self) -> NodeInterfaces:
        """The TMM nodes and, where NodeNetworkState knows them, their interfaces."""
        names = self.tmm_node_names
        nns = self.nodenetworkstates or {}
        known: dict[str, dict[str, dict[str, Any]]] = {}
        for node in names:
            state = nns.get(node)
            if state is None:
                continue
            ifaces = ((state.get("status") or {}).get("currentState") or {}).get("interfaces") or []
            rows = {i["name"]: _interface_row(i) for i in ifaces if isinstance(i, dict) and "name" in i}
            # A port lists its bridge in the bridge's entry, not always in its own.
            for br, row in list(rows.items()):
                for port in row["ports"]:
                    if port in rows and not rows[port]["controller"]:
                        rows[port]["controller"] = br
            known[node] = rows
        return NodeInterfaces(names, known)

    def node_subnets(self) -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], str]:
        """Node subnets from OVN annotations of the TMM nodes (all nodes when none match), and where from."""
        nodes = self.tmm_nodes or self.nodes
        nets: list[Any] = []
        for n in nodes:
            ann = (n.get("metadata") or {}).get("annotations") or {}
            addrs: list[str] = []
            raw = ann.get(NODE_IFADDR)
            if raw:
                try:
                    data = json.loads(raw)
                    addrs += [data[k] for k in ("ipv4", "ipv6") if data.get(k)]
                except (ValueError, TypeError, AttributeError):
                    pass
            elif ann.get(L3_GATEWAY):
                try:
                    gw = json.loads(ann[L3_GATEWAY]).get("default") or {}
                    addrs += list(gw.get("ip-addresses") or ([gw["ip-address"]] if gw.get("ip-address") else []))
                except (ValueError, TypeError, AttributeError):
                    pass
            for a in addrs:
                try:
                    net = ipaddress.ip_interface(a).network
                except ValueError:
                    continue
                # /128 or /32 host routes (IPv6 often) say nothing about the subnet.
                if net.num_addresses > 1 and net not in nets:
                    nets.append(net)
        where = f"{len(nodes)} node(s) matching {self.lab.tmm.selector_string() or 'any'}"
        return nets, where

    # -- pods -------------------------------------------------------------------------------------
    def tmm_pods(self) -> list[Obj]:
        """TMM pods found by label (``tmm.pod_selector``), in ``tmm.namespace`` first, else any namespace.

        Sorted by namespace and name; terminating pods are left out.
        """
        def fetch() -> list[Obj]:
            sel = self.lab.tmm.pod_selector
            pods = self.target.list("pods", self.lab.tmm.namespace, label_selector=sel)
            if not pods:
                pods = self.target.list("pods", None, label_selector=sel)
            return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]

        pods = self._get("tmm_pods", fetch) or []
        return sorted(pods, key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"]))

    def refresh_pods(self) -> list[Obj]:
        """TMM pods read again (while waiting for them)."""
        self._cache.pop("tmm_pods", None)
        return self.tmm_pods()

    def tmm_pod_names(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.tmm_pods()]

    def pod_interfaces(self, pod: str | None = None) -> list[str]:
        """``any`` plus the interfaces network-status reports in the TMM pods (eth0, net1, net2 ...)."""
        out = ["any"]
        for p in self.tmm_pods():
            if pod and p["metadata"]["name"] != pod:
                continue
            for entry in network_status(p) or []:
                name = entry.get("interface")
                if name and name not in out:
                    out.append(str(name))
        return out

    def namespaces(self) -> list[str] | None:
        """Namespace names, or None when the target cannot tell (a snapshot: the namespaces of its pods)."""
        try:
            names = {o["metadata"]["name"] for o in self.target.list("namespaces")}
        except SpkRunbookError:
            names = set()
        if not names:
            try:
                names = {o["metadata"].get("namespace") for o in self.target.list("pods")} - {None}
            except SpkRunbookError:
                return None
        return sorted(names) if names else None

    # -- OVN ----------------------------------------------------------------------------------------
    def ovn_mode(self, node: str | None = None) -> tuple[str, str]:
        """``("interconnect" | "legacy", evidence)`` as OpenShift's own network-tools decide it.

        Interconnect when the node annotation ``k8s.ovn.org/zone-name`` equals the node
        name (each node has its own NB database), else legacy (a RAFT cluster in the
        ovnkube-master pods). Without the annotation the OpenShift version decides.
        """
        nodes = [n for n in self.nodes if not node or n["metadata"]["name"] == node] or self.nodes
        for n in nodes:
            name = n["metadata"]["name"]
            zone = ((n.get("metadata") or {}).get("annotations") or {}).get(ZONE_NAME)
            if zone is not None:
                if zone == name:
                    return "interconnect", f"node {name} has {ZONE_NAME}={zone} (its own name)"
                return "legacy", f"node {name} has {ZONE_NAME}={zone}, not its own name"
        version = self.openshift_version
        if version is not None and version >= INTERCONNECT_SINCE:
            return "interconnect", f"no {ZONE_NAME} annotation; OpenShift {version[0]}.{version[1]} defaults to interconnect"
        shown = f"OpenShift {version[0]}.{version[1]}" if version else "an unknown OpenShift version"
        return "legacy", f"no {ZONE_NAME} annotation on the nodes; {shown}"

    def ovn_pods(self, selector: str) -> list[Obj]:
        try:
            return sorted(self.target.list("pods", OVN_NAMESPACE, label_selector=selector),
                          key=lambda p: p["metadata"]["name"])
        except (ResourceMissing, Forbidden):
            return []

    # -- APIs -------------------------------------------------------------------------------------
    def crd_installed(self, crd: str, res: str | Resource) -> bool | None:
        """Whether the CRD behind ``res`` is installed; None when the target cannot say.

        A snapshot may simply not have collected CRDs: objects of ``res`` in it prove the
        CRD, and only a snapshot that did collect CRDs can prove its absence.
        """
        return crd_installed(self.target, crd, res)


def crd_installed(target: Target, crd: str, res: str | Resource) -> bool | None:
    """See ``ClusterFacts.crd_installed`` (usable without a lab)."""
    try:
        if target.exists("customresourcedefinitions", crd):
            return True
    except (ResourceMissing, Forbidden):
        return None
    if not can_write(target):
        try:
            if target.list(res):
                return True
            return False if target.list("customresourcedefinitions") else None
        except ResourceMissing:
            return None
    return False
