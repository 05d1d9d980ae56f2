"""The one family of exceptions for errors a user can cause.

Every message says what went wrong and every ``hint`` what to do about it; the
CLI maps the family to exit codes, notebooks show message and hint without a
traceback wall, and ``run.json`` keeps the class name for code that reads it::

    SpkRunbookError                  base; ``exit_code`` 2 unless stated
    ├── ParameterError               bad params; ``problems`` lists every one (field paths)
    ├── ClusterError                 exit 1; the cluster boundary (``status``, ``reason`` kept)
    │   ├── ClusterUnreachable       exit 2; no answer, TLS, not a Kubernetes API
    │   ├── ResourceMissing          404, e.g. a CRD that is not installed
    │   ├── Conflict                 409, resourceVersion conflict or AlreadyExists
    │   ├── Forbidden                exit 2; 401/403: RBAC (``verb`` and ``resource`` named)
    │   └── Invalid                  422: the API server (or a CRD schema) rejected an object
    ├── SnapshotError                a snapshot folder missing, malformed, or not must-gather
    ├── ApplyRefused                 exit 1; an object exists that this tool does not manage
    ├── ValuesError                  the Helm values file cannot be read or has the wrong shape
    ├── HelmError                    exit 1; helm failed (``returncode``, ``stderr_tail``)
    ├── ExecError                    exit 1; a command in a pod failed to run
    ├── ParseError                   exit 1; command output is not what its parser reads
    ├── CaptureError                 a capture file is corrupt, unknown or unreadable
    ├── RecordError                  the lab record cannot be written or read
    │   └── RecordNotStored          exit 75; a finished record the object store did not take (kept locally)
    ├── NotAvailable                 exit 1; the target cannot answer this (exec on a snapshot)
    └── StepFailed                   exit 1; a step's findings have a failed row

Beside the family, outside it on purpose: ``Terminated`` (a ``KeyboardInterrupt``), how a
run that got SIGTERM unwinds like Ctrl-C, so the record is finalised and the exit code is 143
(``HungUp``, its SIGHUP kind: 129).

Only ``spkrunbook.cluster.live`` catches ``kubernetes.client.ApiException``; it
re-raises one of these ``from`` it through one translation table. Every class
pickles (papermill kernels and worker threads hand errors across processes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _rebuild(cls: type[SpkRunbookError], state: dict[str, Any]) -> SpkRunbookError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, state.get("message", ""))
    exc.__dict__.update(state)
    return exc


class SpkRunbookError(Exception):
    """Base of every user-caused error; ``exit_code`` is what the CLI returns."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  what to do: {self.hint}"
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive Exception's default pickling.
        return (_rebuild, (type(self), dict(self.__dict__)))


@dataclass(frozen=True)
class Problem:
    """One invalid parameter: a dotted field path and what is wrong with it."""

    path: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ParameterError(SpkRunbookError):
    """Every problem in a params file (or found before anything runs), reported at once."""

    def __init__(self, problems: list[Problem], *, source: str | None = None, hint: str | None = None) -> None:
        self.problems = list(problems)
        self.warnings: list[Problem] = []  # shown beside the problems; they alone would not stop a run
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"{len(self.problems)} problem(s){where}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines), hint=hint or "fix the fields listed above and run again")


class ClusterError(SpkRunbookError):
    """A call to the Kubernetes API failed; ``status`` and ``reason`` are kept."""

    exit_code = 1

    def __init__(
        self, message: str, *, status: int | None = None, reason: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


class ClusterUnreachable(ClusterError):
    """No Kubernetes API answered: connection, DNS, TLS, or a URL that is not an API server."""

    exit_code = 2


class ResourceMissing(ClusterError):
    """404: the object, or the whole API (a CRD that is not installed)."""


class Conflict(ClusterError):
    """409: someone changed the object since it was read, or it already exists."""


class Forbidden(ClusterError):
    """401/403: the credentials are rejected or RBAC does not allow the verb."""

    exit_code = 2


class Invalid(ClusterError):
    """422: the object does not pass the API server's validation (a CRD schema, a field)."""


class SnapshotError(SpkRunbookError):
    """The snapshot folder is missing, unreadable or not in must-gather layout."""


class ApplyRefused(SpkRunbookError):
    """An object with our name exists, differs, and is not ours: we never overwrite it silently."""

    exit_code = 1


class ValuesError(SpkRunbookError):
    """The user's values file cannot be read or has a shape the chart does not accept."""


class HelmError(SpkRunbookError):
    """helm exited non-zero; the tail of its stderr and the release state say why."""

    exit_code = 1

    def __init__(self, message: str, *, returncode: int, stderr_tail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ExecError(SpkRunbookError):
    """A command in a container could not run, timed out or exited non-zero."""

    exit_code = 1


class ParseError(SpkRunbookError, ValueError):
    """Text handed to a parser is not the output it parses."""

    exit_code = 1


class CaptureError(SpkRunbookError):
    """A capture file is corrupt, of an unknown format, or not a regular file."""


class RecordError(SpkRunbookError):
    """The lab record cannot be written (read-only, full disk) or read back (damaged)."""


class RecordNotStored(RecordError):
    """A finished run's record could not be uploaded; the hint names the staged copy. Exit 75 (a retry resumes)."""

    exit_code = 75


class NotAvailable(SpkRunbookError):
    """What a step asked for cannot be had from this target (e.g. exec on a snapshot)."""

    exit_code = 1


class StepFailed(SpkRunbookError):
    """A step's findings have a failed row; the message lists them, the hint is the first fix."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner, a Kubernetes Job, systemd): handled like Ctrl-C, exit 143."""


class HungUp(Terminated):
    """SIGHUP (the terminal or the SSH session closed): ended like SIGTERM, exit 129."""


#: Every class above, for tests and for code that maps names read back from a record.
ALL: tuple[type[SpkRunbookError], ...] = (
    SpkRunbookError, ParameterError, ClusterError, ClusterUnreachable, ResourceMissing, Conflict, Forbidden,
    Invalid, SnapshotError, ApplyRefused, ValuesError, HelmError, ExecError, ParseError, CaptureError,
    RecordError, RecordNotStored, NotAvailable, StepFailed,
)
