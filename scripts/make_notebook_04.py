#!/usr/bin/env python3
"""Regenerate notebooks/04-debugging.ipynb."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
nbtool.write(
    ROOT / "notebooks" / "04-debugging.ipynb",
    [
        ("md", """
# 04 · Debugging: is traffic flowing over the macvlan interfaces, and where does it go?

The source document ends with three tools: the **TMM debug sidecar** (the `debug`
container in the TMM pod, for traffic and route diagnostics), **OVN routing**
inspection (the OVN northbound database's routes and policies), and **tcpdump**
on the node (`sudo tcpdump -i cni0`) to watch traffic over the macvlan interface.
This notebook does all three and ends with a findings table.

On a snapshot (the bundled demo) the saved sidecar and `ovn-nbctl` outputs and the
captures shipped with the snapshot are read; what needs a live cluster is skipped
with the reason.
"""),
        ("params", """
params_file = "../params/demo.yaml"  # the lab's params file (see params/lab-template.yaml)
record_dir = ""  # where artifacts go; empty means records/<time>-<lab>-interactive
interactive = True  # False under spkrunbook run: no widgets, nothing waits for a person
"""),
        ("code", """
from IPython.display import Markdown, display
from spkrunbook import notebook, debug

step = notebook.start("debugging", params_file, record_dir)
step.overview()
"""),
        ("md", """
## TMM attachments

What Multus attached to each TMM pod (`k8s.v1.cni.cncf.io/network-status`): one
row per network, with interface, MAC and IPs. macvlan NADs without IPAM have no IPs.
"""),
        ("code", """
att = debug.attachments(step.lab, step.target, record=step)
att.network_status()
"""),
        ("md", """
Each NAD from the params against the pod: its interface, whether TMM took it onto
its dataplane (`tmctl -d blade tmm/xnet/device_probed` in the `debug` sidecar;
`net1` becomes TMM interface `1.1`) and what the kernel shows (`ip -br link` / `ip -br addr`).
A NAD without an interface in the pod is a failed finding.
"""),
        ("code", """
att.to_frame()
"""),
        ("code", """
att.table("device_probed")
"""),
        ("code", """
att.table("link")
"""),
        ("code", """
att.table("addr")
"""),
        ("md", """
## OVN routes

With ICNI2 (`internal: true` on the internal F5SPKVlan) OVN uses TMM's internal
self IPs as the egress gateway: the gateway router `GR_<node>` gets `src-ip`
routes with `ecmp-symmetric-reply` (and `bfd`) via TMM. Read from the OVN NB
database (`ovnkube-master` pods before OpenShift 4.14, the node's `ovnkube-node`
pod from 4.14).
"""),
        ("code", """
routes = debug.ovn_routes(step.lab, step.target, record=step)
routes.gateway_routes
"""),
        ("code", """
routes.cluster_routes
"""),
        ("code", """
routes.policies
"""),
        ("code", """
routes.to_frame()
"""),
        ("md", """
## Packet captures

The seed's `tcpdump -i cni0` on the node, or tcpdump in the TMM pod's `debug`
container: a live capture (`debug.live_capture: true`) streams pcap into the
capture engine with progress; files listed in `debug.analyse` (pcap, pcapng or
tcpdump text) are analysed instead. Each pcap, its SHA-256 and its statistics
go into the lab record.
"""),
        ("code", """
caps = debug.captures(step.lab, step.target, record=step)
debug.overview(caps)
"""),
        ("code", """
debug.tcp_table(caps)
"""),
        ("code", """
for c in caps:
    if c.ok:
        display(Markdown(f"#### {c.name}: summary and top conversations"), c.summary(), c.conversations().head(15))
"""),
        ("code", """
for c in caps:
    if c.ok:
        display(Markdown(f"#### {c.name}: resets and retransmission / duplicate-ACK hints"), c.resets(), c.anomalies().head(15))
"""),
        ("code", """
for c in caps:
    display(Markdown(f"#### {c.name}"), *c.images())
"""),
        ("md", """
## Capture by hand

Pick a TMM pod and an interface, capture in the pod or on its node; the plot of
packets per second per interface updates while the capture runs.
"""),
        ("code", """
from spkrunbook.widgets import common
from spkrunbook.widgets.debug import CaptureForm

form = common.show(CaptureForm, interactive, step)
"""),
        ("md", """
## Findings

Attachments present, TMM took each interface, interfaces up, OVN routes via TMM,
packets seen on each capture, and resets / retransmissions against the
thresholds in `debug.reset_threshold` / `debug.retransmission_threshold`.
"""),
        ("code", """
findings = debug.findings(step.lab, att, routes, caps)
findings
"""),
        ("code", """
step.save_findings(findings)
step.finish(findings)
"""),
    ],
)
