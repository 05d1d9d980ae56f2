"""The fleet's runtime image, built offline by ``scripts/build_image.sh`` into the shared cache, for the tests.

``build()`` runs the script (seconds when the image for this tree is cached; minutes cold, and only the
dependency layer is slow) and returns the image's folder; where the image cannot be built here (no root,
mmdebstrap, umoci or overlayfs, or no package index to download from) it raises ``Unavailable`` with the
script's reason: the tests skip with it, and fail under ``CI=true``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from .paths import ROOT

SCRIPT = ROOT / "scripts" / "build_image.sh"


class Unavailable(Exception):
    """The image cannot be built on this machine; the message says why."""


def build(timeout: float = 3600) -> Path:
    """The image's folder (``oci/`` and ``image.json``) for the current tree, built when missing."""
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build_image.sh failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    m = re.search(r"^image: (\S+)$", done.stdout, re.M)
    if m is None:
        said = [ln for ln in done.stdout.splitlines() if ln.startswith("build_image:")]
        raise Unavailable(said[-1].removeprefix("build_image: ") if said else "scripts/build_image.sh built no image")
    return Path(m.group(1))


def meta(image: Path) -> dict[str, Any]:
    """``image.json``: name (``localhost/spkrunbook:<version>``), tag, version, base key, compressed bytes."""
    data: dict[str, Any] = json.loads((image / "image.json").read_text())
    return data


def import_into(image: Path, ctr: list[str]) -> float:
    """Import the image into a containerd (``ctr`` is the command up to ``images import``, e.g.
    ``["ctr", "-a", sock, "-n", "k8s.io"]``) from a tar of its OCI layout streamed to ``ctr``; the seconds it took."""
    t0 = time.monotonic()
    tar = subprocess.Popen(["tar", "-C", str(image / "oci"), "-cf", "-", "."], stdout=subprocess.PIPE)
    try:
        done = subprocess.run([*ctr, "images", "import", "-"], stdin=tar.stdout, capture_output=True, timeout=900)
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait(timeout=60)
    if done.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(f"ctr images import failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return time.monotonic() - t0
