"""prereqs: the demo lab passes every check; each broken lab fails for the right reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster import SnapshotTarget
from spkrunbook.steps import prereqs
from tests.support import labdata, paths
from tests.support.paths import DEMO_PARAMS

ROOT = paths.ROOT
DEMO = DEMO_PARAMS


@pytest.fixture(scope="module")
def lab() -> params.Lab:
    return params.load(DEMO)


def snapshot(tmp_path: Path, variant: str, **kw) -> SnapshotTarget:
    root = tmp_path / variant
    labdata.write_snapshot(labdata.lab_objects(variant, **kw), root)
    return SnapshotTarget(root)


def statuses(findings, check):
    return {r.subject: r.status for r in findings.rows if r.check == check}


def test_demo_snapshot_passes_every_check(lab):
    f = prereqs.checks(lab, SnapshotTarget(lab.target.snapshot))
    assert f.ok, f.to_frame().to_string()
    # The one warning is the platform hint: the demo lab is on vSphere, whose port-group settings
    # cannot be seen from inside the cluster.
    assert f.counts() == {"pass": 23, "note": 0, "warn": 1, "fail": 0, "skip": 0}
    (hint,) = f.warnings()
    assert hint.check == "platform" and "forged transmits" in hint.evidence.lower()
    assert "cannot be seen from inside the cluster" in hint.evidence and "Forged transmits" in hint.action
    assert {r.check for r in f.rows} == {name for name, _ in prereqs.REGISTRY}
    assert all(r.reference.startswith("https://") for r in f.rows), "every check says where its rule is written"


@pytest.mark.parametrize(
    "variant,check,needle",
    [
        ("openshift-sdn", "network-type", "OpenShiftSDN"),
        ("no-hugepages", "hugepages", "no hugepages-2Mi allocatable"),
        ("missing-interface", "master-interfaces", "external master ens256 not found"),
        ("no-nad-crd", "multus-nad-crd", "network-attachment-definitions.k8s.cni.cncf.io is missing"),
        ("cpu-none", "cpu-manager", "cpuManagerPolicy none"),
        ("bridge-port", "master-bridge-port", "internal master ens224 is a port of bridge br-lab"),
    ],
)
def test_broken_lab_fails_for_the_right_reason(tmp_path, lab, variant, check, needle):
    f = prereqs.checks(lab, snapshot(tmp_path, variant))
    assert not f.ok
    failed = f.failed()
    assert {r.check for r in failed} == {check}, f.to_frame().to_string()
    assert any(needle in r.evidence for r in failed)
    assert all(r.action for r in failed), "every failure says what to do"


def test_missing_interface_names_the_node(tmp_path, lab):
    f = prereqs.checks(lab, snapshot(tmp_path, "missing-interface"))
    assert statuses(f, "master-interfaces")["worker-2"] == "fail"
    bad = list(f.failed())
    assert bad[0].subject == "worker-2" and "ens256" in bad[0].action


def test_unknown_interfaces_warn_with_a_command(tmp_path, lab):
    f = prereqs.checks(lab, snapshot(tmp_path, "no-nmstate"))
    rows = [r for r in f.rows if r.check == "master-interfaces"]
    assert rows and all(r.status == "warn" for r in rows)
    assert "oc debug node/worker-0" in rows[0].action and "/sys/class/net/ens224/flags" in rows[0].action
    assert f.ok  # unknown is a warning, never a silent pass and never a failure


def test_hugepages_too_small_for_two_cpus(tmp_path, lab):
    big = lab.model_copy(deep=True)
    big.tmm.cpu = 2
    big.tmm.hugepages = "6Gi"
    f = prereqs.checks(big, SnapshotTarget(lab.target.snapshot))
    assert set(statuses(f, "hugepages").values()) == {"fail"}
    assert "4.00Gi < 6.00Gi" in f.failed()[0].evidence


def test_uncommon_cpu_count_states_assumption(lab):
    odd = lab.model_copy(deep=True)
    odd.tmm.cpu = 3
    rows = [r for r in prereqs.checks(odd, SnapshotTarget(lab.target.snapshot)).rows if r.check == "hugepages"]
    assert all(r.status == "fail" or "scaled" in r.evidence for r in rows)


def test_topology_policy_single_numa_warns(tmp_path, lab):
    objs = labdata.lab_objects("ok")
    for o in objs:
        if o["kind"] == "KubeletConfig":
            o["spec"]["kubeletConfig"]["topologyManagerPolicy"] = "single-numa-node"
    labdata.write_snapshot(objs, tmp_path / "numa")
    f = prereqs.checks(lab, SnapshotTarget(tmp_path / "numa"))
    assert set(statuses(f, "topology-manager").values()) == {"warn"}


def test_no_tmm_node_matches(lab):
    other = lab.model_copy(deep=True)
    other.tmm.node_selector = {"spk": "true"}
    f = prereqs.checks(other, SnapshotTarget(lab.target.snapshot))
    assert statuses(f, "tmm-nodes") == {"": "fail"}
    assert statuses(f, "hugepages") == {"": "skip"}


def test_registry_is_one_function_per_check(lab):
    calls = []

    @prereqs.check("custom-probe")
    def _probe(facts):
        calls.append(len(facts.nodes))
        return [prereqs.CheckResult("custom-probe", "pass", "ok")]

    try:
        f = prereqs.checks(lab, SnapshotTarget(lab.target.snapshot), only=["custom-probe"])
        assert [r.check for r in f.rows] == ["custom-probe"] and calls == [6]
    finally:
        prereqs.REGISTRY.pop()


def test_interfaces_frame(lab):
    table = prereqs.interfaces(lab, SnapshotTarget(lab.target.snapshot))
    df = table.frame
    masters = df[df.role != ""]
    assert len(masters) == 6 and set(masters.interface) == {"ens224", "ens256"}
    assert masters.promisc.all()
    assert "<table" in table._repr_html_() and not table.note


def test_run_is_the_step_result(lab, tmp_path):
    result = prereqs.run(lab, SnapshotTarget(lab.target.snapshot))
    assert result.ok and result.findings is result.checks
    assert set(result.files()) == {"prerequisites.json", "prerequisites.csv", "node-interfaces.csv"}
    no_nns = prereqs.run(lab, snapshot(tmp_path, "no-nmstate"))
    assert no_nns.interfaces.frame.empty and "NMState" in no_nns.interfaces.note


def test_bridge_port_says_use_the_bridge_or_a_free_nic(tmp_path, lab):
    f = prereqs.checks(lab, snapshot(tmp_path, "bridge-port"))
    rows = [r for r in f.rows if r.check == "master-bridge-port"]
    assert {r.subject for r in rows} == {"worker-0", "worker-1", "worker-2"}
    assert all("use the bridge itself (e.g. br-ex) or a free NIC" in r.action for r in rows)
    assert statuses(f, "master-interfaces") == {"worker-0": "pass", "worker-1": "pass", "worker-2": "pass"}


def test_platform_hint_only_where_the_platform_needs_one(tmp_path, lab):
    bare = prereqs.checks(lab, snapshot(tmp_path, "baremetal"), only=["platform"])
    assert [(r.status, r.evidence.split(":")[0]) for r in bare] == [("pass", "platform BareMetal")]
    for kind, needle in (("OpenStack", "port security"), ("AWS", "ENI")):
        root = tmp_path / kind
        objs = labdata.lab_objects("ok")
        for o in objs:
            if o["kind"] == "Infrastructure":
                o["status"]["platformStatus"]["type"] = kind
        labdata.write_snapshot(objs, root)
        (row,) = prereqs.checks(lab, SnapshotTarget(root), only=["platform"])
        assert row.status == "warn" and needle in row.evidence + row.action
