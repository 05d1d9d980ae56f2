"""The install step through the real ``helm`` against the real kube-apiserver, with the real
kube-controller-manager (Deployment -> ReplicaSet -> Pod) and kube-scheduler (binding).

The chart is ``tests/fixtures/charts/f5ingress-test`` (shaped like f5ingress, not F5's).
No kubelet and no Multus run here: ``KubeletAndMultus`` writes, for the TMM pods the
scheduler bound, what those two would (the ``network-status`` annotation, a Running/Ready
status), through the same API any kubelet uses. It never creates a pod, never chooses a
node and never touches the QoS class: those come from the real controllers and server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster import facts
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ClusterError
from spkrunbook.steps import install, nad
from spkrunbook.steps.install import verify
from tests.support.paths import DEMO_DIR, DEMO_PARAMS, ROOT
from tests.support.realcluster import ADMIN, RealApi, RealCluster, Resource

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

CHART = ROOT / "tests" / "fixtures" / "charts" / "f5ingress-test"
SECRETS = Resource("", "v1", "secrets", True, "Secret")
TMM = "app=f5-tmm"


class KubeletAndMultus(threading.Thread):
    """Writes what a kubelet and Multus would for bound TMM pods (there are none here); finishes deletions."""

    def __init__(self, cluster: RealCluster, namespace: str = "default",
                 network_status: Callable[[list[str]], list[dict[str, Any]]] | None = None) -> None:
        super().__init__(name="kubelet-and-multus", daemon=True)
        self.cluster, self.namespace = cluster, namespace
        self.network_status = network_status or multus_status
        self.stop = threading.Event()
        self.started_pods: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        a = self.cluster.admin
        while not self.stop.is_set():
            try:
                for pod in a.list("pods", self.namespace, label_selector=TMM):
                    self.tend(a, pod)
            except ClusterError as exc:
                self.errors.append(exc.message)
            self.stop.wait(0.2)

    def tend(self, a: LiveTarget, pod: dict[str, Any]) -> None:
        md, spec = pod["metadata"], pod["spec"]
        if md.get("deletionTimestamp"):  # the kubelet would stop the containers and finish the delete
            a.delete("pods", md["name"], self.namespace, grace_period=0, missing_ok=True)
            return
        if not spec.get("nodeName") or (pod.get("status") or {}).get("phase") == "Running":
            return
        nets = [n.strip() for n in (md.get("annotations") or {}).get("k8s.v1.cni.cncf.io/networks", "").split(",") if n.strip()]
        a.patch("pods", md["name"], {"metadata": {"annotations": {facts.NETWORK_STATUS: json.dumps(self.network_status(nets))}}},
                self.namespace)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cur = a.get("pods", md["name"], self.namespace)
        cur["status"] = {
            **cur.get("status", {}), "phase": "Running", "hostIP": "10.1.10.22", "podIP": "10.128.8.23", "startTime": now,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": c["name"], "ready": True, "started": True, "restartCount": 0, "image": c["image"],
                                   "imageID": "", "containerID": f"cri-o://{i:064x}", "state": {"running": {"startedAt": now}}}
                                  for i, c in enumerate(spec["containers"])],
        }
        a._request("PUT", a.path("pods", md["name"], self.namespace, "status"), body=cur, verb="update", what="pod status")
        self.started_pods.append(md["name"])

    def __enter__(self) -> KubeletAndMultus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(10)


def multus_status(nets: list[str]) -> list[dict[str, Any]]:
    """Multus's network-status for the pod's networks: the default network, then net1, net2 ... in order."""
    out: list[dict[str, Any]] = [{"name": "ovn-kubernetes", "interface": "eth0", "ips": ["10.128.8.23"],
                                  "mac": "0a:58:0a:80:08:17", "default": True, "dns": {}}]
    for i, n in enumerate(nets, 1):
        out.append({"name": n if "/" in n else f"default/{n}", "interface": f"net{i}", "mac": f"7e:12:9c:4a:01:{i:02x}", "dns": {}})
    return out


@pytest.fixture
def helm_env(real_cluster: RealCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """The real helm (v3; v4 where a test is parametrized ``helm_major``) first on PATH, config and cache in tmp_path."""
    callspec = getattr(request.node, "callspec", None)
    major = callspec.params.get("helm_major", 3) if callspec is not None else 3
    helm = real_cluster.bins.helm3 if major == 3 else real_cluster.bins.helm4
    if helm is None:
        pytest.skip(f"helm v{major} is not built: run scripts/build_k8s.sh")
    if not real_cluster.controllers:
        pytest.skip("kube-controller-manager and kube-scheduler are not built: run scripts/build_k8s.sh")
    monkeypatch.setenv("PATH", f"{helm.parent}{os.pathsep}{os.environ['PATH']}")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    return helm


@pytest.fixture
def clean_releases(real_api: RealApi) -> Iterator[RealApi]:
    def wipe() -> None:
        a = real_api.cluster.admin
        for s in a.list(SECRETS, "default", label_selector="owner=helm"):
            a.delete(SECRETS, s["metadata"]["name"], "default", missing_ok=True)
    wipe()
    yield real_api
    wipe()
    real_api.wipe()


def lab_for(tmp_path: Path, kubeconfig: Path, **install_over: Any) -> params.Lab:
    data = params.read_yaml(DEMO_PARAMS)
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig), "retries": 0}
    data.pop("debug", None)
    data["install"] = {**data["install"], "values_file": str(DEMO_DIR / "values" / "ingress-values.yaml"), "chart": str(CHART),
                       "helm_timeout": "2m", "wait_timeout": 60, **install_over}
    return params.parse(data)


def release_revisions(cluster: RealCluster, release: str = "f5ingress") -> dict[int, str]:
    out = {}
    for s in cluster.admin.list(SECRETS, "default", label_selector=f"owner=helm,name={release}"):
        labels = s["metadata"]["labels"]
        out[int(labels["version"])] = labels["status"]
    return out


def wait_single_pod(target: LiveTarget, template_hash: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """The one Running TMM pod (of ``template_hash`` when given), once a rollout has settled."""
    deadline = time.monotonic() + timeout
    pods: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        pods = target.list("pods", "default", label_selector=TMM)
        if len(pods) == 1 and pods[0]["status"].get("phase") == "Running" and (
                template_hash is None or pods[0]["metadata"]["labels"].get("pod-template-hash") != template_hash):
            return pods[0]
        time.sleep(0.2)
    raise AssertionError(f"no single running TMM pod: {[(p['metadata']['name'], p['status'].get('phase')) for p in pods]}")


@pytest.mark.parametrize("helm_major", [3, 4])
def test_helm_installs_the_chart_then_upgrades_and_tmm_verifies(real_cluster: RealCluster, clean_releases: RealApi,
                                                                 helm_env: Path, tmp_path: Path, helm_major: int) -> None:
    kc = real_cluster.kubeconfig(ADMIN, tmp_path / "kc")
    lab = lab_for(tmp_path, kc)
    with LiveTarget.from_kubeconfig(kc, retries=0) as target, KubeletAndMultus(real_cluster) as kubelet:
        nad.apply(lab, target)
        first = install.run(lab, target, wait_timeout=60, wait_interval=0.3)
        assert first.helm.ran and first.helm.run is not None and first.helm.run.ok, first.helm.error
        assert first.ok, first.findings.to_frame().to_string()
        assert release_revisions(real_cluster) == {1: "deployed"}
        dep = target.get("deployments", "f5-tmm", "default")
        tpl = dep["spec"]["template"]
        assert tpl["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == lab.cni_networks
        tmm_c = next(c for c in tpl["spec"]["containers"] if c["name"] == "f5-tmm")
        assert {"name": "TMM_MAPRES_ADDL_VETHS_ON_DP", "value": "TRUE"} in tmm_c["env"]  # the runbook's merge, through helm
        assert tmm_c["resources"]["requests"] == tmm_c["resources"]["limits"]
        assert any(k.startswith("hugepages-") for k in tmm_c["resources"]["limits"])
        pod = target.list("pods", "default", label_selector=TMM)[0]
        # made by the real ReplicaSet controller, placed by the real scheduler on a node with hugepages
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert pod["spec"]["nodeName"].startswith("worker-") and pod["status"]["qosClass"] == "Guaranteed"
        assert kubelet.started_pods == [pod["metadata"]["name"]]
        rows = {r.check: r.status for r in first.tmm.findings.rows}
        assert rows["NAD 1 attached"] == rows["NAD 2 attached"] == rows["QoS Guaranteed"] == "pass"

        second = install.run(lab, target, wait_timeout=60, wait_interval=0.3)
        assert second.ok and release_revisions(real_cluster) == {1: "superseded", 2: "deployed"}
        assert any("has been upgraded" in line for line in second.helm.run.lines), second.helm.run.lines
        assert subprocess.run([str(helm_env), "version"], capture_output=True, text=True).stdout.startswith(f"version.BuildInfo{{Version:\"v{helm_major}.")


@pytest.mark.parametrize(("break_it", "check", "evidence"), [
    ("one-nad-missing", "NAD 2 attached", "default/macvlan-external not in network-status"),
    ("burstable", "QoS Guaranteed", "qosClass: Burstable"),
    ("env-absent", "env TMM_MAPRES_ADDL_VETHS_ON_DP", "TMM_MAPRES_ADDL_VETHS_ON_DP is absent"),
])
def test_tmm_verification_fails_for_the_right_reason(real_cluster: RealCluster, clean_releases: RealApi, helm_env: Path,
                                                     tmp_path: Path, break_it: str, check: str, evidence: str) -> None:
    kc = real_cluster.kubeconfig(ADMIN, tmp_path / "kc")
    lab = lab_for(tmp_path, kc)

    def status(nets: list[str]) -> list[dict[str, Any]]:
        s = multus_status(nets)
        return s[:-1] if break_it == "one-nad-missing" else s

    with LiveTarget.from_kubeconfig(kc, retries=0) as target, KubeletAndMultus(real_cluster, network_status=status):
        nad.apply(lab, target)
        res = install.run(lab, target, wait_timeout=60, wait_interval=0.3)
        assert res.helm.run is not None and res.helm.run.ok
        if break_it != "one-nad-missing":
            old = wait_single_pod(target)["metadata"]["labels"]["pod-template-hash"]
            # someone edits the Deployment by hand; the real controllers roll out a new pod
            edit = (["set", "resources", "deployment/f5-tmm", "-c", "debug", "--requests=cpu=100m"] if break_it == "burstable"
                    else ["set", "env", "deployment/f5-tmm", "-c", "f5-tmm", "TMM_MAPRES_ADDL_VETHS_ON_DP-"])
            real_cluster.kubectl(*edit, "-n", "default")
            wait_single_pod(target, template_hash=old)
        f = verify.check(target, lab)
    failed = f.failed()
    assert [r.check for r in failed] == [check], f.to_frame().to_string()
    assert evidence in failed[0].evidence and failed[0].action


def test_a_release_left_pending_install_is_detected_with_a_hint(real_cluster: RealCluster, clean_releases: RealApi,
                                                                helm_env: Path, tmp_path: Path) -> None:
    kc = real_cluster.kubeconfig(ADMIN, tmp_path / "kc")
    lab = lab_for(tmp_path, kc)
    # A real interrupted helm: `helm install --wait` killed while it waits for a pod that never runs (no kubelet).
    proc = subprocess.Popen([str(helm_env), "install", "f5ingress", str(CHART), "-n", "default", "--wait", "--timeout", "2m",
                             "--kubeconfig", str(kc)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while release_revisions(real_cluster) != {1: "pending-install"}:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    with LiveTarget.from_kubeconfig(kc, retries=0) as target:
        res = install.run(lab, target, wait_timeout=5, wait_interval=0.3)
    assert res.helm.error is not None and not res.ok
    row = next(r for r in res.findings.failed() if r.check == "helm install")
    assert "another operation (install/upgrade/rollback) is in progress" in row.evidence
    assert "helm history f5ingress -n default" in row.action and "rollback" in row.action
    assert release_revisions(real_cluster) == {1: "pending-install"}  # we did not touch it


def test_the_whole_runbook_headless_against_the_real_cluster(real_cluster: RealCluster, clean_releases: RealApi,
                                                             helm_env: Path, tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    from spkrunbook import runbook

    kc = real_cluster.kubeconfig(ADMIN, tmp_path / "kc")
    data = params.read_yaml(DEMO_PARAMS)
    data["target"] = {"kind": "live", "kubeconfig": str(kc), "retries": 0}
    data["install"] = {**data["install"], "values_file": str(DEMO_DIR / "values" / "ingress-values.yaml"), "chart": str(CHART),
                       "helm_timeout": "2m", "wait_timeout": 90}
    data["debug"] = {**data.get("debug", {}), "analyse": [str(DEMO_DIR / p.removeprefix("./")) for p in data["debug"]["analyse"]]}
    pfile = tmp_path / "real.yaml"
    with open(pfile, "w") as fh:
        YAML().dump(data, fh)
    with KubeletAndMultus(real_cluster):
        result = runbook.run(pfile, records_root=tmp_path / "rec", keep_going=True)
    by = {s.step: s for s in result.steps}
    assert by["prerequisites"].status == by["network-attachments"].status == by["spk-install"].status == "passed", by
    # The debugging step execs into OVN and TMM containers: no kubelet runs here, so no OVN pod exists and
    # it fails saying so (exec is covered against the stand-in, which answers it).
    assert by["debugging"].status == "failed" and by["debugging"].error is not None
    assert "ovnkube" in by["debugging"].error.message and "openshift-ovn-kubernetes" in by["debugging"].error.hint
    run = json.loads((result.record / "run.json").read_text())
    assert run["target"]["kind"] == "live"
    applied = json.loads((result.record / "network-attachments" / "apply.json").read_text())
    assert [c["result"] for c in applied["changes"]] == ["created", "created"]
    assert release_revisions(real_cluster) == {1: "deployed"}
    assert real_cluster.tokens[ADMIN] not in "".join(f.read_text(errors="replace") for f in result.record.rglob("*") if f.is_file())


def test_a_read_only_user_gets_what_to_grant_and_nothing_is_half_applied(real_cluster: RealCluster, clean_releases: RealApi,
                                                                        helm_env: Path, tmp_path: Path) -> None:
    from tests.support.realcluster import READER

    kc = real_cluster.kubeconfig(READER, tmp_path / "kc-reader")
    lab = lab_for(tmp_path, kc)
    with LiveTarget.from_kubeconfig(kc, retries=0) as reader:
        res = install.run(lab, reader, wait_timeout=2, wait_interval=0.3)
    assert not res.ok
    vlan_rows = [r for r in res.vlans.findings.failed() if r.check == "apply"]
    assert len(vlan_rows) == 2 and not res.vlans.result.partial
    for row in vlan_rows:
        assert "create f5-spk-vlans" in row.evidence and "lab-reader" in row.evidence
        assert "oc auth can-i create f5-spk-vlans.k8s.f5net.com" in row.action and "ClusterRole" in row.action
    helm_row = next(r for r in res.findings.failed() if r.check == "helm install")
    assert "forbidden" in helm_row.evidence.lower() and "permission" in helm_row.action
    assert clean_releases.get_object("f5-spk-vlans", "internal", "default") is None
    assert release_revisions(real_cluster) == {}


@pytest.mark.parametrize("token_form", ["env", "inline"])
def test_server_and_token_without_a_kubeconfig_reach_one_cluster_in_the_run_every_kernel_and_helm(
        real_cluster: RealCluster, clean_releases: RealApi, helm_env: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, token_form: str) -> None:
    """Issue 20: ``target.server`` + token (``${SPKRUNBOOK_TOKEN}`` or written inline) and no kubeconfig. The parent,
    the NAD and install kernels and helm all reach this server as lab-admin: the NADs and the release are found
    in it. The ambient KUBECONFIG points at the read-only user, so anything that fell back to it would be refused."""
    from ruamel.yaml import YAML

    from spkrunbook import runbook
    from tests.support.realcluster import READER

    token = real_cluster.tokens[ADMIN]
    monkeypatch.setenv("KUBECONFIG", str(real_cluster.kubeconfig(READER, tmp_path / "ambient-reader")))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config to fall back to either
    data = params.read_yaml(DEMO_PARAMS)
    if token_form == "env":
        monkeypatch.setenv("SPKRUNBOOK_TOKEN", token)
    data["target"] = {"kind": "live", "server": real_cluster.url, "ca_file": str(real_cluster.ca_file), "retries": 0,
                      "token": "${SPKRUNBOOK_TOKEN}" if token_form == "env" else token}
    data["install"] = {**data["install"], "values_file": str(DEMO_DIR / "values" / "ingress-values.yaml"), "chart": str(CHART),
                       "helm_timeout": "2m", "wait_timeout": 90}
    data.pop("debug", None)
    pfile = tmp_path / "server-token.yaml"
    with open(pfile, "w") as fh:
        YAML().dump(data, fh)
    mark = real_cluster.audit_mark()
    with KubeletAndMultus(real_cluster):
        result = runbook.run(pfile, records_root=tmp_path / "rec", steps=["network-attachments", "spk-install"])
    by = {s.step: s for s in result.steps}
    assert by["network-attachments"].status == "passed", by["network-attachments"].error
    assert by["spk-install"].status == "passed", by["spk-install"].error
    for name in ("macvlan-internal", "macvlan-external"):
        assert clean_releases.get_object("network-attachment-definitions", name, "default") is not None
    assert release_revisions(real_cluster) == {1: "deployed"}
    # every request of the run (parent, kernels, helm) was lab-admin's; the read-only user was never used
    assert real_cluster.requests(ADMIN, mark) and not real_cluster.requests(READER, mark)
    lab_json = json.loads((result.record / "lab.json").read_text())
    assert lab_json["target"]["token"] == "${SPKRUNBOOK_TOKEN}"
    helm_out = (result.record / "spk-install" / "helm-output.txt").read_text()
    assert "--kube-apiserver" in helm_out and real_cluster.url in helm_out and "--kubeconfig" not in helm_out
    assert token not in "".join(f.read_text(errors="replace") for f in result.record.rglob("*") if f.is_file())
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("spkrunbook-kube-*")), "the temporary kubeconfig is gone"
