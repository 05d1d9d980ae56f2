"""notebooks/04-debugging.ipynb executed for real by papermill on the demo lab."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parents[1]
NB = ROOT / "notebooks" / "04-debugging.ipynb"


def test_notebook_shape():
    nb = nbformat.read(str(NB), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "from spkrunbook import notebook, debug" in "".join(c.source for c in nb.cells)


@pytest.mark.slow
def test_notebook_runs_headless_on_demo(tmp_path):
    import papermill as pm

    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(NB), str(out), kernel_name="python3", cwd=str(NB.parent), progress_bar=False,
                        parameters={"params_file": str(ROOT / "params/demo.yaml"), "record_dir": str(tmp_path),
                                    "interactive": False})
    summary = json.loads((tmp_path / "steps/debugging.json").read_text())
    rows = summary["findings"][0]["rows"]
    checks = {r["check"] for r in rows}
    assert {"attachment present", "interface up", "OVN routes via TMM", "packets seen", "TCP resets",
            "TCP retransmissions"} <= checks
    assert not [r for r in rows if r["status"] == "fail"]
    assert list(tmp_path.glob("debugging/captures/*.pcap")) and list(tmp_path.glob("debugging/captures/*.png"))
    text = out.read_text()
    assert "10.1.10.100" in text and "image/png" in text
