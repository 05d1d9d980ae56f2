#!/usr/bin/env python3
"""Build a lab's OVN northbound databases with the real OVN tools and write them as must-gather does.

    python scripts/make_nbdb.py --snapshot SNAPSHOT --params PARAMS --out DATA_DIR [--mode MODE]

Why: the debugging step reads OVN routes from the NB databases a must-gather
holds (``spkrunbook.cluster.ovn.nbdb``); its test data must be databases the real
``ovsdb-tool``/``ovsdb-server``/``ovn-nbctl`` made, not text written by hand.

What is built, from the snapshot's nodes (``k8s.ovn.org/node-subnets``,
``l3-gateway-config``), its cluster network, the TMM pod's ICNI2 annotations
(``k8s.ovn.org/routing-namespaces``, ``bfd-enabled``) and the params' internal
self IPs (``vlans.internal.selfip_v4s``): the topology OVN-Kubernetes makes for
those nodes (``ovn_cluster_router``, node switches, ``join``, ``GR_<node>`` with
``rtoj-``/``rtoe-`` ports, ``ext_<node>``), its static routes and its reroute /
allow policies, and for each pod in a routing namespace a ``src-ip`` route on its
node's gateway router via each TMM internal self IP, ``--ecmp-symmetric-reply``
(``--bfd`` when the TMM pod asks for it). Interconnect databases hold one zone
(the node, named in ``NB_Global options:name``), a ``transit_switch`` and routes to
the other zones through it.

What is written under DATA_DIR (a must-gather image folder), by ``--mode``:

- ``interconnect``: ``network_logs/ovnk_database_store.tar.gz`` with
  ``ovnk_database_store/<ovnkube-node pod>_nbdb`` (standalone, as ``ovn-ctl
  run_nb_ovsdb`` runs it in OpenShift 4.14+) and ``<pod>_sbdb`` (an empty SB
  database: SB content is not modelled);
- ``legacy``: ``network_logs/leader_nbdb.gz`` (clustered with ``ovsdb-tool
  create-cluster``, local address ``ssl:<first master IP>:9643`` as the 4.10
  ovnkube-master uses) and ``leader_sbdb.gz``;
- ``auto`` (default): what must-gather would collect: interconnect when the first
  node's ``k8s.ovn.org/zone-name`` equals its name, else legacy; ``both``: both.

Pods the snapshot lacks are added and each one printed: an ovnkube-node pod for
every node (interconnect names a database after its pod), and ``--app-pods``
pods in the first routing namespace on the TMM node when that namespace has none
(they are what the ICNI2 routes are for). When DATA_DIR is not the snapshot's own
folder, the ``openshift-ovn-kubernetes`` pods are also written there as
``namespaces/openshift-ovn-kubernetes/core/pods.yaml`` so the pod -> node map
travels with the databases.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from spkrunbook.cluster.ovn.nbdb import OVN_NAMESPACE, OvnTools, accepts_connections, find_tools

ROOT = Path(__file__).resolve().parents[1]

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"
JOIN_SUBNET = ipaddress.IPv4Network("100.64.0.0/16")
TRANSIT_SUBNET = ipaddress.IPv4Network("100.88.0.0/16")
_UNSET = ipaddress.IPv4Address(0)
MASQUERADE_SUBNET, MASQUERADE_NEXTHOP = "169.254.169.0/29", "169.254.169.4"
NB_RAFT_PORT = 9643  # openshift/cluster-network-operator release-4.10 pkg/network/ovn_kubernetes.go
SB_RAFT_PORT = 9644
STORE = "ovnk_database_store"
Obj = dict[str, Any]


# -- reading the lab ---------------------------------------------------------------------------------------------
def _yaml() -> YAML:
    y = YAML(typ="safe", pure=False)
    return y


def _load(path: Path) -> list[Obj]:
    data = _yaml().load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return []
    if str(data.get("kind", "")).endswith("List"):
        return [i for i in data.get("items") or [] if isinstance(i, dict)]
    return [data]


def data_dir(snapshot: Path) -> Path:
    """The image folder of a must-gather (or the folder itself when it holds the resources)."""
    for p in [snapshot, *sorted(q for q in snapshot.iterdir() if q.is_dir())]:
        if (p / "cluster-scoped-resources").is_dir() or (p / "namespaces").is_dir():
            return p
    raise SystemExit(f"{snapshot} is not a must-gather folder (no cluster-scoped-resources/ or namespaces/)")


def _objects(data: Path, *rel: str) -> list[Obj]:
    """Objects of a list file and/or a folder of object files (``oc adm inspect`` writes either)."""
    base = data.joinpath(*rel)
    out: list[Obj] = []
    if base.with_suffix(".yaml").is_file():
        out += _load(base.with_suffix(".yaml"))
    if base.is_dir():
        for f in sorted(base.glob("*.yaml")) + sorted(base.glob("*/*.yaml")):
            out += _load(f)
    return out


def pods_in(data: Path, namespace: str) -> list[Obj]:
    seen: dict[str, Obj] = {}
    for obj in _objects(data, "namespaces", namespace, "core", "pods") + _objects(data, "namespaces", namespace, "pods"):
        if obj.get("kind", "Pod") == "Pod":
            seen.setdefault(obj["metadata"]["name"], obj)
    return [seen[k] for k in sorted(seen)]


@dataclass
class Node:
    """What OVN needs to know about one node, and the addresses OVN-Kubernetes gives it."""

    name: str
    master: bool
    ip: ipaddress.IPv4Interface
    next_hop: str
    mac: str
    subnet: ipaddress.IPv4Network
    zone: str
    join_ip: ipaddress.IPv4Address = _UNSET
    transit_ip: ipaddress.IPv4Address = _UNSET

    @property
    def router_ip(self) -> str:  # rtos-<node>: the node subnet's first address
        return f"{self.subnet.network_address + 1}/{self.subnet.prefixlen}"

    @property
    def mgmt_ip(self) -> str:  # k8s-<node> (ovn-k8s-mp0): the second address
        return str(self.subnet.network_address + 2)


@dataclass
class AppPod:
    name: str
    namespace: str
    node: str
    ip: str
    added: bool = False


@dataclass
class Lab:
    nodes: list[Node]
    cluster_cidr: str
    selfips: list[str]
    bfd: bool
    tmm_node: str
    routing_namespaces: list[str]
    app_pods: list[AppPod]
    ovnkube_node_pods: dict[str, str]  # node -> pod
    ovn_pods: list[Obj]  # every openshift-ovn-kubernetes pod to write beside the databases
    added_pods: list[Obj] = field(default_factory=list)


def _annotation(obj: Obj, key: str) -> Any:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def mac_for(ip: str) -> str:
    """OVN-Kubernetes' address-derived MAC (``0a:58:`` and the IPv4 bytes)."""
    return "0a:58:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def read_lab(data: Path, params: Path, app_pods: int) -> Lab:
    p = _yaml().load(params.read_text(encoding="utf-8"))
    selfips = [str(ip) for ip in ((p.get("vlans") or {}).get("internal") or {}).get("selfip_v4s") or []]
    tmm_ns = str((p.get("tmm") or {}).get("namespace") or "default")
    if not selfips:
        raise SystemExit(f"{params}: vlans.internal.selfip_v4s is empty: no TMM next hop for the ICNI2 routes")
    nets = _objects(data, "cluster-scoped-resources", "config.openshift.io", "networks")
    cidr = str(((nets[0].get("status") or nets[0].get("spec") or {}).get("clusterNetwork") or [{}])[0].get("cidr")
               or "10.128.0.0/14") if nets else "10.128.0.0/14"
    nodes = []
    for obj in sorted(_objects(data, "cluster-scoped-resources", "core", "nodes"), key=lambda o: o["metadata"]["name"]):
        name = obj["metadata"]["name"]
        labels = obj["metadata"].get("labels") or {}
        gw = (_annotation(obj, "k8s.ovn.org/l3-gateway-config") or {}).get("default") or {}
        subnets = _annotation(obj, "k8s.ovn.org/node-subnets") or {}
        subnet = subnets.get("default") if isinstance(subnets, dict) else None
        if isinstance(subnet, list):
            subnet = subnet[0]
        if not gw or not subnet:
            raise SystemExit(f"node {name} has no k8s.ovn.org/l3-gateway-config or node-subnets annotation: "
                             "not an OVN-Kubernetes node")
        nodes.append(Node(
            name=name, master="node-role.kubernetes.io/master" in labels,
            ip=ipaddress.IPv4Interface(gw.get("ip-address") or gw["ip-addresses"][0]),
            next_hop=str(gw.get("next-hop") or gw["next-hops"][0]), mac=str(gw["mac-address"]).lower(),
            subnet=ipaddress.IPv4Network(subnet), zone=str(_annotation(obj, "k8s.ovn.org/zone-name") or "")))
    if not nodes:
        raise SystemExit(f"{data} has no nodes (cluster-scoped-resources/core/nodes)")
    for k, n in enumerate(nodes):  # join / transit addresses in node-name order, .1 being ovn_cluster_router's
        n.join_ip = JOIN_SUBNET.network_address + 2 + k
        n.transit_ip = TRANSIT_SUBNET.network_address + 2 + k

    tmm = [t for t in pods_in(data, tmm_ns) if (t["metadata"].get("labels") or {}).get("app") == "f5-tmm"]
    if not tmm:
        raise SystemExit(f"no TMM pod (label app=f5-tmm) in namespace {tmm_ns} of {data}")
    tmm_pod = tmm[0]
    tmm_node = str(tmm_pod["spec"]["nodeName"])
    routing = [s.strip() for s in str(_annotation(tmm_pod, "k8s.ovn.org/routing-namespaces") or "").split(",")
               if s.strip()]
    bfd = "k8s.ovn.org/bfd-enabled" in (tmm_pod["metadata"].get("annotations") or {})
    apps: list[AppPod] = []
    for ns in routing:
        for pod in pods_in(data, ns):
            ip = (pod.get("status") or {}).get("podIP")
            if ip and (pod.get("spec") or {}).get("nodeName"):
                apps.append(AppPod(pod["metadata"]["name"], ns, pod["spec"]["nodeName"], str(ip)))
    if routing and not apps and app_pods:
        node = next(n for n in nodes if n.name == tmm_node)
        for i in range(app_pods):  # .41, .42: the addresses the demo's saved ovn-nbctl outputs show
            apps.append(AppPod(f"spk-app-{i}", routing[0], tmm_node, str(node.subnet.network_address + 41 + i),
                               added=True))

    ovn_pods = pods_in(data, OVN_NAMESPACE)
    by_node = {str(p["spec"]["nodeName"]): p["metadata"]["name"] for p in ovn_pods
               if (p["metadata"].get("labels") or {}).get("app") == "ovnkube-node" and p.get("spec", {}).get("nodeName")}
    return Lab(nodes, cidr, selfips, bfd, tmm_node, routing, apps, by_node, ovn_pods)


