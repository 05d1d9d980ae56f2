"""The files that ship inside the package: the four notebooks, the demo lab, the templates.

Found through ``importlib.resources`` so a wheel installed anywhere finds them
without a repository checkout; the notebooks here are the single source of
truth (``spkrunbook init`` copies them into a lab folder, never the reverse).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

NOTEBOOKS: dict[str, str] = {
    "prerequisites": "01-prerequisites.ipynb",
    "network-attachments": "02-network-attachments.ipynb",
    "spk-install": "03-spk-install.ipynb",
    "debugging": "04-debugging.ipynb",
}


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
