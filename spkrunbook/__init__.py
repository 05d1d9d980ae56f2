"""spkrunbook: Jupyter runbooks for F5 SPK on OpenShift with macvlan networking.

The library behind four notebooks (prerequisites, NetworkAttachmentDefinitions,
SPK install, debugging). This module is its public API: the names in ``__all__``
are what notebooks and users import, and stay put; everything else may move.

    import spkrunbook as spk

    step = spk.start("prerequisites", params_file, record)   # the step context a notebook opens
    result = spk.prereqs.run(step.lab, step.target)           # steps: prereqs, nad, install, debug
    spk.show_form(spk.PrereqsForm, interactive, step)         # a form in JupyterLab, nothing headless
    step.finish(result)                                       # the verdict, saved in the lab record

    lab = spk.load("params/mylab.yaml")      # validated once, every problem at once (ParameterError)
    run = spk.run(lab)                       # the whole runbook headless; run.verdict, run.exit_code
    rec = spk.read_record(run.record)        # a lab record read back by code
    df = spk.capture.read_capture("x.pcap")  # the capture engine on its own

Names are loaded on first use, so ``import spkrunbook`` (and ``spkrunbook --version``)
costs nothing: pandas, the Kubernetes client and ipywidgets load only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> (module, attribute); attribute None: the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "CaptureForm": ("spkrunbook.widgets.debug", "CaptureForm"),
    "CheckResult": ("spkrunbook.results", "CheckResult"),
    "Findings": ("spkrunbook.results", "Findings"),
    "InstallForm": ("spkrunbook.widgets.install", "InstallForm"),
    "Lab": ("spkrunbook.params", "Lab"),
    "NadForm": ("spkrunbook.widgets.nad", "NadForm"),
    "ParameterError": ("spkrunbook.errors", "ParameterError"),
    "PrereqsForm": ("spkrunbook.widgets.prereqs", "PrereqsForm"),
    "Record": ("spkrunbook.record.store", "Record"),
    "RunResult": ("spkrunbook.runbook", "RunResult"),
    "SpkRunbookError": ("spkrunbook.errors", "SpkRunbookError"),
    "Step": ("spkrunbook.notebook", "Step"),
    "StepResult": ("spkrunbook.results", "StepResult"),
    "Target": ("spkrunbook.cluster.base", "Target"),
    "capture": ("spkrunbook.capture", None),
    "connect": ("spkrunbook.cluster", "connect"),
    "debug": ("spkrunbook.steps.debug", None),
    "install": ("spkrunbook.steps.install", None),
    "load": ("spkrunbook.params", "load"),
    "nad": ("spkrunbook.steps.nad", None),
    "prereqs": ("spkrunbook.steps.prereqs", None),
    "read_record": ("spkrunbook.record.store", "read"),
    "run": ("spkrunbook.runbook", "run"),
    "show_form": ("spkrunbook.widgets.common", "show"),
    "start": ("spkrunbook.notebook", "start"),
    "validate": ("spkrunbook.runbook", "validate"),
}

__all__ = [
    "CaptureForm",
    "CheckResult",
    "Findings",
    "InstallForm",
    "Lab",
    "NadForm",
    "ParameterError",
    "PrereqsForm",
    "Record",
    "RunResult",
    "SpkRunbookError",
    "Step",
    "StepResult",
    "Target",
    "__version__",
    "capture",
    "connect",
    "debug",
    "install",
    "load",
    "nad",
    "prereqs",
    "read_record",
    "run",
    "show_form",
    "start",
    "validate",
]


def __getattr__(name: str) -> Any:
    # importlib, not import statements: the package root depends on nothing until a name is used,
    # so no layer of the package imports the CLI or the forms through it.
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'spkrunbook' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from . import capture
    from .cluster import connect
    from .cluster.base import Target
    from .errors import ParameterError, SpkRunbookError
    from .notebook import Step, start
    from .params import Lab, load
    from .record.store import Record
    from .record.store import read as read_record
    from .results import CheckResult, Findings, StepResult
    from .runbook import RunResult, run, validate
    from .steps import debug, install, nad, prereqs
    from .widgets.common import show as show_form
    from .widgets.debug import CaptureForm
    from .widgets.install import InstallForm
    from .widgets.nad import NadForm
    from .widgets.prereqs import PrereqsForm
