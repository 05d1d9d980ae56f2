"""Where cluster state comes from: ``connect(lab)`` returns a live or snapshot target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import RESOURCES, ExecResult, Obj, Resource, Target, TargetInfo, resource
from .snapshot import SnapshotTarget

if TYPE_CHECKING:
    from ..params import Lab


def connect(lab: "Lab") -> Target:
    """The target the params ask for; a live one is checked for reachability here."""
    if lab.target.kind == "snapshot":
        assert lab.target.snapshot is not None
        return SnapshotTarget(lab.target.snapshot)
    from .live import LiveTarget

    return LiveTarget.from_params(lab.target)


__all__ = ["RESOURCES", "ExecResult", "Obj", "Resource", "SnapshotTarget", "Target", "TargetInfo", "connect", "resource"]
