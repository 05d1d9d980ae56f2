"""How every result looks: one palette, and table, code and diff HTML for every ``_repr_html_``.

The same HTML serves JupyterLab and the static record (nbconvert), so it cannot
rely on either's stylesheet: styles are inline, code is set in monospace
explicitly (nbconvert's ``pre { font-family: inherit }`` would otherwise win),
long text folds into ``<details>`` that a static page can still open, missing
values read as a dash, times as times, lists as text, and an empty table says
so instead of showing a bare header.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

PALETTE: dict[str, str] = {
    "pass": "#1a7f37",
    "note": "#0969da",
    "warn": "#9a6700",
    "fail": "#cf222e",
    "skip": "#57606a",
    "info": "#0969da",
}
BACKGROUND: dict[str, str] = {
    "pass": "#dafbe1",
    "note": "#ddf4ff",
    "warn": "#fff8c5",
    "fail": "#ffebe9",
    "skip": "#f6f8fa",
    "info": "#ddf4ff",
}
MISSING = "—"
#: Cells longer than this fold into <details> (the first part stays visible).
FOLD_AT = 160
MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace"
_TABLE = "border-collapse:collapse;table-layout:auto;width:auto;max-width:100%;font-size:0.9em;margin:0.3em 0"
_CELL = ("border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top;"
         "white-space:normal;overflow-wrap:anywhere;max-width:40em")
_HEAD = _CELL + ";background:#f6f8fa;font-weight:600"
_PRE = (f"{MONO};font-size:0.85em;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;"
        "padding:6px 8px;margin:0.3em 0;white-space:pre-wrap;overflow-wrap:break-word;word-break:normal")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def status_colour(status: str) -> str:
    return PALETTE.get(str(status).lower(), "#24292f")


def badge(status: str, text: str | None = None) -> str:
    """A coloured status word (PASS, WARN, FAIL, SKIP, or any other text in the status's colour)."""
    s = str(status).lower()
    return (f"<span style='color:{status_colour(s)};background:{BACKGROUND.get(s, '#f6f8fa')};font-weight:700;"
            f"padding:0 4px;border-radius:3px;white-space:nowrap'>{esc(text if text is not None else s.upper())}</span>")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict, set, str, bytes)) else False
    except (TypeError, ValueError):
        return False


def format_timedelta(td: timedelta | pd.Timedelta) -> str:
    """``12:34:56.789012`` (days as ``2d 01:00:00``): a time, not ``0 days 12:34:56``."""
    total = pd.Timedelta(td)
    neg = total < pd.Timedelta(0)
    total = abs(total)
    days = total.days
    secs = total.seconds
    micro = total.microseconds
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    text = f"{hh:02d}:{mm:02d}:{ss:02d}" + (f".{micro:06d}" if micro else "")
    if days:
        text = f"{days}d {text}"
    return ("-" if neg else "") + text


def cell_text(value: Any) -> str:
    """What a reader should see for one value (plain text, not yet escaped)."""
    if _is_missing(value):
        return MISSING
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy scalar: its Python value
        kind = value.dtype.kind
        value = pd.Timedelta(value) if kind == "m" else pd.Timestamp(value) if kind == "M" else value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
        return ts.isoformat(sep=" ", timespec="microseconds" if ts.microsecond else "seconds").replace("+00:00", " UTC")
    if isinstance(value, (pd.Timedelta, timedelta)):
        return format_timedelta(value)
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else f"{value:.3e}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple, set)) or (hasattr(value, "tolist") and not isinstance(value, str)):
        items = list(value.tolist() if hasattr(value, "tolist") else value)
        return ", ".join(cell_text(v) for v in items) if items else MISSING
    return str(value)


def fold(text: str, limit: int = FOLD_AT, *, mono: bool = False) -> str:
    """Escaped text; long text keeps its start visible and the rest in a ``<details>``."""
    style = f" style=\"{MONO}\"" if mono else ""
    if len(text) <= limit and "\n" not in text:
        return f"<span{style}>{esc(text)}</span>" if mono else esc(text)
    head = text.splitlines()[0] if "\n" in text else text
    head = head[:limit].rstrip()
    return (f"<details><summary{style}>{esc(head)} …</summary>"
            f"<div style=\"white-space:pre-wrap;{MONO if mono else ''}\">{esc(text)}</div></details>")


def code(text: str, *, title: str = "") -> str:
    """A monospace box for YAML, commands and logs (wraps at spaces, never mid-word unless it must)."""
    head = f"<div style='font-weight:600;margin-top:0.4em'>{esc(title)}</div>" if title else ""
    return f"{head}<pre style=\"{_PRE}\">{esc(text.rstrip())}</pre>"


