"""What the data plane tier's tests share: pods on the real node, waiting for them, traffic on the lab networks."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from spkrunbook import params
from spkrunbook.cluster.base import Obj, Resource
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ClusterError, ResourceMissing
from spkrunbook.steps import nad
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.paths import DEMO_DIR, DEMO_PARAMS, ROOT
from tests.support.realcluster import ADMIN

CHART = ROOT / "tests" / "fixtures" / "charts" / "f5ingress-test"
NS = "default"
SECRETS = Resource("", "v1", "secrets", True, "Secret")


def demo_lab() -> params.Lab:
    return params.load(DEMO_PARAMS)


def pod_manifest(name: str, dp: DataPlane, *, image: str = "debug", networks: str | None = None,
                 command: list[str] | None = None, resources: dict[str, Any] | None = None,
                 labels: dict[str, str] | None = None) -> Obj:
    ann = {"k8s.v1.cni.cncf.io/networks": networks} if networks else {}
    c: dict[str, Any] = {"name": "main", "image": dp.image_names[image], "imagePullPolicy": "IfNotPresent",
                         "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}}
    if command:
        c["command"] = command
    if resources:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "annotations": ann, "labels": labels or {"spkrunbook-test": name}},
            "spec": {"nodeName": None, "containers": [c], "terminationGracePeriodSeconds": 2}}


def running(pod: Obj) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and all(c.get("ready") for c in st.get("containerStatuses") or [{}])


def wait_pod(target: LiveTarget, name: str, ok: Callable[[Obj], bool] = running, *, timeout: float = 90,
             namespace: str = NS) -> Obj:
    deadline = time.monotonic() + timeout
    pod: Obj | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(ResourceMissing):
            pod = target.get("pods", name, namespace)
            if ok(pod):
                return pod
        time.sleep(0.3)
    raise AssertionError(f"pod {namespace}/{name} not as wanted after {timeout:g}s: {json.dumps((pod or {}).get('status'))[:1500]}")


def wait_gone(target: LiveTarget, plural: str, name: str, *, namespace: str = NS, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            target.get(plural, name, namespace)
        except ResourceMissing:
            return
        time.sleep(0.3)
    raise AssertionError(f"{plural}/{name} still there after {timeout:g}s")


def events_of(target: LiveTarget, name: str, namespace: str = NS) -> list[Obj]:
    return target.list("events", namespace, field_selector=f"involvedObject.name={name}")


def apply_nads(target: LiveTarget, lab: params.Lab | None = None) -> list[Obj]:
    out = []
    for obj in nad.build(lab or demo_lab()):
        with contextlib.suppress(ClusterError):
            target.delete("network-attachment-definitions", obj["metadata"]["name"], obj["metadata"]["namespace"], missing_ok=True)
        out.append(target.create("network-attachment-definitions", obj, obj["metadata"]["namespace"]))
    return out


def wipe(cluster: NodeCluster, dp: DataPlane, timeout: float = 90) -> None:
    """What a test made in the shared cluster: workloads, pods (waited until the kubelet stopped them), NADs,
    VLANs, helm releases and the OVN stand-in's namespace."""
    dp.drain(timeout)
    a = cluster.admin
    for plural in ("network-attachment-definitions", "f5-spk-vlans"):
        for obj in a.list(plural):
            a.delete(plural, obj["metadata"]["name"], obj["metadata"]["namespace"], missing_ok=True)
    for secret in a.list(SECRETS, None, label_selector="owner=helm"):
        a.delete(SECRETS, secret["metadata"]["name"], secret["metadata"]["namespace"], missing_ok=True)


def kubeconfig(cluster: NodeCluster, tmp: Path, user: str = ADMIN) -> Path:
    return cluster.kubeconfig(user, tmp / f"kc-{user}")


def write_yaml(path: Path, data: Any) -> Path:
    with open(path, "w") as fh:
        YAML().dump(data, fh)
    return path


@contextlib.contextmanager
def traffic(dp: DataPlane, master: str, url: str, *, every: float = 0.2) -> Iterator[subprocess.Popen[bytes]]:
    """HTTP requests from the lab network behind ``master`` to ``url`` (the TMM stand-in's self IP), every
    ``every`` seconds, until the block ends: what the debugging step captures."""
    m = next(x for x in dp.masters if x.name == master)
    code = ("import time, urllib.request\n"
            "while True:\n"
            "    try:\n"
            f"        urllib.request.urlopen({url!r}, timeout=2).read()\n"
            "    except OSError:\n"
            "        pass\n"
            f"    time.sleep({every})\n")
    proc = subprocess.Popen(["ip", "netns", "exec", m.netns, "python3", "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def demo_values() -> Path:
    return DEMO_DIR / "values" / "ingress-values.yaml"


OVN_NS = "openshift-ovn-kubernetes"


def ovn_standin(cluster: NodeCluster, dp: DataPlane, routes: dict[str, str]) -> Obj:
    """An ovnkube-node STAND-IN on the node: its ``nbdb`` container serves a real NB database (real
    ovsdb-server) holding ``routes`` (source prefix -> next hop) as ``src-ip`` routes of ``GR_<node>``, what
    OVN-Kubernetes writes for ICNI2. No OVN controller runs; the debugging step execs ovn-nbctl in it as it
    would in OpenShift's."""
    cluster.ensure_namespace(OVN_NS)
    name = f"ovnkube-node-{dp.name[:20]}"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": OVN_NS, "labels": {"app": "ovnkube-node"},
                        "annotations": {"spkrunbook.test/stand-in": "an ovnkube-node stand-in: a real NB database, no OVN"}},
           "spec": {"nodeName": dp.name, "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "nbdb", "image": dp.image_names["nbdb"], "imagePullPolicy": "IfNotPresent",
                                    "env": [{"name": "NODE_NAME", "value": dp.name},
                                            {"name": "ICNI2_ROUTES", "value": " ".join(f"{s}={v}" for s, v in routes.items())}],
                                    "readinessProbe": {"exec": {"command": ["ovn-nbctl", "--timeout=2", "lr-list"]},
                                                       "periodSeconds": 1}}]}}
    cluster.admin.create("pods", pod, OVN_NS)
    return wait_pod(cluster.admin, name, namespace=OVN_NS)


