"""Shared fixtures: a running stand-in API server and a kubeconfig that points at it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support import FakeApiServer

#: The bearer token the ``api`` fixture requires (also ``api.token``); tests assert it never leaks.
FAKE_TOKEN = "sha256~fake-token-DO-NOT-LEAK-1234567890"


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    """A started FakeApiServer requiring the bearer token ``api.token``; stopped after the test."""
    with FakeApiServer(token=FAKE_TOKEN) as server:
        yield server


@pytest.fixture
def kubeconfig(api: FakeApiServer, tmp_path: Path) -> Path:
    """Path of a kubeconfig for ``api`` (context ``fake-lab``, user ``lab-admin``, token ``api.token``)."""
    return api.write_kubeconfig(tmp_path / "kubeconfig")
