"""The headless runbook: the procedure of F5's "Macvlan Network Configuration" guide, one notebook per step, each in a real kernel.

``run`` reads like the document it implements: connect to the cluster once,
check everything knowable before anything is written, open a lab record, then
check the prerequisites, create the NetworkAttachmentDefinitions, install SPK,
debug; each step's executed notebook, HTML and files land in the record, which
is scrubbed of secrets before the run ends, whatever ends it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import __version__, bundle, cluster, kernels, params
from . import record as records
from . import resume as resuming
from .errors import HungUp, ParameterError, Problem, RecordError, SnapshotError, SpkRunbookError, Terminated
from .notebook import HEADLESS_ENV
from .results import WORST, add_counts, verdict_text, worst
from .secrets import Scrubber

if TYPE_CHECKING:
    from .cluster.base import Target

# ipykernel 7 warns on every start that loopback TCP is unencrypted; it is noise here.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)
# How many steps' kernels boot beside the running step (launched once its own kernel is up): two, so a
# short step's successor is ready too.
KERNELS_AHEAD = 1
# A cell that waits on the cluster bounds its own wait; this only stops a hung kernel.
CELL_TIMEOUT_S = 1800

Progress = Callable[[dict[str, Any]], None]


@dataclass
class StepError:
    """Why a step did not pass: the error's class (for code), what to read, what to do, where."""

    name: str
    message: str
    hint: str = ""
    cell: int | None = None

    def line(self) -> str:
        return self.message + (f"\n  what to do: {self.hint}" if self.hint else "")


@dataclass
class StepOutcome:
    step: str
    status: str  # passed | failed | error | skipped | interrupted
    duration_s: float = 0.0
    notebook: str = ""
    html: str = ""
    error: StepError | None = None
    counts: dict[str, int] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``passed, 2 warnings``: the status with what the step's findings counted."""
        return verdict_text(self.status, self.counts)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["error"] = asdict(self.error) if self.error else None
        out["verdict"] = self.verdict
        return out


@dataclass
class RunResult:
    record: Path
    lab: str
    steps: list[StepOutcome] = field(default_factory=list)
    strict: bool = False  # any warning fails the run (exit 1), for pipelines that want that

    @property
    def counts(self) -> dict[str, int]:
        return add_counts(*(s.counts for s in self.steps))

    @property
    def worst(self) -> list[dict[str, Any]]:
        return worst((w for s in self.steps for w in s.worst), limit=WORST)

    @property
    def passed(self) -> bool:
        """Every step that ran passed (warnings allowed)."""
        return bool(self.steps) and all(s.status in ("passed", "skipped") for s in self.steps) and any(
            s.status == "passed" for s in self.steps)

    @property
    def ok(self) -> bool:
        return self.passed and not (self.strict and self.counts.get("warn"))

    @property
    def status(self) -> str:
        if self.passed and not self.ok:
            return "failed (--strict: warnings fail the run)"
        return "passed" if self.ok else "failed"

    @property
    def verdict(self) -> str:
        return verdict_text(self.status, self.counts)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def plan(lab: params.Lab, steps: list[str] | None = None) -> list[str]:
    """The steps to run, in the runbook's order; names or numbers (``2``, ``02``) accepted."""
    wanted = steps or lab.steps
    names: list[str] = []
    bad: list[str] = []
    for s in wanted:
        name = bundle.step_name(s)
        if name:
            names.append(name)
        else:
            bad.append(str(s))
    if bad:
        raise ParameterError([Problem("steps", f"unknown step {s!r}; known: {', '.join(bundle.STEPS)} (or 1-4)") for s in bad])
    if not names:
        raise ParameterError([Problem("steps", "no step to run")])
    return names


def preflight(lab: params.Lab, target: Target, steps: list[str]) -> list[Problem]:
    """Every problem the params and the target reveal before anything is written (one list, for validate and run).

    The steps' own rules that need the cluster (the internal self IPs in the node
    subnet) are asked here, so a run that would fail at the install never creates
    NADs first.
    """
    from .steps.install import vlans

    out: list[Problem] = []
    problems = getattr(target, "problems", None)
    if target.kind == "snapshot" and problems is not None:  # a must-gather copied from a broken node: said up front
        out += [Problem("target.snapshot", f"{why}; the checks that read it will fail saying so", "warning")
                for _, why in problems()]
    if "spk-install" in steps:
        try:
            out += vlans.preflight(lab, target)
        except SnapshotError as exc:  # a damaged must-gather file: named above; the install step says it again
            out.append(Problem("vlans.internal.selfip_v4s", f"not checked against the node subnets: {exc.message}",
                               "warning"))
    return out


