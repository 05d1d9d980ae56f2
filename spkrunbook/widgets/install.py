"""The SPK install form: TMM size, self IPs and values file, then Render / Install.

The form edits a copy of the step's ``Lab`` and validates it with the same
model the headless run uses. ``render`` shows what would change (values table and
diff, F5SPKVlan YAML and checks, the helm command) without writing anything;
``install`` runs the step (values, VLANs, helm, TMM verification) and requires the
confirmation box to be ticked (it is unticked again afterwards). All logic is in
plain methods that tests call directly or through ``button.click()``; widgets
only display. No password or token ever enters widget state.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import install as install_step
from ..errors import ParameterError, SpkRunbookError
from ..install import helm, values, vlans
from ..params import Lab, parse

_RED = "#cf222e"


def _ips(text: str) -> list[str]:
    return [p.strip() for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]


def _error(exc: BaseException) -> str:
    return f"<pre style='color:{_RED};white-space:pre-wrap'>{html.escape(str(exc))}</pre>"


class InstallForm:
    """Fields bound to ``lab.tmm`` / ``lab.vlans`` / ``lab.install``, buttons, and an output area."""

    def __init__(self, step: Any) -> None:
        self.step = step
        lab: Lab = step.lab
        self.cpu = w.BoundedIntText(value=lab.tmm.cpu, min=1, max=64, description="TMM CPUs")
        self.replicas = w.BoundedIntText(value=lab.tmm.replicas, min=1, max=64, description="replicas")
        self.internal_ips = w.Text(value=", ".join(lab.vlans.internal.selfip_v4s), description="internal IPs",
                                   placeholder="one self IP per replica, comma separated")
        self.external_ips = w.Text(value=", ".join(lab.vlans.external.selfip_v4s), description="external IPs",
                                   placeholder="one self IP per replica, comma separated")
        self.values_file = w.Text(value=str(lab.install.values_file or ""), description="values file",
                                  placeholder="f5ingress values YAML (optional)", layout=w.Layout(width="90%"))
        where = f"{step.target.kind} target {html.escape(step.target.info().name)}"
        self.confirm = w.Checkbox(value=False, indent=False,
                                  description=f"I have read the changes: install SPK on the {step.target.kind} target")
        self.render_button = w.Button(description="Render", icon="file-code-o")
        self.install_button = w.Button(description="Install", button_style="warning", icon="upload")
        self.render_button.on_click(lambda _b: self.render())
        self.install_button.on_click(lambda _b: self.install())
        self.status = w.HTML(f"<i>{where}</i>")
        self.output = w.Output()
        self.last: dict[str, Any] = {}
        self.widget = w.VBox(
            [
                w.HTML("<b>SPK install</b>"),
                w.HBox([self.cpu, self.replicas]),
                self.internal_ips,
                self.external_ips,
                self.values_file,
                self.confirm,
                w.HBox([self.render_button, self.install_button]),
                self.status,
                self.output,
            ]
        )

    # -- model ----------------------------------------------------------------------------------
    def lab(self) -> Lab:
        """The step's lab with the form's values, validated like a params file (``ParameterError``)."""
        base: Lab = self.step.lab
        data = base.model_dump(mode="python")
        data["tmm"]["cpu"] = self.cpu.value
        data["tmm"]["replicas"] = self.replicas.value
        data["vlans"]["internal"]["selfip_v4s"] = _ips(self.internal_ips.value)
        data["vlans"]["external"]["selfip_v4s"] = _ips(self.external_ips.value)
        vf = self.values_file.value.strip()
        data["install"]["values_file"] = str(Path(vf).expanduser().resolve()) if vf else None
        return parse(data)

    def _show(self, *objs: Any) -> None:
        from IPython.display import HTML, display

        with self.output:
            for o in objs:
                display(HTML(o) if isinstance(o, str) else o)

    # -- actions ----------------------------------------------------------------------------------
    def render(self) -> dict[str, Any] | None:
        """What the install would do, shown below; nothing is written anywhere."""
        self.output.clear_output()
        try:
            lab = self.lab()
            vals = values.merge_file(lab)
            objs = vlans.build(lab)
            checks = vlans.validate(lab, self.step.target)
        except SpkRunbookError as exc:
            self.status.value = _error(exc)
            self.last = {"error": exc}
            return None
        argv = helm.command(lab, ["values.yaml", *map(str, lab.install.extra_values_files)])
        decision = helm.decide(lab, self.step.target.kind)
        self.last = {"lab": lab, "values": vals, "vlans": objs, "checks": checks, "command": helm.shell(argv), "decision": decision}
        verdict = "ready to install" if checks.ok else "fix the failed checks before installing"
        self.status.value = f"<b>{html.escape(verdict)}</b>: {len(vals.applied)} value change(s); helm: {html.escape(decision.reason)}"
        self._show(vals, vals.diff_html(), f"<pre>{html.escape(vlans.applier.to_yaml(o for _, o in objs))}</pre>", checks,
                   f"<pre>{html.escape(helm.shell(argv))}</pre>")
        return self.last

    def install(self) -> dict[str, Any] | None:
        """Run the install step with the form's values; refused unless the box is ticked."""
        if not self.confirm.value:
            self.status.value = "<b>Tick the confirmation box first</b>: installing changes the cluster."
            self.last = {"refused": True}
            return None
        self.confirm.value = False
        self.output.clear_output()
        try:
            lab = self.lab()
        except ParameterError as exc:
            self.status.value = _error(exc)
            self.last = {"error": exc}
            return None
        step = dataclasses.replace(self.step, lab=lab)
        try:
            vals = install_step.prepare_values(step)
            self._show(vals)
            plan = install_step.apply_vlans(step)
            self._show(plan)
            lines: list[str] = []

            def line(text: str) -> None:
                lines.append(text)
                with self.output:
                    print(text)

            outcome = install_step.run_helm(step, vals, on_line=line)
            self._show(outcome)
            tmm = install_step.verify_tmm(step, outcome, progress=install_step.TextProgress())
            self._show(tmm)
        except SpkRunbookError as exc:
            self.status.value = _error(exc)
            self.last = {"error": exc}
            return None
        results = install_step.findings(vals, plan, outcome, tmm)
        ok = all(f.ok for f in results)
        self.status.value = f"<b>{'installed and verified' if ok else 'install finished with failures'}</b>"
        self.last = {"values": vals, "vlans": plan, "helm": outcome, "tmm": tmm, "ok": ok}
        return self.last

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
