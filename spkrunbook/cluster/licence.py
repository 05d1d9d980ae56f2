"""The licence gate: the SPK controller applies infrastructure CRs (F5SPKVlan) only after the CWC verified the licence.

F5's licensing page says so (one source, so what follows from it is a warning).
When an F5SPKVlan exists but TMM shows no interface for it, the licence is looked
at first, and the finding says which it was: the licence (the CWC pod is absent,
not Ready or crash-looping; its log's last licence state is not "Verification
Complete"; the controller's last licence line says so), or, with the licence
verified, the attachment. How the state is read is [UNCONFIRMED] in the field: the
CWC pod is found by name (``f5-spk-cwc``) or label (``app=f5-spk-cwc``, ``app=cwc``),
and the states are the CWC REST status words F5 documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import SpkRunbookError
from ..params import Lab
from ..results import CheckResult
from .base import Obj, Target
from .facts import pod_ready, pod_state

__all__ = ["LicenceState", "cwc_namespace", "state", "vlan_rows"]

DEFAULT_CWC_NAMESPACE = "spk-telemetry"
CWC_NAME = "f5-spk-cwc"
CWC_LABELS = ("app=f5-spk-cwc", "app=cwc")
#: The CWC's licence states (F5's REST status words): verified, and not yet.
VERIFIED = ("verification complete", "telemetry in progress")
NOT_VERIFIED = ("config report ready to download", "not verified", "verification failed", "licence expired",
                "license expired", "invalid license", "license invalid")
ONE_SOURCE = "F5's licensing page is the one source for this gate"


@dataclass
class LicenceState:
    """What the cluster says of the licence: ``verified``, ``not verified`` or ``unknown``, and why."""

    verdict: Literal["verified", "not verified", "unknown"]
    evidence: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"licence {self.verdict} ({'; '.join(self.evidence) or 'nothing could be read'})"


def cwc_namespace(lab: Lab) -> str:
    """Where the CWC runs: ``install.cwc_namespace``, else the values' ``controller.f5_lic_helper.cwcNamespace``."""
    if lab.install.cwc_namespace:
        return lab.install.cwc_namespace
    path = lab.install.values_file
    if path is not None:
        try:
            data: Any = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
            ns = (((data or {}).get("controller") or {}).get("f5_lic_helper") or {}).get("cwcNamespace")
            if ns:
                return str(ns)
        except (OSError, YAMLError, AttributeError):
            pass
    return DEFAULT_CWC_NAMESPACE


def _last_state(log: str, words: tuple[str, ...] = VERIFIED + NOT_VERIFIED) -> tuple[str, str] | None:
    """The last log line naming a licence state: (state, line)."""
    for line in reversed(log.splitlines()):
        low = line.lower()
        hit = next((w for w in words if w in low), None)
        if hit:
            return hit, line.strip()[:240]
    return None


def _cwc_pods(target: Target, ns: str) -> list[Obj]:
    pods = {p["metadata"]["name"]: p for sel in CWC_LABELS for p in target.list("pods", ns, label_selector=sel)}
    pods.update({p["metadata"]["name"]: p for p in target.list("pods", ns)
                 if p["metadata"]["name"].startswith(CWC_NAME)})
    return [pods[k] for k in sorted(pods)]


def state(lab: Lab, target: Target) -> LicenceState:
    """Read the licence state: the CWC pod's status and log, then the controller's last licence line."""
    ns = cwc_namespace(lab)
    try:
        cwc = _cwc_pods(target, ns)
    except SpkRunbookError as exc:
        return LicenceState("unknown", [f"the CWC pods in {ns} cannot be listed: {exc.message}"])
    if not cwc:
        return LicenceState("not verified", [f"no CWC pod ({CWC_NAME}) in namespace {ns}: nothing can verify the licence"])
    out = LicenceState("unknown")
    for p in cwc:
        name = p["metadata"]["name"]
        if not pod_ready(p):
            out.verdict = "not verified"
            out.evidence.append(f"CWC pod {pod_state(p)} is not Ready")
        for c in (p.get("spec") or {}).get("containers") or [{"name": CWC_NAME}]:
            try:
                log = target.logs(ns, name, str(c.get("name")), tail_lines=400)
            except SpkRunbookError as exc:
                out.evidence.append(f"the log of {name}/{c.get('name')} cannot be read: {exc.message}")
                continue
            last = _last_state(log or "")
            if last is not None:
                verified = last[0] in VERIFIED
                if out.verdict == "unknown":
                    out.verdict = "verified" if verified else "not verified"
                elif not verified:
                    out.verdict = "not verified"
                out.evidence.append(f"{name}/{c.get('name')} log: {last[1]!r}")
    _controller_line(lab, target, out)
    return out