def run(
    lab: params.Lab | str | os.PathLike[str],
    *,
    records_root: Path = Path("records"),
    keep_going: bool = False,
    steps: list[str] | None = None,
    progress: Progress | None = None,
    target: Target | None = None,
    strict: bool = False,
    resume: Path | resuming.Resume | None = None,
    after_write: Callable[[Path], None] | None = None,
    secrets: Iterable[str] = (),
    annotations: dict[str, Any] | None = None,
) -> RunResult:
    """Run the lab's steps in order; stop at the first failure unless ``keep_going``.

    ``strict``: a warning anywhere fails the run (exit 1), for pipelines that gate on it.

    ``resume`` (a record of this lab) carries its passed steps over and runs the rest
    (``spkrunbook.resume``); ``after_write(record)`` is called after each step's run.json
    (an object store syncs there; the caller publishes the finished record); ``secrets``
    are masked like the lab's own (a webhook URL); ``annotations`` go into run.json as
    they are (a fleet's job).

    Raises ``ParameterError`` (bad params, or a problem found before any write),
    ``ClusterUnreachable`` or ``RecordError`` before any notebook runs; a step's
    failure is in the result, not raised.
    """
    if not isinstance(lab, params.Lab):
        lab = params.load(lab)
    emit = progress or (lambda event: None)
    carried = resume if isinstance(resume, resuming.Resume) else \
        resuming.prepare(resume, lab) if resume is not None else None
    wanted = carried.steps if carried is not None else plan(lab, steps)
    written = after_write or (lambda record: None)
    target = target or cluster.connect(lab)            # connect once; an unreachable cluster stops here
    to_run = [s for s in wanted if carried is None or s not in carried.carried]
    pool = kernels.Kernels(arguments=KERNEL_ARGUMENTS)
    if to_run:
        pool.warm()  # the kernel server imports what the steps use while the cluster is checked
    try:
        problems = preflight(lab, target, wanted)
        if any(p.severity == "error" for p in problems):
            raise ParameterError([p for p in problems if p.severity == "error"], source="the params and the cluster",
                                 hint="nothing was written; fix the fields above and run again")
        scrubber = Scrubber.for_lab(lab, extra=secrets)
        with _record(_records_root(Path(records_root)), lab, target, scrubber, emit, wanted) as (record, run_data):
            for p in problems:
                emit({"event": "warning", "message": str(p)})
                run_data["warnings"].append(str(p))
            result = RunResult(record=record, lab=lab.lab, strict=strict)
            run_data.update(annotations or {})
            if carried is not None:
                carried.copy_into(record)
                run_data["resumed_from"] = carried.source
            finishing = _Finishing()
            with _kernel_environment(lab, run_data["lab_sha256"]):
                pool.ahead(to_run[0] if to_run else None, record)  # it boots while the parent carries on
                _skip_iri_grammar()
                records.warm_renderer()  # nbconvert loads meanwhile, for the first step's HTML
                try:
                    for index, step in enumerate(wanted, start=1):
                        failed = any(s.status not in ("passed", "skipped") for s in result.steps)
                        if carried is not None and step in carried.carried:
                            outcome = _carried(carried, step, index, len(wanted), emit)
                        elif failed and not keep_going:
                            outcome = StepOutcome(step, "skipped", error=StepError(
                                "Skipped", "an earlier step failed", "use --keep-going to run it anyway"))
                        else:
                            outcome = _run_step(step, index, len(wanted), record, scrubber, emit, target.kind, run_data,
                                                pool=pool, then=to_run[to_run.index(step) + 1:][:KERNELS_AHEAD],
                                                finishing=finishing)
                        result.steps.append(outcome)
                        run_data["steps"][index - 1] = carried.outcome(step) if carried and step in carried.carried \
                            else outcome.to_dict()
                        run_data.update(counts=result.counts, worst=result.worst, verdict=verdict_text("running", result.counts))
                        records.write_run(record, run_data, scrubber)
                        written(record)
                finally:  # however the loop ends, no notebook is left half-completed
                    pool.release()  # the kernels and their server stop while the record is finished
                    for outcome in finishing.wait():
                        run_data["steps"][wanted.index(outcome.step)] = outcome.to_dict()
                        run_data.update(counts=result.counts, worst=result.worst)
                        records.write_run(record, run_data, scrubber)
            run_data.update(status="passed" if result.ok else "failed", verdict=result.verdict, strict=strict)
    finally:
        pool.close()
    return result


