"""spkrunbook.steps.nad against a live target: the real ``kubernetes`` client talking HTTP to the stand-in
API server and, parametrized (``api`` fixture), to the real kube-apiserver of the ``apiserver`` tier.

Nothing is patched. Concurrent writers are simulated by a second LiveTarget that
writes through the same HTTP API between our read and our write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ApplyRefused, Conflict, ResourceMissing
from spkrunbook.steps import nad
from tests.conftest import SERVERS, both_servers
from tests.support import FakeApiServer, labdata, paths
from tests.support.paths import DEMO_DIR, DEMO_PARAMS
from tests.support.realcluster import RealApi

NAD = nad.NAD


def make_lab(kubeconfig: Path, **networks: dict[str, Any]) -> params.Lab:
    data: dict[str, Any] = {
        "lab": "nadlive",
        "target": {"kind": "live", "kubeconfig": str(kubeconfig)},
        "networks": {
            "internal": {"name": "macvlan-internal", "namespace": "default", "master": "ens224", "mode": "bridge", "cni_version": "0.3.1"},
            "external": {"name": "macvlan-external", "namespace": "default", "master": "ens256", "mode": "bridge", "cni_version": "0.3.1"},
        },
    }
    for role, changes in networks.items():
        data["networks"][role].update(changes)
    return params.parse(data)


def seed(api: FakeApiServer, variant: str = "ok", *, nads: bool = True) -> None:
    """The demo lab's objects; without ``nads`` the two NADs are left out."""
    for obj in labdata.lab_objects(variant):
        if obj.get("kind") == "NetworkAttachmentDefinition" and not nads:
            continue
        api.add(obj)


@pytest.fixture(params=SERVERS)
def api(request: pytest.FixtureRequest) -> Iterator[FakeApiServer | RealApi]:
    """Every test here runs against the stand-in and against the real API server."""
    yield from both_servers(request)


@pytest.fixture
def target(kubeconfig: Path) -> Iterator[LiveTarget]:
    t = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    yield t
    t.close()


@pytest.fixture
def other(kubeconfig: Path) -> Iterator[LiveTarget]:
    """A second client: someone else writing to the same cluster."""
    t = LiveTarget.from_kubeconfig(kubeconfig, retries=0)
    yield t
    t.close()


def stored(api: FakeApiServer, name: str) -> dict[str, Any]:
    obj = api.get_object(NAD, name, "default")
    assert obj is not None
    return obj


def config(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["spec"]["config"])


def foreign(name: str, master: str, mode: str = "vepa", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": nad.API_VERSION,
        "kind": nad.KIND,
        "metadata": {"name": name, "namespace": "default", "labels": labels or {"team": "net"}},
        "spec": {"config": json.dumps({"cniVersion": "0.3.1", "type": "macvlan", "master": master, "mode": mode})},
    }


def writes(api: FakeApiServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in api.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def test_create_then_unchanged_rerun(api, kubeconfig, target):
    seed(api, nads=False)
    lab = make_lab(kubeconfig)
    res = nad.apply(lab, target)
    assert not res.planned
    assert [(c.action, c.applied, c.outcome(False)) for c in res.changes] == [("create", True, "created"), ("create", True, "created")]
    for built in nad.build(lab):
        obj = stored(api, built["metadata"]["name"])
        assert config(obj) == json.loads(built["spec"]["config"])
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "spkrunbook"}
    api.reset_requests()
    again = nad.apply(lab, target)
    assert [c.action for c in again.changes] == ["unchanged", "unchanged"]
    assert writes(api) == []
    assert again.ok and not again.partial


