"""The step context a runbook notebook opens first and closes last.

A notebook's second cell is ``step = notebook.start("prerequisites", params_file, record)``:

- under ``spkrunbook run`` (``record`` given), the lab comes from the record the
  run validated and wrote (``lab.json``), and the target is connected without a
  second reachability check: one validation and one ``GET /version`` per run;
- opened by a person, ``params_file`` is validated (empty: the one
  ``params/*.yaml`` beside the notebook, else the bundled demo lab) and the steps
  save into one record per notebook session, ``records/<time>-<lab>-interactive``
  in the lab folder (where ``spkrunbook run`` puts that lab's records too), with a
  ``run.json`` (``kind: interactive``) that lists the steps run so far; running a
  cell again reuses the session's record (or the ``record`` folder given).

The library never chooses record paths: ``step.save(result)`` writes a result's
``files()`` under the step's own folder, and ``step.finish(result)`` writes
``steps/<step>.json`` (which the runbook copies into ``metadata.spkrunbook``) and
raises ``StepFailed`` when a finding failed, so papermill marks the notebook failed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, bundle, cluster, display, params
from . import record as records
from .errors import ParameterError, Problem, RecordError, SpkRunbookError, StepFailed
from .progress import Progress
from .results import Findings, Result, StepResult, add_counts, verdict_text, verdict_word, worst, worst_line
from .secrets import Scrubber

HEADLESS_ENV = "SPKRUNBOOK_HEADLESS"


def in_papermill() -> bool:
    """True when papermill (not a person) runs the kernel."""
    return bool(os.environ.get(HEADLESS_ENV))


class StepSummary(dict[str, Any]):
    """What ``Step.finish`` returns: the step's JSON summary, shown as a short HTML block."""

    def _repr_html_(self) -> str:
        arts = "".join(f"<li><code>{display.esc(a['path'])}</code> ({a['bytes']:,} bytes)</li>" for a in self["artifacts"])
        loud = "".join(f"<li>{display.esc(worst_line(w))}</li>" for w in self["worst"])
        return (
            f"<p><b>Step {display.esc(self['step'])}</b> "
            f"{display.badge(verdict_word(self['verdict']), self['verdict'].upper())} "
            f"{display.counts_line(self['counts'])} ({self['duration_s']:.1f}s)</p>"
            + (f"<p>The loudest findings:</p><ul>{loud}</ul>" if loud else "")
            + f"<p>Saved in the lab record:</p><ul>{arts}</ul>"
        )

    def __repr__(self) -> str:
        return f"<step {self['step']}: {self['verdict']}>"


def default_params_file(start: Path | None = None) -> Path:
    """The params file a notebook opened by hand uses when none is named.

    ``params/*.yaml`` beside the notebook (the folder ``spkrunbook init`` writes):
    the only one, or the one named after the folder; otherwise the bundled demo lab.
    """
    here = (start or Path.cwd()).resolve()
    files = sorted(here.glob("params/*.yaml"))
    if len(files) == 1:
        return files[0]
    named = [f for f in files if f.stem == here.name]
    if named:
        return named[0]
    if files:
        raise ParameterError([Problem("params_file", f"{len(files)} params files in {here / 'params'}: "
                                                     + ", ".join(f.name for f in files))],
                             hint="set params_file in the notebook's parameters cell to the one to use")
    return bundle.demo_params()


def _interactive_root(params_file: Path) -> Path:
    """Where ``spkrunbook run`` would put this lab's records (``record.default_root``); a notebook opened
    inside the installed package itself writes under the home folder instead."""
    root = records.default_root(params_file)
    package = bundle.notebooks_dir().parent.resolve()
    if root.parent == package or package in root.parents:
        return Path.home() / "spkrunbook-records"
    return root


#: This kernel's interactive records, one per (records folder, lab): a cell run again reuses it.
_SESSION: dict[tuple[str, str], Path] = {}


def _session_record(root: Path, lab: params.Lab, target: cluster.Target, scrubber: Scrubber) -> Path:
    """The record this notebook session saves into, made (with its run.json) on the session's first step."""
    key = (str(root.resolve()), lab.lab)
    found = _SESSION.get(key)
    if found is not None and (found / records.RUN_FILE).is_file():
        return found
    record_dir = records.create(root, lab.lab, suffix="-interactive")
    info = target.info()
    records.write_lab(record_dir, lab, scrubber)
    records.write_run(record_dir, {
        "lab": lab.lab, "description": lab.description, "kind": "interactive", "status": "incomplete",
        "started": records.utc_now(), "ended": None, "duration_s": None, "params": lab.scrubbed(),
        "warnings": [str(w) for w in lab.warnings()], "target": {"kind": info.kind, "name": info.name, **info.details},
        "steps": [], "spkrunbook_version": __version__,
    }, scrubber)
    _SESSION[key] = record_dir
    return record_dir


