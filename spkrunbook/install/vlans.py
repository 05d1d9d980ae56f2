"""F5SPKVlan custom resources (``k8s.f5net.com/v1``) for the internal and external VLANs.

``interfaces`` come from the ``tmm.cniNetworks`` order: the first NAD is TMM
interface ``1.1``, the second ``1.2``. ``selfip_v4s`` (and ``selfip_v6s``) hold one
address per TMM replica, assigned in list order. The internal VLAN carries
``internal: true`` and its self IPs must sit in the node subnet (F5), which the
target knows from the node annotation ``k8s.ovn.org/node-primary-ifaddr``.

``validate`` checks addresses before anything is written; ``apply`` writes on a
live target with the shared rules of ``spkrunbook.apply`` and plans on a snapshot.
"""

from __future__ import annotations

import html
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import apply as applier
from ..cluster.base import F5_VLAN_CRD, Obj, Target
from ..errors import Forbidden, ResourceMissing
from ..params import Lab, VlanParams
from ..results import Findings

RESOURCE = "f5-spk-vlans"
API_VERSION = "k8s.f5net.com/v1"
KIND = "F5SPKVlan"
NODE_IFADDR = "k8s.ovn.org/node-primary-ifaddr"
L3_GATEWAY = "k8s.ovn.org/l3-gateway-config"
FORCE_HINT = "set nad.force: true to overwrite it (the same switch as the NAD step), or rename the VLAN in the params"


def interface_ids(lab: Lab, cni_networks: str | None = None) -> dict[str, str]:
    """Role -> TMM interface id (``1.1`` is the first NAD in ``cniNetworks``)."""
    names = [n.strip() for n in (cni_networks or lab.cni_networks).split(",") if n.strip()]
    out: dict[str, str] = {}
    for role, net in lab.networks.ordered():
        ref = f"{net.namespace}/{net.name}"
        pos = next((i for i, n in enumerate(names) if n in (ref, net.name)), None)
        if pos is None:
            pos = [r for r, _ in lab.networks.ordered()].index(role)
        out[role] = f"1.{pos + 1}"
    return out


def manifest(lab: Lab, role: str, vlan: VlanParams, interface: str) -> Obj:
    spec: dict[str, Any] = {"name": vlan.name, "interfaces": [interface]}
    if role == "internal":
        spec["internal"] = True
    if vlan.selfip_v4s:
        spec["selfip_v4s"] = list(vlan.selfip_v4s)
        spec["prefixlen_v4"] = vlan.prefixlen_v4
    if vlan.selfip_v6s:
        spec["selfip_v6s"] = list(vlan.selfip_v6s)
        spec["prefixlen_v6"] = vlan.prefixlen_v6
    if vlan.tag is not None:
        spec["tag"] = vlan.tag
    mtu = vlan.mtu if vlan.mtu is not None else getattr(lab.networks, role).mtu
    if mtu is not None:
        spec["mtu"] = mtu
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": vlan.name, "namespace": lab.tmm.namespace, "labels": {applier.MANAGED_BY: applier.MANAGER}},
        "spec": spec,
    }


def build(lab: Lab, cni_networks: str | None = None) -> list[tuple[str, Obj]]:
    """(role, F5SPKVlan) for internal and external, in interface order."""
    ids = interface_ids(lab, cni_networks)
    out = [(role, manifest(lab, role, getattr(lab.vlans, role), ids[role])) for role in ("internal", "external")]
    return sorted(out, key=lambda ro: ro[1]["spec"]["interfaces"][0])


# -- validation -------------------------------------------------------------------------------


