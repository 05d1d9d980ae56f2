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


def test_demo_routes_come_from_its_saved_outputs_whatever_the_host_has(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo snapshot holds both the NB database and the ovn-nbctl outputs collected with it; the
    saved outputs answer first, so the record does not depend on whether ovn-central is installed."""
    lab, target = demo
    with_tools = ovn.read_routes(lab, target, "worker-1")

    def missing(search_path=None):
        raise nbdb.NotAvailable("reading OVN databases offline needs ovn-nbctl, which is not installed",
                                hint=nbdb.INSTALL_HINT)

    monkeypatch.setattr(nbdb, "find_tools", missing)
    without = ovn.read_routes(lab, target, "worker-1")
    for routes in (with_tools, without):
        assert routes.location is not None and routes.location.pod.startswith("ovnkube-master-"), routes.location
        assert not routes.error and not routes.skipped
        tmm = routes.tmm_routes(["10.1.10.100"])
        assert sorted(tmm["prefix"]) == ["10.128.8.41", "10.128.8.42"]
    assert with_tools.to_dict() == without.to_dict()
    assert ovn.check(lab, target, with_tools) == ovn.check(lab, target, without)


@pytest.fixture
def must_gather_only(demo, tmp_path) -> tuple[params.Lab, cluster.Target]:
    """The demo snapshot without the saved ovn-nbctl outputs: a must-gather as ``oc adm must-gather`` writes it."""
    lab, target = demo
    root = tmp_path / "snapshot"

    def saved_ovn_outputs(folder: str, names: list[str]) -> list[str]:
        return ["openshift-ovn-kubernetes"] if folder.endswith("spkrunbook-exec") else []

    assert isinstance(target, cluster.SnapshotTarget)
    shutil.copytree(target.root, root, ignore=saved_ovn_outputs)
    assert list(root.glob("*/network_logs/leader_nbdb.gz")) and not list(root.glob("*/spkrunbook-exec/openshift-ovn-*"))
    return lab, cluster.SnapshotTarget(root)


@pytest.mark.skipif(shutil.which("ovn-nbctl") is None, reason="ovn-nbctl is not installed (bootstrap.sh test installs ovn-central)")
def test_a_must_gather_without_saved_outputs_is_read_from_its_nb_database(must_gather_only) -> None:
    lab, target = must_gather_only
    routes = ovn.read_routes(lab, target, "worker-1")
    assert routes.location is not None and routes.location.pod == "network_logs/leader_nbdb.gz"
    assert "ovsdb-server" in routes.location.reason and routes.mode == "legacy"
    tmm = routes.tmm_routes(["10.1.10.100"])
    assert sorted(tmm["prefix"]) == ["10.128.8.41", "10.128.8.42"]
    assert tmm["ecmp_symmetric_reply"].all() and tmm["bfd"].all()
    (row,) = ovn.check(lab, target, routes)
    assert row.status == "pass" and "via 10.1.10.100" in row.evidence


def test_without_the_ovn_tools_a_must_gather_says_what_is_missing(must_gather_only, monkeypatch: pytest.MonkeyPatch) -> None:
    lab, target = must_gather_only

    def missing(search_path=None):
        raise nbdb.NotAvailable("reading OVN databases offline needs ovn-nbctl, which is not installed",
                                 hint=nbdb.INSTALL_HINT)

    monkeypatch.setattr(nbdb, "find_tools", missing)
    routes = ovn.read_routes(lab, target, "worker-1")
    assert any("not installed" in a for a in routes.attempts)
    assert routes.location is None and routes.skipped and "live cluster" in routes.skipped
