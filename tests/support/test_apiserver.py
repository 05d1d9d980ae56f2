"""The stand-in API server, exercised through the official ``kubernetes`` client over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from spkrunbook.cluster.base import RESOURCES, Resource
from tests.support import FakeApiServer
from tests.support.paths import DEMO_DIR

DEMO_SNAPSHOT = DEMO_DIR / "snapshot"
NAD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
    "spec": {
        "group": "k8s.cni.cncf.io",
        "scope": "Namespaced",
        "names": {"plural": "network-attachment-definitions", "kind": "NetworkAttachmentDefinition"},
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}


def _client(api: FakeApiServer, token: str | None = "<server>") -> client.ApiClient:
    token = api.token if token == "<server>" else token
    cfg = client.Configuration(host=api.url)
    if token:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)


def _pod(name: str, ns: str = "spk", labels: dict | None = None, containers=("f5-tmm", "debug"), node="worker-0") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": c, "image": "x"} for c in containers]},
        "status": {"phase": "Running"},
    }


def _raw(api: FakeApiServer, path: str, token: str | None = "<server>") -> tuple[int, str, str]:
    token = api.token if token == "<server>" else token
    req = urllib.request.Request(api.url + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def test_discovery_answers_version_api_and_groups(api: FakeApiServer) -> None:
    version = client.VersionApi(_client(api)).get_code()
    assert version.git_version.startswith("v1.") and version.major == "1"
    assert client.CoreApi(_client(api)).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(_client(api)).get_api_versions().groups}
    assert {"apps", "config.openshift.io", "apiextensions.k8s.io"} <= groups
    assert "k8s.cni.cncf.io" not in groups  # no CRD stored yet


def test_list_get_and_selectors_through_the_client(api: FakeApiServer) -> None:
    api.add_many([_pod("tmm-a", labels={"app": "f5-tmm"}), _pod("tmm-b", labels={"app": "f5-tmm"}, node="worker-1"),
                  _pod("other", labels={"app": "web"}), _pod("elsewhere", ns="default", labels={"app": "f5-tmm"})])
    core = client.CoreV1Api(_client(api))
    pods = core.list_namespaced_pod("spk", label_selector="app=f5-tmm")
    assert sorted(p.metadata.name for p in pods.items) == ["tmm-a", "tmm-b"]
    assert pods.metadata.resource_version
    assert [p.metadata.name for p in core.list_namespaced_pod("spk", label_selector="app in (web)").items] == ["other"]
    assert [p.metadata.name for p in core.list_namespaced_pod("spk", field_selector="spec.nodeName=worker-1").items] == ["tmm-b"]
    assert len(core.list_pod_for_all_namespaces(label_selector="app=f5-tmm").items) == 3
    pod = core.read_namespaced_pod("tmm-a", "spk")
    assert pod.metadata.uid and pod.metadata.creation_timestamp and pod.metadata.resource_version
    status, ctype, body = _raw(api, "/api/v1/namespaces/spk/pods")
    assert status == 200 and ctype == "application/json" and json.loads(body)["kind"] == "PodList"


def test_create_replace_patch_delete_and_status_errors(api: FakeApiServer) -> None:
    core = client.CoreV1Api(_client(api))
    cm = core.create_namespaced_config_map("spk", {"metadata": {"name": "c1"}, "data": {"a": "1"}})
    assert cm.metadata.namespace == "spk" and cm.metadata.uid and cm.metadata.generation == 1
    rv1 = cm.metadata.resource_version

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("spk", {"metadata": {"name": "c1"}})
    assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "AlreadyExists"

    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("spk", {"metadata": {}, "data": {}})
    assert exc.value.status == 422 and json.loads(exc.value.body)["reason"] == "Invalid"

    updated = core.replace_namespaced_config_map("c1", "spk", {"metadata": {"name": "c1", "resourceVersion": rv1},
                                                              "data": {"a": "2"}})
    assert updated.data == {"a": "2"} and updated.metadata.resource_version != rv1
    assert updated.metadata.uid == cm.metadata.uid

    with pytest.raises(ApiException) as exc:  # stale resourceVersion
        core.replace_namespaced_config_map("c1", "spk", {"metadata": {"name": "c1", "resourceVersion": rv1}, "data": {}})
    status = json.loads(exc.value.body)
    assert exc.value.status == 409 and status["reason"] == "Conflict" and status["kind"] == "Status"

    patched = core.patch_namespaced_config_map("c1", "spk", {"metadata": {"labels": {"x": "y"}}, "data": {"b": "3"}})
    assert patched.metadata.labels == {"x": "y"} and patched.data == {"a": "2", "b": "3"}

    core.delete_namespaced_config_map("c1", "spk")
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("c1", "spk")
    body = json.loads(exc.value.body)
    assert exc.value.status == 404 and body["reason"] == "NotFound" and body["details"]["name"] == "c1"
    assert api.objects("configmaps") == []


def test_generation_moves_only_with_spec(api: FakeApiServer) -> None:
    co = client.CustomObjectsApi(_client(api))
    vlan = {"apiVersion": "k8s.f5net.com/v1", "kind": "F5SPKVlan", "metadata": {"name": "v"}, "spec": {"tag": 1}}
    api.add({**NAD_CRD, "metadata": {"name": "f5-spk-vlans.k8s.f5net.com"},
             "spec": {"group": "k8s.f5net.com", "scope": "Namespaced", "names": {"plural": "f5-spk-vlans", "kind": "F5SPKVlan"},
                      "versions": [{"name": "v1", "served": True}]}})
    made = co.create_namespaced_custom_object("k8s.f5net.com", "v1", "spk", "f5-spk-vlans", vlan)
    assert made["metadata"]["generation"] == 1
    lab = co.patch_namespaced_custom_object("k8s.f5net.com", "v1", "spk", "f5-spk-vlans", "v", {"metadata": {"labels": {"a": "b"}}})
    assert lab["metadata"]["generation"] == 1
    spec = co.patch_namespaced_custom_object("k8s.f5net.com", "v1", "spk", "f5-spk-vlans", "v", {"spec": {"tag": 2}})
    assert spec["metadata"]["generation"] == 2 and spec["spec"]["tag"] == 2


def test_custom_group_is_404_until_its_crd_exists(api: FakeApiServer) -> None:
    co = client.CustomObjectsApi(_client(api))
    with pytest.raises(ApiException) as exc:
        co.list_namespaced_custom_object("k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions")
    assert exc.value.status == 404 and "404 page not found" in exc.value.body

    client.ApiextensionsV1Api(_client(api)).create_custom_resource_definition(NAD_CRD)
    nad = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
           "metadata": {"name": "macvlan-internal"}, "spec": {"config": "{}"}}
    co.create_namespaced_custom_object("k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions", nad)
    listed = co.list_namespaced_custom_object("k8s.cni.cncf.io", "v1", "default", "network-attachment-definitions")
    assert listed["kind"] == "NetworkAttachmentDefinitionList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["macvlan-internal"]


def test_crd_of_an_unknown_resource_registers_it(api: FakeApiServer) -> None:
    api.add({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
             "metadata": {"name": "widgets.example.com"},
             "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "widgets", "kind": "Widget"},
                      "versions": [{"name": "v1alpha1", "served": True}]}})
    api.add({"apiVersion": "example.com/v1alpha1", "kind": "Widget", "metadata": {"name": "w1"}})
    co = client.CustomObjectsApi(_client(api))
    assert co.get_cluster_custom_object("example.com", "v1alpha1", "widgets", "w1")["metadata"]["name"] == "w1"
    api.register(Resource("example.com", "v1alpha1", "gadgets", False, "Gadget"))
    with pytest.raises(ApiException) as exc:  # group served, but this resource has no CRD
        co.list_cluster_custom_object("example.com", "v1alpha1", "gadgets")
    assert exc.value.status == 404 and json.loads(exc.value.body)["reason"] == "NotFound"


def test_token_is_required_when_set(api: FakeApiServer) -> None:
    for token in (None, "wrong"):
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(_client(api, token)).list_node()
        assert exc.value.status == 401 and json.loads(exc.value.body)["reason"] == "Unauthorized"


def test_request_log_and_injected_failures(api: FakeApiServer) -> None:
    core = client.CoreV1Api(_client(api))
    api.fail_next("GET", r"/nodes$", 503, times=1)
    with pytest.raises(ApiException) as exc:
        core.list_node()
    assert exc.value.status == 503
    assert core.list_node().items == []
    api.fail_next("*", r"/nodes$", 429)
    with pytest.raises(ApiException) as exc:
        core.list_node(label_selector="a=b")
    assert exc.value.status == 429 and json.loads(exc.value.body)["reason"] == "TooManyRequests"
    assert api.request_count == 3
    method, path, query = api.requests[-1]
    assert (method, path, query) == ("GET", "/api/v1/nodes", {"labelSelector": ["a=b"]})
    api.fail_next("GET", r"/nodes$", 429, retry_after=2, times=None)  # until cleared
    assert [_raw(api, "/api/v1/nodes")[0] for _ in range(2)] == [429, 429]
    api.clear_failures()
    assert _raw(api, "/api/v1/nodes")[0] == 200


def test_seed_from_demo_snapshot_serves_every_object(api: FakeApiServer) -> None:
    from spkrunbook.cluster.snapshot import SnapshotTarget

    count = api.seed_from_snapshot(DEMO_SNAPSHOT)
    snap = SnapshotTarget(DEMO_SNAPSHOT)
    assert count == sum(len(snap.list(r)) for r in RESOURCES.values()) > 0
    ac = _client(api)
    nodes = json.loads(_raw(api, "/api/v1/nodes")[2])["items"]  # raw: demo nodes carry a partial nodeInfo
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(n["metadata"]["name"] for n in snap.list("nodes"))
    nads = client.CustomObjectsApi(ac).list_cluster_custom_object("k8s.cni.cncf.io", "v1", "network-attachment-definitions")
    assert len(nads["items"]) == len(snap.list("network-attachment-definitions"))


def test_created_pod_turns_running_after_the_startup_delay(api: FakeApiServer) -> None:
    api.pod_startup_delay = 0.3
    core = client.CoreV1Api(_client(api))
    core.create_namespaced_pod("default", {"metadata": {"name": "debug-node"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert core.read_namespaced_pod("debug-node", "default").status.phase == "Pending"
    time.sleep(0.35)
    pod = core.read_namespaced_pod("debug-node", "default")
    assert pod.status.phase == "Running"
    assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def test_kubelet_configz(api: FakeApiServer) -> None:
    api.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-0"}})
    api.kubelet_configs["worker-0"] = {"cpuManagerPolicy": "static"}
    status, _, body = _raw(api, "/api/v1/nodes/worker-0/proxy/configz")
    assert status == 200 and json.loads(body) == {"kubeletconfig": {"cpuManagerPolicy": "static"}}
    assert _raw(api, "/api/v1/nodes/nope/proxy/configz")[0] == 404


def _exec(api: FakeApiServer, pod: str, argv: list[str], container: str = "debug", stdin: bytes | None = None):
    ws = stream(client.CoreV1Api(_client(api)).connect_get_namespaced_pod_exec, pod, "spk", command=argv,
                container=container, stdin=stdin is not None, stdout=True, stderr=True, tty=False,
                _preload_content=False, binary=True)
    if stdin is not None:
        ws.write_stdin(stdin)
        ws.close_channel(0)
    ws.run_forever(timeout=10)
    return ws


@pytest.mark.parametrize("protocols", [None, ("v4.channel.k8s.io",)])
def test_exec_protocol_through_the_stream_client(protocols) -> None:
    kw = {"exec_protocols": protocols} if protocols else {}
    with FakeApiServer(token="t0ken", **kw) as api:
        api.add(_pod("tmm-a"))
        api.on_exec("tmm-.*", "debug", lambda argv, stdin: (b"out:" + " ".join(argv).encode() + stdin, b"warn", 3))
        ws = _exec(api, "tmm-a", ["tmctl", "-d", "blade"], stdin=b"|in")
        assert ws.subprotocol == (protocols[0] if protocols else "v5.channel.k8s.io")
        assert ws.read_stdout() == b"out:tmctl -d blade|in"
        assert ws.read_stderr() == b"warn"
        status = json.loads(ws.read_channel(3))
        assert status["reason"] == "NonZeroExitCode" and status["details"]["causes"][0]["message"] == "3"
        _method, path, query = api.requests[-1]
        assert path == "/api/v1/namespaces/spk/pods/tmm-a/exec" and query["command"] == ["tmctl", "-d", "blade"]


def test_exec_unknown_pod_is_404_before_upgrade(api: FakeApiServer) -> None:
    with pytest.raises(ApiException) as exc:
        _exec(api, "ghost", ["true"])
    assert "404" in exc.value.reason


def test_exec_command_without_handler_fails_like_a_missing_binary(api: FakeApiServer) -> None:
    api.add(_pod("tmm-a"))
    ws = _exec(api, "tmm-a", ["nosuch"])
    status = json.loads(ws.read_channel(3))
    assert status["status"] == "Failure" and "executable file not found" in status["message"]
