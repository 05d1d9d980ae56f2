"""The real node itself: registered by a real kubelet, pods run by containerd and runc, NADs that give
pods real macvlan interfaces through nad-delegate and the real macvlan plugin."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook.cluster.live import LiveTarget
from tests.dataplane import helpers as h
from tests.dataplane.conftest import HUGEPAGES
from tests.support.dataplane import BRIDGE, FIXED_PATHS, NODE_IP, Before, DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]


@pytest.fixture
def admin(node_cluster: NodeCluster, node: DataPlane, tmp_path: Path) -> Iterator[LiveTarget]:
    h.wipe(node_cluster, node)
    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN), retries=1) as target:
        yield target
    h.wipe(node_cluster, node)


def test_the_kubelet_registers_the_node_with_what_it_found(node: DataPlane, admin: LiveTarget) -> None:
    n = admin.get("nodes", node.name)
    st = n["status"]
    assert st["nodeInfo"]["kubeletVersion"] == node.bins.kubernetes_version
    assert st["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.")
    assert st["capacity"]["hugepages-2Mi"] == f"{HUGEPAGES * 2}Mi" == st["allocatable"]["hugepages-2Mi"]
    assert st["capacity"]["cpu"] == "2" and st["allocatable"]["cpu"] == "1500m"  # 500m kept for the system
    assert "node-role.kubernetes.io/worker" in n["metadata"]["labels"]
    # the kubelet's own configuration, through the API server's node proxy
    running = admin.kubelet_config(node.name)
    assert running["cpuManagerPolicy"] == "static" and running["topologyManagerPolicy"] == "none"


def test_a_pod_gets_real_macvlan_interfaces_on_the_masters(node: DataPlane, admin: LiveTarget) -> None:
    h.apply_nads(admin)
    admin.create("pods", h.pod_manifest("two-nets", node, networks="default/macvlan-internal,default/macvlan-external"), h.NS)
    pod = h.wait_pod(admin, "two-nets")
    status = json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
    assert [(s["name"], s["interface"], s.get("default", False)) for s in status] == [
        ("cluster", "eth0", True), ("default/macvlan-internal", "net1", False), ("default/macvlan-external", "net2", False)]
    assert status[0]["ips"] == [pod["status"]["podIP"]]
    links = admin.exec(h.NS, "two-nets", "main", ["ip", "-d", "-j", "link", "show"], timeout=20)
    by_name = {i["ifname"]: i for i in json.loads(links.stdout)}
    for entry, master in ((status[1], "ens224"), (status[2], "ens256")):
        link = by_name[entry["interface"]]
        # a macvlan in bridge mode whose lower device is the host's master (its ifindex, seen from the pod)
        assert link["linkinfo"]["info_kind"] == "macvlan" and link["linkinfo"]["info_data"]["mode"] == "bridge"
        assert link["link_index"] == int(Path(f"/sys/class/net/{master}/ifindex").read_text())
        assert link["address"] == entry["mac"]  # network-status was written from the plugin's own result
    assert int(Path(f"/sys/class/net/{BRIDGE}/ifindex").read_text()) > 0  # the cluster network's bridge


def test_deleting_the_pod_removes_its_interfaces(node: DataPlane, admin: LiveTarget) -> None:
    h.apply_nads(admin)
    admin.create("pods", h.pod_manifest("short", node, networks="macvlan-internal"), h.NS)
    pod = h.wait_pod(admin, "short")
    cache = list((node.tmp / "cni" / "cache").glob("*.json"))
    assert len(cache) == 1 and json.loads(cache[0].read_text())["pod"] == "default/short"
    ip = pod["status"]["podIP"]
    admin.delete("pods", "short", h.NS)
    h.wait_gone(admin, "pods", "short")
    assert not list((node.tmp / "cni" / "cache").glob("*.json"))
    assert not (node.tmp / "cni" / "ipam" / "cluster" / ip).exists()  # host-local gave the address back


def _machine() -> dict[str, Any]:
    """What this machine shows, read with its own tools (not with the fixture's bookkeeping)."""
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout.split("\n")
    return {
        "links": sorted(ln.split()[0].split("@")[0] for ln in links if ln.strip()),
        "netns": sorted(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()),
        "mounts": sorted(ln.split()[1] for ln in Path("/proc/mounts").read_text().splitlines()),
        "paths": sorted(p for p in FIXED_PATHS if os.path.lexists(p)),
        "processes": sorted(ln for ln in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
                            if "spkrb-node-" in ln or ln.startswith(("containerd-shim", "/usr/bin/containerd-shim"))),
        "cgroups": sorted(str(p) for p in Path("/sys/fs/cgroup").glob("*/kubepods")),
        "hugepages": Path("/proc/sys/vm/nr_hugepages").read_text().strip(),
        "iptables": sorted(ln for ln in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout.splitlines()
                           if "KUBE-" in ln),
    }


def test_stopping_the_node_leaves_nothing_behind_even_when_a_start_fails(node_cluster: NodeCluster, node: DataPlane,
                                                                            admin: LiveTarget) -> None:
    """The session's node is stopped with a pod on net1 running, then a start that fails half way (the kubelet
    exits at once) is cleaned up too; then what a killed run leaves is put there and the next start removes it."""
    assert node.before is not None
    h.apply_nads(admin)
    admin.create("pods", h.pod_manifest("left-running", node, networks="macvlan-internal"), h.NS)
    h.wait_pod(admin, "left-running")
    during = _machine()
    assert {"ens224", "ens256", BRIDGE} <= set(during["links"]) and during["processes"] and during["iptables"]  # seen, so checkable
    origin = Before(set(node.before.paths), set(node.before.links), set(node.before.netns), set(node.before.mounts),
                    node.before.nr_hugepages, node.before.hugetlb_mounted, set(node.before.iptables))
    try:
        assert node.stop() == []
        after = _machine()
        assert not {"ens224", "ens256", BRIDGE} & set(after["links"])
        assert not [ln for ln in after["links"] if ln.startswith("veth")]
        assert not [n for n in after["netns"] if n.startswith(("spkrb", "cni-"))]
        # (other work on this machine makes network namespaces, and with them /run/netns: only ours are checked)
        ours = ("/run/netns/cni-", "/run/netns/spkrb-", "/var/lib/kubelet", "/run/containerd", "/var/lib/cni")
        assert not [m for m in after["mounts"] if "spkrb-node-" in m or (m.startswith(ours) and m not in origin.mounts)]
        assert set(after["paths"]) - {"/run/netns"} <= origin.paths and after["processes"] == [] and after["cgroups"] == []
        assert after["hugepages"] == str(origin.nr_hugepages) and after["iptables"] == []  # the kubelet's KUBE-FIREWALL
        # a start that fails half way (containerd up, the network made, the kubelet dies) is undone the same way
        broken = DataPlane(node.cluster, dataclasses.replace(node.bins, kubelet=Path("/bin/false")), node.images, node.masters)
        with pytest.raises(RuntimeError, match="kubelet exited with 1"):
            broken.start()
        assert broken.leftovers() == [] and _machine() == after
        # what a data plane killed outright leaves (no teardown ran) is removed by the next start, lock held
        netns = node.masters[0].netns
        for argv in (["ip", "netns", "add", netns], ["ip", "link", "add", BRIDGE, "type", "bridge"],
                     ["ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE], ["iptables", "-w", "5", "-N", "KUBE-KUBELET-CANARY"]):
            subprocess.run(argv, check=True)
        dead_run_left = [f"netns {netns}", f"bridge {BRIDGE} ({NODE_IP})", "iptables chain iptables/filter/KUBE-KUBELET-CANARY"]
    finally:
        node.start()
    assert set(dead_run_left) <= set(node.reclaimed), node.reclaimed
    assert admin.get("nodes", node.name)["status"]["capacity"]["hugepages-2Mi"] == f"{HUGEPAGES * 2}Mi"


def test_the_prerequisites_see_the_masters_real_flags(node: DataPlane, admin: LiveTarget) -> None:
    """The master-interfaces check reads NodeNetworkState, which reports the kernel's IFF_PROMISC of each master:
    turned off on ens224 (no macvlan on it now), the check says so and what to do."""
    from spkrunbook.steps import prereqs

    subprocess.run(["ip", "link", "set", "ens224", "promisc", "off"], check=True)
    try:
        assert not int(Path("/sys/class/net/ens224/flags").read_text(), 16) & 0x100
        node.report_network_state()
        rows = list(prereqs.checks(h.demo_lab(), admin, only=["master-interfaces"]).rows)
    finally:
        subprocess.run(["ip", "link", "set", "ens224", "promisc", "on"], check=True)
        node.report_network_state()
    assert [(r.status, r.evidence) for r in rows] == [("warn", "internal master ens224 is not promiscuous"),
                                                      ("pass", "external master ens256 up, promiscuous")]
    assert "ip link set ens224 promisc on" in rows[0].action and rows[0].subject == node.name
