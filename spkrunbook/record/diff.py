"""What changed between two runs of a lab: the params, each step's verdict, each finding, each file.

Read from the two records only (scrubbed, so a masked secret compares equal to
itself and never shows); neither record is changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import display
from ..errors import RecordError
from .store import LAB_FILE, RUN_FILE, Record, read

COLUMNS = ["what", "where", "before", "after"]
_SKIP_FILES = {RUN_FILE, LAB_FILE, "index.html"}  # compared field by field above


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
        # notebooks and steps/*.json carry times; the findings rows compare what they say
        if p.is_symlink() or not p.is_file() or rel in _SKIP_FILES or rel.endswith((".ipynb", ".html")) \
                or rel.startswith("steps/"):
            continue
        try:
            out[rel] = _sha256(p)
        except OSError as exc:
            out[rel] = f"unreadable: {exc.strerror}"
    return out


@dataclass
class RecordDiff:
    """The differences, one row each; empty when the two runs agree on everything compared."""

    before: Path
    after: Path
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, what: str, where: str, before: Any, after: Any) -> None:
        self.rows.append({"what": what, "where": where, "before": display.cell_text(before),
                          "after": display.cell_text(after)})

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        return {"before": str(self.before), "after": str(self.after), "changes": self.rows}

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
    return out
