"""Test support, never shipped in the wheel: the stand-in API server and the demo lab generator."""

from __future__ import annotations

from .apiserver import ExecHandler, FakeApiServer, RequestRecord, write_kubeconfig

__all__ = ["ExecHandler", "FakeApiServer", "RequestRecord", "write_kubeconfig"]
