"""The one result shape every step returns, the findings table it ends in, and the verdict people read.

A step function returns an object that follows ``Result``: its ``findings`` (the
verdict rows), a table (``to_frame``), JSON-able data (``to_dict``), the files it
wants in the lab record (``files``: names relative to the step's folder; the
notebook context decides where that folder is) and an HTML view. A step's whole
result derives from ``StepResult``, which gives all of that from its ``parts``.
The CLI turns ``findings.ok`` into an exit code; nothing prints its way to an answer.

Severity means something: ``fail`` stops the runbook, ``warn`` is for what a person
must judge, ``note`` is a deliberate change shown for the record (e.g. a values
override F5's guide prescribes), ``skip`` is a check that could not or need not run.
A verdict always carries its warnings: ``passed, 7 warnings``, never a bare
``passed`` over a record full of WARN rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import pandas as pd

from . import display, references

Status = Literal["pass", "note", "warn", "fail", "skip"]
STATUSES: tuple[str, ...] = ("pass", "note", "warn", "fail", "skip")
#: How loud a row is: the worst rows of a run are the loudest first.
SEVERITY: dict[str, int] = {"fail": 3, "warn": 2, "note": 1, "pass": 0, "skip": 0}
#: How many of the worst findings a verdict names.
WORST = 5
COLUMNS: tuple[str, ...] = ("check", "subject", "status", "evidence", "action", "reference")


@dataclass(frozen=True)
class CheckResult:
    """One row: what was checked, on what, the verdict, why, what to do, and where that is documented."""

    check: str
    status: Status
    evidence: str = ""
    action: str = ""
    subject: str = ""
    reference: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        if not self.reference:  # every row says where its rule is documented
            object.__setattr__(self, "reference", references.for_check(self.check))


@runtime_checkable
class Result(Protocol):
    """What every step function returns."""

    @property
    def findings(self) -> Findings: ...

    def to_frame(self) -> pd.DataFrame: ...

    def to_dict(self) -> dict[str, Any]: ...

    def files(self) -> dict[str, str | bytes]: ...

    def _repr_html_(self) -> str: ...


def slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-").replace("--", "-") or "findings"


@dataclass(repr=False)
class Findings:
    """An ordered table of ``CheckResult`` rows with a title; itself a ``Result``."""

    title: str
    rows: list[CheckResult] = field(default_factory=list)

    def add(self, check: str, status: Status, evidence: str = "", action: str = "", subject: str = "",
            reference: str = "") -> CheckResult:
        row = CheckResult(check, status, evidence, action, subject, reference)
        self.rows.append(row)
        return row

    def extend(self, rows: Iterable[CheckResult]) -> None:
        self.rows.extend(rows)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def findings(self) -> Findings:
        return self

    @property
    def ok(self) -> bool:
        """True when no row failed (warnings and skips do not fail a step)."""
        return not any(r.status == "fail" for r in self.rows)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.rows if r.status == s) for s in STATUSES}

    def failed(self) -> list[CheckResult]:
        return [r for r in self.rows if r.status == "fail"]

    def warnings(self) -> list[CheckResult]:
        return [r for r in self.rows if r.status == "warn"]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rows], columns=list(COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "ok": self.ok, "counts": self.counts(), "rows": [asdict(r) for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Findings:
        """A findings table read back from a record."""
        rows = [CheckResult(**{k: r.get(k, "") for k in COLUMNS}) for r in data.get("rows") or []]
        return cls(str(data.get("title", "")), rows)

    def files(self) -> dict[str, str | bytes]:
        name = slug(self.title)
        return {f"{name}.json": json.dumps(self.to_dict(), indent=2) + "\n",
                f"{name}.csv": self.to_frame().to_csv(index=False)}

    @property
    def verdict(self) -> str:
        """``passed``, ``passed, 2 warnings`` or ``failed, 1 failed check, 2 warnings``."""
        return verdict_text("passed" if self.ok else "failed", self.counts())

    def summary(self) -> str:
        c = self.counts()
        return (f"{self.title}: {self.verdict} ({c['pass']} pass, {c['note']} note, {c['warn']} warn, "
                f"{c['fail']} fail, {c['skip']} skip)")

    def _repr_html_(self) -> str:
        df = self.to_frame()
        if not df["reference"].astype(bool).any():
            df = df.drop(columns=["reference"])
        df = df.rename(columns={"action": "what to do"})
        verdict = display.badge(verdict_word(self.verdict), self.verdict.upper())
        return (f"<p><b>{display.esc(self.title)}</b> {verdict} {display.counts_line(self.counts())}</p>"
                + display.frame_html(df, empty="no checks ran"))

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:  # the notebook's text/plain: a line, not every row
        return f"<Findings {self.summary()}>"


def combine(title: str, parts: Iterable[Any]) -> Findings:
    """One findings table from several results' findings, in order (parts without findings add none)."""
    out = Findings(title)
    for p in parts:
        if p is not None and hasattr(p, "findings"):
            out.extend(p.findings.rows)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def verdict_text(status: str, counts: Mapping[str, int]) -> str:
    """A status with its counts, the way every surface says it: ``passed, 7 warnings``."""
    extra = []
    if counts.get("fail"):
        extra.append(_plural(int(counts["fail"]), "failed check"))
    if counts.get("warn"):
        extra.append(_plural(int(counts["warn"]), "warning"))
    return ", ".join([status, *extra])