def diff(text: str, *, title: str = "") -> str:
    """A unified diff with added lines green and removed lines red, in monospace."""
    if not text.strip():
        return f"<p>{esc(title + ': ' if title else '')}no differences</p>"
    lines = []
    for line in text.rstrip("\n").splitlines():
        colour = ("#1a7f37" if line.startswith("+") and not line.startswith("+++")
                  else "#cf222e" if line.startswith("-") and not line.startswith("---")
                  else "#6e7781" if line.startswith("@@") else "inherit")
        lines.append(f"<span style='color:{colour}'>{esc(line)}</span>")
    head = f"<div style='font-weight:600;margin-top:0.4em'>{esc(title)}</div>" if title else ""
    return f"{head}<pre style=\"{_PRE}\">" + "\n".join(lines) + "</pre>"


def frame_html(
    df: pd.DataFrame,
    *,
    status_column: str | None = "status",
    code_columns: Sequence[str] = (),
    link_columns: Sequence[str] = (),
    empty: str = "none found",
    max_rows: int = 500,
    fold_at: int = FOLD_AT,
) -> str:
    """A DataFrame as a readable table: no index, status coloured, long cells folded."""
    if df is None or len(df.columns) == 0 or df.empty:
        cols = "".join(f"<th style=\"{_HEAD}\">{esc(c)}</th>" for c in (df.columns if df is not None else []))
        head = f"<thead><tr>{cols}</tr></thead>" if cols else ""
        span = max(1, len(df.columns) if df is not None else 1)
        return (f"<table style=\"{_TABLE}\">{head}<tbody><tr><td style=\"{_CELL};color:#57606a;font-style:italic\" "
                f"colspan='{span}'>{esc(empty)}</td></tr></tbody></table>")
    shown = df.head(max_rows)
    head = "".join(f"<th style=\"{_HEAD}\">{esc(c)}</th>" for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(shown.columns, rec):
            text = cell_text(value)
            if status_column and col == status_column and not _is_missing(value):
                inner = badge(str(value))
            elif text.startswith(("https://", "http://")) and " " not in text:
                inner = link(text)
            elif col in link_columns and text != MISSING:
                inner = f"<a href=\"{esc(text)}\">{esc(text.split('/')[0])}</a>"
            else:
                inner = fold(text, fold_at, mono=col in code_columns)
            cells.append(f"<td style=\"{_CELL}\">{inner}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p style='color:#57606a'>{len(df) - max_rows:,} more row(s) not shown "
            "(the full table is in the record as CSV)</p>") if len(df) > max_rows else ""
    return f"<table style=\"{_TABLE}\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def link(url: str) -> str:
    """A reference URL as a short link: the site and the page's last part, the whole URL on hover."""
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    last = [p for p in path.split("/") if p][-1:] or [""]
    label = host.removeprefix("www.") + ("/…/" + last[0] if last[0] else "")
    return f"<a href=\"{esc(url)}\" title=\"{esc(url)}\" target=\"_blank\" rel=\"noopener\">{esc(label)}</a>"


def heading(text: str, level: int = 4) -> str:
    return f"<h{level} style='margin:0.6em 0 0.2em'>{esc(text)}</h{level}>"


def counts_line(counts: Mapping[str, int]) -> str:
    """``3 pass · 1 warn · 0 fail`` with each word in its colour."""
    parts = [f"<span style='color:{status_colour(k)}'>{v} {esc(k)}</span>" for k, v in counts.items()]
    return " · ".join(parts)


@dataclass
class Table:
    """A DataFrame that displays as a readable table (for notebook cells and the record).

    ``frame`` stays a plain DataFrame for code; only the display changes.
    """

    frame: pd.DataFrame
    title: str = ""
    empty: str = "none found"
    status_column: str | None = "status"
    code_columns: Sequence[str] = field(default_factory=tuple)
    note: str = ""

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    def __len__(self) -> int:
        return len(self.frame)

    def _repr_html_(self) -> str:
        out = heading(self.title) if self.title else ""
        if self.note:
            out += f"<p style='color:#57606a'>{esc(self.note)}</p>"
        return out + frame_html(self.frame, status_column=self.status_column, code_columns=self.code_columns,
                                empty=self.empty)

    def __repr__(self) -> str:
        return f"{self.title}\n{self.frame.to_string(index=False)}" if self.title else self.frame.to_string(index=False)


def tables(items: Iterable[Any]) -> str:
    """Several results one after another (each with its own ``_repr_html_``)."""
    return "".join(i._repr_html_() for i in items)


@dataclass
class HTML:
    """Ready HTML that a notebook cell shows as it is (no IPython import needed in the library)."""

    body: str

    def _repr_html_(self) -> str:
        return self.body
