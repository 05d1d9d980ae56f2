"""The debugging step on a must-gather: OVN routes from the NB database it collected, read by the real
OVN tools (ovsdb-server + ovn-nbctl), and what happens without them."""

from __future__ import annotations

import shutil

import pytest

from spkrunbook import bundle, cluster, params
from spkrunbook.cluster.ovn import nbdb
from spkrunbook.cluster.ovn import routes as ovn


@pytest.fixture(scope="module")
def demo() -> tuple[params.Lab, cluster.Target]:
    lab = params.load(bundle.demo_params())
    return lab, cluster.connect(lab)


@pytest.mark.skipif(shutil.which("ovn-nbctl") is None, reason="ovn-nbctl is not installed (bootstrap.sh test installs ovn-central)")
def test_demo_routes_come_from_the_must_gather_database(demo) -> None:
    lab, target = demo
    routes = ovn.read_routes(lab, target, "worker-1")
    assert routes.location is not None and routes.location.pod == "network_logs/leader_nbdb.gz"
    assert "ovsdb-server" in routes.location.reason and routes.mode == "legacy"
    tmm = routes.tmm_routes(["10.1.10.100"])
    assert sorted(tmm["prefix"]) == ["10.128.8.41", "10.128.8.42"]
    assert tmm["ecmp_symmetric_reply"].all() and tmm["bfd"].all()
    (row,) = ovn.check(lab, target, routes)
    assert row.status == "pass" and "via 10.1.10.100" in row.evidence


def test_without_the_ovn_tools_the_saved_outputs_answer(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    lab, target = demo

    def missing(search_path=None):
        raise nbdb.NotAvailable("reading OVN databases offline needs ovn-nbctl, which is not installed",
                                 hint=nbdb.INSTALL_HINT)

    monkeypatch.setattr(nbdb, "find_tools", missing)
    routes = ovn.read_routes(lab, target, "worker-1")
    assert any("not installed" in a for a in routes.attempts)
    assert routes.location is None or routes.location.pod != "network_logs/leader_nbdb.gz"
