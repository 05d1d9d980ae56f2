"""The data plane tier's shared fixtures: one real control plane and one real node for the whole tier.

``node_cluster`` is a ``NodeCluster`` (the real etcd, kube-apiserver, controller-manager and scheduler,
ready for a kubelet) seeded with the demo snapshot's cluster-wide OpenShift objects; ``node`` is the
``DataPlane`` registered with it. Both start once (about half a minute) and are stopped when the tier's last
test has run (package scope: the rest of ``make test`` runs without them), on failure too; the node's
teardown then checks that nothing it made is left on the machine.
Without what the bootstrap builds (the kubelet, the images) the tests skip saying why, and under
``CI=true`` they fail: building them is ``scripts/bootstrap.sh test``'s job. A machine that cannot host a
node (not root, cgroup v2, no writable hugepages, or a node that does not come up) skips the tier under CI
too, with the reason and the node's log tail in the skip message, so the CI log says why it did not run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import NoReturn

import pytest

from spkrunbook import params
from tests.support import dataplane, realcluster
from tests.support.dataplane import DataPlane, NodeCluster
from tests.support.paths import DEMO_PARAMS

#: 2Mi pages the node offers: the seed's 1-CPU TMM asks for 1572Mi (786 pages); a little headroom.
HUGEPAGES = 800


def unavailable(reason: str) -> NoReturn:
    """Not built: a failure under CI (the bootstrap builds it). Everything else: ``cannot_host``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the dataplane tier: {reason}", pytrace=False)
    pytest.skip(reason)


def cannot_host(reason: str) -> NoReturn:
    """This machine cannot host a node: the tier is skipped, under CI too, saying why in one line."""
    pytest.skip(f"the dataplane tier did not run: {' '.join(reason.split())[:1500]}")


def demo_lab() -> params.Lab:
    return params.load(DEMO_PARAMS)


@pytest.fixture(scope="package")
def node_bins() -> realcluster.Binaries:
    try:
        bins = realcluster.binaries()
    except realcluster.NotBuilt as exc:
        unavailable(str(exc))
    if bins.kubelet is None:
        unavailable(f"the kubelet {bins.kubernetes_version} is not built (run scripts/build_k8s.sh)")
    if dataplane.images_dir() is None:
        unavailable("the data plane images are not built (run scripts/build_dataplane_images.py)")
    why = dataplane.requirements(bins)
    if why:
        cannot_host("this machine cannot run the data plane: " + "; ".join(why))
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
    with ExitStack() as stack:
        try:  # only the start is judged here: what the node's stop finds left behind fails as it should
            dp = stack.enter_context(dataplane.running(node_cluster, node_bins, dataplane.masters_for(demo_lab()),
                                                       hugepages_2mi=HUGEPAGES))
        except dataplane.Unavailable as exc:
            cannot_host(str(exc))
        except Exception as exc:  # the node did not come up on this machine: say what it printed last
            cannot_host(f"the node did not start: {type(exc).__name__}: {exc}")
        if dp.reclaimed:
            print(f"dataplane: removed what a data plane that died had left: {', '.join(dp.reclaimed)}", file=sys.stderr)
        yield dp
