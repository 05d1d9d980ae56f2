"""The one family of exceptions for errors a user can cause.

Every message says what went wrong *and* what to do about it; the CLI maps the
family to exit codes and notebooks show the message without a traceback wall.

::

    SpkRunbookError                  base; ``exit_code`` 2 unless stated
    ├── ParameterError               bad params file; ``problems`` lists every one
    ├── ClusterError                 the cluster boundary (kubernetes client translated here)
    │   ├── ClusterUnreachable       no answer / TLS / auth: exit 2
    │   ├── ResourceMissing          404, e.g. a CRD that is not installed
    │   ├── Conflict                 409, resourceVersion conflict or AlreadyExists
    │   └── Forbidden                401/403: RBAC
    ├── SnapshotError                snapshot directory missing or malformed
    ├── ApplyRefused                 an object exists that this tool does not manage
    ├── HelmError                    helm exited non-zero (``returncode``, ``stderr_tail``)
    ├── ExecError                    a command in a pod failed to run
    ├── CaptureError                 corrupt / unknown capture file
    └── NotAvailable                 the target cannot answer this (exec on a snapshot)

Only ``spkrunbook.cluster.live`` catches ``kubernetes.client.ApiException``; it
re-raises one of ours ``from`` it, keeping ``status`` and ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class Problem:
    """One invalid parameter: a dotted field path and what is wrong with it."""

    path: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ParameterError(SpkRunbookError):
    """Every problem in a params file, reported at once."""

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"{len(self.problems)} problem(s){where}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines), hint="fix the fields listed above and run again")


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
    exit_code = 2


class ResourceMissing(ClusterError):
    pass


class Conflict(ClusterError):
    pass


class Forbidden(ClusterError):
    exit_code = 2


class SnapshotError(SpkRunbookError):
    pass


class ApplyRefused(SpkRunbookError):
    exit_code = 1


class HelmError(SpkRunbookError):
    exit_code = 1

    def __init__(self, message: str, *, returncode: int, stderr_tail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ExecError(SpkRunbookError):
    exit_code = 1


class CaptureError(SpkRunbookError):
    pass


class NotAvailable(SpkRunbookError):
    """What a step asked for cannot be had from this target (e.g. exec on a snapshot)."""

    exit_code = 1
