"""The debugging step: TMM debug sidecar, attachments, OVN routes and packet captures.

``run(lab, target)`` is the procedure notebook 04 narrates::

    result = debug.run(step.lab, step.target)
    result.attachments       # network-status, tmctl, ip -br per TMM pod
    result.routes            # lr-route-list / lr-policy-list + the check against TMM's self IPs
    result.captures          # live (pod/node) or files, with statistics and plots
    step.finish(result)      # result.findings is the verdict

Modules: ``parsers`` (pure text -> DataFrame), ``sidecar`` (``run_in_sidecar``,
attachments), ``ovn`` (NB database location, routes, check), ``captures`` (live
pod / node captures streamed into the capture engine, offline analysis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ... import display
from ...cluster.base import Target
from ...errors import SpkRunbookError
from ...params import Lab
from ...progress import Progress
from ...results import CheckResult, Findings
from . import parsers, sidecar
from .captures import (
    CaptureProgress,
    CaptureResult,
    LiveCapture,
    analyse,
    analyse_file,
    capture,
    captures,
    node_capture_pod,
    overview,
    plot_rate,
    tcp_table,
    tcpdump_argv,
    to_progress,
)
from .ovn import OvnRoutes, nbdb_candidates, ovn_routes
from .parsers import (
    ParseError,
    parse_ip_br_addr,
    parse_ip_br_link,
    parse_lr_policy_list,
    parse_lr_route_list,
    parse_network_status,
    parse_tmctl,
)
from .sidecar import Attachments, PodAttachments, attachments, run_in_sidecar, tmm_pods

__all__ = [
    "Attachments",
    "CaptureProgress",
    "CaptureResult",
    "DebugResult",
    "LiveCapture",
    "OvnRoutes",
    "ParseError",
    "PodAttachments",
    "analyse",
    "analyse_file",
    "attachments",
    "capture",
    "captures",
    "findings",
    "nbdb_candidates",
    "node_capture_pod",
    "overview",
    "ovn_routes",
    "parse_ip_br_addr",
    "parse_ip_br_link",
    "parse_lr_policy_list",
    "parse_lr_route_list",
    "parse_network_status",
    "parse_tmctl",
    "parsers",
    "plot_rate",
    "run",
    "run_in_sidecar",
    "sidecar",
    "tcp_table",
    "tcpdump_argv",
    "tmm_pods",
    "to_progress",
]


def findings(lab: Lab, att: Attachments | None, routes: OvnRoutes | None,
             caps: list[CaptureResult] | None) -> Findings:
    """The step's verdict: attachments present, interfaces up, packets seen, resets/retransmissions, routes."""
    f = Findings("debugging")
    if att is not None:
        if att.error:
            f.add("TMM pod", "fail", att.error, f"check `oc get pods -n {lab.tmm.namespace} -l {lab.tmm.pod_selector}`")
        for p in att.pods:
            if "error" in p.network_status.attrs:
                f.add("network-status", "fail", p.network_status.attrs["error"], "check Multus on the node", p.pod)
            probed, link = p.tables.get("device_probed"), p.tables.get("link")
            for role, network, tmm_if in p.expected:
                subject = f"{p.pod} {network}"
                a = p.attachment_for(network)
                if a is None:
                    have = ", ".join(n for n in p.network_status["network"]) or "none"
                    f.add("attachment present", "fail",
                          f"the pod has no interface for {network} ({role}, TMM {tmm_if}); its network-status lists: {have}",
                          f"check tmm.cniNetworks includes {network} and the NAD exists in {network.split('/')[0]}; "
                          "then restart the TMM pod", subject)
                    continue
                f.add("attachment present", "pass", f"{a['interface']} ({a['mac'] or 'no MAC'}) for {network} ({role}, TMM {tmm_if})",
                      "", subject)
                ifname = a["interface"]
                if probed is None or probed.frame is None or "id" not in probed.frame:
                    why = probed.error if probed is not None else "not run"
                    f.add("TMM took the interface", "skip", f"device_probed unavailable: {why}", "", f"{p.pod} {ifname}")
                else:
                    hit = probed.frame[probed.frame["id"] == ifname]
                    if hit.empty:
                        f.add("TMM took the interface", "fail", f"{ifname} is not in tmm/xnet/device_probed",
                              "check TMM_MAPRES_ADDL_VETHS_ON_DP=TRUE in tmm.customEnvVars and the f5-tmm logs",
                              f"{p.pod} {ifname}")
                    else:
                        in_use = str(hit.iloc[0].get("driver_in_use", "")).lower() == "yes"
                        f.add("TMM took the interface", "pass" if in_use else "warn",
                              f"driver {hit.iloc[0].get('driver_selected', '?')}, in use: {hit.iloc[0].get('driver_in_use', '?')}",
                              "" if in_use else "look at the f5-tmm container log for the device probe", f"{p.pod} {ifname}")
                if link is None or link.frame is None:
                    why = link.error if link is not None else "not run"
                    f.add("interface up", "skip", f"ip -br link unavailable: {why}", "", f"{p.pod} {ifname}")
                else:
                    hit = link.frame[link.frame["interface"] == ifname]
                    if hit.empty:
                        f.add("interface up", "fail", f"{ifname} is not in `ip -br link` of the debug container",
                              "the attachment was removed; restart the TMM pod", f"{p.pod} {ifname}")
                    else:
                        r = hit.iloc[0]
                        f.add("interface up", "pass" if r["up"] else "fail", f"{ifname} {r['state']} <{','.join(r['flags'])}>",
                              "" if r["up"] else f"check the master NIC on node {p.node} (link, promiscuous mode)",
                              f"{p.pod} {ifname}")
    if routes is not None:
        f.extend(routes.checks)
    caps = caps or []
    if not caps:
        f.add("packets seen", "skip", "no capture: set debug.live_capture: true or list files in debug.analyse")
    for c in caps:
        subject = f"{c.name} ({c.interface})"
        if c.skipped:
            f.add("packets seen", "skip", c.skipped, "run on a live cluster or list saved captures in debug.analyse", subject)
            continue
        if not c.ok:
            f.add("packets seen", "fail", c.error or "no packets could be read", "see the capture's stderr in the record", subject)
            continue
        f.add("packets seen", "pass" if c.packets else "warn", f"{c.packets} packets, {c.size} bytes from {c.source}",
              "" if c.packets else "no traffic crossed the interface: check the filter, the interface and the traffic source",
              subject)
        t = c.tcp_counts()
        if not t.get("tcp_packets"):
            continue
        rr, rt = t["reset_ratio"], lab.debug.reset_threshold
        f.add("TCP resets", "warn" if rr > rt else "pass",
              f"{t['reset_conversations']} of {t['tcp_conversations']} TCP conversations reset ({rr:.1%}; threshold {rt:.1%})",
              "look at the resets table: refused ports or aborted connections" if rr > rt else "", subject)
        xr, xt = t["retransmission_ratio"], lab.debug.retransmission_threshold
        f.add("TCP retransmissions", "warn" if xr > xt else "pass",
              f"{t['retransmissions']} retransmitted of {t['tcp_data_segments']} data segments ({xr:.1%}; threshold {xt:.1%})",
              "packet loss on this path: check the macvlan master NIC, promiscuous mode and MTU" if xr > xt else "", subject)
    if att is not None and caps:
        f.extend(promiscuous_rows(lab, att, caps))
    return f


