"""The lab record on disk: one folder per run, created atomically, written scrubbed, read back by code.

``records/<UTC time>-<lab>/`` holds ``run.json`` (lab, scrubbed params, target,
start/end, per-step outcome, package versions; ``status`` stays ``incomplete``
until the run ends), ``lab.json`` (the resolved lab, secrets as ``${ENV}``
references), each executed notebook (``.ipynb`` and ``.html``), each step's
summary (``steps/<step>.json``) and the files each step saved under its own
folder. ``read`` gives it back as a ``Record`` whose steps carry their findings,
so the next step, ``spkrunbook records`` and the tests read the same thing.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RecordError
from ..results import Findings
from ..secrets import Scrubber

if TYPE_CHECKING:
    import pandas as pd

    from ..params import Lab

RUN_FILE = "run.json"
LAB_FILE = "lab.json"
#: The SHA-256 of the lab.json a run validated, handed to its kernels (never written into the record):
#: a kernel that finds the same file trusts it instead of judging the lab again; another file is refused.
LAB_DIGEST_ENV = "SPKRUNBOOK_LAB_SHA256"
STEPS_DIR = "steps"
PACKAGES = ("spkrunbook", "papermill", "nbclient", "nbconvert", "kubernetes", "pandas", "numpy", "matplotlib",
            "ipywidgets", "ruamel.yaml")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def argv_for_record() -> list[str]:
    """The command line that made the run (program name without its path)."""
    import sys

    return [os.path.basename(sys.argv[0])] + sys.argv[1:]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def os_reason(exc: OSError) -> str:
    """Why an OS call failed, in words (the disk is full, read-only, permission denied ...)."""
    import errno

    return {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
            errno.EPERM: "permission denied", errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EEXIST: "a file is in the way", errno.ENAMETOOLONG: "the path is too long",
            errno.ELOOP: "a symbolic link in the path points to itself (a loop)"}.get(
        exc.errno or 0, exc.strerror or type(exc).__name__)


def os_error(what: str, path: Path, exc: OSError) -> RecordError:
    """An OS error around the record as a message a person can act on."""
    why = os_reason(exc)
    return RecordError(f"cannot {what} {path}: {why}",
                       hint="give --records a folder you can write to, with free space (e.g. --records ~/spk-records)")


def default_root(params_file: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> Path:
    """Where a lab's records go when no folder is named: one place for headless and interactive runs.

    A params file in a lab folder (``<lab>/params/<name>.yaml``, as ``spkrunbook init`` writes it) keeps
    its records in ``<lab>/records``, whoever runs it from wherever; any other, ``./records``.
    """
    if params_file:
        folder = Path(params_file).expanduser().resolve().parent
        if folder.name == "params":
            return folder.parent / "records"
    return (cwd or Path.cwd()) / "records"


def create(records_root: Path, lab_name: str, *, suffix: str = "") -> Path:
    """A new, empty record folder; never reuses an existing one (atomic ``mkdir``)."""
    records_root = Path(records_root)
    try:
        records_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error("create the records folder", records_root, exc) from None
    if not records_root.is_dir():
        raise RecordError(f"the records folder {records_root} is not a folder",
                          hint="give --records a folder (it is created when missing)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        name = f"{stamp}-{lab_name}{suffix}" + ("" if n == 1 else f"-{n}")
        path = records_root / name
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise os_error("create a record in", records_root, exc) from None
        return path
    raise RecordError(f"could not create a record folder under {records_root} (1,000 runs in one second?)")


def write_text(path: Path, text: str) -> None:
    """Write ``path`` atomically: a reader (or a crash) never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise os_error("write", path, exc) from None


def write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise os_error("write", path, exc) from None


def write_run(record: Path, data: dict[str, Any], scrubber: Scrubber) -> None:
    """Write run.json atomically and scrubbed."""
    write_text(record / RUN_FILE, scrubber.text(json.dumps(data, indent=2, default=str)) + "\n")


