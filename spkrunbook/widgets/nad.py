"""The NetworkAttachmentDefinition form: edit the two networks, render, apply, verify.

The form edits the same ``Lab`` the headless run uses (``step.lab``) and checks
each field with the same ``nad.network_problems`` / ``nad.pair_problems`` that
``nad.validate`` uses, so a person sees the pipeline's verdict as they type.
All logic is in plain methods (``on_change``, ``render``, ``apply``, ``verify``)
that tests call directly or through ``button.click()``; the widgets only display.
The form holds network settings only: no token or password ever enters widget state.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
from pydantic import ValidationError

from .. import nad
from ..cluster.base import Target
from ..errors import Problem, SpkRunbookError
from ..params import KNOWN_CNI_VERSIONS, MACVLAN_MODES, Lab

_RED, _AMBER = "#cf222e", "#9a6700"
_LABELS = {
    "name": "NAD name",
    "namespace": "namespace",
    "master": "master NIC",
    "mode": "mode",
    "cni_version": "cniVersion",
    "mtu": "MTU",
}


def _message(problems: list[Problem]) -> str:
    parts = []
    for p in problems:
        colour = _RED if p.severity == "error" else _AMBER
        parts.append(f"<span style='color:{colour}'>{html.escape(p.message)}</span>")
    return "<br>".join(parts)


def _error(exc: BaseException) -> str:
    return f"<pre style='color:{_RED};white-space:pre-wrap'>{html.escape(str(exc))}</pre>"


class NadForm:
    """Two columns (internal, external) of fields with live validation, and Render / Apply / Verify."""

    def __init__(self, step: Any = None, *, lab: Lab | None = None, target: Target | None = None) -> None:
        self.step = step
        self.lab: Lab = lab if lab is not None else step.lab
        self.target: Target | None = target if target is not None else getattr(step, "target", None)
        self.nodes = self._discover()
        self.choices = self.nodes.choices()
        self.fields: dict[str, dict[str, w.ValueWidget]] = {}
        self.messages: dict[str, dict[str, w.HTML]] = {}
        columns = []
        for role, net in nad.roles(self.lab):
            self.fields[role], self.messages[role] = {}, {}
            rows: list[w.Widget] = [w.HTML(f"<b>{role}</b> network")]
            for f in nad.NETWORK_FIELDS:
                widget = self._field(f, getattr(net, f))
                widget.observe(lambda _c, role=role: self.on_change(role), names="value")
                self.fields[role][f] = widget
                self.messages[role][f] = w.HTML()
                rows += [widget, self.messages[role][f]]
            columns.append(w.VBox(rows, layout=w.Layout(width="48%")))
        where = "dropdown from the TMM nodes' NICs" if self.choices is not None else "the target does not report node NICs: type the name"
        self.hint = w.HTML(f"<i>master: {html.escape(where)}</i>")
        self.status = w.HTML()
        self.force = w.Checkbox(value=self.lab.nad.force, description="force: overwrite NADs spkrunbook does not manage", indent=False)
        self.force.observe(lambda c: setattr(self.lab.nad, "force", bool(c["new"])), names="value")
        self.confirm = w.Checkbox(value=False, description="I have read the YAML and the diff: apply to the cluster", indent=False)
        self.render_button = w.Button(description="Render", icon="file-code-o")
        self.apply_button = w.Button(description="Apply", button_style="warning", icon="upload")
        self.verify_button = w.Button(description="Verify", icon="check")
        self.render_button.on_click(lambda _b: self.render())
        self.apply_button.on_click(lambda _b: self.apply())
        self.verify_button.on_click(lambda _b: self.verify())
        self.output = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox(columns),
                self.hint,
                self.status,
                self.force,
                self.confirm,
                w.HBox([self.render_button, self.apply_button, self.verify_button]),
                self.output,
            ]
        )
        self.refresh()

    # -- construction ---------------------------------------------------------------------
    def _discover(self) -> nad.NodeInterfaces:
        try:
            return nad.tmm_interfaces(self.lab, self.target)
        except SpkRunbookError:
            return nad.NodeInterfaces([], {})

    def _field(self, f: str, value: Any) -> w.ValueWidget:
        label = _LABELS[f]
        if f == "master" and self.choices is not None:
            options = list(self.choices) + ([value] if value not in self.choices else [])
            return w.Dropdown(options=options, value=value, description=label)
        if f == "mode":
            return w.Dropdown(options=list(MACVLAN_MODES), value=value, description=label)
        if f == "cni_version":
            return w.Dropdown(options=list(KNOWN_CNI_VERSIONS), value=value, description=label)
        if f == "mtu":
            return w.Text(value="" if value is None else str(value), placeholder="unset: the master's MTU", description=label)
        return w.Text(value=str(value), description=label, continuous_update=True)

    # -- logic ----------------------------------------------------------------------------
    def values(self, role: str) -> dict[str, Any]:
        """The raw values in the form for one network (MTU as typed)."""
        return {f: widget.value for f, widget in self.fields[role].items()}

    def problems(self) -> list[Problem]:
        """What the form's values would get from ``nad.validate``'s parameter checks."""
        out: list[Problem] = []
        for role in self.fields:
            out += nad.network_problems(role, self.values(role))
        return out + nad.pair_problems(self.values("internal"), self.values("external"))

    def errors(self) -> list[Problem]:
        return [p for p in self.problems() if p.severity == "error"]

    def on_change(self, role: str) -> list[Problem]:
        """Show each field's problems beside it; copy valid values into the Lab."""
        probs = self.problems()
        self._show(probs)
        mine = [p for p in probs if p.path.startswith(f"networks.{role}.") and p.severity == "error"]
        net = getattr(self.lab.networks, role)
        for f, value in self.values(role).items():
            if any(p.path == f"networks.{role}.{f}" for p in mine):
                continue
            if f == "mtu":
                value = int(value) if str(value).strip() else None
            if getattr(net, f) != value:
                try:
                    setattr(net, f, value)
                except ValidationError as exc:  # the model is the last word; show it beside the field
                    self.messages[role][f].value = _message([Problem(f, e["msg"]) for e in exc.errors()])
        return probs

    def refresh(self) -> list[Problem]:
        probs = self.problems()
        self._show(probs)
        return probs

    def _show(self, probs: list[Problem]) -> None:
        for role, msgs in self.messages.items():
            for f, box in msgs.items():
                box.value = _message([p for p in probs if p.path == f"networks.{role}.{f}"])
        errors = sum(p.severity == "error" for p in probs)
        warnings = len(probs) - errors
        if not probs:
            self.status.value = "<span style='color:#1a7f37'>all fields valid</span>"
        else:
            colour = _RED if errors else _AMBER
            self.status.value = f"<span style='color:{colour}'>{errors} error(s), {warnings} warning(s): see beside the fields</span>"

    def _blocked(self) -> bool:
        errs = self.errors()
        if errs:
            self.output.value = "<b>Fix these first:</b><br>" + _message(errs)
        return bool(errs)

    def render(self) -> nad.Rendered | None:
        """Validate against the target and show the YAML and the oc commands (saved in the record)."""
        if self._blocked():
            return None
        try:
            checks = nad.validate(self.lab, self.target, nodes=self.nodes if self.target is not None else None)
            rendered = nad.render(self.lab)
        except SpkRunbookError as exc:
            self.output.value = _error(exc)
            return None
        if self.step is not None and hasattr(self.step, "save_text"):
            rendered.save(self.step, "network-attachments/form")
        files = "".join(f"<p><code>{html.escape(n)}</code></p><pre>{html.escape(t)}</pre>" for n, t in rendered.files.items())
        self.output.value = checks._repr_html_() + files + f"<pre>{html.escape(rendered.commands)}</pre>"
        return rendered

    def apply(self) -> nad.ApplyResult | None:
        """Apply (or plan on a snapshot) only after the confirmation box is ticked; untick it afterwards."""
        if self.target is None:
            self.output.value = _error(SpkRunbookError("no target to apply to"))
            return None
        if self.target.can_write and not self.confirm.value:
            self.output.value = f"<b style='color:{_AMBER}'>Tick the confirmation box first: Apply writes to the cluster.</b>"
            return None
        if self._blocked():
            return None
        try:
            result = nad.apply(self.lab, self.target, force=self.force.value)
        except SpkRunbookError as exc:
            self.output.value = _error(exc)
            return None
        finally:
            self.confirm.value = False
        self.output.value = result._repr_html_()
        return result

    def verify(self) -> nad.VerifyResult | None:
        """Read the NADs back and show them with the tmm.cniNetworks value."""
        if self.target is None:
            self.output.value = _error(SpkRunbookError("no target to read from"))
            return None
        try:
            result = nad.verify(self.lab, self.target)
        except SpkRunbookError as exc:
            self.output.value = _error(exc)
            return None
        self.output.value = result._repr_html_()
        return result


__all__ = ["NadForm"]