def _carried(carried: resuming.Resume, step: str, index: int, total: int, emit: Progress) -> StepOutcome:
    """A step that passed in the resumed record: its outcome as it was, nothing run."""
    old = carried.carried[step]
    counts = old["counts"] if isinstance(old.get("counts"), dict) else {}
    loud = old["worst"] if isinstance(old.get("worst"), list) else []
    outcome = StepOutcome(step, "passed", float(old.get("duration_s") or 0.0), str(old.get("notebook") or ""),
                          str(old.get("html") or ""), None, counts, loud)
    emit({"event": "step-end", "step": step, "index": index, "total": total, "status": "passed",
          "duration": outcome.duration_s, "error": None, "carried_from": carried.path.name})
    return outcome


# -- the record around a run ------------------------------------------------------------------------


def _records_root(root: Path) -> Path:
    """The records folder as an absolute path; a symbolic link loop is refused here (exit 2), nothing written."""
    try:
        return root.resolve()
    except (RuntimeError, OSError):  # RuntimeError: a loop, before Python 3.13
        raise RecordError(f"cannot use the records folder {root}: a symbolic link in the path points to itself (a loop)",
                          hint="give --records a real folder (check the link with `ls -l`)") from None


@contextmanager
def _record(root: Path, lab: params.Lab, target: Target, scrubber: Scrubber, emit: Progress,
            wanted: list[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Create the record, keep run.json current, and finalise it however the run ends (SIGTERM too)."""
    info = target.info()
    record = records.create(root, lab.lab)
    started = time.time()
    run_data: dict[str, Any] = {
        "lab": lab.lab,
        "description": lab.description,
        "kind": "run",
        "status": "incomplete",
        "started": records.utc_now(),
        "ended": None,
        "duration_s": None,
        "params": lab.scrubbed(),
        "warnings": [str(w) for w in lab.warnings()],
        "target": {"kind": info.kind, "name": info.name, **info.details},
        "steps": [{"step": s, "status": "pending"} for s in wanted],
        "spkrunbook_version": __version__,
        "versions": records.package_versions(),
        "command": records.argv_for_record(),
    }
    run_data["lab_sha256"] = records.write_lab(record, lab, scrubber)
    records.write_run(record, run_data, scrubber)
    emit({"event": "run-start", "record": str(record), "steps": wanted, "lab": lab.lab})
    previous = _terminate_as_interrupt()
    try:
        yield record, run_data
    except KeyboardInterrupt:
        run_data["status"] = "incomplete"
        run_data["interrupted"] = True
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        run_data["ended"] = records.utc_now()
        run_data["duration_s"] = round(time.time() - started, 2)
        try:
            records.scrub_tree(record, scrubber)
            records.write_run(record, run_data, scrubber)
            records.write_run_index(record)  # built from the scrubbed files: nothing new to scrub
            records.write_records_index(root)
        except RecordError as exc:
            emit({"event": "record-error", "error": exc.message})
        emit({"event": "run-end", "status": run_data["status"], "record": str(record)})




def _terminate_as_interrupt() -> dict[int, Any]:
    """SIGTERM and SIGHUP end the run the way Ctrl-C does (status and end time recorded); the handlers before."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise HungUp() if signum == signal.SIGHUP else Terminated()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: leave signals alone
            pass
    return previous


@contextmanager
def _kernel_environment(lab: params.Lab, lab_sha256: str) -> Iterator[None]:
    """What each kernel inherits: the headless flag, the lab's secrets by the names lab.json refers to,
    and the digest of the lab.json this run validated (so a kernel trusts that file, and only it)."""
    env = {HEADLESS_ENV: "1", records.LAB_DIGEST_ENV: lab_sha256, **lab.secret_environment()}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- one step -----------------------------------------------------------------------------------------


def _skip_iri_grammar() -> None:
    """Spare the headless run about 0.8 s: papermill -> nbformat -> jsonschema imports ``rfc3987_syntax``
    only to check the ``iri`` string format, which no notebook schema uses, and that import builds a
    grammar. Marked absent before jsonschema loads (jsonschema skips that one checker); a session that
    already imported jsonschema, or asked for rfc3987_syntax itself, is left alone."""
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


def _error_of(exc: BaseException) -> StepError:
    """A failed cell as the user should read it: message and hint apart, the class kept for code."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        message, _, hint = str(exc.evalue).partition("\n  what to do: ")
        return StepError(exc.ename, message.strip(), hint.strip(), exc.cell_index)
    if isinstance(exc, SpkRunbookError):
        return StepError(type(exc).__name__, exc.message, exc.hint or "")
    name = type(exc).__name__
    hint = {
        "DeadKernelError": "the Python kernel running this notebook ended (out of memory, or a crash in a library): "
                           "see what it said above, then run the step again with --step",
        "CellTimeoutError": f"a cell ran longer than {CELL_TIMEOUT_S} s; the record's notebook shows which one",
    }.get(name, "")
    return StepError(name, str(exc) or name, hint)


def _execute(papermill: Any, src: Path, out: Path, record: Path, on_cell_start: Callable[..., None],
             kernel: kernels.Kernel) -> None:
    """Run one notebook in its kernel (started ahead); a kernel that dies says why from its own stderr."""
    from . import engine

    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters={"params_file": "", "record": str(record), "interactive": False},
            kernel_name=kernels.KERNEL,
            km=kernel.manager,
            cwd=str(record),
            progress_bar=False,
            engine_name=engine.register(),  # papermill's, writing the notebook when it ends, not around each cell
            execution_timeout=CELL_TIMEOUT_S,
            on_cell_start=on_cell_start,
        )
    except RuntimeError as exc:
        if "kernel" in str(exc).lower() and (why := kernel.said()):
            exc.args = (f"{exc}; the kernel said: {why}",)  # the same error (its class names it), with its last words
        raise


def _cell_count(notebook: Path) -> int:
    """How many cells papermill will run (its progress counts them all, markdown included)."""
    import json

    try:
        return len(json.loads(notebook.read_text(encoding="utf-8")).get("cells") or []) + 1  # + papermill's parameters cell
    except (OSError, ValueError):
        return 0


def _run_step(step: str, index: int, total: int, record: Path, scrubber: Scrubber, emit: Progress,
              target_kind: str, run_data: dict[str, Any], *, src: Path | None = None,
              pool: kernels.Kernels | None = None, then: Iterable[str] = (),
              finishing: _Finishing | None = None) -> StepOutcome:
    """Run one step's notebook (``src``: another notebook, for the runner's own tests) into the record, in
    its kernel from the run's ``pool`` (started ahead) or one of its own; once its kernel is up, the
    kernels of the steps ``then`` are launched, to boot while this one runs. With ``finishing`` the
    notebook's metadata, scrub and HTML are done on its thread."""
    _skip_iri_grammar()
    import papermill
    from papermill.exceptions import PapermillExecutionError

    src = src or bundle.notebook(step)
    out = record / src.name
    emit({"event": "step-start", "step": step, "index": index, "total": total, "cells": _cell_count(src)})
    t0 = time.time()

    def on_cell_start(cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        if cell_index == 0 and pool is not None:  # this kernel has booted: the next ones boot beside it
            for later in then:
                pool.ahead(later, record)
        first = (cell.source.strip().splitlines() or [""])[0][:70] if cell is not None else ""
        emit({"event": "cell", "step": step, "index": index, "total": total, "cell": cell_index + 1, "source": first,
              "elapsed": time.time() - t0})

    status, error = "passed", None
    kernels_ = pool or kernels.Kernels(arguments=KERNEL_ARGUMENTS)
    try:
        kernel = kernels_.take(step, record)
        try:
            _execute(papermill, src, out, record, on_cell_start, kernel)
        finally:
            kernels_.done(kernel)  # stopped in the background while the record is completed
            if pool is None:
                kernels_.close()
    except PapermillExecutionError as exc:
        status, error = "failed", _error_of(exc)
    except KeyboardInterrupt:
        status, error = "interrupted", StepError("Interrupted", "the run was interrupted while this step ran")
        _finish_notebook(step, out, record, scrubber, status, target_kind, time.time() - t0)
        run_data["steps"][index - 1] = StepOutcome(step, status, round(time.time() - t0, 2), out.name, "", error).to_dict()
        raise
    except RecordError as exc:
        status, error = "error", _error_of(exc)
    except Exception as exc:  # noqa: BLE001 - a dead kernel fails this step, not the run
        status, error = "error", _error_of(exc)
    later = finishing is not None and out.is_file()
    if later:  # metadata, scrub and HTML on the record's thread, while the next step runs
        html, problem = out.with_suffix(".html").name, None
    else:
        html, problem = _finish_notebook(step, out, record, scrubber, status, target_kind, time.time() - t0)
    if problem is not None:
        status, error = "error", error or problem
    duration = round(time.time() - t0, 2)
    if error is not None:
        error = StepError(error.name, scrubber.text(error.message), scrubber.text(error.hint), error.cell)
    summary = records.Record(record, None).summary(step) or {}
    counts: dict[str, int] = summary["counts"] if isinstance(summary.get("counts"), dict) else {}
    loud: list[dict[str, Any]] = summary["worst"] if isinstance(summary.get("worst"), list) else []
    outcome = StepOutcome(step, status, duration, out.name if out.is_file() else "", html, error, counts, loud)
    if later:
        assert finishing is not None
        finishing.submit(outcome, step, out, record, scrubber, target_kind)
    emit({"event": "step-end", "step": step, "index": index, "total": total, "status": status,
          "duration": duration, "error": error, "verdict": outcome.verdict, "worst": loud})
    return outcome


class _Finishing:
    """Each step's executed notebook completed (metadata, scrub, HTML) on one thread of its own while the next
    step runs; ``wait()`` before the record is finished. An outcome whose notebook could not be completed
    becomes an error there, as it would have at once."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(1, thread_name_prefix="spkrunbook-record")
        self.jobs: list[tuple[StepOutcome, Any]] = []

    def submit(self, outcome: StepOutcome, step: str, out: Path, record: Path, scrubber: Scrubber,
               target_kind: str) -> None:
        self.jobs.append((outcome, self.pool.submit(_finish_notebook, step, out, record, scrubber, outcome.status,
                                                    target_kind, outcome.duration_s)))

    def wait(self) -> list[StepOutcome]:
        """Wait for every notebook; the outcomes that changed (their HTML could not be written)."""
        changed = []
        for outcome, job in self.jobs:
            html, problem = job.result()
            if problem is not None:
                outcome.html, outcome.status = html, "error"
                outcome.error = outcome.error or StepError(problem.name, problem.message, problem.hint)
                changed.append(outcome)
        self.jobs.clear()
        self.pool.shutdown()
        return changed


def _finish_notebook(step: str, out: Path, record: Path, scrubber: Scrubber, status: str, target_kind: str,
                     duration: float) -> tuple[str, StepError | None]:
    """Metadata, scrub and HTML for an executed notebook; a record that cannot be completed is an error."""
    if not out.is_file():
        return "", None
    try:
        records.attach_step_metadata(
            out,
            record / records.STEPS_DIR / f"{step}.json",
            {"version": __version__, "step": step, "status": status, "target_kind": target_kind,
             "duration_s": round(duration, 2)},
        )
        scrubber.file(out)
        return records.render_html(out, scrubber).name, None
    except RecordError as exc:
        return "", StepError("RecordError", exc.message, exc.hint or "")
    except Exception as exc:  # noqa: BLE001 - an unrenderable notebook still leaves its .ipynb
        return "", StepError(type(exc).__name__, f"the record of this step could not be completed: {exc}")


def validate(lab_or_path: params.Lab | str | os.PathLike[str], *, connect: bool = True,
             steps: list[str] | None = None) -> tuple[params.Lab, list[Problem]]:
    """What ``spkrunbook validate`` checks: the params, then (``connect``) the target and the preflight rules.

    Raises ``ParameterError``/``ClusterUnreachable`` like ``run`` does; returns the lab
    and the preflight problems (empty when a run would start).
    """
    lab = lab_or_path if isinstance(lab_or_path, params.Lab) else params.load(lab_or_path)
    wanted = plan(lab, steps)
    if not connect:
        return lab, []
    target = cluster.connect(lab)
    return lab, preflight(lab, target, wanted)


__all__ = ["RunResult", "StepError", "StepOutcome", "plan", "preflight", "run", "validate"]
