"""``ovn-nbctl lr-route-list`` / ``lr-policy-list`` listings, real-format and malformed."""

from __future__ import annotations

import pytest

from spkrunbook.cluster.ovn import listings as p
from spkrunbook.errors import ParseError
from tests.support import paths
from tests.support.paths import DEMO_DIR

DATA = paths.FIXTURES / "debug"
DEMO_EXEC = DEMO_DIR / "snapshot/quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d/spkrunbook-exec"


def test_lr_route_list_demo_gateway_router():
    df = p.parse_lr_route_list((DEMO_EXEC / "openshift-ovn-kubernetes/ovnkube-master-p0z9k/nbdb/ovn-nbctl_lr-route-list_GR_worker-1.out").read_text())
    src = df[df["policy"] == "src-ip"]
    assert list(src["nexthop"]) == ["10.1.10.100", "10.1.10.100"]
    assert src["ecmp_symmetric_reply"].all() and src["bfd"].all() and set(src["port"]) == {"rtoe-GR_worker-1"}
    default = df[df["prefix"] == "0.0.0.0/0"].iloc[0]
    assert default["nexthop"] == "10.1.10.1" and default["flags"] == [] and default["route_table"] == "main"
    assert df[df["prefix"] == "10.128.0.0/14"].iloc[0]["port"] == ""


def test_lr_route_list_sections_tables_and_garbage():
    df = p.parse_lr_route_list((DATA / "lr_route_list_tables.txt").read_text())
    assert list(df["family"]).count("IPv6") == 3  # by section header
    v6 = df[df["family"] == "IPv6"].iloc[0]
    assert v6["ecmp"] and not v6["ecmp_symmetric_reply"] and v6["nexthop"] == "fd99::15"
    blue = df[df["route_table"] == "blue"].iloc[0]
    assert blue["nexthop"] == "discard"
    assert df.attrs["skipped"][0][1] == "this line is garbage"
    assert p.parse_lr_route_list("").empty
    with pytest.raises(ParseError):
        p.parse_lr_route_list('ovn-nbctl: GR_nope: router name not found\n')


def test_lr_policy_list():
    df = p.parse_lr_policy_list((DATA / "lr_policy_list.txt").read_text())
    assert list(df["priority"]) == [1004, 102, 101, 100, 90]
    assert df.loc[0, "action"] == "reroute" and df.loc[0, "nexthops"] == ["10.128.8.2"]
    assert df.loc[0, "match"] == 'inport == "rtos-worker-1" && ip4.dst == 10.1.10.22 /* worker-1 */'
    assert df.loc[1, "options"] == "pkt_mark=1008" and df.loc[1, "nexthops"] == []
    assert df.loc[3, "nexthops"] == ["10.244.2.2", "10.244.3.2"]
    assert df.loc[4, "action"] == "drop"
    assert df.attrs["skipped"] == [(7, "not a policy")]
    with pytest.raises(ParseError):
        p.parse_lr_policy_list("ovn-nbctl: nope: router name not found\n")