def ensure_ovnkube_node_pods(lab: Lab) -> None:
    """Give every node an ovnkube-node pod (as the DaemonSet does): interconnect names each database after one."""
    template = next((p for p in lab.ovn_pods if (p["metadata"].get("labels") or {}).get("app") == "ovnkube-node"),
                    None)
    taken = {p["metadata"]["name"] for p in lab.ovn_pods}
    index = len(lab.ovnkube_node_pods)  # continue the demo's naming (a000x, b001x, ...) after the existing pods
    for node in lab.nodes:
        if node.name in lab.ovnkube_node_pods:
            continue
        name = f"ovnkube-node-{'abcdefgh'[index % 8]}{index:03d}x"
        while name in taken:
            index += 1
            name = f"ovnkube-node-{'abcdefgh'[index % 8]}{index:03d}x"
        index += 1
        pod: Obj = copy.deepcopy(template) if template else {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": OVN_NAMESPACE, "labels": {"app": "ovnkube-node", "component": "network"}},
            "spec": {"containers": [{"name": c} for c in ("ovn-controller", "northd", "nbdb", "sbdb",
                                                           "ovnkube-controller")]},
            "status": {"phase": "Running"}}
        pod["metadata"]["name"] = name
        pod["metadata"].pop("uid", None)
        pod["spec"]["nodeName"] = node.name
        taken.add(name)
        lab.ovn_pods.append(pod)
        lab.added_pods.append(pod)
        lab.ovnkube_node_pods[node.name] = name


