"""``ip -br link`` / ``ip -br addr`` as the debug container prints them, real-format and malformed."""

from __future__ import annotations

from spkrunbook.cluster import tmm as p
from tests.support import paths
from tests.support.paths import DEMO_DIR

DATA = paths.FIXTURES / "debug"
DEMO_EXEC = DEMO_DIR / "snapshot/quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d/spkrunbook-exec"
TMM_DIR = DEMO_EXEC / "default/f5-tmm-7d9c6b5f4d-x2k8q/debug"


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
