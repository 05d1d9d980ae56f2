"""Where the tests find the repository, the bundled demo lab and the notebooks (package data)."""

from __future__ import annotations

from pathlib import Path

from spkrunbook import bundle

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = bundle.demo_dir()
DEMO_PARAMS = bundle.demo_params()
NOTEBOOKS_DIR = bundle.notebooks_dir()
TEMPLATE = bundle.lab_template()
FIXTURES = ROOT / "tests" / "fixtures"