# -- building with the real tools ---------------------------------------------------------------------------------
class NbServer:
    """A fresh standalone NB database served by a private ovsdb-server, written with ovn-nbctl."""

    def __init__(self, tools: OvnTools, work: Path, name: str) -> None:
        self.tools, self.dir = tools, work / name
        self.dir.mkdir()
        self.db = self.dir / "nb.db"
        self.sock = self.dir / "nb.sock"
        self.env = {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_LOGDIR": str(self.dir),
                    "OVS_DBDIR": str(self.dir)}
        for k in ("OVN_NB_DAEMON", "OVN_NBCTL_OPTIONS", "OVN_NB_DB"):
            self.env.pop(k, None)
        subprocess.run([tools.ovsdb_tool, "create", str(self.db), NB_SCHEMA], check=True, env=self.env)
        with open(self.dir / "ovsdb-server.log", "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([tools.ovsdb_server, str(self.db), f"--remote=punix:{self.sock}",
                                          f"--unixctl={self.dir / 'ctl'}", "--no-chdir", "-vsyslog:off"],
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + 10
        while not accepts_connections(self.sock):  # the file appears at bind(), before listen()
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"ovsdb-server did not start: {(self.dir / 'ovsdb-server.log').read_text()}")
            time.sleep(0.01)
        self.batch: list[list[str]] = []

    def __call__(self, *args: str) -> None:
        """Queue one ovn-nbctl command (options first, as ovn-nbctl wants them)."""
        self.batch.append(list(args))

    def commit(self) -> None:
        """Run the queued commands as one ovn-nbctl transaction (``cmd1 -- cmd2 ...``)."""
        if not self.batch:
            return
        argv = [self.tools.ovn_nbctl, f"--db=unix:{self.sock}", "--timeout=30"]
        for i, cmd in enumerate(self.batch):
            argv += (["--"] if i else []) + cmd
        self.batch = []
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            self.stop()
            raise SystemExit(f"ovn-nbctl failed: {done.stderr.strip()}\n{' '.join(argv)[:2000]}")

    def query(self, *args: str) -> str:
        return subprocess.run([self.tools.ovn_nbctl, f"--db=unix:{self.sock}", "--timeout=30", *args],
                              env=self.env, capture_output=True, text=True, timeout=60, check=True).stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _router_port(nb: NbServer, switch: str, port: str, router_port: str) -> None:
    nb("lsp-add", switch, port)
    nb("lsp-set-type", port, "router")
    nb("lsp-set-addresses", port, "router")
    nb("lsp-set-options", port, f"router-port={router_port}")


