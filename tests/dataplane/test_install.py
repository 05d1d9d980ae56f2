"""The install step on the real node: the real helm (v3 and v4) installs the test chart, the real controllers
make the pod, the real scheduler binds it to the node, the real kubelet runs it and nad-delegate with the real
macvlan plugin attaches its networks. These ran on the `apiserver` tier with ``KubeletAndMultus``, a thread that
wrote the status and the network-status a kubelet and Multus would have; here nothing is written by a test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.steps import install, nad
from spkrunbook.steps.install import verify
from tests.dataplane import helpers as h
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

TMM = "app=f5-tmm"


@pytest.fixture
def env(node_cluster: NodeCluster, node: DataPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> Iterator[Path]:
    """The real helm (v3; v4 where a test is parametrized ``helm_major``) first on PATH; a clean cluster."""
    callspec = getattr(request.node, "callspec", None)
    major = callspec.params.get("helm_major", 3) if callspec is not None else 3
    helm = node_cluster.bins.helm3 if major == 3 else node_cluster.bins.helm4
    assert helm is not None, f"helm v{major} is built with the servers (scripts/build_k8s.sh)"
    monkeypatch.setenv("PATH", f"{helm.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    h.wipe(node_cluster, node)
    yield helm
    h.wipe(node_cluster, node)


def lab_for(tmp: Path, cluster: NodeCluster, dp: DataPlane, **over: Any) -> params.Lab:
    return params.load(h.node_params(tmp, cluster, dp, debug={"live_capture": False}, **over))


def release_revisions(cluster: NodeCluster, release: str = "f5ingress") -> dict[int, str]:
    out = {}
    for s in cluster.admin.list(h.SECRETS, h.NS, label_selector=f"owner=helm,name={release}"):
        labels = s["metadata"]["labels"]
        out[int(labels["version"])] = labels["status"]
    return out


def wait_single_pod(target: LiveTarget, template_hash: str | None = None, timeout: float = 90) -> dict[str, Any]:
    """The one Running TMM pod (of another template than ``template_hash`` when given), once a rollout settled."""
    deadline = time.monotonic() + timeout
    pods: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        pods = [p for p in target.list("pods", h.NS, label_selector=TMM) if not p["metadata"].get("deletionTimestamp")]
        if len(pods) == 1 and h.running(pods[0]) and (
                template_hash is None or pods[0]["metadata"]["labels"].get("pod-template-hash") != template_hash):
            return pods[0]
        time.sleep(0.3)
    raise AssertionError(f"no single running TMM pod: {[(p['metadata']['name'], p['status'].get('phase')) for p in pods]}")


@pytest.mark.parametrize("helm_major", [3, 4])
def test_helm_installs_the_chart_then_upgrades_and_tmm_verifies(node_cluster: NodeCluster, node: DataPlane, env: Path,
                                                                 tmp_path: Path, helm_major: int) -> None:
    lab = lab_for(tmp_path, node_cluster, node)
    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN), retries=0) as target:
        nad.apply(lab, target)
        first = install.run(lab, target, wait_timeout=90, wait_interval=0.5)
        assert first.helm.ran and first.helm.run is not None and first.helm.run.ok, first.helm.error
        assert first.ok, first.findings.to_frame().to_string()
        assert release_revisions(node_cluster) == {1: "deployed"}
        dep = target.get("deployments", "f5-tmm", h.NS)
        tpl = dep["spec"]["template"]
        assert tpl["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == lab.cni_networks
        tmm_c = next(c for c in tpl["spec"]["containers"] if c["name"] == "f5-tmm")
        assert {"name": "TMM_MAPRES_ADDL_VETHS_ON_DP", "value": "TRUE"} in tmm_c["env"]  # the runbook's merge, through helm
        assert tmm_c["resources"]["requests"] == tmm_c["resources"]["limits"]
        (pod,) = target.list("pods", h.NS, label_selector=TMM)
        # made by the real ReplicaSet controller, bound by the real scheduler, run by the real kubelet
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert pod["spec"]["nodeName"] == node.name and pod["status"]["qosClass"] == "Guaranteed"
        assert all(c["containerID"].startswith("containerd://") and c["ready"] for c in pod["status"]["containerStatuses"])
        rows = {r.check: r.status for r in first.tmm.findings.rows}
        assert rows["NAD 1 attached"] == rows["NAD 2 attached"] == rows["QoS Guaranteed"] == "pass"

        second = install.run(lab, target, wait_timeout=90, wait_interval=0.5)
        assert second.ok and release_revisions(node_cluster) == {1: "superseded", 2: "deployed"}
        run = second.helm.run
        assert run is not None and any("has been upgraded" in line for line in run.lines), run
        assert subprocess.run([str(env), "version"], capture_output=True, text=True).stdout.startswith(f"version.BuildInfo{{Version:\"v{helm_major}.")


@pytest.mark.parametrize(("break_it", "check", "evidence"), [
    ("one-nad-missing", "NAD 2 attached", "default/macvlan-external not in network-status (cluster, default/macvlan-internal)"),
    ("burstable", "QoS Guaranteed", "qosClass: Burstable"),
    ("env-absent", "env TMM_MAPRES_ADDL_VETHS_ON_DP", "TMM_MAPRES_ADDL_VETHS_ON_DP is absent"),
])
def test_tmm_verification_fails_for_the_right_reason(node_cluster: NodeCluster, node: DataPlane, env: Path, tmp_path: Path,
                                                     break_it: str, check: str, evidence: str) -> None:
    lab = lab_for(tmp_path, node_cluster, node)
    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN), retries=0) as target:
        nad.apply(lab, target)
        res = install.run(lab, target, wait_timeout=90, wait_interval=0.5)
        assert res.ok, res.findings.to_frame().to_string()
        old = wait_single_pod(target)["metadata"]["labels"]["pod-template-hash"]
        # someone edits the Deployment by hand; the real controllers roll out a new pod, the kubelet runs it
        edit = {"one-nad-missing": ["patch", "deployment/f5-tmm", "--type", "merge", "-p",
                                    '{"spec":{"template":{"metadata":{"annotations":'
                                    '{"k8s.v1.cni.cncf.io/networks":"default/macvlan-internal"}}}}}'],
                "burstable": ["set", "resources", "deployment/f5-tmm", "-c", "debug", "--requests=cpu=100m"],
                "env-absent": ["set", "env", "deployment/f5-tmm", "-c", "f5-tmm", "TMM_MAPRES_ADDL_VETHS_ON_DP-"]}[break_it]
        node_cluster.kubectl(*edit, "-n", h.NS)
        wait_single_pod(target, template_hash=old)
        f = verify.check(target, lab)
    failed = f.failed()
    assert [r.check for r in failed] == [check], f.to_frame().to_string()
    assert evidence in failed[0].evidence and failed[0].action


def test_a_release_left_pending_install_is_detected_with_a_hint(node_cluster: NodeCluster, node: DataPlane, env: Path,
                                                                tmp_path: Path) -> None:
    lab = lab_for(tmp_path, node_cluster, node)
    kc = h.kubeconfig(node_cluster, tmp_path, ADMIN)
    # A real interrupted helm: `helm install --wait` killed while it waits for a pod that cannot be scheduled (the
    # chart's defaults ask for 2 CPUs and 3Gi of hugepages, more than this node has).
    values = [a for f in map(str, lab.install.extra_values_files) for a in ("-f", f)]
    proc = subprocess.Popen([str(env), "install", "f5ingress", str(h.CHART), "-n", h.NS, "--wait", "--timeout", "2m",
                             "--kubeconfig", str(kc), *values], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while release_revisions(node_cluster) != {1: "pending-install"}:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    with LiveTarget.from_kubeconfig(kc, retries=0) as target:
        res = install.run(lab, target, wait_timeout=5, wait_interval=0.3)
    assert res.helm.error is not None and not res.ok
    row = next(r for r in res.findings.failed() if r.check == "helm install")
    assert "another operation (install/upgrade/rollback) is in progress" in row.evidence
    assert "helm history f5ingress -n default" in row.action and "rollback" in row.action
    assert release_revisions(node_cluster) == {1: "pending-install"}  # we did not touch it


@pytest.mark.parametrize("token_form", ["env", "inline"])
def test_server_and_token_without_a_kubeconfig_reach_one_cluster_in_the_run_every_kernel_and_helm(
        node_cluster: NodeCluster, node: DataPlane, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        token_form: str) -> None:
    """Issue 20: ``target.server`` + token (``${SPKRUNBOOK_TOKEN}`` or written inline) and no kubeconfig. The parent,
    the NAD and install kernels and helm all reach this server as lab-admin: the NADs and the release are found
    in it and the TMM pod runs. The ambient KUBECONFIG points at the read-only user, so anything that fell back to
    it would be refused."""
    import json

    from spkrunbook import runbook
    from tests.support.realcluster import READER

    token = node_cluster.tokens[ADMIN]
    monkeypatch.setenv("KUBECONFIG", str(h.kubeconfig(node_cluster, tmp_path, READER)))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config to fall back to either
    if token_form == "env":
        monkeypatch.setenv("SPKRUNBOOK_TOKEN", token)
    pfile = h.node_params(tmp_path, node_cluster, node, debug={"live_capture": False}, target={
        "kind": "live", "server": node_cluster.url, "ca_file": str(node_cluster.ca_file), "retries": 0,
        "token": "${SPKRUNBOOK_TOKEN}" if token_form == "env" else token})
    data = params.read_yaml(pfile)
    data["target"].pop("kubeconfig", None)
    h.write_yaml(pfile, data)
    mark = node_cluster.audit_mark()
    result = runbook.run(pfile, records_root=tmp_path / "rec", steps=["network-attachments", "spk-install"])
    by = {s.step: s for s in result.steps}
    assert by["network-attachments"].status == "passed", by["network-attachments"].error
    assert by["spk-install"].status == "passed", by["spk-install"].error
    for name in ("macvlan-internal", "macvlan-external"):
        assert node_cluster.admin.exists("network-attachment-definitions", name, h.NS)
    assert release_revisions(node_cluster) == {1: "deployed"}
    # every request of the run (parent, kernels, helm) was lab-admin's; the read-only user was never used
    assert node_cluster.requests(ADMIN, mark) and not node_cluster.requests(READER, mark)
    lab_json = json.loads((result.record / "lab.json").read_text())
    assert lab_json["target"]["token"] == "${SPKRUNBOOK_TOKEN}"
    helm_out = (result.record / "spk-install" / "helm-output.txt").read_text()
    assert "--kube-apiserver" in helm_out and node_cluster.url in helm_out and "--kubeconfig" not in helm_out
    assert token not in "".join(f.read_text(errors="replace") for f in result.record.rglob("*") if f.is_file())
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("spkrunbook-kube-*")), "the temporary kubeconfig is gone"
