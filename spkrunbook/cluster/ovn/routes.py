"""OVN routes: find the northbound database for a node, read its routes and policies, check them against TMM.

Where the NB database answers depends on the OpenShift release (facts D.2):
4.14 and later run ``nbdb`` in every ``ovnkube-node`` pod (node-local data);
before 4.14 the ``ovnkube-master-*`` pods hold a RAFT cluster of it (container
``nbdb``, or ``northd`` on layouts without one) and only the leader answers, so
each master is tried in turn.

With ICNI2 (``internal: true`` on the internal F5SPKVlan) OVN uses TMM's internal
self IPs as the egress gateway of the watched namespaces: the node's gateway
router ``GR_<node>`` gets ``src-ip`` routes (``ecmp-symmetric-reply``, ``bfd``)
whose next hop is a TMM internal self IP. ``check`` says plainly which are missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ... import display
from ...errors import ExecError, NotAvailable, ParseError, ResourceMissing, SpkRunbookError
from ...params import Lab
from ...results import CheckResult, Findings, Status
from ..base import Obj, Target
from ..facts import OVN_NAMESPACE, ClusterFacts, crd_installed
from . import listings, nbdb

CLUSTER_ROUTER = nbdb.CLUSTER_ROUTER


@dataclass
class NbdbLocation:
    """A pod/container that may answer ``ovn-nbctl``, and why it was chosen."""

    pod: str
    container: str
    reason: str
    namespace: str = OVN_NAMESPACE


def _containers(pod: Obj) -> list[str]:
    return [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]


def nbdb_candidates(lab: Lab, target: Target, node: str) -> tuple[list[NbdbLocation], str, str]:
    """Where to run ``ovn-nbctl`` for ``node``, best first, and the OVN mode with its evidence.

    Interconnect (``k8s.ovn.org/zone-name`` equals the node name): the ``ovnkube-node``
    pod on that node, container ``nbdb`` (``ovnkube-controller`` when there is none,
    as network-tools does). Legacy: the ``ovnkube-master`` pods (the RAFT leader
    answers; a follower that refuses is skipped). The other kind follows as a fallback.
    """
    facts = ClusterFacts.of(lab, target)
    mode, why = facts.ovn_mode(node)
    per_node = [p for p in facts.ovn_pods("app=ovnkube-node") if (p.get("spec") or {}).get("nodeName") == node]
    node_locs = []
    for p in per_node:
        cs = _containers(p)
        c = "nbdb" if "nbdb" in cs else "ovnkube-controller" if "ovnkube-controller" in cs else ""
        if c:
            node_locs.append(NbdbLocation(p["metadata"]["name"], c, f"{mode} ({why}): the NB database of node {node}"))
    master_locs = []
    for p in facts.ovn_pods("app=ovnkube-master"):
        cs = _containers(p)
        c = "nbdb" if "nbdb" in cs or not cs else "northd" if "northd" in cs else ""
        if c:
            master_locs.append(NbdbLocation(p["metadata"]["name"], c,
                                            f"{mode} ({why}): the NB database is a RAFT cluster in the ovnkube-master pods"))
    ordered = node_locs + master_locs if mode == "interconnect" else master_locs + node_locs
    return ordered, mode, why


@dataclass(repr=False)
class OvnRoutes:
    """Routes and policies read from the NB database, and the check against TMM's self IPs."""

    node: str = ""
    mode: str = ""
    mode_evidence: str = ""
    location: NbdbLocation | None = None
    gateway_router: str = ""
    gateway_routes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=listings.ROUTE_COLUMNS))
    cluster_routes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=listings.ROUTE_COLUMNS))
    policies: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=listings.POLICY_COLUMNS))
    attempts: list[str] = field(default_factory=list)
    skipped: str = ""
    error: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)
    others: list[OvnRoutes] = field(default_factory=list)  # the other nodes read (their checks are in ``checks``)
    nodes_why: str = ""

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def tmm_routes(self, selfips: list[str]) -> pd.DataFrame:
        """Routes of the gateway router whose next hop is one of ``selfips``."""
        df = self.gateway_routes
        return df[df["nexthop"].isin(selfips)] if not df.empty else df

    def route_tables(self) -> display.HTML:
        """The three tables ``ovn-nbctl`` printed, as readable tables (nothing cut, no index)."""
        where = self.location.reason if self.location else (self.skipped or self.error or "not read")
        return display.HTML(
            title=f"OVN route tables of {self.node or 'the node'}",
            body=f"<p style='color:#57606a'>{display.esc(where)}</p>"
            + display.heading(f"{self.gateway_router or 'gateway router'}: static routes", 5)
            + display.frame_html(self.gateway_routes, status_column=None, code_columns=("prefix", "nexthop"),
                                 empty="no routes")
            + display.heading(f"{CLUSTER_ROUTER}: static routes", 5)
            + display.frame_html(self.cluster_routes, status_column=None, empty="no routes")
            + display.heading(f"{CLUSTER_ROUTER}: policies", 5)
            + display.frame_html(self.policies, status_column=None, code_columns=("match",), empty="no policies",
                                 fold_at=400))

    def files(self) -> dict[str, str | bytes]:
        out: dict[str, str | bytes] = {f"ovn/{k}.txt": text for k, text in self.raw.items()}
        out["ovn/routes.json"] = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        return out

    @property
    def findings(self) -> Findings:
        f = Findings("OVN routes")
        f.extend(self.checks)
        return f

    def _repr_html_(self) -> str:
        return (display.frame_html(self.gateway_routes, status_column=None, empty="no routes read")
                + self.findings._repr_html_())

    def __repr__(self) -> str:  # a notebook's text/plain: one line
        return f"<OvnRoutes {self.gateway_router or self.node}: {len(self.gateway_routes)} route(s), {self.findings.verdict}>"

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "nodes_why": self.nodes_why, "other_nodes": [o.to_dict() for o in self.others],
                "mode": self.mode, "mode_evidence": self.mode_evidence,
                "gateway_router": self.gateway_router,
                "location": self.location.__dict__ if self.location else None, "attempts": self.attempts,
                "skipped": self.skipped, "error": self.error,
                "gateway_routes": self.gateway_routes.to_dict(orient="records"),
                "cluster_routes": self.cluster_routes.to_dict(orient="records"),
                "policies": self.policies.to_dict(orient="records"),
                "checks": [r.__dict__ for r in self.checks]}


