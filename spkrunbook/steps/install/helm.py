"""The ``helm upgrade --install`` of the f5ingress chart: compose, decide, run or plan.

``command`` builds the argv list (never a shell string). ``decide`` says whether
to run it: only when ``helm`` is on PATH, a chart is given, ``install.run_helm``
is true and the target is live. ``run`` streams helm's output line by line to a
callback (the notebook prints it, the record keeps it, both scrubbed) and raises
``HelmError`` with the exit code, the tail of stderr and a hint when helm fails.
Otherwise the command goes into the record for a person to run.
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ... import display
from ...errors import HelmError
from ...params import Lab
from ...progress import Progress
from ...results import Findings
from ...secrets import Scrubber
from .values import ValuesMerge

CHART_PLACEHOLDER = "<chart: tar/f5ingress-<version>.tgz>"
STDERR_TAIL_LINES = 20
# Seconds on top of helm's own --timeout before we stop waiting for the process.
PROCESS_GRACE = 60.0

_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)kubernetes cluster unreachable|connection refused|no such host|i/o timeout"),
     "helm cannot reach the cluster: check target.kubeconfig / target.context (helm gets the same ones) and `oc whoami`"),
    (re.compile(r"(?i)another operation \(install/upgrade/rollback\) is in progress"),
     "a previous helm run is stuck: `helm history RELEASE -n NS`, then `helm rollback RELEASE -n NS` (or uninstall) and run again"),
    (re.compile(r"(?i)has no deployed releases"),
     "an earlier install failed and left a failed release: `helm uninstall RELEASE -n NS`, then run again"),
    (re.compile(r"(?i)timed out waiting|context deadline exceeded"),
     "helm timed out: look at `oc get pods -n NS` and events, or raise install.helm_timeout"),
    (re.compile(r"(?i)(path .* not found|failed to download|no such file|not a valid chart|chart .* not found)"),
     "helm cannot find the chart: set install.chart to the f5ingress .tgz from the SPK tarball (tar/f5ingress-<version>.tgz)"),
    (re.compile(r"(?i)forbidden|unauthorized"),
     "the account lacks permission: helm needs to create Deployments, Services and Secrets in the TMM namespace"),
    (re.compile(r"(?i)(yaml|json|values).*(error|cannot unmarshal)|error converting yaml"),
     "the values are not what the chart expects: check the merged values in the record (spk-install/values.yaml)"),
]


def hint_for(stderr: str, release: str = "RELEASE", namespace: str = "NS") -> str:
    for pat, hint in _HINTS:
        if pat.search(stderr):
            return hint.replace("RELEASE", release).replace("NS", namespace)
    return "read helm's message above; after fixing the cause, run the step again (upgrade --install is safe to repeat)"


def command(lab: Lab, values_files: Sequence[str | os.PathLike[str]], *, chart: str | None = None) -> list[str]:
    """``helm upgrade --install RELEASE CHART -n NS -f ... --timeout T [--version V]`` as argv."""
    inst = lab.install
    argv = ["helm", "upgrade", "--install", inst.release, chart or inst.chart or CHART_PLACEHOLDER, "-n", lab.tmm.namespace]
    for f in values_files:
        argv += ["-f", str(f)]
    argv += ["--timeout", inst.helm_timeout]
    if inst.chart_version:
        argv += ["--version", inst.chart_version]
    if lab.target.kind == "live":
        if lab.target.kubeconfig:
            argv += ["--kubeconfig", str(lab.target.kubeconfig)]
        if lab.target.context:
            argv += ["--kube-context", lab.target.context]
    return argv


def shell(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def shell_lines(argv: Sequence[str]) -> str:
    """The command with one option per line (``\\`` continuations), as a person would paste it."""
    parts = [shlex.quote(a) for a in argv]
    out, i = [" ".join(parts[:5])], 5
    while i < len(parts):
        if parts[i].startswith("-") and i + 1 < len(parts) and not parts[i + 1].startswith("-"):
            out.append(f"{parts[i]} {parts[i + 1]}")
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return " \\\n    ".join(out)


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    helm: str | None = None


def decide(lab: Lab, target_kind: str, *, which: Callable[[str], str | None] = shutil.which) -> Decision:
    """Run helm only when every condition holds; otherwise say which one does not."""
    helm = which("helm")
    if target_kind != "live":
        return Decision(False, f"the target is a {target_kind}: plan only, the command is in the record", helm)
    if not lab.install.run_helm:
        return Decision(False, "install.run_helm is false: the command is in the record for a person to run", helm)
    if not lab.install.chart:
        return Decision(False, "install.chart is not set: give the f5ingress chart (.tgz or reference) to install", helm)
    if helm is None:
        return Decision(False, "helm is not on PATH: install helm 3, or run the recorded command elsewhere", helm)
    return Decision(True, f"running {helm}", helm)


def go_duration_seconds(text: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"([0-9]+)([hms])", text):
        total += int(num) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total or 300.0


@dataclass
class HelmRun:
    """What helm did: argv, exit code and its (scrubbed) output lines."""

    argv: list[str]
    returncode: int | None
    lines: list[str] = field(default_factory=list)
    ran: bool = True

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")


def run(
    argv: Sequence[str],
    *,
    on_line: Callable[[str], None] | None = None,
    scrubber: Scrubber | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    release: str = "RELEASE",
    namespace: str = "NS",
) -> HelmRun:
    """Run helm, streaming each stdout/stderr line (scrubbed) to ``on_line``; raise ``HelmError`` on failure."""
    scrub = scrubber.text if scrubber else (lambda s: s)
    lines: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    lock = threading.Lock()

    def emit(line: str, is_err: bool) -> None:
        clean = scrub(line.rstrip("\n"))
        with lock:
            lines.append(clean)
            if is_err:
                tail.append(clean)
            if on_line is not None:
                on_line(clean)

    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError as exc:
        raise HelmError(f"cannot start {argv[0]}: {exc.strerror}", returncode=127, hint="install helm 3 and put it on PATH") from None

    def pump(stream: Any, is_err: bool) -> None:
        for line in iter(stream.readline, ""):
            emit(line, is_err)
        stream.close()

    t_err = threading.Thread(target=pump, args=(proc.stderr, True), daemon=True)
    t_err.start()
    t_out = threading.Thread(target=pump, args=(proc.stdout, False), daemon=True)
    t_out.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        t_out.join(5)
        t_err.join(5)
        raise HelmError(
            f"helm did not finish within {timeout:.0f}s and was stopped",
            returncode=-9,
            stderr_tail="\n".join(tail),
            hint=hint_for("timed out waiting", release, namespace),
        ) from None
    t_out.join(10)
    t_err.join(10)
    result = HelmRun(list(argv), rc, lines)
    if rc != 0:
        stderr_tail = "\n".join(tail)
        last = tail[-1] if tail else "(no message)"
        raise HelmError(
            f"helm upgrade --install failed with exit code {rc}: {last}",
            returncode=rc,
            stderr_tail=stderr_tail,
            hint=hint_for(stderr_tail, release, namespace),
        )
    return result


def write_private(path: Path, text: str) -> Path:
    """Write a file only the owner can read (values holding credentials)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


