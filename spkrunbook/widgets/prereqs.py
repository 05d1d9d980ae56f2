"""The prerequisites form: choose a params file, run the checks, see the table.

Logic lives in plain methods (``load``, ``check``) so tests drive it without a
browser; the widget tree only wires buttons to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w
from IPython.display import display

from .. import cluster, params, prereqs
from ..errors import SpkRunbookError
from ..results import Findings


def params_files(start: Path) -> list[str]:
    """``params/*.yaml`` next to the notebooks, for the dropdown."""
    for base in (start, *start.parents):
        d = base / "params"
        if d.is_dir():
            return sorted(str(p) for p in d.glob("*.yaml"))
    return []


class PrereqsForm:
    """Params file dropdown, a Check button and the findings below."""

    def __init__(self, step: Any) -> None:
        self.step = step
        files = params_files(Path.cwd())
        if step.params_file and step.params_file not in files:
            files.insert(0, step.params_file)
        self.file = w.Dropdown(options=files, value=step.params_file or (files[0] if files else None), description="params", layout=w.Layout(width="60%"))
        self.check_button = w.Button(description="Check", button_style="primary", icon="check")
        self.message = w.HTML()
        self.out = w.Output()
        self.findings: Findings | None = None
        self.check_button.on_click(lambda _b: self.check())
        self.widget = w.VBox([w.HBox([self.file, self.check_button]), self.message, self.out])

    def load(self) -> params.Lab | None:
        try:
            lab = params.load(self.file.value)
        except SpkRunbookError as exc:
            self.message.value = f"<pre style='color:#cf222e'>{exc}</pre>"
            return None
        self.message.value = ""
        return lab

    def check(self) -> Findings | None:
        lab = self.load()
        if lab is None:
            return None
        self.message.value = "<i>checking ...</i>"
        try:
            target = cluster.connect(lab)
            self.findings = prereqs.run(lab, target)
        except SpkRunbookError as exc:
            self.message.value = f"<pre style='color:#cf222e'>{exc}</pre>"
            return None
        self.message.value = f"<b>{self.findings.summary()}</b>"
        self.out.clear_output()
        with self.out:
            display(self.findings)
        return self.findings
