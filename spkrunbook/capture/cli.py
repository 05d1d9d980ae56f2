"""``spkrunbook capture FILE [FILE...] [--json | --csv [WHAT]] [--top N]``: what the debugging notebook
shows for a capture, on a terminal.

Only argument handling and output here; the main CLI wires ``add_arguments`` and
``run`` into its sub-command.  A file of ``STREAMING_BYTES`` (256 MiB) or more is
analysed in one streaming pass in bounded memory (:func:`analyze_capture`), and
the output says so (a note line; ``"analysis"`` in JSON).  Every file is read even when one fails: its error
is printed (``--json``: an ``error`` entry beside the good files) and the exit
code is 2; otherwise 0.  A capture with no packets is reported with a warning.

Per file, Wireshark's tables as the notebook shows them (:mod:`.wireshark`, numbers
as :mod:`.units` writes them): Capture File Properties, Protocol Hierarchy, the top
conversations, and Expert Information with its counts per severity (after a streaming
pass, what its aggregates give: the TCP analysis flags and resets; see
:data:`.wireshark.STREAMING_EXPERT`).  The file name
heads its tables on a line of its own (a table title would be wrapped to the table's
width, mid-word).  Terminal tables never cut an address or a port: endpoints are kept
whole (``no_wrap``, as wide as the longest one).  When A and B do not fit side by side
with the numbers (long IPv6 endpoints at 80 columns), they are stacked in one
column, A over B; only a terminal narrower than one endpoint folds it (never
``…``).  ``--json`` and ``--csv`` are for pipelines.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from spkrunbook.errors import CaptureError

from . import analyze_capture, expert, read_capture, stats, units, wireshark
from .limits import MAX_PACKETS, STREAMING_BYTES

CSV_COLUMNS = ("file", "protocol", "a", "a_port", "b", "b_port", "packets_ab", "packets_ba", "bytes", "duration", "bps")


def _count(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least`` (a negative limit would silently read nothing)."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < least:
            raise argparse.ArgumentTypeError(f"{n} is less than {least}" + (" (0 means no limit)" if least == 0 else ""))
        return n
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the capture sub-command's arguments to ``parser``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap, pcapng or tcpdump text file(s)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON (for pipelines) instead of tables")
    out.add_argument("--csv", nargs="?", const="conversations", choices=("conversations", "summary"), default=None,
                     metavar="WHAT", help="print CSV: 'conversations' (default) or 'summary', one row per file and item")
    parser.add_argument("--top", type=_count(1), default=10, metavar="N", help="how many conversations to show (default 10)")
    parser.add_argument("--tz", default="UTC", help="time zone of tcpdump text timestamps (default UTC)")
    parser.add_argument("--max-packets", type=_count(0), default=None, metavar="N",
                        help=f"stop reading a file after N packets (text: lines), with a warning (default {MAX_PACKETS:,} "
                             f"for a file read whole, none for one of {STREAMING_BYTES // 2**20} MiB or more, which is "
                             "analysed in one streaming pass; 0: no limit)")


def _jsonable(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, (pd.Timestamp, pd.Timedelta)):
        return str(v)
    item = getattr(v, "item", None)
    if callable(item):
        return item()  # numpy scalars
    return v


def _report(path: str, top: int, tz: str, max_packets: int | None) -> dict[str, Any]:
    """One file's summary and top conversations; ``max_packets`` None: the default of the path taken."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0  # read_capture says why it cannot read it
    streaming = size >= STREAMING_BYTES
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        limit = MAX_PACKETS if max_packets is None and not streaming else max_packets or None
        data = analyze_capture(path, tz=tz, max_packets=limit, keep_streams=0) if streaming else \
            read_capture(path, tz=tz, max_packets=limit)
    summ = {str(k): _jsonable(v) for k, v in stats.summary(data)["value"].items()}
    conv = stats.conversations(data).head(top)
    rows = [{str(k): _jsonable(v) for k, v in r.items()} for r in conv.astype(object).to_dict("records")]
    warns = [str(w.message) for w in caught]
    if len(data) == 0:
        warns.append(f"{path}: no packets in this capture (an empty file, or every line/record was skipped)")
    # a frame: the expert analysis of its packets; a streaming pass (a CaptureStats): its own counts
    info = wireshark.expert_info(data, expert.analyze(data) if isinstance(data, pd.DataFrame) and len(data) else None)
    hierarchy = wireshark.protocol_hierarchy(data) if len(data) else pd.DataFrame()
    analysis = (f"streaming pass: {size / 2**20:,.0f} MiB analysed in one pass in bounded memory" if streaming
                else "whole file")
    entries = [{"severity": r["Severity"], "summary": r["Summary"], "count": int(r["Count"]), "filter": r["Display filter"]}
               for r in info.to_dict("records")]
    return {"file": path, "analysis": analysis, "summary": summ, "top_conversations": rows, "warnings": warns,
            "properties": dict(wireshark.capture_properties(data).itertuples(index=False, name=None)),
            "hierarchy": [{"protocol": p, "packets": int(n), "bytes": int(b)} for p, n, b in
                          zip(hierarchy.attrs.get("path", []), hierarchy.get("Packets", []), hierarchy.get("Bytes", []))],
            "expert": {"counts": wireshark.expert_counts(info), "entries": entries,
                       **({"note": wireshark.STREAMING_EXPERT} if streaming else {})}}


