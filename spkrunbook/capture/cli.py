"""``spkrunbook capture FILE [FILE...] [--json] [--top N]``: summary + top conversations.

Only argument handling and output here; the main CLI wires ``add_arguments`` and
``run`` into its sub-command.  Exit 0 when every file was read, 2 on a
:class:`~spkrunbook.errors.CaptureError` (message printed, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import pandas as pd

from spkrunbook.errors import CaptureError

from . import read_capture, stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the capture sub-command's arguments to ``parser``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap, pcapng or tcpdump text file(s)")
    parser.add_argument("--json", action="store_true", help="print JSON (for pipelines) instead of tables")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="how many conversations to show (default 10)")
    parser.add_argument("--tz", default="UTC", help="time zone of tcpdump text timestamps (default UTC)")


def _jsonable(v: object) -> object:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "item"):
        return v.item()  # numpy scalars
    if isinstance(v, (pd.Timestamp, pd.Timedelta)):
        return str(v)
    return v


def _report(path: str, top: int, tz: str) -> tuple[dict[str, object], pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = read_capture(path, tz=tz)
    summ = {k: _jsonable(v) for k, v in stats.summary(df)["value"].items()}
    conv = stats.conversations(df).head(top)
    return summ, conv, [str(w.message) for w in caught]


def run(args: argparse.Namespace) -> int:
    """Print summary and top conversations of each file; return the exit code."""
    out: list[dict[str, object]] = []
    for path in args.files:
        try:
            summ, conv, warns = _report(path, args.top, getattr(args, "tz", "UTC"))
        except CaptureError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code if hasattr(exc, "exit_code") else 2
        rows = [{k: _jsonable(v) for k, v in r.items()} for r in conv.astype(object).to_dict("records")]
        out.append({"file": path, "summary": summ, "top_conversations": rows, "warnings": warns})
    if args.json:
        print(json.dumps(out if len(out) > 1 else out[0], indent=2, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for item in out:
        for w in item["warnings"]:  # type: ignore[union-attr]
            console.print(f"[yellow]warning:[/] {w}")
        t = Table(title=f"capture summary: {item['file']}", show_header=True)
        t.add_column("metric")
        t.add_column("value", justify="right")
        for k, v in item["summary"].items():  # type: ignore[union-attr]
            t.add_row(str(k), "" if v is None else str(v))
        console.print(t)
        c = Table(title=f"top {args.top} conversations", show_header=True)
        for col in ("protocol", "A", "B", "packets A→B", "packets B→A", "bytes", "duration s", "bit/s"):
            c.add_column(col, justify="left" if col in ("protocol", "A", "B") else "right")
        for r in item["top_conversations"]:  # type: ignore[union-attr]
            bps = r["bps"]
            c.add_row(str(r["protocol"]), f"{r['a']}:{r['a_port']}", f"{r['b']}:{r['b_port']}", str(r["packets_ab"]),
                      str(r["packets_ba"]), str(r["bytes"]), f"{r['duration']:.3f}", "" if bps is None else f"{bps:,.0f}")
        console.print(c)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m spkrunbook.capture.cli``) until the main CLI wires it."""
    p = argparse.ArgumentParser(prog="spkrunbook capture", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
