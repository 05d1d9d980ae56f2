"""The fleet's runtime image, built offline by ``scripts/build_image.sh`` (mmdebstrap + pip + umoci), run the way
the rendered pod runs it: as user 1001 in group 0, read-only root file system, ``/tmp`` writable, ``HOME=/tmp``.

No container runtime here (the data-plane tier brings containerd): the image is unpacked with umoci
and its root entered with ``chroot`` in a private mount namespace (``unshare -m``), read-only, with a
tmpfs on /tmp, /proc and /dev, which is what a runtime gives the pod's process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import image as runtime_image
from tests.support.realcluster import cache_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image() -> Path:
    """The image's folder (``oci/`` and ``image.json``), built or found in the cache by scripts/build_image.sh."""
    missing = [t for t in ("unshare", "chroot") if shutil.which(t) is None]
    try:
        if missing:
            raise runtime_image.Unavailable(f"running the image here needs {', '.join(missing)}")
        out = runtime_image.build()
    except runtime_image.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must build the runtime image: {exc}")
        pytest.skip(f"the runtime image: {exc} (scripts/bootstrap.sh test installs the tools and builds it)")
    assert out.parent == cache_dir()
    return out


def _unpack(image: Path, tmp: Path) -> tuple[Path, dict]:
    meta = runtime_image.meta(image)
    bundle = tmp / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{image / 'oci'}:{meta['tag']}", str(bundle)], check=True,
                   capture_output=True, timeout=600)
    return bundle, json.loads((bundle / "config.json").read_text())


def _in_pod(rootfs: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = (f'set -e; R="{rootfs}"; mount --bind "$R" "$R"; mount -o remount,bind,ro "$R"; '
              'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"; mount -t proc proc "$R/proc"; mount --rbind /dev "$R/dev"; '
              'exec chroot --userspec=1001:0 "$R" env -i ' + " ".join(f"{k}={v}" for k, v in env.items())
              + " " + " ".join(argv))
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], capture_output=True,
                          text=True, timeout=900)


def test_the_image_runs_the_runbook_as_the_pod_does(image: Path, tmp_path: Path) -> None:
    bundle, config = _unpack(image, tmp_path)
    process = config["process"]
    assert process["user"]["uid"] == 1001 and process["user"]["gid"] == 0
    env = dict(e.split("=", 1) for e in process["env"])
    assert env["HOME"] == "/tmp" and env["PATH"].startswith("/opt/spkrunbook/bin")
    assert process["args"] == ["spkrunbook", "--help"]
    rootfs = bundle / "rootfs"
    assert not (rootfs / "tmp" / "wheel").exists()  # the build's wheel and CA bundle are gone
    version = _in_pod(rootfs, "spkrunbook", "--version", env=env)
    assert version.returncode == 0 and version.stdout.strip() == "spkrunbook 0.1.0", version.stderr
    s3 = _in_pod(rootfs, "python3", "-c", "'import s3fs, fsspec; print(s3fs.__version__)'", env=env)
    assert s3.returncode == 0, s3.stderr
    # the runbook's first step on the bundled demo lab, root file system read-only, records under /tmp
    run = _in_pod(rootfs, "spkrunbook", "demo", "--step", "1", "--records", "/tmp/records", env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "run: passed" in run.stdout, run.stdout[-2000:]
