#!/usr/bin/env python3
"""Build the container images of the ``dataplane`` test tier offline, from files on this machine.

    python3 scripts/build_dataplane_images.py [--cache DIR] [--force]

No registry is used. Each image is a few uncompressed layers written here with ``tarfile``
(deterministic: sorted, owned by root, mtime 0) and put into one OCI image layout archive that
``ctr -n k8s.io images import`` reads; pods use them with ``imagePullPolicy: IfNotPresent``.

- ``pause``: the pod sandbox, one static binary compiled from ``tests/dataplane/images/pause.c``;
- ``tmm-img``: a STAND-IN for the f5-tmm container (F5's TMM cannot be had): busybox and
  ``tests/dataplane/images/tmm-standin.sh``, which brings the pod's macvlan interfaces up with the
  F5SPKVlan self IPs and answers on them;
- ``f5-debug-sidecar``: the tools the debugging step runs in the ``debug`` container (iproute2's
  ``ip``, ``tcpdump``, coreutils' ``timeout``) with the libraries ``ldd`` names, on busybox; F5's
  own ``tmctl`` and ``bdt_cli`` are not imitated;
- ``ovn-nbdb``: an ovnkube-node STAND-IN's ``nbdb`` container: the real ``ovsdb-server`` and
  ``ovn-nbctl`` with the NB schema, and ``tests/dataplane/images/nbdb-standin.sh``.

Output, in ``$SPKRUNBOOK_K8S_CACHE`` (else ``~/.cache/spkrunbook-k8s``), keyed by a hash of this
script, the image sources and the versions of the Debian packages copied from:
``dataplane-images-<key>/images.tar`` and ``images.json`` (the image names). A warm run (the key
exists) takes well under a second. Missing tools (gcc, busybox-static, tcpdump, ovn-central ...)
are named and the script exits 0 without building: the tier then skips, and fails under CI=true.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tests" / "dataplane" / "images"
REPO = "localhost/spkrunbook-dataplane"
TAG = "test"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Debian packages whose files go into the images (their versions are part of the cache key).
PACKAGES = ("busybox-static", "tcpdump", "iproute2", "coreutils", "openvswitch-common", "ovn-common", "ovn-central",
            "libc6")
#: Programs copied with their libraries, per image layer.
DEBUG_TOOLS = ("/usr/sbin/ip", "/usr/bin/tcpdump", "/usr/bin/timeout")
NBDB_TOOLS = ("/usr/sbin/ovsdb-server", "/usr/bin/ovsdb-tool", "/usr/bin/ovn-nbctl")
NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"


class Missing(Exception):
    """A tool or file the images are built from is not on this machine."""


def cache_dir() -> Path:
    if os.environ.get("SPKRUNBOOK_K8S_CACHE"):
        return Path(os.environ["SPKRUNBOOK_K8S_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spkrunbook-k8s"


def say(msg: str) -> None:
    print(f"build_dataplane_images: {msg}", flush=True)


# -- layers ------------------------------------------------------------------------------------------------
@dataclass
class Layer:
    """Files of one layer: path in the image -> (bytes, mode), symlinks and directories."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=dict)

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.files[path.lstrip("/")] = (data, mode)

    def add_host_file(self, host: str, path: str | None = None, mode: int | None = None) -> None:
        real = Path(host).resolve()
        if not real.is_file():
            raise Missing(f"{host} is not on this machine")
        self.add_file(path or host, real.read_bytes(), mode if mode is not None else (real.stat().st_mode & 0o777))

    def add_program(self, host: str) -> None:
        """A dynamically linked program and every library ``ldd`` names, at the paths ``ldd`` names."""
        self.add_host_file(host)
        for lib in libraries(host):
            self.add_host_file(lib)

    def tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            dirs = dict(self.dirs)
            for p in [*self.files, *self.links]:
                parts = p.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    dirs.setdefault("/".join(parts[:i]), 0o755)
            entries: list[tuple[str, tarfile.TarInfo, bytes | None]] = []
            for d, mode in dirs.items():
                ti = tarfile.TarInfo(d + "/")
                ti.type, ti.mode = tarfile.DIRTYPE, mode
                entries.append((d, ti, None))
            for p, target in self.links.items():
                ti = tarfile.TarInfo(p)
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, target, 0o777
                entries.append((p, ti, None))
            for p, (content, mode) in self.files.items():
                ti = tarfile.TarInfo(p)
                ti.size, ti.mode = len(content), mode
                entries.append((p, ti, content))
            for _, ti, body in sorted(entries, key=lambda e: e[0]):
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
                tf.addfile(ti, io.BytesIO(body) if body is not None else None)
        return buf.getvalue()