def read_run(record: Path) -> dict[str, Any] | None:
    """run.json as data; None when it is missing or damaged."""
    try:
        data = json.loads((Path(record) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_lab(record: Path, lab: Lab, scrubber: Scrubber) -> str:
    """The resolved lab (secrets as ``${ENV}`` references), so each kernel rebuilds it without a params file.

    Returns the SHA-256 of what was written (``LAB_DIGEST_ENV``).
    """
    import hashlib

    text = scrubber.text(json.dumps(lab.referenced(), indent=2, default=str)) + "\n"
    write_text(record / LAB_FILE, text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class StepRecord:
    """One step as the record holds it."""

    name: str
    status: str
    findings: list[Findings] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def rows(self) -> Findings:
        out = Findings(self.name)
        for f in self.findings:
            out.extend(f.rows)
        return out


def _findings_shaped(f: Any) -> bool:
    """A findings table as a step writes it (a damaged steps/*.json may hold strings instead)."""
    rows = f.get("rows") if isinstance(f, dict) else None
    return isinstance(f, dict) and (rows is None or (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)))


@dataclass
class Record:
    """A lab record read back from disk."""

    path: Path
    run: dict[str, Any] | None

    @property
    def status(self) -> str:
        return str((self.run or {}).get("status", "incomplete"))

    @property
    def lab_name(self) -> str:
        return str((self.run or {}).get("lab", "?"))

    @property
    def run_steps(self) -> list[dict[str, Any]]:
        """run.json's steps that are objects (a damaged file may hold strings there)."""
        steps = (self.run or {}).get("steps")
        return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []

    def lab(self) -> Lab:
        """The resolved lab this run used (secrets from the environment; ``ParameterError`` without them).

        Inside a run (``LAB_DIGEST_ENV`` set by the runbook) the file must be the one the run
        validated, and it is not judged again; opened by a person, it is validated like a params file.
        """
        import hashlib

        from .. import params
        from ..errors import Problem

        try:
            raw = (self.path / LAB_FILE).read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise RecordError(f"the record {self.path} has no readable {LAB_FILE} ({type(exc).__name__})",
                              hint="open the notebook from a record written by `spkrunbook run`, or give params_file") from None
        expected = os.environ.get(LAB_DIGEST_ENV)
        if not expected:
            return params.from_record(data)
        if hashlib.sha256(raw).hexdigest() != expected:
            raise RecordError(f"{self.path / LAB_FILE} is not the lab this run validated: it changed after the run wrote it",
                              hint="run the lab again with `spkrunbook run`; a record's lab.json is not to be edited")
        said = [str(w) for w in (self.run or {}).get("warnings") or []]
        return params.from_record(data, validated_warnings=[Problem(*w.partition(": ")[::2], severity="warning")
                                                            for w in said])

    def summary(self, step: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.path / STEPS_DIR / f"{step}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def step(self, name: str) -> StepRecord | None:
        """A step's outcome (from run.json) and result (from steps/<name>.json); None if it never ran."""
        outcome = next((s for s in self.run_steps if s.get("step") == name), None)
        summary = self.summary(name)
        if outcome is None and summary is None:
            return None
        summary = summary or {}
        return StepRecord(
            name=name,
            status=str((outcome or {}).get("status") or summary.get("status") or "incomplete"),
            findings=[Findings.from_dict(f) for f in summary.get("findings") or [] if _findings_shaped(f)],
            data=dict(summary.get("data") or {}),
            artifacts=list(summary.get("artifacts") or []),
            duration_s=(outcome or {}).get("duration_s", summary.get("duration_s")),
            outcome=dict(outcome or {}),
        )

    def steps(self) -> list[StepRecord]:
        names: list[Any] = [s.get("step") for s in self.run_steps]
        if not names:
            names = sorted(p.stem for p in (self.path / STEPS_DIR).glob("*.json"))
        return [s for n in names if n and (s := self.step(str(n))) is not None]


def read(path: str | os.PathLike[str]) -> Record:
    """A record folder as code reads it (``RecordError`` when the folder is not a record)."""
    p = Path(path)
    if not p.is_dir():
        raise RecordError(f"{p} is not a record folder", hint="list the records with `spkrunbook records`")
    return Record(p, read_run(p))


def runs(records_root: Path) -> list[dict[str, Any]]:
    """Past runs, newest first, as data: each run's verdict, counts and steps (a list of objects).

    A damaged record is listed as such and named in a warning; a folder without
    run.json is ``incomplete``.
    """
    out: list[dict[str, Any]] = []
    root = Path(records_root)
    if not root.is_dir():
        return out
    for d in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True):
        data = read_run(d)
        if data is None and (d / RUN_FILE).exists():
            warnings.warn(f"record {d.name}: run.json is damaged; listed as 'damaged'", stacklevel=2)
        out.append(run_row(d.name, data, (d / RUN_FILE).exists()))
    return out


def run_row(name: str, data: dict[str, Any] | None, exists: bool) -> dict[str, Any]:
    """One run as ``runs`` lists it, from its run.json (None: missing, or damaged when ``exists``);
    also for records read from an object store (``record.remote``)."""
    from ..results import verdict_text

    run = data or {}
    status = str(run.get("status", "damaged" if exists else "incomplete"))
    counts: dict[str, int] = run["counts"] if isinstance(run.get("counts"), dict) else {}
    listed: list[Any] = run["steps"] if isinstance(run.get("steps"), list) else []
    steps = [
        {"step": str(st.get("step", "?")), "status": str(st.get("status", "?")),
         "verdict": str(st.get("verdict") or st.get("status", "?")), "duration_s": st.get("duration_s")}
        for st in listed
        if isinstance(st, dict)
    ]
    target: dict[str, Any] = run["target"] if isinstance(run.get("target"), dict) else {}
    return {
        "record": name,
        "lab": str(run.get("lab", "?")),
        "target": str(target.get("name", "?")),
        "kind": str(run.get("kind") or "run"),
        "status": status,
        "verdict": verdict_text(status, counts) if status in ("passed", "failed") else status,
        "counts": counts,
        "steps": steps,
        "started": run.get("started", ""),
        "duration_s": run.get("duration_s", ""),
    }


def list_records(records_root: Path) -> pd.DataFrame:
    """Past runs, newest first, as a table (``runs`` with the steps as one line)."""
    import pandas as pd

    rows = [{**r, "steps": " ".join(f"{s['step']}:{s['status']}" for s in r["steps"])} for r in runs(records_root)]
    columns = ["record", "lab", "target", "status", "verdict", "steps", "started", "duration_s"]
    return pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
