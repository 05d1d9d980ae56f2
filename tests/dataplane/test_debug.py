"""The debugging step's live paths against the real node: commands in the ``debug`` container, tcpdump in the
pod and on the node (a privileged host-network pod, as ``oc debug node`` makes), and the OVN NB database found
among the ovnkube pods. These ran against the stand-in's imitation of exec (``tests/steps/debug/test_live.py``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster import ovn
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.tmm import parse_ip_br_link
from spkrunbook.errors import ExecError
from spkrunbook.steps.debug import captures, sidecar
from tests.dataplane import helpers as h
from tests.support.dataplane import BRIDGE, DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]


@pytest.fixture(scope="module")
def tmm(node_cluster: NodeCluster, node: DataPlane) -> Iterator[dict[str, object]]:
    """The NADs and one TMM-shaped pod on net1/net2 (the f5-tmm stand-in answering on its self IPs)."""
    h.wipe(node_cluster, node)
    h.apply_nads(node_cluster.admin)
    yield h.tmm_pod(node_cluster, node)
    h.wipe(node_cluster, node)


@pytest.fixture
def target(node_cluster: NodeCluster, tmp_path: Path) -> Iterator[LiveTarget]:
    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN), retries=1) as t:
        yield t


@pytest.fixture
def lab() -> params.Lab:
    return h.demo_lab()


def test_run_in_sidecar_through_the_client(tmm: dict[str, object], target: LiveTarget) -> None:
    res = sidecar.run_in_sidecar(target, "f5-tmm-test", ["ip", "-br", "link"], namespace=h.NS, timeout=10)
    assert res.ok and "net1@if" in res.text
    assert parse_ip_br_link(res.stdout).set_index("interface").loc["net2", "up"]
    with pytest.raises(ExecError, match="exited with status 3: line1\nsomething broke badly") as err:
        sidecar.run_in_sidecar(target, "f5-tmm-test", ["sh", "-c", "echo line1 >&2; echo something broke badly >&2; exit 3"],
                             namespace=h.NS, timeout=10)
    assert "oc exec -n default" in str(err.value)
    with pytest.raises(TypeError, match="never a shell string"):
        sidecar.run_in_sidecar(target, "f5-tmm-test", "ip -br link; rm -rf /", namespace=h.NS)


def test_pod_capture_streams_pcap_bytes_intact(tmm: dict[str, object], node: DataPlane, target: LiveTarget,
                                              lab: params.Lab, tmp_path: Path) -> None:
    progress: list[captures.CaptureProgress] = []
    self_ip = lab.vlans.internal.selfip_v4s[0]
    with h.traffic(node, lab.networks.internal.master, f"http://{self_ip}/", every=0.1):
        res = captures.capture(lab, target, interface="net1", seconds=3, filter=["not", "port", "22"], progress=progress.append)
    files = res.files()
    assert res.ok, res.error
    assert res.exit_code == 124 and f"{res.packets} packets captured" in res.stderr  # timeout(1) ended tcpdump
    assert res.sha256 == hashlib.sha256(res.data).hexdigest() and res.size == len(res.data) > 24
    assert files[res.path] == res.data and res.path == f"captures/{res.name}.pcap"
    assert progress[-1].done and progress[-1].packets == res.packets and progress[-1].bytes == len(res.data)
    assert sum(sum(d.values()) for d in progress[-1].per_second.values()) == res.packets
    assert f"captures/{res.name}.io.svg" in files and f"captures/{res.name}.json" in files
    # the bytes are the real tcpdump's: tshark reads the same number of packets, of the lab's HTTP to TMM
    if shutil.which("tshark"):
        (tmp_path / "c.pcap").write_bytes(res.data)
        out = subprocess.run(["tshark", "-r", str(tmp_path / "c.pcap"), "-T", "fields", "-e", "ip.dst"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.split()
        assert len(subprocess.run(["tshark", "-r", str(tmp_path / "c.pcap")], capture_output=True, text=True,
                                  timeout=60).stdout.splitlines()) == res.packets
        assert self_ip in out
    assert res.frame is not None and (res.frame["dport"] == 80).any()
    # and nothing is left running in the debug container (timeout(1) ended it, not the closed stream)
    assert "tcpdump" not in target.exec(h.NS, "f5-tmm-test", "debug", ["ps", "-o", "args"]).text


def test_node_capture_pod_is_created_and_deleted(tmm: dict[str, object], node: DataPlane, node_cluster: NodeCluster,
                                                target: LiveTarget, lab: params.Lab) -> None:
    """The seed's `tcpdump -i cni0` on the node, the way `oc debug node` does it, while the node talks to the pod."""
    pod_ip = node_cluster.admin.get("pods", "f5-tmm-test", h.NS)["status"]["podIP"]
    stop = threading.Event()

    def talk() -> None:  # the node's own traffic to the pod over the cluster network bridge
        while not stop.is_set():
            try:
                urllib.request.urlopen(f"http://{pod_ip}/", timeout=1).read()
            except OSError:
                pass
            time.sleep(0.1)

    mark = node_cluster.audit_mark()
    worker = threading.Thread(target=talk, daemon=True)
    worker.start()
    try:
        res = captures.capture(lab, target, where="node", node=node.name, interface=BRIDGE, packets=10, seconds=20,
                            image=node.image_names["debug"], progress=lambda p: None)
    finally:
        stop.set()
        worker.join(5)
    assert res.ok, res.error
    assert res.source == f"live node {node.name}" and res.packets == 10
    reqs = node_cluster.requests(ADMIN, mark)
    creates = [r for r in reqs if r.method == "POST" and r.path.endswith("/pods")]
    deletes = [r for r in reqs if r.method == "DELETE" and "spkrunbook-capture-" in r.path]
    assert len(creates) == 1 and len(deletes) == 1
    h.wait_gone(target, "pods", deletes[0].path.rsplit("/", 1)[-1])