def build_zone(nb: NbServer, lab: Lab, local: list[Node], interconnect: bool) -> None:
    """The OVN-Kubernetes topology for the ``local`` nodes (all of them in legacy mode, one in interconnect)."""
    cluster = lab.cluster_cidr
    if interconnect:
        nb("set", "NB_Global", ".", f"options:name={local[0].name}")
    nb("lr-add", "ovn_cluster_router")
    nb("ls-add", "join")
    nb("lrp-add", "ovn_cluster_router", "rtoj-ovn_cluster_router", mac_for("100.64.0.1"), "100.64.0.1/16")
    _router_port(nb, "join", "jtor-ovn_cluster_router", "rtoj-ovn_cluster_router")
    nb.commit()
    for n in local:
        nb("ls-add", n.name)
        nb("set", "Logical_Switch", n.name, f"other_config:subnet={n.subnet}")
        nb("lrp-add", "ovn_cluster_router", f"rtos-{n.name}", mac_for(str(n.subnet.network_address + 1)),
           n.router_ip)
        _router_port(nb, n.name, f"stor-{n.name}", f"rtos-{n.name}")
        nb("lsp-add", n.name, f"k8s-{n.name}")
        nb("lsp-set-addresses", f"k8s-{n.name}", f"{mac_for(n.mgmt_ip)} {n.mgmt_ip}")
        gr = f"GR_{n.name}"
        nb("lr-add", gr)
        nb("set", "Logical_Router", gr, f"external_ids:physical_ip={n.ip.ip}")
        nb("lrp-add", gr, f"rtoj-{gr}", mac_for(str(n.join_ip)), f"{n.join_ip}/{JOIN_SUBNET.prefixlen}")
        _router_port(nb, "join", f"jtor-{gr}", f"rtoj-{gr}")
        nb("ls-add", f"ext_{n.name}")
        nb("lrp-add", gr, f"rtoe-{gr}", n.mac, str(n.ip))
        _router_port(nb, f"ext_{n.name}", f"etor-{gr}", f"rtoe-{gr}")
        nb("lsp-add", f"ext_{n.name}", f"br-ex_{n.name}")
        nb("lsp-set-type", f"br-ex_{n.name}", "localnet")
        nb("lsp-set-addresses", f"br-ex_{n.name}", "unknown")
        nb("lsp-set-options", f"br-ex_{n.name}", "network_name=physnet")
        nb("lr-route-add", gr, cluster, "100.64.0.1")
        nb("lr-route-add", gr, "0.0.0.0/0", n.next_hop, f"rtoe-{gr}")
        nb("lr-route-add", gr, MASQUERADE_SUBNET, MASQUERADE_NEXTHOP, f"rtoe-{gr}")
        nb("lr-route-add", "ovn_cluster_router", str(n.join_ip), str(n.join_ip))
        nb("--policy=src-ip", "lr-route-add", "ovn_cluster_router", str(n.subnet), str(n.join_ip))
        nb("lr-policy-add", "ovn_cluster_router", "1004",
           f'inport == "rtos-{n.name}" && ip4.dst == {n.ip.ip} /* {n.name} */', "reroute", n.mgmt_ip)
        nb.commit()
    nb("lr-policy-add", "ovn_cluster_router", "101", f"ip4.src == {cluster} && ip4.dst == {cluster}", "allow")
    nb("lr-policy-add", "ovn_cluster_router", "101", f"ip4.src == {cluster} && ip4.dst == {JOIN_SUBNET}", "allow")
    for n in lab.nodes:
        nb("lr-policy-add", "ovn_cluster_router", "101", f"ip4.src == {cluster} && ip4.dst == {n.ip.ip}/32", "allow")
    if interconnect:  # other zones are reached through the transit switch
        me = local[0]
        nb("ls-add", "transit_switch")
        nb("set", "Logical_Switch", "transit_switch", "other_config:interconn-ts=transit_switch")
        nb("lrp-add", "ovn_cluster_router", f"rtots-{me.name}", mac_for(str(me.transit_ip)),
           f"{me.transit_ip}/{TRANSIT_SUBNET.prefixlen}")
        _router_port(nb, "transit_switch", f"tstor-{me.name}", f"rtots-{me.name}")
        for r in lab.nodes:
            if r is me:
                continue
            nb("lsp-add", "transit_switch", f"tstor-{r.name}")
            nb("lsp-set-type", f"tstor-{r.name}", "remote")
            nb("lsp-set-addresses", f"tstor-{r.name}",
               f"{mac_for(str(r.transit_ip))} {r.transit_ip}/{TRANSIT_SUBNET.prefixlen}")
            nb("lsp-set-options", f"tstor-{r.name}", f"requested-chassis={r.name}")
            nb("lr-route-add", "ovn_cluster_router", str(r.subnet), str(r.transit_ip))
            nb("lr-route-add", "ovn_cluster_router", str(r.join_ip), str(r.transit_ip))
    nb.commit()
    names = {n.name for n in local}
    bfd: dict[tuple[str, str], str] = {}  # (GR port, next hop) -> BFD row: one session per TMM self IP and node
    for app in lab.app_pods:  # ICNI2: the pod's egress leaves through TMM's internal self IPs
        if app.node not in names:
            continue
        port = f"rtoe-GR_{app.node}"
        nb("lsp-add", app.node, f"{app.namespace}_{app.name}")
        nb("lsp-set-addresses", f"{app.namespace}_{app.name}", f"{mac_for(app.ip)} {app.ip}")
        for hop in lab.selfips:
            flags = ["--policy=src-ip", "--ecmp-symmetric-reply"]
            if lab.bfd:
                # ovn-nbctl's plain --bfd with an output port inserts a new BFD row each time, which the
                # (logical_port, dst_ip) index refuses for the second pod: create the session once, reference it.
                if (port, hop) not in bfd:
                    nb.commit()
                    bfd[(port, hop)] = nb.query("create", "BFD", f"logical_port={port}", f"dst_ip={hop}").strip()
                flags.append(f"--bfd={bfd[(port, hop)]}")
            nb(*flags, "lr-route-add", f"GR_{app.node}", app.ip, hop, port)
        nb.commit()


