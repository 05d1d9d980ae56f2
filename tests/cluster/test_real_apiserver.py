"""The runbook's cluster code against a real kube-apiserver with etcd, TLS, RBAC and the real CRDs.

The control plane is ``tests/support/realcluster.py``'s (binaries from ``scripts/build_k8s.sh``).
Every assertion here is about what the real server answers; where the stand-in answered
differently, the stand-in was fixed (see the notes in ``tests/support/apiserver.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster.base import F5_VLAN_CRD, NAD_CRD
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import Forbidden, Invalid, ParameterError, ResourceMissing
from spkrunbook.steps import nad, prereqs
from spkrunbook.steps.install import vlans
from tests.support.paths import DEMO_PARAMS
from tests.support.realcluster import ADMIN, READER, RealApi, RealCluster

pytestmark = pytest.mark.apiserver


def lab_for(kubeconfig: Path, **changes: Any) -> params.Lab:
    data = params.read_yaml(DEMO_PARAMS)
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig), "retries": 0}
    data.pop("debug", None)
    data.get("install", {}).pop("values_file", None)
    for dotted, value in changes.items():
        node = data
        *head, last = dotted.split("__")
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return params.parse(data)


@pytest.fixture
def admin_kc(real_cluster: RealCluster, tmp_path: Path) -> Path:
    return real_cluster.kubeconfig(ADMIN, tmp_path / "kc-admin")


@pytest.fixture
def target(real_api: RealApi, admin_kc: Path) -> Iterator[LiveTarget]:
    t = LiveTarget.from_kubeconfig(admin_kc, retries=0)
    yield t
    t.close()


# -- the cluster itself ---------------------------------------------------------------------------------
def test_it_is_a_real_kube_apiserver_over_verified_tls(real_cluster: RealCluster, target: LiveTarget) -> None:
    v = target.check_reachable()
    assert v["gitVersion"] == real_cluster.bins.kubernetes_version and v["goVersion"].startswith("go1.")
    crds = {c["metadata"]["name"] for c in target.list("customresourcedefinitions")}
    assert {NAD_CRD, F5_VLAN_CRD, "nodenetworkstates.nmstate.io", "performanceprofiles.performance.openshift.io",
            "clusterversions.config.openshift.io", "kubeletconfigs.machineconfiguration.openshift.io"} <= crds
    # seeded from the demo snapshot: capacity and hugepages survived the real Node strategy
    w1 = target.get("nodes", "worker-1")
    assert w1["status"]["allocatable"]["hugepages-2Mi"] == "4Gi"
    assert w1["metadata"]["labels"]["node-role.kubernetes.io/worker"] == ""
    nns = target.get("nodenetworkstates", "worker-1")
    assert any(i["name"] == "ens224" for i in nns["status"]["currentState"]["interfaces"])


def test_prerequisites_pass_and_read_through_list_calls(real_api: RealApi, admin_kc: Path, target: LiveTarget) -> None:
    res = prereqs.run(lab_for(admin_kc), target)
    assert res.checks.failed() == [], [(r.check, r.evidence) for r in res.checks.failed()]
    # the one warning is the platform hint: the demo lab's Infrastructure says VSphere
    assert [r.check for r in res.checks.rows if r.status != "pass"] == ["platform"]
    assert not res.interfaces.frame.empty
    reqs = real_api.requests
    assert all(r.method == "GET" for r in reqs), "prerequisites never write"
    paths = [r.path for r in reqs]
    # One read per kind, never per node: nodes, MCPs, KubeletConfigs, NodeNetworkStates are lists.
    assert len(paths) == len(set(paths)) and len(paths) <= 11, paths
    for listed in ("/api/v1/nodes", "/apis/machineconfiguration.openshift.io/v1/machineconfigpools",
                   "/apis/machineconfiguration.openshift.io/v1/kubeletconfigs", "/apis/nmstate.io/v1beta1/nodenetworkstates"):
        assert listed in paths
    assert not any("/nodes/" in p for p in paths)  # no per-node GET, no kubelet configz proxy (no kubelet here)
    # The real NMState CRD serves only v1beta1 for NodeNetworkState: the v1 try is a 404, then v1beta1 answers.
    assert paths.index("/apis/nmstate.io/v1/nodenetworkstates") < paths.index("/apis/nmstate.io/v1beta1/nodenetworkstates")


# -- F5SPKVlan against the real schema -------------------------------------------------------------------
def vlan_cr(**spec: Any) -> dict[str, Any]:
    base = {"name": "internal", "interfaces": ["1.1"], "selfip_v4s": ["10.1.10.100"], "prefixlen_v4": 24}
    base.update(spec)
    return {"apiVersion": vlans.API_VERSION, "kind": vlans.KIND,
            "metadata": {"name": "schema-probe", "namespace": "default"}, "spec": {k: v for k, v in base.items() if v is not None}}


@pytest.mark.parametrize(("spec", "field"), [
    ({"tag": 4095}, "spec.tag"),
    ({"interfaces": ["eth0"]}, "spec.interfaces[0]"),
    ({"prefixlen_v4": None}, "prefixlen_v4 is required"),
    ({"selfip_v4s": ["10.1.10.100", "10.1.10.100"]}, "spec.selfip_v4s[1]"),
    ({"selfip_v4s": ["10.1.10.300"]}, "spec.selfip_v4s[0]"),
    ({"selfip_v6s": ["fd00::1%net1"], "prefixlen_v6": 64}, "spec.selfip_v6s[0]"),
])
def test_the_vlan_crd_schema_rejects(real_api: RealApi, target: LiveTarget, spec: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as exc:
        target.create("f5-spk-vlans", vlan_cr(**spec), "default")
    assert exc.value.status == 422 and field in str(exc.value), str(exc.value)


def test_the_vlan_crd_schema_accepts_the_demo_crs(real_api: RealApi, admin_kc: Path, target: LiveTarget) -> None:
    lab = lab_for(admin_kc)
    for _, cr in vlans.build(lab):
        target.create("f5-spk-vlans", cr, "default", dry_run=True)


def test_a_zoned_ipv6_self_ip_is_caught_by_the_params_before_the_server(admin_kc: Path) -> None:
    """Python's ipaddress accepts ``fd00::1%net1`` (a scope id); the CRD's ``format: ipv6`` does not
    (found by the real server, test above): the params reject it first, naming the field."""
    with pytest.raises(ParameterError) as exc:
        lab_for(admin_kc, vlans__internal__selfip_v6s=["fd00::1%net1"], vlans__internal__prefixlen_v6=64)
    assert "vlans.internal.selfip_v6s" in str(exc.value) and "fd00::1%net1" in str(exc.value)


def test_vlans_apply_create_unchanged_update(real_api: RealApi, admin_kc: Path, target: LiveTarget) -> None:
    lab = lab_for(admin_kc)
    first = vlans.apply(lab, target)
    assert [c.action for c in first.result.changes] == ["create", "create"], first.findings.to_frame()
    again = vlans.apply(lab, target)
    assert [c.action for c in again.result.changes] == ["unchanged", "unchanged"]
    changed = lab_for(admin_kc, vlans__external__selfip_v4s=["10.1.20.101"])
    third = vlans.apply(changed, target)
    ext = third.result.change("external")
    assert ext.action == "update" and ext.applied and "+  - 10.1.20.101" in ext.diff.replace("    ", "  "), ext.diff
    assert real_api.get_object("f5-spk-vlans", "external", "default")["spec"]["selfip_v4s"] == ["10.1.20.101"]


# -- NADs: the real server's answers ----------------------------------------------------------------------
def test_nads_create_unchanged_update_refused(real_api: RealApi, real_cluster: RealCluster, admin_kc: Path,
                                              target: LiveTarget) -> None:
    lab = lab_for(admin_kc)
    res = nad.apply(lab, target)
    assert [(c.action, c.applied) for c in res.changes] == [("create", True), ("create", True)]
    real_api.reset_requests()
    again = nad.apply(lab, target)
    assert [c.action for c in again.changes] == ["unchanged", "unchanged"]
    assert [r for r in real_api.requests if r.method != "GET"] == []
    moved = nad.apply(lab_for(admin_kc, networks__internal__master="ens192"), target)
    ch = moved.change("macvlan-internal")
    assert (ch.action, ch.applied) == ("update", True) and "+    master: ens192" in ch.diff
    # someone else's NAD, made with kubectl
    theirs = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
              "metadata": {"name": "macvlan-external", "namespace": "default", "labels": {"team": "net"}},
              "spec": {"config": json.dumps({"cniVersion": "0.3.1", "type": "macvlan", "master": "ens256", "mode": "vepa"})}}
    real_cluster.kubectl("delete", "net-attach-def", "macvlan-external", "-n", "default")
    real_cluster.kubectl("create", "-f", "-", input=json.dumps(theirs))
    refused = nad.apply(lab, target)
    assert refused.change("macvlan-external").action == "refused"
    assert real_cluster.kubectl("get", "net-attach-def", "macvlan-external", "-n", "default", "-o",
                                "jsonpath={.spec.config}").stdout.count("vepa") == 1


def test_a_concurrent_writer_gets_a_real_409_and_we_retry(real_api: RealApi, real_cluster: RealCluster,
                                                           admin_kc: Path, target: LiveTarget) -> None:
    lab = lab_for(admin_kc)
    nad.apply(lab, target)
    drift = lab_for(admin_kc, networks__internal__mode="private")

    class Interfering:
        """Between our read and our write, kubectl (another process) annotates the same NAD."""

        def __init__(self, inner: LiveTarget) -> None:
            self.inner, self.kind, self.can_write, self.done = inner, inner.kind, inner.can_write, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def replace(self, res: Any, obj: Any, namespace: Any = None) -> Any:
            if not self.done:
                self.done += 1
                real_cluster.kubectl("annotate", "net-attach-def", obj["metadata"]["name"], "-n", "default", "touched=yes")
            return self.inner.replace(res, obj, namespace)

    res = nad.apply(drift, Interfering(target))
    ch = res.change("macvlan-internal")
    assert (ch.action, ch.applied) == ("update", True) and "409" in ch.reason
    after = real_api.get_object("network-attachment-definitions", "macvlan-internal", "default")
    assert after["metadata"]["annotations"]["touched"] == "yes" and '"private"' in after["spec"]["config"]


# -- RBAC: a read-only user ----------------------------------------------------------------------------------
def test_a_read_only_user_is_told_verb_resource_and_what_to_grant(real_api: RealApi, real_cluster: RealCluster,
                                                                   tmp_path: Path) -> None:
    kc = real_cluster.kubeconfig(READER, tmp_path / "kc-reader")
    lab = lab_for(kc)
    with LiveTarget.from_kubeconfig(kc, retries=0) as reader:
        assert prereqs.run(lab, reader).checks.rows  # reading is allowed
        res = nad.apply(lab, reader)
        assert [c.action for c in res.changes] == ["failed", "failed"] and not res.partial
        err = res.changes[0].error
        assert isinstance(err, Forbidden) and err.status == 403
        text = f"{err.message} {err.hint}"
        assert "create" in text and "network-attachment-definitions" in text and "k8s.cni.cncf.io" in text
        assert "ClusterRole" in (err.hint or "") and "lab-reader" in err.message
        assert real_api.get_object("network-attachment-definitions", "macvlan-internal", "default") is None
        vres = vlans.apply(lab, reader)
        verr = vres.result.changes[0].error
        assert isinstance(verr, Forbidden) and "f5-spk-vlans" in (verr.hint or "") and "k8s.f5net.com" in (verr.hint or "")


def test_a_missing_nad_crd_is_a_clear_error(real_api: RealApi, real_cluster: RealCluster, admin_kc: Path,
                                            target: LiveTarget) -> None:
    real_cluster.kubectl("delete", "crd", NAD_CRD, "--wait=true")
    try:
        lab = lab_for(admin_kc)
        with pytest.raises(ResourceMissing, match=NAD_CRD) as exc:
            nad.apply(lab, target)
        assert "Multus" in str(exc.value) and "oc get crd" in str(exc.value)
        assert [r for r in real_api.requests if r.method != "GET"] == []
        # the whole API is gone: a read of a NAD is the real server's plain-text 404, named as a missing CRD
        with pytest.raises(ResourceMissing, match="is not installed"):
            target.get("network-attachment-definitions", "macvlan-internal", "default")
    finally:
        real_cluster.install_crds()
