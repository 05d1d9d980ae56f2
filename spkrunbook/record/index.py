"""The pages people open first: one ``index.html`` per run, and ``records/index.html`` for every run.

Both are static HTML built from what the record already holds (``run.json`` and
``steps/*.json``), with relative links only, so they open from disk, from a zip
sent to a colleague, or from any web server. They are rewritten at the end of
every run; nothing else in a record is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .. import display
from ..results import Findings, verdict_text, verdict_word, worst_line
from .store import RUN_FILE, Record, list_records, read, read_run, write_text

INDEX = "index.html"
IMAGES = (".png", ".svg")
_STATUS_WORD = {"passed": "pass", "failed": "fail", "error": "fail", "interrupted": "warn", "incomplete": "warn",
                "skipped": "skip", "pending": "skip", "damaged": "fail"}
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5em auto;max-width:90em;padding:0 1em;
color:#24292f;line-height:1.45}}
h1{{font-size:1.5em;margin-bottom:0.2em}} h2{{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:0.2em;
margin-top:1.6em}} a{{color:#0969da}} dl{{display:grid;grid-template-columns:max-content auto;gap:0.15em 1em}}
dt{{font-weight:600}} dd{{margin:0}} img{{max-width:100%;border:1px solid #d0d7de}}
.gallery{{display:flex;flex-wrap:wrap;gap:0.6em;align-items:flex-start}}
.gallery figure{{margin:0;flex:0 1 22em}} .gallery img{{width:100%;height:auto}}
figcaption{{font-size:0.8em}}
.muted{{color:#57606a}} ul.files{{columns:2;font-size:0.9em}}
{table_css}
</style></head><body>
{body}
</body></html>
"""


def page(title: str, body: str) -> str:
    """A records page (the run index, the list of runs, the labs-by-nights page) in the one stylesheet."""
    return _PAGE.format(title=title, body=body, table_css=display.TABLE_CSS)


def _word(status: str) -> str:
    return _STATUS_WORD.get(status, status)


def _verdict(data: dict[str, Any], status: str) -> str:
    """A run's or a step's verdict with its warnings (``passed, 6 warnings``); older records: the status."""
    v = data.get("verdict")
    if isinstance(v, str) and v:
        return v
    counts = data.get("counts")
    return verdict_text(status, counts) if isinstance(counts, dict) else status


def _verdict_badge(verdict: str) -> str:
    return display.badge(verdict_word(verdict), verdict.upper())


def _duration(value: Any) -> str:
    try:
        return f"{float(value):.1f} s"
    except (TypeError, ValueError):
        return display.MISSING


def _link(href: str, text: str) -> str:
    return f"<a href=\"{display.esc(href)}\">{display.esc(text)}</a>"


def _worst_html(worst: list[dict[str, Any]]) -> str:
    """The loudest findings first: what failed or warned, where, why and what to do."""
    if not worst:
        return "<p>No failure and no warning: every check passed or was skipped (the steps below say which).</p>"
    rows = [{"status": str(w.get("status", "")), "step": w.get("step", ""), "check": w.get("check", ""),
             "where": list(w.get("subjects") or []), "evidence": w.get("evidence", ""),
             "what to do": w.get("action", ""), "reference": w.get("reference", "")} for w in worst]
    return display.frame_html(pd.DataFrame(rows), fold_at=1000, name="worst")


def _findings_html(findings: list[Findings]) -> str:
    if not findings:
        return "<p class='muted'>no findings recorded</p>"
    parts = []
    for f in findings:
        df = f.to_frame().rename(columns={"action": "what to do"})
        # Every FAIL and WARN in view; the passes one click away.
        loud = df[df["status"].isin(["fail", "warn"])]
        quiet = df[~df["status"].isin(["fail", "warn"])]
        parts.append(f"<h3 style='font-size:1em;margin-bottom:0.2em'>{display.esc(f.title)} "
                     f"{display.counts_line(f.counts())}</h3>")
        if len(loud):  # what went wrong is read in full, never behind a click
            parts.append(display.frame_html(loud, fold_at=1000))
        if len(quiet):
            parts.append(f"<details><summary>{len(quiet)} passed, noted or skipped</summary>"
                         f"{display.frame_html(quiet)}</details>")
    return "".join(parts)


