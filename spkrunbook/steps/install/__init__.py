"""The SPK install step: values overrides, F5SPKVlan CRs, Helm, and a verified TMM.

Modules (pure functions of the lab and a target, tested on their own):

- ``values``: the seed's four macvlan value changes merged into the user's file;
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
from typing import Any

import pandas as pd

from ... import display
from ...cluster.base import Target
from ...params import Lab
from ...progress import Progress
from ...results import Findings, combine
from . import helm, values, verify, vlans
from .helm import HelmOutcome, Uninstall
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
    "run",
    "values",
    "verify",
    "vlans",
]


@dataclass
class InstallResult:
    """The install step's parts, in the seed's order."""

    values: ValuesMerge
    vlans: VlanPlan
    helm: HelmOutcome
    tmm: TmmResult
    removed: Uninstall | None = None

    @property
    def parts(self) -> list[Any]:
        return [p for p in (self.values, self.vlans, self.helm, self.tmm, self.removed) if p is not None]

    @property
    def findings(self) -> Findings:
        return combine("spk-install", self.parts)

    @property
    def ok(self) -> bool:
        return self.findings.ok

    @property
    def secrets(self) -> set[str]:
        """Secret values found in the user's values file: the record must mask them too."""
        return set(self.values.secrets)

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"values_changes": len(self.values.applied), "values_backup": str(self.values.backup or "") or None,
                "helm": self.helm.to_dict(), "vlans": self.vlans.to_dict(), "tmm": self.tmm.to_dict(),
                "teardown": self.removed.to_dict() if self.removed is not None else None}

    def files(self) -> dict[str, str | bytes]:
        out: dict[str, str | bytes] = {}
        for part in self.parts:
            out.update(part.files())
        return out

    def _repr_html_(self) -> str:
        return display.tables(self.parts)


def run(lab: Lab, target: Target, *, progress: Progress | None = None,
        which: Callable[[str], str | None] = shutil.which, wait_timeout: float | None = None,
        wait_interval: float = 2.0) -> InstallResult:
    """Install SPK the seed's way: the values changes, the F5SPKVlan CRs, helm, then a verified TMM.

    On a snapshot every write is a plan. A helm failure is recorded (and TMM is not
    waited for); nothing here prints, progress goes to ``progress``.
    """
    merged = values.prepare(lab)
    vlan_plan = vlans.apply(lab, target)
    outcome = helm.install(lab, target, merged, progress=progress, which=which)
    tmm = verify.tmm(lab, target, wait=outcome.ok, progress=progress, timeout=wait_timeout, interval=wait_interval)
    removed = helm.uninstall(lab, target, when=lab.install.teardown, which=which)
    return InstallResult(merged, vlan_plan, outcome, tmm, removed)
