"""spkrunbook.steps.install.verify: the TMM checks against the stand-in API server (right pod and wrong variants).

Waiting for a pod the kubelet starts and reading its container logs run against the real node:
tests/dataplane/test_tmm.py (the crash log fixtures below are shared with it)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster import facts
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.progress import Progress
from spkrunbook.steps.install import verify
from tests.conftest import SERVERS, both_servers
from tests.support import FakeApiServer, labdata, paths
from tests.support.paths import DEMO_DIR
from tests.support.realcluster import RealApi

ROOT = paths.ROOT


def make_lab(kubeconfig: Path | None = None, **tmm: Any) -> params.Lab:
    return params.parse(
        {
            "lab": "v",
            "target": {"kind": "live", "kubeconfig": str(kubeconfig)} if kubeconfig else {"kind": "snapshot", "snapshot": str(DEMO_DIR / "snapshot")},
            "networks": {
                "internal": {"name": "macvlan-internal", "master": "ens224"},
                "external": {"name": "macvlan-external", "master": "ens256"},
            },
            "tmm": {"namespace": "default", **tmm},
            "install": {"wait_timeout": 5},
        }
    )


# Wrong variants of the right pod ------------------------------------------------------------------


def one_nad_missing(pod: dict[str, Any]) -> None:
    ann = pod["metadata"]["annotations"]
    status = [d for d in json.loads(ann[facts.NETWORK_STATUS]) if not d["name"].endswith("macvlan-external")]
    ann[facts.NETWORK_STATUS] = json.dumps(status)


def burstable(pod: dict[str, Any]) -> None:
    pod["status"]["qosClass"] = "Burstable"
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m"


def env_absent(pod: dict[str, Any]) -> None:
    pod["spec"]["containers"][0]["env"] = [e for e in pod["spec"]["containers"][0]["env"] if e["name"] != "TMM_MAPRES_ADDL_VETHS_ON_DP"]


def no_debug(pod: dict[str, Any]) -> None:
    pod["spec"]["containers"] = pod["spec"]["containers"][:1]


def no_mac(pod: dict[str, Any]) -> None:
    ann = pod["metadata"]["annotations"]
    status = json.loads(ann[facts.NETWORK_STATUS])
    for d in status:
        d.pop("mac", None)
    ann[facts.NETWORK_STATUS] = json.dumps(status)


def no_annotation(pod: dict[str, Any]) -> None:
    del pod["metadata"]["annotations"][facts.NETWORK_STATUS]


def seed(api: FakeApiServer, mutate: Callable[[dict[str, Any]], None] | None = None, *, pod: bool = True, crs: bool = True) -> None:
    for obj in labdata.lab_objects():
        if obj["kind"] == "Pod" and obj["metadata"]["name"] == labdata.TMM_POD:
            if not pod:
                continue
            if mutate:
                mutate(obj)
        if obj["kind"] == "F5SPKVlan" and not crs:
            continue
        api.add(obj)


@pytest.fixture(params=SERVERS)
def api(request: pytest.FixtureRequest) -> Iterator[FakeApiServer | RealApi]:
    """Against the stand-in and the real API server (which posts the pod and writes its status as a kubelet
    and Multus would: there is no kubelet)."""
    yield from both_servers(request)


@pytest.fixture
def target(kubeconfig: Path) -> Iterator[LiveTarget]:
    t = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    yield t
    t.close()


def statuses(f: Any) -> dict[str, str]:
    return {r.check: r.status for r in f.rows}


def test_right_pod_passes(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api)
    f = verify.check(target, make_lab(kubeconfig))
    assert f.ok, f.to_frame().to_string()
    s = statuses(f)
    for check in ("TMM pods", "pod Ready", "QoS Guaranteed", "container f5-tmm", "container debug",
                  "env TMM_MAPRES_ADDL_VETHS_ON_DP", "NAD 1 attached", "NAD 2 attached", "F5SPKVlan exists"):
        assert s[check] == "pass", check
    nad1 = next(r for r in f.rows if r.check == "NAD 1 attached")
    assert "net1" in nad1.evidence and "7e:12:9c:4a:01:b1" in nad1.evidence and "TMM 1.1" in nad1.evidence


@pytest.mark.parametrize(
    "mutate,check,evidence",
    [
        (one_nad_missing, "NAD 2 attached", "default/macvlan-external not in network-status"),
        (burstable, "QoS Guaranteed", "qosClass: Burstable"),
        (env_absent, "env TMM_MAPRES_ADDL_VETHS_ON_DP", "TMM_MAPRES_ADDL_VETHS_ON_DP is absent"),
        (no_debug, "container debug", "containers: f5-tmm"),
        (no_annotation, "network-status", "no k8s.v1.cni.cncf.io/network-status (or legacy networks-status) annotation"),
    ],
)
def test_wrong_variants_fail(api: FakeApiServer, kubeconfig: Path, target: LiveTarget,
                             mutate: Callable[[dict[str, Any]], None], check: str, evidence: str) -> None:
    seed(api, mutate)
    f = verify.check(target, make_lab(kubeconfig))
    assert not f.ok
    rows = [r for r in f.failed() if r.check == check]
    assert rows and evidence in rows[0].evidence, f.to_frame().to_string()
    assert rows[0].action
    assert len(f.failed()) == 1


def test_missing_mac_is_a_warning(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api, no_mac)
    f = verify.check(target, make_lab(kubeconfig))
    assert f.ok and statuses(f)["NAD 1 attached"] == "warn"


def test_missing_vlan_crs_fail(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api, crs=False)
    f = verify.check(target, make_lab(kubeconfig))
    assert {r.subject for r in f.failed()} == {"default/internal", "default/external"}


def test_no_pod_and_too_few_replicas(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api, pod=False)
    assert "no pod matches app=f5-tmm" in verify.check(target, make_lab(kubeconfig)).failed()[0].evidence
    api.add(labdata.tmm_pod())
    f = verify.check(target, make_lab(kubeconfig, replicas=2))
    assert next(r for r in f.failed() if r.check == "TMM pods").evidence == "1 of 2 replica(s)"


def test_wait_ready_times_out(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api, pod=False)
    clock = iter(range(0, 100, 2))
    res = verify.wait_ready(target, make_lab(kubeconfig), timeout=6, clock=lambda: float(next(clock)), sleep=lambda s: None)
    assert not res.ready and res.message.startswith("timed out after 6s") and "no pod yet" in res.message
    f = verify.check(target, make_lab(kubeconfig), pods=res.pods, wait=res)
    assert statuses(f)["TMM Ready in time"] == "fail"


def test_snapshot_checks_what_it_holds() -> None:
    f = verify.check(SnapshotTarget(DEMO_DIR / "snapshot"), make_lab())
    assert f.ok, f.to_frame().to_string()


def test_text_progress_headless() -> None:
    buf = io.StringIO()
    clock = iter([0.0, 0.0, 3.0, 60.0, 61.0]).__next__
    p = Progress("waiting for TMM", total=60, unit="s", stream=buf, notebook=False, clock=clock)
    p.update(0, "0/1 ready")
    p.update(3, "0/1 ready")  # throttled
    p.done("1/1 ready")
    out = buf.getvalue().splitlines()
    assert len(out) == 2 and out[0].startswith("waiting for TMM [....") and "60s / 60s" in out[1]
    assert len(p.history) == 3


# A crash-looping f5-tmm: the previous container's log, read through the API and from a must-gather ---------

MAPRES_LOG = """\
<set_use_phys_mem> WARNING: Generic sock driver enabled
<is_ht_environment> INFO: Detected HT Environment
<do_delay> WARNING: TMM_MAPRES_DELAY_MS remaining: 5000 ms
crashagent: core file generated by the host; transitioning to idle mode
/opt/bin/init.tmm.sh: line 42:    17 Segmentation fault      (core dumped) /usr/bin/tmm64
"""
BENIGN_LOG = "crashagent: core file generated by the host; transitioning to idle mode\ntmm: shutting down on SIGTERM\n"


def stand_in_only(api: Any) -> None:
    """Container logs need a kubelet: they are read from the real node in tests/dataplane/test_tmm.py. What stays
    here is what that node cannot make on demand: a restarted f5-tmm whose previous log is gone."""
    if not isinstance(api, FakeApiServer):
        pytest.skip("a restarted container without a previous log is the stand-in's (the real node keeps one)")


def crash_looping(pod: dict[str, Any]) -> None:
    pod["status"]["containerStatuses"][0].update(
        restartCount=7, ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}})


def pal(value: str) -> Callable[[dict[str, Any]], None]:
    def mutate(pod: dict[str, Any]) -> None:
        pod["spec"]["containers"][0]["env"].append({"name": "PAL_CPU_SET", "value": value})
    return mutate


def test_no_previous_log_says_so(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    stand_in_only(api)
    seed(api, crash_looping)
    (row,) = [r for r in verify.check(target, make_lab(kubeconfig)).rows if r.check == "TMM crash log"]
    assert row.status == "warn" and "no previous log" in row.evidence


def test_crash_log_from_a_must_gather(tmp_path: Path) -> None:
    objs = labdata.lab_objects()
    for o in objs:
        if o["kind"] == "Pod" and o["metadata"]["name"] == labdata.TMM_POD:
            crash_looping(o)
    labdata.write_snapshot(objs, tmp_path)
    (data,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    logs = data / "namespaces" / "default" / "pods" / labdata.TMM_POD / "f5-tmm" / "f5-tmm" / "logs"
    logs.mkdir(parents=True)
    (logs / "previous.log").write_text(MAPRES_LOG)
    lab = make_lab()
    (row,) = [r for r in verify.check(SnapshotTarget(tmp_path), lab).rows if r.check == "TMM crash log"]
    assert row.status == "fail" and "mapres" in row.evidence


@pytest.mark.parametrize(("value", "status"), [("0,1", "warn"), ("0", "pass"), ("0-3", "warn"), ("a-b", "warn")])
def test_pal_cpu_set_must_name_the_tmm_cpu_count(api: FakeApiServer, kubeconfig: Path, target: LiveTarget,
                                                 value: str, status: str) -> None:
    seed(api, pal(value))
    f = verify.check(target, make_lab(kubeconfig))  # the demo TMM has 1 CPU
    (row,) = [r for r in f.rows if r.check == "PAL_CPU_SET"]
    assert row.status == status, row
    if status == "warn":
        assert row.action and "PAL_CPU_SET" in row.action
        assert f.ok, "an unconfirmed rule warns, it does not fail the step"


def test_qos_comes_from_the_resources_not_from_the_status(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    """The real server computes qosClass when the pod is created and refuses a status write that changes it;
    the stand-in used to store whatever status it was given (found by running this against the real one)."""
    from spkrunbook.errors import Invalid

    seed(api, pod=False)
    if isinstance(api, FakeApiServer):
        api.pod_startup_delay = None  # no kubelet, as with the real server: the status is only what we write
    pod = labdata.tmm_pod()
    status = pod.pop("status")
    del pod["metadata"]["resourceVersion"]  # posting one is a 500 on the real server (and now on the stand-in)
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m"  # limit 2: Burstable
    created = target.create("pods", pod, "default")
    assert created["status"]["qosClass"] == "Burstable"
    body = {**created, "status": {**status, "qosClass": "Guaranteed"}}
    with pytest.raises(Invalid, match="qosClass"):
        target._request("PUT", target.path("pods", created["metadata"]["name"], "default", "status"), body=body,
                        verb="update", what="pod status")
    assert target.get("pods", created["metadata"]["name"], "default")["status"]["qosClass"] == "Burstable"
    body["status"]["qosClass"] = "Burstable"
    target._request("PUT", target.path("pods", created["metadata"]["name"], "default", "status"), body=body,
                    verb="update", what="pod status")
    f = verify.check(target, make_lab(kubeconfig))
    assert [r.evidence for r in f.failed()] == ["qosClass: Burstable"], f.to_frame().to_string()
