"""The SPK install step: values overrides, F5SPKVlan CRs, Helm, and a verified TMM.

Modules (pure functions of the lab and a target, tested on their own):

- ``values``: the seed's four macvlan value changes merged into the user's file;
- ``vlans``: F5SPKVlan CRs, address checks, idempotent apply / plan;
- ``helm``: compose ``helm upgrade --install``, run it streaming, or plan it;
- ``verify``: wait for the TMM pod and tabulate what must hold.

The functions below are what ``notebooks/03-spk-install.ipynb`` calls, one or two
per cell; each takes the notebook's ``step``, saves its artifacts into the record
(secrets masked) and returns a result object that displays itself::

    vals = install.prepare_values(step)        # changes table
    vlan_plan = install.apply_vlans(step)      # CR YAML + plan/apply table
    helm_run = install.run_helm(step, vals)    # the command, run or recorded
    tmm = install.verify_tmm(step, helm_run)   # TMM findings table
    step.finish(*install.findings(vals, vlan_plan, helm_run, tmm))
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import HelmError
from ..results import Findings
from . import helm, values, verify, vlans
from .helm import HelmOutcome
from .values import Change, ValuesMerge
from .verify import TextProgress
from .vlans import VlanPlan

if TYPE_CHECKING:
    from ..notebook import Step

RECORD_DIR = "spk-install"

__all__ = [
    "Change",
    "HelmOutcome",
    "TextProgress",
    "ValuesMerge",
    "VlanPlan",
    "apply_vlans",
    "findings",
    "form",
    "helm",
    "prepare_values",
    "run_helm",
    "values",
    "verify",
    "verify_tmm",
    "vlans",
]




def save_masked(step: "Step", relative: str, text: str) -> Path:
    """Save YAML text whose secrets ``values.mask_text`` already masked, through the step's scrubber."""
    return step.save_text(relative, text)


def _cni(step: "Step", cni_networks: str | None) -> str | None:
    """The NADs in interface order: given, or what the NAD step recorded, or the params'."""
    if cni_networks:
        return cni_networks
    if step.data.get("cni_networks"):
        return str(step.data["cni_networks"])
    nad_step = step.record_dir / "steps" / "network-attachments.json"
    try:
        recorded = json.loads(nad_step.read_text(encoding="utf-8")).get("data", {}).get("cni_networks")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded:
        step.data["cni_networks"] = recorded
        step.data["cni_networks_from"] = "steps/network-attachments.json"
    return recorded or None


def prepare_values(step: "Step", *, cni_networks: str | None = None) -> ValuesMerge:
    """Merge the macvlan changes into ``install.values_file`` and record the result.

    Saves ``spk-install/values.yaml`` (merged, secrets masked), ``values.diff`` and
    ``values-changes.json``. The user's file is only rewritten with
    ``install.modify_values_in_place`` (a ``.bak`` copy is kept).
    """
    lab = step.lab
    result = values.merge_file(lab, cni_networks=_cni(step, cni_networks))
    step.scrubber.add(*result.secrets)
    save_masked(step, f"{RECORD_DIR}/values.yaml", result.masked_merged)
    save_masked(step, f"{RECORD_DIR}/values.diff", result.diff or "(no differences)\n")
    step.save_json(f"{RECORD_DIR}/values-changes.json", result.to_dict())
    eff = values.effective(result.merged, lab.install.extra_values_files)
    check = values.check(eff, lab, cni_networks=_cni(step, cni_networks), title="values helm will use")
    result.checks = list(check.rows)
    step.data["values_findings"] = result.findings().to_dict()
    step.data["values_changes"] = len(result.applied)
    if lab.install.modify_values_in_place and result.source is not None and result.applied:
        bak = values.write_in_place(result)
        step.data["values_backup"] = str(bak)
    return result


def apply_vlans(step: "Step", *, cni_networks: str | None = None) -> VlanPlan:
    """Build, check and apply (live) or plan (snapshot) the F5SPKVlan CRs; record YAML and outcome."""
    plan = vlans.apply(step.lab, step.target, cni_networks=_cni(step, cni_networks))
    step.save_text(f"{RECORD_DIR}/f5spkvlans.yaml", plan.yaml)
    step.save_json(
        f"{RECORD_DIR}/f5spkvlans-{'plan' if plan.result.planned else 'apply'}.json",
        {"planned": plan.result.planned, "changes": plan.result.to_frame().to_dict("records"), "diffs": plan.result.diffs},
    )
    return plan


