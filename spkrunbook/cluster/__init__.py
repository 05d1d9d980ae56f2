"""Where cluster state comes from: ``connect(lab)`` returns a live or snapshot target.

``base`` is the Target protocol and resource names; ``live`` the only module that
imports the Kubernetes client; ``snapshot`` must-gather folders read offline;
``facts`` what the cluster says about the lab; ``reconcile`` the create / unchanged
/ update / refuse / plan rules every written kind follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SnapshotError
from .base import RESOURCES, ExecResult, Obj, Resource, Target, TargetInfo, WritableTarget, can_write, resource
from .snapshot import SnapshotTarget

if TYPE_CHECKING:
    from ..params import Lab


def connect(lab: Lab, *, check: bool = True) -> Target:
    """The target the params ask for; with ``check`` a live one is asked ``GET /version`` once here.

    A notebook run by ``spkrunbook run`` passes ``check=False``: the run already
    checked, so each kernel builds its client without another round trip.
    """
    if lab.target.kind == "snapshot":
        if lab.target.snapshot is None:
            raise SnapshotError("target.snapshot is not set", hint="set it to the folder oc adm must-gather wrote")
        return SnapshotTarget(lab.target.snapshot)
    from .live import LiveTarget

    return LiveTarget.from_params(lab.target, check=check)


__all__ = [
    "RESOURCES",
    "ExecResult",
    "Obj",
    "Resource",
    "SnapshotTarget",
    "Target",
    "TargetInfo",
    "WritableTarget",
    "can_write",
    "connect",
    "resource",
]