def _nbctl(target: Target, loc: NbdbLocation, args: list[str], timeout: float) -> str:
    """``ovn-nbctl ARGS`` in the pod's NB database container; ExecError (with its stderr) when it fails."""
    argv = ["ovn-nbctl", *args]
    where = f"{loc.namespace}/{loc.pod} container {loc.container}"
    res = target.exec(loc.namespace, loc.pod, loc.container, argv, timeout=timeout)
    if res.timed_out:
        raise ExecError(f"`{' '.join(argv)}` in {where} did not finish within {timeout:g}s",
                        hint="raise debug.exec_timeout in the params")
    if res.exit_code != 0:
        tail = (res.stderr or res.stdout).decode("utf-8", "replace").strip()[-800:] or "(no output)"
        raise ExecError(f"`{' '.join(argv)}` in {where} exited with status {res.exit_code}: {tail}",
                        hint=f"run it by hand: oc exec -n {loc.namespace} {loc.pod} -c {loc.container} -- {' '.join(argv)}")
    return res.text


def _from_must_gather(target: Target, node: str, out: OvnRoutes, timeout: float) -> bool:
    """Where the target holds NB database files (a must-gather), read ``node``'s with the real OVN tools.

    True when this answered (routes or an error); False when the target holds no
    database or there are no OVN tools here, and the OVN pods are asked instead.
    """
    try:
        files = target.ovn_nb_databases()
    except SpkRunbookError:
        return False
    if not files:
        return False
    try:
        source, texts = nbdb.read_route_tables(files, node, timeout=timeout)
    except NotAvailable as exc:
        out.attempts.append(f"the must-gather's NB database: {exc.message}")
        return False
    except SpkRunbookError as exc:
        out.error = f"the must-gather's NB database cannot be read: {exc.message}"
        return True
    where = "network_logs/" + (source.member or source.path.name)
    out.location = NbdbLocation(where, "", f"{source.mode} must-gather database read with ovsdb-server and "
                                           f"ovn-nbctl: {source.describe()}", namespace="")
    _parse(out, texts, where)
    return True


