"""The TMM verification's waiting and its container logs against the real node: pods the kubelet starts, and
the log of an f5-tmm container's previous run, which only a kubelet can serve. These ran against the stand-in's
pods that turned Ready by themselves and its canned logs (``tests/steps/install/test_verify.py``); the stand-in
keeps the one case the real node cannot make on demand: a restarted container whose previous log is gone.

The crashing f5-tmm here is the stand-in image running a command that prints a TMM log and exits 139, as TMM
does when it segfaults; the log lines are the field report's (``test_verify.MAPRES_LOG``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import notebook, params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.progress import quiet
from spkrunbook.steps.install import verify
from tests.dataplane import helpers as h
from tests.steps.install.test_verify import BENIGN_LOG, MAPRES_LOG
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.realcluster import ADMIN

pytestmark = [pytest.mark.dataplane, pytest.mark.slow]


@pytest.fixture
def clean(node_cluster: NodeCluster, node: DataPlane) -> Iterator[None]:
    h.wipe(node_cluster, node)
    h.apply_nads(node_cluster.admin)
    yield
    h.wipe(node_cluster, node)


@pytest.fixture
def target(node_cluster: NodeCluster, tmp_path: Path, clean: None) -> Iterator[LiveTarget]:
    with LiveTarget.from_kubeconfig(h.kubeconfig(node_cluster, tmp_path, ADMIN), retries=1) as t:
        yield t


def lab(tmp: Path, cluster: NodeCluster, **tmm: Any) -> params.Lab:
    data = params.read_yaml(h.DEMO_PARAMS)
    data["target"] = {"kind": "live", "kubeconfig": str(h.kubeconfig(cluster, tmp, ADMIN)), "retries": 1}
    data["tmm"] = {**data["tmm"], **tmm}
    data["install"] = {**data["install"], "values_file": str(h.demo_values()), "wait_timeout": 60}
    data.pop("debug", None)
    return params.parse(data, base_dir=h.DEMO_DIR)


def crashing(cluster: NodeCluster, dp: DataPlane, log: str) -> dict[str, Any]:
    """A TMM-shaped pod whose f5-tmm prints ``log`` and dies with a segfault's status, until it has restarted."""
    h.tmm_pod(cluster, dp, tmm_command=["sh", "-c", 'printf "%s" "$TMM_LOG"; exit 139'], tmm_env={"TMM_LOG": log}, wait=False)

    def restarted(p: dict[str, Any]) -> bool:  # what a user sees: restarted, waiting to be started again
        cs: dict[str, Any] = next((c for c in (p.get("status") or {}).get("containerStatuses") or [] if c["name"] == "f5-tmm"), {})
        waiting = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        return int(cs.get("restartCount") or 0) >= 1 and waiting == "CrashLoopBackOff"
    return h.wait_pod(cluster.admin, "f5-tmm-test", restarted, timeout=90)


def test_wait_ready_reports_progress_until_the_pod_is_ready(node_cluster: NodeCluster, node: DataPlane, target: LiveTarget,
                                                           tmp_path: Path) -> None:
    h.tmm_pod(node_cluster, node, wait=False)
    shown = quiet()
    res = verify.wait_ready(target, lab(tmp_path, node_cluster), timeout=60, interval=0.1, progress=shown)
    assert res.ready and [p["metadata"]["name"] for p in res.pods] == ["f5-tmm-test"]
    assert "0/1 TMM pod(s) Ready" in shown.history[0] and "1/1 TMM pod(s) Ready" in shown.history[-1]
    assert len(shown.history) > 1 and shown.total == 60


def test_verify_tmm_step_on_live_waits_and_records(node_cluster: NodeCluster, node: DataPlane, target: LiveTarget,
                                                  tmp_path: Path) -> None:
    h.tmm_pod(node_cluster, node, wait=False)
    pfile = tmp_path / "lab.yaml"
    pfile.write_text(json.dumps(lab(tmp_path, node_cluster).model_dump(mode="json")))
    step = notebook.start("spk-install", str(pfile), str(tmp_path / "rec"))
    shown = quiet()
    result = verify.tmm(step.lab, step.target, progress=shown, interval=0.2)
    step.save(result)
    rows = {r.check: r for r in result.findings.rows}
    assert shown.history and rows["TMM Ready in time"].status == "pass" and rows["pod Ready"].status == "pass"
    assert rows["NAD 1 attached"].status == rows["NAD 2 attached"].status == "pass"  # written by nad-delegate
    saved = json.loads((step.record_dir / "spk-install" / "tmm-verification.json").read_text())
    # Burstable (the pod made here has no resources) and no F5SPKVlan CRs: the only failures, and recorded as such
    assert {r["check"] for r in saved["rows"] if r["status"] == "fail"} == {"QoS Guaranteed", "F5SPKVlan exists"}


def test_mapres_crash_is_named_from_the_previous_log(node_cluster: NodeCluster, node: DataPlane, target: LiveTarget,
                                                    tmp_path: Path) -> None:
    crashing(node_cluster, node, MAPRES_LOG)
    mark = node_cluster.audit_mark()
    f = verify.check(target, lab(tmp_path, node_cluster))
    (row,) = [r for r in f.rows if r.check == "TMM crash log"]
    assert row.status == "fail" and "mapres" in row.evidence and "CrashLoopBackOff" in row.evidence
    assert "PAL_CPU_SET" in row.action and row.reference.startswith("https://")
    logs = [r for r in node_cluster.requests(ADMIN, mark) if r.path.endswith("/log")]
    assert logs and logs[0].query["previous"] == ["true"] and logs[0].query["container"] == ["f5-tmm"]


def test_benign_crashagent_line_is_not_a_crash(node_cluster: NodeCluster, node: DataPlane, target: LiveTarget,
                                              tmp_path: Path) -> None:
    crashing(node_cluster, node, BENIGN_LOG)
    (row,) = [r for r in verify.check(target, lab(tmp_path, node_cluster)).rows if r.check == "TMM crash log"]
    assert row.status == "warn" and "no known crash" in row.evidence and "--previous" in row.action
    assert "tmm: shutting down on SIGTERM" in row.evidence  # the last lines, read from the kubelet


def test_a_healthy_pod_reads_no_log(node_cluster: NodeCluster, node: DataPlane, target: LiveTarget, tmp_path: Path) -> None:
    h.tmm_pod(node_cluster, node)
    mark = node_cluster.audit_mark()
    f = verify.check(target, lab(tmp_path, node_cluster))
    assert "TMM crash log" not in {r.check for r in f.rows}
    assert not [r for r in node_cluster.requests(ADMIN, mark) if r.path.endswith("/log")]
    # and the log is there to read: what the f5-tmm stand-in printed, through the kubelet
    time.sleep(0.5)
    log = target.logs(h.NS, "f5-tmm-test", "f5-tmm")
    assert log is not None and "tmm-standin: net1 up with self IP 10.1.10.100/24" in log