def _endpoint(addr: object, port: object) -> str:
    a = "" if addr is None else str(addr)
    if port is None:
        return a
    return f"[{a}]:{port}" if ":" in a else f"{a}:{port}"


def run(args: argparse.Namespace) -> int:
    """Print summary and top conversations of each file; return the exit code."""
    out: list[dict[str, Any]] = []
    rc = 0
    max_packets = getattr(args, "max_packets", None)
    for path in args.files:
        try:
            out.append(_report(path, args.top, getattr(args, "tz", "UTC"), max_packets))
        except CaptureError as exc:
            rc = max(rc, exc.exit_code)
            out.append({"file": path, "error": exc.message, "hint": exc.hint})
            if not args.json:
                print(f"error: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(out if len(out) > 1 else out[0], indent=2, default=str))
        return rc
    good = [item for item in out if "error" not in item]
    if getattr(args, "csv", None):
        _print_csv(good, args.csv)
        for item in good:
            if item["analysis"] != "whole file":
                print(f"note: {item['file']}: {item['analysis']}", file=sys.stderr)
            for w in item["warnings"]:
                print(f"warning: {w}", file=sys.stderr)
        return rc
    _print_tables(good, args.top)
    return rc


def _print_csv(items: list[dict[str, Any]], what: str) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    if what == "summary":
        w.writerow(("file", "metric", "value"))
        for item in items:
            for k, v in item["summary"].items():
                w.writerow((item["file"], k, "" if v is None else v))
        return
    w.writerow(CSV_COLUMNS)
    for item in items:
        for r in item["top_conversations"]:
            w.writerow([item["file"]] + ["" if r.get(c) is None else r.get(c) for c in CSV_COLUMNS[1:]])


def _print_tables(items: list[dict[str, Any]], top: int) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    console = Console()
    for item in items:
        if item["analysis"] != "whole file":
            console.print(f"note: {escape(item['analysis'])}")
        for w in item["warnings"]:
            console.print(f"[yellow]warning:[/] {escape(w)}")
        # the file heads its tables on its own line: a table title is wrapped to the table's width, mid-word
        console.print(Text(item["file"], style="bold"), soft_wrap=True)
        t = Table(title="Capture File Properties", title_justify="left", show_header=False, box=box.SIMPLE_HEAD)
        t.add_column("property", no_wrap=True)
        t.add_column("value", overflow="fold")
        for k, v in item["properties"].items():
            t.add_row(escape(str(k)), escape(str(v)))
        console.print(t)
        if item["hierarchy"]:
            h = Table(title="Protocol Hierarchy", title_justify="left", box=box.SIMPLE_HEAD)
            h.add_column("Protocol", no_wrap=True)
            h.add_column("Packets", justify="right", no_wrap=True)
            h.add_column("Bytes", justify="right", no_wrap=True)
            for r in item["hierarchy"]:
                level = r["protocol"].count(":")
                h.add_row("  " * level + escape(r["protocol"].rsplit(":", 1)[-1]), units.count(r["packets"]),
                          units.size(r["bytes"]))
            console.print(h)
        _print_conversations(console, item, top)
        counts = item["expert"]["counts"]
        head = " · ".join(f"{n:,} {k.lower()}{'s' if n != 1 else ''}" for k, n in counts.items())
        e = Table(title=f"Expert Information (TCP): {head}", title_justify="left", box=box.SIMPLE_HEAD)
        e.add_column("Severity", no_wrap=True)
        e.add_column("Count", justify="right", no_wrap=True)
        e.add_column("Summary", overflow="fold")
        colour = {"Error": "red", "Warning": "yellow", "Note": "cyan", "Chat": "dim"}
        for r in item["expert"]["entries"]:
            e.add_row(f"[{colour[r['severity']]}]{r['severity']}[/]", units.count(r["count"]), escape(r["summary"]))
        console.print(e)
        if item["expert"].get("note"):
            console.print(f"[dim]{escape(item['expert']['note'])}[/]", soft_wrap=True)


def _print_conversations(console: Any, item: dict[str, Any], top: int) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    convs = item["top_conversations"]
    ends = [(_endpoint(r["a"], r["a_port"]), _endpoint(r["b"], r["b_port"])) for r in convs]
    nums = [(str(r["protocol"]), f"{units.count(r['packets_ab'])}/{units.count(r['packets_ba'])}", units.size(r["bytes"]),
             units.seconds(r["duration"], 4), "" if r["bps"] is None else units.bit_rate(r["bps"])) for r in convs]
    heads = ("proto", "packets →/←", "bytes", "duration", "bits/s")
    wn = [max([len(h)] + [len(x[i]) for x in nums]) for i, h in enumerate(heads)]
    wa = max([len(a) for a, _ in ends] + [1])
    wb = max([len(b) for _, b in ends] + [1])
    title = f"Conversations (the {len(convs)} with the most bytes)"
    # side by side when everything fits on one line (3 = a cell's padding and border), else A over B in one column
    stacked = sum(wn) + wa + wb + 3 * (len(heads) + 2) + 1 > console.width
    if stacked:  # narrow terminal: A over B, the numbers two by two beside them, no vertical rules
        c = Table(title=title, title_justify="left", show_header=True, box=box.SIMPLE_HEAD, pad_edge=False)
        c.add_column("A → B", no_wrap=True, min_width=max(wa, wb + 2), overflow="fold")
        c.add_column("proto packets →/←\nbytes", justify="right", overflow="fold")
        c.add_column("duration\nbits/s", justify="right", overflow="fold")
        for (a, b), x in zip(ends, nums):
            c.add_row(escape(f"{a}\n→ {b}"), f"{x[0]} {x[1]}\n{x[2]}", f"{x[3]}\n{x[4]}")
    else:
        c = Table(title=title, title_justify="left", show_header=True)
        c.add_column(heads[0], no_wrap=True)
        c.add_column("A", no_wrap=True, min_width=wa, overflow="fold")
        c.add_column("B", no_wrap=True, min_width=wb, overflow="fold")
        for h in heads[1:]:
            c.add_column(h, justify="right", no_wrap=True)
        for (a, b), x in zip(ends, nums):
            c.add_row(x[0], escape(a), escape(b), *x[1:])
    console.print(c)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m spkrunbook.capture.cli``) until the main CLI wires it."""
    p = argparse.ArgumentParser(prog="spkrunbook capture", description=(__doc__ or "").splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
