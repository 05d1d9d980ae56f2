"""How every result looks: one palette, and table, code and diff HTML for every ``_repr_html_``.

The same HTML serves JupyterLab and the static record (nbconvert), so it cannot
rely on either's stylesheet: styles are inline, code is set in monospace
explicitly (nbconvert's ``pre { font-family: inherit }`` would otherwise win),
long text folds into ``<details>`` that a static page can still open, missing
values read as a dash, times as times, lists as text, booleans as marks, and an
empty table says so instead of showing a bare header.

Tables read like Wireshark's: no index column, numbers right-aligned with
thousands separated and their units (a column's kind: bytes as ``233 kB``, bit
rates as ``7.15 Mbit/s``), and a cell never breaks inside an address, a number
or a word (text wraps at spaces only; wide tables scroll sideways instead).
Every table a notebook, a record page or JupyterLab shows is made here.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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
#: How a boolean reads in a table: a mark, not ``True``/``False``.
MARKS = {True: "✓", False: "✗"}
#: Cells longer than this fold into <details> (the first part stays visible).
FOLD_AT = 160
#: A cell without spaces up to this long (an address, a MAC, a name, a number) never wraps.
TOKEN = 80
MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace"
# Inline styles (JupyterLab keeps them, drops <style>) say only what differs from the host's table
# style: JupyterLab right-aligns and wraps cells, so text cells say left and single tokens say nowrap.
# Borders and padding come from the host: JupyterLab's own, or TABLE_CSS in the record's pages.
_TABLE = "border-collapse:collapse;margin:0.3em 0;font-size:0.9em;word-break:normal;overflow-wrap:normal"
_LEFT = "text-align:left"
_NOWRAP = "white-space:nowrap"
_GROUP = "text-align:left;background:#eaeef2;white-space:nowrap"
#: The table stylesheet of the record's own pages (run index, notebook HTML): what JupyterLab gives its tables.
TABLE_CSS = ("table.spk-table th,table.spk-table td{border:1px solid #d0d7de;padding:3px 6px;vertical-align:top;"
             "text-align:right}table.spk-table thead th{background:#f6f8fa;font-weight:600}")
_PRE = (f"{MONO};font-size:0.85em;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;"
        "padding:6px 8px;margin:0.3em 0;white-space:pre-wrap;overflow-wrap:break-word;word-break:normal")
#: Column kinds a table may declare (``kinds={"Bytes": "bytes"}``); the text of each comes from
#: :mod:`spkrunbook.capture.units`, so notebooks, records and ``spkrunbook capture`` agree. ``id`` is
#: a number that names something (a port, a frame, a stream): right-aligned, never 8,080.
KINDS = ("count", "bytes", "bits/s", "ratio", "seconds", "id", "text")
#: Integer columns that name something rather than count it, when a table declares no kind for them.
_ID_NAME = re.compile(r"(^|[ _])(port|sport|dport|frame|stream|no\.?|id|vlan|ifindex|index|revision|pid)( [ab])?$", re.I)


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


def number_text(value: float) -> str:
    """A float for people: six significant digits, thousands separated, no exponent in the everyday range."""
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    mag = abs(value)
    if mag < 1e-4 or mag >= 1e15:
        return f"{value:.3e}"
    places = max(0, 5 - math.floor(math.log10(mag)))
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value (timedeltas and datetimes as pandas')."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        kind = value.dtype.kind
        return pd.Timedelta(value) if kind == "m" else pd.Timestamp(value) if kind == "M" else value.item()
    return value


def cell_text(value: Any) -> str:
    """What a reader should see for one value (plain text, not yet escaped)."""
    if _is_missing(value):
        return MISSING
    value = _plain(value)
    if isinstance(value, bool):
        return MARKS[value]
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
        return ts.isoformat(sep=" ", timespec="microseconds" if ts.microsecond else "seconds").replace("+00:00", " UTC")
    if isinstance(value, (pd.Timedelta, timedelta)):
        return format_timedelta(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple, set)) or (hasattr(value, "tolist") and not isinstance(value, str)):
        items = list(value.tolist() if hasattr(value, "tolist") else value)
        return ", ".join(cell_text(v) for v in items) if items else MISSING
    return str(value)


def kind_text(value: Any, kind: str) -> tuple[str, str]:
    """(text, the exact value for a tooltip or "") of a value in a declared column kind.

    ``count`` 3,581 · ``bytes`` 233 kB (exact: 233,150 bytes) · ``bits/s`` 7.15 Mbit/s ·
    ``ratio`` 6.6% · ``seconds`` or ``seconds:N`` with N places · anything else as :func:`cell_text`.
    """
    name, _, arg = kind.partition(":")
    if name == "id" and isinstance(value, (list, tuple)):  # frame numbers: 117, 1202, 3581 (no separators)
        return (", ".join(str(v) if isinstance(v, (int, str)) else cell_text(v) for v in value) or MISSING), ""
    if _is_missing(value):
        return MISSING, ""
    value = _plain(value)
    if name not in ("count", "bytes", "bits/s", "ratio", "seconds", "id") or isinstance(value, bool) \
            or not isinstance(value, (int, float)):
        return cell_text(value), ""
    if name == "id":
        return (str(int(value)) if float(value).is_integer() else cell_text(value)), ""
    from .capture import units  # the engine's rules, so the capture command prints the same

    if name == "count":
        return units.count(value), ""
    if name == "bytes":
        text = units.size(value)
        return text, ("" if text.endswith(" bytes") else f"{int(value):,} bytes")
    if name == "bits/s":
        return units.bit_rate(value), f"{value:,.0f} bit/s"
    if name == "ratio":
        return units.percent(value, int(arg) if arg else 1), ""
    return units.seconds(value, int(arg) if arg else 6), ""


_BREAKABLE = re.compile(r"(?<![^\s>])([^\s<]*[-/][^\s<]*)(?![^\s<])")


def keep_words(escaped: str) -> str:
    """Escaped text whose words with a hyphen or a slash (``f5-tmm-7d9c6b5f4d-x2k8q``,
    ``default/macvlan-internal``) may not be broken there: a browser would, mid-name."""
    return _BREAKABLE.sub(lambda m: f"<span style=\"{_NOWRAP}\">{m.group(1)}</span>"
                          if len(m.group(1)) <= TOKEN else m.group(1), escaped)


def fold(text: str, limit: int = FOLD_AT, *, mono: bool = False) -> str:
    """Escaped text; long text keeps its start visible and the rest in a ``<details>``; names are never
    broken at their hyphens or slashes."""
    style = f" style=\"{MONO}\"" if mono else ""
    if len(text) <= limit and "\n" not in text:
        return f"<span{style}>{keep_words(esc(text))}</span>" if mono else keep_words(esc(text))
    head = text.splitlines()[0] if "\n" in text else text
    if len(head) > limit:  # cut at a space, never inside a word, an address or a number
        cut = head.rfind(" ", 0, limit)
        head = head[:cut] if cut > limit // 2 else head[:limit]
    rest = text[len(head):].lstrip(" \n") if text.startswith(head) else text
    return (f"<details><summary{style}>{keep_words(esc(head.rstrip()))} …</summary>"
            f"<div style=\"white-space:pre-wrap;{MONO if mono else ''}\">{keep_words(esc(rest))}</div></details>")


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


def header_text(column: object) -> str:
    """A column name as a header: ``packets_ab`` reads ``packets ab`` (the frame keeps its name)."""
    return str(column).replace("_", " ")


def _numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(series.dtype)


def _cell(inner: str, text: str, *, right: bool = False, title: str = "") -> str:
    """One ``<td>``: a single token (an address, a port, a MAC, a number) never wraps; text wraps at spaces."""
    styles = [] if right else [_LEFT]
    if (right or (len(text) <= TOKEN and not any(c.isspace() for c in text))) and "<details" not in inner:
        styles.append(_NOWRAP)
    style = f" style=\"{';'.join(styles)}\"" if styles else ""
    tip = f" title=\"{esc(title)}\"" if title else ""
    return f"<td{style}{tip}>{inner}</td>"


def frame_html(
    df: pd.DataFrame,
    *,
    status_column: str | None = "status",
    code_columns: Sequence[str] = (),
    link_columns: Sequence[str] = (),
    empty: str = "none found",
    max_rows: int = 500,
    fold_at: int = FOLD_AT,
    kinds: Mapping[str, str] | None = None,
    group_column: str | None = None,
    badges: Mapping[str, str] | None = None,
    name: str = "",
    status_word: Callable[[str], str] | None = None,
    group_total: str | None = None,
) -> str:
    """A DataFrame as a readable table: no index, numbers right-aligned with their units, status coloured,
    long cells folded, words and addresses never broken.

    ``kinds`` names a column's kind (see :data:`KINDS`; default: ``df.attrs["kinds"]``);
    ``group_column`` puts rows under a heading row per value of that column (Wireshark's
    Expert Information by severity), ``badges`` colours those values, ``group_total`` names
    the column whose sum each heading shows (else its number of rows); ``name`` is the
    table's ``data-table`` attribute, for tests and scripts that read the page. The
    ``status_column`` is a coloured badge; ``status_word`` picks its colour from the value
    (default: the value is the palette word, ``pass``/``warn``/``fail``...).
    """
    kinds = dict(kinds if kinds is not None else (df.attrs.get("kinds", {}) if df is not None else {}))
    if df is not None:
        kinds.update({c: "id" for c in df.columns if c not in kinds and _ID_NAME.search(str(c))
                      and pd.api.types.is_integer_dtype(df[c].dtype)})
    attrs = f" class=\"spk-table\" style=\"{_TABLE}\"" + (f" data-table=\"{esc(name)}\"" if name else "")
    shown_cols = [c for c in (df.columns if df is not None else []) if c != group_column]
    if df is None or len(df.columns) == 0 or df.empty:
        cols = "".join(f"<th style=\"{_LEFT};{_NOWRAP}\">{esc(header_text(c))}</th>" for c in shown_cols)
        head = f"<thead><tr>{cols}</tr></thead>" if cols else ""
        span = max(1, len(shown_cols))
        return (f"<table{attrs}>{head}<tbody><tr><td style=\"{_LEFT};color:#57606a;font-style:italic\" "
                f"colspan='{span}'>{esc(empty)}</td></tr></tbody></table>")
    shown = df.head(max_rows)
    right = {c: (c in kinds and kinds[c].split(":")[0] in ("count", "bytes", "bits/s", "ratio", "seconds", "id"))
             or (c not in kinds and _numeric(shown[c])) for c in shown_cols}
    head = "".join(f"<th style=\"{_NOWRAP if right[c] else _LEFT + ';' + _NOWRAP}\">{esc(header_text(c))}</th>"
                   for c in shown_cols)
    groups: list[tuple[Any, pd.DataFrame]] = [(None, shown)] if group_column is None else \
        [(k, shown[shown[group_column] == k]) for k in dict.fromkeys(shown[group_column].tolist())]
    rows = []
    for key, part in groups:
        if group_column is not None:
            label = badge((badges or {}).get(str(key), "skip"), str(key))
            size = f"{int(part[group_total].sum()):,}" if group_total else f"{len(part):,} row(s)"
            rows.append(f"<tr><th style=\"{_GROUP}\" colspan='{len(shown_cols)}'>{label} "
                        f"<span style='font-weight:400;color:#57606a'>{size}</span></th></tr>")
        for rec in part[shown_cols].itertuples(index=False, name=None):
            cells = []
            for col, value in zip(shown_cols, rec):
                text, tip = kind_text(value, kinds[col]) if col in kinds else (cell_text(value), "")
                if status_column and col == status_column and not _is_missing(value):
                    inner = badge(status_word(str(value)), str(value).upper()) if status_word else badge(str(value))
                elif text.startswith(("https://", "http://")) and " " not in text:
                    inner = link(text)
                elif col in link_columns and text != MISSING:
                    inner = f"<a href=\"{esc(text)}\">{esc(text.split('/')[0])}</a>"
                else:
                    inner = fold(text, fold_at, mono=col in code_columns)
                cells.append(_cell(inner, text, right=right[col], title=tip))
            rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p style='color:#57606a'>{len(df) - max_rows:,} more row(s) not shown "
            "(the full table is in the record as CSV)</p>") if len(df) > max_rows else ""
    return (f"<div style='overflow-x:auto'><table{attrs}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>{more}")


def link(url: str) -> str:
    """A reference URL as a short link: the site and the page's last part, the whole URL on hover."""
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    last = [p for p in path.split("/") if p][-1:] or [""]
    label = host.removeprefix("www.") + ("/…/" + last[0] if last[0] else "")
    return (f"<a href=\"{esc(url)}\" title=\"{esc(url)}\" target=\"_blank\" rel=\"noopener\" "
            f"style=\"white-space:nowrap\">{esc(label)}</a>")