@dataclass
class Step:
    """One executing step: the lab, its target, and the record it saves into."""

    name: str
    lab: params.Lab
    target: cluster.Target
    record_dir: Path
    scrubber: Scrubber
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)
    saved: list[int] = field(default_factory=list)
    params_file: str = ""  # the file a person's notebook loaded (empty under `spkrunbook run`)

    @property
    def folder(self) -> Path:
        """Where this step's files go: ``<record>/<step>/``."""
        return self.record_dir / self.name

    # -- saving ---------------------------------------------------------------------------------
    def save(self, result: Result | Findings, *, under: str = "") -> list[Path]:
        """Write a result's files under the step's folder (``under`` a subfolder, e.g. a form's), scrubbed."""
        self.scrubber.add(*getattr(result, "secrets", ()) or ())
        paths = []
        for relative, content in result.files().items():
            paths.append(self._write(f"{under}/{relative}" if under else relative, content))
        self.saved.append(id(result))
        return paths

    def _write(self, relative: str, content: str | bytes) -> Path:
        p = (self.folder / relative).resolve()
        if self.folder.resolve() not in p.parents:
            raise ValueError(f"{relative!r} would leave the step's folder")
        if isinstance(content, bytes):
            records.write_bytes(p, content)
        else:
            records.write_text(p, self.scrubber.text(content))
        rel = str(p.relative_to(self.record_dir.resolve()))
        self.artifacts = [a for a in self.artifacts if a["path"] != rel]
        self.artifacts.append({"path": rel, "bytes": p.stat().st_size})
        return p

    def progress(self, label: str, *, total: float | None = None, unit: str = "s") -> Progress:
        """A progress line for long work in this step (in place in Lab, throttled lines headless)."""
        return Progress(label, total=total, unit=unit)

    def overview(self) -> display.Table:
        """The settings this step runs with (secrets masked) and the params' warnings."""
        import pandas as pd

        lab, info = self.lab, self.target.info()
        i, e = lab.networks.internal, lab.networks.external
        rows = [
            ("lab", lab.lab),
            ("target", f"{info.kind}: {info.name}"),
            ("record", str(self.record_dir)),
            ("internal network", f"{i.namespace}/{i.name} on {i.master} ({i.mode})"),
            ("external network", f"{e.namespace}/{e.name} on {e.master} ({e.mode})"),
            ("tmm.cniNetworks", lab.cni_networks),
            ("TMM", f"namespace {lab.tmm.namespace}, {lab.tmm.replicas} replica(s), {lab.tmm.cpu} CPU, "
                    f"nodes {lab.tmm.selector_string() or 'any'}"),
        ]
        rows += [("warning", str(w)) for w in lab.warnings()]
        return display.Table(pd.DataFrame(rows, columns=["setting", "value"]), title=f"step {self.name}",
                             status_column=None)

    def _note_in_session(self, summary: dict[str, Any]) -> None:
        """An interactive record's run.json lists the steps run so far (a headless run writes its own)."""
        run = records.read_run(self.record_dir)
        if not run or run.get("kind") != "interactive":
            return
        entry = {k: summary[k] for k in ("step", "status", "verdict", "counts", "worst", "duration_s")}
        steps = [s for s in run.get("steps") or [] if isinstance(s, dict) and s.get("step") != self.name] + [entry]
        steps.sort(key=lambda s: bundle.STEPS.index(s["step"]) if s.get("step") in bundle.STEPS else len(bundle.STEPS))
        counts = add_counts(*(s.get("counts") or {} for s in steps))
        status = "passed" if all(s.get("status") == "passed" for s in steps) else "failed"
        started = run.get("started")
        run.update(steps=steps, counts=counts, status=status, verdict=verdict_text(status, counts),
                   worst=worst(w for s in steps for w in s.get("worst") or []), ended=records.utc_now())
        if isinstance(started, str):
            from datetime import datetime

            t0 = datetime.fromisoformat(started.replace("Z", "+00:00"))
            run["duration_s"] = round((datetime.fromisoformat(run["ended"].replace("Z", "+00:00")) - t0).total_seconds(), 1)
        records.write_run(self.record_dir, run, self.scrubber)
        try:
            records.write_run_index(self.record_dir)
            records.write_records_index(self.record_dir.parent)
        except RecordError:  # the pages are a convenience; the record itself is written
            pass

    def gallery(self, result: Any, title: str = "") -> display.Gallery:
        """The result's pictures (``result.figure_sections()``), a section each, side by side.

        Under ``spkrunbook run`` the notebook is saved in the record beside this step's folder, so
        the gallery links to the SVG files the step saves there: each picture is stored once, and
        it may still be drawing while the notebook goes on (``finish`` waits for it). Opened by a
        person, the pictures are shown themselves.
        """
        linked = in_papermill() and Path.cwd().resolve() == self.record_dir.resolve()
        return display.Gallery(result.figure_sections(), f"{self.name}/" if linked else None, title)

    # -- end ------------------------------------------------------------------------------------
    def finish(self, result: Result | Findings, *more: Result | Findings, extra: dict[str, Any] | None = None) -> StepSummary:
        """Save what is not saved yet, record the step's outcome; raise ``StepFailed`` when a finding failed."""
        results = (result, *more)
        for r in results:
            if id(r) not in self.saved:
                self.save(r)
        tables = [t for r in results for t in _tables(r)]
        ok = all(t.ok for t in tables)
        status = "passed" if ok else "failed"
        counts = add_counts(*(t.counts() for t in tables))
        data = {**self.data, **(extra or {})}
        for r in results:
            if hasattr(r, "to_dict") and not isinstance(r, Findings):
                data.setdefault("result", r.to_dict())
        summary = StepSummary({
            "step": self.name,
            "status": status,
            "verdict": verdict_text(status, counts),
            "counts": counts,
            "worst": worst((asdict(row) for t in tables for row in t.rows), step=self.name),
            "spkrunbook_version": __version__,
            "target": {"kind": self.target.kind, "name": self.target.info().name},
            "duration_s": round(time.time() - self.started, 3),
            "findings": [t.to_dict() for t in tables],
            "artifacts": self.artifacts,
            "data": data,
        })
        records.write_text(self.record_dir / records.STEPS_DIR / f"{self.name}.json",
                           self.scrubber.text(json.dumps(summary, indent=2, default=str)))
        self._note_in_session(summary)
        if not ok:
            failed = [r for t in tables for r in t.failed()]
            lines = "; ".join(f"{r.check}{' (' + r.subject + ')' if r.subject else ''}: {r.evidence}" for r in failed[:5])
            raise StepFailed(
                f"step {self.name!r} failed: {len(failed)} check(s) failed: {lines}",
                hint=failed[0].action if failed and failed[0].action else "see the findings table above",
            )
        return summary


