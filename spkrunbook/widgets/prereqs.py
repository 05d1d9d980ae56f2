"""The prerequisites form: choose a params file (and kube context), run the checks, see the table.

Logic lives in plain methods (``load``, ``check``) so tests drive it without a
browser; the widget tree only wires buttons to them.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from IPython.display import display

from .. import cluster, params
from ..errors import SpkRunbookError
from ..results import Findings
from ..steps import prereqs
from . import common


class PrereqsForm:
    """Params file dropdown, kube context for live targets, a Check button and the findings below."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.file = common.params_dropdown(step.params_file or None)
        choices = common.Choices.discover(step.lab, None)
        contexts, active = choices.contexts, choices.active_context
        self.context = w.Dropdown(
            options=contexts or ["(from the params)"],
            value=(step.lab.target.context or active) if contexts else "(from the params)",
            description="context",
            disabled=not contexts,
        )
        self.check_button = w.Button(description="Check", button_style="primary", icon="check")
        self.message = w.HTML()
        self.out = w.Output()
        self.findings: Findings | None = None
        self.result: prereqs.PrereqsResult | None = None
        self.lab: params.Lab | None = step.lab
        self.check_button.on_click(lambda _b: self.check())
        self.save = common.SaveAsNew(lambda: self.load() or step.lab, common.params_dir(step.params_file or None) or ".",
                                     dropdown=self.file)
        self.widget = w.VBox([w.HBox([self.file, self.context, self.check_button]), self.message, self.out, self.save.widget])

    def load(self) -> params.Lab | None:
        """The chosen params file, validated like a headless run (errors shown, not raised)."""
        try:
            lab = params.load(self.file.value)
        except SpkRunbookError as exc:
            self.message.value = common.error_html(exc)
            return None
        if lab.target.kind == "live" and not self.context.disabled:
            lab.target.context = self.context.value
        self.message.value = ""
        self.lab = lab
        return lab

    def check(self) -> Findings | None:
        lab = self.load()
        if lab is None:
            return None
        self.message.value = "<i>checking ...</i>"
        try:
            target = cluster.connect(lab)
            self.result = prereqs.run(lab, target)
        except SpkRunbookError as exc:
            self.message.value = common.error_html(exc)
            return None
        self.findings = self.result.checks
        self.message.value = f"<b>{self.findings.summary()}</b>"
        self.out.clear_output()
        with self.out:
            display(self.result)
        return self.findings
