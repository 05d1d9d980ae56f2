"""Shared fixtures: a running stand-in API server and a kubeconfig that points at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import FakeApiServer

if TYPE_CHECKING:
    from tests.support.realcluster import RealApi, RealCluster
    from tests.support.s3server import SeaweedS3

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


# -- the real control plane (marker ``apiserver``) ------------------------------------------------
@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    """etcd + kube-apiserver (+ controller-manager, scheduler) from scripts/build_k8s.sh, seeded from the demo
    snapshot; once per session. Skips with the reason when the binaries are not built, except under CI=true."""
    import os

    from tests.support import realcluster
    from tests.support.paths import DEMO_DIR

    try:
        bins = realcluster.binaries()
    except realcluster.NotBuilt as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the apiserver tier: {exc}")
        pytest.skip(str(exc))
    with realcluster.RealCluster(bins) as cluster:
        cluster.seed_from_snapshot(DEMO_DIR / "snapshot")
        yield cluster


@pytest.fixture
def real_api(real_cluster: RealCluster) -> Iterator[RealApi]:
    """The stand-in's surface over the session's real cluster; NADs, VLANs and workloads of earlier tests
    wiped before, cluster-scoped objects the test changed put back after."""
    from tests.support.realcluster import RealApi

    api = RealApi(real_cluster)
    api.wipe()
    api.reset_requests()
    yield api
    api.restore()


def both_servers(request: pytest.FixtureRequest) -> Iterator[FakeApiServer | RealApi]:
    """Body of a module's ``api`` fixture parametrized over the stand-in and the real server
    (``params=SERVERS``): the same test runs against both."""
    if request.param == "stand-in":
        with FakeApiServer(token=FAKE_TOKEN) as server:
            yield server
    else:
        yield request.getfixturevalue("real_api")


#: ``@pytest.fixture(params=SERVERS)`` for ``both_servers``; the real one carries the marker ``apiserver``.
SERVERS = ["stand-in", pytest.param("real", marks=pytest.mark.apiserver)]


# -- a real S3 server (marker ``s3``) ---------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    """SeaweedFS (``weed server -s3``) from scripts/build_seaweedfs.sh, once per session. Skips with the reason
    when the binary is not built, except under CI=true."""
    import os

    from tests.support import s3server

    try:
        weed = s3server.binary()
    except s3server.NotBuilt as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the object-store tests: {exc}")
        pytest.skip(str(exc))
    with s3server.SeaweedS3(weed) as server:
        yield server


@pytest.fixture
def s3(s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
       tmp_path: Path) -> SeaweedS3:
    """The session's S3 server with the admin's AWS variables exported, a fresh bucket per test
    (``s3.url``) and a staging folder in the test's temp dir."""
    import re

    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("SPKRUNBOOK_STAGING", str(tmp_path / "staging"))
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"{name}-{abs(hash(request.node.nodeid)) % 10**6}"
    s3_server.url = s3_server.bucket(bucket) + "/nightly"
    return s3_server