@dataclass
class HelmOutcome:
    """The helm part's result: the command, whether it ran, its output, and a findings row."""

    argv: list[str]
    decision: Decision
    run: HelmRun | None = None
    error: HelmError | None = None
    script: str = ""  # the command for a person to run, when helm did not run here
    error_lines: list[str] = field(default_factory=list)  # helm's output when it failed, for the record

    @property
    def ran(self) -> bool:
        return self.run is not None or self.error is not None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def command_line(self) -> str:
        return shell(self.argv)

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"ran": self.ran, "reason": self.decision.reason, "command": self.command_line,
                "returncode": (self.error.returncode if self.error else (self.run.returncode if self.run else None))}

    def files(self) -> dict[str, str | bytes]:
        if self.script:
            return {"helm-command.sh": self.script}
        lines = self.run.lines if self.run is not None else self.error_lines
        return {"helm-output.txt": f"$ {self.command_line}\n" + "\n".join(lines) + "\n"}

    @property
    def findings(self) -> Findings:
        f = Findings("helm upgrade --install")
        if self.error is not None:
            f.add("helm install", "fail", f"exit {self.error.returncode}: {self.error.message}", self.error.hint or "", self.argv[3])
        elif self.run is not None:
            f.add("helm install", "pass", f"exit 0, {len(self.run.lines)} line(s) of output", subject=self.argv[3])
        else:
            f.add("helm install", "skip", self.decision.reason,
                  "run the command in the record (spk-install/helm-command.sh) after filling in masked secrets", self.argv[3])
        return f

    def _repr_html_(self) -> str:
        state = (
            display.badge("fail", f"FAILED (exit {self.error.returncode})") if self.error is not None
            else display.badge("pass", "ran") if self.run is not None
            else display.badge("skip", "not run") + f" {display.esc(self.decision.reason)}"
        )
        out = f"<p><b>helm</b> {state}</p>" + display.code(shell_lines(self.argv), title="command")
        if self.error is not None:
            out += display.code(str(self.error), title="error")
            if self.error.stderr_tail:
                out += display.code(self.error.stderr_tail, title="stderr (last lines)")
        elif self.run is not None and self.run.lines:
            out += display.code("\n".join(self.run.lines[-40:]), title="output (last lines)")
        return out

    def __str__(self) -> str:
        return self.command_line


def install(lab: Lab, target_kind: str, values: ValuesMerge, *, progress: Progress | None = None,
            which: Callable[[str], str | None] = shutil.which, scrubber: Scrubber | None = None) -> HelmOutcome:
    """Run ``helm upgrade --install`` when possible (output streamed to ``progress``), else record the command.

    helm reads the real values from a private temp file outside the record, deleted
    afterwards; the record only holds the masked copy (``values.yaml`` beside the
    command). A helm failure is a failed row and ``outcome.error``, not an exception.
    """
    decision = decide(lab, target_kind, which=which)
    extras = [str(p) for p in lab.install.extra_values_files]
    if not decision.run:
        argv = command(lab, ["values.yaml", *extras])
        script = (
            "#!/bin/sh\n"
            f"# {decision.reason}\n"
            "# values.yaml next to this file has secrets masked as ***: put the real ones back before running.\n"
            f'cd "$(dirname "$0")"\n{shell_lines(argv)}\n'
        )
        return HelmOutcome(argv, decision, script=script)
    scrub = scrubber or Scrubber(set(values.secrets))
    tmp = Path(tempfile.mkdtemp(prefix="spkrunbook-helm-"))
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        if progress is not None:
            progress.log(line)

    try:
        values_path = write_private(tmp / "values.yaml", values.merged)
        argv = command(lab, [str(values_path), *extras])
        shown = command(lab, ["values.yaml", *extras])
        try:
            result = run(argv, on_line=sink, scrubber=scrub,
                         timeout=go_duration_seconds(lab.install.helm_timeout) + PROCESS_GRACE,
                         release=lab.install.release, namespace=lab.tmm.namespace)
            return HelmOutcome(shown, decision, run=result)
        except HelmError as exc:
            return HelmOutcome(shown, decision, error=exc, error_lines=lines)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
