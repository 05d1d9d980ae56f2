"""The whole runbook, headless (``spkrunbook run``, ``target.kind: live``), against the real node.

Every step does what it does on OpenShift: the prerequisites read a node a real kubelet reports (its
running configuration through the node proxy), the NADs are created and the f5-tmm pod of the test chart
really gets net1 and net2 as macvlan interfaces on ens224 and ens256 (network-status written by the CNI
path that made them), the pod is Guaranteed with a CPU of its own and hugepages, and the debugging step
execs into the ``debug`` container through the API server, the kubelet and containerd, captures on net1
while the lab network talks to TMM's self IP, and reads the statistics of that traffic.

What is not real, and says so: the f5-tmm container is a stand-in (F5's TMM cannot be had here) that
brings its interfaces up with the F5SPKVlan self IPs and answers on them; the OVN northbound database is
a stand-in pod's (a real ovsdb-server the test fills with the ICNI2 routes OVN-Kubernetes would write).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook.cluster.live import LiveTarget
from tests.dataplane import helpers as h
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

TMM = "app=f5-tmm"


@pytest.fixture
def helm_env(node_cluster: NodeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    helm = node_cluster.bins.helm3
    if helm is None:
        pytest.fail("helm v3 is not built (scripts/build_k8s.sh builds it with the servers)")
    monkeypatch.setenv("PATH", f"{helm.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    return helm


@pytest.fixture
def clean(node_cluster: NodeCluster, node: DataPlane) -> Iterator[None]:
    h.wipe(node_cluster, node)
    yield
    h.wipe(node_cluster, node)


def run_cli(params_file: Path, records: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "spkrunbook"), "run", str(params_file), "--records", str(records), *extra],
                          capture_output=True, text=True, timeout=900)


def step_json(record: Path, step: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((record / "steps" / f"{step}.json").read_text())
    return data


def rows(step: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [r for t in step["findings"] for r in t["rows"] if r["check"] == check]


def test_the_whole_runbook_passes_on_the_real_node(node_cluster: NodeCluster, node: DataPlane, clean: None,
                                                   helm_env: Path, tmp_path: Path) -> None:
    lab = h.demo_lab()
    app = h.app_pod(node_cluster, node)
    internal_ip = lab.vlans.internal.selfip_v4s[0]
    h.ovn_standin(node_cluster, node, {f"{app['status']['podIP']}/32": internal_ip})
    pfile = h.node_params(tmp_path, node_cluster, node)
    with h.traffic(node, lab.networks.internal.master, f"http://{internal_ip}/"):
        done = run_cli(pfile, tmp_path / "rec")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    (record,) = [p for p in (tmp_path / "rec").iterdir() if p.is_dir()]
    run = json.loads((record / "run.json").read_text())
    assert run["target"]["kind"] == "live"

    # prerequisites: a node a real kubelet reports, its CPU manager policy read from the kubelet itself
    pre = step_json(record, "prerequisites")
    (cpu,) = rows(pre, "cpu-manager")
    assert cpu["status"] == "pass" and cpu["subject"] == node.name
    assert f"the running kubelet: /api/v1/nodes/{node.name}/proxy/configz" in cpu["evidence"]
    (hp,) = rows(pre, "hugepages")
    assert hp["status"] == "pass" and "hugepages-2Mi allocatable 1.56Gi" in hp["evidence"]
    # the masters as the node's kernel has them (NodeNetworkState from its /sys/class/net: up, IFF_PROMISC set)
    assert [(r["status"], r["evidence"]) for r in rows(pre, "master-interfaces")] == [
        ("pass", "internal master ens224 up, promiscuous"), ("pass", "external master ens256 up, promiscuous")]
    nads = step_json(record, "network-attachments")
    assert {r["status"] for r in rows(nads, "master on TMM nodes")} == {"pass"}

    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN)) as t:
        (pod,) = t.list("pods", h.NS, label_selector=TMM)
        name = pod["metadata"]["name"]
        # the f5-tmm pod really has net1 and net2, macvlans on ens224 and ens256, as network-status says
        status = json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
        links = {i["ifname"]: i for i in json.loads(t.exec(h.NS, name, "debug", ["ip", "-d", "-j", "link"]).stdout)}
        for entry, master in zip(status[1:], ("ens224", "ens256")):
            link = links[entry["interface"]]
            assert link["linkinfo"]["info_kind"] == "macvlan" and link["address"] == entry["mac"]
            assert link["link_index"] == int(Path(f"/sys/class/net/{master}/ifindex").read_text())
        assert f"ADD default/{name}" in (node.tmp / "nad-delegate.log").read_text()  # written by the CNI path
        # Guaranteed, with a CPU of its own (the static CPU manager's) and the hugepages the values ask for
        assert pod["status"]["qosClass"] == "Guaranteed"
        tmm_cpus = t.exec(h.NS, name, "f5-tmm", ["grep", "Cpus_allowed_list", "/proc/self/status"]).text.split()[-1]
        debug_cpus = t.exec(h.NS, name, "debug", ["grep", "Cpus_allowed_list", "/proc/self/status"]).text.split()[-1]
        assert tmm_cpus == "1" and debug_cpus == "0", (tmm_cpus, debug_cpus)
        # the kubelet limits the pod's 2Mi hugepages in its hugetlb cgroup (mounted before the kubelet started)
        limit = Path(f"/sys/fs/cgroup/hugetlb/kubepods/pod{pod['metadata']['uid']}/hugetlb.2MB.limit_in_bytes").read_text()
        assert int(limit) == 1572 * 2**20

    # the debugging step: exec through the real streaming path, a capture of the lab's traffic on net1
    dbg = step_json(record, "debugging")
    assert {r["status"] for r in rows(dbg, "attachment present")} == {"pass"}
    assert {r["status"] for r in rows(dbg, "interface up")} == {"pass"}
    probed = rows(dbg, "TMM took the interface")
    assert probed and all(r["status"] == "skip" and "unavailable on this target" in r["evidence"] for r in probed)
    (ovn,) = rows(dbg, "OVN routes via TMM")
    assert ovn["status"] == "pass" and internal_ip in ovn["evidence"]
    (seen,) = rows(dbg, "packets seen")
    assert seen["status"] == "pass"
    (promisc,) = rows(dbg, "promiscuous works")
    assert promisc["status"] == "pass" and "ens224" in promisc["evidence"]
    # issue 24 on a running pod: the self IPs as the pod's `ip -br addr` shows them, each VLAN present in TMM (so
    # the licence gate is not asked about), and the MTU of NAD, F5SPKVlan and TMM's env under the master's
    held = rows(dbg, "self IPs held")
    assert held and {r["status"] for r in held} == {"pass"}, held
    assert any(internal_ip in r["evidence"] and name in r["evidence"] for r in held), held
    in_tmm = rows(dbg, "VLAN in TMM")
    assert in_tmm and {r["status"] for r in in_tmm} == {"pass"}, in_tmm
    agreed = rows(step_json(record, "spk-install"), "MTU agreement")
    assert agreed and {r["status"] for r in agreed} <= {"pass", "note"}, agreed
    (cap,) = sorted((record / "debugging" / "captures").glob("*.json"))
    stats = json.loads(cap.read_text())
    assert stats["interface"] == "net1" and stats["packets"] > 10 and stats["sha256"]
    convs = (cap.with_suffix(".conversations.csv")).read_text()
    peer = node.masters[0].peer.split("/")[0]
    assert peer in convs and internal_ip in convs  # the lab network talking to TMM's self IP
    assert stats["tcp"]["tcp_conversations"] >= 1
