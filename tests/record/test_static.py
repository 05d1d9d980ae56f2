"""Records are static: executed notebooks read without widget state and never hold a typed secret.

* every notebook that exists, run by papermill headless (``interactive=False``),
  has only static result outputs (HTML tables, PNG plots, text, markdown), no
  widget view and no ``metadata.widgets``; so do the records ``runbook.run`` writes;
* with ``SPKRUNBOOK_HEADLESS`` set, even ``interactive=True`` shows no form when the
  notebook displays it through ``spk.show_form`` (``widgets.common.show``);
* a password typed into a form (``common.SecretField``) is not in the widget state
  nbclient saves (the same state Lab saves) nor in any output, while a plain
  ``ipywidgets.Password`` is: the check can tell the two apart.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from nbclient import NotebookClient

from spkrunbook import runbook
from spkrunbook.bundle import NOTEBOOKS as STEP_NOTEBOOKS
from tests.support import paths
from tests.support.paths import DEMO_PARAMS, NOTEBOOKS_DIR

pytestmark = pytest.mark.slow

REPO = paths.ROOT
NOTEBOOKS = NOTEBOOKS_DIR
DEMO = DEMO_PARAMS
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC = {"text/plain", "text/html", "text/markdown", "image/png", "image/svg+xml", "image/jpeg"}
EXISTING = [step for step, nb in STEP_NOTEBOOKS.items() if (NOTEBOOKS / nb).is_file()]
TYPED_SECRET = "Typed-Pa55word-DO-NOT-STORE-93"


def result_outputs(nb: nbformat.NotebookNode) -> Iterator[dict[str, Any]]:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out["output_type"] in ("display_data", "execute_result"):
                yield out


def static_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Why a notebook would not read without widget state (empty when it would)."""
    problems = []
    if "widgets" in nb.metadata:
        problems.append("metadata.widgets is present")
    for n, out in enumerate(result_outputs(nb)):
        kinds = set(out.get("data", {}))
        if WIDGET_VIEW in kinds:
            problems.append(f"output {n} is a widget view")
        elif not kinds <= STATIC:
            problems.append(f"output {n} has non-static types {sorted(kinds - STATIC)}")
    return problems


def has_table(nb: nbformat.NotebookNode) -> bool:
    return any("<table" in out.get("data", {}).get("text/html", "") for out in result_outputs(nb))


@pytest.fixture
def headless_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPKRUNBOOK_HEADLESS", "1")


@pytest.mark.parametrize("step", EXISTING)
def test_headless_papermill_run_is_static(step, tmp_path, headless_env):
    out = tmp_path / STEP_NOTEBOOKS[step]
    papermill.execute_notebook(
        str(NOTEBOOKS / STEP_NOTEBOOKS[step]), str(out), kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
        parameters={"params_file": str(DEMO), "record": str(tmp_path / "record"), "interactive": False},
    )
    nb = nbformat.read(out, as_version=4)
    assert static_problems(nb) == []
    assert has_table(nb), "a headless run shows its results as HTML tables"


@pytest.mark.parametrize("step", EXISTING)
def test_headless_guard_hides_forms_even_when_interactive_is_true(step, tmp_path, headless_env):
    source = (NOTEBOOKS / STEP_NOTEBOOKS[step]).read_text(encoding="utf-8")
    assert re.search(r"\bshow_form\(", source), (
        f"{STEP_NOTEBOOKS[step]} must display its form with `form = spk.show_form(spk.FormClass, interactive, step)`: "
        "headless it builds no widget at all")
    out = tmp_path / STEP_NOTEBOOKS[step]
    papermill.execute_notebook(
        str(NOTEBOOKS / STEP_NOTEBOOKS[step]), str(out), kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
        parameters={"params_file": str(DEMO), "record": str(tmp_path / "record"), "interactive": True},
    )
    assert static_problems(nbformat.read(out, as_version=4)) == []


def test_runbook_records_are_static(tmp_path):
    result = runbook.run(DEMO, records_root=tmp_path, steps=EXISTING, keep_going=True)
    written = sorted(result.record.glob("*.ipynb"))
    assert [p.name for p in written] == sorted(STEP_NOTEBOOKS[s] for s in EXISTING)
    for ipynb in written:
        nb = nbformat.read(ipynb, as_version=4)
        assert static_problems(nb) == [], ipynb.name
        assert has_table(nb), ipynb.name
        html = ipynb.with_suffix(".html").read_text(encoding="utf-8")
        assert WIDGET_VIEW not in html and "<table" in html


# -- a typed password never reaches widget state or outputs ----------------------------------------------

FORM_CELLS = {
    "secret_form": """
        import os
        from spkrunbook.widgets import common
        field = common.SecretField("registry password")
        common.show(field, True)
        field.input.value = os.environ["TYPED"]  # what the front end sends when the person presses Enter
        print("set:", field.is_set)
        field
    """,
    "plain_password": """
        import os
        import ipywidgets as w
        field = w.Password(description="registry password")
        display(field)
        field.value = os.environ["TYPED"]
    """,
}


def run_form(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[nbformat.NotebookNode, str]:
    """Execute a tiny purpose-named notebook the way a Lab session saves it (widget state stored)."""
    monkeypatch.delenv("SPKRUNBOOK_HEADLESS", raising=False)
    monkeypatch.setenv("TYPED", TYPED_SECRET)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(textwrap.dedent(FORM_CELLS[name]).strip()))
    NotebookClient(nb, kernel_name="python3", store_widget_state=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return nb, path.read_text(encoding="utf-8")


def test_secret_field_value_is_not_in_saved_widget_state_or_outputs(tmp_path, monkeypatch):
    nb, text = run_form(tmp_path, "secret_form", monkeypatch)
    assert "set: True" in text  # the kernel has it
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    passwords = [m for m in state.values() if m["model_name"] == "PasswordModel"]
    assert passwords and all(m["state"]["value"] == "" for m in passwords)
    assert TYPED_SECRET not in text


def test_a_plain_password_widget_would_leak(tmp_path, monkeypatch):
    """The check above can fail: an ipywidgets.Password keeps what was typed in saved state."""
    nb, _text = run_form(tmp_path, "plain_password", monkeypatch)
    assert TYPED_SECRET in json.dumps(nb.metadata["widgets"])
    assert os.environ["TYPED"] == TYPED_SECRET