def _parse(out: OvnRoutes, texts: dict[str, str], where: str) -> None:
    """The three listings into ``out``, from whichever database answered."""
    out.raw = texts
    try:
        out.gateway_routes = listings.parse_lr_route_list(texts["gateway"])
        out.cluster_routes = listings.parse_lr_route_list(texts["cluster"])
        out.policies = listings.parse_lr_policy_list(texts["policies"])
    except ParseError as exc:
        out.error = f"{where} answered, but: {exc}"


def read_routes(lab: Lab, target: Target, node: str, *, timeout: float = 30.0) -> OvnRoutes:
    """The three ``ovn-nbctl`` listings for ``node``: from the first NB database pod that answers (live, or
    its output saved in the snapshot), else from a must-gather's NB database read here with the OVN tools.

    Saved outputs come first so that what a snapshot says does not depend on the tools this host has.
    """
    out = OvnRoutes(node=node, gateway_router=f"GR_{node}")
    try:
        candidates, out.mode, out.mode_evidence = nbdb_candidates(lab, target, node)
    except SpkRunbookError as exc:
        if _from_must_gather(target, node, out, timeout):
            return out
        out.error = f"cannot list the OVN pods in {OVN_NAMESPACE}: {exc}"
        return out
    commands = {"gateway": ["lr-route-list", out.gateway_router], "cluster": ["lr-route-list", CLUSTER_ROUTER],
                "policies": ["lr-policy-list", CLUSTER_ROUTER]}
    unavailable = 0
    for loc in candidates:
        try:
            texts = {k: _nbctl(target, loc, args, timeout) for k, args in commands.items()}
        except NotAvailable as exc:
            unavailable += 1
            out.attempts.append(f"{loc.pod}/{loc.container}: {exc.message}")
            continue
        except SpkRunbookError as exc:
            out.attempts.append(f"{loc.pod}/{loc.container}: {exc.message}")
            continue
        out.location = loc
        _parse(out, texts, f"{loc.pod}/{loc.container}")
        return out
    if unavailable == len(candidates) and _from_must_gather(target, node, out, timeout):
        if not out.mode:
            try:
                out.mode, out.mode_evidence = ClusterFacts.of(lab, target).ovn_mode(node)
            except SpkRunbookError:
                pass
        return out
    if not candidates:
        out.error = f"no ovnkube-master pod and no ovnkube-node pod with an nbdb container on {node} in {OVN_NAMESPACE}"
    elif unavailable == len(candidates):
        out.skipped = ("the target holds no ovn-nbctl output for the NB database pods "
                       f"({', '.join(c.pod for c in candidates)}); reading OVN routes needs a live cluster")
    else:
        out.error = "no NB database pod answered: " + "; ".join(out.attempts)
    return out


def internal_vlan_is_internal(lab: Lab, target: Target) -> bool | None:
    """``spec.internal`` of the internal F5SPKVlan (None when the CR cannot be read)."""
    try:
        cr = target.get("f5-spk-vlans", lab.vlans.internal.name, lab.tmm.namespace)
    except (ResourceMissing, SpkRunbookError):
        return None
    return bool((cr.get("spec") or {}).get("internal", False))


