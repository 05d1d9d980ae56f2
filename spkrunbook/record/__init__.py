"""The lab record: create it, write it (scrubbed), read it back, render it.

``store`` is the folder and its files; ``render`` the notebooks' HTML and metadata.
"""

from __future__ import annotations

from .index import write_records_index, write_run_index
from .render import attach_step_metadata, render_html, scrub_tree, warm_renderer
from .store import (
                    LAB_DIGEST_ENV,
                    LAB_FILE,
                    RUN_FILE,
                    STEPS_DIR,
                    Record,
                    StepRecord,
                    argv_for_record,
                    create,
                    default_root,
                    list_records,
                    os_error,
                    os_reason,
                    package_versions,
                    read,
                    read_run,
                    runs,
                    utc_now,
                    write_bytes,
                    write_lab,
                    write_run,
                    write_text,
)

__all__ = [
    "LAB_DIGEST_ENV",
    "LAB_FILE",
    "RUN_FILE",
    "STEPS_DIR",
    "Record",
    "StepRecord",
    "argv_for_record",
    "attach_step_metadata",
    "create",
    "default_root",
    "list_records",
    "os_error",
    "os_reason",
    "package_versions",
    "read",
    "read_run",
    "render_html",
    "runs",
    "scrub_tree",
    "utc_now",
    "warm_renderer",
    "write_bytes",
    "write_lab",
    "write_records_index",
    "write_run",
    "write_run_index",
    "write_text",
]
