"""Why the debugging step passed or failed: its verdict, read from what the other modules found.

``findings(lab, attachments, routes, captures)`` is the findings table of step 4, in
the order a person debugs: what Multus attached and TMM took (``sidecar``), the OVN
routes (``cluster.ovn``), then each capture: packets seen, TCP resets and
retransmissions against the params' thresholds, and promiscuous mode proven by the
frames addressed to each macvlan MAC (``captures``). Each piece below answers one
question and returns its rows; nothing here runs a command.
"""

from __future__ import annotations

from ...cluster import licence
from ...cluster.base import Obj, Target, can_write
from ...cluster.licence import LicenceState
from ...cluster.ovn import OvnRoutes
from ...errors import ResourceMissing, SpkRunbookError
from ...params import Lab
from ...results import CheckResult, Findings
from . import selfips
from .captures import CaptureResult
from .sidecar import Attachments, PodAttachments, expected_networks

__all__ = ["attachment_rows", "capture_rows", "findings", "held_rows", "nad_rows", "promiscuous_rows", "vlan_crs"]


def findings(lab: Lab, att: Attachments | None, routes: OvnRoutes | None,
             caps: list[CaptureResult] | None, target: Target | None = None) -> Findings:
    """The step's verdict: attachments present, interfaces up, the VLANs and self IPs TMM holds (with a
    ``target``: its F5SPKVlans and, where a VLAN is missing, the licence), routes, packets, resets/retransmissions."""
    f = Findings("debugging")
    if att is not None:
        f.extend(attachment_rows(lab, att))
        if target is not None:
            f.extend(nad_rows(lab, att, target))
            f.extend(held_rows(lab, att, target))
    if routes is not None:
        f.extend(routes.checks)
    f.extend(capture_rows(lab, caps or []))
    if att is not None and caps:
        f.extend(promiscuous_rows(lab, att, caps))
    return f


# -- what Multus attached and TMM took ------------------------------------------------------------------------
def attachment_rows(lab: Lab, att: Attachments) -> list[CheckResult]:
    """Per TMM pod and NAD: the attachment, TMM's probe of it, and its kernel link (or why no pod was read)."""
    rows: list[CheckResult] = []
    if att.error:
        rows.append(CheckResult("TMM pod", "fail", att.error,
                                f"check `oc get pods -n {lab.tmm.namespace} -l {lab.tmm.pod_selector}`"))
    for p in att.pods:
        if "error" in p.network_status.attrs:
            rows.append(CheckResult("network-status", "fail", p.network_status.attrs["error"], "check Multus on the node",
                                    p.pod))
        for t in p.tables.values():  # a command that could not run (F5's own tools missing are skips, not this)
            if t.error and not t.skipped:
                shown = " ".join(t.argv)
                rows.append(CheckResult("exec in debug", "fail", f"`{shown}`: {t.error}",
                                        t.hint or f"run it by hand: oc exec -n {p.namespace} {p.pod} -c debug -- {shown}",
                                        p.pod))
        for role, network, tmm_if in p.expected:
            rows.extend(_network_rows(p, role, network, tmm_if))
    return rows


def _network_rows(p: PodAttachments, role: str, network: str, tmm_if: str) -> list[CheckResult]:
    subject = f"{p.pod} {network}"
    a = p.attachment_for(network)
    if a is None:
        have = ", ".join(n for n in p.network_status["network"]) or "none"
        return [CheckResult("attachment present", "fail",
                            f"the pod has no interface for {network} ({role}, TMM {tmm_if}); its network-status lists: {have}",
                            f"check tmm.cniNetworks includes {network} and the NAD exists in {network.split('/')[0]}; "
                            "then restart the TMM pod", subject)]
    present = CheckResult("attachment present", "pass",
                          f"{a['interface']} ({a['mac'] or 'no MAC'}) for {network} ({role}, TMM {tmm_if})", "", subject)
    return [present, _probed_row(p, a["interface"]), _link_row(p, a["interface"])]