def build_db(tools: OvnTools, work: Path, name: str, lab: Lab, local: list[Node], interconnect: bool) -> Path:
    """A standalone NB database file for ``local`` nodes; returns its path (inside ``work``)."""
    nb = NbServer(tools, work, name)
    try:
        build_zone(nb, lab, local, interconnect)
        for n in local:  # fail loudly if the tools did not store what was asked
            routes = nb.query("lr-route-list", f"GR_{n.name}")
            for app in (a for a in lab.app_pods if a.node == n.name):
                assert all(f" {hop} src-ip" in "\n".join(line for line in routes.splitlines() if app.ip in line)
                           for hop in lab.selfips), routes
    finally:
        nb.stop()
    return nb.db


# -- writing in must-gather form ----------------------------------------------------------------------------------
def write_interconnect(tools: OvnTools, work: Path, lab: Lab, out: Path) -> Path:
    store = work / STORE
    store.mkdir()
    for n in lab.nodes:
        pod = lab.ovnkube_node_pods[n.name]
        shutil.copyfile(build_db(tools, work, f"ic-{n.name}", lab, [n], True), store / f"{pod}_nbdb")
        sb = work / f"{pod}_sbdb"  # made beside the store: ovsdb-tool leaves a lock file next to what it creates
        subprocess.run([tools.ovsdb_tool, "create", str(sb), SB_SCHEMA], check=True)
        shutil.copyfile(sb, store / sb.name)
    target = out / "network_logs" / "ovnk_database_store.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:  # what `tar -zcvf ... -C network_logs ovnk_database_store` holds
        tar.add(store, arcname=STORE, recursive=False)
        for f in sorted(store.iterdir()):
            tar.add(f, arcname=f"{STORE}/{f.name}")
    return target


