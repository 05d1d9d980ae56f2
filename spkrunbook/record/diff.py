"""What changed between two runs of a lab: the params, each step's verdict, each finding, each file.

Read from the two records only (scrubbed, so a masked secret compares equal to
itself and never shows); neither record is changed.

The files a run writes about itself (the executed notebooks and their HTML, run.json,
steps/*.json, index.html) always hold its times: when each cell ran, how long each
step took, the record's own name. They are compared with those times and durations
taken out, so two runs that did the same thing are reported as such ("differ only in
times and durations"), and one that did something else shows the file as changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import display
from ..errors import RecordError
from .store import LAB_FILE, RUN_FILE, Record, read

COLUMNS = ["what", "where", "before", "after"]
_SKIP_FILES = {RUN_FILE, "index.html"}  # summaries (with steps/*.json): a row only when nothing else changed
#: Times (ISO 8601, a record's ``20261207T063711Z``) and durations (``"duration_s": 12.3``, ``(12.3s)``,
#: ``8.0 s``) as a run writes them about itself.
_TIMES = (
    re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}| UTC)?"),
    re.compile(r"\d{8}T\d{6}Z"),
    re.compile(r'("(duration|duration_s|elapsed)"\s*:\s*)-?[\d.e+-]+'),
    re.compile(r"(?<![\w.])\d+(\.\d+)? ?s\b"),
)


def without_times(text: str) -> str:
    """``text`` with the run's times and durations replaced by placeholders."""
    for rx in _TIMES:
        text = rx.sub(lambda m: (m.group(1) if m.re.groups and m.group(1) and m.group(1).startswith('"') else "") + "<t>",
                      text)
    return text


def _about_the_run(rel: str) -> bool:
    """The files that hold the run's own times: notebooks, their HTML, run.json, steps/*.json, index.html."""
    return rel.endswith((".ipynb", ".html")) or rel.startswith("steps/") or rel in (RUN_FILE, "index.html")

def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        out = {}
        for i, v in enumerate(data):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: data}


def _lab(rec: Record) -> dict[str, Any]:
    try:
        data = json.loads((rec.path / LAB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = (rec.run or {}).get("params") or {}
    return _flat(data)


def _sha256(path: Path) -> str:
    """A file's SHA-256, read in 1 MiB chunks (a 2 GB capture in constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _files(rec: Record) -> dict[str, str]:
    out = {}
    for p in sorted(rec.path.rglob("*")):
        rel = str(p.relative_to(rec.path))
        if p.is_symlink() or not p.is_file() or rel == LAB_FILE or _about_the_run(rel):
            continue
        try:
            out[rel] = _sha256(p)
        except OSError as exc:
            out[rel] = f"unreadable: {exc.strerror}"
    return out


def _run_files(rec: Record) -> dict[str, tuple[str, str]]:
    """The files about the run: (hash as written, hash without its times and durations), by name."""
    out = {}
    for p in sorted(rec.path.rglob("*")):
        rel = str(p.relative_to(rec.path))
        if p.is_file() and _about_the_run(rel):
            raw = p.read_bytes()
            text = without_times(raw.decode("utf-8", "replace")).replace(rec.path.name, "<record>")
            out[rel] = (hashlib.sha256(raw).hexdigest(), hashlib.sha256(text.encode()).hexdigest())
    return out


@dataclass
class RecordDiff:
    """The differences, one row each; empty when the two runs agree on everything compared."""

    before: Path
    after: Path
    rows: list[dict[str, str]] = field(default_factory=list)
    times_only: list[str] = field(default_factory=list)  # files that differ only in times and durations

    def add(self, what: str, where: str, before: Any, after: Any) -> None:
        self.rows.append({"what": what, "where": where, "before": display.cell_text(before),
                          "after": display.cell_text(after)})

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def agreement(self) -> str:
        """What two runs without a change have in common, and what still differs (their times)."""
        text = f"{self.before.name} and {self.after.name} agree on params, steps, findings and files"
        if self.times_only:
            text += (f"; {len(self.times_only)} file(s) about the runs differ only in times and durations "
                     f"({', '.join(self.times_only[:4])}{', …' if len(self.times_only) > 4 else ''})")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"before": str(self.before), "after": str(self.after), "changes": self.rows,
                "times_only": self.times_only}

    def _repr_html_(self) -> str:
        return (f"<p><b>{display.esc(self.before.name)}</b> → <b>{display.esc(self.after.name)}</b>: "
                f"{len(self)} change(s)</p>" + display.frame_html(self.to_frame(), status_column=None,
                                                                 empty="no differences"))


def diff(before: str | Path, after: str | Path) -> RecordDiff:
    """Compare two records (``RecordError`` when either is not one)."""
    a, b = read(before), read(after)
    if a.run is None or b.run is None:
        bad = a.path if a.run is None else b.path
        raise RecordError(f"{bad} has no readable {RUN_FILE}", hint="compare two records `spkrunbook run` finished")
    out = RecordDiff(a.path, b.path)
    if a.lab_name != b.lab_name:
        out.add("lab", "lab", a.lab_name, b.lab_name)
    pa, pb = _lab(a), _lab(b)
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            out.add("param", key, pa.get(key, display.MISSING), pb.get(key, display.MISSING))
    sa = {s.get("step"): s.get("status") for s in a.run_steps}
    sb = {s.get("step"): s.get("status") for s in b.run_steps}
    for step in list(dict.fromkeys([*sa, *sb])):
        if sa.get(step) != sb.get(step):
            out.add("step", str(step), sa.get(step, "not run"), sb.get(step, "not run"))
    both = {s for s in sa if s in sb}  # a step run only once is one "step" row, not all its findings
    fa = {(s.name, r.check, r.subject): r for s in a.steps() if s.name in both for r in s.rows()}
    fb = {(s.name, r.check, r.subject): r for s in b.steps() if s.name in both for r in s.rows()}
    for fkey in list(dict.fromkeys([*fa, *fb])):
        ra, rb = fa.get(fkey), fb.get(fkey)
        where = " / ".join(k for k in fkey if k)
        if ra is None or rb is None:
            out.add("finding", where, f"{ra.status}: {ra.evidence}" if ra else "absent",
                    f"{rb.status}: {rb.evidence}" if rb else "absent")
        elif (ra.status, ra.evidence) != (rb.status, rb.evidence):
            out.add("finding", where, f"{ra.status}: {ra.evidence}", f"{rb.status}: {rb.evidence}")
    ran_once = {str(s) for s in set(sa) ^ set(sb)}
    ha, hb = _files(a), _files(b)
    for name in sorted(set(ha) | set(hb)):
        if name.split("/")[0] in ran_once or name.removeprefix("steps/").removesuffix(".json") in ran_once:
            continue
        if ha.get(name) != hb.get(name):
            out.add("file", name, "present" if name in ha else "absent",
                    ("changed" if name in ha else "present") if name in hb else "absent")
    run_a, run_b = _run_files(a), _run_files(b)
    changed_before = len(out.rows)
    for name in sorted(set(run_a) | set(run_b)):
        if name.split("/")[0] in ran_once or name.removeprefix("steps/").removesuffix(".json") in ran_once:
            continue
        if (name in _SKIP_FILES or name.startswith("steps/")) and changed_before:  # summaries: the rows above say it
            continue
        if name not in run_a or name not in run_b:
            out.add("file", name, "present" if name in run_a else "absent", "present" if name in run_b else "absent")
        elif run_a[name][1] != run_b[name][1]:
            out.add("file", name, "present", "changed (beyond times and durations)")
        elif run_a[name][0] != run_b[name][0]:
            out.times_only.append(name)
    return out
