"""Many labs, every night: a fleet file rendered as Kubernetes Jobs, records in an object store.

``model`` reads and validates the fleet file (every problem at once, with field
paths); ``render`` turns it into ConfigMaps, a ServiceAccount with the least RBAC,
and an Indexed Job or CronJob whose failure policy follows the runbook's exit codes;
``apply`` applies them with the NADs' reconcile rules through ``cluster.live``;
``runner`` is what each pod runs (its index, resumed on a retry) and ``status`` what
the store says of each lab.
"""

from __future__ import annotations

from .model import Fleet, FleetPlan, LabPlan, load

__all__ = ["Fleet", "FleetPlan", "LabPlan", "load"]
