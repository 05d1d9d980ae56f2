"""A run's summary where the team looks: ``--notify URL`` posts the verdict as JSON.

The body is what a Slack (or Mattermost, Rocket.Chat, Google Chat) incoming webhook
shows, a ``text`` field, plus the same facts as data for anything else that reads
it: lab, status, counts of pass/warn/fail/skip, each step's status, the worst
findings (failures first, then warnings, at most ``WORST``) and the record's link.

It is built from the finished record, which is scrubbed, and scrubbed once more
with the run's scrubber (the webhook URL is one of its secrets: a Slack webhook's
path is its credential). A post that fails is a warning in the record and on the
terminal, never a failed run: the record is the source of truth, the message a
courtesy.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import record as records
from .secrets import Scrubber

#: How many findings the message lists (the record holds all of them).
WORST = 5
# A webhook answers in well under a second; ten keeps a dead one from holding a Job's pod.
TIMEOUT_S = 10.0
_ORDER = {"fail": 0, "warn": 1}


def counts(record: records.Record) -> dict[str, int]:
    """pass/warn/fail/skip over every step's findings."""
    out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
    for step in record.steps():
        for f in step.findings:
            for k, v in f.counts().items():
                out[k] = out.get(k, 0) + int(v)
    return out


def worst(record: records.Record, limit: int = WORST) -> list[dict[str, str]]:
    """The failed findings, then the warnings, in step order: what to read first."""
    rows = []
    for step in record.steps():
        for r in step.rows().rows:
            if r.status in _ORDER:
                rows.append({"step": step.name, "status": r.status, "check": r.check, "subject": r.subject,
                             "evidence": r.evidence, "action": r.action})
    rows.sort(key=lambda r: _ORDER[r["status"]])
    return rows[:limit]


def payload(record: records.Record, link: str) -> dict[str, Any]:
    """The JSON body for a finished record (``text`` for chat, the rest for code)."""
    run = record.run or {}
    c = counts(record)
    bad = worst(record)
    status = record.status
    steps = [{"step": s.get("step"), "status": s.get("status")} for s in run.get("steps") or []]
    head = (f"spkrunbook: lab {record.lab_name} {status.upper()} "
            f"({c['fail']} failed, {c['warn']} warning{'s' if c['warn'] != 1 else ''}, {c['pass']} passed)")
    lines = [head]
    lines += [f"- {b['status'].upper()} {b['check']}{' on ' + b['subject'] if b['subject'] else ''}: {b['evidence']}"
              for b in bad]
    lines.append(f"record: {link}")
    return {"text": "\n".join(lines), "lab": record.lab_name, "status": status, "counts": c, "steps": steps,
            "worst": bad, "record": link, "started": run.get("started"), "duration_s": run.get("duration_s")}


@dataclass
class Sent:
    """How a post went: ``ok``, the HTTP status, or why not (never the URL: it can be a credential)."""

    host: str
    ok: bool
    status: int | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "ok": self.ok, "http_status": self.status, "error": self.error}

    @property
    def warning(self) -> str:
        return f"the notification to {self.host} was not sent: {self.error}"


def post(url: str, body: dict[str, Any], scrubber: Scrubber, *, timeout: float = TIMEOUT_S) -> Sent:
    """POST ``body`` as JSON (scrubbed); never raises for a network or HTTP failure."""
    host = urlsplit(url).netloc or "?"
    if urlsplit(url).scheme not in ("http", "https"):
        return Sent(host, False, error="the notify URL is not http(s)")
    data = scrubber.text(json.dumps(body, default=str)).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "spkrunbook"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # the user's own webhook, http(s) only
            return Sent(host, True, resp.status)
    except urllib.error.HTTPError as exc:
        return Sent(host, False, exc.code, f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Sent(host, False, error=f"{type(reason).__name__}: {reason}"[:200])


def notify(record_dir: Path, url: str, link: str, scrubber: Scrubber) -> Sent:
    """Post the finished record's summary and write how it went into its run.json (and its page)."""
    rec = records.read(record_dir)
    sent = post(url, payload(rec, link), scrubber)
    run = dict(rec.run or {})
    run["notify"] = sent.to_dict()
    if not sent.ok:
        run["warnings"] = [*run.get("warnings", []), sent.warning]
    records.write_run(record_dir, run, scrubber)
    records.write_run_index(record_dir)
    return sent