def node_subnets(lab: Lab, target: Target | None) -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], str]:
    """Node subnets from OVN annotations of the TMM nodes (all nodes when none match)."""
    if target is None:
        return [], "no target"
    try:
        nodes = target.list("nodes", label_selector=lab.tmm.selector_string() or None)
        if not nodes:
            nodes = target.list("nodes")
    except (ResourceMissing, Forbidden) as exc:
        return [], f"nodes not readable: {exc.message}"
    nets: list[Any] = []
    for n in nodes:
        ann = (n.get("metadata") or {}).get("annotations") or {}
        raw = ann.get(NODE_IFADDR)
        addrs: list[str] = []
        if raw:
            try:
                data = json.loads(raw)
                addrs += [data[k] for k in ("ipv4", "ipv6") if data.get(k)]
            except (ValueError, TypeError, AttributeError):
                pass
        elif ann.get(L3_GATEWAY):
            try:
                gw = json.loads(ann[L3_GATEWAY]).get("default") or {}
                addrs += list(gw.get("ip-addresses") or ([gw["ip-address"]] if gw.get("ip-address") else []))
            except (ValueError, TypeError, AttributeError):
                pass
        for a in addrs:
            try:
                net = ipaddress.ip_interface(a).network
            except ValueError:
                continue
            # /128 or /32 host routes (IPv6 often) say nothing about the subnet.
            if net.num_addresses > 1 and net not in nets:
                nets.append(net)
    where = f"{len(nodes)} node(s) matching {lab.tmm.selector_string() or 'any'}"
    return nets, where


def _check_family(f: Findings, role: str, vlan: VlanParams, replicas: int, family: int) -> list[Any]:
    addrs = vlan.selfip_v4s if family == 4 else vlan.selfip_v6s
    plen = vlan.prefixlen_v4 if family == 4 else vlan.prefixlen_v6
    label = f"selfip_v{family}s"
    subject = f"vlans.{role}.{label}"
    if not addrs:
        return []
    if len(addrs) < replicas:
        f.add("one self IP per replica", "fail", f"{len(addrs)} address(es) for {replicas} TMM replica(s)",
              f"add {replicas - len(addrs)} more address(es) to {subject} (one per replica, in order)", subject)
    elif len(addrs) > replicas:
        f.add("one self IP per replica", "warn", f"{len(addrs)} addresses for {replicas} replica(s); the extra ones are unused",
              "remove the spares or raise tmm.replicas", subject)
    else:
        f.add("one self IP per replica", "pass", f"{len(addrs)} for {replicas} replica(s)", subject=subject)
    out = []
    bad = []
    for a in addrs:
        iface = ipaddress.ip_interface(f"{a}/{plen}")
        out.append(iface)
        net = iface.network
        if family == 4 and net.prefixlen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
            kind = "network" if iface.ip == net.network_address else "broadcast"
            bad.append(f"{a} is the {kind} address of {net}")
        elif family == 6 and net.prefixlen < 127 and iface.ip == net.network_address:
            bad.append(f"{a} is the subnet-router anycast address of {net}")
    first = out[0].network if out else None
    for i in out[1:]:
        if i.network != first:
            bad.append(f"{i.ip} is outside {first} (the /{plen} of the first address; every replica's self IP is on one subnet)")
    if bad:
        f.add("usable address in prefix", "fail", "; ".join(bad), f"pick host addresses inside the /{plen}", subject)
    else:
        f.add("usable address in prefix", "pass", f"all inside {first}", subject=subject)
    return out


