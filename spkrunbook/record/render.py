"""What a record holds besides data: the executed notebooks as HTML and their ``metadata.spkrunbook``."""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from ..secrets import Scrubber
from .store import write_text

#: Text files of a record the final scrub pass reads.
TEXT_SUFFIXES = {".ipynb", ".html", ".json", ".yaml", ".yml", ".txt", ".log", ".csv", ".md", ".diff", ".sh", ".svg"}


_EXPORTER_LOCK = threading.Lock()


def _exporter() -> Any:
    """nbconvert's HTML exporter with the ``record`` template, made once: its templates are compiled once
    for the four notebooks of a run, not for each (a second thread waits for the first)."""
    with _EXPORTER_LOCK:
        return _make_exporter()


def warm_renderer() -> threading.Thread:
    """Load nbconvert and compile the record template on a thread: a run does it while its first kernel
    boots, so the first step's HTML does not wait for it."""
    def warm() -> None:
        import nbformat

        from .. import display

        _exporter().from_notebook_node(nbformat.v4.new_notebook(), resources={"spk_table_css": display.TABLE_CSS})

    thread = threading.Thread(target=warm, name="spkrunbook-warm-renderer", daemon=True)
    thread.start()
    return thread


@cache
def _make_exporter() -> Any:
    from nbconvert import HTMLExporter

    from .. import bundle

    return HTMLExporter(embed_images=True, template_name="record",
                        extra_template_basedirs=[str(bundle.templates_dir() / "nbconvert")])


def render_html(ipynb: Path, scrubber: Scrubber) -> Path:
    """An HTML rendering that opens without a server and without the network: JupyterLab's layout with
    the record's own small stylesheet (the ``record`` template), no scripts; markdown images embedded,
    figures linked beside it as the notebook links them."""
    import nbformat

    from .. import display

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = _exporter().from_notebook_node(nb, resources={"spk_table_css": display.TABLE_CSS})
    out = ipynb.with_suffix(".html")
    write_text(out, scrubber.text(body))
    return out


def attach_step_metadata(ipynb: Path, step_json: Path | None, extra: dict[str, Any]) -> None:
    """Put the step's result under ``metadata.spkrunbook`` so code can read a record back."""
    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    meta: dict[str, Any] = dict(extra)
    if step_json is not None and step_json.is_file():
        meta["result"] = json.loads(step_json.read_text(encoding="utf-8"))
    # Widget state can hold what a person typed; records keep static outputs only.
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # papermill names the cell it injects at random: the same run gives the same file
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
    nb.metadata["spkrunbook"] = meta
    write_text(ipynb, nbformat.writes(nb))


def scrub_tree(record: Path, scrubber: Scrubber) -> list[Path]:
    """Scrub every text file of a record in place; returns files that changed."""
    changed = []
    for p in sorted(record.rglob("*")):
        if p.is_file() and p.suffix in TEXT_SUFFIXES and scrubber.file(p):
            changed.append(p)
    return changed
