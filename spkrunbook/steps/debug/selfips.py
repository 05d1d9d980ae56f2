"""Self IPs as the TMM pods really hold them, never by list position.

F5 says that with more self IPs than TMM replicas the assignment is not guaranteed
and may be non-sequential, so ``selfip_v4s[i]`` need not belong to pod ``i``. Each
pod's addresses are read from ``ip -br addr`` in its debug container (the VLANs
appear as interfaces holding their self IPs) and the real mapping is shown: a self
IP held by two pods is an address conflict (a failure); one held by no pod is a
warning (a note when there are more self IPs than pods, which F5 allows).
"""

from __future__ import annotations

import pandas as pd

from ...cluster.base import Obj
from ...params import Lab
from ...results import CheckResult
from .sidecar import Attachments

__all__ = ["COLUMNS", "mapping", "rows"]

COLUMNS = ["vlan", "self IP", "list position", "held by", "interface"]


def _selfips(lab: Lab, crs: dict[str, Obj | None]) -> list[tuple[str, list[str]]]:
    """(VLAN name, self IPs) from the cluster's F5SPKVlan CRs, else the params."""
    out = []
    for role in ("internal", "external"):
        v = getattr(lab.vlans, role)
        spec = ((crs.get(role) or {}).get("spec")) or {}
        ips = [str(a) for a in (spec.get("selfip_v4s") or []) + (spec.get("selfip_v6s") or [])] if spec else \
            [*v.selfip_v4s, *v.selfip_v6s]
        out.append((str(spec.get("name") or v.name), ips))
    return out


def _holders(att: Attachments) -> dict[str, list[tuple[str, str]]] | None:
    """address -> [(pod, interface)] from every pod's ``ip -br addr``; None when no pod's could be read."""
    held: dict[str, list[tuple[str, str]]] = {}
    read = False
    for p in att.pods:
        t = p.tables.get("addr")
        if t is None or t.frame is None:
            continue
        read = True
        for _, r in t.frame.iterrows():
            for a in r["addresses"]:
                held.setdefault(a.split("/")[0], []).append((p.pod, str(r["interface"])))
    return held if read else None


def mapping(lab: Lab, att: Attachments, crs: dict[str, Obj | None]) -> pd.DataFrame:
    """One row per self IP: its VLAN, its place in the list, and the pods (and interfaces) that really hold it."""
    held = _holders(att) or {}
    data = [{"vlan": vlan, "self IP": ip, "list position": i + 1,
             "held by": ", ".join(pod for pod, _ in held.get(ip, [])) or "no pod",
             "interface": ", ".join(iface for _, iface in held.get(ip, []))}
            for vlan, ips in _selfips(lab, crs) for i, ip in enumerate(ips)]
    return pd.DataFrame(data, columns=COLUMNS)


def rows(lab: Lab, att: Attachments, crs: dict[str, Obj | None]) -> list[CheckResult]:
    """Per VLAN: the real mapping, and a finding for a self IP held by two pods or by none."""
    held = _holders(att)
    if held is None:
        return [CheckResult("self IPs held", "skip", "no pod's `ip -br addr` could be read", "", "self IPs")]
    pods = [p.pod for p in att.pods]
    out: list[CheckResult] = []
    for vlan, ips in _selfips(lab, crs):
        where = {ip: held.get(ip, []) for ip in ips}
        twice = {ip: h for ip, h in where.items() if len({pod for pod, _ in h}) > 1}
        nobody = [ip for ip, h in where.items() if not h]
        shown = "; ".join(f"{ip} (#{i + 1}) -> {', '.join(pod for pod, _ in where[ip]) or 'no pod'}"
                          for i, ip in enumerate(ips))
        for ip, h in twice.items():
            out.append(CheckResult("self IPs held", "fail", f"{ip} of VLAN {vlan} is held by "
                                   f"{', '.join(f'{pod} ({iface})' for pod, iface in h)}: an address conflict",
                                   "give each TMM replica its own self IP (one per replica in the F5SPKVlan) and restart "
                                   "the pods that hold it twice", f"{vlan} {ip}"))
        extra = len(ips) > len(pods)
        for ip in nobody:
            out.append(CheckResult("self IPs held", "note" if extra else "warn",
                                   f"{ip} of VLAN {vlan} is held by no TMM pod ({len(ips)} self IPs, {len(pods)} pod(s)"
                                   f"{'; F5 assigns only as many as there are replicas, in no guaranteed order' if extra else ''})",
                                   "" if extra else "look at the VLAN in TMM (rows above) and the controller log",
                                   f"{vlan} {ip}"))
        positional = all(any(pod == pods[i] for pod, _ in where[ip]) for i, ip in enumerate(ips) if i < len(pods) and where[ip])
        if not twice and not (nobody and not extra):
            out.append(CheckResult("self IPs held", "pass",
                                   f"VLAN {vlan}: {shown}"
                                   + ("" if positional else " (not in list order: F5 does not guarantee the order)"),
                                   "", vlan))
    return out
