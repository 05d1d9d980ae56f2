"""Command line: arguments and exit codes only; the work is in ``runbook``, ``record`` and ``capture``.

Exit codes: 0 every step passed; 1 a step or check failed; 2 bad input (params,
capture file, records folder or store) or an unreachable or forbidding cluster, nothing
run; 75 the run finished but its record could not be uploaded (the staged copy is
kept; a retry resumes); 129 hung up (SIGHUP); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import __version__
from .bundle import STEPS

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_HUNG_UP = 129
EXIT_NOT_STORED = 75  # sysexits' EX_TEMPFAIL: the verdict exists, the store did not take the record
EXIT_CODES = ("exit codes: 0 every step passed; 1 a step or check failed (or, with --strict, warned); 2 bad input "
              "or an unreachable cluster (nothing run); 75 the record could not be uploaded (kept locally); "
              "129 hung up; 130 interrupted; 143 terminated")


def _console(stderr: bool = False, width: int | None = None) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Pipelines read logs in files: wrap at a generous width there, the terminal's own otherwise.
    if width is None:
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
    from .bundle import step_name

    name = step_name(text)
    if name is None:
        raise argparse.ArgumentTypeError(f"unknown step {text!r}; choose from {', '.join(STEPS)} (or 1-4)")
    return name


class TerminalProgress:
    """Progress of a run: one line per step; on a terminal it is live, with a bar over the step's cells
    and the cell being run, then replaced by the step's verdict. In a log (no terminal) a line when a step
    starts and one when it ends, nothing per cell."""

    def __init__(self, console: Any, *, cells: bool = False) -> None:
        self.c = console
        self.t0 = time.time()
        self.live = bool(getattr(console, "is_terminal", False)) and not cells
        self.cells = cells  # --verbose: a line per cell, for a log that must show where a step hangs
        self._bar: Any = None
        self._task: Any = None

    def _elapsed(self) -> str:
        return f"[{time.time() - self.t0:6.1f}s]"

    def _start_bar(self, ev: dict[str, Any]) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bar = Progress(SpinnerColumn(), TextColumn("step {task.fields[n]} [bold]{task.fields[step]}[/]"),
                             BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
                             TextColumn("[dim]{task.fields[cell]}", markup=True), console=self.c, transient=True)
        self._bar.start()
        self._task = self._bar.add_task("", total=ev.get("cells") or None, n=f"{ev['index']}/{ev['total']}",
                                        step=ev["step"], cell="")

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = self._task = None

    def __call__(self, ev: dict[str, Any]) -> None:
        e = ev["event"]
        if e == "run-start":
            _say(self.c, "bold", f"lab {ev['lab']}:", f"{len(ev['steps'])} step(s)")
            _path(self.c, "record:", ev["record"])
        elif e == "step-start":
            if self.live:
                self._start_bar(ev)
            else:
                _say(self.c, "", self._elapsed(), f"step {ev['index']}/{ev['total']} {ev['step']} ...")
        elif e == "cell":
            if self.cells:
                _say(self.c, "dim", self._elapsed(), f"  {ev['step']} cell {ev['cell']}: {_first_words(ev['source'], 70)}")
            elif self._bar is not None:
                from rich.markup import escape

                self._bar.update(self._task, completed=ev["cell"] - 1, cell=escape(_first_words(ev["source"], 48)))
        elif e == "step-end":
            self._stop_bar()
            colour = {"passed": "green", "failed": "red", "error": "red"}.get(ev["status"], "yellow")
            if ev["status"] == "passed" and "warning" in ev.get("verdict", ""):
                colour = "yellow"
            _say(self.c, f"bold {colour}", self._elapsed(), f"step {ev['index']}/{ev['total']} {ev['step']}: "
                                                            f"{ev.get('verdict') or ev['status']} in {ev['duration']:.1f}s")
            err = ev.get("error")
            if err is not None and ev["status"] != "skipped":
                _say(self.c, "", "        ", err.message)
                if err.hint:
                    _say(self.c, "bold", "         what to do:", err.hint)
        elif e == "warning":
            _say(self.c, "yellow", "warning:", ev["message"])
        elif e == "record-error":
            self._stop_bar()
            _say(self.c, "bold red", "record:", ev["error"])
        elif e == "fleet-verdict":
            _say(self.c, "", self._elapsed(), f"this Job run judged the lab already ({ev['status']}): {ev['record']}; "
                                              "nothing run")
        elif e == "published" and ev.get("upload"):
            up = ev["upload"]
            _say(self.c, "", self._elapsed(), f"uploaded: {up['url']} ({up['objects']} objects, {up['bytes']} bytes, "
                                              f"{up['seconds']}s)")
        elif e == "run-end":
            self._stop_bar()


def _first_words(text: str, width: int) -> str:
    """The start of a cell's first line, cut at a word (never mid-word) when longer than ``width``."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    cut = text[:width].rsplit(" ", 1)[0]
    return (cut if cut else text[:width]) + " …"


