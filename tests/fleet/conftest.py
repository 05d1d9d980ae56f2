"""The fleet's objects on the session's real kube-apiserver are removed after each test that made them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spkrunbook.fleet import apply


@pytest.fixture
def cluster(real_cluster: Any) -> Iterator[Any]:
    """The session's real cluster with the namespace ``spk-runbooks``; every object a fleet made is deleted after."""
    real_cluster.ensure_namespace("spk-runbooks")
    yield real_cluster
    for plural in ("jobs", "cronjobs", "configmaps", "serviceaccounts", "roles", "rolebindings"):
        for obj in real_cluster.admin.list(apply.KINDS[_key(plural)], "spk-runbooks"):
            if (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "spkrunbook":
                real_cluster.admin.delete(apply.KINDS[_key(plural)], obj["metadata"]["name"], "spk-runbooks",
                                          missing_ok=True)
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        res = apply.KINDS[("rbac.authorization.k8s.io/v1", kind)]
        for obj in real_cluster.admin.list(res):
            if (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "spkrunbook":
                real_cluster.admin.delete(res, obj["metadata"]["name"], missing_ok=True)
    for kind in ("Role", "RoleBinding"):  # the steps' writes, in the lab's namespaces
        res = apply.KINDS[("rbac.authorization.k8s.io/v1", kind)]
        for obj in real_cluster.admin.list(res, "default"):
            if (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "spkrunbook":
                real_cluster.admin.delete(res, obj["metadata"]["name"], "default", missing_ok=True)


def _key(plural: str) -> tuple[str, str]:
    return next(k for k, r in apply.KINDS.items() if r.plural == plural and r.namespaced)


