"""The one result shape every step returns, and the findings table it ends in.

A step function returns an object that follows ``Result``: its ``findings`` (the
verdict rows), a table (``to_frame``), JSON-able data (``to_dict``), the files it
wants in the lab record (``files``: names relative to the step's folder; the
notebook context decides where that folder is) and an HTML view. The CLI turns
``findings.ok`` into an exit code; nothing prints its way to an answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from . import display, references

Status = Literal["pass", "warn", "fail", "skip"]
STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "skip")
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


@dataclass
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

    def summary(self) -> str:
        c = self.counts()
        verdict = "PASSED" if self.ok else "FAILED"
        return f"{self.title}: {verdict} ({c['pass']} pass, {c['warn']} warn, {c['fail']} fail, {c['skip']} skip)"

    def _repr_html_(self) -> str:
        df = self.to_frame()
        if not df["reference"].astype(bool).any():
            df = df.drop(columns=["reference"])
        df = df.rename(columns={"action": "what to do"})
        verdict = display.badge("pass" if self.ok else "fail", "PASSED" if self.ok else "FAILED")
        return (f"<p><b>{display.esc(self.title)}</b> {verdict} {display.counts_line(self.counts())}</p>"
                + display.frame_html(df, empty="no checks ran"))

    def __str__(self) -> str:
        return self.summary()


def combine(title: str, parts: Iterable[Result | None]) -> Findings:
    """One findings table from several results' findings, in order."""
    out = Findings(title)
    for p in parts:
        if p is not None:
            out.extend(p.findings.rows)
    return out