def _gzip(src: Path, dst: Path) -> None:
    with open(src, "rb") as fi, gzip.open(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo)


def write_legacy(tools: OvnTools, work: Path, lab: Lab, out: Path) -> list[Path]:
    standalone = build_db(tools, work, "legacy", lab, lab.nodes, False)
    leader = next((n for n in lab.nodes if n.master), lab.nodes[0])
    nb_cluster, sb_cluster, sb_plain = work / "leader_nbdb", work / "leader_sbdb", work / "sb.db"
    subprocess.run([tools.ovsdb_tool, "create-cluster", str(nb_cluster), str(standalone),
                    f"ssl:{leader.ip.ip}:{NB_RAFT_PORT}"], check=True, capture_output=True)
    subprocess.run([tools.ovsdb_tool, "create", str(sb_plain), SB_SCHEMA], check=True)
    subprocess.run([tools.ovsdb_tool, "create-cluster", str(sb_cluster), str(sb_plain),
                    f"ssl:{leader.ip.ip}:{SB_RAFT_PORT}"], check=True, capture_output=True)
    logs = out / "network_logs"
    logs.mkdir(parents=True, exist_ok=True)
    written = []
    for f in (nb_cluster, sb_cluster):
        _gzip(f, logs / f"{f.name}.gz")
        written.append(logs / f"{f.name}.gz")
    return written


