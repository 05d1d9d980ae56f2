"""How OVN is told to send egress through TMM: AdminPolicyBasedExternalRoute, legacy annotations, or both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.ovn import routes as ovn
from tests.support import FakeApiServer, labdata


def lab(kubeconfig: Path) -> params.Lab:
    return params.parse({
        "lab": "apb", "target": {"kind": "live", "kubeconfig": str(kubeconfig)},
        "networks": {"internal": {"name": "macvlan-internal", "master": "ens224"},
                     "external": {"name": "macvlan-external", "master": "ens256"}},
        "tmm": {"namespace": "default"},
        "vlans": {"internal": {"name": "vlan-internal", "selfip_v4s": ["10.1.10.100"], "prefixlen_v4": 24},
                  "external": {"name": "vlan-external", "selfip_v4s": ["10.1.20.100"], "prefixlen_v4": 24}},
    })


def apb(name: str, *hops: str) -> dict[str, Any]:
    return {"apiVersion": "k8s.ovn.org/v1", "kind": "AdminPolicyBasedExternalRoute",
            "metadata": {"name": name},
            "spec": {"from": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "spk-apps"}}},
                     "nextHops": {"static": [{"ip": h} for h in hops]}}}


def seed(api: FakeApiServer, *, legacy: bool, routes: list[dict[str, Any]] | None) -> None:
    for obj in labdata.lab_objects():
        if obj["kind"] == "Pod" and obj["metadata"]["name"] == labdata.TMM_POD and not legacy:
            for k in ovn.LEGACY_ROUTING:
                obj["metadata"]["annotations"].pop(k, None)
        api.add(obj)
    if routes is not None:
        api.add(labdata._crd("adminpolicybasedexternalroutes", "k8s.ovn.org", "AdminPolicyBasedExternalRoute", "v1",
                             "Cluster"))
        for r in routes:
            api.add(r)


@pytest.mark.parametrize(("legacy", "routes", "status", "needle"), [
    (True, None, "pass", "no AdminPolicyBasedExternalRoute API"),
    (True, [], "warn", "legacy annotations only"),
    (True, [apb("spk-egress", "10.1.10.100")], "warn", "both are in use"),
    (False, [apb("spk-egress", "10.1.10.100")], "pass", "spk-egress (from {'kubernetes.io/metadata.name': 'spk-apps'} via 10.1.10.100)"),
    (False, [apb("other", "192.0.2.1")], "warn", "AdminPolicyBasedExternalRoute: other"),
    (False, [], "skip", "neither"),
])
def test_external_routes(api: FakeApiServer, kubeconfig: Path, legacy: bool, routes: list[dict[str, Any]] | None,
                         status: str, needle: str) -> None:
    seed(api, legacy=legacy, routes=routes)
    t = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    try:
        (row,) = ovn.external_routes(lab(kubeconfig), t)
    finally:
        t.close()
    assert (row.status, row.check) == (status, "external routes"), row
    assert needle in row.evidence, row.evidence
    if status == "warn":
        assert row.action
