"""MTU in three places: the NAD, the F5SPKVlan and TMM's ``TMM_DEFAULT_MTU`` must agree, under the master's MTU.

The macvlan interface takes its MTU from the NAD's CNI config (``mtu``), else from
its master NIC, and the macvlan plugin refuses an MTU above the master's (a fact of
the plugin: that is a failure). F5's VLAN CR reference says a VLAN that sets
``mtu`` needs ``TMM_DEFAULT_MTU`` set to the same value in TMM's environment; that
page is F5's CNF product, and that SPK 1.x enforces the same coupling is
unconfirmed, so a disagreement is a warning that says so, naming the value to
change (the NAD's MTU is the one the wire bounds; the others follow it).

Checked twice: ``before`` the install from the params, the values helm will use and
NodeNetworkState; ``on_pod`` on each running TMM pod from what the cluster holds
(the NADs, the F5SPKVlan CRs, the pod's ``f5-tmm`` environment, its node's NICs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...cluster.base import Obj, Target
from ...cluster.facts import ClusterFacts
from ...errors import SpkRunbookError
from ...params import Lab
from ...results import CheckResult, Findings
from .values import MTU_ENV

CHECK = "MTU agreement"
ONE_SOURCE = ("F5 documents this coupling for its CNF VLAN CR; that SPK 1.x enforces it is unconfirmed "
              "(one source)")


def agree(role: str, *, master: str, master_mtu: int | None, nad: int | None, vlan: int | None, tmm: int | None,
          where: str, fix: Mapping[str, str]) -> list[CheckResult]:
    """The rule for one network: ``nad`` (None: the master's) = ``vlan`` = ``tmm``, each <= ``master_mtu``.

    ``fix`` names, per place (``nad``, ``vlan``, ``tmm``), the field a person changes.
    """
    subject = f"{role} ({where})"
    link = nad if nad is not None else master_mtu
    unset = "unset"
    nad_shown = str(nad) if nad is not None else f"unset (the master gives {master_mtu if master_mtu else '?'})"
    shown = (f"NAD {nad_shown}, F5SPKVlan {vlan if vlan is not None else unset}, "
             f"{MTU_ENV} {tmm if tmm is not None else unset}, master {master} "
             f"{master_mtu if master_mtu is not None else 'unknown'}")
    if nad is not None and master_mtu is not None and nad > master_mtu:
        return [CheckResult(CHECK, "fail", f"{shown}: the macvlan plugin refuses an MTU above the master's",
                            f"lower {fix['nad']} to {master_mtu} or less, or raise {master}'s MTU", subject)]
    rows: list[CheckResult] = []
    for place, value in (("vlan", vlan), ("tmm", tmm)):
        if value is not None and master_mtu is not None and value > master_mtu:
            rows.append(CheckResult(CHECK, "warn", f"{shown}: {fix[place].split(' ')[0]} {value} is above what "
                                    f"{master} carries; larger frames are dropped on the wire ({ONE_SOURCE})",
                                    f"set {fix[place]} to {link if link is not None else master_mtu}", subject))
    if rows:
        return rows
    if vlan is not None and tmm is None:
        return [CheckResult(CHECK, "warn", f"{shown}: the F5SPKVlan sets mtu {vlan} but {MTU_ENV} is not set "
                            f"({ONE_SOURCE})", f"set {fix['tmm']} to {vlan}", subject)]
    if link is not None:
        wrong = [(place, value) for place, value in (("vlan", vlan), ("tmm", tmm)) if value is not None and value != link]
        if wrong:
            change = "; ".join(f"set {fix[place]} to {link}" for place, _ in wrong)
            return [CheckResult(CHECK, "warn", f"{shown}: they differ, so TMM sizes frames for another MTU than its "
                                f"interface has ({ONE_SOURCE})",
                                f"{change} (the NAD's MTU is the one the wire bounds)", subject)]
    elif vlan is not None and tmm is not None and vlan != tmm:
        return [CheckResult(CHECK, "warn", f"{shown}: the F5SPKVlan and {MTU_ENV} differ ({ONE_SOURCE})",
                            f"set {fix['tmm']} to {vlan}", subject)]
    return [CheckResult(CHECK, "pass", f"{shown}: they agree", "", subject)]


def _master_mtu(facts: ClusterFacts, master: str, nodes: list[str]) -> int | None:
    """The smallest MTU ``master`` has on ``nodes`` as NodeNetworkState reports them (None: not reported)."""
    known = facts.node_interfaces().interfaces
    mtus = [int(i["mtu"]) for n in nodes for name, i in (known.get(n) or {}).items()
            if name == master and isinstance(i.get("mtu"), int)]
    return min(mtus) if mtus else None


def _env_mtu(env: Any) -> int | None:
    for e in env or []:
        if isinstance(e, Mapping) and e.get("name") == MTU_ENV:
            try:
                return int(str(e.get("value")).strip())
            except ValueError:
                return None
    return None


_FIX = {"nad": "networks.{role}.mtu", "vlan": "vlans.{role}.mtu", "tmm": "tmm.default_mtu"}


def _fix(role: str) -> dict[str, str]:
    return {k: v.format(role=role) for k, v in _FIX.items()}


def before(lab: Lab, target: Target | None, values: Mapping[str, Any]) -> Findings:
    """Before the install: the params' NAD and VLAN MTUs, ``TMM_DEFAULT_MTU`` in the values helm will use,
    and each master's MTU on the TMM nodes (NodeNetworkState)."""
    f = Findings("MTU agreement (before the install)")
    tmm = _env_mtu((values.get("tmm") or {}).get("customEnvVars"))
    facts = ClusterFacts.of(lab, target) if target is not None else None
    for role, net in lab.networks.ordered():
        vlan = getattr(lab.vlans, role).mtu if getattr(lab.vlans, role).mtu is not None else net.mtu
        try:
            master_mtu = _master_mtu(facts, net.master, facts.tmm_node_names) if facts is not None else None
        except SpkRunbookError:
            master_mtu = None
        f.extend(agree(role, master=net.master, master_mtu=master_mtu, nad=net.mtu, vlan=vlan, tmm=tmm,
                       where="params and values", fix=_fix(role)))
    return f


def on_pod(lab: Lab, target: Target, pod: Obj) -> list[CheckResult]:
    """On a running TMM pod: the cluster's NADs and F5SPKVlan CRs, the pod's ``f5-tmm`` env, its node's masters."""
    facts = ClusterFacts.of(lab, target)
    name = (pod.get("metadata") or {}).get("name", "?")
    node = (pod.get("spec") or {}).get("nodeName") or ""
    tmm_c: Obj = next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == "f5-tmm"), {})
    tmm = _env_mtu(tmm_c.get("env"))
    rows: list[CheckResult] = []
    for role, net in lab.networks.ordered():
        nad_mtu, master = net.mtu, net.master
        try:
            cfg = json.loads(((target.get("network-attachment-definitions", net.name, net.namespace).get("spec") or {})
                              .get("config")) or "{}")
            nad_mtu = cfg.get("mtu") if isinstance(cfg.get("mtu"), int) else None
            master = str(cfg.get("master") or master)
        except (SpkRunbookError, ValueError, TypeError):
            pass
        vlan_name = getattr(lab.vlans, role).name
        try:
            vlan = (target.get("f5-spk-vlans", vlan_name, lab.tmm.namespace).get("spec") or {}).get("mtu")
        except SpkRunbookError:
            vlan = getattr(lab.vlans, role).mtu
        try:
            master_mtu = _master_mtu(facts, master, [node]) if node else None
        except SpkRunbookError:
            master_mtu = None
        rows.extend(agree(role, master=master, master_mtu=master_mtu, nad=nad_mtu,
                          vlan=vlan if isinstance(vlan, int) else None, tmm=tmm,
                          where=f"pod {name} on {node or 'no node'}", fix=_fix(role)))
    return rows