def _path(console: Any, label: str, path: object) -> None:
    """A path on a line of its own: the terminal may wrap it, rich never breaks it into pieces."""
    from rich.text import Text

    line = Text()
    line.append(label, style="bold")
    line.append(f" {path}")
    console.print(line, soft_wrap=True)


def _summary(out: Any, result: Any) -> None:
    """The run at a glance: each step's verdict with what to look at, then the loudest findings."""
    from rich.table import Table

    from .results import verdict_word, worst_line

    table = Table(title=f"lab {result.lab}", title_justify="left", show_lines=False)
    table.add_column("step", no_wrap=True)
    table.add_column("verdict")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("what to look at")
    colours = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
    for s in result.steps:
        what = ""
        if s.error is not None:
            what = s.error.message + (f"\nwhat to do: {s.error.hint}" if s.error.hint else "")
        elif s.worst:
            what = "\n".join(f"{w['status'].upper()} {w['check']}" + (f" ({', '.join(w['subjects'][:3])})" if w.get("subjects") else "")
                             for w in s.worst[:3])
        style = colours.get(verdict_word(s.verdict), "")
        table.add_row(s.step, f"[{style}]{s.verdict}[/]" if style else s.verdict, f"{s.duration_s:.1f}s", what)
    out.print(table)
    if result.worst:
        _say(out, "bold", "the loudest findings:", "")
        for w in result.worst:
            _say(out, "yellow" if w["status"] == "warn" else "red", "  -", worst_line(w))
    style = colours.get(verdict_word(result.verdict), "")
    _say(out, f"bold {style}", "run:", result.verdict)
    _path(out, "record:", result.record)


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
    warned = len(lab.warnings())
    if warned and args.strict:
        _say(out, "bold red", f"{args.params}:", f"{warned} warning(s) and --strict: not valid for a strict run")
        return EXIT_FAILED
    _say(out, "green", f"{args.params}:", f"valid (lab {lab.lab}, {where}, steps {', '.join(lab.steps)})"
                                          + (f", {warned} warning(s)" if warned else ""))
    return EXIT_OK


def _run(params_file: str | Path, args: argparse.Namespace) -> int:
    from . import kernels

    kernels.start_server_early()  # the steps' kernels are forked from it: it imports while the lab is checked
    from . import params, publish
    from .record import default_root

    out = _console()
    lab = params.load(params_file)
    _warn_params(out, lab)
    dest = publish.Destination.open(args.records or default_root(params_file))
    notify_url = args.notify or os.environ.get(publish.NOTIFY_ENV) or None
    # A record the store did not take raises RecordNotStored: exit 75, the staged copy named.
    result, done = publish.run_and_publish(lab, dest, notify_url=notify_url, resume=args.resume,
                                           keep_going=args.keep_going, steps=args.step or None,
                                           progress=TerminalProgress(out, cells=args.verbose), strict=args.strict)
    _summary(out, result)
    for w in done.warnings:
        _say(out, "yellow", "warning:", w)
    if done.upload is not None:
        _say(out, "", "uploaded:", f"{done.upload.url} ({done.upload.objects} objects, {done.upload.bytes:,} bytes, "
                                   f"{done.upload.seconds:.1f}s)")
    return int(result.exit_code)


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
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise ParameterError([Problem("lab", "JupyterLab is not installed (the headless runtime leaves it out)")],
                             hint="pip install 'spkrunbook[lab]'   (then run `spkrunbook lab` again)")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args.jupyter_args:
        raise ParameterError([Problem("lab", "JupyterLab refuses to run as root")],
                             hint=f"run `spkrunbook lab {args.folder}` as an ordinary user; if you must use root "
                                  f"(a throw-away container), `spkrunbook lab {args.folder} -- --allow-root`")
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

    from .record import write_records_index

    out = _console()
    if args.what:
        with _scratch() as scratch:
            return _records_command(out, args, scratch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _runs(args.records)
    for w in caught:
        _say(_console(stderr=True), "yellow", "warning:", str(w.message))
    if args.json:
        out.print_json(data=found)
        return EXIT_OK
    if not found:
        _say(out, "", "", f"no records under {args.records}")
        return EXIT_OK
    wide = args.output == "wide"
    # -o wide, like kubectl's: every column whole, lines as long as they need (the terminal wraps them)
    shown = _console(width=100_000) if wide else out
    shown.print(_records_table(found, wide=wide))
    _path(out, f"{len(found)} run(s) in", args.records if _remote(args.records) else Path(args.records).resolve())
    if (args.open or args.html) and not _remote(args.records):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            page = write_records_index(Path(args.records))
        _say(out, "", "page:", str(page.resolve()))
        if args.open:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())
    return EXIT_OK