def validate(lab: Lab, target: Target | None = None) -> Findings:
    """Address checks: count covers replicas, unique, usable inside the prefix, internal in the node subnet."""
    f = Findings("F5SPKVlan checks")
    replicas = lab.tmm.replicas
    seen: dict[Any, str] = {}
    internal_ifaces: list[Any] = []
    for role in ("internal", "external"):
        vlan: VlanParams = getattr(lab.vlans, role)
        if not vlan.selfip_v4s and not vlan.selfip_v6s:
            f.add("self IPs given", "fail", "no selfip_v4s or selfip_v6s", f"give one address per TMM replica in vlans.{role}.selfip_v4s", f"vlans.{role}")
            continue
        for fam in (4, 6):
            ifaces = _check_family(f, role, vlan, replicas, fam)
            if role == "internal":
                internal_ifaces += ifaces
            for i in ifaces:
                if i.ip in seen:
                    f.add("unique self IPs", "fail", f"{i.ip} is used in vlans.{seen[i.ip]} and vlans.{role}",
                          "each self IP must be different", f"vlans.{role}")
                seen.setdefault(i.ip, role)
    if not any(r.check == "unique self IPs" for r in f.rows) and seen:
        f.add("unique self IPs", "pass", f"{len(seen)} different address(es)", subject="vlans")
    # The two VLANs on one subnet would give TMM two interfaces for one network.
    nets = {role: {ipaddress.ip_interface(f"{a}/{getattr(lab.vlans, role).prefixlen_v4}").network for a in getattr(lab.vlans, role).selfip_v4s}
            for role in ("internal", "external")}
    overlap = [f"{a} / {b}" for a in nets["internal"] for b in nets["external"] if a.overlaps(b)]
    if overlap:
        f.add("separate subnets", "warn", f"internal and external overlap: {', '.join(overlap)}", "use a different subnet per VLAN", "vlans")
    subnets, where = node_subnets(lab, target)
    v4_internal = [i for i in internal_ifaces if i.version == 4]
    if not v4_internal:
        pass
    elif not subnets:
        f.add("internal self IPs in node subnet", "skip", f"the target does not say the node subnet ({where}; no {NODE_IFADDR})",
              "check by hand: oc get nodes -o yaml | grep node-primary-ifaddr", "vlans.internal")
    else:
        outside = [str(i.ip) for i in v4_internal if not any(i.ip in n for n in subnets if n.version == 4)]
        shown = ", ".join(str(n) for n in subnets)
        if outside:
            f.add("internal self IPs in node subnet", "fail", f"{', '.join(outside)} not in the node subnet {shown}",
                  "F5: internal self IPs must be in the same subnet as the OpenShift nodes; pick addresses there", "vlans.internal")
        else:
            f.add("internal self IPs in node subnet", "pass", f"inside {shown} ({where})", subject="vlans.internal")
    return f


# -- plan / apply -----------------------------------------------------------------------------


def crd_installed(target: Target) -> bool | None:
    """Whether the F5SPKVlan CRD is installed (None when the target cannot say)."""
    return applier.crd_installed(target, F5_VLAN_CRD, RESOURCE)


@dataclass
class VlanPlan:
    """The CRs, their checks and what applying them did (or would do)."""

    objects: list[tuple[str, Obj]]
    checks: Findings
    result: applier.ApplyResult

    @property
    def yaml(self) -> str:
        return applier.to_yaml(o for _, o in self.objects)

    @property
    def findings(self) -> Findings:
        f = Findings("F5SPKVlan CRs")
        f.extend(self.checks.rows)
        f.extend(self.result.findings.rows)
        return f

    @property
    def ok(self) -> bool:
        return self.findings.ok

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def _repr_html_(self) -> str:
        return (
            f"<pre>{html.escape(self.yaml)}</pre>"
            + self.checks._repr_html_()
            + self.result._repr_html_()
        )


def apply(lab: Lab, target: Target, *, cni_networks: str | None = None, force: bool | None = None) -> VlanPlan:
    """Validate, then create/update/leave each F5SPKVlan (plan on a read-only target).

    Nothing is written when a check failed. ``force`` defaults to ``lab.nad.force``.
    """
    force = lab.nad.force if force is None else force
    objs = build(lab, cni_networks)
    checks = validate(lab, target)
    planned = not target.can_write
    if not checks.ok:
        return VlanPlan(objs, checks, applier.skipped(RESOURCE, objs, "the self IP checks failed", planned=planned))
    installed = crd_installed(target)
    if installed is False:
        res = applier.skipped(RESOURCE, objs, f"CRD {F5_VLAN_CRD} is not installed", planned=planned)
        checks.add("F5SPKVlan CRD installed", "fail", f"{F5_VLAN_CRD} not found",
                   "apply the SPK CRD bundles first: tar xvf f5-spk-crds-common-<v>.tgz && oc apply -f f5-spk-crds-common/crds", F5_VLAN_CRD)
        return VlanPlan(objs, checks, res)
    if installed is None and planned:
        checks.add("F5SPKVlan CRD installed", "skip", "the snapshot does not show the CRDs", "check: oc get crd " + F5_VLAN_CRD, F5_VLAN_CRD)
    elif installed:
        checks.add("F5SPKVlan CRD installed", "pass", F5_VLAN_CRD, subject=F5_VLAN_CRD)
    result = applier.apply(target, RESOURCE, objs, force=force, force_hint=FORCE_HINT)
    return VlanPlan(objs, checks, result)
