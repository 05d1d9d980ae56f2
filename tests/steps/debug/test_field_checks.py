"""The after-install checks of issue 24 that need a pod's own view (``ip -br addr`` in the debug container),
on the demo's variant snapshots (``tests.support.labdata.FIELD_VARIANTS``) and on the stand-in API server.

These rules need a pod that runs: on the real data-plane tier they belong there (the stand-in
answers exec here; the snapshot replays saved outputs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster import licence
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.steps import debug
from tests.support import FakeApiServer, labdata
from tests.support.paths import DEMO_PARAMS


@pytest.fixture(scope="module")
def lab() -> params.Lab:
    return params.load(DEMO_PARAMS)


def rows(result: debug.DebugResult, check: str) -> list:
    return [r for r in result.findings if r.check == check]


def test_the_demo_shows_both_vlans_and_its_self_ips(lab: params.Lab) -> None:
    r = debug.run(lab, SnapshotTarget(lab.target.snapshot))
    assert [x.status for x in rows(r, "VLAN in TMM")] == ["pass", "pass"]
    assert [x.status for x in rows(r, "self IPs held")] == ["pass", "pass"]
    assert list(r.selfips["held by"]) == ["f5-tmm-7d9c6b5f4d-x2k8q"] * 2


def test_licence_gate_is_named_before_the_nad(lab: params.Lab, tmp_path: Path) -> None:
    r = debug.run(lab, SnapshotTarget(labdata.write_variant("licence-gate", tmp_path / "mg")))
    gate = rows(r, "VLAN in TMM")
    assert [x.status for x in gate] == ["warn", "warn"]
    assert all("the licence gate" in x.evidence and "not Ready" in x.evidence for x in gate), gate
    assert "Config Report Ready to Download" in gate[0].evidence and "one source" in gate[0].evidence
    assert "finish licensing before looking at the NAD" in gate[0].action and "spk-telemetry" in gate[0].action
    assert all(x.status == "pass" for x in rows(r, "attachment present")), "the NADs are fine: the licence is the cause"


def test_with_the_licence_verified_the_attachment_is_named(lab: params.Lab, tmp_path: Path) -> None:
    mg = labdata.write_variant("licence-gate", tmp_path / "mg")
    log = next(mg.rglob("f5-spk-cwc/f5-spk-cwc/logs/current.log"))
    log.write_text(log.read_text() + "2023-01-11T06:09:00Z INFO cpcl: LicenseStatus State: Verification Complete\n")
    state = licence.state(lab, SnapshotTarget(mg))
    assert state.verdict == "not verified", "a CWC pod that is not Ready still closes the gate"
    for pod in mg.rglob(f"{labdata.CWC_POD}.yaml"):
        pod.write_text(pod.read_text().replace("status: 'False'", "status: 'True'").replace("ready: false", "ready: true"))
    state = licence.state(lab, SnapshotTarget(mg))
    assert state.verdict == "verified" and "Verification Complete" in str(state)
    gate = rows(debug.run(lab, SnapshotTarget(mg)), "VLAN in TMM")
    assert all("the licence is not the cause" in x.evidence and "the attachment is" in x.evidence for x in gate)


def test_self_ips_are_read_from_the_pods_not_the_list(lab: params.Lab, tmp_path: Path) -> None:
    r = debug.run(lab, SnapshotTarget(labdata.write_variant("selfips-swapped", tmp_path / "mg")))
    held = {x.subject: x for x in rows(r, "self IPs held")}
    assert held["internal"].status == "pass" and "not in list order" in held["internal"].evidence
    assert "10.1.10.100 (#1) -> f5-tmm-7d9c6b5f4d-z9w4r" in held["internal"].evidence
    assert held["external 10.1.20.101"].status == "fail" and "address conflict" in held["external 10.1.20.101"].evidence
    assert held["external 10.1.20.100"].status == "warn" and "held by no TMM pod" in held["external 10.1.20.100"].evidence
    table = r.selfips.set_index("self IP")
    assert table.loc["10.1.10.100", "held by"] == labdata.TMM_POD_B and table.loc["10.1.10.100", "list position"] == 1


def test_on_the_stand_in_the_gate_is_read_through_exec_and_the_api(lab: params.Lab, api: FakeApiServer,
                                                                   kubeconfig: Path) -> None:
    for obj in labdata.lab_objects("licence-gate"):
        api.add(obj)
    out = labdata.exec_outputs("licence-gate")[("default", labdata.TMM_POD, "debug", ("ip", "-br", "addr"))]
    api.on_exec(labdata.TMM_POD, "debug", lambda argv, stdin: (out.encode(), b"", 0) if argv[:3] == ["ip", "-br", "addr"]
                else (b"", b"", 0))
    live = params.parse({**params.read_yaml(DEMO_PARAMS), "target": {"kind": "live", "kubeconfig": str(kubeconfig),
                                                                        "retries": 0}, "debug": {}})
    t = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    try:
        att = debug.sidecar.attachments(live, t)
        gate = debug.verdict.held_rows(live, att, t)
    finally:
        t.close()
    vlan = [x for x in gate if x.check == "VLAN in TMM"]
    assert [x.status for x in vlan] == ["warn", "warn"] and all("the licence gate" in x.evidence for x in vlan)