def test_drift_on_our_nad_is_updated_with_a_diff(api, kubeconfig, target):
    seed(api)
    obj = stored(api, "macvlan-internal")
    obj["metadata"]["labels"]["team"] = "net"
    obj["metadata"]["annotations"] = {"note": "keep me"}
    obj["spec"]["config"] = json.dumps({**config(obj), "master": "ens192"})
    api.add(obj)
    res = nad.apply(make_lab(kubeconfig), target)
    change = res.change("macvlan-internal")
    assert (change.action, change.applied) == ("update", True)
    assert "-    master: ens192\n" in change.diff and "+    master: ens224\n" in change.diff
    assert res.change("macvlan-external").action == "unchanged"
    after = stored(api, "macvlan-internal")
    assert config(after)["master"] == "ens224"
    # An update replaces the config only: other labels and annotations survive.
    assert after["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "spkrunbook", "team": "net"}
    assert after["metadata"]["annotations"] == {"note": "keep me"}


def test_foreign_nad_is_refused_and_the_other_still_created(api, kubeconfig, target):
    seed(api, nads=False)
    api.add(foreign("macvlan-external", "ens256"))
    res = nad.apply(make_lab(kubeconfig), target)
    internal, external = res.changes
    assert (internal.action, internal.applied) == ("create", True)
    assert (external.action, external.applied) == ("refused", False)
    assert isinstance(external.error, ApplyRefused)
    assert "-    mode: vepa\n" in external.diff
    assert res.partial and not res.ok
    assert "PARTIAL" in res._repr_html_()
    # Nothing rolled back, nothing overwritten.
    assert api.get_object(NAD, "macvlan-internal", "default") is not None
    assert config(stored(api, "macvlan-external"))["mode"] == "vepa"
    assert stored(api, "macvlan-external")["metadata"]["labels"] == {"team": "net"}


def test_force_overwrites_a_foreign_nad_and_labels_it_ours(api, kubeconfig, target):
    seed(api)
    api.add(foreign("macvlan-external", "ens256"))
    lab = make_lab(kubeconfig)
    lab.nad.force = True
    res = nad.apply(lab, target)
    change = res.change("macvlan-external")
    assert (change.action, change.applied) == ("update", True) and "force" in change.reason
    after = stored(api, "macvlan-external")
    assert config(after) == json.loads(nad.build(lab)[1]["spec"]["config"])
    assert after["metadata"]["labels"] == {"team": "net", "app.kubernetes.io/managed-by": "spkrunbook"}


class ConcurrentWriter:
    """A target that lets another client write the same NAD right before each of our writes."""

    def __init__(self, inner: LiveTarget, other: LiveTarget, times: int = 1, create_as: dict[str, Any] | None = None):
        self.inner, self.other, self.times, self.create_as = inner, other, times, create_as
        self.kind, self.can_write = inner.kind, inner.can_write
        self.interfered = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _interfere(self, obj: dict[str, Any], ns: str | None) -> None:
        if self.interfered >= self.times:
            return
        self.interfered += 1
        name = obj["metadata"]["name"]
        if self.create_as is not None:
            self.other.create(NAD, self.create_as, ns)
            return
        theirs = self.other.get(NAD, name, ns)
        theirs["metadata"].setdefault("annotations", {})["touched"] = str(self.interfered)
        self.other.replace(NAD, theirs, ns)

    def create(self, res, obj, namespace=None):
        self._interfere(obj, namespace)
        return self.inner.create(res, obj, namespace)

    def replace(self, res, obj, namespace=None):
        self._interfere(obj, namespace)
        return self.inner.replace(res, obj, namespace)


def _drift(api: FakeApiServer, name: str) -> None:
    obj = stored(api, name)
    obj["spec"]["config"] = json.dumps({**config(obj), "mode": "private"})
    api.add(obj)


def test_409_on_update_is_re_read_and_retried_once(api, kubeconfig, target, other):
    seed(api)
    _drift(api, "macvlan-internal")
    t = ConcurrentWriter(target, other, times=1)
    res = nad.apply(make_lab(kubeconfig), t)
    change = res.change("macvlan-internal")
    assert (change.action, change.applied) == ("update", True)
    assert "409" in change.reason
    puts = [p for m, p in writes(api) if m == "PUT" and p.endswith("/macvlan-internal")]
    assert len(puts) == 3  # theirs, our stale one (409), our retry
    after = stored(api, "macvlan-internal")
    assert config(after)["mode"] == "bridge"
    assert after["metadata"]["annotations"] == {"touched": "1"}  # their change kept: we re-read before retrying


def test_409_twice_is_reported_not_raised(api, kubeconfig, target, other):
    seed(api)
    _drift(api, "macvlan-internal")
    res = nad.apply(make_lab(kubeconfig), ConcurrentWriter(target, other, times=5))
    change = res.change("macvlan-internal")
    assert change.action == "failed" and not change.applied
    assert isinstance(change.error, Conflict)
    assert "409 conflict twice" in change.reason
    assert res.change("macvlan-external").action == "unchanged"
    assert not res.ok and res.findings.failed()[0].subject == "default/macvlan-internal"


def test_409_already_exists_on_create_is_decided_again(api, kubeconfig, target, other):
    seed(api, nads=False)
    someone = foreign("macvlan-internal", "ens224", mode="private")
    res = nad.apply(make_lab(kubeconfig), ConcurrentWriter(target, other, times=1, create_as=someone))
    change = res.change("macvlan-internal")
    # Created by someone else between our read and our create: re-read, now it is foreign and different.
    assert change.action == "refused" and not change.applied
    assert config(stored(api, "macvlan-internal"))["mode"] == "private"
    assert res.change("macvlan-external").action == "create"


def test_teardown_deletes_only_ours(api, kubeconfig, target):
    seed(api)
    api.add(foreign("macvlan-external", "ens256"))
    api.add({**foreign("unrelated", "ens192"), "metadata": {"name": "unrelated", "namespace": "default",
                                                           "labels": {"app.kubernetes.io/managed-by": "spkrunbook"}}})
    res = nad.teardown(make_lab(kubeconfig), target)
    assert [(c.name, c.action, c.applied) for c in res.changes] == [
        ("macvlan-internal", "delete", True),
        ("macvlan-external", "kept", False),
    ]
    assert res.findings.rows[0].evidence.startswith("deleted")
    assert api.get_object(NAD, "macvlan-internal", "default") is None
    assert api.get_object(NAD, "macvlan-external", "default") is not None
    # Only the lab's NADs are considered, even when another one carries our label.
    assert api.get_object(NAD, "unrelated", "default") is not None
    again = nad.teardown(make_lab(kubeconfig), target)
    assert [c.action for c in again.changes] == ["absent", "kept"]


def test_verify_reads_back_live(api, kubeconfig, target):
    seed(api, nads=False)
    lab = make_lab(kubeconfig)
    before = nad.verify(lab, target)
    assert not before.findings.ok  # on a live target an absent NAD fails the step
    nad.apply(lab, target)
    v = nad.verify(lab, target)
    assert v.findings.ok
    assert v.to_frame()[["NAME", "MASTER", "MODE"]].values.tolist() == [
        ["macvlan-internal", "ens224", "bridge"],
        ["macvlan-external", "ens256", "bridge"],
    ]
    assert v.to_frame()["AGE"].str.endswith("s").all()
    assert v.cni_networks == "default/macvlan-internal,default/macvlan-external"


def test_missing_nad_crd_is_a_clear_error(api, kubeconfig, target):
    if isinstance(api, RealApi):
        pytest.skip("the real cluster of the session has the NAD CRD installed; test_real_apiserver deletes it for real")
    seed(api, "no-nad-crd")
    lab = make_lab(kubeconfig)
    with pytest.raises(ResourceMissing, match=r"network-attachment-definitions\.k8s\.cni\.cncf\.io") as exc:
        nad.apply(lab, target)
    assert "Multus" in str(exc.value) and "oc get crd" in str(exc.value)
    assert writes(api) == []
    with pytest.raises(ResourceMissing):
        nad.verify(lab, target)


def test_validate_live_sees_node_interfaces(api, kubeconfig, target):
    seed(api, "missing-interface")
    f = nad.validate(make_lab(kubeconfig), target)
    failed = f.failed()
    assert [(r.check, r.subject) for r in failed] == [("master on TMM nodes", "external")]
    assert "worker-2" in failed[0].evidence


def test_secret_token_never_in_results(api, kubeconfig, target):
    FAKE_TOKEN = api.token  # the bearer token the stand-in server requires

    seed(api, nads=False)
    api.add(foreign("macvlan-external", "ens256"))
    lab = make_lab(kubeconfig)
    res = nad.apply(lab, target)
    text = res.to_frame().to_string() + res._repr_html_() + str(res.findings.to_dict())
    text += nad.verify(lab, target)._repr_html_()
    assert FAKE_TOKEN not in text


# -- the notebook against the stand-in API server (live target) ------------------------

ROOT = paths.ROOT


def live_params(tmp_path: Path, kubeconfig: Path, **nad_options: Any) -> Path:
    """params/demo.yaml with target kind live pointing at the kubeconfig fixture."""
    from ruamel.yaml import YAML

    demo = DEMO_PARAMS
    data = params.read_yaml(demo)
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig), "retries": 0}
    # Keep the demo's relative paths valid from tmp_path.
    if data.get("install", {}).get("values_file"):
        data["install"]["values_file"] = str((demo.parent / data["install"]["values_file"]).resolve())
    if data.get("debug", {}).get("analyse"):
        data["debug"]["analyse"] = [str((demo.parent / p).resolve()) for p in data["debug"]["analyse"]]
    if nad_options:
        data["nad"] = nad_options
    out = tmp_path / "live.yaml"
    with open(out, "w") as fh:
        YAML().dump(data, fh)
    return out