def libraries(program: str) -> list[str]:
    """The shared libraries ``ldd`` resolves for ``program`` (the loader included)."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise Missing(f"ldd {program} failed: {out.stderr.strip() or out.stdout.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
        elif "not found" in line:
            raise Missing(f"{program} needs {line.strip()}")
    return libs


def compile_pause(workdir: Path) -> bytes:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise Missing("no C compiler (gcc) to build the pause binary")
    out = workdir / "pause"
    done = subprocess.run([gcc, "-static", "-Os", "-s", "-o", str(out), str(SOURCES / "pause.c")],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise Missing(f"gcc -static could not build pause.c (is libc6-dev installed?): {done.stderr.strip()[-400:]}")
    return out.read_bytes()


def base_layer(pause: bytes) -> Layer:
    """busybox with its applets, the accounts tcpdump and httpd need, and ``pause`` to hold a container."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).is_file():
        raise Missing("busybox (Debian package busybox-static) is not installed")
    check = subprocess.run(["ldd", busybox], capture_output=True, text=True, timeout=30)
    if "not a dynamic executable" not in (check.stdout + check.stderr):
        raise Missing(f"{busybox} is not static: install busybox-static")
    layer = Layer()
    layer.add_host_file(busybox, "/bin/busybox", 0o755)
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, timeout=30, check=True).stdout.split()
    for applet in applets:
        layer.links[applet] = "/bin/busybox"
    layer.add_file("/usr/local/bin/pause", pause, 0o755)
    layer.add_file("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\ntcpdump:x:102:105::/nonexistent:/bin/false\n"
                                  b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    layer.add_file("/etc/group", b"root:x:0:\ntcpdump:x:105:\nnogroup:x:65534:\n")
    for d, mode in (("tmp", 0o1777), ("root", 0o700), ("proc", 0o555), ("sys", 0o555), ("dev", 0o755),
                    ("etc", 0o755), ("var/run", 0o755), ("srv/www", 0o755)):
        layer.dirs[d] = mode
    return layer


# -- images ------------------------------------------------------------------------------------------------
@dataclass
class Image:
    key: str
    name: str
    layers: list[Layer]
    entrypoint: list[str]
    description: str
    env: list[str] = field(default_factory=lambda: [PATH_ENV])


def images(workdir: Path) -> list[Image]:
    pause = compile_pause(workdir)
    base = base_layer(pause)
    only_pause = Layer()
    only_pause.add_file("/pause", pause, 0o755)
    tmm = Layer()
    tmm.add_host_file(str(SOURCES / "tmm-standin.sh"), "/usr/local/bin/tmm-standin", 0o755)
    debug = Layer()
    for prog in DEBUG_TOOLS:
        debug.add_program(prog)
    nbdb = Layer()
    for prog in NBDB_TOOLS:
        nbdb.add_program(prog)
    nbdb.add_host_file(NB_SCHEMA)
    nbdb.add_host_file(str(SOURCES / "nbdb-standin.sh"), "/usr/local/bin/nbdb-standin", 0o755)
    for d in ("var/run/ovn", "var/lib/ovn", "etc/ovn"):
        nbdb.dirs[d] = 0o755
    return [
        Image("pause", f"{REPO}/pause:{TAG}", [only_pause], ["/pause"],
              "pod sandbox for spkrunbook's data plane tier (tests/dataplane/images/pause.c)"),
        Image("tmm", f"{REPO}/tmm-img:{TAG}", [base, tmm], ["/usr/local/bin/tmm-standin"],
              "STAND-IN for the f5-tmm container, not F5's TMM: brings net1/net2 up with the F5SPKVlan self IPs "
              "and answers on them (spkrunbook tests)"),
        Image("debug", f"{REPO}/f5-debug-sidecar:{TAG}", [base, debug], ["/usr/local/bin/pause"],
              "debug container for spkrunbook's data plane tier: ip, tcpdump, timeout on busybox; "
              "no tmctl or bdt_cli (F5's)"),
        Image("nbdb", f"{REPO}/ovn-nbdb:{TAG}", [base, nbdb], ["/usr/local/bin/nbdb-standin"],
              "STAND-IN for an ovnkube-node nbdb container: the real ovsdb-server and ovn-nbctl with an NB "
              "database the test fills; no OVN-Kubernetes runs"),
    ]


def _blob(blobs: dict[str, bytes], data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"digest": digest, "size": len(data)}


def oci_archive(imgs: list[Image]) -> bytes:
    """One OCI image layout (as a tar) holding every image, each named by ``io.containerd.image.name``."""
    blobs: dict[str, bytes] = {}
    manifests = []
    layer_blobs: dict[int, dict[str, object]] = {}
    for img in imgs:
        descs = []
        for layer in img.layers:
            if id(layer) not in layer_blobs:
                layer_blobs[id(layer)] = _blob(blobs, layer.tar())
            descs.append(layer_blobs[id(layer)])
        config = {
            "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
            "config": {"Entrypoint": img.entrypoint, "Env": img.env, "WorkingDir": "/",
                       "Labels": {"org.opencontainers.image.description": img.description,
                                  "org.opencontainers.image.source": "spkrunbook scripts/build_dataplane_images.py"}},
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/build_dataplane_images.py"}
                        for _ in descs],
        }
        cfg = _blob(blobs, json.dumps(config, sort_keys=True).encode())
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **d} for d in descs]}
        m = _blob(blobs, json.dumps(manifest, sort_keys=True).encode())
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
                          "platform": {"architecture": "amd64", "os": "linux"},
                          "annotations": {"io.containerd.image.name": img.name,
                                          "org.opencontainers.image.ref.name": TAG}})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index, sort_keys=True).encode())
        for digest in sorted(blobs):
            add(f"blobs/sha256/{digest.split(':', 1)[1]}", blobs[digest])
    return buf.getvalue()