def _records_table(found: list[dict[str, Any]], *, wide: bool) -> Any:
    """One line per run at 80 columns (run, verdict, time); ``-o wide`` adds lab, target, start and steps."""
    from rich.table import Table

    from .results import verdict_word

    colours = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("RUN", no_wrap=True)
    if wide:
        for col in ("LAB", "TARGET", "STARTED"):
            table.add_column(col, no_wrap=True)
    table.add_column("VERDICT", no_wrap=True, overflow="ellipsis")
    table.add_column("TIME", justify="right", no_wrap=True)
    if wide:
        table.add_column("STEPS")
    for r in found:
        try:
            took = f"{float(r['duration_s']):.0f}s"
        except (TypeError, ValueError):
            took = "-"
        style = colours.get(verdict_word(r["verdict"]), "")
        cells = [r["record"]]
        if wide:
            cells += [r["lab"], r["target"], str(r["started"] or "-")]
        cells += [f"[{style}]{r['verdict']}[/]" if style else r["verdict"], took]
        if wide:
            cells.append(" ".join(f"{n}:{verdict_word(s['verdict'])}" for n, s in enumerate(r["steps"], 1)) or "-")
        table.add_row(*cells)
    return table


def _remote(where: str) -> bool:
    from .record import remote

    return remote.is_remote(where)


def _runs(where: str) -> list[dict[str, Any]]:
    """The runs of a records folder or store, newest first, in ``record.runs``' shape."""
    from .record import remote, runs

    if remote.is_remote(where):
        return remote.runs(remote.open_store(where))
    return runs(remote.local_path(where))


@contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder for records read from a store (removed afterwards)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="spkrunbook-records-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _records_command(out: Any, args: argparse.Namespace, scratch: Path) -> int:
    from .errors import ParameterError, Problem

    what = args.what
    if what[0] == "diff" and len(what) == 3:
        return _records_diff(out, what[1], what[2], args, scratch)
    if what[0] == "share" and len(what) == 2:
        return _records_share(out, what[1], args, scratch)
    if what[0] == "index" and len(what) <= 2:
        return _records_index(out, what[1] if len(what) == 2 else args.records, args, scratch)
    if what[0] == "upload" and len(what) == 2:
        from .record import remote

        if not remote.is_remote(args.records):
            raise ParameterError([Problem("--records", f"{args.records} is not an object store")],
                                 hint="give the store: `spkrunbook records upload RECORD --records s3://bucket/prefix`")
        up = remote.upload(Path(what[1]), args.records)
        _say(out, "green", "uploaded:", f"{up.url} ({up.objects} objects, {up.bytes:,} bytes, {up.seconds:.1f}s)")
        return EXIT_OK
    raise ParameterError([Problem("records", f"unknown: {' '.join(what)}")],
                         hint="`spkrunbook records` lists, `records diff A B` compares, `records share A` writes a copy "
                              "for a vendor, `records index [WHERE]` writes the page of every lab and night, "
                              "`records upload RECORD` sends a kept record to the store")


def _record_path(name: str, args: argparse.Namespace, scratch: Path) -> Path:
    """A record named on the command line, as a local folder: a path, a name or LAB@DATE under --records, a URL."""
    from . import publish
    from .record import nights

    if "@" in name and not Path(name).exists():
        name = nights.resolve(name, args.records)
    if _remote(name) or _remote(args.records):
        return publish.fetch_record(name, publish.Destination.open(args.records), scratch)
    p = Path(name)
    return p if p.is_dir() or p.is_absolute() else Path(args.records) / name


def _records_index(out: Any, where: str, args: argparse.Namespace, scratch: Path) -> int:
    from .record import nights

    page = nights.write(where)
    _say(out, "green", "index:", f"{page.where} ({page.labs} lab(s), {page.nights} night(s), {page.records} record(s))")
    return EXIT_OK


