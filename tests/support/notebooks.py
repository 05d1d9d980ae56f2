"""Run one runbook notebook for real (papermill, python3 kernel) the way ``spkrunbook run`` hands it a record."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spkrunbook import bundle, params
from spkrunbook import record as records
from spkrunbook.notebook import HEADLESS_ENV
from spkrunbook.secrets import Scrubber

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Executed:
    nb: Any
    summary: dict[str, Any]
    record: Path

    def outputs(self) -> list[dict[str, Any]]:
        return [o for c in self.nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]

    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs() if o.get("output_type") == "error"]

    def text(self) -> str:
        return json.dumps(self.outputs())


@contextmanager
def _env(values: dict[str, str], drop: tuple[str, ...] = ()) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in (*values, *drop)}
    os.environ.update(values)
    for k in drop:
        os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(step: str, lab: params.Lab | str | Path, tmp_path: Path, *, interactive: bool = False,
            expect_error: bool = False) -> Executed:
    """Make a record holding ``lab`` (as the runbook does), run the step's notebook into it, read it back."""
    import nbformat
    import papermill

    if not isinstance(lab, params.Lab):
        lab = params.load(lab)
    tmp_path.mkdir(parents=True, exist_ok=True)
    record = records.create(tmp_path / "records", lab.lab)
    records.write_lab(record, lab, Scrubber.for_lab(lab))
    out = record / bundle.NOTEBOOKS[step]
    env = lab.secret_environment()
    if not interactive:
        env[HEADLESS_ENV] = "1"
    with _env(env, drop=() if not interactive else (HEADLESS_ENV,)):
        try:
            papermill.execute_notebook(
                str(bundle.notebook(step)), str(out),
                parameters={"params_file": "", "record": str(record), "interactive": interactive},
                kernel_name="python3", cwd=str(record), progress_bar=False,
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except papermill.PapermillExecutionError:
            if not expect_error:
                raise
    summary_file = record / "steps" / f"{step}.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    return Executed(nbformat.read(str(out), as_version=4), summary, record)
