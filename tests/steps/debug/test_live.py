"""Exec, captures and OVN reads on a snapshot, what needs no server (manifests, checks), and a capture's byte
cap against the stand-in server (an exec that never stops printing, which a real node will not do on demand).

The live paths (commands in the debug container, pod and node captures, the NB database among the
ovnkube pods) run against the real node: tests/dataplane/test_debug.py."""

from __future__ import annotations

import pytest

from spkrunbook import params
from spkrunbook.capture import read_pcap
from spkrunbook.cluster import ovn
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.ovn import listings
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.errors import NotAvailable
from spkrunbook.steps.debug import captures, sidecar
from tests.support.labdata import TMM_POD, lab_objects
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

DEMO = DEMO_PARAMS
PCAP = (DEMO_DIR / "captures/cni0.pcap").read_bytes()
N_PACKETS = len(read_pcap(PCAP))  # the demo capture is remade by scripts/make_demo_captures.sh


@pytest.fixture
def lab():
    return params.load(DEMO)


@pytest.fixture
def target(api, kubeconfig):
    """The stand-in API server (its exec answers are made to order: a link that never quiets)."""
    api.add_many(lab_objects())
    t = LiveTarget.from_kubeconfig(kubeconfig)
    yield t
    t.close()


def test_snapshot_exec_replays_or_says_what_is_missing(lab):
    t = SnapshotTarget(lab.target.snapshot)
    assert "xeth0" in sidecar.run_in_sidecar(t, TMM_POD, sidecar.DEVICE_PROBED).text
    with pytest.raises(NotAvailable):
        sidecar.run_in_sidecar(t, TMM_POD, ["uptime"])


def test_node_capture_pod_manifest():
    pod = captures.node_capture_pod("worker-1", "default", seconds=10)
    spec = pod["spec"]
    assert spec["nodeName"] == "worker-1" and spec["hostNetwork"] and spec["restartPolicy"] == "Never"
    assert spec["containers"][0]["securityContext"]["privileged"] is True
    assert spec["activeDeadlineSeconds"] >= 10


def test_capture_on_snapshot_is_a_skip(lab):
    res = captures.capture(lab, SnapshotTarget(lab.target.snapshot), progress=lambda p: None)
    assert res.skipped and "live cluster" in res.skipped and not res.error


def test_ovn_check_says_what_is_missing(lab):

    t = SnapshotTarget(lab.target.snapshot)
    r = ovn.OvnRoutes(node="worker-1", gateway_router="GR_worker-1",
                      gateway_routes=listings.parse_lr_route_list("IPv4 Routes\n 0.0.0.0/0 10.1.10.1 dst-ip rtoe-GR_worker-1\n"))
    rows = ovn.routes.check(lab, t, r)
    assert rows[0].status == "fail" and "no route on GR_worker-1 has next hop 10.1.10.100" in rows[0].evidence
    assert "no src-ip routes at all" in rows[0].evidence


def test_ovn_version_picks_ovnkube_node_from_4_14(lab, tmp_path):
    from tests.support.labdata import ovnkube_node_pod, write_snapshot

    objs = lab_objects()
    for o in objs:
        if o["kind"] == "ClusterVersion":
            o["status"]["desired"]["version"] = "4.14.3"
        if o["kind"] == "Pod" and o["metadata"]["name"].startswith("ovnkube-node"):
            o["spec"]["containers"].append({"name": "nbdb"})
    t = SnapshotTarget(write_snapshot(objs, tmp_path / "snap"))
    cands, mode, why = ovn.nbdb_candidates(lab, t, "worker-1")
    assert cands[0].pod == ovnkube_node_pod("worker-1", 1)["metadata"]["name"] and cands[0].container == "nbdb"
    assert mode == "interconnect" and "4.14" in why and "4.14" in cands[0].reason


def test_a_capture_of_a_link_that_never_quiets_is_cut_at_its_byte_cap(api, target, lab):
    """Issue 23: what a command prints is capped in bytes too; the capture says it was cut and keeps a readable pcap."""
    def flood(argv, stdin):
        if "tcpdump" not in argv:
            return None

        def gen():
            yield 1, PCAP[:24]
            body = PCAP[24:]
            while True:
                yield 1, body
        return gen()

    api.on_exec("f5-tmm-.*", "debug", flood)
    live = captures.LiveCapture(target, where="pod", pod=TMM_POD, interface="net1", seconds=60, namespace="default")
    live.max_bytes = 4 << 20
    res = live.run()
    assert res.size <= 4 << 20 and res.packets > N_PACKETS and res.duration < 30
    assert any("the capture was cut at 4,194,304 bytes" in n for n in res.notes), res.notes
