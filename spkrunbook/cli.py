"""Command line: argument parsing and exit codes only.

Exit codes: 0 every step passed; 1 a step or check failed; 2 bad input (params,
capture file) or an unreachable target; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import SpkRunbookError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Pipelines read logs in files: don't squeeze tables to 80 columns there.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def _error(exc: SpkRunbookError) -> int:
    err = _console(stderr=True)
    err.print(f"[bold red]error:[/] {exc.message}", markup=True)
    if exc.hint:
        err.print(f"[bold]what to do:[/] {exc.hint}", markup=True)
    return exc.exit_code


class TerminalProgress:
    """Line-oriented progress: which step, which cell, elapsed (plain text when not a TTY)."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.t0 = time.time()

    def __call__(self, ev: dict[str, Any]) -> None:
        e = ev["event"]
        el = f"{time.time() - self.t0:6.1f}s"
        if e == "run-start":
            self.c.print(f"lab [bold]{ev['lab']}[/]: {len(ev['steps'])} step(s); record {ev['record']}")
        elif e == "step-start":
            self.c.print(f"[{el}] step {ev['index']}/{ev['total']} [bold]{ev['step']}[/] ...")
        elif e == "cell":
            self.c.print(f"[{el}]   {ev['step']} cell {ev['cell']}: {ev['source']}", markup=False)
        elif e == "step-end":
            colour = {"passed": "green", "failed": "red", "error": "red"}.get(ev["status"], "yellow")
            self.c.print(f"[{el}] step {ev['index']}/{ev['total']} {ev['step']}: [bold {colour}]{ev['status'].upper()}[/] in {ev['duration']:.1f}s")
            if ev.get("error"):
                self.c.print(f"         {ev['error'][:400]}", markup=False)
        elif e == "run-end":
            self.c.print(f"[{el}] run {ev['status']}; record: {ev['record']}")


def cmd_validate(args: argparse.Namespace) -> int:
    from . import params

    lab = params.load(args.params)
    out = _console()
    for w in lab.warnings():
        out.print(f"[yellow]warning:[/] {w}")
    out.print(f"{args.params}: valid (lab {lab.lab}, target {lab.target.kind}, steps {', '.join(lab.steps)})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from . import params, runbook

    out = _console()
    lab = params.load(args.params)
    for w in lab.warnings():
        out.print(f"[yellow]warning:[/] {w}")
    result = runbook.run(
        args.params,
        records_root=Path(args.records),
        keep_going=args.keep_going,
        steps=args.step or None,
        progress=TerminalProgress(out),
    )
    table = Table(title=f"lab {result.lab}")
    for col in ("step", "status", "duration", "notebook", "error"):
        table.add_column(col, overflow="fold")
    for s in result.steps:
        table.add_row(s.step, s.status, f"{s.duration_s:.1f}s", s.notebook, s.error[:120])
    out.print(table)
    out.print(f"record: {result.record}")
    return result.exit_code


def cmd_records(args: argparse.Namespace) -> int:
    from .records import list_records

    df = list_records(Path(args.records))
    out = _console()
    if df.empty:
        out.print(f"no records under {args.records}")
        return EXIT_OK
    table = Table(title=f"records in {args.records}")
    for col in df.columns:
        table.add_column(col, overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    out.print(table)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spkrunbook", description="Runbooks for F5 SPK on OpenShift with macvlan networking.")
    p.add_argument("--version", action="version", version=f"spkrunbook {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a params file and exit (0 valid, 2 invalid)")
    v.add_argument("params")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="run the runbook's notebooks headless and keep a lab record")
    r.add_argument("params", help="params file, e.g. params/demo.yaml")
    r.add_argument("--records", default="records", help="where lab records go (default: records/)")
    r.add_argument("--keep-going", action="store_true", help="run the remaining steps after one fails")
    r.add_argument("--step", action="append", help="run only this step (repeatable)")
    r.set_defaults(func=cmd_run)

    rec = sub.add_parser("records", help="list past runs")
    rec.add_argument("--records", default="records")
    rec.set_defaults(func=cmd_records)

    try:
        from .capture import cli as capture_cli
    except ImportError:  # pragma: no cover - the capture engine ships with the package
        capture_cli = None
    if capture_cli is not None:
        c = sub.add_parser("capture", help="summarise capture files (pcap, pcapng, tcpdump text)")
        capture_cli.add_arguments(c)
        c.set_defaults(func=capture_cli.run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SpkRunbookError as exc:
        return _error(exc)
    except KeyboardInterrupt:
        _console(stderr=True).print("interrupted; the record is marked incomplete")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
