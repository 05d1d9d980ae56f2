"""Opt-in: the same read and dry-run paths against a real OpenShift (marker ``openshift``).

Set ``SPKRUNBOOK_OPENSHIFT_KUBECONFIG`` to a kubeconfig (``oc login`` writes one) and,
optionally, ``SPKRUNBOOK_OPENSHIFT_CONTEXT`` and ``SPKRUNBOOK_OPENSHIFT_NAMESPACE`` (the TMM
namespace, default ``default``). Nothing here writes: creates are ``dryRun=All``, which the
real admission chain and CRD schemas still judge. Without the variable every test skips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster.base import F5_VLAN_CRD, NAD_CRD
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ResourceMissing
from spkrunbook.steps import nad, prereqs
from spkrunbook.steps.install import vlans
from tests.support.paths import DEMO_PARAMS

pytestmark = pytest.mark.openshift
ENV = "SPKRUNBOOK_OPENSHIFT_KUBECONFIG"


@pytest.fixture(scope="module")
def kubeconfig() -> Path:
    path = os.environ.get(ENV)
    if not path:
        pytest.skip(f"opt-in: set {ENV} to a kubeconfig of a real OpenShift cluster")
    return Path(path)


@pytest.fixture(scope="module")
def lab(kubeconfig: Path) -> params.Lab:
    data = params.read_yaml(DEMO_PARAMS)
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig), "context": os.environ.get("SPKRUNBOOK_OPENSHIFT_CONTEXT")}
    ns = os.environ.get("SPKRUNBOOK_OPENSHIFT_NAMESPACE", "default")
    data["tmm"] = {**data["tmm"], "namespace": ns}
    for net in data["networks"].values():
        if isinstance(net, dict):
            net["namespace"] = ns
    data.pop("debug", None)
    data.get("install", {}).pop("values_file", None)
    return params.parse(data)


@pytest.fixture(scope="module")
def target(lab: params.Lab) -> Iterator[LiveTarget]:
    t = LiveTarget.from_params(lab.target)
    yield t
    t.close()


def dry_run_apply(target: LiveTarget, res: str, obj: dict) -> None:
    """Create, or replace the existing object with our spec, with ``dryRun=All``: judged, never stored."""
    ns = obj["metadata"]["namespace"]
    try:
        cur = target.get(res, obj["metadata"]["name"], ns)
    except ResourceMissing:
        target.create(res, obj, ns, dry_run=True)
        return
    target.replace(res, {**cur, "spec": obj["spec"]}, ns, dry_run=True)


def test_prerequisites_run_and_say_why_when_they_fail(lab: params.Lab, target: LiveTarget) -> None:
    res = prereqs.run(lab, target)
    assert res.checks.rows
    for row in res.checks.failed():
        assert row.evidence and row.action, row  # a real cluster may fail a check; each says why and what to do


def test_our_nads_pass_the_real_admission_dry_run(lab: params.Lab, target: LiveTarget) -> None:
    if not target.exists("customresourcedefinitions", NAD_CRD):
        pytest.skip(f"{NAD_CRD} is not installed on this cluster")
    for obj in nad.build(lab):
        dry_run_apply(target, "network-attachment-definitions", obj)


def test_our_f5spkvlans_pass_the_real_crd_dry_run(lab: params.Lab, target: LiveTarget) -> None:
    if not target.exists("customresourcedefinitions", F5_VLAN_CRD):
        pytest.skip(f"{F5_VLAN_CRD} is not installed on this cluster (SPK CRDs)")
    for _, obj in vlans.build(lab):
        dry_run_apply(target, "f5-spk-vlans", obj)
