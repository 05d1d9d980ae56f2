"""Lab records: one folder per run, self-contained, readable in a browser, secret-free.

``records/<UTC time>-<lab>/`` holds each executed notebook (.ipynb and .html),
every artifact the steps saved, and ``run.json`` (lab, scrubbed params, target,
start/end, per-step status and duration, package versions). A record is created
with an atomic ``mkdir`` so two runs never share one, and marked ``incomplete``
until the run ends, so an interrupted run is visible as such.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd

from .scrub import Scrubber

RUN_FILE = "run.json"
PACKAGES = ("spkrunbook", "papermill", "nbclient", "nbconvert", "kubernetes", "pandas", "numpy", "matplotlib", "ipywidgets", "ruamel.yaml")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def create(records_root: Path, lab_name: str) -> Path:
    """A new, empty record folder; never reuses an existing one."""
    records_root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        name = f"{stamp}-{lab_name}" + ("" if n == 1 else f"-{n}")
        path = records_root / name
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"could not create a record folder under {records_root}")


def write_run(record: Path, data: dict[str, Any], scrubber: Scrubber) -> None:
    """Write run.json atomically (a reader never sees half a file)."""
    tmp = record / f".{RUN_FILE}.{os.getpid()}.tmp"
    tmp.write_text(scrubber.text(json.dumps(data, indent=2, default=str)) + "\n", encoding="utf-8")
    os.replace(tmp, record / RUN_FILE)


def read_run(record: Path) -> dict[str, Any] | None:
    try:
        return json.loads((record / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def render_html(ipynb: Path, scrubber: Scrubber) -> Path:
    """An HTML rendering that opens without a server (images are embedded)."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = HTMLExporter(embed_images=True).from_notebook_node(nb)
    out = ipynb.with_suffix(".html")
    out.write_text(scrubber.text(body), encoding="utf-8")
    return out


def attach_step_metadata(ipynb: Path, step_json: Path | None, extra: dict[str, Any]) -> None:
    """Put the step's result under ``metadata.spkrunbook`` so code can read a record back."""
    nb = nbformat.read(ipynb, as_version=4)
    meta: dict[str, Any] = dict(extra)
    if step_json is not None and step_json.is_file():
        meta["result"] = json.loads(step_json.read_text(encoding="utf-8"))
    # Widget state can hold what a person typed; records keep static outputs only.
    nb.metadata.pop("widgets", None)
    nb.metadata["spkrunbook"] = meta
    nbformat.write(nb, ipynb)


def scrub_tree(record: Path, scrubber: Scrubber) -> list[Path]:
    """Scrub every text file of a record in place; returns files that changed."""
    changed = []
    for p in sorted(record.rglob("*")):
        if p.is_file() and p.suffix in {".ipynb", ".html", ".json", ".yaml", ".yml", ".txt", ".log", ".csv", ".md", ".diff", ".sh"}:
            if scrubber.file(p):
                changed.append(p)
    return changed


@dataclass
class RecordSummary:
    path: Path
    data: dict[str, Any] | None

    @property
    def status(self) -> str:
        if not self.data:
            return "incomplete"
        return str(self.data.get("status", "incomplete"))


def list_records(records_root: Path) -> pd.DataFrame:
    """Past runs, newest first, as a table."""
    rows = []
    if records_root.is_dir():
        for d in sorted((p for p in records_root.iterdir() if p.is_dir()), reverse=True):
            data = read_run(d)
            steps = (data or {}).get("steps", [])
            rows.append(
                {
                    "record": d.name,
                    "lab": (data or {}).get("lab", "?"),
                    "target": ((data or {}).get("target") or {}).get("name", "?"),
                    "status": (data or {}).get("status", "incomplete"),
                    "steps": " ".join(f"{s['step']}:{s['status']}" for s in steps),
                    "started": (data or {}).get("started", ""),
                    "duration_s": (data or {}).get("duration_s", ""),
                }
            )
    return pd.DataFrame(rows, columns=["record", "lab", "target", "status", "steps", "started", "duration_s"])


def argv_for_record() -> list[str]:
    return [os.path.basename(sys.argv[0])] + sys.argv[1:]