def _records_share(out: Any, name: str, args: argparse.Namespace, scratch: Path) -> int:
    from .record.share import share
    from .steps.debug.captures import redraw

    path = _record_path(name, args, scratch)
    # A record read from a store is shared into the current folder (its copy is temporary).
    res = share(path, args.out or (Path(path.name + "-shared") if scratch in path.parents else None), redraw=redraw)
    if args.json:
        out.print_json(data=res.to_dict())
        return EXIT_OK
    _say(out, "green", "shared copy:", f"{res.out} ({len(res.files)} files, {len(res.captures)} captures rewritten, "
                                       f"{len(res.redrawn)} pictures drawn again)")
    if res.left_out:
        _say(out, "yellow", "left out:", res.summary())
    _say(out, "", "the original record is unchanged:", str(res.source))
    return EXIT_OK


def _records_diff(out: Any, before: str, after: str, args: argparse.Namespace, scratch: Path) -> int:
    from rich.table import Table

    from .record.diff import diff

    d = diff(_record_path(before, args, scratch), _record_path(after, args, scratch))
    if args.json:
        out.print_json(data=d.to_dict())
        return EXIT_OK
    if not len(d):
        _say(out, "green", "same:", d.agreement())
        return EXIT_OK
    table = Table(title=f"{d.before.name} -> {d.after.name}: {len(d)} change(s)")
    for col in ("what", "where", "before", "after"):
        table.add_column(col, overflow="fold")
    for r in d.rows:
        table.add_row(r["what"], r["where"], r["before"], r["after"])
    out.print(table)
    return EXIT_OK


