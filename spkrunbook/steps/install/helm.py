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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ... import display
from ...cluster.base import ClusterAccess, Target
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
     "helm cannot reach the cluster: check the target (helm is given the same kubeconfig and context, or the same "
     "server, CA and token) and `oc whoami`"),
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


#: helm's flags by major version: v4 renamed --atomic and gave --wait a strategy (kstatus "watcher").
FLAGS: dict[int, dict[str, list[str]]] = {
    3: {"wait": ["--wait"], "rollback": ["--atomic"]},
    4: {"wait": ["--wait=watcher"], "rollback": ["--rollback-on-failure"]},
}
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


#: What helm would otherwise take from the environment instead of the target (its own overrides, KUBECONFIG).
AMBIENT = ("KUBECONFIG", "HELM_KUBEAPISERVER", "HELM_KUBETOKEN", "HELM_KUBECAFILE", "HELM_KUBECONTEXT",
           "HELM_KUBEASUSER", "HELM_KUBEASGROUPS", "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "HELM_KUBETLS_SERVER_NAME")


@contextmanager
def cluster_access(target: Target) -> Iterator[ClusterAccess | None]:
    """How helm reaches the target's cluster, from the target itself (None: a snapshot, or a target that
    cannot say; then helm is not run). The same server and credentials the runbook checked."""
    access = getattr(target, "cluster_access", None)
    if target.kind != "live" or access is None:
        yield None
        return
    with access() as given:
        yield given


def _environment(access: ClusterAccess | None) -> dict[str, str]:
    """helm's environment: ours without anything that would point it elsewhere, plus the target's."""
    env = {k: v for k, v in os.environ.items() if k not in AMBIENT}
    if access is not None:
        env.update(access.env)
    return env


def command(lab: Lab, values_files: Sequence[str | os.PathLike[str]], *, chart: str | None = None,
            major: int = 3, cluster: Sequence[str] = ()) -> list[str]:
    """``helm upgrade --install RELEASE CHART -n NS -f ... --timeout T [--version V]`` as argv, with the
    wait and rollback flags of helm ``major`` when the params ask for them, then ``cluster`` (the target's
    ``ClusterAccess`` arguments)."""
    inst = lab.install
    argv = ["helm", "upgrade", "--install", inst.release, chart or inst.chart or CHART_PLACEHOLDER, "-n", lab.tmm.namespace]
    for f in values_files:
        argv += ["-f", str(f)]
    argv += ["--timeout", inst.helm_timeout]
    if inst.chart_version:
        argv += ["--version", inst.chart_version]
    flags = FLAGS.get(major, FLAGS[4] if major > 4 else FLAGS[3])
    if inst.helm_wait:
        argv += flags["wait"]
    if inst.rollback_on_failure:
        argv += flags["rollback"]
    return argv + list(cluster)


def _capture(argv: Sequence[str], timeout: float = 30.0,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


def major_version(helm: str) -> int | None:
    """3 or 4, from ``helm version --short`` (``v3.16.2+g13654a5``); None when helm does not say."""
    done = _capture([helm, "version", "--short"], 15)
    m = re.search(r"\bv(\d+)\.\d+", done.stdout)
    return int(m.group(1)) if done.returncode == 0 and m else None


def release_status(helm: str, lab: Lab, access: ClusterAccess | None = None) -> dict[str, Any] | None:
    """``helm status -o json`` of the release (None: no such release); HelmError when helm cannot tell."""
    import json

    argv = [helm, "status", lab.install.release, "-n", lab.tmm.namespace, "-o", "json",
            *(access.args if access is not None else ())]
    done = _capture(argv, 60, _environment(access))
    if done.returncode != 0:
        if re.search(r"(?i)release: not found", done.stderr):
            return None
        tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise HelmError(f"helm status failed with exit code {done.returncode}: {tail[0]}", returncode=done.returncode,
                        stderr_tail=done.stderr[-2000:], hint=hint_for(done.stderr, lab.install.release, lab.tmm.namespace))
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise HelmError("helm status -o json printed something that is not JSON", returncode=0,
                        hint="check the helm binary on PATH is helm 3 or 4") from None
    return data if isinstance(data, dict) else None


def recovery(status: str, release: str, namespace: str) -> str:
    """The command that gets a release out of a pending state, chosen by the state."""
    look = f"`helm history {release} -n {namespace}` shows the revisions"
    if status == "pending-install":
        return (f"{look}; nothing was deployed before the interrupted install: `helm uninstall {release} -n "
                f"{namespace}`, then run the step again (a rollback needs an earlier deployed revision)")
    return (f"{look}; roll back to the last deployed revision: `helm rollback {release} <revision> -n {namespace}` "
            "(the newest one marked deployed or superseded), then run the step again")


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


def decide(lab: Lab, target_kind: str, *, which: Callable[[str], str | None] = shutil.which,
           refuse: str = "") -> Decision:
    """Run helm only when every condition holds; otherwise say which one does not (``refuse``: a check before
    the install, e.g. a signature, said no)."""
    helm = which("helm")
    if refuse:
        return Decision(False, refuse, helm)
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
            env=env if env is not None else dict(os.environ),
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


@dataclass(repr=False)
class HelmOutcome(display.Brief):
    """The helm part's result: the command, whether it ran, its output, and a findings row."""

    argv: list[str]
    decision: Decision
    run: HelmRun | None = None
    error: HelmError | None = None
    script: str = ""  # the command for a person to run, when helm did not run here
    error_lines: list[str] = field(default_factory=list)  # helm's output when it failed, for the record
    major: int | None = None  # helm's major version, which chose the flags
    status: str = ""  # the release's status (helm status -o json) after the run, or the pending one found
    revision: int = 0

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
                "returncode": (self.error.returncode if self.error else (self.run.returncode if self.run else None)),
                "helm_major": self.major, "status": self.status, "revision": self.revision}

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
            f.add("helm install", "pass", f"exit 0, release {self.status or 'deployed'} at revision {self.revision} "
                  f"(helm v{self.major}), {len(self.run.lines)} line(s) of output", subject=self.argv[3])
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


def _script(decision: Decision, argv: list[str], access: ClusterAccess | None) -> str:
    env = "".join(f'export {k}={v}\n' for k, v in (access.shown_env if access is not None else {}).items())
    return ("#!/bin/sh\n"
            f"# {decision.reason}\n"
            "# values.yaml next to this file has secrets masked as ***: put the real ones back before running.\n"
            f'cd "$(dirname "$0")"\n{env}{shell_lines(argv)}\n')


def install(lab: Lab, target: Target, values: ValuesMerge, *, progress: Progress | None = None,
            which: Callable[[str], str | None] = shutil.which, scrubber: Scrubber | None = None,
            refuse: str = "") -> HelmOutcome:
    """Run ``helm upgrade --install`` when possible (output streamed to ``progress``), else record the command.

    helm reaches the cluster the target reaches, with its credentials (``cluster_access``:
    the same kubeconfig and context, or the same server, CA and token); nothing in
    helm's environment points it elsewhere. helm reads the real values from a private
    temp file outside the record, deleted afterwards; the record only holds the masked
    copy (``values.yaml`` beside the command). A helm failure is a failed row and
    ``outcome.error``, not an exception.
    """
    decision = decide(lab, target.kind, which=which, refuse=refuse)
    extras = [str(p) for p in lab.install.extra_values_files]
    with cluster_access(target) as access:
        cluster = access.shown if access is not None else ()
        if decision.run and access is None:
            decision = Decision(False, "the target cannot say how helm reaches its cluster: the command is in the "
                                       "record for a person to run", decision.helm)
        if not decision.run:
            argv = command(lab, ["values.yaml", *extras], cluster=cluster)
            return HelmOutcome(argv, decision, script=_script(decision, argv, access))
        return _install(lab, decision, values, extras, access, progress=progress, scrubber=scrubber)


def _install(lab: Lab, decision: Decision, values: ValuesMerge, extras: list[str], access: ClusterAccess | None, *,
             progress: Progress | None, scrubber: Scrubber | None) -> HelmOutcome:
    scrub = scrubber or Scrubber(set(values.secrets))
    helm_bin = decision.helm or "helm"
    major = major_version(helm_bin) or 3
    shown = command(lab, ["values.yaml", *extras], major=major, cluster=access.shown if access is not None else ())
    try:
        before = release_status(helm_bin, lab, access)
    except HelmError as exc:
        return HelmOutcome(shown, decision, error=exc, major=major)
    state = str(((before or {}).get("info") or {}).get("status", ""))
    if state in PENDING:  # helm would refuse; say which state and how to recover, and touch nothing
        rev = (before or {}).get("version", "?")
        err = HelmError(f"release {lab.install.release} is {state} (revision {rev}): another operation "
                        "(install/upgrade/rollback) is in progress or was interrupted; nothing was run",
                        returncode=0, hint=recovery(state, lab.install.release, lab.tmm.namespace))
        return HelmOutcome(shown, decision, error=err, major=major, status=state)
    tmp = Path(tempfile.mkdtemp(prefix="spkrunbook-helm-"))
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        if progress is not None:
            progress.log(line)

    try:
        values_path = write_private(tmp / "values.yaml", values.merged)
        argv = command(lab, [str(values_path), *extras], major=major, cluster=access.args if access is not None else ())
        argv[0] = helm_bin
        try:
            result = run(argv, on_line=sink, scrubber=scrub,
                         timeout=go_duration_seconds(lab.install.helm_timeout) + PROCESS_GRACE,
                         env=_environment(access), release=lab.install.release, namespace=lab.tmm.namespace)
        except HelmError as exc:
            return HelmOutcome(shown, decision, error=exc, error_lines=lines, major=major)
        # success is the exit code and the release's own status, never what helm wrote to stderr
        try:
            after = release_status(helm_bin, lab, access)
        except HelmError as exc:
            return HelmOutcome(shown, decision, run=result, error=exc, major=major)
        state = str(((after or {}).get("info") or {}).get("status", "absent"))
        if state != "deployed":
            err = HelmError(f"helm exited 0 but release {lab.install.release} is {state}", returncode=0,
                            hint=recovery(state, lab.install.release, lab.tmm.namespace) if state in PENDING
                            else f"`helm history {lab.install.release} -n {lab.tmm.namespace}` says why")
            return HelmOutcome(shown, decision, run=result, error=err, major=major, status=state)
        return HelmOutcome(shown, decision, run=result, major=major, status=state,
                           revision=int((after or {}).get("version") or 0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(repr=False)
class Uninstall(display.Brief):
    """The install step's teardown: ``helm uninstall`` of the release, on request only."""

    requested: bool
    argv: list[str]
    ran: bool = False
    outcome: str = ""  # uninstalled | absent | planned | failed | not requested
    detail: str = ""
    hint: str = ""

    @property
    def findings(self) -> Findings:
        f = Findings("helm uninstall")
        subject = self.argv[2] if len(self.argv) > 2 else ""
        if not self.requested:
            f.add("helm uninstall", "skip", "not requested (install.teardown is false)", subject=subject)
        elif self.outcome == "failed":
            f.add("helm uninstall", "fail", self.detail, self.hint, subject)
        elif self.outcome == "planned":
            f.add("helm uninstall", "skip", self.detail, f"run it by hand: {shell(self.argv)}", subject)
        else:
            f.add("helm uninstall", "pass", f"{self.outcome}: {self.detail}", subject=subject)
        return f

    def to_frame(self) -> pd.DataFrame:
        return self.findings.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "command": shell(self.argv), "ran": self.ran, "outcome": self.outcome,
                "detail": self.detail}

    def files(self) -> dict[str, str | bytes]:
        if not self.requested:
            return {}
        return {"helm-uninstall.sh": f"#!/bin/sh\n# {self.outcome}: {self.detail}\n{shell(self.argv)}\n"}

    def _repr_html_(self) -> str:
        if not self.requested:
            return "<p>Teardown not requested (<code>install.teardown: false</code>): the release stays.</p>"
        return self.findings._repr_html_() + display.code(shell(self.argv), title="command")


def uninstall(lab: Lab, target: Target, *, when: bool, which: Callable[[str], str | None] = shutil.which) -> Uninstall:
    """Uninstall the release when asked (``when``: the params' ``install.teardown``, or a confirmed button).

    Only the release this lab names, in its namespace, in the target's cluster; on a
    snapshot it is a plan. A release that is not there is reported as absent, not as a failure.
    """
    base = ["helm", "uninstall", lab.install.release, "-n", lab.tmm.namespace]
    if not when:
        return Uninstall(False, base, outcome="not requested")
    with cluster_access(target) as access:
        argv = base + list(access.shown if access is not None else ())
        decision = decide(lab, target.kind, which=which)
        if target.kind != "live" or access is None or decision.helm is None or not lab.install.run_helm:
            return Uninstall(True, argv, outcome="planned", detail=decision.reason)
        return _uninstall(lab, decision.helm, argv, access)


def _uninstall(lab: Lab, helm_bin: str, argv: list[str], access: ClusterAccess) -> Uninstall:
    try:
        status = release_status(helm_bin, lab, access)
    except HelmError as exc:
        return Uninstall(True, argv, outcome="failed", detail=exc.message, hint=exc.hint or "")
    if status is None:
        return Uninstall(True, argv, outcome="absent", detail=f"no release {lab.install.release} in {lab.tmm.namespace}")
    done = _capture([helm_bin, "uninstall", lab.install.release, "-n", lab.tmm.namespace, *access.args],
                    go_duration_seconds(lab.install.helm_timeout) + PROCESS_GRACE, _environment(access))
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return Uninstall(True, argv, ran=True, outcome="failed", detail=f"exit {done.returncode}: {tail}",
                         hint=hint_for(done.stderr, lab.install.release, lab.tmm.namespace))
    return Uninstall(True, argv, ran=True, outcome="uninstalled",
                     detail=f"release {lab.install.release} (revision {status.get('version', '?')}) removed")
