"""Failures the stand-in server could never show, on the real node: each test asserts the message a user
gets from the runbook and what it tells them to do.

- a NAD whose master does not exist on the node: the pod stays in ContainerCreating, the runbook quotes
  the CNI error from the pod's events;
- no hugepages on the node: Pending, ``Insufficient hugepages-2Mi``;
- the CPU manager not static: TMM would run on the shared CPUs (and really does): a finding;
- a NAD deleted while the pod runs;
- the debug container missing;
- exec denied by RBAC.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.results import CheckResult, Findings
from spkrunbook.steps import debug, install, nad, prereqs
from spkrunbook.steps.install import verify
from tests.dataplane import helpers as h
from tests.dataplane.conftest import HUGEPAGES
from tests.support.dataplane import NO_EXEC, DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]

TMM = "app=f5-tmm"


@pytest.fixture
def env(node_cluster: NodeCluster, node: DataPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean cluster, the real helm on PATH; the lab's objects wiped after."""
    helm = node_cluster.bins.helm3
    assert helm is not None, "helm v3 is built with the servers (scripts/build_k8s.sh)"
    monkeypatch.setenv("PATH", f"{helm.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    h.wipe(node_cluster, node)
    yield tmp_path
    h.wipe(node_cluster, node)


def lab_for(tmp: Path, cluster: NodeCluster, dp: DataPlane, *, user: str = ADMIN, values: dict[str, Any] | None = None,
            **over: Any) -> params.Lab:
    return params.load(h.node_params(tmp, cluster, dp, user=user, values=values, **over))


def target_for(cluster: NodeCluster, tmp: Path, user: str = ADMIN) -> LiveTarget:
    return LiveTarget.from_kubeconfig(h.kubeconfig(cluster, tmp, user), retries=1)


def one(f: Findings, check: str) -> CheckResult:
    rows = [r for r in f.rows if r.check == check]
    assert len(rows) == 1, (check, f.to_frame().to_string())
    return rows[0]


def installed(lab: params.Lab, target: LiveTarget, *, wait: float = 90) -> install.InstallResult:
    nad.apply(lab, target)
    return install.run(lab, target, wait_timeout=wait, wait_interval=0.5)


def test_a_nad_whose_master_is_not_on_the_node_quotes_the_cni_error(node_cluster: NodeCluster, node: DataPlane, env: Path) -> None:
    lab = lab_for(env, node_cluster, node, networks={"internal": {**h.demo_lab().networks.internal.model_dump(), "master": "ens999"}})
    with target_for(node_cluster, env) as t:
        res = installed(lab, t, wait=20)
        assert res.helm.run is not None and res.helm.run.ok
        (pod,) = t.list("pods", h.NS, label_selector=TMM)
    row = one(res.tmm.findings, "pod Ready")
    assert row.status == "fail"
    assert "Pending 0/2 (debug: ContainerCreating; f5-tmm: ContainerCreating)" in row.evidence
    # the kubelet's event, as the runbook quotes it: the macvlan plugin's error, through nad-delegate and containerd
    assert "FailedCreatePodSandBox: Failed to create pod sandbox: " in row.evidence
    assert ("attaching NetworkAttachmentDefinition default/macvlan-internal as net1: plugin type='macvlan' failed (add): "
            "Link not found") in row.evidence, row.evidence
    assert f"check that each NAD's master exists on node {node.name} (ens999 for default/macvlan-internal, " in row.action
    assert f"oc debug node/{node.name} -- ip -br link" in row.action
    assert one(res.tmm.findings, "TMM Ready in time").status == "fail"
    assert pod["status"]["phase"] == "Pending"


def test_no_hugepages_on_the_node_leaves_tmm_pending(node_cluster: NodeCluster, node: DataPlane, env: Path) -> None:
    lab = lab_for(env, node_cluster, node)
    node.restart_kubelet(hugepages_2mi=0)
    try:
        with target_for(node_cluster, env) as t:
            pre = prereqs.checks(lab, t)
            res = installed(lab, t, wait=15)
        hp = one(pre, "hugepages")
        assert hp.status == "fail" and hp.evidence == "no hugepages-2Mi allocatable" and "configure hugepages" in hp.action
        row = one(res.tmm.findings, "pod Ready")
        assert row.status == "fail" and "Pending 0/2" in row.evidence
        assert "Unschedulable: 0/1 nodes are available: 1 Insufficient hugepages-2Mi." in row.evidence, row.evidence
        assert "configure 2Mi hugepages on the TMM nodes" in row.action and "tmm.hugepages" in row.action
    finally:
        h.wipe(node_cluster, node)
        node.restart_kubelet(hugepages_2mi=HUGEPAGES)


def test_a_cpu_manager_that_is_not_static_is_a_finding_and_tmm_shares_the_cpus(node_cluster: NodeCluster, node: DataPlane,
                                                                                 env: Path) -> None:
    lab = lab_for(env, node_cluster, node)
    node.restart_kubelet(cpu_manager_policy="none")
    try:
        with target_for(node_cluster, env) as t:
            pre = prereqs.checks(lab, t)
            cpu = one(pre, "cpu-manager")
            assert cpu.status == "fail" and cpu.subject == node.name
            assert cpu.evidence.startswith(f"cpuManagerPolicy none (the running kubelet: /api/v1/nodes/{node.name}/proxy/configz)")
            assert "TMM would get no CPU of its own, it would run on the node's shared CPUs" in cpu.evidence
            assert "cpuManagerPolicy: static" in cpu.action and f"/api/v1/nodes/{node.name}/proxy/configz" in cpu.action
            res = installed(lab, t)
            assert res.ok, res.findings.to_frame().to_string()  # Guaranteed all the same: QoS is not CPU pinning
            (pod,) = t.list("pods", h.NS, label_selector=TMM)
            cpus = t.exec(h.NS, pod["metadata"]["name"], "f5-tmm", ["grep", "Cpus_allowed_list", "/proc/self/status"]).text
            assert cpus.split()[-1] == "0-1"  # the finding's claim, seen in the container: every CPU, shared
    finally:
        h.wipe(node_cluster, node)
        node.restart_kubelet(cpu_manager_policy="static")


def test_a_nad_deleted_while_the_pod_runs(node_cluster: NodeCluster, node: DataPlane, env: Path) -> None:
    lab = lab_for(env, node_cluster, node, debug={"live_capture": False})
    with target_for(node_cluster, env) as t:
        assert installed(lab, t).ok
        (pod,) = t.list("pods", h.NS, label_selector=TMM)
        old = pod["metadata"]["name"]
        t.delete("network-attachment-definitions", "macvlan-internal", h.NS)
        res = debug.run(lab, t)
        gone = one(res.findings, "NAD exists")
        assert gone.status == "fail" and gone.subject == f"{old} default/macvlan-internal"
        assert ("NetworkAttachmentDefinition default/macvlan-internal was deleted after the pod started: the pod keeps net1 "
                "until it restarts, and a new pod will not start") in gone.evidence
        assert "run step 02 (network attachments)" in gone.action
        assert [r.status for r in res.findings.rows if r.check == "interface up"] == ["pass", "pass"]  # net1 is still there
        # the pod is replaced: the old one is torn down from nad-delegate's cache, the new one cannot start
        t.delete("pods", old, h.NS)
        h.wait_gone(t, "pods", old)
        new = wait_for_event(t, TMM, "FailedCreatePodSandBox")
        f = verify.check(t, lab)
    row = one(f, "pod Ready")
    assert row.status == "fail" and row.subject == new and "ContainerCreating" in row.evidence
    assert "NetworkAttachmentDefinition default/macvlan-internal asked for in k8s.v1.cni.cncf.io/networks does not exist" in row.evidence
    assert "the NADs in tmm.cniNetworks exist (step 02)" in row.action


def test_the_debug_container_missing(node_cluster: NodeCluster, node: DataPlane, env: Path) -> None:
    lab = lab_for(env, node_cluster, node, values={"debug": {"enabled": False}})
    with target_for(node_cluster, env) as t:
        res = installed(lab, t)
        row = one(res.tmm.findings, "container debug")
        assert row.status == "fail" and row.evidence == "containers: f5-tmm"
        assert "debug.image in the values" in row.action
        (pod,) = t.list("pods", h.NS, label_selector=TMM)
        dbg = debug.run(lab, t)
    name = pod["metadata"]["name"]
    execs = [r for r in dbg.findings.rows if r.check == "exec in debug"]
    assert {r.evidence.split("`")[1] for r in execs} == {"ip -br link", "ip -br addr", "tmctl -d blade tmm/xnet/device_probed"}
    for r in execs:
        assert r.status == "fail" and f"container debug is not valid for pod {name}" in r.evidence, r.evidence
        assert r.action == (f"the pod default/{name} has no container debug (F5's TMM debug sidecar): enable the debug "
                            "sidecar in the f5ingress Helm values and upgrade the release")
    (seen,) = [r for r in dbg.findings.rows if r.check == "packets seen"]
    assert seen.status == "fail" and "container debug is not valid" in seen.evidence


def test_exec_denied_by_rbac(node_cluster: NodeCluster, node: DataPlane, env: Path) -> None:
    lab = lab_for(env, node_cluster, node)
    h.ovn_standin(node_cluster, node, {})
    with target_for(node_cluster, env) as t:
        assert installed(lab, t).ok
    # NO_EXEC reads pods, events, NADs ... but not pods/exec (lab-reader's get on "*" would include it)
    viewer = lab_for(env, node_cluster, node, user=NO_EXEC)
    with target_for(node_cluster, env, NO_EXEC) as t:
        dbg = debug.run(viewer, t)
        (pod,) = t.list("pods", h.NS, label_selector=TMM)
    execs = [r for r in dbg.findings.rows if r.check == "exec in debug"]
    assert len(execs) == 3
    for r in execs:
        assert r.status == "fail" and f"not allowed to exec into default/{pod['metadata']['name']} (pods/exec): " in r.evidence
        assert f'User "{NO_EXEC}" cannot get resource "pods/exec" in API group "" in the namespace "default"' in r.evidence
        assert "oc auth can-i create pods --subresource=exec -n default" in r.action and "on pods/exec" in r.action
    (ovn,) = [r for r in dbg.findings.rows if r.check == "OVN routes via TMM"]
    assert ovn.status == "fail" and "no NB database pod answered" in ovn.evidence and "(pods/exec)" in ovn.evidence
    (seen,) = [r for r in dbg.findings.rows if r.check == "packets seen"]
    assert seen.status == "fail" and "not allowed to exec into" in seen.evidence


def wait_for_event(t: LiveTarget, selector: str, reason: str, timeout: float = 60) -> str:
    """The name of the pod (by label) that got a Warning event ``reason``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in t.list("pods", h.NS, label_selector=selector):
            name = p["metadata"]["name"]
            if any(e.get("reason") == reason for e in h.events_of(t, name)):
                return str(name)
        time.sleep(0.5)
    raise AssertionError(f"no pod {selector} got a {reason} event in {timeout:g}s")
