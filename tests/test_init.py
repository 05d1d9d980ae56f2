"""The public API: what ``spkrunbook/__init__.py`` exports, that the notebooks use only it, and that it is lazy."""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import re
import subprocess
import sys

import pytest

import spkrunbook
from tests.support.paths import NOTEBOOKS_DIR

PUBLIC = [
    "CaptureForm", "CheckResult", "Findings", "InstallForm", "Lab", "NadForm", "ParameterError", "PrereqsForm",
    "Record", "RunResult", "SpkRunbookError", "Step", "StepResult", "Target", "__version__", "capture", "connect",
    "debug", "install", "load", "nad", "prereqs", "read_record", "run", "show_form", "start", "validate",
]


def test_the_exported_names_are_these_and_sorted() -> None:
    assert spkrunbook.__all__ == sorted(spkrunbook.__all__, key=_isort_key)
    assert spkrunbook.__all__ == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(spkrunbook, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        spkrunbook.nope  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = ("import sys, spkrunbook; heavy = [m for m in ('pandas', 'kubernetes', 'ipywidgets', 'matplotlib', "
            "'pyarrow', 'papermill') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_notebooks_import_only_the_public_api() -> None:
    for nb in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        used = set(re.findall(r"\bspk\.(\w+)", code))
        assert re.findall(r"^[ \t]*(?:from|import) spkrunbook\S*", code, re.M) == ["import spkrunbook"], nb.name
        assert used <= set(PUBLIC), (nb.name, used - set(PUBLIC))


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff (RUF022) keeps ``__all__`` in: CONSTANTS, then Classes, then functions and modules."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def _packages() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(spkrunbook.__path__, "spkrunbook.") if m.ispkg)


@pytest.mark.parametrize("name", _packages())
def test_every_subpackage_exports_through_a_sorted_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=_isort_key), name
    for attr in exported:  # a name, or a submodule imported when asked for
        assert hasattr(module, attr) or importlib.util.find_spec(f"{name}.{attr}"), f"{name}.__all__ names {attr!r}"


def test_all_names_every_lazy_export() -> None:
    assert set(spkrunbook.__all__) == {*spkrunbook._EXPORTS, "__version__"}
