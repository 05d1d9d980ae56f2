"""The data plane tier's shared fixtures: one real control plane and one real node for the whole tier.

``node_cluster`` is a ``NodeCluster`` (the real etcd, kube-apiserver, controller-manager and scheduler,
ready for a kubelet) seeded with the demo snapshot's cluster-wide OpenShift objects; ``node`` is the
``DataPlane`` registered with it. Both start once (about half a minute) and are stopped when the tier's last
test has run (package scope: the rest of ``make test`` runs without them), on failure too; the node's
teardown then checks that nothing it made is left on the machine.
Without what the tier needs (root, cgroup v1, the kubelet build, the images ...) the tests skip saying
why; under ``CI=true`` they fail instead: CI must run this tier.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn

import pytest

from spkrunbook import params
from tests.support import dataplane, realcluster
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.paths import DEMO_PARAMS

#: 2Mi pages the node offers: the seed's 1-CPU TMM asks for 1572Mi (786 pages); a little headroom.
HUGEPAGES = 800


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the dataplane tier: {reason}", pytrace=False)
    pytest.skip(reason)


def demo_lab() -> params.Lab:
    return params.load(DEMO_PARAMS)


@pytest.fixture(scope="package")
def node_bins() -> realcluster.Binaries:
    try:
        bins = realcluster.binaries()
    except realcluster.NotBuilt as exc:
        unavailable(str(exc))
    why = dataplane.requirements(bins)
    if why:
        unavailable("this machine cannot run the data plane: " + "; ".join(why))
    return bins


@pytest.fixture(scope="package")
def node_cluster(node_bins: realcluster.Binaries) -> Iterator[NodeCluster]:
    cluster = NodeCluster(node_bins)
    cluster.start()
    try:
        cluster.seed_openshift()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="package")
def node(node_cluster: NodeCluster, node_bins: realcluster.Binaries) -> Iterator[DataPlane]:
    try:
        with dataplane.running(node_cluster, node_bins, dataplane.masters_for(demo_lab()), hugepages_2mi=HUGEPAGES) as dp:
            yield dp
    except dataplane.Unavailable as exc:
        unavailable(str(exc))
