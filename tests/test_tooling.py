"""The rules a tool enforces, run as tests so `make test` fails when one breaks.

ruff (lint) and mypy (types) over the whole tree (the package, tests, benchmarks and
scripts, as pyproject.toml lists them), and import-linter (the contracts in pyproject.toml:
only cluster.live imports kubernetes, capture stands alone, nothing below widgets imports
them, ...). Each runs the installed tool on the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    exe = BIN / name if (BIN / name).exists() else shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs it)")
    return str(exe)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_finds_nothing_in_the_whole_tree() -> None:
    done = _run([_tool("ruff"), "check", "--no-cache", "."])
    assert done.returncode == 0, done.stdout[-4000:]


@pytest.mark.slow
def test_mypy_finds_nothing_in_the_whole_tree() -> None:
    done = _run([_tool("mypy")])  # the files pyproject.toml names: spkrunbook, tests, benchmarks, scripts
    assert done.returncode == 0, done.stdout[-4000:]
    assert "spkrunbook" in done.stdout or "Success" in done.stdout


def test_import_contracts_are_kept() -> None:
    done = _run([_tool("lint-imports"), "--no-cache"])
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-4000:]