def check(lab: Lab, target: Target, routes: OvnRoutes) -> list[CheckResult]:
    """Do OVN routes point at TMM's internal self IPs? One row per self IP, saying what is missing."""
    subject = routes.gateway_router or "OVN"
    name = "OVN routes via TMM"
    if routes.skipped:
        return [CheckResult(name, "skip", routes.skipped, "run on a live cluster", subject)]
    if routes.error:
        return [CheckResult(name, "fail", routes.error,
                            f"check the OVN pods: `oc get pods -n {OVN_NAMESPACE} -o wide`", subject)]
    internal = internal_vlan_is_internal(lab, target)
    selfips = list(lab.vlans.internal.selfip_v4s) + list(lab.vlans.internal.selfip_v6s)
    if internal is False:
        return [CheckResult(name, "skip", f"F5SPKVlan {lab.vlans.internal.name} is not internal: true, so OVN does "
                            "not route egress through TMM", "", subject)]
    if not selfips:
        return [CheckResult(name, "skip", "vlans.internal.selfip_v4s is empty: no TMM next hop to look for",
                            "list the internal self IPs in the params", subject)]
    rows = []
    note = "" if internal else f" (F5SPKVlan {lab.vlans.internal.name} could not be read; assuming internal: true)"
    gw = routes.gateway_routes
    for ip in selfips:
        hits = gw[gw["nexthop"] == ip] if not gw.empty else gw
        if hits.empty:
            others = sorted(set(gw.loc[gw["policy"] == "src-ip", "nexthop"])) if not gw.empty else []
            seen = f"; its src-ip routes go via {', '.join(others)}" if others else "; it has no src-ip routes at all"
            rows.append(CheckResult(
                name, "fail",
                f"no route on {routes.gateway_router} has next hop {ip} (TMM internal self IP){seen}{note}",
                "check that the TMM pod has the k8s.ovn.org/routing-namespaces and routing-network annotations "
                "(tmm.icni2.enabled: true), that the internal F5SPKVlan has internal: true, and the "
                "controller logs", ip))
            continue
        sources = ", ".join(hits["prefix"].tolist()[:6]) + (" ..." if len(hits) > 6 else "")
        symmetric = bool(hits["ecmp_symmetric_reply"].all())
        status: Status = "pass" if symmetric else "warn"
        evidence = (f"{len(hits)} src-ip route(s) on {routes.gateway_router} via {ip} for {sources}"
                    f"{'' if symmetric else '; some lack ecmp-symmetric-reply (replies may take another path)'}"
                    f"{'; BFD on' if bool(hits['bfd'].all()) else ''}{note}")
        rows.append(CheckResult(name, status, evidence, "" if symmetric else
                                "check the controller's ICNI2 settings", ip))
    return rows


def routed_nodes(lab: Lab, target: Target, pods: list[Obj]) -> tuple[list[str], str]:
    """The nodes whose gateway routers must route egress via TMM: where the pods of TMM's routing namespaces
    run (``spec.nodeName``; their routes live in their node's database), else TMM's own node; and why."""
    namespaces = sorted({ns.strip() for p in pods
                         for ns in ((p.get("metadata") or {}).get("annotations") or {}).get(LEGACY_ROUTING[0], "").split(",")
                         if ns.strip()})
    nodes: list[str] = []
    for ns in namespaces:
        try:
            nodes += [str((a.get("spec") or {}).get("nodeName")) for a in target.list("pods", ns)
                      if (a.get("spec") or {}).get("nodeName")]
        except SpkRunbookError:
            continue
    if nodes:
        return sorted(set(nodes)), f"the nodes of the pods in {', '.join(namespaces)} (TMM's routing namespaces)"
    tmm = next(((p.get("spec") or {}).get("nodeName") for p in pods if (p.get("spec") or {}).get("nodeName")), None)
    return ([tmm] if tmm else []), "TMM's node (no pod found in a routing namespace)"


def ovn_routes(lab: Lab, target: Target, *, node: str | None = None) -> OvnRoutes:
    """Read and check the OVN routes of each node that hosts a pod TMM routes (``node``: that node only).

    In interconnect mode each node's routes are in that node's database, so each
    node is read from its own; the first node's tables are shown, every node's checks kept.
    """
    try:
        pods = ClusterFacts.of(lab, target).tmm_pods()
    except SpkRunbookError as exc:
        out = OvnRoutes(error=f"cannot find the TMM pod: {exc}")
        out.checks = check(lab, target, out)
        return out
    nodes, why = ([node], "the node asked for") if node is not None else routed_nodes(lab, target, pods)
    if not nodes:
        out = OvnRoutes(error=f"no scheduled TMM pod ({lab.tmm.pod_selector!r} in {lab.tmm.namespace})")
        out.checks = check(lab, target, out)
        return out
    read = [read_routes(lab, target, n, timeout=lab.debug.exec_timeout) for n in nodes[:MAX_NODES]]
    out, out.others = read[0], read[1:]
    out.nodes_why = why
    out.checks = [row for r in read for row in check(lab, target, r)] + external_routes(lab, target, pods)
    return out


