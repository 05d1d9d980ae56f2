"""A real S3 server on loopback: SeaweedFS's ``weed server -s3`` from ``scripts/build_seaweedfs.sh``'s cache.

Not moto and not a fake: the binary is built from ``github.com/seaweedfs/seaweedfs``
at the version pinned in ``scripts/k8s-versions.env``; records are uploaded to it
over HTTP with real SigV4 signatures through s3fs/botocore.

What the fixture does itself, and says so: it writes the S3 identities file (an
``admin`` user that may do everything, a ``reader`` that may only read and list, so
a refused upload is a real 403), picks free loopback ports, turns SeaweedFS's
telemetry off (``-master.telemetry=false``: this machine talks to loopback only),
and keeps its volumes small (``-master.volumeSizeLimitMB``). Stopped at the end:
process killed and waited for, temp dir removed, no port left listening.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .realcluster import cache_dir, free_port, port_open, versions

ADMIN, READER = "admin", "reader"


class NotBuilt(Exception):
    """``weed`` is not in the cache: the message says why and what to run."""


def binary() -> Path:
    v = versions()["SEAWEEDFS_VERSION"]
    weed = cache_dir() / f"seaweedfs-{v}" / "weed"
    if not weed.is_file():
        go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
        why = "there is no Go toolchain on this machine" if go is None else "it was not built yet"
        raise NotBuilt(f"SeaweedFS's weed {v} is not in {weed.parent}: {why}; run scripts/build_seaweedfs.sh "
                       "(scripts/bootstrap.sh test runs it)")
    return weed


class SeaweedS3:
    """``weed server`` (master, volume, filer, S3 gateway in one process) in a temp dir."""

    def __init__(self, weed: Path) -> None:
        self.weed = weed
        self.tmp = Path(tempfile.mkdtemp(prefix="spkrunbook-s3-"))
        self.keys = {u: (f"AK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30)) for u in (ADMIN, READER)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.started_s = 0.0
        self.url = ""  # the current test's bucket/prefix (the ``s3`` fixture sets it)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, user: str = ADMIN) -> dict[str, str]:
        """The standard AWS variables a client of this server needs (what a user exports)."""
        access, secret = self.keys[user]
        return {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL_S3": self.endpoint,
                "AWS_REGION": "us-east-1"}

    def start(self) -> SeaweedS3:
        t0 = time.monotonic()
        config = {"identities": [
            {"name": ADMIN, "credentials": [{"accessKey": self.keys[ADMIN][0], "secretKey": self.keys[ADMIN][1]}],
             "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
            {"name": READER, "credentials": [{"accessKey": self.keys[READER][0], "secretKey": self.keys[READER][1]}],
             "actions": ["Read", "List"]},
        ]}
        (self.tmp / "s3.json").write_text(json.dumps(config))
        (self.tmp / "data").mkdir()
        ports = {k: free_port() for k in ("master", "volume", "filer", "s3", "mg", "vg", "fg", "sg")}
        self.port = ports["s3"]
        argv = [str(self.weed), "server", f"-dir={self.tmp / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={ports['master']}", f"-master.port.grpc={ports['mg']}",
                f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['vg']}",
                f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['fg']}",
                "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['sg']}", "-s3.port.iceberg=0",
                "-s3.port.lance=0", f"-s3.config={self.tmp / 's3.json'}",
                "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0", "-volume.preStopSeconds=0"]
        log = open(self.tmp / "weed.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=self.tmp)
        try:
            self._wait_ready(90)
        except BaseException:
            self.stop()
            raise
        self.started_s = time.monotonic() - t0
        return self

    def log(self) -> str:
        p = self.tmp / "weed.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    def _wait_ready(self, timeout: float) -> None:
        """Until the S3 gateway answers and a bucket can be made and written (the filer and a volume are up)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}:\n{self.log()}")
            if port_open(self.port):
                try:
                    fs = self.filesystem()
                    fs.pipe_file("readiness/probe", b"ok")
                    fs.rm("readiness", recursive=True)
                    return
                except Exception as exc:  # not ready yet; keep the last reason for the message
                    last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.3)
        raise RuntimeError(f"weed's S3 gateway not ready after {timeout:g}s ({last}):\n{self.log()}")

    def filesystem(self, user: str = ADMIN) -> Any:
        """An s3fs filesystem for ``user``, for the tests' own setup and inspection."""
        import s3fs

        access, secret = self.keys[user]
        return s3fs.S3FileSystem(key=access, secret=secret, client_kwargs={"endpoint_url": self.endpoint,
                                                                           "region_name": "us-east-1"},
                                 skip_instance_cache=True, use_listings_cache=False)

    def bucket(self, name: str) -> str:
        """Make a bucket (as admin) and return its URL."""
        self.filesystem().mkdir(name)
        return f"s3://{name}"

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