def verdict_word(verdict: str) -> str:
    """The palette word for a verdict: a pass with warnings is shown as a warning, not a plain pass."""
    head = verdict.split(",")[0].strip()
    if head in ("failed", "error", "damaged"):
        return "fail"
    if head in ("interrupted", "incomplete"):
        return "warn"
    if head in ("skipped", "pending"):
        return "skip"
    return "warn" if "warning" in verdict else "pass"


def add_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    """Counts of several tables added up (every status present, zero when absent)."""
    return {s: sum(int(c.get(s, 0)) for c in counts) for s in STATUSES}


def worst(rows: Iterable[Mapping[str, Any]], *, step: str = "", limit: int = WORST) -> list[dict[str, Any]]:
    """The loudest findings, one entry per check: fails first, then warnings, each with what to do.

    A check that warned on several subjects (TCP resets on three captures) is one
    entry naming them all, with the first one's evidence and action.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        status = str(r.get("status", ""))
        if SEVERITY.get(status, 0) < SEVERITY["warn"]:
            continue
        key = (status, str(r.get("check", "")))
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"step": str(r.get("step") or step), "status": status, "check": key[1], "subjects": [],
                               "evidence": str(r.get("evidence", "")), "action": str(r.get("action", "")),
                               "reference": str(r.get("reference", ""))}
        # a finding row names one subject; an entry of a step's worst list (the run's input) names several
        for subject in [str(r.get("subject", "")), *map(str, r.get("subjects") or [])]:
            if subject and subject not in g["subjects"]:
                g["subjects"].append(subject)
    ordered = sorted(groups.values(), key=lambda g: -SEVERITY[g["status"]])  # stable: runbook order within a status
    return ordered[:limit]


def worst_line(w: Mapping[str, Any]) -> str:
    """One worst finding as a line: ``WARN TCP resets (net1, net2): 588 of 785 … — what to do: …``."""
    subjects = list(w.get("subjects") or [])
    where = f" ({', '.join(subjects[:3])}{', …' if len(subjects) > 3 else ''})" if subjects else ""
    action = f" — what to do: {w['action']}" if w.get("action") else ""
    return f"{str(w.get('status', '')).upper()} {w.get('check', '')}{where}: {w.get('evidence', '')}{action}"


class StepResult:
    """What every step's whole result shares, from its ``parts`` (each a result with findings, or a table).

    A subclass is a ``@dataclass(repr=False)`` holding its parts; it names its
    ``title`` (the step) and ``parts``, and adds ``to_dict``. Findings, verdict,
    table, files and HTML come from here, so the steps cannot drift apart.
    """

    title: ClassVar[str] = "step"

    @property
    def parts(self) -> Sequence[Any]:
        return ()

    @property
    def tables(self) -> list[Findings]:
        """The findings tables the verdict is made of, each kept apart in the record (empty ones left out)."""
        return [p.findings for p in self.parts if p is not None and hasattr(p, "findings") and len(p.findings)]

    @property
    def findings(self) -> Findings:
        return combine(self.title, self.parts)

    @property
    def ok(self) -> bool:
        return self.findings.ok

    @property
    def verdict(self) -> str:
        return self.findings.verdict

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "counts": self.findings.counts()}

    def files(self) -> dict[str, str | bytes]:
        out: dict[str, str | bytes] = {}
        for part in self.parts:
            if part is not None and hasattr(part, "files"):
                out.update(part.files())
        return out

    def _repr_html_(self) -> str:
        return display.tables(p for p in self.parts if p is not None and hasattr(p, "_repr_html_"))

    def __repr__(self) -> str:  # what a notebook stores as text/plain: a line, never the whole object
        return f"<{type(self).__name__} {self.title}: {self.verdict}>"
