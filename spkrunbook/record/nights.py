"""One page across labs and nights: ``spkrunbook records index s3://…`` (or a folder) -> ``labs.html``.

Labs are rows, nights (UTC dates) columns; each cell is that night's verdict with its
warning count and links to the record (the night's last run when there were more).
Below, each lab's open findings (failed or warning in its newest run) with the
night since which they have been there without a break: "hugepages on worker-2,
fail, since 3 December", and that finding's status over the nights shown.

Built from ``run.json`` and ``steps/*.json`` only (scrubbed data), with links
relative to the page, so it works in a folder, in a bucket served over HTTP, or
copied anywhere with the records. ``resolve`` turns ``LAB@YYYY-MM-DD`` into that
night's record name, for ``records diff`` across two nights of one lab.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .. import display
from ..errors import RecordError
from . import remote
from .store import RUN_FILE, STEPS_DIR, read_run, write_text

PAGE = "labs.html"
#: Nights shown as columns (older ones still count for "since").
NIGHTS = 14
_WORD = {"passed": "pass", "failed": "fail", "incomplete": "warn", "damaged": "fail"}


class Source:
    """Records in a folder or a store, read the same way."""

    def __init__(self, where: str | os.PathLike[str]) -> None:
        self.where = str(where)
        self.store = remote.open_store(self.where) if remote.is_remote(self.where) else None
        self.root = None if self.store is not None else remote.local_path(self.where)

    def names(self) -> list[str]:
        if self.store is not None:
            return self.store.names()
        assert self.root is not None
        if not self.root.is_dir():
            raise RecordError(f"{self.root} is not a records folder", hint="give the folder or s3:// URL runs write to")
        return sorted((p.name for p in self.root.iterdir() if p.is_dir() and remote.RECORD_NAME.match(p.name)),
                      reverse=True)

    def read(self, name: str, relative: str = RUN_FILE) -> dict[str, Any] | None:
        if self.store is not None:
            return self.store.read_json(name, relative)
        assert self.root is not None
        if relative == RUN_FILE:
            return read_run(self.root / name)
        import json

        try:
            data = json.loads((self.root / name / relative).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, relative: str, text: str) -> str:
        if self.store is not None:
            return self.store.write_text(relative, text)
        assert self.root is not None
        write_text(self.root / relative, text)
        return str((self.root / relative).resolve())


@dataclass
class Run:
    """One record as the page needs it."""

    name: str
    lab: str
    status: str
    started: str
    counts: dict[str, int] = field(default_factory=dict)
    open: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)  # (step, check, subject) -> (status, evidence)

    @property
    def night(self) -> date:
        try:
            return datetime.fromisoformat(self.started.replace("Z", "+00:00")).date()
        except ValueError:
            return datetime.strptime(self.name[:8], "%Y%m%d").date()


def read_runs(source: Source) -> list[Run]:
    """Every record's verdict, counts and failed/warning findings, oldest first."""
    runs = []
    for name in reversed(source.names()):
        data = source.read(name) or {}
        run = Run(name, str(data.get("lab") or name[17:]), str(data.get("status") or "incomplete"),
                  str(data.get("started") or ""))
        counts = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
        for s in data.get("steps") or []:
            step = str(s.get("step"))
            summary = source.read(name, f"{STEPS_DIR}/{step}.json") or {}
            for table in summary.get("findings") or []:
                for row in table.get("rows") or []:
                    st = str(row.get("status"))
                    counts[st] = counts.get(st, 0) + 1
                    if st in ("fail", "warn"):
                        run.open[(step, str(row.get("check", "")), str(row.get("subject", "")))] = (st, str(row.get("evidence", "")))
        run.counts = counts
        runs.append(run)
    return runs


def _day(d: date, today: date) -> str:
    return f"{d.day} {d.strftime('%B')}" + (f" {d.year}" if d.year != today.year else "")


def since(runs: list[Run], key: tuple[str, str, str]) -> date | None:
    """The first night of the unbroken streak, ending at the newest run, in which ``key`` was open."""
    first = None
    for run in reversed(runs):  # newest first
        if key not in run.open:
            break
        first = run.night
    return first


@dataclass
class Page:
    where: str
    labs: int
    nights: int
    records: int


