"""F5SPKVlan custom resources (``k8s.f5net.com/v1``) for the internal and external VLANs.

``interfaces`` come from the ``tmm.cniNetworks`` order: the first NAD is TMM
interface ``1.1``, the second ``1.2``. ``selfip_v4s`` (and ``selfip_v6s``) hold one
address per TMM replica, assigned in list order. The internal VLAN carries
``internal: true`` and its self IPs must sit in the node subnet (F5), which the
target knows from the node annotation ``k8s.ovn.org/node-primary-ifaddr``.

``validate`` checks addresses before anything is written; ``apply`` writes on a
live target with the shared rules of ``spkrunbook.cluster.reconcile`` and plans on a snapshot.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ... import display, references
from ...cluster import reconcile as applier
from ...cluster.base import F5_VLAN_CRD, Obj, Target, can_write
from ...cluster.facts import ClusterFacts
from ...errors import Forbidden, Problem, ResourceMissing
from ...params import Lab, VlanParams
from ...results import CheckResult, Findings

RESOURCE = "f5-spk-vlans"
API_VERSION = "k8s.f5net.com/v1"
KIND = "F5SPKVlan"
NODE_IFADDR = "k8s.ovn.org/node-primary-ifaddr"  # where the internal subnet comes from
DOC_VLAN = references.SPK_VLAN_CRD
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
    """Node subnets from OVN annotations of the TMM nodes (``cluster.facts``)."""
    if target is None:
        return [], "no target"
    try:
        return ClusterFacts.of(lab, target).node_subnets()
    except (ResourceMissing, Forbidden) as exc:
        return [], f"nodes not readable: {exc.message}"


def _subnet_rows(lab: Lab, target: Target | None) -> list[CheckResult]:
    """The one self-IP rule that needs the cluster: internal self IPs inside the node subnet (F5)."""
    v4 = [ipaddress.ip_address(a) for a in lab.vlans.internal.selfip_v4s]
    if not v4:
        return []
    subnets, where = node_subnets(lab, target)
    check, subject = "internal self IPs in node subnet", "vlans.internal"
    if not subnets:
        return [CheckResult(check, "skip", f"the target does not say the node subnet ({where}; no {NODE_IFADDR})",
                            "check by hand: oc get nodes -o yaml | grep node-primary-ifaddr", subject, DOC_VLAN)]
    outside = [str(ip) for ip in v4 if not any(ip in n for n in subnets if n.version == 4)]
    shown = ", ".join(str(n) for n in subnets)
    if outside:
        return [CheckResult(check, "fail", f"{', '.join(outside)} not in the node subnet {shown}",
                            "F5: internal self IPs must be in the same subnet as the OpenShift nodes; pick addresses there",
                            subject, DOC_VLAN)]
    return [CheckResult(check, "pass", f"inside {shown} ({where})", "", subject, DOC_VLAN)]


def validate(lab: Lab, target: Target | None = None) -> Findings:
    """The self IPs as the step's table: what ``params`` says of them, and the node-subnet rule."""
    f = Findings("F5SPKVlan checks")
    probs = [p for p in lab.problems() if p.path.startswith("vlans.")]
    for role in ("internal", "external"):
        vlan: VlanParams = getattr(lab.vlans, role)
        if not vlan.selfip_v4s and not vlan.selfip_v6s:
            f.add("self IPs given", "fail", "no selfip_v4s or selfip_v6s",
                  f"give one address per TMM replica in vlans.{role}.selfip_v4s", f"vlans.{role}", DOC_VLAN)
            continue
        for fam, addrs in ((4, vlan.selfip_v4s), (6, vlan.selfip_v6s)):
            if not addrs:
                continue
            subject = f"vlans.{role}.selfip_v{fam}s"
            here = [p for p in probs if p.path == subject or p.path.startswith(subject + "[")]
            errors = [p for p in here if p.severity == "error"]
            if errors:
                f.add("self IPs", "fail", "; ".join(p.message for p in errors), "fix the addresses in the params",
                      subject, DOC_VLAN)
            elif here:
                f.add("self IPs", "warn", "; ".join(p.message for p in here), "", subject, DOC_VLAN)
            else:
                f.add("self IPs", "pass", f"{', '.join(addrs)} for {lab.tmm.replicas} replica(s), unique, "
                                          f"usable in /{vlan.prefixlen_v4 if fam == 4 else vlan.prefixlen_v6}",
                      "", subject, DOC_VLAN)
    f.extend(_subnet_rows(lab, target))
    return f


def preflight(lab: Lab, target: Target | None) -> list[Problem]:
    """What the install step would refuse, as params problems: known before the NAD step writes anything."""
    out: list[Problem] = []
    for role in ("internal", "external"):
        vlan: VlanParams = getattr(lab.vlans, role)
        if not vlan.selfip_v4s and not vlan.selfip_v6s:
            out.append(Problem(f"vlans.{role}.selfip_v4s", "no self IP given: the F5SPKVlan needs one per TMM replica"))
    for row in _subnet_rows(lab, target):
        if row.status == "fail":
            out.append(Problem("vlans.internal.selfip_v4s", f"{row.evidence}: {row.action}"))
    return out


# -- plan / apply -----------------------------------------------------------------------------


def crd_installed(target: Target) -> bool | None:
    """Whether the F5SPKVlan CRD is installed (None when the target cannot say)."""
    return applier.crd_installed(target, F5_VLAN_CRD, RESOURCE)


@dataclass(repr=False)
class VlanPlan(display.Brief):
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

    def to_dict(self) -> dict[str, Any]:
        return {"planned": self.result.planned, "changes": self.result.to_frame().to_dict("records"),
                "diffs": self.result.diffs, "checks": self.checks.to_dict()}

    def files(self) -> dict[str, str | bytes]:
        kind = "plan" if self.result.planned else "apply"
        return {"f5spkvlans.yaml": self.yaml,
                f"f5spkvlans-{kind}.json": json.dumps(self.to_dict(), indent=2, default=str) + "\n"}

    def _repr_html_(self) -> str:
        return display.code(self.yaml, title="F5SPKVlan CRs") + self.checks._repr_html_() + self.result._repr_html_()


def apply(lab: Lab, target: Target, *, cni_networks: str | None = None, force: bool | None = None) -> VlanPlan:
    """Validate, then create/update/leave each F5SPKVlan (plan on a read-only target).

    Nothing is written when a check failed. ``force`` defaults to ``lab.nad.force``.
    """
    force = lab.nad.force if force is None else force
    objs = build(lab, cni_networks)
    checks = validate(lab, target)
    planned = not can_write(target)
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
