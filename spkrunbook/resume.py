"""Resume a run from its first step that did not pass, into a new record that links to the old one.

The peers' most requested feature (AWX, Rundeck, Argo: "retry from the failed step")
done the way a lab record needs it: the old record is never changed; the new one
starts with the passed steps' notebooks, HTML, summaries and files copied from it
(their outcome says ``carried_from``), and the steps from the first one that did not
pass run again. Later steps read earlier ones' results from the record, so a resumed
step sees exactly what it would have seen in one run.

The params must be the same: a resume that ran with other params would mix two labs
in one record. ``prepare`` compares the old record's ``lab.json`` with the lab given,
field by field (secrets compare as their ``${ENV}`` references), and refuses naming
every field that differs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import bundle, params
from . import record as records
from .errors import ParameterError, Problem, RecordError

#: A step that passed and can be carried over.
PASSED = "passed"


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list):
        return {prefix: json.dumps(data, sort_keys=True, default=str)}
    return {prefix: data}


def param_differences(old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
    """Every field whose value differs between two ``Lab.referenced()`` dicts, as problems."""
    a, b = _flat(old), _flat(new)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(Problem(key, f"was {a.get(key, '(absent)')!r} in the record, is {b.get(key, '(absent)')!r} now"))
    return out


@dataclass
class Resume:
    """What a resumed run takes from the old record: the steps to run, and the passed ones' outcomes."""

    source: str  # the old record as the user named it (a path or a URL)
    path: Path  # its local copy
    steps: list[str]  # every step of the old run, in order
    carried: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its outcome in the old run

    @property
    def first(self) -> str | None:
        """The first step that runs again (None: every step passed; the new run re-runs nothing)."""
        return next((s for s in self.steps if s not in self.carried), None)

    def outcome(self, step: str) -> dict[str, Any]:
        """The carried step's outcome for the new run.json (status, duration, notebook, html)."""
        old = dict(self.carried[step])
        return {**old, "carried_from": self.path.name}

    def copy_into(self, record: Path) -> list[str]:
        """Copy each carried step's notebook, HTML, summary and folder into the new record."""
        copied = []
        for step in self.carried:
            nb = bundle.NOTEBOOKS[step]
            for rel in (nb, nb.replace(".ipynb", ".html"), f"{records.STEPS_DIR}/{step}.json"):
                src = self.path / rel
                if src.is_file():
                    (record / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, record / rel)
                    copied.append(rel)
            folder = self.path / step
            if folder.is_dir():
                shutil.copytree(folder, record / step, dirs_exist_ok=True)
                copied.append(step + "/")
        return copied


def prepare(old: str | Path, lab: params.Lab, *, source: str | None = None) -> Resume:
    """Read the old record, refuse other params, and say which steps are carried and which run again.

    Raises ``RecordError`` when ``old`` is not a finished-or-interrupted record of a run, and
    ``ParameterError`` (every differing field) when the params differ.
    """
    rec = records.read(old)
    if rec.run is None:
        raise RecordError(f"{rec.path} has no readable {records.RUN_FILE}: nothing to resume",
                          hint="resume a record `spkrunbook run` wrote; list them with `spkrunbook records`")
    if rec.lab_name != lab.lab:
        raise ParameterError([Problem("lab", f"the record is of lab {rec.lab_name!r}, the params of {lab.lab!r}")],
                             source=str(source or old), hint="resume a record of the same lab")
    try:
        old_lab = json.loads((rec.path / records.LAB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RecordError(f"{rec.path} has no readable {records.LAB_FILE}: its params cannot be compared",
                          hint="run the lab again without --resume") from None
    differ = param_differences(old_lab, lab.referenced())
    if differ:
        raise ParameterError(differ, source=f"the params against the record {rec.path.name}",
                             hint="a resumed run uses the same params as the run it resumes; "
                                  "run without --resume to start a new record with these params")
    steps = [str(s.get("step")) for s in rec.run.get("steps") or [] if s.get("step") in bundle.NOTEBOOKS]
    if not steps:
        raise RecordError(f"{rec.path} lists no steps: nothing to resume", hint="run the lab again without --resume")
    out = Resume(source=str(source or old), path=rec.path, steps=steps)
    for s in rec.run.get("steps") or []:
        if s.get("status") != PASSED:
            break  # the first step that did not pass, and every step after it, run again
        out.carried[str(s["step"])] = s
    return out
