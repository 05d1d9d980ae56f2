"""Exec, captures and OVN reads through the official client against the stand-in API server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.capture import read_pcap
from spkrunbook.steps import debug
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.errors import ExecError, NotAvailable
from tests.support.labdata import TMM_POD, lab_objects
from tests.support.paths import DEMO_DIR, DEMO_PARAMS
from tests.support import paths

ROOT = paths.ROOT
DEMO = DEMO_PARAMS
DATA = DEMO_DIR / "snapshot/quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d"
PCAP = (DEMO_DIR / "captures/cni0.pcap").read_bytes()
N_PACKETS = len(read_pcap(PCAP))  # the demo capture is remade by scripts/make_demo_captures.sh


@pytest.fixture
def lab():
    return params.load(DEMO)


@pytest.fixture
def target(api, kubeconfig):
    api.add_many(lab_objects())
    t = LiveTarget.from_kubeconfig(kubeconfig)
    yield t
    t.close()


    def save_figure(self, rel, fig):
        p = self._p(rel); fig.savefig(p); return p


def _sidecar(argv, stdin):
    outputs = {("ip", "-br", "link"): (DATA / "spkrunbook-exec/default" / TMM_POD / "debug/ip_-br_link.out").read_bytes()}
    if tuple(argv) in outputs:
        return outputs[tuple(argv)], b"", 0
    if argv[0] == "false":
        return b"", b"line1\nsomething broke badly\n", 3
    return None


def test_run_in_sidecar_through_the_client(api, target):
    api.on_exec("f5-tmm-.*", "debug", _sidecar)
    res = debug.run_in_sidecar(target, TMM_POD, ["ip", "-br", "link"], namespace="default", timeout=10)
    assert res.ok and "net1@if5" in res.text
    assert debug.parse_ip_br_link(res.stdout).set_index("interface").loc["net2", "up"]
    with pytest.raises(ExecError, match="exited with status 3: line1\nsomething broke badly") as err:
        debug.run_in_sidecar(target, TMM_POD, ["false"], namespace="default", timeout=10)
    assert "oc exec -n default" in str(err.value)
    with pytest.raises(TypeError, match="never a shell string"):
        debug.run_in_sidecar(target, TMM_POD, "ip -br link; rm -rf /", namespace="default")


def test_snapshot_exec_replays_or_says_what_is_missing(lab):
    t = SnapshotTarget(lab.target.snapshot)
    assert "xeth0" in debug.run_in_sidecar(t, TMM_POD, debug.sidecar.DEVICE_PROBED).text
    with pytest.raises(NotAvailable):
        debug.run_in_sidecar(t, TMM_POD, ["uptime"])


def test_pod_capture_streams_pcap_bytes_intact(api, target, lab, tmp_path):
    seen = {}

    def tcpdump(argv, stdin):
        if "tcpdump" not in argv:
            return None
        seen["argv"] = argv

        def gen():
            yield 2, b"tcpdump: listening on net1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"
            for i in range(0, len(PCAP), 7001):  # odd-sized pieces cut records anywhere
                yield 1, PCAP[i:i + 7001]
            yield 2, b"%d packets captured\n" % N_PACKETS
            return 124  # timeout(1) ended tcpdump
        return gen()

    api.on_exec("f5-tmm-.*", "debug", tcpdump)
    progress = []
    res = debug.capture(lab, target, interface="net1", seconds=2, filter=["not", "port", "22"],
                        progress=progress.append)
    files = res.files()
    assert seen["argv"] == ["timeout", "-s", "INT", "2", "tcpdump", "-i", "net1", "-U", "-w", "-", "-s", "262144",
                            "not", "port", "22"]
    assert res.ok, res.error
    assert res.sha256 == hashlib.sha256(PCAP).hexdigest() and res.size == len(PCAP)
    assert files[res.path] == PCAP and res.path == f"captures/{res.name}.pcap"
    assert res.packets == N_PACKETS and res.exit_code == 124 and f"{N_PACKETS} packets captured" in res.stderr
    assert progress[-1].done and progress[-1].packets == N_PACKETS and progress[-1].bytes == len(PCAP)
    assert sum(sum(d.values()) for d in progress[-1].per_second.values()) == N_PACKETS
    assert f"captures/{res.name}.io.png" in files and f"captures/{res.name}.json" in files


def test_node_capture_pod_is_created_and_deleted(api, target, lab, tmp_path):
    def tcpdump(argv, stdin):
        return PCAP[:4000], b"", 0

    api.on_exec("spkrunbook-capture-.*", "capture", tcpdump)
    res = debug.capture(lab, target, where="node", interface="cni0", packets=10, seconds=5,
                        progress=lambda p: None)
    assert res.ok, res.error
    assert res.source == "live node worker-1" and res.packets > 0
    creates = [r for r in api.requests if r.method == "POST" and r.path.endswith("/pods")]
    deletes = [r for r in api.requests if r.method == "DELETE" and "spkrunbook-capture-" in r.path]
    assert len(creates) == 1 and len(deletes) == 1
    assert not [o for o in api.objects("pods") if o["metadata"]["name"].startswith("spkrunbook-capture-")]


def test_node_capture_pod_deleted_when_tcpdump_fails(api, target, lab):
    api.on_exec("spkrunbook-capture-.*", "capture",
                lambda argv, stdin: (b"", b"tcpdump: cni9: No such device exists\n", 1))
    live = debug.LiveCapture(target, where="node", node="worker-1", interface="cni9", seconds=1,
                             namespace="default")
    res = live.run()
    assert "No such device exists" in res.error and not res.ok
    assert live.deleted and live.capture_pod
    assert api.get_object("pods", live.capture_pod, "default") is None
    spec = next(r for r in api.requests if r.method == "POST")
    assert spec.path == "/api/v1/namespaces/default/pods"


def test_node_capture_pod_manifest():
    pod = debug.node_capture_pod("worker-1", "default", seconds=10)
    spec = pod["spec"]
    assert spec["nodeName"] == "worker-1" and spec["hostNetwork"] and spec["restartPolicy"] == "Never"
    assert spec["containers"][0]["securityContext"]["privileged"] is True
    assert spec["activeDeadlineSeconds"] >= 10


def test_capture_on_snapshot_is_a_skip(lab):
    res = debug.capture(lab, SnapshotTarget(lab.target.snapshot), progress=lambda p: None)
    assert res.skipped and "live cluster" in res.skipped and not res.error


def test_ovn_routes_live_tries_masters_until_one_answers(api, target, lab):
    nb = DATA / "spkrunbook-exec/openshift-ovn-kubernetes/ovnkube-master-p0z9k/nbdb"

    def leader(argv, stdin):
        from spkrunbook.cluster.snapshot import exec_slug
        return (nb / f"{exec_slug(argv)}.out").read_bytes(), b"", 0

    api.on_exec("ovnkube-master-p0z9k", "nbdb", lambda a, s: (b"", b"ovn-nbctl: not the leader\n", 1))
    api.on_exec("ovnkube-master-q1z9k", "nbdb", leader)
    routes = debug.ovn_routes(lab, target)
    assert routes.location.pod == "ovnkube-master-q1z9k"
    assert "not the leader" in routes.attempts[0]
    assert [(r.check, r.status) for r in routes.checks] == [("OVN routes via TMM", "pass"), ("external routes", "pass")]


def test_ovn_check_says_what_is_missing(lab):
    from spkrunbook.steps.debug import ovn

    t = SnapshotTarget(lab.target.snapshot)
    r = ovn.OvnRoutes(node="worker-1", gateway_router="GR_worker-1",
                      gateway_routes=debug.parse_lr_route_list("IPv4 Routes\n 0.0.0.0/0 10.1.10.1 dst-ip rtoe-GR_worker-1\n"))
    rows = ovn.check(lab, t, r)
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
    cands, mode, why = debug.nbdb_candidates(lab, t, "worker-1")
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
    live = debug.LiveCapture(target, where="pod", pod=TMM_POD, interface="net1", seconds=60, namespace="default")
    live.max_bytes = 4 << 20
    res = live.run()
    assert res.size <= 4 << 20 and res.packets > N_PACKETS and res.duration < 30
    assert any("the capture was cut at 4,194,304 bytes" in n for n in res.notes), res.notes
