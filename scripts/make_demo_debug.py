#!/usr/bin/env python3
"""Write the demo lab's saved command outputs (spkrunbook-exec/) for the debugging step.

What a live run would get by exec, consistent with tests.support.labdata:
TMM pod f5-tmm-7d9c6b5f4d-x2k8q on worker-1 (pod IP 10.128.8.23, node subnet
10.128.8.0/23), net1 = macvlan-internal (TMM 1.1, self IP 10.1.10.100/24),
net2 = macvlan-external (1.2, 10.1.20.100/24); OpenShift 4.10 so the NB database
answers in the ovnkube-master pods (container nbdb). Formats follow the real
commands (tmctl fixed-width table, iproute2 -br, ovn-nbctl 21.12 without route
tables). Run scripts/make_demo_captures.sh for the captures.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from spkrunbook.cluster.snapshot import EXEC_DIR, exec_slug  # noqa: E402
from tests.support.labdata import NAMESPACE, TMM_POD, ovnkube_master_pod  # noqa: E402

DATA = ROOT / "spkrunbook/demo/snapshot/quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d"

DEVICE_PROBED = """\
id    available_drivers driver_selected driver_in_use
----- ----------------- --------------- -------------
xeth0 sock,             sock            Yes
net1  sock,             sock            Yes
net2  sock,             sock            Yes
"""
IP_BR_LINK = """\
lo               UNKNOWN        00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>
eth0@if41        UP             0a:58:0a:80:08:17 <BROADCAST,MULTICAST,UP,LOWER_UP>
net1@if5         UP             7e:12:9c:4a:01:b1 <BROADCAST,MULTICAST,UP,LOWER_UP>
net2@if6         UP             7e:12:9c:4a:02:c2 <BROADCAST,MULTICAST,UP,LOWER_UP>
tmm              UNKNOWN        62:1b:5e:0c:7a:11 <BROADCAST,MULTICAST,UP,LOWER_UP>
internal         UNKNOWN        7e:12:9c:4a:01:b1 <BROADCAST,MULTICAST,UP,LOWER_UP>
external         UNKNOWN        7e:12:9c:4a:02:c2 <BROADCAST,MULTICAST,UP,LOWER_UP>
"""
IP_BR_ADDR = """\
lo               UNKNOWN        127.0.0.1/8 ::1/128
eth0@if41        UP             10.128.8.23/23 fe80::858:aff:fe80:817/64
net1@if5         UP
net2@if6         UP
tmm              UNKNOWN        169.254.0.253/24 fe80::601b:5eff:fe0c:7a11/64
internal         UNKNOWN        10.1.10.100/24 fe80::7c12:9cff:fe4a:1b1/64
external         UNKNOWN        10.1.20.100/24 fe80::7c12:9cff:fe4a:2c2/64
"""
GR_ROUTES = """\
IPv4 Routes
              10.128.8.41               10.1.10.100 src-ip rtoe-GR_worker-1 ecmp-symmetric-reply bfd
              10.128.8.42               10.1.10.100 src-ip rtoe-GR_worker-1 ecmp-symmetric-reply bfd
         169.254.169.0/29             169.254.169.4 dst-ip rtoe-GR_worker-1
            10.128.0.0/14                100.64.0.1 dst-ip
                0.0.0.0/0                 10.1.10.1 dst-ip rtoe-GR_worker-1
"""
NODES = [("master-0", 0, 2), ("master-1", 2, 3), ("master-2", 4, 4), ("worker-0", 6, 5), ("worker-1", 8, 6),
         ("worker-2", 10, 7)]
CLUSTER_ROUTES = "IPv4 Routes\n" + "".join(
    f"{f'100.64.0.{j}':>25} {f'100.64.0.{j}':>25} dst-ip\n" for _, _, j in NODES) + "".join(
    f"{f'10.128.{s}.0/23':>25} {f'100.64.0.{j}':>25} src-ip\n" for _, s, j in NODES)
POLICIES = "Routing Policies\n" + "".join(
    f'      1004 inport == "rtos-{n}" && ip4.dst == 10.1.10.{11 + i if n.startswith("master") else 21 + i - 3} /* {n} */'
    f"         reroute                10.128.{s}.2\n" for i, (n, s, _) in enumerate(NODES)) + """\
       101 ip4.src == 10.128.0.0/14 && ip4.dst == 10.128.0.0/14           allow
       101 ip4.src == 10.128.0.0/14 && ip4.dst == 100.64.0.0/16           allow
       101 ip4.src == 10.128.0.0/14 && ip4.dst == 10.1.10.21/32           allow
       101 ip4.src == 10.128.0.0/14 && ip4.dst == 10.1.10.22/32           allow
       101 ip4.src == 10.128.0.0/14 && ip4.dst == 10.1.10.23/32           allow
"""


def save(ns: str, pod: str, container: str, argv: list[str], text: str) -> Path:
    p = DATA / EXEC_DIR / ns / pod / container / f"{exec_slug(argv)}.out"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def main() -> None:
    for argv, text in ((["tmctl", "-d", "blade", "tmm/xnet/device_probed"], DEVICE_PROBED),
                       (["ip", "-br", "link"], IP_BR_LINK), (["ip", "-br", "addr"], IP_BR_ADDR)):
        print(save(NAMESPACE, TMM_POD, "debug", argv, text).relative_to(ROOT))
    master = ovnkube_master_pod("master-0", 0)["metadata"]["name"]
    for argv, text in ((["ovn-nbctl", "lr-route-list", "GR_worker-1"], GR_ROUTES),
                       (["ovn-nbctl", "lr-route-list", "ovn_cluster_router"], CLUSTER_ROUTES),
                       (["ovn-nbctl", "lr-policy-list", "ovn_cluster_router"], POLICIES)):
        print(save("openshift-ovn-kubernetes", master, "nbdb", argv, text).relative_to(ROOT))


if __name__ == "__main__":
    main()
