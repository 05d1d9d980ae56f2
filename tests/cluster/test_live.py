"""LiveTarget against the stand-in API server: real client, real HTTP, real exec websocket."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ClusterError, ClusterUnreachable, Conflict, ExecError, Forbidden, ResourceMissing
from spkrunbook.params import TargetParams
from tests.support import FakeApiServer, paths, write_kubeconfig

SECRET = "sha256~planted-secret-0123456789"
NAD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
    "spec": {"group": "k8s.cni.cncf.io", "scope": "Namespaced",
             "names": {"plural": "network-attachment-definitions", "kind": "NetworkAttachmentDefinition"},
             "versions": [{"name": "v1", "served": True, "storage": True}]},
}


def _nad(name: str, master: str = "ens224") -> dict:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": "default", "labels": {"app.kubernetes.io/managed-by": "spkrunbook"}},
            "spec": {"config": f'{{"cniVersion":"0.3.1","type":"macvlan","master":"{master}","mode":"bridge"}}'}}


def _pod(name: str, ns: str = "spk", containers=("f5-tmm", "debug"), labels=None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": "worker-0", "containers": [{"name": c, "image": "x"} for c in containers]},
            "status": {"phase": "Running"}}


@pytest.fixture
def target(api: FakeApiServer, kubeconfig: Path) -> Iterator[LiveTarget]:
    """A LiveTarget from the kubeconfig, with a short backoff so retry tests stay fast."""
    t = LiveTarget.from_params(TargetParams(kind="live", kubeconfig=kubeconfig, context="fake-lab"))
    t.backoff = 0.01
    yield t
    t.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- connecting -----------------------------------------------------------------------------------------
def test_from_params_checks_reachability_and_describes_the_target(api: FakeApiServer, target: LiveTarget) -> None:
    info = target.info()
    assert info.kind == "live" and info.name == "fake-lab"
    assert info.details["server"] == api.url and info.details["user"] == "lab-admin"
    assert info.details["kubernetes_version"].startswith("v1.")
    assert api.token and api.token not in repr(info)
    assert api.requests[0].path == "/version"


def test_unreachable_server_is_one_clear_error_quickly(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    kc = write_kubeconfig(tmp_path / "kc", url, token=SECRET)
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable) as exc:
        LiveTarget.from_params(TargetParams(kind="live", kubeconfig=kc))
    assert time.monotonic() - started < 5
    text = str(exc.value)
    assert url in text and "refused" in text and "oc whoami --show-server" in text and str(kc) in text
    assert SECRET not in text and "Traceback" not in text
    assert exc.value.exit_code == 2


def test_missing_kubeconfig_or_context_is_unreachable_with_a_hint(tmp_path: Path, kubeconfig: Path) -> None:
    with pytest.raises(ClusterUnreachable, match="does not exist"):
        LiveTarget.from_params(TargetParams(kind="live", kubeconfig=tmp_path / "nope"))
    with pytest.raises(ClusterUnreachable, match=r"no context 'other'.*fake-lab"):
        LiveTarget.from_params(TargetParams(kind="live", kubeconfig=kubeconfig, context="other"))


def test_wrong_token_is_forbidden_without_leaking_it(api: FakeApiServer, tmp_path: Path) -> None:
    kc = write_kubeconfig(tmp_path / "kc", api.url, token="sha256~wrong-token-xyz")
    with pytest.raises(Forbidden) as exc:
        LiveTarget.from_params(TargetParams(kind="live", kubeconfig=kc))
    assert exc.value.status == 401 and "oc login" in str(exc.value)
    assert "wrong-token" not in str(exc.value) and str(api.token) not in str(exc.value)


def test_server_and_token_params(api: FakeApiServer) -> None:
    t = LiveTarget.from_params(TargetParams(kind="live", server=api.url, token=api.token))
    assert t.info().name == api.url and t.list("nodes") == []


# -- reading -------------------------------------------------------------------------------------------
def test_get_list_and_selectors(api: FakeApiServer, target: LiveTarget) -> None:
    api.add_many([_pod("tmm-a", labels={"app": "f5-tmm"}), _pod("tmm-b", labels={"app": "f5-tmm"}),
                  _pod("web", labels={"app": "web"}), _pod("tmm-c", ns="other", labels={"app": "f5-tmm"})])
    assert sorted(p["metadata"]["name"] for p in target.list("pods", "spk", label_selector="app=f5-tmm")) == ["tmm-a", "tmm-b"]
    everywhere = target.list("pods", label_selector="app=f5-tmm")
    assert len(everywhere) == 3 and all(p["kind"] == "Pod" for p in everywhere)
    assert [p["metadata"]["name"] for p in target.list("pods", "spk", field_selector="metadata.name=web")] == ["web"]
    assert target.get("pods", "tmm-a", "spk")["metadata"]["uid"]
    assert target.exists("pods", "tmm-a", "spk") and not target.exists("pods", "ghost", "spk")


def test_404_is_resource_missing_from_the_api_exception(target: LiveTarget) -> None:
    with pytest.raises(ResourceMissing) as exc:
        target.get("pods", "ghost", "spk")
    assert exc.value.status == 404 and exc.value.reason == "NotFound"
    assert "pods/ghost in namespace spk" in str(exc.value)
    assert isinstance(exc.value.__cause__, ApiException)


def test_missing_crd_names_the_crd_to_install(api: FakeApiServer, target: LiveTarget) -> None:
    for call in (lambda: target.list("network-attachment-definitions", "default"),
                 lambda: target.get("network-attachment-definitions", "macvlan-internal", "default")):
        with pytest.raises(ResourceMissing) as exc:
            call()
        assert "network-attachment-definitions.k8s.cni.cncf.io is not installed" in str(exc.value)
    api.add(NAD_CRD)
    assert target.list("network-attachment-definitions", "default") == []
    with pytest.raises(ResourceMissing, match="not found"):
        target.get("network-attachment-definitions", "macvlan-internal", "default")


def test_kubelet_config_and_raw_get(api: FakeApiServer, target: LiveTarget) -> None:
    api.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-0"}})
    api.kubelet_configs["worker-0"] = {"cpuManagerPolicy": "static", "topologyManagerPolicy": "single-numa-node"}
    assert target.kubelet_config("worker-0")["cpuManagerPolicy"] == "static"
    assert target.get_raw("/api/v1/nodes/worker-0/proxy/configz")["kubeletconfig"]["topologyManagerPolicy"] == "single-numa-node"


# -- writing -------------------------------------------------------------------------------------------
def test_create_replace_patch_delete(api: FakeApiServer, target: LiveTarget) -> None:
    api.add(NAD_CRD)
    made = target.create("network-attachment-definitions", _nad("macvlan-internal"))
    assert made["metadata"]["resourceVersion"] and made["metadata"]["namespace"] == "default"
    assert target.create("network-attachment-definitions", _nad("dry"), dry_run=True)["metadata"]["name"] == "dry"
    assert not target.exists("network-attachment-definitions", "dry", "default")

    with pytest.raises(Conflict) as exc:
        target.create("network-attachment-definitions", _nad("macvlan-internal"))
    assert exc.value.status == 409 and exc.value.reason == "AlreadyExists"

    fresh = target.get("network-attachment-definitions", "macvlan-internal", "default")
    fresh["spec"]["config"] = fresh["spec"]["config"].replace("ens224", "ens225")
    replaced = target.replace("network-attachment-definitions", fresh)
    assert "ens225" in replaced["spec"]["config"]
    with pytest.raises(Conflict) as exc:  # fresh now carries a stale resourceVersion
        target.replace("network-attachment-definitions", fresh)
    assert exc.value.reason == "Conflict" and "read it again" in str(exc.value)

    patched = target.patch("network-attachment-definitions", "macvlan-internal", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert patched["metadata"]["labels"]["x"] == "1"
    target.delete("network-attachment-definitions", "macvlan-internal", "default")
    assert api.objects("network-attachment-definitions") == []
    with pytest.raises(ResourceMissing):
        target.delete("network-attachment-definitions", "macvlan-internal", "default")
    target.delete("network-attachment-definitions", "macvlan-internal", "default", missing_ok=True)


def test_forbidden_names_verb_and_suggests_can_i(api: FakeApiServer, target: LiveTarget) -> None:
    api.fail_next("POST", r"/namespaces/spk/configmaps$", 403, message='configmaps is forbidden: User "lab" cannot create')
    with pytest.raises(Forbidden) as exc:
        target.create("configmaps", {"metadata": {"name": "c"}}, "spk")
    assert exc.value.status == 403 and "oc auth can-i create configmaps -n spk" in str(exc.value)


def test_node_debug_pod_is_created_waited_for_and_deleted(api: FakeApiServer, target: LiveTarget) -> None:
    api.pod_startup_delay = 0.2
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "worker-0-debug-", "namespace": "default"},
           "spec": {"nodeName": "worker-0", "hostNetwork": True, "containers": [
               {"name": "container-00", "image": "tools", "securityContext": {"privileged": True}}]}}
    made = target.create("pods", pod)
    name = made["metadata"]["name"]
    assert made["status"]["phase"] == "Pending"
    ready = target.wait_for("pods", name, "default", lambda p: p["status"].get("phase") == "Running", timeout=5, interval=0.05)
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in ready["status"]["conditions"])
    target.delete("pods", name, "default", grace_period=0)
    assert api.objects("pods") == []
    assert api.requests[-1].query == {"gracePeriodSeconds": ["0"]}


# -- retries -------------------------------------------------------------------------------------------
def test_two_503s_then_success_is_retried(api: FakeApiServer, target: LiveTarget) -> None:
    api.reset_requests()
    before = target.request_count
    api.fail_next("GET", r"^/api/v1/nodes$", 503, times=2)
    assert target.list("nodes") == []
    assert [r.path for r in api.requests] == ["/api/v1/nodes"] * 3
    assert target.request_count - before == 3


def test_more_failures_than_retries_is_an_error(api: FakeApiServer, target: LiveTarget) -> None:
    api.reset_requests()
    api.fail_next("GET", r"^/api/v1/nodes$", 429, times=target.retries + 1)
    with pytest.raises(ClusterError) as exc:
        target.list("nodes")
    assert exc.value.status == 429 and f"after {target.retries + 1} attempt" in str(exc.value)
    assert api.request_count == target.retries + 1


def test_retry_after_is_honoured(api: FakeApiServer, target: LiveTarget) -> None:
    api.fail_next("GET", r"^/api/v1/nodes$", 429, retry_after=0.3)
    started = time.monotonic()
    target.list("nodes")
    assert time.monotonic() - started >= 0.3


# -- exec ----------------------------------------------------------------------------------------------
@pytest.fixture
def tmm(api: FakeApiServer) -> FakeApiServer:
    api.add(_pod("f5-tmm-7d9c6b5f4d-x2k8q"))
    return api


def test_exec_separates_streams_and_reports_exit_codes(tmm: FakeApiServer, target: LiveTarget) -> None:
    def handler(argv: list[str], stdin: bytes):
        if argv[0] == "ok":
            return b"out\n", b"", 0
        return b"partial\n", b"tmctl: no such table\n", 2

    tmm.on_exec("f5-tmm-.*", "debug", handler)
    ok = target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["ok"])
    assert (ok.stdout, ok.stderr, ok.exit_code, ok.ok) == (b"out\n", b"", 0, True)
    bad = target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["tmctl", "-d", "blade", "nope"])
    assert (bad.stdout, bad.stderr, bad.exit_code, bad.ok) == (b"partial\n", b"tmctl: no such table\n", 2, False)


def test_binary_payload_round_trips_exactly(tmm: FakeApiServer, target: LiveTarget) -> None:
    rng = random.Random(7)
    payload = bytes(range(256)) * 4 + bytes(rng.getrandbits(8) for _ in range(300_000))
    tmm.on_exec(".*", "debug", lambda argv, stdin: (payload if argv == ["cat", "capture.pcap"] else stdin, b"", 0))
    got = target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["cat", "capture.pcap"])
    assert got.exit_code == 0 and len(got.stdout) == len(payload) and got.stdout == payload
    echoed = target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["cat"], stdin=payload[:70_000])
    assert echoed.stdout == payload[:70_000]


def test_exec_stream_yields_chunks_in_order_as_they_arrive(tmm: FakeApiServer, target: LiveTarget) -> None:
    def capture(argv: list[str], stdin: bytes):
        for i in range(5):
            yield 1, f"pkt{i};".encode()
            time.sleep(0.1)
        yield 2, b"5 packets captured\n"
        return 0

    tmm.on_exec(".*", "debug", capture)
    run = target.exec_stream("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["tcpdump", "-i", "eth1", "-w", "-"])
    started = time.monotonic()
    seen: list[tuple[float, int, bytes]] = [(time.monotonic() - started, ch, data) for ch, data in run]
    assert b"".join(d for _, ch, d in seen if ch == 1) == b"pkt0;pkt1;pkt2;pkt3;pkt4;"
    assert b"".join(d for _, ch, d in seen if ch == 2) == b"5 packets captured\n"
    assert seen[0][0] < 0.3  # the first packet arrived long before the command ended (~0.5 s)
    assert run.exit_code == 0 and not run.timed_out


def test_exec_timeout_closes_the_stream(tmm: FakeApiServer, target: LiveTarget) -> None:
    stopped = threading.Event()

    def forever(argv: list[str], stdin: bytes):
        try:
            while True:
                yield 1, b"."
                time.sleep(0.05)
        finally:
            stopped.set()

    tmm.on_exec(".*", "debug", forever)
    started = time.monotonic()
    res = target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["tcpdump", "-i", "cni0"], timeout=0.5)
    assert res.timed_out and res.exit_code is None and not res.ok and res.stdout.startswith(b".")
    assert time.monotonic() - started < 2
    assert stopped.wait(3), "the server-side command was not stopped after the client closed"


def test_exec_errors(tmm: FakeApiServer, target: LiveTarget) -> None:
    with pytest.raises(ResourceMissing, match="pods/ghost in namespace spk"):
        target.exec("spk", "ghost", "debug", ["true"])
    with pytest.raises(ExecError, match="executable file not found"):
        target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", ["no-such-tool"])
    with pytest.raises(ExecError, match="not valid"):
        target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "sidecar", ["true"])
    with pytest.raises(TypeError):
        target.exec("spk", "f5-tmm-7d9c6b5f4d-x2k8q", "debug", "ls -l")  # type: ignore[arg-type]


def test_exec_on_a_v4_only_server(tmp_path: Path) -> None:
    with FakeApiServer(exec_protocols=("v4.channel.k8s.io",)) as api:
        api.add(_pod("tmm"))
        api.on_exec("tmm", None, lambda argv, stdin: (stdin[::-1], b"", 7))
        t = LiveTarget.from_kubeconfig(write_kubeconfig(tmp_path / "kc", api.url))
        res = t.exec("spk", "tmm", "debug", ["rev"], stdin=b"abc")
        assert (res.stdout, res.exit_code) == (b"cba", 7)


def test_seeded_demo_snapshot_reads_like_the_snapshot_and_can_lose_its_nad_crd(api: FakeApiServer, target: LiveTarget) -> None:
    from spkrunbook.cluster.snapshot import SnapshotTarget

    demo = paths.DEMO_DIR / "snapshot"
    api.seed_from_snapshot(demo)
    snap = SnapshotTarget(demo)
    for name in ("nodes", "network-attachment-definitions", "clusterversions", "networks.config"):
        live_names = sorted(o["metadata"]["name"] for o in target.list(name))
        assert live_names == sorted(o["metadata"]["name"] for o in snap.list(name)), name
    assert api.remove("customresourcedefinitions", "network-attachment-definitions.k8s.cni.cncf.io")
    with pytest.raises(ResourceMissing, match="CustomResourceDefinition network-attachment-definitions"):
        target.list("network-attachment-definitions", "default")
