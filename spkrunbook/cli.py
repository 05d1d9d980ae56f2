"""Command line: arguments and exit codes only; the work is in ``runbook``, ``record`` and ``capture``.

Exit codes: 0 every step passed; 1 a step or check failed; 2 bad input (params,
capture file, records folder) or an unreachable or forbidding cluster, nothing
run; 129 hung up (SIGHUP); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_HUNG_UP = 129
STEP_NAMES = ("prerequisites", "network-attachments", "spk-install", "debugging")
EXIT_CODES = ("exit codes: 0 every step passed; 1 a step or check failed; 2 bad input or an unreachable cluster "
              "(nothing run); 129 hung up; 130 interrupted; 143 terminated")


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Pipelines read logs in files: wrap at a generous width there, the terminal's own otherwise.
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "0") or 0) or 120
    return Console(file=stream, highlight=False, soft_wrap=False, width=width, emoji=False)


def _say(console: Any, style: str, label: str, text: str) -> None:
    """A labelled line; the text is never read as markup and wraps instead of being cut."""
    from rich.text import Text

    line = Text()
    if label:
        line.append(label, style=style)
        line.append(" ")
    line.append(text)
    console.print(line, overflow="fold")


def _error(exc: Any) -> int:
    err = _console(stderr=True)
    _say(err, "bold red", "error:", exc.message)
    if exc.hint:
        _say(err, "bold", "what to do:", exc.hint)
    return int(exc.exit_code)


def step_argument(text: str) -> str:
    """``--step``: a step name or its number (``2``, ``02``)."""
    from .params import step_name

    name = step_name(text)
    if name is None:
        raise argparse.ArgumentTypeError(f"unknown step {text!r}; choose from {', '.join(STEP_NAMES)} (or 1-4)")
    return name


class TerminalProgress:
    """Line-oriented progress of a run: which step, which cell, elapsed; failures with what to do."""

    def __init__(self, console: Any) -> None:
        self.c = console
        self.t0 = time.time()

    def __call__(self, ev: dict[str, Any]) -> None:
        e = ev["event"]
        el = f"[{time.time() - self.t0:6.1f}s]"
        if e == "run-start":
            _say(self.c, "bold", f"lab {ev['lab']}:", f"{len(ev['steps'])} step(s); record {ev['record']}")
        elif e == "step-start":
            _say(self.c, "", el, f"step {ev['index']}/{ev['total']} {ev['step']} ...")
        elif e == "cell":
            _say(self.c, "dim", el, f"  {ev['step']} cell {ev['cell']}: {ev['source']}")
        elif e == "step-end":
            colour = {"passed": "green", "failed": "red", "error": "red"}.get(ev["status"], "yellow")
            _say(self.c, f"bold {colour}", el, f"step {ev['index']}/{ev['total']} {ev['step']}: "
                                               f"{ev['status'].upper()} in {ev['duration']:.1f}s")
            err = ev.get("error")
            if err is not None and ev["status"] != "skipped":
                _say(self.c, "", "        ", err.message)
                if err.hint:
                    _say(self.c, "bold", "         what to do:", err.hint)
        elif e == "warning":
            _say(self.c, "yellow", "warning:", ev["message"])
        elif e == "record-error":
            _say(self.c, "bold red", "record:", ev["error"])
        elif e == "run-end":
            _say(self.c, "", el, f"run {ev['status']}; record: {ev['record']}")


def _summary(out: Any, result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"lab {result.lab}", show_lines=False)
    for col in ("step", "status", "duration", "what happened"):
        table.add_column(col, overflow="fold")
    for s in result.steps:
        what = ""
        if s.error is not None:
            what = s.error.message + (f"\nwhat to do: {s.error.hint}" if s.error.hint else "")
        table.add_row(s.step, s.status, f"{s.duration_s:.1f}s", what)
    out.print(table)
    _say(out, "", "record:", str(result.record))


def _warn_params(out: Any, lab: Any) -> None:
    for w in lab.warnings():
        _say(out, "yellow", "warning:", str(w))


# -- commands ---------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from . import runbook
    from .errors import ParameterError

    out = _console()
    lab, problems = runbook.validate(args.params, connect=not args.offline)
    if any(p.severity == "error" for p in problems):
        raise ParameterError([p for p in problems if p.severity == "error"], source="the params and the cluster",
                             hint="fix the fields listed above; nothing was run")
    _warn_params(out, lab)
    for p in problems:
        _say(out, "yellow", "warning:", str(p))
    where = "not connected (--offline)" if args.offline else f"{lab.target.kind} target reachable"
    _say(out, "green", f"{args.params}:", f"valid (lab {lab.lab}, {where}, steps {', '.join(lab.steps)})")
    return EXIT_OK


def _run(params_file: str | Path, args: argparse.Namespace) -> int:
    from . import params, runbook

    out = _console()
    lab = params.load(params_file)
    _warn_params(out, lab)
    result = runbook.run(lab, records_root=Path(args.records), keep_going=args.keep_going,
                         steps=args.step or None, progress=TerminalProgress(out))
    _summary(out, result)
    return result.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args.params, args)


def cmd_demo(args: argparse.Namespace) -> int:
    from . import bundle

    return _run(bundle.demo_params(), args)


def cmd_init(args: argparse.Namespace) -> int:
    from . import bundle
    from .errors import ParameterError, Problem

    name = args.name
    from .params import dns1123_problem

    msg = dns1123_problem(name)
    if msg:
        raise ParameterError([Problem("NAME", msg)], hint="name the lab with lower-case letters, digits and '-'")
    folder = Path(args.folder or name).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ParameterError([Problem("FOLDER", f"{folder} exists and is not a folder")], hint="choose another folder")
    files: dict[Path, bytes] = {}
    for nb in sorted(bundle.NOTEBOOKS.values()):
        files[folder / nb] = (bundle.notebooks_dir() / nb).read_bytes()
    template = bundle.lab_template().read_text(encoding="utf-8").replace("lab: <lab-name>", f"lab: {name}")
    files[folder / "params" / f"{name}.yaml"] = template.encode()
    readme = (bundle.templates_dir() / "lab-README.md").read_text(encoding="utf-8").replace("NAME", name)
    files[folder / "README.md"] = readme.encode()
    out = _console()
    written, kept = _write_new(folder, files)
    for p in written:
        _say(out, "green", "wrote", str(p))
    for p in kept:
        _say(out, "yellow", "kept (exists, not changed)", str(p))
    _say(out, "bold", "next:", f"fill in {folder / 'params' / (name + '.yaml')} (every <placeholder>), then "
                              f"`spkrunbook validate {folder / 'params' / (name + '.yaml')}` and `spkrunbook lab {folder}`")
    return EXIT_OK


def _write_new(folder: Path, files: dict[Path, bytes]) -> tuple[list[Path], list[Path]]:
    """Write each file that does not exist yet, never overwriting one; the destination is checked first, and a
    write that fails (read-only, permission, full disk) removes everything this call made before it says so."""
    from .errors import ParameterError, Problem
    from .record import os_reason

    problems = []
    for path in files:
        for part in reversed(path.parents):
            if folder not in (part, *part.parents):
                continue
            if part.is_symlink() and not part.exists():
                problems.append(Problem("FOLDER", f"{part} is a symbolic link to nowhere (or a loop)"))
            elif part.exists() and not part.is_dir():
                problems.append(Problem("FOLDER", f"{part} is a file, not a folder"))
    if problems:
        raise ParameterError(sorted(set(problems), key=str), hint="move the file(s) away or choose another --folder; "
                                                                 "nothing was written")
    made: list[Path] = []  # files and folders this call created, to remove them if it fails
    written, kept = [], []
    try:
        for path, data in files.items():
            for part in reversed([path.parent, *path.parent.parents]):
                if not part.exists():
                    part.mkdir()
                    made.append(part)
            try:
                with open(path, "xb") as fh:  # never overwrite: an existing file is kept as it is
                    made.append(path)
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                written.append(path)
            except FileExistsError:
                kept.append(path)
    except OSError as exc:
        for p in reversed(made):
            try:
                p.unlink() if not p.is_dir() or p.is_symlink() else p.rmdir()
            except OSError:
                pass
        where = Path(exc.filename) if exc.filename else folder
        raise ParameterError([Problem("FOLDER", f"cannot write {where}: {os_reason(exc)}")],
                             hint="choose a folder you can write to, with free space (--folder PATH); "
                                  "nothing was left behind") from None
    return written, kept


def cmd_lab(args: argparse.Namespace) -> int:
    from . import bundle
    from .errors import ParameterError, Problem

    folder = Path(args.folder).expanduser().resolve()
    if not any((folder / nb).is_file() for nb in bundle.NOTEBOOKS.values()):
        raise ParameterError([Problem("FOLDER", f"{folder} has no runbook notebooks")],
                             hint="write a lab folder first with `spkrunbook init NAME`, then `spkrunbook lab NAME`")
    jupyter = shutil.which("jupyter-lab", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    argv = [jupyter] if jupyter else [sys.executable, "-m", "jupyterlab"]
    argv += [f"--notebook-dir={folder}", *args.jupyter_args]
    _say(_console(), "bold", "starting:", " ".join(argv))
    if args.dry_run:
        return EXIT_OK
    os.execv(argv[0], argv)
    return EXIT_OK  # pragma: no cover - execv does not return


def cmd_records(args: argparse.Namespace) -> int:
    import warnings

    from rich.table import Table

    from .errors import ParameterError, Problem
    from .record import list_records, write_records_index

    out = _console()
    if args.what:
        if args.what[0] == "diff" and len(args.what) == 3:
            return _records_diff(out, args.what[1], args.what[2], args)
        if args.what[0] == "share" and len(args.what) == 2:
            return _records_share(out, args.what[1], args)
        raise ParameterError([Problem("records", f"unknown: {' '.join(args.what)}")],
                             hint="`spkrunbook records` lists, `records diff A B` compares, `records share A` "
                                  "writes a copy for a vendor")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = list_records(Path(args.records))
    for w in caught:
        _say(_console(stderr=True), "yellow", "warning:", str(w.message))
    if df.empty:
        _say(out, "", "", f"no records under {args.records}")
        return EXIT_OK
    if args.json:
        out.print_json(df.to_json(orient="records"))
        return EXIT_OK
    table = Table(title=f"records in {args.records}")
    for col in df.columns:
        table.add_column(col, overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    out.print(table)
    if args.open or args.html:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            page = write_records_index(Path(args.records))
        _say(out, "", "page:", str(page.resolve()))
        if args.open:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())
    return EXIT_OK


def _record_path(name: str, args: argparse.Namespace) -> Path:
    p = Path(name)
    return p if p.is_dir() or p.is_absolute() else Path(args.records) / name


def _records_share(out: Any, name: str, args: argparse.Namespace) -> int:
    from .record.share import share
    from .steps.debug.captures import redraw

    res = share(_record_path(name, args), args.out, redraw=redraw)
    if args.json:
        out.print_json(data=res.to_dict())
        return EXIT_OK
    _say(out, "green", "shared copy:", f"{res.out} ({len(res.files)} files, {len(res.captures)} captures rewritten, "
                                       f"{len(res.redrawn)} pictures drawn again)")
    if res.left_out:
        _say(out, "yellow", "left out:", res.summary())
    _say(out, "", "the original record is unchanged:", str(res.source))
    return EXIT_OK


def _records_diff(out: Any, before: str, after: str, args: argparse.Namespace) -> int:
    from rich.table import Table

    from .record.diff import diff

    d = diff(_record_path(before, args), _record_path(after, args))
    if args.json:
        out.print_json(data=d.to_dict())
        return EXIT_OK
    if not len(d):
        _say(out, "green", "same:", f"{d.before.name} and {d.after.name} agree on params, steps, findings and files")
        return EXIT_OK
    table = Table(title=f"{d.before.name} -> {d.after.name}: {len(d)} change(s)")
    for col in ("what", "where", "before", "after"):
        table.add_column(col, overflow="fold")
    for r in d.rows:
        table.add_row(r["what"], r["where"], r["before"], r["after"])
    out.print(table)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spkrunbook", description="Runbooks for F5 SPK on OpenShift with macvlan networking.",
                                epilog=EXIT_CODES)
    p.add_argument("--version", action="version", version=f"spkrunbook {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def run_options(r: argparse.ArgumentParser) -> None:
        r.add_argument("--records", default="records", help="where lab records go (default: ./records)")
        r.add_argument("--keep-going", action="store_true", help="run the remaining steps after one fails")
        r.add_argument("--step", action="append", type=step_argument, metavar="STEP",
                       help=f"run only this step (repeatable): {', '.join(STEP_NAMES)}, or its number 1-4")

    r = sub.add_parser("run", help="run the runbook's notebooks headless and keep a lab record",
                       description="Run the runbook headless (papermill) and keep a lab record.",
                       epilog=f"steps, in order: {', '.join(STEP_NAMES)}. {EXIT_CODES}")
    r.add_argument("params", help="the lab's params file, e.g. params/mylab.yaml")
    run_options(r)
    r.set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="run the whole runbook on the bundled demo lab (no cluster needed)",
                       epilog=EXIT_CODES)
    run_options(d)
    d.set_defaults(func=cmd_demo)

    v = sub.add_parser("validate", help="check a params file (and the cluster it names) and exit: 0 valid, 2 not",
                       epilog="checks everything `run` checks before its first write")
    v.add_argument("params")
    v.add_argument("--offline", action="store_true", help="check the file only; do not connect to the target")
    v.set_defaults(func=cmd_validate)

    i = sub.add_parser("init", help="write a working folder for one lab: the notebooks, params/NAME.yaml, a README")
    i.add_argument("name", metavar="NAME", help="the lab's name (lower-case letters, digits, '-')")
    i.add_argument("--folder", help="where to write it (default: ./NAME); existing files are never overwritten")
    i.set_defaults(func=cmd_init)

    lab = sub.add_parser("lab", help="open JupyterLab on a lab folder (forms included)",
                         epilog="arguments after `--` go to jupyter lab, e.g. `spkrunbook lab mylab -- --port 9999`")
    lab.add_argument("folder", nargs="?", default=".", metavar="FOLDER", help="a folder `spkrunbook init` wrote (default: .)")
    lab.add_argument("--dry-run", action="store_true", help="print the command instead of starting JupyterLab")
    lab.set_defaults(jupyter_args=[])  # `spkrunbook lab FOLDER -- --port 9999`: after `--`, for jupyter lab
    lab.set_defaults(func=cmd_lab)

    rec = sub.add_parser("records", help="list past runs, open their page, or compare two (records diff A B)",
                         epilog="`spkrunbook records diff A B` compares two records (names under --records, or paths)")
    rec.add_argument("what", nargs="*", metavar="diff A B | share A",
                     help="compare two records, or write a copy of one with addresses replaced for a vendor")
    rec.add_argument("--out", default=None, help="where `records share` writes (default: RECORD-shared beside it)")
    rec.add_argument("--records", default="records", help="the records folder (default: ./records)")
    rec.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rec.add_argument("--html", action="store_true", help="also write records/index.html and print its path")
    rec.add_argument("--open", action="store_true", help="write records/index.html and open it in a browser")
    rec.set_defaults(func=cmd_records)

    from .capture import cli as capture_cli

    c = sub.add_parser("capture", help="summarise capture files (pcap, pcapng, tcpdump text)")
    capture_cli.add_arguments(c)
    c.set_defaults(func=capture_cli.run)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import SpkRunbookError
    from .runbook import HungUp, Terminated

    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv and argv[:1] == ["lab"]:  # everything after `--` goes to jupyter lab untouched
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    if extra:
        args.jupyter_args = [*args.jupyter_args, *extra]
    try:
        return int(args.func(args))
    except SpkRunbookError as exc:
        return _error(exc)
    except HungUp:
        _say(_console(stderr=True), "bold", "hung up:", "the record is marked incomplete (SIGHUP)")
        return EXIT_HUNG_UP
    except Terminated:
        _say(_console(stderr=True), "bold", "terminated:", "the record is marked incomplete (SIGTERM)")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say(_console(stderr=True), "bold", "interrupted:", "the record is marked incomplete")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
