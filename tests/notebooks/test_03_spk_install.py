"""notebooks/03-spk-install.ipynb executed for real (papermill + python3 kernel): demo snapshot and live stand-in."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import params
from tests.support import FakeApiServer, labdata, paths
from tests.support.notebooks import WIDGET_VIEW, execute
from tests.support.paths import DEMO_PARAMS

ROOT = paths.ROOT
PASSWORD = "registry-pw-NOTEBOOK-DO-NOT-LEAK"


def run_notebook(tmp_path: Path, params_file: Path, monkeypatch: pytest.MonkeyPatch, *, interactive: bool = False,
                 expect_error: bool = False) -> tuple[Any, dict[str, Any], Path]:
    run = execute("spk-install", params_file, tmp_path, interactive=interactive, expect_error=expect_error)
    return run.nb, run.summary, run.record


def outputs_of(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.slow
def test_notebook_plans_on_the_demo_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb, summary, record = run_notebook(tmp_path, DEMO_PARAMS, monkeypatch)
    assert summary["status"] == "passed", json.dumps(summary["findings"], indent=1)
    assert [f["title"] for f in summary["findings"]] == ["SPK values", "MTU agreement (before the install)",
                                                        "F5SPKVlan CRs", "helm upgrade --install",
                                                        "TMM verification", "helm uninstall"]
    assert summary["data"]["result"]["helm"]["ran"] is False
    files = {p.relative_to(record).as_posix() for p in record.rglob("*") if p.is_file()}
    assert {
        "spk-install/values.yaml", "spk-install/values.diff", "spk-install/values-changes.json",
        "spk-install/f5spkvlans.yaml", "spk-install/f5spkvlans-plan.json", "spk-install/helm-command.sh",
        "spk-install/tmm-verification.json",
    } <= files
    merged = (record / "spk-install" / "values.yaml").read_text()
    assert "topologyManager: false" in merged and 'password: "***"' in merged
    assert "REPLACE-WITH-REGISTRY-TOKEN" not in json.dumps(outputs_of(nb)) + "".join(
        p.read_text() for p in record.rglob("*") if p.is_file())
    outs = outputs_of(nb)
    assert not any(WIDGET_VIEW in o.get("data", {}) for o in outs)
    assert not any(o.get("output_type") == "error" for o in outs)
    text = json.dumps(outs)
    assert "TMM_MAPRES_ADDL_VETHS_ON_DP" in text and "kind: F5SPKVlan" in text and "QoS Guaranteed" in text


@pytest.mark.slow
def test_notebook_shows_the_form_when_interactive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb, summary, _ = run_notebook(tmp_path, DEMO_PARAMS, monkeypatch, interactive=True)
    assert summary["status"] == "passed"
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs_of(nb))


def live_params(tmp_path: Path, kubeconfig: Path, **install: Any) -> Path:
    data = params.load(DEMO_PARAMS).model_dump(mode="json")
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig)}
    data["install"].update({"wait_timeout": 20, **install})
    data["debug"]["analyse"] = []
    pfile = tmp_path / "live.json"
    pfile.write_text(json.dumps(data))
    return pfile


@pytest.mark.slow
def test_notebook_on_the_live_stand_in(api: FakeApiServer, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api.add_many(o for o in labdata.lab_objects() if o["kind"] != "F5SPKVlan")
    _nb, summary, record = run_notebook(tmp_path, live_params(tmp_path, kubeconfig), monkeypatch)
    assert summary["status"] == "passed", json.dumps(summary["findings"], indent=1)
    assert summary["target"]["kind"] == "live"
    created = json.loads((record / "spk-install" / "f5spkvlans-apply.json").read_text())
    assert [c["result"] for c in created["changes"]] == ["created", "created"]
    assert api.get_object("f5-spk-vlans", "internal", "default")["spec"]["internal"] is True
    assert "helm-command.sh" in {p.name for p in record.rglob("*")}  # no chart given: recorded, not run


@pytest.mark.slow
def test_notebook_live_fails_on_a_wrong_tmm(api: FakeApiServer, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for o in labdata.lab_objects():
        if o["kind"] == "Pod" and o["metadata"]["name"] == labdata.TMM_POD:
            o["status"]["qosClass"] = "Burstable"
        api.add(o)
    nb, summary, _ = run_notebook(tmp_path, live_params(tmp_path, kubeconfig, wait_timeout=5), monkeypatch, expect_error=True)
    assert summary["status"] == "failed"
    failed = [r for f in summary["findings"] for r in f["rows"] if r["status"] == "fail"]
    assert [r["check"] for r in failed] == ["QoS Guaranteed"]
    assert any(o.get("ename") == "StepFailed" for o in outputs_of(nb) if o.get("output_type") == "error")


@pytest.mark.slow
def test_notebook_live_runs_helm_streaming(api: FakeApiServer, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    api.add_many(labdata.lab_objects())
    from tests.support import fakehelm

    bindir = tmp_path / "bin"
    fakehelm.install(bindir)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELM_LOG", str(tmp_path / "helm.json"))
    chart = tmp_path / "f5ingress-5.0.29.tgz"
    chart.write_bytes(b"not really a chart")
    nb, summary, record = run_notebook(tmp_path, live_params(tmp_path, kubeconfig, chart=str(chart)), monkeypatch)
    assert summary["status"] == "passed", json.dumps(summary["findings"], indent=1)
    assert summary["data"]["result"]["helm"]["ran"] is True
    argv = json.loads((tmp_path / "helm.json").read_text())["argv"]
    assert argv[:4] == ["upgrade", "--install", "f5ingress", str(chart)]
    shown = json.dumps(outputs_of(nb))  # helm's lines and the TMM wait, in the one updating progress output
    assert "STATUS: deployed" in shown
    assert "STATUS: deployed" in (record / "spk-install" / "helm-output.txt").read_text()
    assert "TMM pod(s) Ready" in shown
