"""Parsers of the debugging step, on real-format outputs and malformed ones."""

from __future__ import annotations

import json

import pytest

from spkrunbook.steps.debug import parsers as p
from tests.support import paths
from tests.support.labdata import tmm_pod
from tests.support.paths import DEMO_DIR

DATA = paths.FIXTURES / "debug"
DEMO_EXEC = DEMO_DIR / "snapshot/quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d/spkrunbook-exec"
TMM_DIR = DEMO_EXEC / "default/f5-tmm-7d9c6b5f4d-x2k8q/debug"


def test_network_status_demo_pod():
    ann = tmm_pod()["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
    df = p.parse_network_status(ann)
    assert list(df["network"]) == ["ovn-kubernetes", "default/macvlan-internal", "default/macvlan-external"]
    assert list(df["interface"]) == ["eth0", "net1", "net2"]
    assert df.loc[0, "ips"] == ["10.128.8.23"] and df.loc[1, "ips"] == []
    assert list(df["default"]) == [True, False, False]


def test_network_status_upstream_example_and_malformed():
    text = ('[{"name": "ovn-kubernetes", "interface": "eth0", "ips": ["10.128.3.174"], "mac": "0A:58:0a:80:03:ae",'
            ' "default": true, "dns": {}}, {"name": "openshift-multus/wb-ipam", "interface": "net1", "ips": ["10.5.0.1"],'
            ' "mac": "1a:04:6f:a4:15:3c", "dns": {}}, {"interface": "net9"}, 7]')
    df = p.parse_network_status(text)
    assert len(df) == 2 and df.loc[0, "mac"] == "0a:58:0a:80:03:ae"
    assert len(df.attrs["skipped"]) == 2
    assert p.parse_network_status(None).empty and list(p.parse_network_status("").columns) == p.NETWORK_STATUS_COLUMNS
    with pytest.raises(p.ParseError, match="not JSON"):
        p.parse_network_status('[{"name": ')
    with pytest.raises(p.ParseError):
        p.parse_network_status(json.dumps("text"))


def test_tmctl_device_probed_demo_and_sriov():
    df = p.parse_tmctl((TMM_DIR / "tmctl_-d_blade_tmm_xnet_device_probed.out").read_text())
    assert list(df.columns) == ["id", "available_drivers", "driver_selected", "driver_in_use"]
    assert list(df["id"]) == ["xeth0", "net1", "net2"] and set(df["driver_in_use"]) == {"Yes"}
    assert df.loc[1, "available_drivers"] == "sock,"
    sriov = p.parse_tmctl((DATA / "device_probed_sriov.txt").read_text())
    assert sriov.loc[0, "id"] == "0000:c1:00.7"
    assert sriov.loc[0, "available_drivers"] == "mlxvf5, sock, dpdk,"
    assert sriov.loc[2, "driver_in_use"] == "No"


def test_tmctl_generic_table_overflow_empty_and_malformed():
    text = "name      clientside.tot_conns serverside.tot_conns\n--------- -------------------- --------------------\nvs_http   12                   10\nvs_with_a_long_name 3 4\n\n"
    df = p.parse_tmctl(text)
    assert df.to_dict("records")[0] == {"name": "vs_http", "clientside.tot_conns": "12", "serverside.tot_conns": "10"}
    assert df.loc[1, "name"] == "vs_with_a_long_name"  # wider than its column: whitespace fallback
    empty = p.parse_tmctl("a   b\n--- ---\n")
    assert empty.empty and list(empty.columns) == ["a", "b"]
    bad = p.parse_tmctl("a   b\n--- ---\nonetwothree four five\n")
    assert bad.empty and bad.attrs["skipped"] == [(3, "onetwothree four five")]
    with pytest.raises(p.ParseError, match="no tmctl table"):
        p.parse_tmctl("tmctl: table tmm/xnet/nope not found\n")


def test_ip_br_link_and_addr_demo():
    link = p.parse_ip_br_link((TMM_DIR / "ip_-br_link.out").read_bytes())
    row = link.set_index("interface").loc["net1"]
    assert row["peer"] == "if5" and row["state"] == "UP" and row["mac"] == "7e:12:9c:4a:01:b1" and row["up"]
    assert link.set_index("interface").loc["lo", "up"]  # UNKNOWN + UP,LOWER_UP counts as up
    addr = p.parse_ip_br_addr((TMM_DIR / "ip_-br_addr.out").read_text()).set_index("interface")
    assert addr.loc["net1", "addresses"] == [] and addr.loc["internal", "ipv4"] == ["10.1.10.100/24"]
    assert addr.loc["eth0", "ipv6"] == ["fe80::858:aff:fe80:817/64"]


def test_ip_br_malformed_lines_are_kept_aside():
    link = p.parse_ip_br_link("eth0 DOWN 00:11:22:33:44:55 <NO-CARRIER,BROADCAST,MULTICAST,UP>\n"
                              "tun0 UNKNOWN <POINTOPOINT,NOARP,UP,LOWER_UP>\nError: nope\nnet1 UP aa:bb\n")
    assert list(link["interface"]) == ["eth0", "tun0"] and not link.loc[0, "up"] and link.loc[1, "mac"] == ""
    assert [n for n, _ in link.attrs["skipped"]] == [3, 4]
    addr = p.parse_ip_br_addr("net1 UP 10.1.10.5/24 garbage\nnet2 DOWN\n")
    assert list(addr["interface"]) == ["net2"] and addr.attrs["skipped"][0][0] == 1


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
    with pytest.raises(p.ParseError):
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
    with pytest.raises(p.ParseError):
        p.parse_lr_policy_list("ovn-nbctl: nope: router name not found\n")
