"""Notebook 04 (debugging) executed for real by papermill on the demo lab."""

from __future__ import annotations

import re

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
    assert list(folder.glob("captures/*.pcap")) and list(folder.glob("captures/*.svg"))
    assert not list(folder.glob("captures/*.png")), "each picture once, as SVG"
    assert not run.errors()
    text = run.text()
    assert "10.1.10.100" in text and "image/png" not in text
    # the notebook sits in the record: its gallery links to the step's SVG files, each of which exists
    srcs = set(re.findall(r'<img src=\\"(debugging/captures/[^"\\]+\.svg)\\"', text))
    assert srcs and all((run.record / s).is_file() for s in srcs), srcs
