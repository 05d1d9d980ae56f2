"""ipywidgets forms bound to the Lab parameter model (interactive runs only).

Each form's module is imported when first used, so a notebook showing the prerequisites form
does not load the capture engine and matplotlib behind the capture form.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["common", "debug", "install", "nad", "prereqs"]

if TYPE_CHECKING:
    from . import common, debug, install, nad, prereqs


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
