"""Test helpers shipped with the package: a local stand-in Kubernetes API server.

Kept inside the package (not under ``tests/``) so benchmarks and notebook tests
can start the same server the unit tests use.
"""

from __future__ import annotations

from .apiserver import ExecHandler, FakeApiServer, RequestRecord, write_kubeconfig

__all__ = ["ExecHandler", "FakeApiServer", "RequestRecord", "write_kubeconfig"]
