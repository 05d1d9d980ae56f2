"""How long work reports progress: one line that updates in place in JupyterLab, throttled lines headless.

Waiting for TMM, a live capture and helm's output all report through
``Progress``: ``update(done, message, total=...)`` moves a bar, ``log(line)``
adds a line of streamed output (helm), ``done``/``fail`` close it. In a notebook
the display updates in place (so the record keeps only the final state); in a
pipeline (papermill, a terminal) it prints at most one line per ``every`` seconds
plus the last one, so a 10-minute wait is a few dozen lines, not thousands.
No ipywidgets here: the forms in ``spkrunbook.widgets`` put a widget on top.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ != "TerminalInteractiveShell"


class Progress:
    """A labelled bar (when the total is known) with a message and the tail of streamed lines."""

    def __init__(self, label: str, *, total: float | None = None, unit: str = "", stream: TextIO | None = None,
                 every: float = 10.0, notebook: bool | None = None, keep_lines: int = 12,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream
        self.every = every
        self.notebook = _in_notebook() if notebook is None else notebook
        self.keep_lines = keep_lines
        self.clock = clock
        self.done_value: float = 0.0
        self.message = ""
        self.state = "running"
        self.history: list[str] = []
        self.lines: list[str] = []
        self._handle: Any = None
        self._last_print = -1e18
        self._started = clock()

    # -- reporting ------------------------------------------------------------------------------
    def update(self, done: float | None = None, message: str = "", *, total: float | None = None) -> None:
        """Where the work is now: ``done`` of ``total`` (in ``unit``) and what is happening."""
        if total is not None:
            self.total = total
        if done is not None:
            self.done_value = done
        if message:
            self.message = message
        self._emit()

    __call__ = update

    def log(self, line: str) -> None:
        """One line of output from the work itself (e.g. helm); headless it is printed as it comes."""
        self.lines.append(line)
        if not self.notebook:
            print(line, file=self.stream or sys.stdout, flush=True)
        else:
            self._render()

    def done(self, message: str = "done") -> None:
        self.state = "done"
        if self.total is not None:
            self.done_value = self.total
        self.message = message
        self._emit(force=True)

    def fail(self, message: str) -> None:
        self.state = "failed"
        self.message = message
        self._emit(force=True)

    def __enter__(self) -> Progress:
        self._emit(force=True)
        return self

    def __exit__(self, etype: Any, exc: Any, tb: Any) -> None:
        if self.state == "running":
            if etype is None:
                self.done()
            else:
                self.fail(str(exc) or etype.__name__)

    # -- text -----------------------------------------------------------------------------------
    def bar_text(self, width: int = 30) -> str:
        if not self.total:
            return f"{self.done_value:g}{self.unit}"
        frac = max(0.0, min(1.0, self.done_value / self.total))
        filled = int(frac * width)
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.done_value:.0f}{self.unit} / {self.total:.0f}{self.unit}"

    def line(self) -> str:
        tail = {"done": " (done)", "failed": " (FAILED)"}.get(self.state, "")
        return f"{self.label} {self.bar_text()} {self.message}{tail}".rstrip()

    def _emit(self, force: bool = False) -> None:
        line = self.line()
        self.history.append(line)
        if self.notebook:
            self._render()
            return
        now = self.clock()
        if force or now - self._last_print >= self.every:
            self._last_print = now
            print(line, file=self.stream or sys.stdout, flush=True)

    def _render(self) -> None:
        from IPython.display import HTML, display

        colour = {"done": "#1a7f37", "failed": "#cf222e"}.get(self.state, "#24292f")
        tail = "\n".join(self.lines[-self.keep_lines:])
        body = (f"<pre style=\"font-family:ui-monospace,Menlo,Consolas,monospace;margin:0;color:{colour};"
                f"white-space:pre-wrap\">{html.escape(self.line())}"
                + (f"\n{html.escape(tail)}" if tail else "") + "</pre>")
        if self._handle is None:
            self._handle = display(HTML(body), display_id=True)
        else:
            self._handle.update(HTML(body))


def quiet() -> Progress:
    """A Progress that reports nowhere (for tests and callers that show their own)."""
    import io

    return Progress("", stream=io.StringIO(), notebook=False, every=1e18)