def _controller_line(lab: Lab, target: Target, out: LicenceState) -> None:
    """The controller's (or its f5-lic-helper's) last log line about the licence, as evidence."""
    try:
        pods = [p for p in target.list("pods", lab.tmm.namespace)
                if p["metadata"]["name"].startswith(f"{lab.install.release}-")]
    except SpkRunbookError:
        return
    for p in pods:
        for c in (p.get("spec") or {}).get("containers") or []:
            try:
                log = target.logs(lab.tmm.namespace, p["metadata"]["name"], str(c.get("name")), tail_lines=400)
            except SpkRunbookError:
                continue
            last = _last_state(log or "", VERIFIED + NOT_VERIFIED + ("licens",))
            if last is not None:
                out.evidence.append(f"controller {p['metadata']['name']}/{c.get('name')}: {last[1]!r}")
                if last[0] in NOT_VERIFIED:
                    out.verdict = "not verified"
                elif last[0] in VERIFIED and out.verdict == "unknown":
                    out.verdict = "verified"


def _held(addr: pd.DataFrame, name: str, selfips: list[str]) -> str | None:
    """The interface of the pod named after the VLAN, or holding one of its self IPs."""
    for _, r in addr.iterrows():
        ips = {a.split("/")[0] for a in r["addresses"]}
        if r["interface"] == name or ips & set(selfips):
            return str(r["interface"])
    return None


def vlan_rows(lab: Lab, pod: str, addr: pd.DataFrame | None, crs: list[Obj],
              licence: Callable[[], LicenceState], *, why_unread: str = "") -> list[CheckResult]:
    """Per F5SPKVlan on the cluster: does TMM (pod ``pod``, ``ip -br addr`` in its debug container) show it?
    When not, the licence is looked at before the NAD, and the row says which it was."""
    rows: list[CheckResult] = []
    for cr in crs:
        spec = cr.get("spec") or {}
        name = str(spec.get("name") or cr["metadata"]["name"])
        selfips = [str(a) for a in (spec.get("selfip_v4s") or []) + (spec.get("selfip_v6s") or [])]
        subject = f"{pod} {name}"
        if addr is None:
            rows.append(CheckResult("VLAN in TMM", "skip", f"`ip -br addr` of the debug container unavailable: "
                                    f"{why_unread or 'not read'}", "", subject))
            continue
        iface = _held(addr, name, selfips)
        if iface is not None:
            rows.append(CheckResult("VLAN in TMM", "pass", f"F5SPKVlan {name} is {iface} in TMM", "", subject))
            continue
        lic = licence()
        missing = f"F5SPKVlan {name} exists but TMM shows no interface for it (none named {name}, none holding " \
                  f"{', '.join(selfips) or 'its self IPs'})"
        if lic.verdict != "verified":
            rows.append(CheckResult("VLAN in TMM", "warn", f"{missing}: the licence gate ({lic}; {ONE_SOURCE})",
                                    f"finish licensing before looking at the NAD: oc get pods -n {cwc_namespace(lab)}; "
                                    "check the CWC status (F5's SPK licensing steps) and the controller's f5-lic-helper "
                                    "log, then the controller applies the VLANs by itself", subject))
        else:
            rows.append(CheckResult("VLAN in TMM", "warn", f"{missing}; the licence is not the cause ({lic}): the "
                                    "attachment is", "check the NAD and the pod's network-status (rows above), "
                                    "TMM_MAPRES_ADDL_VETHS_ON_DP and the f5-tmm log", subject))
    return rows
