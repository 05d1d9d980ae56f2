"""The warm parent a run's kernels are forked from: ipykernel and every step's imports, loaded once.

Why: each of a run's four kernels would otherwise start Python, import ipykernel, then pandas,
the package and (for the debugging step) matplotlib: about a second of CPU each, four times
over, for the same modules. This process loads them once, then forks one child per kernel;
a child is an ordinary ``ipykernel`` kernel (``IPKernelApp``, as ``python -m ipykernel_launcher``
starts it) that begins with those modules already imported. It is started and spoken to by
:mod:`spkrunbook.kernels`, through its stdin and stdout, one JSON line each way per kernel:

    -> {"id": 1, "step": "prerequisites", "connection_file": ..., "cwd": ..., "env": {...},
        "stderr": ..., "argv": [...]}
    <- {"id": 1, "pid": 1234}

A kernel is forked as soon as the imports its step uses are in, so answers may come out of order.

It starts no thread of its own (a fork copies only the thread that forks), reaps its children as
they end (so a kernel that died is seen as dead at once), and ends when its stdin closes: the run
ended, or died. Kernels forked from it stop when it does (``JPY_PARENT_PID`` is this process).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import select
import signal
import sys
from typing import Any

from . import bundle, kernels


def main() -> None:
    """Import what the steps use, in the runbook's order, forking each kernel asked for as soon as its own
    step's imports are in (the first step's kernel does not wait for matplotlib); then serve until stdin ends."""
    signal.signal(signal.SIGCHLD, _reap)
    inbox = _Inbox(sys.stdin.fileno())
    loaded: set[str] = set()
    waiting: list[dict[str, Any]] = []
    for module in ("ipykernel.kernelapp", *dict.fromkeys(m for step in bundle.STEPS for m in kernels.WARM[step])):
        waiting += inbox.read(block=False)
        waiting = [r for r in waiting if not _serve_if_ready(r, loaded)]
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a kernel that needs it imports it itself, and says why there
            pass
        loaded.add(module)
    loaded.add("*")  # everything there is to import is in
    while True:
        waiting = [r for r in waiting if not _serve_if_ready(r, loaded)]
        if inbox.ended:
            return
        waiting += inbox.read(block=True)


class _Inbox:
    """Requests, one JSON line each, read from a descriptor without Python's buffering (a forked kernel must
    not find a half-read line in a buffer it inherited)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.partial = b""
        self.ended = False

    def read(self, *, block: bool) -> list[dict[str, Any]]:
        if self.ended or (not block and not select.select([self.fd], [], [], 0)[0]):
            return []
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.ended = True
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def _serve_if_ready(request: dict[str, Any], loaded: set[str]) -> bool:
    """Fork the kernel ``request`` asks for if its step's imports are in; answer with its pid."""
    needs = {"ipykernel.kernelapp", *kernels.WARM.get(str(request.get("step")), ())}
    if "*" not in loaded and not needs <= loaded:
        return False
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the kernel (coverage does not follow a fork); it never returns
        _kernel(request)
    os.write(sys.stdout.fileno(), json.dumps({"id": request.get("id"), "pid": pid}).encode() + b"\n")
    return True


def _reap(signum: int, frame: Any) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _kernel(request: dict[str, Any]) -> None:  # pragma: no cover - runs in the forked child
    """Become the kernel the request describes; leave the process when it ends, never return."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel's own subprocesses are waited for as usual
        os.setsid()  # its own process group, as jupyter_client starts kernels: an interrupt reaches it alone
        null = os.open(os.devnull, os.O_RDWR)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        os.close(null)
        os.close(err)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the descriptors live as long as the process
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # for what the kernel itself starts
        if sys.path and sys.path[0] in ("", os.getcwd()):  # as ipykernel_launcher: IPython puts it back
            del sys.path[0]
        from ipykernel import kernelapp

        # parent_handle: ipykernel read JPY_PARENT_PID when the server imported it, so it is given here;
        # the kernel then ends when the server does (the run ended, or died).
        kernelapp.launch_new_instance(argv=["-f", request["connection_file"],
                                            f"--IPKernelApp.parent_handle={os.getppid()}", *request["argv"]])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except BaseException:  # noqa: BLE001 - said on the kernel's stderr, which the run reads back
        import traceback

        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()  # the kernel's own (its history, its streams), not the server's: it has none
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    main()
