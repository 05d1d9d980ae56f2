"""Where a run's record goes and who hears of it: ``--records`` (a folder or ``s3://``) and ``--notify``.

``Destination`` wraps ``runbook.run`` for the CLI and for a fleet's pod: it says
where the run writes (the folder itself, or a staging folder for a store), checks
a store answers before anything runs (exit 2 if not, nothing run), syncs the
record after each step, and ``publish`` finishes it: the notification first (its
outcome is part of the record), then the last upload with ``run.json`` last, then
the staged copy is removed. A failed upload keeps the staged copy and names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import notify as notifying
from .errors import RecordError
from .record import remote
from .secrets import Scrubber

#: Where ``--notify`` is read from when not given on the command line (keeps a webhook's
#: credential out of the process list and the record's command line).
NOTIFY_ENV = "SPKRUNBOOK_NOTIFY_URL"
#: Base URL under which the records root is served over HTTP (a link a chat can open).
LINK_ENV = "SPKRUNBOOK_RECORDS_LINK"


@dataclass
class Published:
    """What happened after the run: the record's link, the upload and the notification."""

    link: str
    upload: remote.UploadResult | None = None
    notified: notifying.Sent | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"link": self.link, "upload": self.upload.to_dict() if self.upload else None,
                "notify": self.notified.to_dict() if self.notified else None, "warnings": self.warnings}


@dataclass
class Destination:
    """A records location for one run: a local folder, or a store with its local staging folder."""

    where: str
    store: remote.Store | None = None
    uploader: remote.Uploader | None = None
    sync_errors: list[str] = field(default_factory=list)
    link_base: str = ""

    @classmethod
    def open(cls, where: str | os.PathLike[str], *, link_base: str | None = None) -> Destination:
        """Open ``where``; for a store, list it once so a wrong bucket or credential stops the run before it starts."""
        text = str(where)
        base = (link_base if link_base is not None else os.environ.get(LINK_ENV, "")).rstrip("/")
        if not remote.is_remote(text):
            return cls(text, link_base=base)
        store = remote.open_store(text)
        store.names()  # RecordError (exit 2) when the store does not answer or refuses
        return cls(store.url, store, link_base=base)

    @property
    def root(self) -> Path:
        """The local folder ``runbook.run`` writes records into."""
        if self.store is None:
            return remote.local_path(self.where)
        return remote.staging_root(self.store.url)

    def link(self, record: Path) -> str:
        """The record's address for a person: under ``link_base`` when set, else its URL or path."""
        if self.link_base:
            return f"{self.link_base}/{record.name}/index.html"
        if self.store is not None:
            return self.store.record_url(record.name) + "/index.html"
        return str((Path(record) / "index.html").resolve())

    def after_write(self, record: Path) -> None:
        """After each step: sync the record to the store (a failure here is retried at the end)."""
        if self.store is None:
            return
        if self.uploader is None or self.uploader.record != record:
            self.uploader = remote.Uploader(self.store, record)
        try:
            self.uploader.sync()
        except RecordError as exc:
            self.sync_errors.append(exc.message)

    def publish(self, record: Path, scrubber: Scrubber, *, notify_url: str | None = None) -> Published:
        """Notify (outcome written into the record), then upload the finished record, ``run.json`` last.

        Raises ``RecordError`` when the upload fails; the staged record is kept and named.
        """
        out = Published(self.link(record))
        if notify_url:
            out.notified = notifying.notify(record, notify_url, out.link, scrubber)
            if not out.notified.ok:
                out.warnings.append(out.notified.warning)
        if self.store is None:
            return out
        if self.uploader is None or self.uploader.record != record:
            self.uploader = remote.Uploader(self.store, record)
        self.uploader.sync()
        out.upload = self.uploader.total
        self.uploader.discard_staged()
        return out


def fetch_record(name: str, dest: Destination, scratch: Path) -> Path:
    """A record named on the command line as a local folder: a path, a name under ``--records``, or a URL.

    A record in a store is downloaded into ``scratch`` (the caller removes it).
    """
    if remote.is_remote(name):
        parent, _, base = name.rstrip("/").rpartition("/")
        return remote.open_store(parent).download(base, scratch)
    p = Path(name)
    if p.is_dir():
        return p
    if dest.store is not None:
        return dest.store.download(name, scratch)
    return dest.root / name


def run_and_publish(lab: Any, dest: Destination, *, notify_url: str | None = None, resume: str | None = None,
                    **run_args: Any) -> tuple[Any, Published]:
    """``runbook.run`` into ``dest``, then ``publish``; an interrupted run is published too, then re-raised.

    Returns the run's result and what was published; ``RecordError`` when the record could not be stored.
    """
    import shutil
    import tempfile

    from . import resume as resuming
    from . import runbook

    seen: dict[str, Path] = {}
    progress = run_args.pop("progress", None)

    def watch(event: dict[str, Any]) -> None:
        if event.get("event") == "run-start":
            seen["record"] = Path(event["record"])
        if progress is not None:
            progress(event)

    secrets = [notify_url] if notify_url else []
    scrubber = Scrubber.for_lab(lab, extra=secrets)
    scratch = Path(tempfile.mkdtemp(prefix="spkrunbook-resume-"))
    try:
        # the record as the user named it (a URL, a name in the store) is what the new run.json links to
        old = resuming.prepare(fetch_record(resume, dest, scratch), lab, source=resume) if resume else None
        try:
            result = runbook.run(lab, records_root=dest.root, progress=watch, resume=old, after_write=dest.after_write,
                                 secrets=secrets, **run_args)
        except KeyboardInterrupt:
            if "record" in seen:  # the record says incomplete; a retry resumes it
                try:
                    dest.publish(seen["record"], scrubber, notify_url=notify_url)
                except RecordError as exc:
                    watch({"event": "record-error", "error": str(exc)})
            raise
        return result, dest.publish(result.record, scrubber, notify_url=notify_url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
