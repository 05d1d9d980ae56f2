"""Records in an object store: ``--records s3://bucket/prefix`` through fsspec (s3fs for ``s3://``).

A run never writes to the store directly. It writes its record to a local staging
folder with the same code as a local run, then ``Uploader.sync`` copies what changed,
every other file first and ``run.json`` last, so a reader that finds a ``run.json``
finds every file it names, and one whose status is not ``incomplete`` finds the whole
record. The run syncs after each step (a pod killed mid-run leaves its finished steps
in the store for a retry to resume) and once at the end. An upload that fails keeps
the staged copy and says where it is.

Where the store is and who may write it comes from the usual AWS settings, never from
a record or a command line: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
(``AWS_SESSION_TOKEN``), ``AWS_PROFILE``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, and
``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` for a store that is not AWS (SeaweedFS,
MinIO, Ceph RGW, OpenShift Data Foundation). Nothing here prints or stores them:
``describe()`` names the endpoint host and the credential source only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import RecordError, RecordNotStored
from .store import RUN_FILE

#: URL schemes read as a local folder.
_LOCAL_SCHEMES = ("", "file")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
#: A record folder's name: ``<UTC stamp>-<lab>[-suffix][-n]`` (store.create).
RECORD_NAME = re.compile(r"^\d{8}T\d{6}Z-[a-z0-9-]+$")
# Seconds for one object store call: a record file is at most a few MB, and a store that does not
# answer in this time is down for the purpose of a nightly run (the staged copy is kept).
CALL_TIMEOUT_S = 60


def is_remote(where: str | os.PathLike[str]) -> bool:
    """True for an object store URL (``s3://...``); a path or ``file://`` URL is local."""
    m = _SCHEME.match(str(where))
    return m is not None and m.group(1).lower() not in _LOCAL_SCHEMES


def local_path(where: str | os.PathLike[str]) -> Path:
    """A local records location as a path (``file:///x`` -> ``/x``)."""
    text = str(where)
    return Path(urlsplit(text).path) if text.lower().startswith("file://") else Path(text)


def _s3_options() -> tuple[dict[str, Any], str]:
    """s3fs options from the standard AWS variables, and a description that holds no secret."""
    opts: dict[str, Any] = {}
    client: dict[str, Any] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        client["endpoint_url"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        client["region_name"] = region
    if client:
        opts["client_kwargs"] = client
    if os.environ.get("AWS_PROFILE") and not os.environ.get("AWS_ACCESS_KEY_ID"):
        opts["profile"] = os.environ["AWS_PROFILE"]
    # Bounded calls: a store that hangs must not hang a nightly Job until its deadline.
    opts["config_kwargs"] = {"connect_timeout": 10, "read_timeout": CALL_TIMEOUT_S, "retries": {"max_attempts": 3}}
    host = urlsplit(endpoint).netloc if endpoint else "AWS S3"
    creds = ("AWS_ACCESS_KEY_ID" if os.environ.get("AWS_ACCESS_KEY_ID") else
             f"profile {os.environ['AWS_PROFILE']}" if os.environ.get("AWS_PROFILE") else "the default AWS chain")
    return opts, f"{host}{' (' + region + ')' if region else ''}, credentials from {creds}"


def _why(exc: BaseException) -> str:
    """An object store error in a line, without anything that could be a credential."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"(?i)(signature|credential|x-amz-[a-z-]+|authorization)=[^\s&,]+", r"\1=***", text)
    return f"{type(exc).__name__}: {text[:300]}"


@dataclass
class Store:
    """An object store prefix holding record folders (``<url>/<record>/...``)."""

    url: str
    fs: Any
    root: str
    description: str = ""

    def record_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def names(self) -> list[str]:
        """Record folder names under the prefix, newest first (folders that look like records only)."""
        try:
            entries = self.fs.ls(self.root, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        except Exception as exc:  # noqa: BLE001 - any store error is reported the same way
            raise self.error("list", self.url, exc) from None
        names = {str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries}
        return sorted((n for n in names if RECORD_NAME.match(n)), reverse=True)

    def read_json(self, name: str, relative: str = RUN_FILE) -> dict[str, Any] | None:
        """A JSON file of a record (``run.json`` by default); None when missing or damaged."""
        try:
            data = json.loads(self.fs.cat_file(self._path(name, relative)))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return None
        except Exception as exc:  # noqa: BLE001
            raise self.error("read", self.record_url(f"{name}/{relative}"), exc) from None
        return data if isinstance(data, dict) else None

    def files(self, name: str) -> list[str]:
        """Every file of a record, relative to it."""
        base = self._path(name)
        try:
            found = self.fs.find(base, detail=False)
        except Exception as exc:  # noqa: BLE001
            raise self.error("list", self.record_url(name), exc) from None
        return sorted(str(f)[len(base) + 1:] for f in found if str(f).startswith(base + "/"))

    def download(self, name: str, dest: Path) -> Path:
        """Copy a record into ``dest/<name>`` (for diff, share, resume); ``RecordError`` when it is not there."""
        files = self.files(name)
        if RUN_FILE not in files:
            raise RecordError(f"{self.record_url(name)} is not a record (no {RUN_FILE})",
                              hint=f"list the records with `spkrunbook records --records {self.url}`")
        out = Path(dest) / name
        try:
            for rel in files:
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                self.fs.get_file(self._path(name, rel), str(target))
        except OSError as exc:
            raise RecordError(f"cannot download {self.record_url(name)} into {out}: {_why(exc)}",
                              hint="check the free space of the local folder") from None
        except Exception as exc:  # noqa: BLE001
            raise self.error("download", self.record_url(name), exc) from None
        return out

    def put(self, local: Path, name: str, relative: str) -> None:
        self.fs.put_file(str(local), self._path(name, relative))

    def write_text(self, relative: str, text: str) -> str:
        """Write a file at the prefix's top (``labs.html``); returns its URL."""
        try:
            self.fs.pipe_file(self._path(relative), text.encode("utf-8"))
        except Exception as exc:  # noqa: BLE001
            raise self.error("write", f"{self.url}/{relative}", exc) from None
        return f"{self.url}/{relative}"

    def error(self, verb: str, what: str, exc: BaseException) -> RecordError:
        """A store failure as a message a person can act on (endpoint host and credential source only)."""
        hint = (f"check the bucket, the endpoint and the credentials ({self.description}); "
                "set AWS_ENDPOINT_URL_S3 for a store that is not AWS")
        if isinstance(exc, PermissionError):
            hint = f"the credentials ({self.description}) may not {verb} there: check the bucket policy"
        return RecordError(f"cannot {verb} {what}: {_why(exc)}", hint=hint)


def open_store(url: str) -> Store:
    """The store behind ``url``; ``RecordError`` when its library is not installed or the URL is malformed."""
    m = _SCHEME.match(url)
    if not m:
        raise RecordError(f"{url!r} is not an object store URL", hint="write it as s3://bucket/prefix")
    scheme = m.group(1).lower()
    rest = url[m.end():].strip("/")
    if not rest:
        raise RecordError(f"{url!r} names no bucket", hint="write it as s3://bucket/prefix")
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise RecordError("records in an object store need fsspec", hint="pip install 'spkrunbook[s3]'") from None
    opts: dict[str, Any] = {}
    description = scheme
    if scheme in ("s3", "s3a"):
        try:
            import s3fs  # noqa: F401  (installed by the extra; imported here to say so clearly)
        except ImportError:
            raise RecordError("records in s3:// need the s3fs package", hint="pip install 'spkrunbook[s3]'") from None
        opts, description = _s3_options()
        # Listings are read fresh every time: a record another pod just finished must show.
        opts["use_listings_cache"] = False
        scheme = "s3"
    try:
        fs = fsspec.filesystem(scheme, skip_instance_cache=True, **opts)
    except (ImportError, ValueError) as exc:
        raise RecordError(f"cannot open {scheme}:// records: {_why(exc)}",
                          hint="records go to s3://bucket/prefix (pip install 'spkrunbook[s3]') or a local folder") from None
    return Store(url=f"{scheme}://{rest}", fs=fs, root=rest, description=description)


def staging_root(url: str) -> Path:
    """Where records for ``url`` are staged before upload: ``$SPKRUNBOOK_STAGING`` or the user's cache."""
    base = os.environ.get("SPKRUNBOOK_STAGING") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spkrunbook" / "staging")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", url.split("://", 1)[-1]).strip("_") or "store"
    return Path(base) / safe


@dataclass
class UploadResult:
    """What one sync sent: objects, bytes and seconds (and the record's URL)."""

    url: str
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "objects": self.objects, "bytes": self.bytes, "seconds": round(self.seconds, 3)}


