"""The files that ship inside the package: the four notebooks, the demo lab, the templates.

Found through ``importlib.resources`` so a wheel installed anywhere finds them
without a repository checkout; the notebooks here are the single source of
truth (``spkrunbook init`` copies them into a lab folder, never the reverse).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The runbook's steps, in the order of F5's macvlan guide: the one list (params, the CLI and the
#: runbook ask it). A step is its notebook, so the list lives with the notebooks, and this module
#: imports nothing heavy: ``spkrunbook --help`` lists the steps without loading the params model.
STEPS: tuple[str, ...] = ("prerequisites", "network-attachments", "spk-install", "debugging")

#: Each step's notebook, named by its place in the runbook (``02-network-attachments.ipynb``).
NOTEBOOKS: dict[str, str] = {step: f"{n:02d}-{step}.ipynb" for n, step in enumerate(STEPS, start=1)}


def step_name(text: object) -> str | None:
    """The step a name or number means (``2``, ``02``, ``network-attachments``), or None."""
    s = str(text).strip()
    if s in STEPS:
        return s
    if s.isdigit() and 1 <= int(s) <= len(STEPS):
        return STEPS[int(s) - 1]
    return None


def _dir(name: str) -> Path:
    # Installed as ordinary files (setuptools package-data); a zipped install is not supported.
    return Path(str(resources.files("spkrunbook") / name))


def notebooks_dir() -> Path:
    """The folder of the four runbook notebooks."""
    return _dir("notebooks")


def notebook(step: str) -> Path:
    """The notebook that narrates ``step`` (a name from ``NOTEBOOKS``)."""
    return notebooks_dir() / NOTEBOOKS[step]


def demo_dir() -> Path:
    """The bundled demo lab: a must-gather snapshot, an ingress values file, captures."""
    return _dir("demo")


def demo_params() -> Path:
    """The demo lab's params file (target: the bundled snapshot)."""
    return demo_dir() / "demo.yaml"


def templates_dir() -> Path:
    return _dir("templates")


def lab_template() -> Path:
    """The documented params template ``spkrunbook init`` copies for a new lab."""
    return templates_dir() / "lab-template.yaml"
