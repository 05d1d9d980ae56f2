"""The four steps of the runbook, one module each, in the order of F5's macvlan guide.

Each is imported when first used (``spkrunbook.steps.prereqs``, or ``steps.debug`` as an
attribute), so a notebook that checks the prerequisites does not load the capture engine and
matplotlib that only the debugging step needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["debug", "install", "nad", "prereqs"]

if TYPE_CHECKING:
    from . import debug, install, nad, prereqs


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