def _probed_row(p: PodAttachments, ifname: str) -> CheckResult:
    """Did TMM take the interface onto its dataplane (``tmctl … device_probed``)?"""
    subject = f"{p.pod} {ifname}"
    probed = p.tables.get("device_probed")
    if probed is None or probed.frame is None or "id" not in probed.frame:
        why = probed.error if probed is not None else "not run"
        return CheckResult("TMM took the interface", "skip", f"device_probed unavailable: {why}", "", subject)
    hit = probed.frame[probed.frame["id"] == ifname]
    if hit.empty:
        return CheckResult("TMM took the interface", "fail", f"{ifname} is not in tmm/xnet/device_probed",
                           "check TMM_MAPRES_ADDL_VETHS_ON_DP=TRUE in tmm.customEnvVars and the f5-tmm logs", subject)
    r = hit.iloc[0]
    in_use = str(r.get("driver_in_use", "")).lower() == "yes"
    return CheckResult("TMM took the interface", "pass" if in_use else "warn",
                       f"driver {r.get('driver_selected', '?')}, in use: {r.get('driver_in_use', '?')}",
                       "" if in_use else "look at the f5-tmm container log for the device probe", subject)


def _link_row(p: PodAttachments, ifname: str) -> CheckResult:
    """Is the interface up in the pod's kernel (``ip -br link``)?"""
    subject = f"{p.pod} {ifname}"
    link = p.tables.get("link")
    if link is None or link.frame is None:
        why = link.error if link is not None else "not run"
        return CheckResult("interface up", "skip", f"ip -br link unavailable: {why}", "", subject)
    hit = link.frame[link.frame["interface"] == ifname]
    if hit.empty:
        return CheckResult("interface up", "fail", f"{ifname} is not in `ip -br link` of the debug container",
                           "the attachment was removed; restart the TMM pod", subject)
    r = hit.iloc[0]
    return CheckResult("interface up", "pass" if r["up"] else "fail", f"{ifname} {r['state']} <{','.join(r['flags'])}>",
                       "" if r["up"] else f"check the master NIC on node {p.node} (link, promiscuous mode)", subject)


def nad_rows(lab: Lab, att: Attachments, target: Target) -> list[CheckResult]:
    """A NAD deleted while its pod runs: the pod keeps the interface, its next start will fail. Asked of a live
    target only (a snapshot may simply not have collected the NADs)."""
    if not can_write(target) or not att.pods:
        return []
    gone = set()
    for _role, network, _tmm_if in expected_networks(lab):
        ns, name = network.split("/", 1)
        try:
            target.get("network-attachment-definitions", name, ns)
        except ResourceMissing:
            gone.add(network)
        except SpkRunbookError:
            continue
    rows = []
    for p in att.pods:
        for _role, network, _tmm_if in p.expected:
            a = p.attachment_for(network)
            if network in gone and a is not None:
                rows.append(CheckResult(
                    "NAD exists", "fail",
                    f"NetworkAttachmentDefinition {network} was deleted after the pod started: the pod keeps "
                    f"{a['interface']} until it restarts, and a new pod will not start (the CNI cannot find the NAD)",
                    f"create it again before the pod restarts: run step 02 (network attachments), or "
                    f"oc apply -n {network.split('/')[0]} -f <the NAD>", f"{p.pod} {network}"))
    return rows


# -- the VLANs and self IPs TMM holds -----------------------------------------------------------------------
def vlan_crs(lab: Lab, target: Target) -> dict[str, Obj | None]:
    """The internal and external F5SPKVlan as the cluster holds them (None: not there or not readable)."""
    out: dict[str, Obj | None] = {}
    for role in ("internal", "external"):
        try:
            out[role] = target.get("f5-spk-vlans", getattr(lab.vlans, role).name, lab.tmm.namespace)
        except SpkRunbookError:
            out[role] = None
    return out


def held_rows(lab: Lab, att: Attachments, target: Target) -> list[CheckResult]:
    """Each F5SPKVlan shown by each TMM pod (the licence looked at first where one is not), and the self IPs
    as the pods really hold them."""
    crs = vlan_crs(lab, target)
    present = [cr for cr in crs.values() if cr is not None]
    gate: list[LicenceState] = []

    def lic() -> LicenceState:  # read once, and only when a VLAN is missing
        if not gate:
            gate.append(licence.state(lab, target))
        return gate[0]

    rows: list[CheckResult] = []
    for p in att.pods:
        t = p.tables.get("addr")
        rows.extend(licence.vlan_rows(lab, p.pod, t.frame if t is not None else None, present, lic,
                                      why_unread=t.error if t is not None else ""))
    return rows + selfips.rows(lab, att, crs)


