"""Result objects shared by every step: a finding row and a table of findings.

Steps return these instead of printing; notebooks display them (HTML table with
coloured status), the runbook stores them in notebook metadata, and the CLI turns
``Findings.ok`` into an exit code.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Iterable, Literal

import pandas as pd

Status = Literal["pass", "warn", "fail", "skip"]
STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "skip")

_COLOURS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e", "skip": "#57606a"}


@dataclass(frozen=True)
class CheckResult:
    """One row of a findings table: what was checked, the verdict, why, and what to do."""

    check: str
    status: Status
    evidence: str = ""
    action: str = ""
    subject: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")


@dataclass
class Findings:
    """An ordered table of ``CheckResult`` rows with a title."""

    title: str
    rows: list[CheckResult] = field(default_factory=list)

    def add(self, check: str, status: Status, evidence: str = "", action: str = "", subject: str = "") -> CheckResult:
        row = CheckResult(check, status, evidence, action, subject)
        self.rows.append(row)
        return row

    def extend(self, rows: Iterable[CheckResult]) -> None:
        self.rows.extend(rows)

    @property
    def ok(self) -> bool:
        """True when no row failed (warnings and skips do not fail a step)."""
        return not any(r.status == "fail" for r in self.rows)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.rows if r.status == s) for s in STATUSES}

    def failed(self) -> list[CheckResult]:
        return [r for r in self.rows if r.status == "fail"]

    def to_frame(self) -> pd.DataFrame:
        cols = ["check", "subject", "status", "evidence", "action"]
        return pd.DataFrame([asdict(r) for r in self.rows], columns=["check", "status", "evidence", "action", "subject"])[
            cols
        ]

    def to_dict(self) -> dict:
        return {"title": self.title, "ok": self.ok, "counts": self.counts(), "rows": [asdict(r) for r in self.rows]}

    def summary(self) -> str:
        c = self.counts()
        verdict = "PASSED" if self.ok else "FAILED"
        return f"{self.title}: {verdict} ({c['pass']} pass, {c['warn']} warn, {c['fail']} fail, {c['skip']} skip)"

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("check", "subject", "status", "evidence", "what to do"))
        body = []
        for r in self.rows:
            colour = _COLOURS[r.status]
            body.append(
                "<tr>"
                f"<td>{html.escape(r.check)}</td><td>{html.escape(r.subject)}</td>"
                f"<td style='color:{colour};font-weight:bold'>{r.status.upper()}</td>"
                f"<td style='text-align:left'>{html.escape(r.evidence)}</td>"
                f"<td style='text-align:left'>{html.escape(r.action)}</td>"
                "</tr>"
            )
        return (
            f"<p><b>{html.escape(self.summary())}</b></p>"
            f"<table class='spkrunbook-findings'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def __str__(self) -> str:
        return self.summary()
