"""Figures drawn as SVG in a forked child process, beside the process that asked for them.

Why: matplotlib holds the GIL while it lays out text, so figures drawn on a thread of the
kernel slow the very tables they were meant to leave room for; and the debugging step's
pictures were most of its time. A child forked after the analysis has every frame already
(copy-on-write, nothing pickled), draws on the other core, and hands back the SVG text
through a pipe. A child that fails, or does not answer within :data:`DEADLINE_S`, is killed
and the answer is None: the caller then draws in its own process, as it would have without
a child. Only on Linux (``fork`` without ``exec`` is not safe on macOS, and Windows has none).
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import plots

__all__ = ["DEADLINE_S", "NO_FORK_ENV", "available", "svgs"]

#: Set (to anything) to draw in-process instead; the same switch makes a run launch its kernels rather
#: than fork them (``spkrunbook.kernels``).
NO_FORK_ENV = "SPKRUNBOOK_NO_FORK"
#: How long a child may take to draw before it is killed and the figures are drawn in-process.
DEADLINE_S = 120.0


def available() -> bool:
    """Whether figures can be drawn in a forked child here (Linux, with ``os.fork``, not switched off)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and not os.environ.get(NO_FORK_ENV)


def svgs(draw: Callable[[], dict[str, Any]], *, name: str = "figures") -> Future[dict[str, str] | None]:
    """``{key: SVG text}`` of the figures ``draw()`` makes, drawn in a forked child; the future holds
    None when the child could not draw them (the caller draws them itself) or forking is not
    :func:`available`."""
    done: Future[dict[str, str] | None] = Future()
    if not available():
        done.set_result(None)
        return done
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about fork in a threaded process; the child only draws
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow it); it never returns
        _child(draw, read_end, write_end)
    os.close(write_end)
    threading.Thread(target=_collect, args=(pid, read_end, done), name=f"spkrunbook-{name}", daemon=True).start()
    return done


def _child(draw: Callable[[], dict[str, Any]], read_end: int, write_end: int) -> None:  # pragma: no cover
    """Draw, write the SVGs as JSON to the pipe, and leave at once (no atexit, no parent buffers)."""
    code = 1
    try:
        os.close(read_end)
        # Only this thread was copied: a lock another thread held at the fork stays held here. The
        # SVG lock is made anew, and output (the kernel's streams need threads the child has not)
        # goes nowhere.
        plots._SVG_LOCK = threading.Lock()
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the process ends right below
        sys.stdout = sys.stderr = devnull
        warnings.simplefilter("ignore")
        data = json.dumps({key: plots.svg_text(fig) for key, fig in draw().items()}).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view):]
        code = 0
    finally:
        os._exit(code)


def _collect(pid: int, read_end: int, done: Future[dict[str, str] | None]) -> None:
    """Read the child's answer until it closes the pipe or the deadline passes; reap it either way."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    result: dict[str, str] | None = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)  # stuck (a lock it can never get): the caller draws instead
                break
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(read_end)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by someone else (a SIGCHLD handler): trust the data alone
            status = 0
        if os.waitstatus_to_exitcode(status) == 0 and chunks:
            try:
                loaded = json.loads(b"".join(chunks))
                result = {str(k): str(v) for k, v in loaded.items()}
            except (ValueError, AttributeError):
                result = None
        done.set_result(result)
