"""papermill's notebook engine, writing the executed notebook when it ends rather than around every cell.

Why: papermill's engine writes the whole output notebook at the start and end of every
cell (45 times for a notebook of 20 cells, each time serialising every output so far),
which was a second of the runbook's fixed cost for nothing a reader sees. This engine
is papermill's own (nbclient) with its execution manager writing only when the
notebook ends, however it ends (a failed cell, Ctrl-C, a dead kernel: papermill calls
``notebook_complete`` in a ``finally``), and while a long cell runs, every
``autosave_cell_every`` seconds as papermill does. The notebook on disk is the one
papermill would have written last, written atomically like every file of a record: a
full disk leaves no half notebook taking the room run.json needs to say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

from .record.store import write_text

NAME = "spkrunbook"


class _Manager(NotebookExecutionManager):
    """papermill's manager; ``save`` writes at the end, or when ``autosave_cell_every`` seconds have passed."""

    _final = False
    last_save_time: Any
    autosave_cell_every: int

    def save(self, **kwargs: Any) -> None:
        if not (self._final or (self.now() - self.last_save_time).total_seconds() >= self.autosave_cell_every > 0):
            return
        if self.output_path:
            write_text(Path(self.output_path), nbformat.writes(self.nb))
        self.last_save_time = self.now()

    def notebook_complete(self, **kwargs: Any) -> None:
        self._final = True
        super().notebook_complete(**kwargs)


class Engine(NBClientEngine):
    """nbclient, as papermill runs it, around :class:`_Manager`."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: Any = None, progress_bar: bool = True,
                         log_output: bool = False, autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        nb_man = _Manager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                          autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


def register() -> str:
    """Make the engine known to papermill (idempotent); returns its name for ``engine_name``."""
    papermill_engines.register(NAME, Engine)
    return NAME
