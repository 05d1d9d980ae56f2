"""SnapshotTarget: must-gather layout read offline, with clear errors for bad folders."""

from __future__ import annotations

import pytest

from spkrunbook.cluster import SnapshotTarget
from spkrunbook.cluster.snapshot import exec_slug
from spkrunbook.errors import NotAvailable, ResourceMissing, SnapshotError
from tests.support import paths
from tests.support.paths import DEMO_DIR

ROOT = paths.ROOT
DEMO = DEMO_DIR / "snapshot"


def test_reads_lists_single_objects_and_pods():
    t = SnapshotTarget(DEMO)
    nodes = t.list("nodes")
    assert sorted(n["metadata"]["name"] for n in nodes) == ["master-0", "master-1", "master-2", "worker-0", "worker-1", "worker-2"]
    assert len(t.list("nodes", label_selector="node-role.kubernetes.io/worker")) == 3
    assert len(t.list("nodes", label_selector="node-role.kubernetes.io/worker,!node-role.kubernetes.io/master")) == 3
    assert t.get("networks.config", "cluster")["status"]["networkType"] == "OVNKubernetes"
    nads = t.list("network-attachment-definitions", "default")
    assert {n["metadata"]["name"] for n in nads} == {"macvlan-internal", "macvlan-external"}
    pods = t.list("pods", "default", label_selector="app=f5-tmm")
    assert len(pods) == 1 and pods[0]["spec"]["nodeName"] == "worker-1"
    assert t.list("pods", field_selector="spec.nodeName=worker-1", label_selector="app=f5-tmm")
    assert t.list("pods", "openshift-ovn-kubernetes", field_selector="spec.nodeName=worker-9") == []
    # a copy: changing what we got does not change the snapshot
    nodes[0]["metadata"]["name"] = "changed"
    assert "changed" not in {n["metadata"]["name"] for n in t.list("nodes")}


def test_missing_object_is_resource_missing():
    t = SnapshotTarget(DEMO)
    with pytest.raises(ResourceMissing) as err:
        t.get("nodes", "worker-9")
    assert err.value.status == 404 and "worker-9" in str(err.value)
    assert not t.exists("customresourcedefinitions", "nope.example.com")


def test_bad_folders_say_what_to_do(tmp_path):
    with pytest.raises(SnapshotError, match="does not exist"):
        SnapshotTarget(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match="does not look like a must-gather") as err:
        SnapshotTarget(tmp_path / "empty")
    assert "must-gather" in (err.value.hint or "")
    bad = tmp_path / "bad" / "cluster-scoped-resources" / "core" / "nodes"
    bad.mkdir(parents=True)
    (bad / "n1.yaml").write_text("metadata: [unclosed\n")
    with pytest.raises(SnapshotError, match="not valid YAML"):
        SnapshotTarget(tmp_path / "bad").list("nodes")


def test_exec_replays_saved_output_or_says_it_is_missing(tmp_path):
    root = tmp_path / "snap"
    (root / "cluster-scoped-resources").mkdir(parents=True)
    t = SnapshotTarget(root)
    argv = ["ip", "-br", "link"]
    with pytest.raises(NotAvailable) as err:
        t.exec("default", "p", "debug", argv)
    assert exec_slug(argv) in (err.value.hint or "")
    out = t.saved_output_path("default", "p", "debug", argv)
    out.parent.mkdir(parents=True)
    out.write_bytes(b"lo UNKNOWN\n")
    out.with_suffix(".rc").write_text("0\n")
    res = t.exec("default", "p", "debug", argv)
    assert res.ok and res.text == "lo UNKNOWN\n"
