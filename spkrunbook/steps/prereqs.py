"""Prerequisite checks from the "Assumptions / Prerequisites" of F5's "Macvlan Network Configuration" guide, as data.

Each check is a small function registered with ``@check``; ``run(lab, target)``
calls them in order and returns a ``PrereqsResult``. Facts come from
``cluster.facts.ClusterFacts`` (list calls, never node by node), so a 1,000-node
cluster costs the same handful of requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from .. import sizing
from ..cluster.base import NAD_CRD, Obj, Target
from ..cluster.facts import ClusterFacts, master_nics, node_ready
from ..display import Table
from ..errors import ClusterUnreachable, Forbidden, SpkRunbookError
from ..params import Lab
from ..results import CheckResult, Findings, StepResult

# F5's tested matrix puts SPK 1.5.0 - 1.6.1 on OpenShift 4.10 (4.10.13).
F5_TESTED_MINOR = (4, 10)
IFF_PROMISC = 0x100


CheckFn = Callable[[ClusterFacts], list[CheckResult]]
REGISTRY: list[tuple[str, CheckFn]] = []


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    """Register a prerequisite check; adding a check is adding one decorated function."""

    def deco(fn: CheckFn) -> CheckFn:
        REGISTRY.append((name, fn))
        return fn

    return deco


def _r(check: str, status: str, evidence: str, action: str = "", subject: str = "") -> CheckResult:
    return CheckResult(check, status, evidence, action, subject)  # type: ignore[arg-type]


# -- the checks -----------------------------------------------------------------------------


@check("api-reachable")
def api_reachable(f: ClusterFacts) -> list[CheckResult]:
    info = f.target.info()
    n = len(f.nodes)
    if n == 0:
        return [_r("api-reachable", "fail", f"{info.kind} target {info.name} returned no nodes", "check target settings")]
    return [_r("api-reachable", "pass", f"{info.kind} target {info.name}: {n} nodes listed")]


@check("openshift-version")
def openshift_version(f: ClusterFacts) -> list[CheckResult]:
    cv = f.cluster_version
    if cv is None:
        return [
            _r(
                "openshift-version",
                "fail",
                "no clusterversions.config.openshift.io/version: this is not an OpenShift cluster",
                "point the params at an OpenShift cluster (SPK with macvlan needs OpenShift with OVN-Kubernetes)",
            )
        ]
    status = cv.get("status") or {}
    version = (status.get("desired") or {}).get("version") or next(
        (h.get("version") for h in status.get("history") or [] if h.get("state") == "Completed"), None
    )
    if not version:
        return [_r("openshift-version", "warn", "clusterversion has no desired version", "run: oc get clusterversion")]
    try:
        minor = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        return [_r("openshift-version", "warn", f"unrecognised version {version!r}", "run: oc get clusterversion")]
    if minor == F5_TESTED_MINOR:
        return [_r("openshift-version", "pass", f"OpenShift {version} (F5 tested SPK 1.5.0-1.6.1 on 4.10.13)")]
    return [
        _r(
            "openshift-version",
            "warn",
            f"OpenShift {version}; F5 tested SPK 1.5.0-1.6.1 on 4.10.13 only",
            "check the SPK release notes for your OpenShift version before installing",
        )
    ]


@check("network-type")
def network_type(f: ClusterFacts) -> list[CheckResult]:
    net = f.network_config
    if net is None:
        return [_r("network-type", "fail", "networks.config.openshift.io/cluster not found", "run: oc get network.config/cluster -o yaml")]
    kind = (net.get("status") or {}).get("networkType") or (net.get("spec") or {}).get("networkType")
    if kind == "OVNKubernetes":
        return [_r("network-type", "pass", "cluster network type is OVNKubernetes")]
    return [
        _r(
            "network-type",
            "fail",
            f"cluster network type is {kind or 'unknown'}, SPK with macvlan needs OVNKubernetes",
            "migrate the cluster to OVN-Kubernetes (see OpenShift 'Migrating from the OpenShift SDN network plugin')",
        )
    ]


@check("multus-nad-crd")
def multus(f: ClusterFacts) -> list[CheckResult]:
    if f.target.exists("customresourcedefinitions", NAD_CRD):
        return [_r("multus-nad-crd", "pass", f"CRD {NAD_CRD} exists")]
    return [
        _r(
            "multus-nad-crd",
            "fail",
            f"CRD {NAD_CRD} is missing: Multus is not installed or disabled",
            "enable Multus: oc patch network.operator cluster --type merge -p '{\"spec\":{\"disableMultiNetwork\":false}}'",
        )
    ]


@check("tmm-nodes")
def tmm_nodes(f: ClusterFacts) -> list[CheckResult]:
    sel = f.lab.tmm.selector_string() or "(all nodes)"
    nodes = f.tmm_nodes
    if not nodes:
        return [
            _r(
                "tmm-nodes",
                "fail",
                f"no node matches tmm.node_selector {sel}",
                f"label the nodes for TMM (oc label node <n> {sel}) or fix tmm.node_selector",
            )
        ]
    ready = [n for n in nodes if node_ready(n)]
    status = "pass" if len(ready) >= 1 else "fail"
    names = ", ".join(n["metadata"]["name"] for n in nodes[:8]) + (" ..." if len(nodes) > 8 else "")
    return [
        _r(
            "tmm-nodes",
            status,
            f"{len(nodes)} node(s) match {sel} ({len(ready)} Ready): {names}",
            "" if status == "pass" else "make at least one TMM node Ready",
        )
    ]


def _alloc(node: Obj, key: str) -> float:
    st = node.get("status") or {}
    v = (st.get("allocatable") or {}).get(key, (st.get("capacity") or {}).get(key, "0"))
    return float(sizing.parse_quantity(str(v)))


def _fmt_bytes(b: float) -> str:
    return f"{b / 2**30:.2f}Gi" if b >= 2**30 else f"{b / 2**20:.0f}Mi"


def _each_tmm_node(f: ClusterFacts, name: str, fn: Callable[[Obj], CheckResult]) -> list[CheckResult]:
    nodes = f.tmm_nodes
    if not nodes:
        return [_r(name, "skip", "no TMM nodes to check", "see the tmm-nodes check")]
    rows = [fn(n) for n in nodes]
    # On big clusters, fold the passing rows into one so the table stays readable.
    passing = [r for r in rows if r.status == "pass"]
    if len(rows) > 10 and passing:
        rows = [r for r in rows if r.status != "pass"] + [
            _r(name, "pass", f"{len(passing)} node(s) pass; e.g. {passing[0].subject}: {passing[0].evidence}", subject=f"{len(passing)} nodes")
        ]
    return rows


@check("hugepages")
def hugepages(f: ClusterFacts) -> list[CheckResult]:
    res = sizing.tmm_resources(f.lab)
    key = res.hugepages_resource
    per_node = -(-f.lab.tmm.replicas // max(1, len(f.tmm_nodes)))  # replicas spread over the nodes

    def one(n: Obj) -> CheckResult:
        name = n["metadata"]["name"]
        have = _alloc(n, key)
        need = res.hugepages_bytes * per_node
        if have <= 0:
            return _r("hugepages", "fail", f"no {key} allocatable", "configure hugepages (PerformanceProfile or a MachineConfig) and reboot the node", name)
        if have < need:
            return _r("hugepages", "fail", f"{key} allocatable {_fmt_bytes(have)} < {_fmt_bytes(need)} needed", "allocate more hugepages or lower tmm.cpu", name)
        note = f" ({res.assumption})" if res.assumption else ""
        return _r("hugepages", "pass" if not res.assumption else "warn", f"{key} allocatable {_fmt_bytes(have)} >= {_fmt_bytes(need)} needed{note}", "", name)

    return _each_tmm_node(f, "hugepages", one)


def _source(settings: dict[str, Any], key: str) -> str:
    """Where a kubelet setting came from, for the evidence (or why nothing could say)."""
    src = (settings.get("_source_of") or {}).get(key)
    if src:
        return str(src)
    if settings.get("_sources"):
        return f"not set by {', '.join(settings['_sources'])}: the kubelet's default"
    return "; ".join(["no KubeletConfig or PerformanceProfile applies", *([settings["_unread"]] if settings.get("_unread") else [])])


@check("cpu-manager")
def cpu_manager(f: ClusterFacts) -> list[CheckResult]:
    def one(n: Obj) -> CheckResult:
        name = n["metadata"]["name"]
        ks = f.kubelet_settings(n)
        policy = ks.get("cpuManagerPolicy")
        src = _source(ks, "cpuManagerPolicy")
        if str(policy).lower() == "static":
            return _r("cpu-manager", "pass", f"cpuManagerPolicy static ({src})", "", name)
        return _r(
            "cpu-manager",
            "fail",
            f"cpuManagerPolicy {policy or 'none (default)'} ({src}): TMM would get no CPU of its own, "
            "it would run on the node's shared CPUs",
            "create a KubeletConfig with cpuManagerPolicy: static for the node's MachineConfigPool; "
            f"confirm with: oc get --raw /api/v1/nodes/{name}/proxy/configz",
            name,
        )

    return _each_tmm_node(f, "cpu-manager", one)


@check("topology-manager")
def topology_manager(f: ClusterFacts) -> list[CheckResult]:
    want = f.lab.tmm.topology_manager

    def one(n: Obj) -> CheckResult:
        name = n["metadata"]["name"]
        ks = f.kubelet_settings(n)
        policy = ks.get("topologyManagerPolicy") or "none"
        src = _source(ks, "topologyManagerPolicy")
        strict = policy in ("single-numa-node", "restricted")
        if not want and strict:
            return _r(
                "topology-manager",
                "warn",
                f"kubelet topologyManagerPolicy {policy} while tmm.topologyManager is false: the kubelet may reject TMM with TopologyAffinityError",
                "use policy none/best-effort on TMM nodes, or make sure TMM's CPUs and hugepages fit one NUMA node",
                name,
            )
        if want and policy in ("none", "default"):
            return _r("topology-manager", "warn", "tmm.topologyManager is true but the kubelet policy is none", "set tmm.topology_manager: false (the macvlan setting of F5's guide)", name)
        return _r("topology-manager", "pass", f"kubelet topologyManagerPolicy {policy} ({src}), tmm.topologyManager {str(want).lower()}", "", name)

    return _each_tmm_node(f, "topology-manager", one)


@check("master-interfaces")
def master_interfaces(f: ClusterFacts) -> list[CheckResult]:
    """The two masters on every TMM node, as ``cluster.facts.master_nics`` judges them (one row per node and master)."""
    nns = f.nodenetworkstates
    nodes = f.tmm_nodes
    if not nodes:
        return [_r("master-interfaces", "skip", "no TMM nodes to check", "see the tmm-nodes check")]
    found = master_nics(f.lab, f.node_interfaces())
    masters = [net.master for _, net in f.lab.networks.ordered()]
    rows: list[CheckResult] = []
    for n in nodes:
        name = n["metadata"]["name"]
        if nns is None or name not in nns:
            how = "; ".join(f"oc debug node/{name} -- chroot /host sh -c 'ip -br link show {m}; cat /sys/class/net/{m}/flags'"
                            for m in masters)
            why = ("no NodeNetworkState (install the Kubernetes NMState Operator to let the tool see node NICs)"
                   if nns is None else "no NodeNetworkState for this node")
            rows.append(_r("master-interfaces", "warn", f"interfaces unknown: {why}", f"check by hand: {how}", name))
            continue
        for m in (x for x in found if x.node == name):
            check = "master-bridge-port" if m.kind == "bridge-port" else "master-interfaces"
            rows.append(_r(check, m.status, m.sentence, m.action, name))
    passing = [r for r in rows if r.status == "pass"]
    if len(nodes) > 10 and passing:
        rows = [r for r in rows if r.status != "pass"] + [
            _r("master-interfaces", "pass", f"{len(passing)} interface(s) up and promiscuous on {len(nodes)} nodes", subject=f"{len(nodes)} nodes")
        ]
    return rows


# What the hypervisor or cloud must allow for macvlan MACs to pass, by platformStatus.type.
# None of it can be seen from inside the cluster: the hint is a warning, never a pass.
PLATFORM_HINTS: dict[str, tuple[str, str]] = {
    "VSphere": ("the port groups of both masters must allow promiscuous mode AND forged transmits "
                "(or MAC learning on a vSphere 6.7+ distributed switch)",
                "vSphere: port group > Security: Promiscuous mode Accept, Forged transmits Accept "
                "(or enable MAC learning on the distributed port group)"),
    "OpenStack": ("Neutron drops frames from MACs it did not assign: the masters' ports need port security "
                  "off, or allowed-address-pairs for the macvlan MACs and self IPs",
                  "openstack port set --no-security-group --disable-port-security <port> "
                  "(or --allowed-address ip-address=<self IP>,mac-address=<MAC>)"),
    "AWS": ("EC2 drops frames from MACs it did not assign to the ENI: macvlan does not pass traffic there",
            "use an ENI per TMM interface (ipvlan or SR-IOV) instead of macvlan"),
    "Azure": ("Azure drops frames from MACs it did not assign to the NIC: macvlan does not pass traffic there",
              "use ipvlan or accelerated networking instead of macvlan"),
    "GCP": ("GCP drops frames from MACs it did not assign: macvlan does not pass traffic there",
            "use ipvlan or an extra NIC per TMM interface instead of macvlan"),
}


@check("platform")
def platform(f: ClusterFacts) -> list[CheckResult]:
    kind = f.platform
    if kind is None:
        return [_r("platform", "warn", "infrastructures.config.openshift.io/cluster has no platformStatus.type",
                   "run: oc get infrastructure cluster -o jsonpath='{.status.platformStatus.type}'")]
    hint = PLATFORM_HINTS.get(kind)
    if hint is None:
        return [_r("platform", "pass", f"platform {kind}: no hypervisor setting stands between macvlan and the wire")]
    why, action = hint
    return [_r("platform", "warn", f"platform {kind}: {why}; this cannot be seen from inside the cluster", action)]


@check("node-capacity")
def node_capacity(f: ClusterFacts) -> list[CheckResult]:
    res = sizing.tmm_resources(f.lab)
    need_cpu = res.cpu + sizing.DEBUG_SIDECAR_CPU
    need_mem = res.memory_bytes + float(sizing.parse_quantity(sizing.DEBUG_SIDECAR_MEMORY))

    def one(n: Obj) -> CheckResult:
        name = n["metadata"]["name"]
        cpu, mem = _alloc(n, "cpu"), _alloc(n, "memory")
        short = []
        if cpu < need_cpu:
            short.append(f"cpu {cpu:g} < {need_cpu:g}")
        if mem < need_mem:
            short.append(f"memory {_fmt_bytes(mem)} < {_fmt_bytes(need_mem)}")
        ev = f"allocatable cpu {cpu:g}, memory {_fmt_bytes(mem)}; TMM ({res.cpu} CPU, {res.memory}) + debug sidecar needs {need_cpu:g} CPU, {_fmt_bytes(need_mem)}"
        if short:
            return _r("node-capacity", "fail", "; ".join(short) + f" ({ev})", "lower tmm.cpu or use bigger nodes", name)
        return _r("node-capacity", "pass", ev, "", name)

    return _each_tmm_node(f, "node-capacity", one)


def checks(lab: Lab, target: Target, *, only: list[str] | None = None, facts: ClusterFacts | None = None) -> Findings:
    """Run every registered check (or ``only`` those named) and return the table.

    An unreachable cluster or RBAC denial stops with ``ClusterUnreachable``/``Forbidden``;
    any other error inside one check becomes a failed row for that check.
    """
    facts = facts or ClusterFacts.of(lab, target)
    out = Findings("Prerequisites")
    for name, fn in REGISTRY:
        if only and name not in only:
            continue
        try:
            out.extend(fn(facts))
        except (ClusterUnreachable, Forbidden):
            raise
        except SpkRunbookError as exc:
            out.add(name, "fail", str(exc.message), exc.hint or "")
    return out


INTERFACE_COLUMNS = ["node", "interface", "type", "state", "promisc", "mtu", "mac", "bridge", "role"]


def interfaces(lab: Lab, target: Target, *, facts: ClusterFacts | None = None) -> Table:
    """The TMM nodes' interfaces as NodeNetworkState reports them (a note when it does not)."""
    facts = facts or ClusterFacts.of(lab, target)
    try:
        data = facts.node_interfaces().interfaces
    except (ClusterUnreachable, Forbidden):
        raise
    except SpkRunbookError as exc:  # e.g. a damaged must-gather file: the checks above name it too
        return Table(pd.DataFrame(columns=INTERFACE_COLUMNS), title="TMM node interfaces", status_column=None,
                     empty="not read", note=f"the node interfaces could not be read: {exc.message}")
    roles = {lab.networks.internal.master: "internal master", lab.networks.external.master: "external master"}
    rows = [
        {"node": n, "interface": i, **{k: v.get(k) for k in ("type", "state", "promisc", "mtu", "mac")},
         "bridge": v.get("controller") or "", "role": roles.get(i, "")}
        for n, ifaces in data.items()
        for i, v in ifaces.items()
    ]
    note = "" if data else "the target reports no node interfaces (no NodeNetworkState): install the NMState operator to see them"
    return Table(pd.DataFrame(rows, columns=INTERFACE_COLUMNS), title="TMM node interfaces", status_column=None,
                 empty="no interfaces reported", note=note)


@dataclass(repr=False)
class PrereqsResult(StepResult):
    """The prerequisites step: the checks and the node interfaces they looked at."""

    title: ClassVar[str] = "prerequisites"
    checks: Findings
    interfaces: Table

    @property
    def parts(self) -> list[Any]:
        return [self.checks, self.interfaces]

    @property
    def findings(self) -> Findings:
        return self.checks

    def to_dict(self) -> dict[str, Any]:
        return {"checks": self.checks.to_dict(), "interfaces": self.interfaces.frame.to_dict(orient="records")}

    def files(self) -> dict[str, str | bytes]:
        return {**self.checks.files(), "node-interfaces.csv": self.interfaces.frame.to_csv(index=False)}


def run(lab: Lab, target: Target) -> PrereqsResult:
    """The step: every prerequisite of F5's macvlan guide checked against the target, with the NICs it saw."""
    facts = ClusterFacts.of(lab, target, fresh=True)
    return PrereqsResult(checks(lab, target, facts=facts), interfaces(lab, target, facts=facts))
