"""The NetworkAttachmentDefinition form: edit the two networks, render, apply, verify, tear down.

The form edits the same ``Lab`` the headless run uses (``step.lab``) and asks
``params.problems_with`` (the one validator) about all its fields at once, so a
person sees ``spkrunbook validate``'s verdict as they type (the whole form is
re-checked on every change, since the two networks are checked against each other). ``master`` offers the NICs present on every TMM node and
``namespace`` the target's namespaces (``common.choice_widget``: pick one or type,
typed values are checked the same way). Apply and Teardown on a writable target
wait for the ``common.ConfirmGate`` box; ``common.SaveAsNew`` writes the edited lab
as a new params file. All logic is in plain methods (``on_change``, ``render``,
``apply``, ``teardown``, ``verify``) that tests call directly or through
``button.click()``. The form holds network settings only: no token or password
ever enters widget state.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from pydantic import ValidationError

from .. import params
from ..cluster.base import Target
from ..cluster.facts import NodeInterfaces
from ..errors import Problem, SpkRunbookError
from ..params import KNOWN_CNI_VERSIONS, MACVLAN_MODES, Lab
from ..steps import nad
from . import common

_LABELS = {
    "name": "NAD name",
    "namespace": "namespace",
    "master": "master NIC",
    "mode": "mode",
    "cni_version": "cniVersion",
    "mtu": "MTU",
}


class NadForm:
    """Two columns (internal, external) of fields with live validation, and Render / Apply / Verify / Teardown."""

    def __init__(self, step: Any = None, *, lab: Lab | None = None, target: Target | None = None) -> None:
        self.step = step
        self.lab: Lab = lab if lab is not None else step.lab
        self.target: Target | None = target if target is not None else getattr(step, "target", None)
        self.nodes = self._discover()
        self.choices = self.nodes.choices()  # NICs on every TMM node the target reports; None: free text
        self.namespaces = common.Choices.discover(self.lab, self.target).namespaces
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
                self.messages[role][f].add_class("spkrunbook-field-message")
                rows += [widget, self.messages[role][f]]
            columns.append(w.VBox(rows, layout=w.Layout(width="48%")))
        where = ("dropdown of the NICs on every TMM node; another typed name is checked too" if self.choices
                 else "the target does not report node NICs: type the name")
        self.hint = w.HTML(f"<i>master: {html.escape(where)}</i>")
        self.status = w.HTML()
        self.force = w.Checkbox(value=self.lab.nad.force, description="force: overwrite NADs spkrunbook does not manage", indent=False,
                                layout=w.Layout(width="auto"))
        self.force.observe(lambda c: setattr(self.lab.nad, "force", bool(c["new"])), names="value")
        self.gate = common.ConfirmGate("the YAML and the diff; apply to (or tear down from) the cluster")
        self.confirm = self.gate.checkbox
        self.confirm.layout.width = "auto"  # the whole sentence, not cut at the default width
        self.render_button = w.Button(description="Render", icon="file-code-o")
        self.apply_button = w.Button(description="Apply", button_style="warning", icon="upload")
        self.verify_button = w.Button(description="Verify", icon="check")
        self.teardown_button = w.Button(description="Teardown", button_style="danger", icon="trash")
        self.render_button.on_click(lambda _b: self.render())
        self.apply_button.on_click(lambda _b: self.apply())
        self.verify_button.on_click(lambda _b: self.verify())
        self.teardown_button.on_click(lambda _b: self.teardown())
        self.output = w.HTML()
        self.save = common.SaveAsNew(lambda: self.lab, common.params_dir(getattr(step, "params_file", None) or None) or ".")
        self.widget = w.VBox(
            [
                w.HBox(columns),
                self.hint,
                self.status,
                self.force,
                self.gate.widget,
                w.HBox([self.render_button, self.apply_button, self.verify_button, self.teardown_button]),
                self.output,
                self.save.widget,
            ]
        )
        self.refresh()

    # -- construction ---------------------------------------------------------------------
    def _discover(self) -> NodeInterfaces:
        try:
            return nad.tmm_interfaces(self.lab, self.target)
        except SpkRunbookError:
            return NodeInterfaces([], {})

    def _field(self, f: str, value: Any) -> w.ValueWidget:
        label = _LABELS[f]
        if f == "master":
            return common.choice_widget(value, self.choices, label)
        if f == "namespace":
            return common.choice_widget(value, self.namespaces, label)
        if f == "mode":
            return w.Dropdown(options=list(MACVLAN_MODES), value=value, description=label)
        if f == "cni_version":
            return w.Dropdown(options=list(KNOWN_CNI_VERSIONS), value=value, description=label)
        if f == "mtu":
            return w.Text(value="" if value is None else str(value), placeholder="unset: the master's MTU", description=label,
                          continuous_update=True)
        return w.Text(value=str(value), description=label, continuous_update=True)

    # -- logic ----------------------------------------------------------------------------
    def values(self, role: str) -> dict[str, Any]:
        """The raw values in the form for one network (MTU as typed)."""
        return {f: widget.value for f, widget in self.fields[role].items()}

    def problems(self) -> list[Problem]:
        """What ``spkrunbook validate`` would say about the networks with the form's values."""
        changes = {f"networks.{role}.{f}": value for role in self.fields for f, value in self.values(role).items()}
        return [p for p in params.problems_with(self.lab, changes) if p.path.startswith("networks.")]

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
                value = int(str(value).strip()) if str(value).strip() else None
            if getattr(net, f) != value:
                try:
                    setattr(net, f, value)
                except ValidationError as exc:  # the model is the last word; show it beside the field
                    self.messages[role][f].value = common.problems_html([Problem(f, e["msg"]) for e in exc.errors()])
        return probs

    def refresh(self) -> list[Problem]:
        probs = self.problems()
        self._show(probs)
        return probs

    def _show(self, probs: list[Problem]) -> None:
        for role, msgs in self.messages.items():
            for f, box in msgs.items():
                box.value = common.problems_html([p for p in probs if p.path == f"networks.{role}.{f}"])
        errors = sum(p.severity == "error" for p in probs)
        warnings = len(probs) - errors
        if not probs:
            self.status.value = f"<span style='color:{common.GREEN}'>all fields valid</span>"
        else:
            colour = common.RED if errors else common.AMBER
            self.status.value = f"<span style='color:{colour}'>{errors} error(s), {warnings} warning(s): see beside the fields</span>"

    def _blocked(self) -> bool:
        errs = self.errors()
        if errs:
            self.output.value = "<b>Fix these first:</b><br>" + common.problems_html(errs)
        return bool(errs)

    def render(self) -> nad.Rendered | None:
        """Validate against the target and show the YAML and the oc commands (saved in the record)."""
        if self._blocked():
            return None
        try:
            checks = nad.validate(self.lab, self.target, nodes=self.nodes if self.target is not None else None)
            rendered = nad.render(self.lab)
        except SpkRunbookError as exc:
            self.output.value = common.error_html(exc)
            return None
        if self.step is not None and hasattr(self.step, "save"):
            self.step.save(rendered, under="form")
        files = "".join(f"<p><code>{html.escape(n)}</code></p><pre>{html.escape(t)}</pre>" for n, t in rendered.files_by_name.items())
        self.output.value = checks._repr_html_() + files + f"<pre>{html.escape(rendered.commands)}</pre>"
        return rendered

    def _write(self, what: str, action: Callable[[], Any]) -> Any:
        """Run a change to the cluster: valid fields first, then (writable target) the ticked ConfirmGate."""
        if self.target is None:
            self.output.value = common.error_html(SpkRunbookError(f"no target to {what}"))
            return None
        if self._blocked():
            return None
        if self.target.can_write and not self.gate.allow():  # a snapshot only plans: no confirmation needed
            self.output.value = (f"<b style='color:{common.AMBER}'>Tick the confirmation box first: "
                                 f"{html.escape(what.capitalize())} writes to the cluster.</b>")
            return None
        try:
            result = action()
        except SpkRunbookError as exc:
            self.output.value = common.error_html(exc)
            return None
        finally:
            self.confirm.value = False  # each write needs a fresh confirmation
        self.output.value = result._repr_html_()
        return result

    def apply(self) -> nad.ApplyResult | None:
        """Apply (or plan on a snapshot); on a cluster only after the confirmation box is ticked (unticked afterwards)."""
        return self._write("apply", lambda: nad.apply(self.lab, self._target(), force=self.force.value))

    def teardown(self) -> nad.TeardownResult | None:
        """Delete the lab's NADs spkrunbook manages (or plan it on a snapshot); confirmed like Apply."""
        return self._write("tear down", lambda: nad.teardown(self.lab, self._target()))

    def _target(self) -> Target:
        if self.target is None:  # _write refused already; this keeps the type honest
            raise SpkRunbookError("no target")
        return self.target

    def verify(self) -> nad.VerifyResult | None:
        """Read the NADs back and show them with the tmm.cniNetworks value."""
        if self.target is None:
            self.output.value = common.error_html(SpkRunbookError("no target to read from"))
            return None
        try:
            result = nad.verify(self.lab, self.target)
        except SpkRunbookError as exc:
            self.output.value = common.error_html(exc)
            return None
        self.output.value = result._repr_html_()
        return result


__all__ = ["NadForm"]