# -- cache ---------------------------------------------------------------------------------------------------
def package_versions() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version}\n", *PACKAGES], capture_output=True,
                         text=True, timeout=30)
    return out.stdout  # a package not installed is simply absent here; building then names what is missing


def cache_key() -> str:
    h = hashlib.sha256()
    for p in [Path(__file__), *sorted(SOURCES.iterdir())]:
        if p.is_file():
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    h.update(package_versions().encode())
    return h.hexdigest()[:16]


def build(cache: Path, *, force: bool = False) -> Path | None:
    """The images' folder in the cache, built when missing; None when a tool is missing (said why)."""
    out = cache / f"dataplane-images-{cache_key()}"
    if (out / "images.json").is_file() and not force:
        say(f"up to date in {out}")
        return out
    t0 = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spkrunbook-images-") as tmp:
        try:
            imgs = images(Path(tmp))
        except Missing as exc:
            say(f"cannot build the images: {exc}; the dataplane tests will skip (and fail under CI=true)")
            return None
        data = oci_archive(imgs)
        staging = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=cache))
        (staging / "images.tar").write_bytes(data)
        (staging / "images.json").write_text(json.dumps({i.key: i.name for i in imgs}, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    for old in cache.glob("dataplane-images-*"):
        if old != out and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    say(f"built {len(imgs)} images ({len(data) / 2**20:.1f} MiB) in {time.monotonic() - t0:.1f}s: {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=None, help="cache folder (default: $SPKRUNBOOK_K8S_CACHE or ~/.cache/spkrunbook-k8s)")
    ap.add_argument("--force", action="store_true", help="build even when the cache holds this key")
    args = ap.parse_args(argv)
    build(args.cache or cache_dir(), force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