@dataclass
class Uploader:
    """Keeps one staged record and its copy in the store in step: changed files first, ``run.json`` last."""

    store: Store
    record: Path
    sent: dict[str, tuple[int, int]] = field(default_factory=dict)
    total: UploadResult | None = None

    @property
    def url(self) -> str:
        return self.store.record_url(self.record.name)

    def _changed(self) -> list[tuple[str, Path, tuple[int, int]]]:
        out = []
        for p in sorted(self.record.rglob("*")):
            if not p.is_file() or p.name.startswith("."):  # .name.pid.tmp: a file being written
                continue
            rel = p.relative_to(self.record).as_posix()
            st = p.stat()
            key = (st.st_size, st.st_mtime_ns)
            if self.sent.get(rel) != key:
                out.append((rel, p, key))
        return out

    def sync(self) -> UploadResult:
        """Upload what changed since the last sync, ``run.json`` last; ``RecordError`` naming the staged copy."""
        t0 = time.monotonic()
        result = UploadResult(self.url)
        changed = self._changed()
        changed.sort(key=lambda item: item[0] == RUN_FILE)  # run.json after every other file
        try:
            for rel, path, key in changed:
                self.store.put(path, self.record.name, rel)
                self.sent[rel] = key
                result.objects += 1
                result.bytes += key[0]
        except Exception as exc:  # noqa: BLE001 - whatever the store says, the staged copy is what counts
            why = self.store.error("upload the record to", self.url, exc)
            raise RecordNotStored(why.message, hint=f"the record is kept at {self.record}; upload it later with "
                                                    f"`spkrunbook records upload {self.record} --records {self.store.url}`"
                                                    f" ({why.hint})") from None
        result.seconds = time.monotonic() - t0
        if self.total is None:
            self.total = UploadResult(self.url)
        self.total.objects += result.objects
        self.total.bytes += result.bytes
        self.total.seconds += result.seconds
        return result

    def discard_staged(self) -> None:
        """Remove the staged copy once the store holds the finished record."""
        shutil.rmtree(self.record, ignore_errors=True)


def upload(record: Path, url: str) -> UploadResult:
    """Upload a finished local record to the store at ``url`` (``spkrunbook records upload``)."""
    record = Path(record)
    if not (record / RUN_FILE).is_file():
        raise RecordError(f"{record} is not a record (no {RUN_FILE})", hint="give a record folder `spkrunbook run` wrote")
    up = Uploader(open_store(url), record)
    up.sync()
    assert up.total is not None
    return up.total



def runs(store: Store) -> list[dict[str, Any]]:
    """The store's records as ``store.runs`` lists a folder's (same shape, newest first)."""
    from .store import run_row

    return [run_row(name, data, data is not None) for name in store.names() for data in [store.read_json(name)]]
