"""The least RBAC ``fleet plan`` renders is enough, and no more, on the real kube-apiserver: the prerequisites
step run as the fleet's ServiceAccount finds what the admin finds, and a NAD write is forbidden to it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import fleet, runbook
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import Forbidden
from spkrunbook.fleet import apply
from tests.support import fleetlabs

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]
NS = "spk-runbooks"


def _kubeconfig(cluster: Any, token: str, path: Path) -> Path:
    ca = base64.b64encode(cluster.ca_file.read_bytes()).decode()
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "real", "cluster": {"server": cluster.url, "certificate-authority-data": ca}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "real", "user": "sa", "namespace": "default"}}]}))
    return path


def _lab(folder: Path, name: str, kubeconfig: Path) -> Path:
    p = fleetlabs.variant_lab(folder, name, "ok", steps=["prerequisites"])
    text = p.read_text()
    p.write_text(text[:text.index("target:")] + f"target:\n  kind: live\n  kubeconfig: {kubeconfig}\n"
                 + text[text.index("networks:"):])
    return p


def test_the_service_account_reads_what_the_prerequisites_need_and_writes_nothing(cluster: Any, tmp_path: Path) -> None:
    labs = tmp_path / "labs"
    live = fleetlabs.variant_lab(labs, "live", "ok", steps=["prerequisites", "debugging"])
    text = live.read_text()
    live.write_text(text[:text.index("target:")] + "target:\n  kind: live\n  in_cluster: true\n" + text[text.index("networks:"):])
    plan = fleet.load(fleetlabs.fleet_file(tmp_path, [{"params": "labs/live.yaml"}], namespace=NS))
    admin = LiveTarget.from_kubeconfig(cluster.kubeconfig())
    try:
        acts = {f"{r.kind}/{c.ref}": c.action for r in apply.apply(plan, admin) for c in r.changes}
        assert acts["ServiceAccount/spk-runbooks/spk-labs-runner"] in ("create", "unchanged")
        assert any(k.startswith("ClusterRole/") for k in acts)
        token = cluster.kubectl("-n", NS, "create", "token", "spk-labs-runner", "--duration=10m").stdout.strip()
        as_sa = runbook.run(_lab(tmp_path / "sa", "as-sa", _kubeconfig(cluster, token, tmp_path / "sa.kubeconfig")),
                            records_root=tmp_path / "records")
        as_admin = runbook.run(_lab(tmp_path / "admin", "as-admin", cluster.kubeconfig()),
                               records_root=tmp_path / "records")
        assert as_sa.steps[0].status == as_admin.steps[0].status
        sa_rows = json.loads((as_sa.record / "steps" / "prerequisites.json").read_text())["findings"]
        admin_rows = json.loads((as_admin.record / "steps" / "prerequisites.json").read_text())["findings"]
        strip = [[(r["check"], r["subject"], r["status"]) for r in t["rows"]] for t in admin_rows]
        assert [[(r["check"], r["subject"], r["status"]) for r in t["rows"]] for t in sa_rows] == strip
        assert not any("forbidden" in r["evidence"].lower() for t in sa_rows for r in t["rows"])
        sa = LiveTarget.from_kubeconfig(tmp_path / "sa.kubeconfig")
        nad = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
               "metadata": {"name": "not-allowed", "namespace": "default"}, "spec": {"config": "{}"}}
        with pytest.raises(Forbidden):
            sa.create("network-attachment-definitions", nad, "default")
        sa.close()
    finally:
        admin.close()