@pytest.mark.slow
def test_notebook_applies_and_tears_down_on_a_live_target(api, kubeconfig, tmp_path, monkeypatch):
    from tests.support.notebooks import execute

    FAKE_TOKEN = api.token  # the bearer token the stand-in server requires

    api.seed_from_snapshot(DEMO_DIR / "snapshot")
    assert api.remove(NAD, "macvlan-internal", "default")  # so the run has one to create
    run = execute("network-attachments", live_params(tmp_path, kubeconfig), tmp_path / "apply")
    summary, record = run.summary, run.record
    assert summary["status"] == "passed" and summary["target"]["kind"] == "live"
    applied = json.loads((record / "network-attachments" / "apply.json").read_text())
    assert not applied["planned"]
    assert [(c["name"], c["result"]) for c in applied["changes"]] == [
        ("macvlan-internal", "created"),
        ("macvlan-external", "unchanged"),
    ]
    assert api.get_object(NAD, "macvlan-internal", "default")["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "spkrunbook"
    }
    assert summary["data"]["result"]["cni_networks"] == "default/macvlan-internal,default/macvlan-external"
    assert FAKE_TOKEN not in run.text() + json.dumps(summary)

    # Someone re-created the external NAD by hand from the seed: equal content, no label of ours.
    by_hand = labdata.nad("macvlan-external", "ens256")
    by_hand["metadata"]["labels"] = {"team": "net"}
    api.add(by_hand)
    summary = execute("network-attachments", live_params(tmp_path, kubeconfig, teardown=True), tmp_path / "teardown").summary
    removal = summary["findings"][-1]
    assert removal["title"] == "NetworkAttachmentDefinitions removed"
    assert [r["evidence"].split(":")[0] for r in removal["rows"]] == ["deleted", "kept"]
    assert api.get_object(NAD, "macvlan-internal", "default") is None
    assert api.get_object(NAD, "macvlan-external", "default") is not None


def test_a_create_whose_response_was_lost_is_read_back_and_recorded_as_created(api, kubeconfig):
    """The server carried out the POST but answered after the client's timeout: the record says what
    the cluster shows (created, response lost), never failed-and-present."""
    if not isinstance(api, FakeApiServer):
        pytest.skip("a late answer is injected by the stand-in; the real server answers on time")
    seed(api, nads=False)
    lab = make_lab(kubeconfig)
    slow = LiveTarget.from_kubeconfig(kubeconfig, retries=0, request_timeout=0.5)
    try:
        api.answer_late("POST", r"/network-attachment-definitions$", 2.0)
        res = nad.apply(lab, slow)
        first = res.changes[0]
        assert (first.action, first.applied, first.outcome(False)) == ("create", True, "created")
        assert "response was lost" in first.reason and "read back: present with our content" in first.reason
        assert res.ok and all(c.applied for c in res.changes)
        verified = nad.verify(lab, slow)
        assert verified.findings.ok, "apply and verify agree"
    finally:
        slow.close()