def _tables(result: Any) -> list[Findings]:
    """The findings tables of a result: a step result's own list, else its findings."""
    if isinstance(result, StepResult):
        return result.tables or [result.findings]
    return [result.findings]


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


def start(name: str, params_file: str = "", record: str = "", *, target: cluster.Target | None = None) -> Step:
    """Open the step: the lab (from the run's record, or validated from a params file), its target, its folder."""
    _short_errors()
    loaded = ""
    if record and (Path(record) / records.LAB_FILE).is_file():
        rec = records.read(record)
        lab = rec.lab()
        tgt = target if target is not None else cluster.connect(lab, check=False)
        record_dir = rec.path
    elif record:  # a person chose where this step's files go
        path = Path(params_file).expanduser() if params_file else default_params_file()
        lab = params.load(path)
        loaded = str(path.resolve())
        tgt = target if target is not None else cluster.connect(lab)
        record_dir = Path(record)
        try:
            record_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise records.os_error("create the record folder", record_dir, exc) from None
        records.write_lab(record_dir, lab, Scrubber.for_lab(lab))
    else:
        path = Path(params_file).expanduser() if params_file else default_params_file()
        lab = params.load(path)
        loaded = str(path.resolve())
        tgt = target if target is not None else cluster.connect(lab)
        record_dir = _session_record(_interactive_root(path), lab, tgt, Scrubber.for_lab(lab))
    return Step(name=name, lab=lab, target=tgt, record_dir=record_dir.resolve(), scrubber=Scrubber.for_lab(lab),
                params_file=loaded)
