"""MTU in three places (issue 24 item 1): the rule, the demo's variant, and the real kube-apiserver."""

from __future__ import annotations

from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.steps.install import mtu, values, verify
from tests.support import labdata
from tests.support.paths import DEMO_PARAMS
from tests.support.realcluster import RealApi


def test_the_rule_names_the_value_to_change() -> None:
    fix = {"nad": "networks.internal.mtu", "vlan": "vlans.internal.mtu", "tmm": "tmm.default_mtu"}
    ok = mtu.agree("internal", master="ens224", master_mtu=1500, nad=None, vlan=None, tmm=None, where="x", fix=fix)
    assert [r.status for r in ok] == ["pass"]
    (row,) = mtu.agree("internal", master="ens224", master_mtu=9000, nad=9000, vlan=9000, tmm=1500, where="x", fix=fix)
    assert row.status == "warn" and "set tmm.default_mtu to 9000" in row.action and "one source" in row.evidence
    above = mtu.agree("internal", master="ens224", master_mtu=1500, nad=None, vlan=9000, tmm=9000, where="x", fix=fix)
    assert [r.status for r in above] == ["warn", "warn"]  # the VLAN's and TMM's, each named with its fix
    assert all("above what ens224 carries" in r.evidence and "to 1500" in r.action for r in above)
    assert "vlans.internal.mtu" in above[0].action and "tmm.default_mtu" in above[1].action
    (row,) = mtu.agree("internal", master="ens224", master_mtu=1500, nad=9000, vlan=None, tmm=None, where="x", fix=fix)
    assert row.status == "fail" and "refuses" in row.evidence and "networks.internal.mtu" in row.action
    (row,) = mtu.agree("internal", master="ens224", master_mtu=1500, nad=None, vlan=1500, tmm=None, where="x", fix=fix)
    assert row.status == "warn" and "TMM_DEFAULT_MTU is not set" in row.evidence


def test_params_default_mtu_reaches_the_values_helm_uses() -> None:
    data = params.read_yaml(DEMO_PARAMS)
    data["tmm"]["default_mtu"] = 1500
    data["vlans"]["internal"]["mtu"] = 1500
    lab = params.parse(data, base_dir=DEMO_PARAMS.parent)
    eff = values.effective(values.merge(None, lab).merged)
    assert {"name": "TMM_DEFAULT_MTU", "value": "1500"} in eff["tmm"]["customEnvVars"]
    rows = mtu.before(lab, None, eff).rows
    assert [r.status for r in rows] == ["pass", "pass"]


def test_the_variant_trips_on_the_running_pod(tmp_path: Path) -> None:
    lab = params.load(DEMO_PARAMS)
    t = SnapshotTarget(labdata.write_variant("mtu-mismatch", tmp_path / "mg"))
    rows = [r for r in verify.check(t, lab).rows if r.check == "MTU agreement"]
    by_role = {r.subject.split()[0]: r for r in rows}
    assert by_role["external"].status == "pass"
    bad = by_role["internal"]
    assert bad.status == "warn" and "F5SPKVlan 9000" in bad.evidence and "master ens224 1500" in bad.evidence
    assert "set vlans.internal.mtu to 1500" in bad.action


@pytest.mark.apiserver
def test_on_the_real_apiserver_before_the_install_and_on_the_pod(real_api: RealApi, tmp_path: Path) -> None:
    kc = real_api.write_kubeconfig(tmp_path / "kc")
    data = params.read_yaml(DEMO_PARAMS)
    data["target"] = {"kind": "live", "kubeconfig": str(kc), "retries": 0}
    data["vlans"]["internal"]["mtu"] = 9000
    data.pop("debug", None)
    lab = params.parse(data, base_dir=DEMO_PARAMS.parent)
    t = LiveTarget.from_kubeconfig(kc, retries=0)
    try:
        before = {r.subject.split()[0]: r for r in mtu.before(lab, t, {"tmm": {}}).rows}
        assert before["internal"].status == "warn" and "master ens224 1500" in before["internal"].evidence
        assert before["external"].status == "pass"
        for obj in labdata.lab_objects("mtu-mismatch"):
            if obj["kind"] in ("F5SPKVlan", "NetworkAttachmentDefinition") or obj["metadata"]["name"] == labdata.TMM_POD:
                real_api.add(obj)
        pod = t.get("pods", labdata.TMM_POD, "default")  # a real pod object: the rule reads its spec, no kubelet needed
        rows = {r.subject.split()[0]: r for r in mtu.on_pod(lab, t, pod)}
    finally:
        t.close()
    assert rows["internal"].status == "warn" and "F5SPKVlan 9000" in rows["internal"].evidence
    assert "TMM_DEFAULT_MTU 1500" in rows["internal"].evidence