def promiscuous_rows(lab: Lab, att: Attachments, caps: list[CaptureResult]) -> list[CheckResult]:
    """Promiscuous mode verified, not assumed: frames addressed to each macvlan interface's own MAC,
    seen in a capture of that interface, came through the master and the switch beyond it."""
    rows = []
    for p in att.pods:
        for role, network, _tmm_if in p.expected:
            a = p.attachment_for(network)
            if a is None or not a.get("mac"):
                continue
            mac, ifname = str(a["mac"]).lower(), a["interface"]
            master = getattr(lab.networks, role).master
            for c in caps:
                if c.interface != ifname or not c.ok or not (c.data or c.analysis is not None):
                    continue
                try:
                    to_mac, from_mac = c.mac_counts()
                except SpkRunbookError:
                    continue
                subject = f"{p.pod} {ifname} ({mac})"
                if to_mac[mac]:
                    rows.append(CheckResult("promiscuous works", "pass",
                                            f"{to_mac[mac]} frame(s) to {mac} arrived on {ifname} through {master} "
                                            f"({from_mac[mac]} sent from it): the network delivers the macvlan MAC",
                                            subject=subject))
                elif from_mac[mac]:
                    rows.append(CheckResult("promiscuous works", "fail",
                                            f"{from_mac[mac]} frame(s) sent from {mac} on {ifname}, none came back to it "
                                            f"in {c.name}: frames to a MAC the {master} port did not learn are dropped",
                                            f"allow promiscuous mode and forged transmits on {master}'s port group "
                                            "(or MAC learning), or use a NIC the hypervisor does not filter", subject))
                else:
                    rows.append(CheckResult("promiscuous works", "skip",
                                            f"no frame to or from {mac} in {c.name}", "capture while TMM has traffic",
                                            subject))
    return rows


@dataclass
class DebugResult:
    """The debugging step: what TMM has attached, the OVN routes, the captures, and the verdict."""

    attachments: Attachments
    routes: OvnRoutes
    captures: list[CaptureResult]
    verdict: Findings

    @property
    def findings(self) -> Findings:
        return self.verdict

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def overview(self) -> display.Table:
        return display.Table(overview(self.captures), title="captures", status_column=None, empty="no capture")

    def tcp(self) -> display.Table:
        return display.Table(tcp_table(self.captures), title="TCP health per capture", status_column=None,
                             empty="no TCP traffic in the captures")

    def to_frame(self) -> pd.DataFrame:
        return self.verdict.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"attachments": self.attachments.to_dict(), "routes": self.routes.to_dict(),
                "captures": [c.to_dict() for c in self.captures]}

    def files(self) -> dict[str, str | bytes]:
        out: dict[str, str | bytes] = {}
        out.update(self.attachments.files())
        out.update(self.routes.files())
        for c in self.captures:
            out.update(c.files())
        out.update(self.verdict.files())
        return out

    def _repr_html_(self) -> str:
        return self.verdict._repr_html_()


def run(lab: Lab, target: Target, *, progress: Progress | None = None) -> DebugResult:
    """Debug the macvlan path as the seed does: the TMM debug sidecar, OVN routing, then packet captures."""
    att = attachments(lab, target)
    routes = ovn_routes(lab, target)
    live = to_progress(progress, lab.debug.capture.seconds) if progress is not None else None
    caps = captures(lab, target, progress=live)
    return DebugResult(att, routes, caps, findings(lab, att, routes, caps))