def _files(record: Path, step: str, artifacts: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(images, other files) of one step, relative to the record; from the step's list, or its folder."""
    names = [str(a.get("path")) for a in artifacts if a.get("path")]
    if not names and (record / step).is_dir():
        names = sorted(str(p.relative_to(record)) for p in (record / step).rglob("*") if p.is_file())
    names = [n for n in names if (record / n).is_file()]
    images = [n for n in names if n.lower().endswith(IMAGES)]
    return images, [n for n in names if n not in images]


def _gallery(images: list[str]) -> str:
    """The pictures of a step, a gallery per capture (the part of the file name before its first dot),
    small side by side; each opens full size."""
    groups: dict[str, list[str]] = {}
    for i in images:
        groups.setdefault(i.rsplit("/", 1)[-1].split(".", 1)[0], []).append(i)
    out = []
    for name, files in groups.items():
        figs = "".join(f"<figure><a href=\"{display.esc(i)}\"><img src=\"{display.esc(i)}\" "
                       f"alt=\"{display.esc(i.rsplit('/', 1)[-1])}\"></a><figcaption class='muted'>"
                       f"{display.esc(i.rsplit('/', 1)[-1])}</figcaption></figure>" for i in files)
        out.append(f"<h3 style='font-size:1em;margin-bottom:0.2em'>{display.esc(name)}: {len(files)} picture(s)</h3>"
                   f"<div class='gallery'>{figs}</div>")
    return "".join(out)


def run_page(rec: Record) -> str:
    """The HTML of one run's index page: the verdict and what to look at first, then the steps."""
    run = rec.run or {}
    status = rec.status
    verdict = _verdict(run, status)
    target = run.get("target") or {}
    title = f"{rec.lab_name} · {verdict} · {rec.path.name}"
    out = [f"<h1>Lab {display.esc(rec.lab_name)} {_verdict_badge(verdict)}</h1>",
           f"<p class='muted'>{display.esc(run.get('description') or '')}</p>",
           "<h2>What to look at first</h2>", _worst_html(list(run.get("worst") or []))]
    if run.get("warnings"):
        out.append("<h2>Parameter warnings</h2><ul>" + "".join(f"<li>{display.esc(w)}</li>" for w in run["warnings"])
                   + "</ul>")
    out.append("<h2>Steps</h2>")
    rows = []
    for s in run.get("steps") or []:
        name, st = str(s.get("step")), str(s.get("status"))
        err = s.get("error") or {}
        loud = [worst_line(w) for w in s.get("worst") or []]
        what = (err.get("message", "") + (f" — what to do: {err['hint']}" if err.get("hint") else "")) if err else \
            (loud[0] + (f" (and {len(loud) - 1} more below)" if len(loud) > 1 else "") if loud else "")
        rows.append({"step": name, "verdict": _verdict(s, st), "duration": _duration(s.get("duration_s")),
                     "notebook": s.get("html") or "", "what happened": what})
    table = pd.DataFrame(rows, columns=["step", "verdict", "duration", "notebook", "what happened"])
    out.append(display.frame_html(table, status_column="verdict", status_word=verdict_word, link_columns=("notebook",),
                                  empty="no steps were run", fold_at=400, name="steps"))
    out.append("<details><summary>About this run</summary><dl>")
    for key, value in (("record", rec.path.name), ("target", f"{target.get('kind', '?')} {target.get('name', '')}"),
                       ("started", run.get("started")), ("ended", run.get("ended")),
                       ("duration", _duration(run.get("duration_s"))),
                       ("spkrunbook", run.get("spkrunbook_version")),
                       ("command", " ".join(map(str, run.get("command") or [])))):
        out.append(f"<dt>{key}</dt><dd>{display.esc(value if value not in (None, '') else display.MISSING)}</dd>")
    out.append(f"<dt>files</dt><dd>{_link(RUN_FILE, RUN_FILE)} · {_link('lab.json', 'lab.json')} (scrubbed)</dd>"
               "</dl></details>")
    for s in run.get("steps") or []:
        name = str(s.get("step"))
        step = rec.step(name)
        out.append(f"<h2 id=\"{display.esc(name)}\">{display.esc(name)} "
                   f"{_verdict_badge(_verdict(s, str(s.get('status'))))}</h2>")
        links = [_link(s["html"], "notebook (HTML)")] if s.get("html") else []
        if s.get("notebook"):
            links.append(_link(s["notebook"], "notebook (.ipynb)"))
        if links:
            out.append("<p>" + " · ".join(links) + "</p>")
        err = s.get("error") or {}
        if err:
            out.append(f"<p>{display.badge('fail', 'ERROR')} {display.esc(err.get('message', ''))}"
                       + (f"<br><b>what to do:</b> {display.esc(err['hint'])}" if err.get("hint") else "") + "</p>")
        if step is None:
            continue
        out.append(_findings_html(step.findings))
        images, files = _files(rec.path, name, step.artifacts)
        if images:
            out.append(_gallery(images))
        if files:
            out.append("<details><summary>" + f"{len(files)} file(s)</summary><ul class='files'>"
                       + "".join(f"<li>{_link(f, f)}</li>" for f in files) + "</ul></details>")
    out.append("<p class='muted'>Every text file in this record was scrubbed of secrets before the run ended. "
               f"{_link('../' + INDEX, 'All runs')}</p>")
    return page(display.esc(title), "\n".join(out))


def write_run_index(record: Path) -> Path:
    """Write ``<record>/index.html`` from what the record holds."""
    rec = read(record)
    path = Path(record) / INDEX
    write_text(path, run_page(rec))
    return path


def records_page(records_root: Path) -> str:
    """The HTML of ``records/index.html``: every run of every lab, newest first, each with its verdict
    and its loudest finding."""
    table = list_records(records_root)
    rows = []
    for r in table.to_dict("records"):
        folder = Path(records_root) / r["record"]
        run = read_run(folder) or {}
        verdict = _verdict(run, str(r["status"]))
        worst = [w for w in run.get("worst") or [] if isinstance(w, dict)]
        steps = [f"{s.get('step')}: {_verdict(s, str(s.get('status')))}" for s in run.get("steps") or []
                 if isinstance(s, dict)]
        rows.append({"run": f"{r['record']}/{INDEX}" if (folder / INDEX).is_file() else r["record"], "lab": r["lab"],
                     "target": r["target"], "verdict": verdict,
                     "loudest finding": f"{str(worst[0].get('status', '')).upper()} {worst[0].get('check', '')}: "
                                        f"{worst[0].get('evidence', '')}" if worst else "",
                     "started": r["started"], "duration": _duration(r["duration_s"]), "steps": steps})
    df = pd.DataFrame(rows, columns=["run", "lab", "target", "verdict", "started", "duration", "steps", "loudest finding"])
    html = display.frame_html(df, status_column="verdict", status_word=verdict_word, link_columns=("run",),
                              empty="no runs recorded yet", name="runs")
    body = (f"<h1>Lab records</h1><p class='muted'>{len(df)} run(s) in {display.esc(Path(records_root).resolve())}, "
            "newest first</p>" + html)
    return page("Lab records", body)


def write_records_index(records_root: Path) -> Path:
    path = Path(records_root) / INDEX
    write_text(path, records_page(records_root))
    return path
