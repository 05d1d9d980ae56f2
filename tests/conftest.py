"""Shared fixtures: a running stand-in API server and a kubeconfig that points at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from spkrunbook.testing import FakeApiServer

#: The bearer token the stand-in server requires; tests assert it never leaks.
FAKE_TOKEN = "sha256~fake-token-DO-NOT-LEAK-1234567890"


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    """A started FakeApiServer requiring ``FAKE_TOKEN``; stopped after the test."""
    with FakeApiServer(token=FAKE_TOKEN) as server:
        yield server


def write_kubeconfig(path: Path, server: str, token: str = FAKE_TOKEN, context: str = "fake-lab") -> Path:
    """A minimal kubeconfig (JSON is valid YAML) with a bearer-token user."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "lab-admin", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "fake", "user": "lab-admin", "namespace": "default"}}],
        "current-context": context,
    }
    path.write_text(json.dumps(cfg, indent=2))
    return path


@pytest.fixture
def kubeconfig(api: FakeApiServer, tmp_path: Path) -> Path:
    """Path of a kubeconfig for ``api`` (context ``fake-lab``, user ``lab-admin``)."""
    return write_kubeconfig(tmp_path / "kubeconfig", api.url)