def heading(text: str, level: int = 4) -> str:
    return f"<h{level} style='margin:0.6em 0 0.2em'>{esc(text)}</h{level}>"


def counts_line(counts: Mapping[str, int]) -> str:
    """``3 pass · 1 warn · 0 fail`` with each word in its colour."""
    parts = [f"<span style='color:{status_colour(k)}'>{v} {esc(k)}</span>" for k, v in counts.items()]
    return " · ".join(parts)


@dataclass(repr=False)
class Table:
    """A DataFrame that displays as a readable table (for notebook cells and the record).

    ``frame`` stays a plain DataFrame for code; only the display changes: ``kinds``
    says how a column reads (bytes, bit/s, seconds ...), ``group_column`` groups rows
    under a heading per value, ``name`` marks the table in the page (``data-table``).
    """

    frame: pd.DataFrame
    title: str = ""
    empty: str = "none found"
    status_column: str | None = "status"
    code_columns: Sequence[str] = field(default_factory=tuple)
    note: str = ""
    kinds: Mapping[str, str] | None = None
    group_column: str | None = None
    badges: Mapping[str, str] | None = None
    name: str = ""
    max_rows: int = 500
    group_total: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    def __len__(self) -> int:
        return len(self.frame)

    def _repr_html_(self) -> str:
        out = heading(self.title) if self.title else ""
        if self.note:
            out += f"<p style='color:#57606a;margin:0.2em 0'>{esc(self.note)}</p>"
        return out + frame_html(self.frame, status_column=self.status_column, code_columns=self.code_columns,
                                empty=self.empty, kinds=self.kinds, group_column=self.group_column,
                                badges=self.badges, name=self.name, max_rows=self.max_rows,
                                group_total=self.group_total)

    def __repr__(self) -> str:  # a notebook's text/plain: one line, the rows are in the HTML and the CSV
        rows, cols = self.frame.shape
        return f"<Table {self.title or 'untitled'}: {rows:,} row(s) x {cols} column(s)>"

    def __str__(self) -> str:
        text = self.frame.to_string(index=False)
        return f"{self.title}\n{text}" if self.title else text


