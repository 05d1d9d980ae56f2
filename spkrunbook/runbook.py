"""The runbook: validate, connect, then execute each step's notebook with papermill.

Reads like the seed's procedure: check the prerequisites, create the
NetworkAttachmentDefinitions, install SPK, debug. Each notebook runs in a real
kernel; its executed copy, an HTML rendering and its artifacts land in the lab
record, which is scrubbed of secrets before the run ends.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import papermill
from papermill.exceptions import PapermillExecutionError

from . import __version__, cluster, params, records
from .errors import SpkRunbookError
from .notebook import STEP_NOTEBOOKS
from .scrub import Scrubber

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"
# A cell that waits on the cluster bounds its own wait; this only stops a hung kernel.
CELL_TIMEOUT_S = 1800

Progress = Callable[[dict[str, Any]], None]


@dataclass
class StepOutcome:
    step: str
    status: str  # passed | failed | error | skipped
    duration_s: float = 0.0
    notebook: str = ""
    html: str = ""
    error: str = ""


@dataclass
class RunResult:
    record: Path
    lab: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status in ("passed", "skipped") for s in self.steps)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def notebook_path(step: str, notebook_dir: Path = NOTEBOOK_DIR) -> Path:
    return notebook_dir / STEP_NOTEBOOKS[step]


def _short_error(exc: PapermillExecutionError) -> str:
    return f"{exc.ename}: {exc.evalue}".strip()


def run(
    params_path: str | os.PathLike[str],
    *,
    records_root: Path = Path("records"),
    keep_going: bool = False,
    steps: list[str] | None = None,
    progress: Progress | None = None,
    notebook_dir: Path = NOTEBOOK_DIR,
) -> RunResult:
    """Run the lab's steps in order; stop at the first failure unless ``keep_going``.

    Raises ``ParameterError`` (bad params) or ``ClusterUnreachable`` before any
    notebook runs; step failures are reported in the result, not raised.
    """
    emit = progress or (lambda event: None)
    params_file = Path(params_path).resolve()
    lab = params.load(params_file)
    wanted = steps or lab.steps
    unknown = [s for s in wanted if s not in STEP_NOTEBOOKS]
    if unknown:
        raise params.ParameterError([params.Problem("steps", f"unknown step {s!r}; known: {', '.join(STEP_NOTEBOOKS)}") for s in unknown])
    target = cluster.connect(lab)  # unreachable live clusters fail here, before a kernel starts
    info = target.info()
    scrubber = Scrubber.for_lab(lab)

    # Absolute: the notebooks run with their own folder as the working directory.
    record = records.create(Path(records_root).resolve(), lab.lab)
    started = time.time()
    run_data: dict[str, Any] = {
        "lab": lab.lab,
        "description": lab.description,
        "status": "incomplete",
        "started": records.utc_now(),
        "ended": None,
        "duration_s": None,
        "params_file": str(params_file),
        "params": lab.scrubbed(),
        "warnings": [str(w) for w in lab.warnings()],
        "target": {"kind": info.kind, "name": info.name, **info.details},
        "steps": [],
        "versions": records.package_versions(),
        "command": records.argv_for_record(),
    }
    records.write_run(record, run_data, scrubber)
    shutil.copy2(params_file, record / "params.yaml")
    scrubber.file(record / "params.yaml")
    result = RunResult(record=record, lab=lab.lab)
    emit({"event": "run-start", "record": str(record), "steps": wanted, "lab": lab.lab})
    stop = False
    try:
        for index, step in enumerate(wanted, start=1):
            if stop:
                outcome = StepOutcome(step, "skipped", error="an earlier step failed (use --keep-going to run it anyway)")
            else:
                outcome = _run_step(step, index, len(wanted), params_file, record, scrubber, emit, notebook_dir, info.kind)
                if outcome.status != "passed" and not keep_going:
                    stop = True
            result.steps.append(outcome)
            run_data["steps"].append(outcome.__dict__)
            records.write_run(record, run_data, scrubber)
        run_data["status"] = "passed" if result.ok else "failed"
    except KeyboardInterrupt:
        run_data["status"] = "incomplete"
        run_data["interrupted"] = True
        raise
    finally:
        run_data["ended"] = records.utc_now()
        run_data["duration_s"] = round(time.time() - started, 2)
        records.scrub_tree(record, scrubber)
        records.write_run(record, run_data, scrubber)
        emit({"event": "run-end", "status": run_data["status"], "record": str(record)})
    return result


def _run_step(
    step: str,
    index: int,
    total: int,
    params_file: Path,
    record: Path,
    scrubber: Scrubber,
    emit: Progress,
    notebook_dir: Path,
    target_kind: str,
) -> StepOutcome:
    src = notebook_path(step, notebook_dir)
    out = record / src.name
    emit({"event": "step-start", "step": step, "index": index, "total": total})
    t0 = time.time()

    def on_cell_start(cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        first = (cell.source.strip().splitlines() or [""])[0][:70] if cell is not None else ""
        emit({"event": "cell", "step": step, "index": index, "total": total, "cell": cell_index + 1, "source": first, "elapsed": time.time() - t0})

    status, error = "passed", ""
    env_before = os.environ.get("SPKRUNBOOK_HEADLESS")
    os.environ["SPKRUNBOOK_HEADLESS"] = "1"
    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters={"params_file": str(params_file), "record_dir": str(record), "interactive": False},
            kernel_name=KERNEL,
            cwd=str(notebook_dir),
            progress_bar=False,
            execution_timeout=CELL_TIMEOUT_S,
            on_cell_start=on_cell_start,
            # ipykernel 7 warns on every start that loopback TCP is unencrypted; it is noise here.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as exc:
        status, error = "failed", _short_error(exc)
    except Exception as exc:  # noqa: BLE001 - a dead kernel or missing notebook fails this step, not the run
        status, error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        if env_before is None:
            os.environ.pop("SPKRUNBOOK_HEADLESS", None)
    duration = round(time.time() - t0, 2)
    html = ""
    if out.is_file():
        records.attach_step_metadata(
            out,
            record / "steps" / f"{step}.json",
            {"version": __version__, "step": step, "status": status, "target_kind": target_kind, "duration_s": duration},
        )
        scrubber.file(out)
        try:
            html = str(records.render_html(out, scrubber).name)
        except Exception as exc:  # noqa: BLE001 - an unrenderable notebook still leaves its .ipynb
            error = error or f"HTML rendering failed: {exc}"
    outcome = StepOutcome(step, status, duration, out.name if out.is_file() else "", html, scrubber.text(error))
    emit({"event": "step-end", "step": step, "index": index, "total": total, "status": status, "duration": duration, "error": outcome.error})
    return outcome


def validate(params_path: str | os.PathLike[str]) -> params.Lab:
    """Validate a params file only (raises ``ParameterError``)."""
    return params.load(params_path)


__all__ = ["RunResult", "StepOutcome", "run", "validate", "SpkRunbookError"]
