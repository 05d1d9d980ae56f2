"""The SPK install form: TMM size, self IPs and values file, then Render / Install.

The form edits a copy of the step's ``Lab`` and validates it with the same
model the headless run uses. ``render`` shows what would change (values table and
diff, F5SPKVlan YAML and checks, the helm command) without writing anything;
``install`` runs the step (values, VLANs, helm, TMM verification) and requires the
confirmation box (``common.ConfirmGate``) to be ticked; it is unticked again
afterwards. CPUs, replicas and self IPs are ``common.lab_field``s: ``params.parse``
checks them as the person types, as a headless run checks the params file. The
registry password is a ``common.SecretField`` (a ``SecretStr`` in memory, never
in widget state); ``common.SaveAsNew`` writes the edited lab as a new params file
(the password as ``${SPKRUNBOOK_REGISTRY_PASSWORD}``) and ``common.ProgressBar``
shows helm and the wait for TMM. ``install`` calls ``install.run``, the same procedure as
notebook 03: nothing here repeats it. All logic is in plain methods that tests call directly or
through ``button.click()``; widgets only display.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from .. import display
from ..errors import ParameterError, SpkRunbookError
from ..params import Lab, parse
from ..steps import install as install_step
from ..steps.install import helm, values, vlans
from . import common


def _ips(text: str) -> list[str]:
    return [p.strip() for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]


class InstallForm:
    """Fields bound to ``lab.tmm`` / ``lab.vlans`` / ``lab.install``, buttons, and an output area."""

    def __init__(self, step: Any) -> None:
        self.step = step
        lab: Lab = step.lab
        self.cpu = w.IntText(value=lab.tmm.cpu, description="TMM CPUs", continuous_update=True)
        self.replicas = w.IntText(value=lab.tmm.replicas, description="replicas", continuous_update=True)
        self.internal_ips = w.Text(value=", ".join(lab.vlans.internal.selfip_v4s), description="internal IPs",
                                   placeholder="one self IP per replica, comma separated", continuous_update=True)
        self.external_ips = w.Text(value=", ".join(lab.vlans.external.selfip_v4s), description="external IPs",
                                   placeholder="one self IP per replica, comma separated", continuous_update=True)
        # Each checked as the person types with params.parse, as a headless run checks the params file.
        self.fields = {
            "tmm.cpu": common.lab_field(lab, "tmm.cpu", widget=self.cpu),
            "tmm.replicas": common.lab_field(lab, "tmm.replicas", widget=self.replicas),
            "vlans.internal.selfip_v4s": common.lab_field(lab, "vlans.internal.selfip_v4s", widget=self.internal_ips, convert=_ips),
            "vlans.external.selfip_v4s": common.lab_field(lab, "vlans.external.selfip_v4s", widget=self.external_ips, convert=_ips),
        }
        self.values_file = w.Text(value=str(lab.install.values_file or ""), description="values file",
                                  placeholder="f5ingress values YAML (optional)", layout=w.Layout(width="90%"))
        creds = lab.install.image_credentials
        self.registry = w.Text(value=creds.registry if creds else "", description="registry", placeholder="optional")
        self.username = w.Text(value=creds.username if creds else "", description="username")
        # The password goes straight into a SecretStr; the widget (and so any saved widget state) keeps "".
        self.password = common.SecretField("password", on_set=lambda s: step.scrubber.add(s.get_secret_value()))
        if creds is not None:
            self.password.message.value = "<i>from the params file unless you type a new one</i>"
        self.gate = common.ConfirmGate(f"install SPK on the {step.target.kind} target")
        self.confirm = self.gate.checkbox
        self.confirm.layout.width = "auto"  # the whole sentence, not cut at the default width
        self.render_button = w.Button(description="Render", icon="file-code-o")
        self.install_button = w.Button(description="Install", button_style="warning", icon="upload")
        self.render_button.on_click(lambda _b: self.render())
        self.install_button.on_click(lambda _b: self.install())
        where = f"{step.target.kind} target {html.escape(step.target.info().name)}"
        self.status = w.HTML(f"<i>{where}</i>")
        self.output = w.Output()
        self.progress: common.ProgressBar | None = None
        self.last: dict[str, Any] = {}
        self.save = common.SaveAsNew(self.lab, common.params_dir(getattr(step, "params_file", None)) or ".")
        f = self.fields
        self.widget = w.VBox(
            [
                w.HTML("<b>SPK install</b>"),
                w.HBox([f["tmm.cpu"].widget, f["tmm.replicas"].widget]),
                f["vlans.internal.selfip_v4s"].widget,
                f["vlans.external.selfip_v4s"].widget,
                self.values_file,
                w.HTML("<i>image registry credentials (optional)</i>"),
                w.HBox([self.registry, self.username]),
                self.password.widget,
                self.gate.widget,
                w.HBox([self.render_button, self.install_button]),
                self.status,
                self.output,
                self.save.widget,
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
        registry, username = self.registry.value.strip(), self.username.value.strip()
        old = base.install.image_credentials
        password = self.password.secret or (old.password if old is not None else None)
        if registry or username or self.password.is_set:
            data["install"]["image_credentials"] = {"registry": registry, "username": username, "password": password}
        else:
            data["install"]["image_credentials"] = None
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
            self.status.value = common.error_html(exc)
            self.last = {"error": exc}
            return None
        with helm.cluster_access(self.step.target) as access:
            argv = helm.command(lab, ["values.yaml", *map(str, lab.install.extra_values_files)],
                                cluster=access.shown if access is not None else ())
        decision = helm.decide(lab, self.step.target.kind)
        self.last = {"lab": lab, "values": vals, "vlans": objs, "checks": checks, "command": helm.shell(argv), "decision": decision}
        verdict = "ready to install" if checks.ok else "fix the failed checks before installing"
        self.status.value = f"<b>{html.escape(verdict)}</b>: {len(vals.applied)} value change(s); helm: {html.escape(decision.reason)}"
        self._show(vals, vals.diff_html(), display.code(vlans.applier.to_yaml(o for _, o in objs), title="F5SPKVlan CRs"),
                   checks, display.code(helm.shell_lines(argv), title="helm"))
        return self.last

    def install(self) -> dict[str, Any] | None:
        """Run the install step with the form's values; refused unless the box is ticked."""
        if not self.gate.allow():  # unticks it when allowed: each install needs a fresh confirmation
            self.status.value = "<b>Tick the confirmation box first</b>: installing changes the cluster."
            self.last = {"refused": True}
            return None
        self.output.clear_output()
        try:
            lab = self.lab()
        except ParameterError as exc:
            self.status.value = common.error_html(exc)
            self.last = {"error": exc}
            return None
        self.progress = common.ProgressBar("SPK install", total=lab.install.wait_timeout)
        with self.output:
            self.progress.display()
        try:
            result = install_step.run(lab, self.step.target, progress=self.progress)
        except SpkRunbookError as exc:
            self.progress.fail(exc.message)
            self.status.value = common.error_html(exc)
            self.last = {"error": exc}
            return None
        self.progress.done("TMM ready" if result.tmm.findings.ok else "TMM not ready: see the table")
        if hasattr(self.step, "save"):
            self.step.save(result, under="form")
        self._show(*result.parts)
        ok = result.ok
        self.status.value = f"<b>{'installed and verified' if ok else 'install finished with failures'}</b>"
        self.last = {"values": result.values, "vlans": result.vlans, "helm": result.helm, "tmm": result.tmm, "ok": ok,
                     "result": result}
        return self.last

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