class Brief:
    """A result whose text/plain is one line (its kind and verdict), never the whole object.

    A notebook stores a ``text/plain`` beside every HTML output; a dataclass's own repr
    of a result holds every table and list it carries (megabytes for a capture). A
    result class takes ``@dataclass(repr=False)`` and this base.
    """

    def __repr__(self) -> str:
        findings = getattr(self, "findings", None)
        verdict = getattr(findings, "verdict", "") if findings is not None else ""
        return f"<{type(self).__name__}{': ' + verdict if verdict else ''}>"


def tables(items: Iterable[Any]) -> str:
    """Several results one after another (each with its own ``_repr_html_``)."""
    return "".join(i._repr_html_() for i in items)


@dataclass(repr=False)
class HTML:
    """Ready HTML that a notebook cell shows as it is (no IPython import needed in the library)."""

    body: str
    title: str = ""

    def _repr_html_(self) -> str:
        return self.body

    def __repr__(self) -> str:
        return f"<HTML {self.title or 'block'}: {len(self.body):,} characters>"


#: One picture of a gallery: its file (relative to the step's folder), its caption, and how to get its SVG.
GalleryItem = tuple[str, str, Callable[[], str]]


def _inline_svg(svg: str) -> str:
    """An SVG document as an element to put in a page (its XML prologue and DOCTYPE dropped)."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


@dataclass(repr=False)
class Gallery:
    """Pictures in sections (a capture each), side by side, each opening full size when clicked.

    With ``link_prefix`` (the notebook sits in the record beside the step's folder) each picture is
    a link to its SVG file, so the notebook stores a path, not the picture a second time, and the
    picture may still be drawing while the notebook goes on; without it the SVG itself is shown.
    """

    sections: Sequence[tuple[str, Sequence[GalleryItem]]]
    link_prefix: str | None = None
    title: str = ""

    def __len__(self) -> int:
        return sum(len(items) for _, items in self.sections)

    def _repr_html_(self) -> str:
        out = [heading(self.title)] if self.title else []
        for name, items in self.sections:
            out.append(heading(name, 5))
            figs = []
            for path, caption, svg in items:
                if self.link_prefix is not None:
                    src = esc(self.link_prefix + path)
                    body = (f"<a href=\"{src}\" target=\"_blank\"><img src=\"{src}\" alt=\"{esc(caption)}\" "
                            "style=\"width:100%;height:auto;border:1px solid #d0d7de\"></a>")
                else:
                    body = f"<div style=\"width:100%;overflow-x:auto\">{_inline_svg(svg())}</div>"
                figs.append(f"<figure style=\"margin:0;flex:1 1 30em;max-width:100%\">{body}"
                            f"<figcaption style=\"color:#57606a;font-size:0.85em\">{esc(caption)}</figcaption></figure>")
            out.append("<div style=\"display:flex;flex-wrap:wrap;gap:0.8em;align-items:flex-start\">"
                       + "".join(figs) + "</div>")
        return "".join(out)

    def __repr__(self) -> str:
        return f"<Gallery {self.title or 'of figures'}: {len(self)} picture(s) in {len(self.sections)} section(s)>"