def test_node_capture_pod_deleted_when_tcpdump_fails(node: DataPlane, target: LiveTarget) -> None:
    live = captures.LiveCapture(target, where="node", node=node.name, interface="cni9", seconds=2, namespace=h.NS,
                             image=node.image_names["debug"])
    res = live.run()
    assert "cni9: No such device exists" in res.error and not res.ok
    assert live.deleted and live.capture_pod
    h.wait_gone(target, "pods", live.capture_pod)


def test_ovn_routes_live_tries_masters_until_one_answers(tmm: dict[str, object], node: DataPlane, node_cluster: NodeCluster,
                                                        target: LiveTarget, lab: params.Lab) -> None:
    self_ip = lab.vlans.internal.selfip_v4s[0]
    node_cluster.ensure_namespace(h.OVN_NS)
    # p0 is a master whose NB database does not answer (a RAFT follower would refuse); q1 answers.
    for name, command in (("ovnkube-master-p0z9k", ["/usr/local/bin/pause"]), ("ovnkube-master-q1z9k", None)):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": h.OVN_NS, "labels": {"app": "ovnkube-master"}},
               "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                   "name": "nbdb", "image": node.image_names["nbdb"], "imagePullPolicy": "IfNotPresent",
                   "env": [{"name": "NODE_NAME", "value": node.name}, {"name": "ICNI2_ROUTES", "value": f"10.217.64.9/32={self_ip}"}],
                   **({"command": command} if command else
                      {"readinessProbe": {"exec": {"command": ["ovn-nbctl", "--timeout=2", "lr-list"]}, "periodSeconds": 1}})}]}}
        node_cluster.admin.create("pods", pod, h.OVN_NS)
    for name in ("ovnkube-master-p0z9k", "ovnkube-master-q1z9k"):
        h.wait_pod(target, name, namespace=h.OVN_NS)
    routes = ovn.ovn_routes(lab, target)
    assert routes.location is not None and routes.location.pod == "ovnkube-master-q1z9k"
    assert routes.attempts and routes.attempts[0].startswith("ovnkube-master-p0z9k/nbdb: ")
    assert "ovn-nbctl" in routes.attempts[0] and "exited with status 1" in routes.attempts[0]
    (via,) = [r for r in routes.checks if r.check == "OVN routes via TMM"]
    assert via.status == "pass" and "on GR_" + node.name + " via 10.1.10.100 for 10.217.64.9" in via.evidence


def test_the_capture_form_redraws_the_rate_plot_while_it_captures(tmm: dict[str, object], node: DataPlane, target: LiveTarget,
                                                                  lab: params.Lab) -> None:
    from spkrunbook.widgets.debug import CaptureForm

    form = CaptureForm(lab=lab, target=target, redraw_every=0.0)
    assert form.pod.value == "f5-tmm-test" and {"net1", "net2"} <= set(form.interface.options)  # from network-status
    form.interface.value = "net1"
    form.seconds.value = 3
    with h.traffic(node, lab.networks.internal.master, f"http://{lab.vlans.internal.selfip_v4s[0]}/", every=0.1):
        r = form.capture()
    assert r.ok and r.packets > 0 and r.interface == "net1"
    assert form.redraws >= 2 and form.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{r.packets} packets" in form.status.value