def _cell(run: Run, count: int) -> str:
    word = _WORD.get(run.status, "skip")
    warn = run.counts.get("warn", 0)
    text = run.status.upper() + (f", {warn} warning{'s' if warn != 1 else ''}" if warn else "")
    extra = f" <span class='muted'>({count} runs)</span>" if count > 1 else ""
    return f"<a href=\"{display.esc(run.name)}/index.html\">{display.badge(word, text)}</a>{extra}"


def html(runs: list[Run], *, title: str = "Labs, night by night", today: date | None = None) -> str:
    """The page: the grid, then each lab's open findings with the night they started."""
    from .index import page

    today = today or datetime.now().date()
    by_lab: dict[str, list[Run]] = {}
    for r in runs:
        by_lab.setdefault(r.lab, []).append(r)
    nights = sorted({r.night for r in runs}, reverse=True)[:NIGHTS]
    head = "".join(f"<th>{display.esc(_day(n, today))}</th>" for n in nights)
    rows = []
    for lab in sorted(by_lab):
        cells = []
        for n in nights:
            that = [r for r in by_lab[lab] if r.night == n]
            cells.append(f"<td>{_cell(that[-1], len(that)) if that else display.MISSING}</td>")
        rows.append(f"<tr><th style='text-align:left'>{display.esc(lab)}</th>{''.join(cells)}</tr>")
    out = [f"<h1>{display.esc(title)}</h1>",
           f"<p class='muted'>{len(by_lab)} lab(s), {len(runs)} record(s); newest night first; each cell links to "
           "that night's record (its last run)</p>",
           f"<table><thead><tr><th>lab</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
           "<h2>Open findings, and since when</h2>"]
    for lab in sorted(by_lab):
        newest = by_lab[lab][-1]
        out.append(f"<h3 style='font-size:1em'>{display.esc(lab)} "
                   f"<span class='muted'>(newest: <a href=\"{display.esc(newest.name)}/index.html\">"
                   f"{display.esc(newest.name)}</a>)</span></h3>")
        if not newest.open:
            out.append("<p class='muted'>nothing failed or warned in the newest run</p>")
            continue
        items = []
        for key, (st, evidence) in sorted(newest.open.items(), key=lambda kv: (kv[1][0] != "fail", kv[0])):
            step, check, subject = key
            first = since(by_lab[lab], key)
            history = "".join(display.badge(_WORD.get(r.open[key][0], r.open[key][0]) if key in r.open else "pass",
                                            r.open[key][0] if key in r.open else "ok")
                              for r in by_lab[lab][-NIGHTS:])
            items.append(f"<li>{display.badge(st, st.upper())} <b>{display.esc(check)}</b>"
                         + (f" on <b>{display.esc(subject)}</b>" if subject else "")
                         + f" ({display.esc(step)}) since <b>{display.esc(_day(first, today) if first else '?')}</b>: "
                         f"{display.esc(evidence)}<br><span class='muted'>oldest to newest:</span> {history}</li>")
        out.append("<ul>" + "".join(items) + "</ul>")
    return page(display.esc(title), "\n".join(out))


def write(where: str | os.PathLike[str]) -> Page:
    """Write ``labs.html`` at the top of the records location (folder or store)."""
    source = Source(where)
    runs = read_runs(source)
    target = source.write(PAGE, html(runs))
    return Page(target, len({r.lab for r in runs}), len({r.night for r in runs}), len(runs))


def resolve(selector: str, where: str | os.PathLike[str]) -> str:
    """``LAB@YYYY-MM-DD`` -> the name of that lab's last record of that night (``RecordError`` when none)."""
    lab, _, day = selector.partition("@")
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise RecordError(f"{selector!r}: {day!r} is not a date like 2026-12-03",
                          hint="name a record, or LAB@YYYY-MM-DD for that night's run of LAB") from None
    source = Source(where)
    stamp = wanted.strftime("%Y%m%d")
    for name in source.names():  # newest first
        if name.startswith(stamp) and (name[17:] == lab or name[17:].startswith(lab + "-")):
            data = source.read(name) or {}
            if data.get("lab", lab) == lab:
                return name
    raise RecordError(f"no record of lab {lab!r} on {day} in {where}",
                      hint=f"list them with `spkrunbook records --records {where}`")
