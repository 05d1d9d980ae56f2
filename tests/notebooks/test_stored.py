"""The four notebooks as stored: the single source of truth, without outputs, thin, with one parameters cell."""

from __future__ import annotations

import nbformat
import pytest

from spkrunbook import bundle

STEPS = list(bundle.NOTEBOOKS)


@pytest.mark.parametrize("step", STEPS)
def test_stored_without_outputs_and_with_a_parameters_cell(step: str) -> None:
    nb = nbformat.read(str(bundle.notebook(step)), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "widgets" not in nb.metadata
    params_cells = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params_cells) == 1
    lines = [line for line in params_cells[0].source.splitlines() if line.strip()]
    assert [line.split("=")[0].strip() for line in lines] == ["params_file", "record", "interactive"]
    assert all("#" in line for line in lines)
    assert 'params_file = ""' in lines[0]
    assert f'spk.start("{step}", params_file, record)' in code[1].source
    assert code[-1].source.strip() == "step.finish(result)"


@pytest.mark.parametrize("step", STEPS)
def test_cells_are_thin_narration_over_one_step_run(step: str) -> None:
    nb = nbformat.read(str(bundle.notebook(step)), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # One or two library calls per cell; the procedure is the step's run(), called once.
    assert all(len([line for line in c.source.splitlines() if line.strip()]) <= 6 for c in code)
    runs = [c for c in code if ".run(step.lab, step.target" in c.source]
    assert len(runs) == 1
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert len(markdown) >= 4  # narration, not a script


def test_notebook_files_are_the_package_data_only() -> None:
    # One source of truth: no generator scripts, no second copy of the notebooks.
    from tests.support import paths

    assert not list((paths.ROOT / "scripts").glob("make_notebook_*.py"))
    assert sorted(p.name for p in bundle.notebooks_dir().glob("*.ipynb")) == sorted(bundle.NOTEBOOKS.values())
    assert not (paths.ROOT / "notebooks").exists()