def app_pod(cluster: NodeCluster, dp: DataPlane, namespace: str = "spk-apps", name: str = "spk-app-0") -> Obj:
    """An application pod in a namespace whose egress ICNI2 would route through TMM."""
    cluster.ensure_namespace(namespace)
    pod = pod_manifest(name, dp)
    pod["metadata"]["namespace"] = namespace
    pod["spec"]["containers"][0]["securityContext"] = {}
    cluster.admin.create("pods", pod, namespace)
    return wait_pod(cluster.admin, name, namespace=namespace)


def node_params(tmp: Path, cluster: NodeCluster, dp: DataPlane, *, user: str = ADMIN, values: dict[str, Any] | None = None,
                **over: Any) -> Path:
    """The lab's params for the real node: the demo lab, live, the test chart, the data plane's images, the
    f5-tmm stand-in's self IPs from the lab's F5SPKVlans, and a live capture on net1."""
    data = params.read_yaml(DEMO_PARAMS)
    data["lab"] = "dataplane"
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig(cluster, tmp, user)), "retries": 1}
    lab = demo_lab()
    self_ips = [f"net{i}={ip}/{getattr(lab.vlans, role).prefixlen_v4}"
                for i, (role, _net) in enumerate(lab.networks.ordered(), start=1) for ip in getattr(lab.vlans, role).selfip_v4s]
    overlay: dict[str, dict[str, Any]] = {
        "tmm": {"image": {"repository": dp.image_names["tmm"].rsplit("/", 1)[0]}, "standIn": {"selfIPs": self_ips},
                # one node with room for one TMM (its own CPU, the hugepages): the old pod goes first
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}},
               "debug": {"image": {"repository": dp.image_names["debug"].rsplit("/", 1)[0]}}}
    for key, val in (values or {}).items():
        overlay.setdefault(key, {}).update(val)
    data["install"] = {**data["install"], "values_file": str(demo_values()), "chart": str(CHART), "helm_timeout": "3m",
                       "wait_timeout": 120, "extra_values_files": [str(write_yaml(tmp / "dataplane-values.yaml", overlay))]}
    data["debug"] = {"live_capture": True, "capture": {"where": "pod", "interface": "net1", "seconds": 8}, "exec_timeout": 30}
    for key, val in over.items():
        if isinstance(val, dict):
            data[key] = {**data.get(key, {}), **val}
        else:
            data[key] = val
    return write_yaml(tmp / "dataplane.yaml", data)


def tmm_pod(cluster: NodeCluster, dp: DataPlane, name: str = "f5-tmm-test", *, networks: bool = True,
            tmm_command: list[str] | None = None, tmm_env: dict[str, str] | None = None, wait: bool = True) -> Obj:
    """A pod shaped like the test chart's TMM pod, made without helm (label ``app=f5-tmm``, containers ``f5-tmm``,
    the stand-in, and ``debug``), on net1/net2 of the demo lab's NADs (which must exist) with its self IPs."""
    lab = demo_lab()
    self_ips = " ".join(f"net{i}={ip}/{getattr(lab.vlans, role).prefixlen_v4}"
                        for i, (role, _n) in enumerate(lab.networks.ordered(), start=1) for ip in getattr(lab.vlans, role).selfip_v4s)
    caps = {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}
    tmm: dict[str, Any] = {"name": "f5-tmm", "image": dp.image_names["tmm"], "imagePullPolicy": "IfNotPresent", "securityContext": caps,
                           "env": [{"name": k, "value": v} for k, v in {"TMM_MAPRES_ADDL_VETHS_ON_DP": "TRUE",
                                                                         "STANDIN_SELF_IPS": self_ips if networks else "",
                                                                         **(tmm_env or {})}.items()]}
    if tmm_command:
        tmm["command"] = tmm_command
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": NS, "labels": {"app": "f5-tmm"},
                        "annotations": {"k8s.v1.cni.cncf.io/networks": lab.cni_networks} if networks else {}},
           "spec": {"terminationGracePeriodSeconds": 2,
                    "containers": [tmm, {"name": "debug", "image": dp.image_names["debug"], "imagePullPolicy": "IfNotPresent",
                                         "securityContext": caps}]}}
    cluster.admin.create("pods", pod, NS)
    return wait_pod(cluster.admin, name) if wait else pod
