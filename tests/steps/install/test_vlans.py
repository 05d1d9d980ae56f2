"""spkrunbook.steps.install.vlans: F5SPKVlan CRs, address checks, apply on the stand-in API server, plan on a snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster import reconcile as applier
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.errors import ParameterError
from spkrunbook.steps.install import vlans
from tests.conftest import SERVERS, both_servers
from tests.support import FakeApiServer, labdata
from tests.support.paths import DEMO_DIR
from tests.support.realcluster import RealApi

DEMO_SNAPSHOT = DEMO_DIR / "snapshot"


def make_lab(kubeconfig: Path | None = None, **over: Any) -> params.Lab:
    data: dict[str, Any] = {
        "lab": "vl",
        "target": {"kind": "live", "kubeconfig": str(kubeconfig)} if kubeconfig else {"kind": "snapshot", "snapshot": str(DEMO_SNAPSHOT)},
        "networks": {
            "internal": {"name": "macvlan-internal", "namespace": "default", "master": "ens224"},
            "external": {"name": "macvlan-external", "namespace": "default", "master": "ens256"},
        },
        "tmm": {"namespace": "default", "replicas": 1},
        "vlans": {
            "internal": {"name": "internal", "selfip_v4s": ["10.1.10.100"], "prefixlen_v4": 24},
            "external": {"name": "external", "selfip_v4s": ["10.1.20.100"], "prefixlen_v4": 24},
        },
    }
    for key, value in over.items():
        section, _, sub = key.partition("__")
        if sub:
            data[section][sub] = {**data[section].get(sub, {}), **value} if isinstance(value, dict) else value
        else:
            data[section] = {**data.get(section, {}), **value} if isinstance(value, dict) else value
    return params.parse(data)


# -- build ----------------------------------------------------------------------------------------


def test_build_follows_the_cni_order_and_marks_internal() -> None:
    objs = dict(vlans.build(make_lab()))
    assert objs["internal"]["spec"] == {"name": "internal", "interfaces": ["1.1"], "internal": True, "selfip_v4s": ["10.1.10.100"], "prefixlen_v4": 24}
    assert objs["external"]["spec"] == {"name": "external", "interfaces": ["1.2"], "selfip_v4s": ["10.1.20.100"], "prefixlen_v4": 24}
    assert objs["internal"]["apiVersion"] == "k8s.f5net.com/v1" and objs["internal"]["kind"] == "F5SPKVlan"
    assert objs["internal"]["metadata"]["namespace"] == "default"


def test_reversed_order_like_the_udf_lab() -> None:
    lab = make_lab(networks={"order": ["external", "internal"]})
    objs = vlans.build(lab)
    assert [(role, o["spec"]["interfaces"]) for role, o in objs] == [("external", ["1.1"]), ("internal", ["1.2"])]


def test_optional_fields_v6_tag_mtu() -> None:
    lab = make_lab(
        tmm={"replicas": 2},
        vlans__internal={"selfip_v4s": ["10.1.10.100", "10.1.10.101"], "selfip_v6s": ["2001:db8::100", "2001:db8::101"], "prefixlen_v6": 64, "tag": 0, "mtu": 9000},
        vlans__external={"selfip_v4s": ["10.1.20.100", "10.1.20.101"], "tag": 20},
    )
    objs = dict(vlans.build(lab))
    spec = objs["internal"]["spec"]
    assert spec["selfip_v6s"] == ["2001:db8::100", "2001:db8::101"] and spec["prefixlen_v6"] == 64
    assert spec["tag"] == 0 and spec["mtu"] == 9000
    assert objs["external"]["spec"]["tag"] == 20 and "mtu" not in objs["external"]["spec"]
    assert vlans.validate(lab).ok


def test_mtu_falls_back_to_the_network_mtu() -> None:
    lab = make_lab(networks__external={"mtu": 1400})
    assert dict(vlans.build(lab))["external"]["spec"]["mtu"] == 1400


# -- validation -----------------------------------------------------------------------------------


def failed(f: Any) -> dict[str, str]:
    return {r.check: r.evidence for r in f.failed()}


def problems_of(**over: Any) -> dict[str, str]:
    """The self-IP rules live in params now: every such mistake is found before anything is written."""
    with pytest.raises(ParameterError) as err:
        make_lab(**over)
    return {p.path: p.message for p in err.value.problems}


def test_too_few_self_ips_for_the_replicas() -> None:
    got = problems_of(tmm={"replicas": 2})
    assert got["vlans.internal.selfip_v4s"] == "1 address(es) for 2 TMM replica(s): add 1 more (one per replica, in order)"
    assert "vlans.external.selfip_v4s" in got


def test_spare_self_ips_warn() -> None:
    lab = make_lab(vlans__external={"selfip_v4s": ["10.1.20.100", "10.1.20.101"]})
    f = vlans.validate(lab)
    assert f.ok and any(r.status == "warn" and "extra ones are unused" in r.evidence for r in f.rows)
    assert any(w.path == "vlans.external.selfip_v4s" for w in lab.warnings())


def test_ip_outside_the_prefix_of_the_others() -> None:
    got = problems_of(tmm={"replicas": 2}, vlans__internal={"selfip_v4s": ["10.1.10.100", "10.1.10.101"]},
                      vlans__external={"selfip_v4s": ["10.1.20.100", "10.1.21.100"]})
    assert "10.1.21.100 is outside 10.1.20.0/24" in got["vlans.external.selfip_v4s[1]"]


@pytest.mark.parametrize("ip,kind", [("10.1.20.0", "network"), ("10.1.20.255", "broadcast")])
def test_network_and_broadcast_addresses_are_rejected(ip: str, kind: str) -> None:
    got = problems_of(vlans__external={"selfip_v4s": [ip]})
    assert f"{ip} is the {kind} address of 10.1.20.0/24" in got["vlans.external.selfip_v4s[0]"]


def test_a_slash_31_has_no_network_or_broadcast() -> None:
    assert vlans.validate(make_lab(vlans__external={"selfip_v4s": ["10.1.20.0"], "prefixlen_v4": 31})).ok


def test_duplicate_self_ips() -> None:
    got = problems_of(vlans__external={"selfip_v4s": ["10.1.10.100"]})
    assert "10.1.10.100 is used in vlans.internal.selfip_v4s and vlans.external.selfip_v4s" in got["vlans.external.selfip_v4s[0]"]


def test_no_self_ips_at_all() -> None:
    f = vlans.validate(make_lab(vlans__external={"selfip_v4s": [], "prefixlen_v4": None}))
    assert "self IPs given" in failed(f)


def test_internal_self_ip_must_sit_in_the_node_subnet() -> None:
    snap = SnapshotTarget(DEMO_SNAPSHOT)
    ok = vlans.validate(make_lab(), snap)
    row = next(r for r in ok.rows if r.check == "internal self IPs in node subnet")
    assert row.status == "pass" and "10.1.10.0/24" in row.evidence
    bad = vlans.validate(make_lab(vlans__internal={"selfip_v4s": ["10.1.30.100"]}), snap)
    assert "10.1.30.100 not in the node subnet 10.1.10.0/24" in failed(bad)["internal self IPs in node subnet"]


def test_node_subnet_unknown_is_a_skip(tmp_path: Path) -> None:
    objs = [o for o in labdata.lab_objects() if o["kind"] == "Node"]
    for o in objs:
        o["metadata"]["annotations"] = {}
    labdata.write_snapshot(objs, tmp_path)
    f = vlans.validate(make_lab(), SnapshotTarget(tmp_path))
    row = next(r for r in f.rows if r.check == "internal self IPs in node subnet")
    assert row.status == "skip" and f.ok


# -- plan on a snapshot ---------------------------------------------------------------------------


def test_snapshot_plan_unchanged_when_the_crs_match() -> None:
    plan = vlans.apply(make_lab(), SnapshotTarget(DEMO_SNAPSHOT))
    assert plan.result.planned
    assert [c.action for c in plan.result.changes] == ["unchanged", "unchanged"]
    assert plan.ok and "kind: F5SPKVlan" in plan.yaml


def test_snapshot_plan_would_update_and_writes_nothing() -> None:
    lab = make_lab(vlans__external={"selfip_v4s": ["10.1.20.150"]})
    plan = vlans.apply(lab, SnapshotTarget(DEMO_SNAPSHOT))
    ext = plan.result.change("external")
    assert ext.action == "update" and ext.outcome(True) == "would update" and not ext.applied
    assert "-  - 10.1.20.100" in ext.diff and "+  - 10.1.20.150" in ext.diff


def test_failed_checks_skip_the_apply() -> None:
    lab = make_lab(vlans__internal={"selfip_v4s": ["10.1.30.100"]})  # outside the node subnet: known only to the target
    plan = vlans.apply(lab, SnapshotTarget(DEMO_SNAPSHOT))
    assert {c.action for c in plan.result.changes} == {"skipped"}
    assert not plan.ok


def test_preflight_names_what_the_install_would_refuse() -> None:
    snap = SnapshotTarget(DEMO_SNAPSHOT)
    assert vlans.preflight(make_lab(), snap) == []
    bad = vlans.preflight(make_lab(vlans__internal={"selfip_v4s": ["10.1.30.100"]}), snap)
    assert [p.path for p in bad] == ["vlans.internal.selfip_v4s"] and "10.1.30.100 not in the node subnet" in bad[0].message
    none = vlans.preflight(make_lab(vlans__external={"selfip_v4s": [], "prefixlen_v4": None}), snap)
    assert [p.path for p in none] == ["vlans.external.selfip_v4s"]


# -- apply on the stand-in API server ------------------------------------------------------------------


def seed(api: FakeApiServer, *, crs: bool = False, crd: bool = True) -> None:
    for obj in labdata.lab_objects():
        if obj.get("kind") == "F5SPKVlan" and not crs:
            continue
        if obj.get("kind") == "CustomResourceDefinition" and obj["metadata"]["name"] == "f5-spk-vlans.k8s.f5net.com" and not crd:
            continue
        api.add(obj)


@pytest.fixture(params=SERVERS)
def api(request: pytest.FixtureRequest) -> Iterator[FakeApiServer | RealApi]:
    """The live tests run against the stand-in and against the real API server (real F5SPKVlan CRD schema)."""
    yield from both_servers(request)


def stand_in_only(api: Any, why: str) -> None:
    if isinstance(api, RealApi):
        pytest.skip(why)


@pytest.fixture
def target(kubeconfig: Path) -> Iterator[LiveTarget]:
    t = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    yield t
    t.close()


def writes(api: FakeApiServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def test_live_create_then_idempotent(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api)
    lab = make_lab(kubeconfig)
    first = vlans.apply(lab, target)
    assert [(c.name, c.action, c.applied) for c in first.result.changes] == [("internal", "create", True), ("external", "create", True)]
    stored = api.get_object("f5-spk-vlans", "internal", "default")
    assert stored["spec"]["internal"] is True and stored["metadata"]["labels"][applier.MANAGED_BY] == "spkrunbook"
    api.reset_requests()
    second = vlans.apply(lab, target)
    assert [c.action for c in second.result.changes] == ["unchanged", "unchanged"]
    assert writes(api) == []


def test_live_update_ours_with_a_diff(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api, crs=True)
    lab = make_lab(kubeconfig, vlans__external={"selfip_v4s": ["10.1.20.150"], "mtu": 1500})
    plan = vlans.apply(lab, target)
    ext = plan.result.change("external")
    assert ext.action == "update" and ext.applied and "+  mtu: 1500" in ext.diff
    assert api.get_object("f5-spk-vlans", "external", "default")["spec"]["selfip_v4s"] == ["10.1.20.150"]
    assert plan.result.change("internal").action == "unchanged"


def test_live_refuses_a_foreign_cr_unless_forced(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api)
    foreign = labdata.vlan_cr("external", "1.2", "10.1.20.7", False)
    foreign["metadata"]["labels"] = {"team": "net"}
    api.add(foreign)
    plan = vlans.apply(make_lab(kubeconfig), target)
    ext = plan.result.change("external")
    assert ext.action == "refused" and not ext.applied
    assert api.get_object("f5-spk-vlans", "external", "default")["spec"]["selfip_v4s"] == ["10.1.20.7"]
    assert not plan.ok and "nad.force" in plan.findings.failed()[0].action
    assert plan.result.partial  # internal was created, external refused: reported, not rolled back
    forced = vlans.apply(make_lab(kubeconfig, nad={"force": True}), target)
    assert forced.result.change("external").action == "update"
    obj = api.get_object("f5-spk-vlans", "external", "default")
    assert obj["spec"]["selfip_v4s"] == ["10.1.20.100"] and obj["metadata"]["labels"][applier.MANAGED_BY] == "spkrunbook"
    assert obj["metadata"]["labels"]["team"] == "net"


def test_live_equal_foreign_cr_is_left_alone(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    seed(api)
    same = labdata.vlan_cr("external", "1.2", "10.1.20.100", False)
    same["metadata"]["labels"] = {}
    api.add(same)
    api.reset_requests()
    plan = vlans.apply(make_lab(kubeconfig), target)
    assert plan.result.change("external").action == "unchanged"
    assert ("PUT", "/apis/k8s.f5net.com/v1/namespaces/default/f5-spk-vlans/external") not in writes(api)


def test_live_without_the_crd(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    stand_in_only(api, "the session's real cluster has the CRD installed")
    seed(api, crd=False)
    plan = vlans.apply(make_lab(kubeconfig), target)
    assert "F5SPKVlan CRD installed" in failed(plan.findings)
    assert {c.action for c in plan.result.changes} == {"skipped"} and writes(api) == []


def test_live_conflict_is_retried_once(api: FakeApiServer, kubeconfig: Path, target: LiveTarget) -> None:
    stand_in_only(api, "an injected 409 (fail_next) is the stand-in's; the real 409 is test_real_apiserver's")
    seed(api, crs=True)
    api.fail_next("PUT", r".*/f5-spk-vlans/external$", 409)
    plan = vlans.apply(make_lab(kubeconfig, vlans__external={"selfip_v4s": ["10.1.20.151"]}), target)
    ext = plan.result.change("external")
    assert ext.applied and "409" in ext.reason


def test_apply_yaml_is_valid_multi_doc() -> None:
    from ruamel.yaml import YAML

    docs = list(YAML(typ="safe").load_all(vlans.apply(make_lab(), SnapshotTarget(DEMO_SNAPSHOT)).yaml))
    assert [d["metadata"]["name"] for d in docs] == ["internal", "external"]
    assert json.dumps(docs)  # plain data
