"""Parsers of the debugging step (network-status, tmctl), on real-format outputs and malformed ones."""

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
