"""What a runbook notebook calls first and last: the step context.

A notebook's second cell is ``step = notebook.start("prerequisites", params_file, record_dir)``;
it validates the params (the same validation as headless runs), connects the
target, and gives the notebook a place to save artifacts. The last cell is
``step.finish(findings)``: it writes ``steps/<name>.json`` into the record (the
runbook copies it into the notebook's ``metadata.spkrunbook``) and raises
``StepFailed`` when a finding failed, so papermill marks the notebook failed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from . import __version__, cluster, params
from .errors import SpkRunbookError
from .results import Findings
from .scrub import Scrubber

STEP_NOTEBOOKS: dict[str, str] = {
    "prerequisites": "01-prerequisites.ipynb",
    "network-attachments": "02-network-attachments.ipynb",
    "spk-install": "03-spk-install.ipynb",
    "debugging": "04-debugging.ipynb",
}


class StepSummary(dict):
    """What ``Step.finish`` returns: the step's JSON summary, shown as a short HTML block."""

    def _repr_html_(self) -> str:
        import html

        colour = "#1a7f37" if self["status"] == "passed" else "#cf222e"
        counts = {k: sum(f["counts"][k] for f in self["findings"]) for k in ("pass", "warn", "fail", "skip")}
        arts = "".join(f"<li><code>{html.escape(a['path'])}</code> ({a['bytes']:,} bytes)</li>" for a in self["artifacts"])
        return (
            f"<p><b>Step {html.escape(self['step'])}: <span style='color:{colour}'>{self['status'].upper()}</span></b> "
            f"({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, {counts['skip']} skip; "
            f"{self['duration_s']:.1f}s)</p><p>Saved in the lab record:</p><ul>{arts}</ul>"
        )


class StepFailed(SpkRunbookError):
    """A step's findings table has a failed row."""

    exit_code = 1


def _default_record_dir(lab: params.Lab, params_file: str) -> Path:
    """``records/`` beside the ``params/`` folder (the repo root), not beside the notebook."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(params_file).resolve().parent
    root = folder.parent if folder.name == "params" else Path.cwd()
    return root / "records" / f"{stamp}-{lab.lab}-interactive"


@dataclass
class Step:
    """One executing step: the lab, its target, and where its artifacts go."""

    name: str
    lab: params.Lab
    target: cluster.Target
    record_dir: Path
    scrubber: Scrubber
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)
    params_file: str = ""

    # -- artifacts ---------------------------------------------------------------------
    def path(self, relative: str) -> Path:
        p = self.record_dir / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def save_text(self, relative: str, text: str) -> Path:
        """Save a text artifact (scrubbed of every known secret) into the record."""
        p = self.path(relative)
        p.write_text(self.scrubber.text(text), encoding="utf-8")
        self._note(p)
        return p

    def save_bytes(self, relative: str, data: bytes) -> Path:
        p = self.path(relative)
        p.write_bytes(data)
        self._note(p)
        return p

    def save_figure(self, relative: str, fig: Any) -> Path:
        p = self.path(relative)
        fig.savefig(p, dpi=100, bbox_inches="tight")
        self._note(p)
        return p

    def save_json(self, relative: str, data: Any) -> Path:
        return self.save_text(relative, json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")

    def _note(self, p: Path) -> None:
        rel = str(p.relative_to(self.record_dir))
        self.artifacts = [a for a in self.artifacts if a["path"] != rel]
        self.artifacts.append({"path": rel, "bytes": p.stat().st_size})

    def save_findings(self, findings: Findings) -> Path:
        """Save a findings table as JSON and CSV under the step's folder."""
        slug = findings.title.lower().replace(" ", "-")
        self.save_text(f"{self.name}/{slug}.csv", findings.to_frame().to_csv(index=False))
        return self.save_json(f"{self.name}/{slug}.json", findings.to_dict())

    def overview(self) -> "pd.DataFrame":
        """The settings this step runs with (secrets masked) and the params' warnings."""
        import pandas as pd

        lab, info = self.lab, self.target.info()
        rows = [
            ("lab", lab.lab),
            ("target", f"{info.kind}: {info.name}"),
            ("record", str(self.record_dir)),
            ("internal network", f"{lab.networks.internal.namespace}/{lab.networks.internal.name} on {lab.networks.internal.master} ({lab.networks.internal.mode})"),
            ("external network", f"{lab.networks.external.namespace}/{lab.networks.external.name} on {lab.networks.external.master} ({lab.networks.external.mode})"),
            ("tmm.cniNetworks", lab.cni_networks),
            ("TMM", f"namespace {lab.tmm.namespace}, {lab.tmm.replicas} replica(s), {lab.tmm.cpu} CPU, nodes {lab.tmm.selector_string() or 'any'}"),
        ]
        rows += [("warning", str(w)) for w in lab.warnings()]
        return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")

    # -- end ---------------------------------------------------------------------------
    def finish(self, *findings: Findings, extra: dict[str, Any] | None = None) -> StepSummary:
        """Record the step's outcome; raise ``StepFailed`` when any finding failed."""
        ok = all(f.ok for f in findings)
        summary = StepSummary({
            "step": self.name,
            "status": "passed" if ok else "failed",
            "spkrunbook_version": __version__,
            "target": {"kind": self.target.kind, "name": self.target.info().name},
            "duration_s": round(time.time() - self.started, 3),
            "findings": [f.to_dict() for f in findings],
            "artifacts": self.artifacts,
            "data": {**self.data, **(extra or {})},
        })
        p = self.path(f"steps/{self.name}.json")
        p.write_text(self.scrubber.text(json.dumps(summary, indent=2, default=str)), encoding="utf-8")
        if not ok:
            failed = [r for f in findings for r in f.failed()]
            lines = "; ".join(f"{r.check}{' (' + r.subject + ')' if r.subject else ''}: {r.evidence}" for r in failed[:5])
            raise StepFailed(
                f"step {self.name!r} failed: {len(failed)} check(s) failed: {lines}",
                hint=failed[0].action if failed and failed[0].action else "see the findings table above",
            )
        return summary


def _short_errors() -> None:
    """Show our errors in a notebook as message + what to do, not a traceback wall.

    The error is still an ``error`` output with its name and message, so papermill
    marks the cell failed and the runbook reports it.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(sh: Any, etype: type, evalue: BaseException, tb: Any, tb_offset: Any = None) -> None:
        text = f"\x1b[1;31m{etype.__name__}\x1b[0m: {evalue}"
        sh._showtraceback(etype, evalue, [text])

    shell.set_custom_exc((SpkRunbookError,), handler)


def start(name: str, params_file: str, record_dir: str = "", *, target: cluster.Target | None = None) -> Step:
    """Validate the params, connect the target and open the step's place in the record."""
    _short_errors()
    lab = params.load(params_file)
    rec = Path(record_dir) if record_dir else _default_record_dir(lab, params_file)
    rec.mkdir(parents=True, exist_ok=True)
    tgt = target if target is not None else cluster.connect(lab)
    return Step(name=name, lab=lab, target=tgt, record_dir=rec.resolve(), scrubber=Scrubber.for_lab(lab), params_file=str(Path(params_file).resolve()))


def in_papermill() -> bool:
    """True when papermill (not a person) runs the kernel."""
    return bool(os.environ.get("SPKRUNBOOK_HEADLESS"))
