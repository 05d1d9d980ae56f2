"""``LiveTarget``'s exec and pod lifecycle against the real node: the official client's websocket to the real
kube-apiserver, which proxies it to the kubelet, which streams it from containerd (runc runs the command).

These were tests against the stand-in's imitation of the exec protocol (``tests/cluster/test_live.py``);
what the stand-in still shows here is what the real node cannot do on demand: a server that speaks only
``v4.channel.k8s.io``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ExecError, ResourceMissing
from tests.dataplane import helpers as h
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

POD = "exec-target"


@pytest.fixture(scope="module")
def pod(node_cluster: NodeCluster, node: DataPlane) -> Iterator[str]:
    """One running pod (the debug image: busybox, ip, tcpdump, timeout) for the module's exec tests."""
    h.wipe(node_cluster, node)
    pod = h.pod_manifest(POD, node)
    pod["spec"]["containers"][0]["name"] = "debug"
    node_cluster.admin.create("pods", pod, h.NS)
    h.wait_pod(node_cluster.admin, POD)
    yield POD
    h.wipe(node_cluster, node)


@pytest.fixture
def target(node_cluster: NodeCluster, tmp_path: Path) -> Iterator[LiveTarget]:
    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN), retries=1) as t:
        yield t


def test_exec_separates_streams_and_reports_exit_codes(pod: str, target: LiveTarget) -> None:
    ok = target.exec(h.NS, pod, "debug", ["echo", "out"])
    assert (ok.stdout, ok.stderr, ok.exit_code, ok.ok) == (b"out\n", b"", 0, True)
    bad = target.exec(h.NS, pod, "debug", ["sh", "-c", "echo partial; echo 'tmctl: no such table' >&2; exit 2"])
    assert (bad.stdout, bad.stderr, bad.exit_code, bad.ok) == (b"partial\n", b"tmctl: no such table\n", 2, False)


def test_binary_payload_round_trips_exactly(pod: str, target: LiveTarget) -> None:
    rng = random.Random(7)
    payload = bytes(range(256)) * 4 + bytes(rng.getrandbits(8) for _ in range(300_000))
    echoed = target.exec(h.NS, pod, "debug", ["sh", "-c", "cat > /tmp/capture.pcap; sha256sum /tmp/capture.pcap"],
                         stdin=payload, timeout=60)
    assert echoed.exit_code == 0
    import hashlib

    assert echoed.stdout.split()[0].decode() == hashlib.sha256(payload).hexdigest()  # stdin arrived intact
    got = target.exec(h.NS, pod, "debug", ["cat", "/tmp/capture.pcap"], timeout=60)
    assert got.exit_code == 0 and len(got.stdout) == len(payload) and got.stdout == payload  # and came back intact


def test_exec_stream_yields_chunks_in_order_as_they_arrive(pod: str, target: LiveTarget) -> None:
    run = target.exec_stream(h.NS, pod, "debug", ["sh", "-c", "for i in 0 1 2 3 4; do printf pkt$i';'; sleep 0.3; done; "
                                                              "echo '5 packets captured' >&2"])
    started = time.monotonic()
    seen = [(time.monotonic() - started, ch, data) for ch, data in run]
    assert b"".join(d for _, ch, d in seen if ch == 1) == b"pkt0;pkt1;pkt2;pkt3;pkt4;"
    assert b"".join(d for _, ch, d in seen if ch == 2) == b"5 packets captured\n"
    assert seen[0][0] < 1.0 < seen[-1][0]  # the first chunk arrived long before the command ended (~1.5 s)
    assert run.exit_code == 0 and not run.timed_out


def test_exec_timeout_closes_the_stream_but_not_the_command(pod: str, target: LiveTarget) -> None:
    """The client gives up on time. The command does not end with it: neither the kubelet nor containerd stops
    an exec'd process when its stream closes (the stand-in used to; the real node is right). That is why the
    runbook's captures run under timeout(1): tcpdump ends by itself (tests/dataplane/test_capture.py)."""
    started = time.monotonic()
    res = target.exec(h.NS, pod, "debug", ["sh", "-c", "while :; do printf .; sleep 0.05; done"], timeout=1.0)
    assert res.timed_out and res.exit_code is None and not res.ok and res.stdout.startswith(b".")
    assert time.monotonic() - started < 3
    time.sleep(2)
    assert "while :; do printf ." in target.exec(h.NS, pod, "debug", ["ps", "-o", "args"]).text
    target.exec(h.NS, pod, "debug", ["sh", "-c", "kill $(ps -o pid,args | awk '/while :; do printf/ && !/awk/ {print $1}')"])
    bounded = target.exec(h.NS, pod, "debug", ["timeout", "-s", "INT", "1", "sh", "-c", "while :; do printf .; sleep 0.05; done"],
                          timeout=10)
    assert bounded.exit_code == 124 and not bounded.timed_out  # timeout(1) ended it, and said so


def test_output_that_never_ends_is_cut_at_the_byte_cap(pod: str, target: LiveTarget) -> None:
    """Issue 23 against the real kubelet (the stand-in's flood is in tests/test_hostile_runs.py): a command that
    never stops writing is cut at ``max_bytes`` long before its deadline; what came is kept and the cut is said."""
    started = time.monotonic()
    res = target.exec(h.NS, pod, "debug", ["sh", "-c", "while :; do echo 0123456789abcdef0123456789abcdef; done"],
                      timeout=60, max_bytes=1 << 20)
    assert len(res.stdout) == 1 << 20 and res.stdout.startswith(b"0123456789abcdef") and not res.ok
    assert res.cut.startswith("output cut at 1,048,576 bytes") and time.monotonic() - started < 30, res.cut
    target.exec(h.NS, pod, "debug", ["sh", "-c", "kill $(ps -o pid,args | awk '/while :; do echo/ && !/awk/ {print $1}')"])


def test_exec_errors(pod: str, target: LiveTarget) -> None:
    with pytest.raises(ResourceMissing, match=f"pods/ghost in namespace {h.NS}"):
        target.exec(h.NS, "ghost", "debug", ["true"])
    with pytest.raises(ExecError, match="executable file not found"):
        target.exec(h.NS, pod, "debug", ["no-such-tool"])
    with pytest.raises(ExecError, match="container sidecar is not valid for pod"):
        target.exec(h.NS, pod, "sidecar", ["true"])
    with pytest.raises(TypeError):
        target.exec(h.NS, pod, "debug", "ls -l")  # type: ignore[arg-type]


def test_node_debug_pod_is_created_waited_for_and_deleted(node: DataPlane, target: LiveTarget) -> None:
    """What ``oc debug node`` does, and the node capture does: a privileged host-network pod on the node."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": f"{node.name}-debug-", "namespace": h.NS},
           "spec": {"nodeName": node.name, "hostNetwork": True, "terminationGracePeriodSeconds": 1, "containers": [
               {"name": "container-00", "image": node.image_names["debug"], "imagePullPolicy": "IfNotPresent",
                "securityContext": {"privileged": True}}]}}
    made = target.create("pods", pod)
    name = made["metadata"]["name"]
    assert made["status"]["phase"] == "Pending"
    ready = target.wait_for("pods", name, h.NS, lambda p: p["status"].get("phase") == "Running", timeout=60, interval=0.2)
    assert ready["status"]["podIP"] == ready["status"]["hostIP"]  # the node's own network
    links = target.exec(h.NS, name, "container-00", ["ip", "-br", "link"]).text
    assert "ens224" in links and "cni0" in links  # it sees the node's interfaces
    target.delete("pods", name, h.NS, grace_period=0)
    h.wait_gone(target, "pods", name)
