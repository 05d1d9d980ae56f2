"""The demo lab as Kubernetes objects, and a writer for must-gather style snapshots.

``demo/snapshot`` is written by ``scripts/make_demo_snapshot.py`` from
``lab_objects()``; tests build broken variants (openshift-sdn, no hugepages, a
worker missing an interface, no NAD CRD) and big clusters (benchmarks) from the
same function, so every fixture describes one consistent lab.

The lab: OpenShift 4.10.13, OVN-Kubernetes, Multus; 3 control-plane nodes and
workers with ens192 (node network 10.1.10.0/24 on br-ex) plus ens224 (internal)
and ens256 (external), 4Gi of 2Mi hugepages, static CPU manager through a
KubeletConfig on the worker pool, NMState reporting the NICs, and SPK installed
in ``default`` with TMM on worker-1.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from spkrunbook.cluster.base import RESOURCES, Resource

Obj = dict[str, Any]
CREATED = "2023-01-11T05:58:41Z"
VARIANTS = ("ok", "openshift-sdn", "no-hugepages", "missing-interface", "no-nad-crd", "no-nmstate", "cpu-none",
            "bridge-port", "baremetal", "mtu-mismatch", "licence-gate", "selfips-swapped")
#: Variants that trip the after-install checks (issue 24): what each one breaks.
FIELD_VARIANTS = {
    "mtu-mismatch": "the internal F5SPKVlan sets mtu 9000 while TMM_DEFAULT_MTU is 1500 and ens224 carries 1500",
    "licence-gate": "TMM shows neither VLAN; the CWC pod crash-loops and its log never reached 'Verification Complete'",
    "selfips-swapped": "two TMM pods: the second holds the first self IP, and both hold the second one",
}
TMM_POD_B = "f5-tmm-7d9c6b5f4d-z9w4r"
CWC_POD = "f5-spk-cwc-6b7d9f8c4-q2m5n"
CWC_NS = "spk-telemetry"
TMM_POD = "f5-tmm-7d9c6b5f4d-x2k8q"
TMM_NODE = "worker-1"
NAMESPACE = "default"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    md: Obj = {"name": name, "creationTimestamp": CREATED, "uid": f"00000000-0000-4000-8000-{zlib.crc32(name.encode()):012d}", "resourceVersion": "1"}
    if namespace:
        md["namespace"] = namespace
    md.update(extra)
    return md


def _crd(plural: str, group: str, kind: str, version: str, scope: str = "Namespaced") -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": _meta(f"{plural}.{group}"),
        "spec": {
            "group": group,
            "names": {"plural": plural, "kind": kind, "singular": kind.lower()},
            "scope": scope,
            "versions": [{"name": version, "served": True, "storage": True}],
        },
    }


def node(name: str, index: int, *, worker: bool, hugepages: str = "4Gi") -> Obj:
    ip = f"10.1.10.{(21 if worker else 11) + index}"
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.openshift.io/os_id": "rhcos",
    }
    if worker:
        labels["node-role.kubernetes.io/worker"] = ""
    else:
        labels["node-role.kubernetes.io/master"] = ""
        labels["node-role.kubernetes.io/control-plane"] = ""
    cpu, mem = ("8", "32778Mi") if worker else ("4", "16Gi")
    hp = hugepages if worker else "0"
    gw = {
        "default": {
            "mode": "shared",
            "bridge-id": "br-ex",
            "interface-id": f"br-ex_{name}",
            "mac-address": f"00:50:56:90:{index:02x}:{0x9c if worker else 0x1c:02x}",
            "ip-addresses": [f"{ip}/24"],
            "ip-address": f"{ip}/24",
            "next-hops": ["10.1.10.1"],
            "next-hop": "10.1.10.1",
            "node-port-enable": "true",
            "vlan-id": "0",
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta(
            name,
            labels=labels,
            annotations={
                "k8s.ovn.org/node-primary-ifaddr": json.dumps({"ipv4": f"{ip}/24"}),
                "k8s.ovn.org/l3-gateway-config": json.dumps(gw),
                "k8s.ovn.org/node-subnets": json.dumps({"default": f"10.128.{index * 2 + (6 if worker else 0)}.0/23"}),
                "machineconfiguration.openshift.io/currentConfig": "rendered-worker-5f2b" if worker else "rendered-master-91ac",
            },
        ),
        "spec": {"providerID": f"vsphere://4230{index:04d}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": cpu, "memory": mem, "hugepages-2Mi": hp, "hugepages-1Gi": "0", "pods": "250"},
            "allocatable": {
                "cpu": str(int(cpu) - 1) if worker else "3500m",
                "memory": "27532Mi" if worker else "14Gi",
                "hugepages-2Mi": hp,
                "hugepages-1Gi": "0",
                "pods": "250",
            },
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastTransitionTime": CREATED}],
            "nodeInfo": {
                "kubeletVersion": "v1.23.5+3afdacb",
                "osImage": "Red Hat Enterprise Linux CoreOS 410.84.202205191234-0 (Ootpa)",
                "containerRuntimeVersion": "cri-o://1.23.2-12.rhaos4.10.git5fe1720.el8",
                "kernelVersion": "4.18.0-305.45.1.el8_4.x86_64",
                "architecture": "amd64",
                "operatingSystem": "linux",
                "bootID": f"6f1c2a7e-0b1d-4c3e-9a55-{index:012d}",
                "machineID": f"4230{index:028d}",
                "systemUUID": f"4230{index:04d}-0000-0000-0000-000000000000",
                "kubeProxyVersion": "v1.23.5+3afdacb",
            },
        },
    }


def nns(node_name: str, index: int, *, missing: tuple[str, ...] = (), bridged: tuple[str, ...] = ()) -> Obj:
    ip = f"10.1.10.{21 + index}"

    def eth(name: str, mac_tail: int, promisc: bool) -> Obj:
        return {
            "name": name,
            "type": "ethernet",
            "state": "up",
            "mtu": 1500,
            "mac-address": f"00:50:56:9A:{index:02X}:{mac_tail:02X}",
            "accept-all-mac-addresses": promisc,
            "ipv4": {"enabled": False},
            "ipv6": {"enabled": False},
        }

    ifaces = [
        {"name": "lo", "type": "unknown", "state": "up", "mtu": 65536, "accept-all-mac-addresses": False},
        eth("ens192", 0x10, False),
        eth("ens224", 0x24, True),
        eth("ens256", 0x56, True),
        {
            "name": "br-ex",
            "type": "ovs-interface",
            "state": "up",
            "mtu": 1500,
            "ipv4": {"enabled": True, "address": [{"ip": ip, "prefix-length": 24}], "dhcp": False},
        },
        {"name": "ovn-k8s-mp0", "type": "ovs-interface", "state": "up", "mtu": 1400},
    ]
    ifaces = [i for i in ifaces if i["name"] not in missing]
    if bridged:  # a Linux bridge that took NICs as ports (NMState lists the ports in the bridge's entry)
        ifaces.append({"name": "br-lab", "type": "linux-bridge", "state": "up", "mtu": 1500,
                       "bridge": {"options": {"stp": {"enabled": False}},
                                  "port": [{"name": p, "stp-hairpin-mode": False} for p in bridged]}})
    return {
        "apiVersion": "nmstate.io/v1beta1",
        "kind": "NodeNetworkState",
        "metadata": _meta(node_name),
        "status": {
            "currentState": {"interfaces": ifaces, "routes": {"running": [{"destination": "0.0.0.0/0", "next-hop-address": "10.1.10.1", "next-hop-interface": "br-ex"}]}},
            "lastSuccessfulUpdateTime": "2023-01-11T06:00:00Z",
        },
    }


def nad(name: str, master: str, namespace: str = NAMESPACE) -> Obj:
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": _meta(name, namespace, labels={"app.kubernetes.io/managed-by": "spkrunbook"}),
        "spec": {"config": json.dumps({"cniVersion": "0.3.1", "type": "macvlan", "master": master, "mode": "bridge", "ipam": {}})},
    }


def tmm_pod(*, node_name: str = TMM_NODE, namespace: str = NAMESPACE) -> Obj:
    status = [
        {"name": "ovn-kubernetes", "interface": "eth0", "ips": ["10.128.8.23"], "mac": "0a:58:0a:80:08:17", "default": True, "dns": {}},
        {"name": f"{namespace}/macvlan-internal", "interface": "net1", "mac": "7e:12:9c:4a:01:b1", "dns": {}},
        {"name": f"{namespace}/macvlan-external", "interface": "net2", "mac": "7e:12:9c:4a:02:c2", "dns": {}},
    ]
    res = {"cpu": "1", "hugepages-2Mi": "1572Mi", "memory": "2Gi"}
    dbg = {"cpu": "500m", "memory": "1Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            TMM_POD,
            namespace,
            labels={"app": "f5-tmm", "pod-template-hash": "7d9c6b5f4d"},
            annotations={
                "k8s.v1.cni.cncf.io/networks": f"{namespace}/macvlan-internal,{namespace}/macvlan-external",
                "k8s.v1.cni.cncf.io/network-status": json.dumps(status, indent=4),
                "openshift.io/scc": "privileged",
                "k8s.ovn.org/routing-namespaces": "spk-apps",
                "k8s.ovn.org/routing-network": f"{namespace}/macvlan-internal",
                "k8s.ovn.org/bfd-enabled": "",
            },
            ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "f5-tmm-7d9c6b5f4d", "uid": "1"}],
        ),
        "spec": {
            "nodeName": node_name,
            "nodeSelector": {"node-role.kubernetes.io/worker": ""},
            "containers": [
                {
                    "name": "f5-tmm",
                    "image": "local.registry/tmm-img:v1.6.5",
                    "env": [
                        {"name": "TMM_MAPRES_ADDL_VETHS_ON_DP", "value": "TRUE"},
                        {"name": "TMM_MAPRES_DELAY_MS", "value": "6000"},
                    ],
                    "resources": {"limits": dict(res), "requests": dict(res)},
                },
                {"name": "debug", "image": "local.registry/f5-debug-sidecar:v5.55.6", "resources": {"limits": dict(dbg), "requests": dict(dbg)}},
            ],
        },
        "status": {
            "phase": "Running",
            "qosClass": "Guaranteed",
            "hostIP": "10.1.10.22",
            "podIP": "10.128.8.23",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
            "containerStatuses": [
                {"name": "f5-tmm", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": CREATED}}},
                {"name": "debug", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": CREATED}}},
            ],
        },
    }


def ovnkube_node_pod(node_name: str, index: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(f"ovnkube-node-{'abcdefgh'[index % 8]}{index:03d}x", "openshift-ovn-kubernetes", labels={"app": "ovnkube-node", "component": "network"}),
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": c, "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev"} for c in ("ovn-controller", "ovn-acl-logging", "kube-rbac-proxy", "ovnkube-node")],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def ovnkube_master_pod(node_name: str, index: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(f"ovnkube-master-{'pqr'[index % 3]}{index}z9k", "openshift-ovn-kubernetes", labels={"app": "ovnkube-master", "component": "network"}),
        "spec": {"nodeName": node_name, "containers": [{"name": c, "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev"} for c in ("northd", "nbdb", "kube-rbac-proxy", "sbdb", "ovnkube-master")]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def vlan_cr(name: str, interface: str, ip: str, internal: bool, namespace: str = NAMESPACE) -> Obj:
    spec: Obj = {"name": name, "interfaces": [interface], "selfip_v4s": [ip], "prefixlen_v4": 24}
    if internal:
        spec["internal"] = True
    return {
        "apiVersion": "k8s.f5net.com/v1",
        "kind": "F5SPKVlan",
        "metadata": _meta(name, namespace, labels={"app.kubernetes.io/managed-by": "spkrunbook"}),
        "spec": spec,
    }


def lab_objects(variant: str = "ok", *, workers: int = 3, masters: int = 3, with_spk: bool = True) -> list[Obj]:
    """Every object of the demo lab, optionally broken in one named way."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {VARIANTS}")
    objs: list[Obj] = []
    objs.append(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "ClusterVersion",
            "metadata": _meta("version"),
            "spec": {"channel": "stable-4.10", "clusterID": "5b4f3d4e-6a19-4d5c-9b0e-2f1f1e7e6a10"},
            "status": {
                # Every field the real ClusterVersion CRD requires in status (the real API server rejected less).
                "desired": {"version": "4.10.13", "image": "quay.io/openshift-release-dev/ocp-release@sha256:4f516616"},
                "history": [{"state": "Completed", "version": "4.10.13", "image": "quay.io/openshift-release-dev/ocp-release@sha256:4f516616",
                             "verified": False, "startedTime": CREATED, "completionTime": CREATED}],
                "availableUpdates": None,
                "observedGeneration": 1,
                "versionHash": "hSnsT0cWuNc=",
            },
        }
    )
    net_type = "OpenShiftSDN" if variant == "openshift-sdn" else "OVNKubernetes"
    objs.append(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "Network",
            "metadata": _meta("cluster"),
            "spec": {"clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}], "networkType": net_type, "serviceNetwork": ["172.30.0.0/16"]},
            "status": {
                "clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
                "clusterNetworkMTU": 1400,
                "networkType": net_type,
                "serviceNetwork": ["172.30.0.0/16"],
            },
        }
    )
    platform = "BareMetal" if variant == "baremetal" else "VSphere"  # the demo's NICs are VMware's (00:50:56)
    objs.append(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "Infrastructure",
            "metadata": _meta("cluster"),
            "spec": {"platformSpec": {"type": platform}},
            "status": {"platform": platform, "platformStatus": {"type": platform},
                       "infrastructureName": "demo-7x2kq", "controlPlaneTopology": "HighlyAvailable",
                       "infrastructureTopology": "HighlyAvailable"},
        }
    )
    objs.append(
        {
            "apiVersion": "operator.openshift.io/v1",
            "kind": "Network",
            "metadata": _meta("cluster"),
            "spec": {"defaultNetwork": {"type": net_type}, "disableMultiNetwork": variant == "no-nad-crd", "additionalNetworks": []},
        }
    )
    crds = [
        ("nodenetworkstates", "nmstate.io", "NodeNetworkState", "v1beta1", "Cluster"),
        ("kubeletconfigs", "machineconfiguration.openshift.io", "KubeletConfig", "v1", "Cluster"),
        ("machineconfigpools", "machineconfiguration.openshift.io", "MachineConfigPool", "v1", "Cluster"),
        ("f5-spk-vlans", "k8s.f5net.com", "F5SPKVlan", "v1", "Namespaced"),
        ("f5-spk-staticroutes", "k8s.f5net.com", "F5SPKStaticRoute", "v1", "Namespaced"),
        ("clusterversions", "config.openshift.io", "ClusterVersion", "v1", "Cluster"),
        ("networks", "config.openshift.io", "Network", "v1", "Cluster"),
        ("infrastructures", "config.openshift.io", "Infrastructure", "v1", "Cluster"),
        ("networks", "operator.openshift.io", "Network", "v1", "Cluster"),
    ]
    if variant != "no-nad-crd":
        crds.append(("network-attachment-definitions", "k8s.cni.cncf.io", "NetworkAttachmentDefinition", "v1", "Namespaced"))
    if variant == "no-nmstate":
        crds = [c for c in crds if c[0] != "nodenetworkstates"]
    objs += [_crd(*c) for c in crds]
    for i in range(masters):
        objs.append(node(f"master-{i}", i, worker=False))
    for i in range(workers):
        hp = "0" if variant == "no-hugepages" else "4Gi"
        objs.append(node(f"worker-{i}", i, worker=True, hugepages=hp))
        if variant != "no-nmstate":
            missing = ("ens256",) if variant == "missing-interface" and i == 2 else ()
            bridged = ("ens224",) if variant == "bridge-port" else ()
            objs.append(nns(f"worker-{i}", i, missing=missing, bridged=bridged))
    objs.append(
        {
            "apiVersion": "machineconfiguration.openshift.io/v1",
            "kind": "MachineConfigPool",
            "metadata": _meta("worker", labels={"custom-kubelet": "cpumanager-enabled", "machineconfiguration.openshift.io/mco-built-in": ""}),
            "spec": {"nodeSelector": {"matchLabels": {"node-role.kubernetes.io/worker": ""}}, "machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": "worker"}}},
            "status": {"machineCount": workers, "readyMachineCount": workers, "updatedMachineCount": workers},
        }
    )
    objs.append(
        {
            "apiVersion": "machineconfiguration.openshift.io/v1",
            "kind": "MachineConfigPool",
            "metadata": _meta("master", labels={"machineconfiguration.openshift.io/mco-built-in": ""}),
            "spec": {"nodeSelector": {"matchLabels": {"node-role.kubernetes.io/master": ""}}},
            "status": {"machineCount": masters, "readyMachineCount": masters},
        }
    )
    if variant != "cpu-none":
        objs.append(
            {
                "apiVersion": "machineconfiguration.openshift.io/v1",
                "kind": "KubeletConfig",
                "metadata": _meta("cpumanager-enabled"),
                "spec": {
                    "machineConfigPoolSelector": {"matchLabels": {"custom-kubelet": "cpumanager-enabled"}},
                    "kubeletConfig": {"cpuManagerPolicy": "static", "cpuManagerReconcilePeriod": "5s", "reservedSystemCPUs": "0"},
                },
                "status": {"conditions": [{"type": "Success", "status": "True"}]},
            }
        )
    objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(NAMESPACE), "status": {"phase": "Active"}})
    objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta("openshift-ovn-kubernetes"), "status": {"phase": "Active"}})
    for i in range(min(workers, 50)):
        objs.append(ovnkube_node_pod(f"worker-{i}", i))
    for i in range(masters):
        objs.append(ovnkube_master_pod(f"master-{i}", i))
    if with_spk and variant != "no-nad-crd":
        objs.append(nad("macvlan-internal", "ens224"))
        objs.append(nad("macvlan-external", "ens256"))
        objs.append(tmm_pod(node_name=TMM_NODE if workers > 1 else "worker-0"))
        objs.append(vlan_cr("internal", "1.1", "10.1.10.100", True))
        objs.append(vlan_cr("external", "1.2", "10.1.20.100", False))
        _field_variant(variant, objs)
    return objs


