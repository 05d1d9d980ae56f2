"""The SPK install step: values overrides, F5SPKVlan CRs, Helm, and a verified TMM.

Modules (pure functions of the lab and a target, tested on their own):

- ``values``: the four macvlan value changes of F5's guide merged into the user's file;
- ``signatures``: what F5 signed, verified before helm runs (a bad signature stops it);
- ``mtu``: the NAD, F5SPKVlan and ``TMM_DEFAULT_MTU`` agree under the master's MTU;
- ``vlans``: F5SPKVlan CRs, address checks, idempotent apply / plan;
- ``helm``: compose ``helm upgrade --install``, run it streaming, or plan it;
- ``verify``: wait for the TMM pod and tabulate what must hold.

``run(lab, target)`` is the procedure notebook 03 narrates and the install form
re-runs; each part of its ``InstallResult`` displays itself::

    result = install.run(lab, target, progress=step.progress("SPK install"))
    result.values    # changes table (and result.values.diff_view)
    result.vlans     # CR YAML + plan/apply table
    result.helm      # the command, run or recorded
    result.tmm       # TMM findings table
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ...cluster.base import Target
from ...cluster.facts import ClusterFacts
from ...params import Lab
from ...progress import Progress
from ...results import Findings, StepResult
from . import helm, mtu, signatures, values, verify, vlans
from .helm import HelmOutcome, Uninstall
from .signatures import SignatureCheck
from .values import Change, ValuesMerge
from .verify import TmmResult
from .vlans import VlanPlan

__all__ = [
    "Change",
    "HelmOutcome",
    "InstallResult",
    "TmmResult",
    "ValuesMerge",
    "VlanPlan",
    "helm",
    "mtu",
    "run",
    "signatures",
    "values",
    "verify",
    "vlans",
]


@dataclass(repr=False)
class InstallResult(StepResult):
    """The install step's parts, in the order of F5's guide."""

    title: ClassVar[str] = "spk-install"
    values: ValuesMerge
    vlans: VlanPlan
    helm: HelmOutcome
    tmm: TmmResult
    removed: Uninstall | None = None
    signed: SignatureCheck | None = None
    mtu: Findings | None = None

    @property
    def parts(self) -> list[Any]:
        signed = self.signed if self.signed is not None and len(self.signed.findings) else None  # a local chart only
        return [p for p in (self.values, signed, self.mtu, self.vlans, self.helm, self.tmm, self.removed)
                if p is not None]

    @property
    def secrets(self) -> set[str]:
        """Secret values found in the user's values file: the record must mask them too."""
        return set(self.values.secrets)

    def to_dict(self) -> dict[str, Any]:
        return {"values_changes": len(self.values.applied), "values_backup": str(self.values.backup or "") or None,
                "helm": self.helm.to_dict(), "vlans": self.vlans.to_dict(), "tmm": self.tmm.to_dict(),
                "signatures": self.signed.to_dict() if self.signed is not None else None,
                "teardown": self.removed.to_dict() if self.removed is not None else None}


def run(lab: Lab, target: Target, *, progress: Progress | None = None,
        which: Callable[[str], str | None] = shutil.which, wait_timeout: float | None = None,
        wait_interval: float = 2.0) -> InstallResult:
    """Install SPK the way F5's macvlan guide does: the values changes, the F5SPKVlan CRs, helm, then a verified TMM.

    On a snapshot every write is a plan. A helm failure is recorded (and TMM is not
    waited for); nothing here prints, progress goes to ``progress``.
    """
    ClusterFacts.of(lab, target, fresh=True)  # this run reads the cluster as it is now, once
    merged = values.prepare(lab)
    signed = signatures.verify(lab, which=which)
    agreed = mtu.before(lab, target, values.effective(merged.merged, lab.install.extra_values_files))
    vlan_plan = vlans.apply(lab, target)
    outcome = helm.install(lab, target, merged, progress=progress, which=which, refuse=signed.refusal)
    tmm = verify.tmm(lab, target, wait=outcome.ok and not signed.refusal, progress=progress, timeout=wait_timeout,
                     interval=wait_interval)
    removed = helm.uninstall(lab, target, when=lab.install.teardown, which=which)
    return InstallResult(merged, vlan_plan, outcome, tmm, removed, signed, agreed)
