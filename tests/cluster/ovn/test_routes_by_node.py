"""OVN databases by node (issue 24 item 5): a must-gather with one NB database per node and no OVN pod list;
each routed pod's routes are read from the database of the node it runs on, with the real OVN tools."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from spkrunbook import params
from spkrunbook.cluster.ovn import routes
from spkrunbook.cluster.snapshot import SnapshotTarget
from tests.support import labdata
from tests.support.paths import DEMO_PARAMS, FIXTURES

pytestmark = pytest.mark.skipif(shutil.which("ovn-nbctl") is None, reason="ovn-nbctl is not installed")
IC = FIXTURES / "ovn" / "interconnect"


def must_gather(tmp_path: Path, *, app_nodes: tuple[str, str]) -> Path:
    root = labdata.write_snapshot(labdata.lab_objects(), tmp_path / "mg")
    data = root / "quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d"
    (data / "network_logs").mkdir()
    shutil.copy(IC / "network_logs" / "ovnk_database_store.tar.gz", data / "network_logs")  # no pods.yaml with it
    y = YAML()
    for n, node in enumerate(app_nodes):
        src = IC / "namespaces" / "spk-apps" / "pods" / f"spk-app-{n}" / f"spk-app-{n}.yaml"
        pod = y.load(src.read_text())
        pod["spec"]["nodeName"] = node
        out = data / "namespaces" / "spk-apps" / "pods" / f"spk-app-{n}" / f"spk-app-{n}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w") as fh:
            y.dump(pod, fh)
    return root


def test_each_routed_pod_is_read_from_its_own_nodes_database(tmp_path: Path) -> None:
    lab = params.load(DEMO_PARAMS)
    out = routes.ovn_routes(lab, SnapshotTarget(must_gather(tmp_path, app_nodes=("worker-1", "worker-1"))))
    assert out.node == "worker-1" and not out.others and "routing namespaces" in out.nodes_why
    assert out.location is not None and "ovnk_database_store" in out.location.pod
    assert "ovnkube-node-b001x" in out.location.reason, "the database that names worker-1"
    via = [r for r in out.checks if r.check == "OVN routes via TMM"]
    assert [r.status for r in via] == ["pass"] and "10.128.8.41" in via[0].evidence


def test_a_pod_on_another_node_is_looked_for_in_that_nodes_database(tmp_path: Path) -> None:
    lab = params.load(DEMO_PARAMS)
    out = routes.ovn_routes(lab, SnapshotTarget(must_gather(tmp_path, app_nodes=("worker-1", "worker-2"))))
    assert [out.node, *(o.node for o in out.others)] == ["worker-1", "worker-2"]
    assert out.others[0].location is not None and "ovnkube-node-c002x" in out.others[0].location.reason
    via = {r.evidence.split(" has next hop")[0]: r for r in out.checks if r.check == "OVN routes via TMM"}
    assert any(r.status == "fail" and "GR_worker-2" in r.evidence for r in via.values()), out.checks
