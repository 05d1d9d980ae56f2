"""Notebook 04 (debugging) executed for real by papermill on the demo lab."""

from __future__ import annotations

import pytest

from tests.support.notebooks import execute
from tests.support.paths import DEMO_PARAMS


@pytest.mark.slow
def test_notebook_runs_headless_on_demo(tmp_path):
    run = execute("debugging", DEMO_PARAMS, tmp_path)
    rows = run.summary["findings"][0]["rows"]
    checks = {r["check"] for r in rows}
    assert {"attachment present", "interface up", "OVN routes via TMM", "packets seen", "TCP resets",
            "TCP retransmissions"} <= checks
    assert not [r for r in rows if r["status"] == "fail"]
    folder = run.record / "debugging"
    assert list(folder.glob("captures/*.pcap")) and list(folder.glob("captures/*.png"))
    assert not run.errors()
    text = run.text()
    assert "10.1.10.100" in text and "image/png" in text