#: At most this many nodes' databases are read for one debugging run (each is a server start or an exec).
MAX_NODES = 20


LEGACY_ROUTING = ("k8s.ovn.org/routing-namespaces", "k8s.ovn.org/routing-network")


def external_routes(lab: Lab, target: Target, pods: list[Obj] | None = None) -> list[CheckResult]:
    """How OVN is told to route egress through TMM: AdminPolicyBasedExternalRoute objects, the legacy
    pod annotations, or both (which OVN-Kubernetes upstream no longer reads side by side)."""
    name, subject = "external routes", "egress via TMM"
    try:
        served = crd_installed(target, "adminpolicybasedexternalroutes.k8s.ovn.org", "adminpolicybasedexternalroutes")
        apbs: list[Obj] | None = target.list("adminpolicybasedexternalroutes") if served is not False else None
    except ResourceMissing:
        apbs = None  # the CRD is not installed (before OpenShift 4.14)
    except SpkRunbookError as exc:
        return [CheckResult(name, "warn", f"cannot list AdminPolicyBasedExternalRoute: {exc}",
                            "oc get adminpolicybasedexternalroutes", subject)]
    try:
        pods = pods if pods is not None else ClusterFacts.of(lab, target).tmm_pods()
    except SpkRunbookError:
        pods = []
    legacy = sorted({f"{p['metadata']['name']}: {k}={v}" for p in pods
                     for k, v in ((p.get("metadata") or {}).get("annotations") or {}).items() if k in LEGACY_ROUTING})
    selfips = set(lab.vlans.internal.selfip_v4s) | set(lab.vlans.internal.selfip_v6s)
    listed = []
    via_tmm = False
    for a in apbs or []:
        spec = a.get("spec") or {}
        hops = [h.get("ip") for h in ((spec.get("nextHops") or {}).get("static") or []) if isinstance(h, dict)]
        via_tmm = via_tmm or bool(selfips & set(hops))
        ns_sel = ((spec.get("from") or {}).get("namespaceSelector") or {}).get("matchLabels") or {}
        listed.append(f"{a['metadata']['name']} (from {ns_sel or 'any namespace'} via {', '.join(map(str, hops)) or 'dynamic hops'})")
    if apbs and legacy:
        return [CheckResult(name, "warn", f"both are in use: AdminPolicyBasedExternalRoute {'; '.join(listed)} and the "
                            f"TMM pod's legacy annotations ({'; '.join(legacy)})",
                            "keep one: newer OVN-Kubernetes reads only AdminPolicyBasedExternalRoute, so move the "
                            "routing-namespaces to one with nextHops.static = the internal self IPs", subject)]
    if apbs:
        status: Status = "pass" if via_tmm else "warn"
        return [CheckResult(name, status, f"AdminPolicyBasedExternalRoute: {'; '.join(listed)}",
                            "" if via_tmm else f"none names an internal self IP ({', '.join(sorted(selfips)) or 'none set'})"
                            " as a static next hop: egress does not go through TMM", subject)]
    if legacy:
        if apbs is None or served is None:
            return [CheckResult(name, "pass", f"legacy annotations ({'; '.join(legacy)}); this cluster has no "
                                "AdminPolicyBasedExternalRoute API", "", subject)]
        return [CheckResult(name, "warn", f"legacy annotations only ({'; '.join(legacy)}), while the cluster serves "
                            "AdminPolicyBasedExternalRoute, which upstream OVN-Kubernetes keeps alone",
                            "plan the move to an AdminPolicyBasedExternalRoute with the same namespaces and the internal "
                            "self IPs as static next hops", subject)]
    return [CheckResult(name, "skip", "neither AdminPolicyBasedExternalRoute objects nor legacy routing annotations "
                        "on the TMM pod: OVN does not route egress through TMM", "", subject)]