def _field_variant(variant: str, objs: list[Obj]) -> None:
    """What the after-install variants change (``FIELD_VARIANTS``); their command outputs are ``exec_outputs``."""
    tmm = next(o for o in objs if o["kind"] == "Pod" and o["metadata"]["name"] == TMM_POD)
    vlans = {o["metadata"]["name"]: o for o in objs if o["kind"] == "F5SPKVlan"}
    if variant == "mtu-mismatch":
        vlans["internal"]["spec"]["mtu"] = 9000
        tmm["spec"]["containers"][0]["env"].append({"name": "TMM_DEFAULT_MTU", "value": "1500"})
    elif variant == "licence-gate":
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(CWC_NS), "status": {"phase": "Active"}})
        objs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": _meta(CWC_POD, CWC_NS, labels={"app": "f5-spk-cwc"}),
            "spec": {"nodeName": "worker-0", "containers": [{"name": "f5-spk-cwc", "image": "local.registry/spk-cwc:v0.19.12"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                       "containerStatuses": [{"name": "f5-spk-cwc", "ready": False, "restartCount": 7,
                                              "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
        })
    elif variant == "selfips-swapped":
        b = json.loads(json.dumps(tmm))
        b["metadata"]["name"] = TMM_POD_B
        b["spec"]["nodeName"] = "worker-2"
        objs.append(b)
        for name, second in (("internal", "10.1.10.101"), ("external", "10.1.20.101")):
            vlans[name]["spec"]["selfip_v4s"].append(second)


#: ``ip -br addr`` in the debug container of each TMM pod, per variant (the others keep the demo's saved output).
def exec_outputs(variant: str) -> dict[tuple[str, str, str, tuple[str, ...]], str]:
    addr = ["ip", "-br", "addr"]
    base = ("lo               UNKNOWN        127.0.0.1/8 ::1/128\n"
            "eth0@if41        UP             10.128.8.23/23\nnet1@if5         UP\nnet2@if6         UP\n")
    if variant == "licence-gate":  # no VLAN interface: the controller never configured TMM
        return {(NAMESPACE, TMM_POD, "debug", tuple(addr)): base}
    if variant == "selfips-swapped":
        return {(NAMESPACE, TMM_POD, "debug", tuple(addr)):
                base + "internal         UNKNOWN        10.1.10.101/24\nexternal         UNKNOWN        10.1.20.101/24\n",
                (NAMESPACE, TMM_POD_B, "debug", tuple(addr)):
                base + "internal         UNKNOWN        10.1.10.100/24\nexternal         UNKNOWN        10.1.20.101/24\n"}
    return {}


#: Container logs a must-gather would hold, per variant: (namespace, pod, container) -> text.
def logs(variant: str) -> dict[tuple[str, str, str], str]:
    if variant == "licence-gate":
        return {(CWC_NS, CWC_POD, "f5-spk-cwc"):
                "2023-01-11T06:02:10Z INFO cpcl: mode disconnected\n"
                "2023-01-11T06:02:11Z INFO cpcl: LicenseStatus State: Config Report Ready to Download\n"}
    return {}


def write_variant(variant: str, root: Path) -> Path:
    """A must-gather of ``variant``: its objects, its saved debug-container outputs and logs (demo ones kept)."""
    import shutil

    from spkrunbook.cluster.snapshot import EXEC_DIR, exec_slug

    write_snapshot(lab_objects(variant), root)
    data = root / "quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d"
    demo = Path(__file__).resolve().parents[2] / "spkrunbook" / "demo" / "snapshot" / data.name / EXEC_DIR
    shutil.copytree(demo, data / EXEC_DIR, dirs_exist_ok=True)
    for (ns, pod, container, argv), text in exec_outputs(variant).items():
        out = data / EXEC_DIR / ns / pod / container / f"{exec_slug(list(argv))}.out"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    for (ns, pod, container), text in logs(variant).items():
        out = data / "namespaces" / ns / "pods" / pod / container / container / "logs" / "current.log"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return root


def _resource_for(obj: Obj) -> Resource:
    api, kind = obj["apiVersion"], obj["kind"]
    for r in RESOURCES.values():
        if r.api_version == api and r.kind == kind:
            return r
    raise KeyError(f"no resource for {api} {kind}")


def write_snapshot(objs: Iterable[Obj], root: Path) -> Path:
    """Write objects in ``oc adm inspect`` layout under ``root`` (one image folder, like must-gather)."""
    data = root / "quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d"
    yaml = YAML()
    yaml.default_flow_style = False
    lists: dict[Path, list[Obj]] = {}
    for obj in objs:
        r = _resource_for(obj)
        md = obj["metadata"]
        if r.plural == "pods":
            path = data / "namespaces" / md["namespace"] / "pods" / md["name"] / f"{md['name']}.yaml"
        elif r.plural == "namespaces":
            path = data / "namespaces" / md["name"] / f"{md['name']}.yaml"
        elif r.namespaced:
            lists.setdefault(data / "namespaces" / md["namespace"] / r.group_dir / f"{r.plural}.yaml", []).append(obj)
            continue
        elif r.plural in ("clusterversions", "networks", "infrastructures"):
            lists.setdefault(data / "cluster-scoped-resources" / r.group_dir / f"{r.plural}.yaml", []).append(obj)
            continue
        else:
            path = data / "cluster-scoped-resources" / r.group_dir / r.plural / f"{md['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            yaml.dump(obj, fh)
    for path, items in lists.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            yaml.dump({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}, fh)
    (root / "timestamp").write_text("2023-01-11 06:10:02.123456789 +0000 UTC m=+0.074\n2023-01-11 06:14:47.987654321 +0000 UTC m=+285.9\n")
    (data / "version").write_text("openshift/must-gather\n4.10.13\n")
    return root