def run_helm(
    step: "Step",
    vals: ValuesMerge,
    *,
    on_line: Callable[[str], None] | None = print,
    which: Callable[[str], str | None] = shutil.which,
    raise_on_error: bool = False,
) -> HelmOutcome:
    """Run ``helm upgrade --install`` when possible (streaming), otherwise record the command.

    The values helm reads are written to a private temp file outside the record and
    deleted afterwards; the record only holds the masked copy. A helm failure is a
    failed row (and ``outcome.error``); ``raise_on_error`` re-raises the ``HelmError``.
    """
    lab = step.lab
    decision = helm.decide(lab, step.target.kind, which=which)
    extras = [str(p) for p in lab.install.extra_values_files]
    record_values = step.path(f"{RECORD_DIR}/values.yaml")
    if not decision.run:
        argv = helm.command(lab, [str(record_values), *extras])
        script = (
            "#!/bin/sh\n"
            f"# {decision.reason}\n"
            "# values.yaml next to this file has secrets masked as ***: put the real ones back before running.\n"
            f"cd \"$(dirname \"$0\")\"\n{helm.shell(helm.command(lab, ['values.yaml', *extras]))}\n"
        )
        step.save_text(f"{RECORD_DIR}/helm-command.sh", script)
        step.data["helm"] = {"ran": False, "reason": decision.reason, "command": helm.shell(argv)}
        return HelmOutcome(argv, decision, record_files=[f"{RECORD_DIR}/helm-command.sh"])
    tmp = Path(tempfile.mkdtemp(prefix="spkrunbook-helm-"))
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    try:
        values_path = helm.write_private(tmp / "values.yaml", vals.merged)
        argv = helm.command(lab, [str(values_path), *extras])
        shown = helm.command(lab, [str(record_values), *extras])
        try:
            result = helm.run(
                argv,
                on_line=sink,
                scrubber=step.scrubber,
                timeout=helm.go_duration_seconds(lab.install.helm_timeout) + helm.PROCESS_GRACE,
                release=lab.install.release,
                namespace=lab.tmm.namespace,
            )
            outcome = HelmOutcome(shown, decision, run=result)
        except HelmError as exc:
            outcome = HelmOutcome(shown, decision, error=exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    step.save_text(f"{RECORD_DIR}/helm-output.txt", f"$ {helm.shell(outcome.argv)}\n" + "\n".join(lines) + "\n")
    step.data["helm"] = {
        "ran": True,
        "returncode": outcome.error.returncode if outcome.error else 0,
        "command": helm.shell(outcome.argv),
    }
    if outcome.error is not None and raise_on_error:
        raise outcome.error
    return outcome


def verify_tmm(
    step: "Step",
    helm_outcome: HelmOutcome | None = None,
    *,
    progress: verify.Progress | None = None,
    timeout: float | None = None,
    interval: float = 2.0,
) -> Findings:
    """Wait (live) for the TMM pod to be Ready, then check it; on a snapshot check what it holds."""
    lab, target = step.lab, step.target
    wait = None
    if target.kind == "live" and (helm_outcome is None or helm_outcome.ok):
        wait = verify.wait_ready(target, lab, timeout=timeout, interval=interval, progress=progress or TextProgress())
        pods = wait.pods
    else:
        pods = None
    f = verify.check(target, lab, pods=pods, wait=wait, cni_networks=_cni(step, None))
    step.save_json(f"{RECORD_DIR}/tmm-verification.json", f.to_dict())
    return f


def findings(*results: Any) -> list[Findings]:
    """The Findings of each step result, for ``step.finish(*install.findings(...))``."""
    out: list[Findings] = []
    for r in results:
        if r is None:
            continue
        if isinstance(r, Findings):
            out.append(r)
        elif isinstance(r, ValuesMerge):
            out.append(r.findings())
        else:
            out.append(r.findings)
    return out


def form(step: "Step") -> Any:
    """The interactive install form (ipywidgets) bound to this step's lab."""
    from ..widgets.install import InstallForm

    return InstallForm(step)


def summary(step: "Step") -> str:
    return json.dumps(step.data, indent=2, default=str)