def _dump(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = YAML()
    y.default_flow_style = False
    with open(path, "w", encoding="utf-8") as fh:
        y.dump(obj, fh)


def write_pods(lab: Lab, snapshot_data: Path, out: Path) -> list[Path]:
    """Pods the databases refer to: added ones (per-pod files), and the OVN pod list when ``out`` is elsewhere."""
    written = []
    in_place = out.resolve() == snapshot_data.resolve()
    if in_place:
        for pod in lab.added_pods:
            name = pod["metadata"]["name"]
            p = out / "namespaces" / OVN_NAMESPACE / "pods" / name / f"{name}.yaml"
            _dump(pod, p)
            written.append(p)
    else:
        p = out / "namespaces" / OVN_NAMESPACE / "core" / "pods.yaml"
        _dump({"apiVersion": "v1", "kind": "PodList", "items": lab.ovn_pods, "metadata": {"resourceVersion": ""}}, p)
        written.append(p)
    for ns in sorted({a.namespace for a in lab.app_pods if a.added}):  # as oc adm inspect writes a namespace
        p = out / "namespaces" / ns / f"{ns}.yaml"
        if not p.exists():
            _dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}, p)
            written.append(p)
    for app in (a for a in lab.app_pods if a.added):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": app.name, "namespace": app.namespace, "labels": {"app": "spk-app"}},
               "spec": {"nodeName": app.node, "containers": [{"name": "app", "image": "registry.local/spk-app:1"}]},
               "status": {"phase": "Running", "podIP": app.ip, "podIPs": [{"ip": app.ip}]}}
        p = out / "namespaces" / app.namespace / "pods" / app.name / f"{app.name}.yaml"
        _dump(pod, p)
        written.append(p)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshot", type=Path, default=ROOT / "spkrunbook" / "demo" / "snapshot", help="must-gather folder to model")
    ap.add_argument("--params", type=Path, default=ROOT / "spkrunbook" / "demo" / "demo.yaml", help="lab params (TMM self IPs)")
    ap.add_argument("--out", type=Path, required=True, help="must-gather image folder to write network_logs/ into")
    ap.add_argument("--mode", choices=("auto", "interconnect", "legacy", "both"), default="auto")
    ap.add_argument("--app-pods", type=int, default=2,
                    help="pods to add in the first routing namespace when it has none (default 2)")
    args = ap.parse_args(argv)
    tools = find_tools()
    snap = data_dir(args.snapshot)
    lab = read_lab(snap, args.params, args.app_pods)
    mode = args.mode
    if mode == "auto":  # as gather_network_logs_basics decides, from the first node
        mode = "interconnect" if lab.nodes[0].zone == lab.nodes[0].name else "legacy"
        print(f"mode: {mode} (first node {lab.nodes[0].name}, zone-name {lab.nodes[0].zone or 'unset'})")
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="make-nbdb-") as tmp:
        work = Path(tmp)
        if mode in ("interconnect", "both"):
            ensure_ovnkube_node_pods(lab)
            ic = work / "ic"
            ic.mkdir()
            written.append(write_interconnect(tools, ic, lab, args.out))
        if mode in ("legacy", "both"):
            lg = work / "legacy"
            lg.mkdir()
            written += write_legacy(tools, lg, lab, args.out)
    written += write_pods(lab, snap, args.out)
    for pod in lab.added_pods:
        print(f"added pod {OVN_NAMESPACE}/{pod['metadata']['name']} on {pod['spec']['nodeName']} "
              "(the snapshot has no ovnkube-node pod there)")
    for app in (a for a in lab.app_pods if a.added):
        print(f"added pod {app.namespace}/{app.name} on {app.node} with IP {app.ip} "
              f"(routing namespace {app.namespace} has no pods in the snapshot)")
    for f in written:
        print(f"wrote {f} ({f.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