# -- the captures ---------------------------------------------------------------------------------------------
def capture_rows(lab: Lab, caps: list[CaptureResult]) -> list[CheckResult]:
    """Per capture: packets seen, then TCP resets and retransmissions against the params' thresholds."""
    if not caps:
        return [CheckResult("packets seen", "skip", "no capture: set debug.live_capture: true or list files in debug.analyse")]
    rows: list[CheckResult] = []
    for c in caps:
        subject = c.label
        if c.skipped:
            rows.append(CheckResult("packets seen", "skip", c.skipped,
                                    "run on a live cluster or list saved captures in debug.analyse", subject))
            continue
        if not c.ok:
            rows.append(CheckResult("packets seen", "fail", c.error or "no packets could be read",
                                    "see the capture's stderr in the record", subject))
            continue
        rows.append(CheckResult("packets seen", "pass" if c.packets else "warn",
                                f"{c.packets} packets, {c.size} bytes from {c.source}",
                                "" if c.packets else "no traffic crossed the interface: check the filter, the interface "
                                                     "and the traffic source", subject))
        rows.extend(_tcp_rows(lab, c, subject))
    return rows


def _tcp_rows(lab: Lab, c: CaptureResult, subject: str) -> list[CheckResult]:
    t = c.tcp_counts()
    if not t.get("tcp_packets"):
        return []
    rr, rt = t["reset_ratio"], lab.debug.reset_threshold
    xr, xt = t["retransmission_ratio"], lab.debug.retransmission_threshold
    return [
        CheckResult("TCP resets", "warn" if rr > rt else "pass",
                    f"{t['reset_conversations']} of {t['tcp_conversations']} TCP conversations reset ({rr:.1%}; "
                    f"threshold {rt:.1%})",
                    "look at the resets table: refused ports or aborted connections" if rr > rt else "", subject),
        CheckResult("TCP retransmissions", "warn" if xr > xt else "pass",
                    f"{t['retransmissions']} retransmitted of {t['tcp_data_segments']} data segments ({xr:.1%}; "
                    f"threshold {xt:.1%})",
                    "packet loss on this path: check the macvlan master NIC, promiscuous mode and MTU" if xr > xt else "",
                    subject),
    ]


def promiscuous_rows(lab: Lab, att: Attachments, caps: list[CaptureResult]) -> list[CheckResult]:
    """Promiscuous mode verified, not assumed: frames addressed to each macvlan interface's own MAC,
    seen in a capture of that interface, came through the master and the switch beyond it."""
    rows = []
    for p in att.pods:
        for role, network, _tmm_if in p.expected:
            a = p.attachment_for(network)
            if a is None or not a.get("mac"):
                continue
            master = getattr(lab.networks, role).master
            for c in caps:
                if c.interface == a["interface"] and c.ok and (c.data or c.analysis is not None):
                    row = _promiscuous_row(p.pod, str(a["mac"]).lower(), a["interface"], master, c)
                    if row is not None:
                        rows.append(row)
    return rows


def _promiscuous_row(pod: str, mac: str, ifname: str, master: str, c: CaptureResult) -> CheckResult | None:
    try:
        to_mac, from_mac = c.mac_counts()  # the file's bytes, or the streaming pass's counts
    except SpkRunbookError:
        return None
    subject = f"{pod} {ifname} ({mac})"
    if to_mac[mac]:
        return CheckResult("promiscuous works", "pass",
                           f"{to_mac[mac]} frame(s) to {mac} arrived on {ifname} through {master} "
                           f"({from_mac[mac]} sent from it): the network delivers the macvlan MAC", subject=subject)
    if from_mac[mac]:
        return CheckResult("promiscuous works", "fail",
                           f"{from_mac[mac]} frame(s) sent from {mac} on {ifname}, none came back to it in {c.name}: "
                           f"frames to a MAC the {master} port did not learn are dropped",
                           f"allow promiscuous mode and forged transmits on {master}'s port group (or MAC learning), "
                           "or use a NIC the hypervisor does not filter", subject)
    return CheckResult("promiscuous works", "skip", f"no frame to or from {mac} in {c.name}",
                       "capture while TMM has traffic", subject)