def cmd_fleet(args: argparse.Namespace) -> int:
    from . import fleet

    out = _console()
    if args.fleet_command == "run":
        from .fleet import runner

        return runner.run_index(args.index_file, args.index, progress=TerminalProgress(out))
    plan = fleet.load(args.fleet)
    if args.fleet_command == "plan":
        from .cluster.reconcile import to_yaml
        from .fleet import render

        if args.kubernetes_version:
            plan = fleet.FleetPlan(plan.fleet.model_copy(update={"kubernetes_version": args.kubernetes_version}),
                                   plan.labs, plan.source)
        text = to_yaml(render.render(plan))
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            _say(out, "green", "wrote", f"{args.out} ({len(plan.labs)} lab(s), {render.mode(plan)} Job(s))")
        else:
            sys.stdout.write(text)
        return EXIT_OK
    if args.fleet_command == "apply":
        from .cluster.live import LiveTarget
        from .fleet import apply

        with LiveTarget.from_kubeconfig(args.kubeconfig, args.context) as target:
            target.check_reachable()
            results = apply.apply(plan, target, force=args.force, prune=args.prune)
        bad = 0
        for res in results:
            for c in res.changes:
                colour = {"create": "green", "update": "green", "delete": "green", "unchanged": "", "kept": "yellow",
                          "refused": "red", "failed": "red"}
                _say(out, colour.get(c.action, ""), f"{res.kind} {c.ref}:", f"{c.outcome(res.planned)} ({c.reason})")
                bad += c.action in ("refused", "failed")
        return EXIT_FAILED if bad else EXIT_OK
    from .fleet import runner
    from .record import remote

    rows = runner.status([lab.name for lab in plan.labs], remote.open_store(plan.fleet.records))
    if args.json:
        out.print_json(data=rows)
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"fleet {plan.fleet.fleet}: newest record of each lab in {plan.fleet.records}")
    for col in ("index", "lab", "status", "started", "duration_s", "record"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("index", "lab", "status", "started", "duration_s", "record")))
    out.print(table)
    return EXIT_OK


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``command`` the sub-command being run, so only its own arguments import anything
    heavy (``capture`` loads the capture engine): ``--help`` and ``--version`` stay instant."""
    p = argparse.ArgumentParser(prog="spkrunbook", description="Runbooks for F5 SPK on OpenShift with macvlan networking.",
                                epilog=EXIT_CODES)
    p.add_argument("--version", action="version", version=f"spkrunbook {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def run_options(r: argparse.ArgumentParser) -> None:
        r.add_argument("--records", default=None,
                       help="where lab records go (default: the lab folder's records/ for a params file in "
                            "LAB/params/, else ./records; the same place a JupyterLab session of the lab uses), "
                            "or s3://bucket/prefix (endpoint, region, credentials from the AWS_* variables or AWS_PROFILE)")
        r.add_argument("--resume", metavar="RECORD",
                       help="re-run from RECORD's first step that did not pass, into a new record (same params)")
        r.add_argument("--notify", metavar="URL",
                       help="post the verdict as JSON (Slack-compatible `text`) to URL; also $SPKRUNBOOK_NOTIFY_URL")
        r.add_argument("--keep-going", action="store_true", help="run the remaining steps after one fails")
        r.add_argument("--step", action="append", type=step_argument, metavar="STEP",
                       help=f"run only this step (repeatable): {', '.join(STEPS)}, or its number 1-4")
        r.add_argument("--strict", action="store_true", help="a warning fails the run (exit 1), for pipelines that gate on it")
        r.add_argument("-v", "--verbose", action="store_true", help="a line per notebook cell (where a step spends its time)")

    r = sub.add_parser("run", help="run the runbook's notebooks headless and keep a lab record",
                       description="Run the runbook headless (papermill) and keep a lab record.",
                       epilog=f"steps, in order: {', '.join(STEPS)}. {EXIT_CODES}")
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
    v.add_argument("--strict", action="store_true", help="a warning about the params is a failure (exit 1)")
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
    rec.add_argument("what", nargs="*", metavar="diff A B | share A | index [WHERE] | upload RECORD",
                     help="compare two records (a name, a path, a URL or LAB@YYYY-MM-DD: that night's run), write a "
                          "copy of one for a vendor, write the page of every lab and night, or upload a kept record")
    rec.add_argument("--out", default=None, help="where `records share` writes (default: RECORD-shared beside it)")
    rec.add_argument("--records", default="records", help="the records folder (default: ./records) or s3://bucket/prefix")
    rec.add_argument("--json", action="store_true", help="print JSON instead of a table (steps as a list of objects)")
    rec.add_argument("-o", "--output", choices=("wide",), default=None,
                     help="wide: also the lab, target, start and each step's status")
    rec.add_argument("--html", action="store_true", help="also write records/index.html and print its path")
    rec.add_argument("--open", action="store_true", help="write records/index.html and open it in a browser")
    rec.set_defaults(func=cmd_records)

    fl = sub.add_parser("fleet", help="many labs as Kubernetes Jobs: plan, apply, status (and the pod's run)",
                        description="A fleet file (labs, image, records store, schedule) as Kubernetes objects.")
    fsub = fl.add_subparsers(dest="fleet_command", required=True, metavar="plan|apply|status|run")
    fp = fsub.add_parser("plan", help="validate FLEET.yaml and write the objects as YAML (stdout, or --out FILE)")
    fp.add_argument("fleet", metavar="FLEET.yaml")
    fp.add_argument("--out", help="write the YAML here instead of stdout")
    fp.add_argument("--kubernetes-version", help="render for this cluster version (default: the fleet file's)")
    fa = fsub.add_parser("apply", help="apply the objects (create/unchanged/update/refused, like the NADs)")
    fa.add_argument("fleet", metavar="FLEET.yaml")
    fa.add_argument("--kubeconfig", help="the cluster to apply to (default: $KUBECONFIG or ~/.kube/config)")
    fa.add_argument("--context", help="a context of the kubeconfig")
    fa.add_argument("--force", action="store_true", help="take over objects spkrunbook does not manage")
    fa.add_argument("--prune", action="store_true",
                    help="delete this fleet's objects that the fleet file no longer has (a lab taken out); "
                         "without it they are listed as kept")
    fs = fsub.add_parser("status", help="each lab's newest record in the fleet's store")
    fs.add_argument("fleet", metavar="FLEET.yaml")
    fs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fr = fsub.add_parser("run", help="run one index of a fleet (what the Job's pod runs)")
    fr.add_argument("index_file", metavar="FLEET.json", help="the fleet index the pod mounts (/etc/spkrunbook/fleet.json)")
    fr.add_argument("--index", type=int, help="the lab's index (default: $JOB_COMPLETION_INDEX)")
    fl.set_defaults(func=cmd_fleet)

    c = sub.add_parser("capture", help="summarise capture files (pcap, pcapng, tcpdump text)")
    if command == "capture":
        from .capture import cli as capture_cli

        capture_cli.add_arguments(c)
        c.set_defaults(func=capture_cli.run)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import HungUp, SpkRunbookError, Terminated

    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv and argv[:1] == ["lab"]:  # everything after `--` goes to jupyter lab untouched
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = build_parser(next((a for a in argv if not a.startswith("-")), None)).parse_args(argv)
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
