"""The install step through the real ``helm`` against the real kube-apiserver, where no pod needs to run:
an interrupted ``helm install --wait`` left pending (the pod never runs: no kubelet here), and a read-only user.

Installs whose TMM pod runs, and the whole runbook, are tested on the real node (marker ``dataplane``,
``tests/dataplane/test_install.py`` and ``test_runbook.py``): there a real kubelet runs the pod and the real
macvlan plugin attaches its networks. (They ran here with ``KubeletAndMultus``, a thread that wrote what a kubelet
and Multus would have; it is gone.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.steps import install
from tests.support.paths import DEMO_DIR, DEMO_PARAMS, ROOT
from tests.support.realcluster import ADMIN, RealApi, RealCluster, Resource

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

CHART = ROOT / "tests" / "fixtures" / "charts" / "f5ingress-test"
SECRETS = Resource("", "v1", "secrets", True, "Secret")
TMM = "app=f5-tmm"


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

