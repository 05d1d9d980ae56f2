"""runbook + records + CLI: headless runs with a real kernel, exit codes, records, secrets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import nbformat
import pytest

from spkrunbook import cli, runbook
from spkrunbook import record as records
from tests.support import labdata, paths
from tests.support.apiserver import write_kubeconfig
from tests.support.paths import DEMO_DIR, DEMO_PARAMS, NOTEBOOKS_DIR

ROOT = paths.ROOT
DEMO = DEMO_PARAMS

pytestmark = pytest.mark.slow


def demo_text() -> str:
    """The demo params with its relative paths made absolute (for params files in tmp_path)."""
    return DEMO.read_text().replace("./", f"{DEMO_DIR}/")


def params_for(tmp_path: Path, snapshot: Path, extra: str = "", name: str = "lab.yaml") -> Path:
    text = demo_text().replace(f"snapshot: {DEMO_DIR}/snapshot", f"snapshot: {snapshot}")
    p = tmp_path / name
    p.write_text(text + extra)
    return p


def test_prerequisites_step_passes_and_leaves_a_record(tmp_path, capsys):
    rc = cli.main(["run", str(DEMO), "--step", "prerequisites", "--records", str(tmp_path / "rec")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "step 1/1 prerequisites ..." in out and "step 1/1 prerequisites: passed" in out
    assert " cell " not in out, "a log gets a line per step, not per cell (--verbose adds them)"
    (record,) = [p for p in (tmp_path / "rec").iterdir() if p.is_dir()]
    assert record.name.endswith("-demo")
    run = json.loads((record / "run.json").read_text())
    assert run["status"] == "passed" and run["lab"] == "demo"
    assert run["steps"][0]["step"] == "prerequisites" and run["steps"][0]["status"] == "passed"
    assert run["target"]["kind"] == "snapshot" and run["versions"]["papermill"]
    assert run["params"]["networks"]["internal"]["master"] == "ens224"
    nb = nbformat.read(record / "01-prerequisites.ipynb", as_version=4)
    meta = nb.metadata["spkrunbook"]
    assert meta["status"] == "passed" and meta["result"]["findings"][0]["counts"]["pass"] == 23
    assert "widgets" not in nb.metadata
    html = (record / "01-prerequisites.html").read_text()
    assert "Prerequisites" in html and "PASS" in html
    assert (record / "prerequisites" / "prerequisites.csv").is_file()
    # the records listing shows it
    assert cli.main(["records", "--records", str(tmp_path / "rec")]) == 0
    assert record.name in capsys.readouterr().out


def test_failed_check_fails_the_run_with_error_visible(tmp_path, capsys):
    labdata.write_snapshot(labdata.lab_objects("openshift-sdn"), tmp_path / "sdn")
    p = params_for(tmp_path, tmp_path / "sdn")
    rc = cli.main(["run", str(p), "--records", str(tmp_path / "rec")])
    assert rc == 1
    (record,) = [p for p in (tmp_path / "rec").iterdir() if p.is_dir()]
    run = json.loads((record / "run.json").read_text())
    assert run["status"] == "failed"
    assert [s["status"] for s in run["steps"]] == ["failed", "skipped", "skipped", "skipped"]
    error = run["steps"][0]["error"]
    assert error["name"] == "StepFailed" and "network-type" in error["message"]
    assert error["hint"].startswith("migrate the cluster to OVN-Kubernetes") and isinstance(error["cell"], int)
    nb = nbformat.read(record / "01-prerequisites.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "StepFailed" and "OpenShiftSDN" in errors[0].evalue


def test_keep_going_runs_the_rest(tmp_path):
    labdata.write_snapshot(labdata.lab_objects("openshift-sdn"), tmp_path / "sdn")
    p = params_for(tmp_path, tmp_path / "sdn", "\nsteps: [prerequisites, prerequisites]\n")
    result = runbook.run(p, records_root=tmp_path / "rec", keep_going=True)
    assert [s.status for s in result.steps] == ["failed", "failed"] and result.exit_code == 1


def test_bad_params_exit_2_and_nothing_runs(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text(demo_text().replace("master: ens224", "master: 'ens 224'").replace("cpu: 1", "cpu: 0.5"))
    rc = cli.main(["run", str(p), "--records", str(tmp_path / "rec")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "networks.internal.master: 'ens 224' is not a valid interface name" in err and "tmm.cpu" in err
    assert not (tmp_path / "rec").exists()


def test_unreachable_cluster_exit_2_before_any_notebook(tmp_path, capsys):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kc = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")
    p = tmp_path / "live.yaml"
    p.write_text(demo_text().replace(f"kind: snapshot\n  snapshot: {DEMO_DIR}/snapshot", f"kind: live\n  kubeconfig: {kc}\n  retries: 0\n  request_timeout: 2"))
    rc = cli.main(["run", str(p), "--records", str(tmp_path / "rec")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"127.0.0.1:{port}" in err and "Traceback" not in err
    assert not (tmp_path / "rec").exists()


def test_no_secret_lands_in_the_record(tmp_path, monkeypatch, api):
    """Plant secrets in the kubeconfig and params of a live run; none may appear in any file."""
    kube_token = "sha256~fake-token-DO-NOT-LEAK-1234567890"
    client_key = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktjd2dnU2pBZ0VBQW9JQkFRQ3gK"
    registry_pw = "registry-Pa55w0rd-planted-42"
    monkeypatch.setenv("PLANTED_PW", registry_pw)
    api.seed_from_snapshot(DEMO_DIR / "snapshot")
    kc = write_kubeconfig(tmp_path / "kubeconfig", api.url, token=kube_token)
    cfg = json.loads(kc.read_text())
    cfg["users"][0]["user"]["client-key-data"] = client_key
    kc.write_text(json.dumps(cfg))
    p = tmp_path / "secret.yaml"
    p.write_text(
        demo_text()
        .replace(f"kind: snapshot\n  snapshot: {DEMO_DIR}/snapshot", f"kind: live\n  kubeconfig: {kc}")
        .replace("install:\n", "install:\n  image_credentials:\n    registry: r.example\n    username: spk\n    password: ${PLANTED_PW}\n")
    )
    result = runbook.run(p, records_root=tmp_path / "rec", steps=["prerequisites"])
    assert result.steps[0].status == "passed", result.steps
    files = [f for f in result.record.rglob("*") if f.is_file()]
    assert len(files) >= 5
    for f in files:
        data = f.read_bytes()
        for secret in (kube_token, client_key, registry_pw):
            assert secret.encode() not in data, f"{secret[:8]}... leaked into {f.relative_to(result.record)}"


def test_concurrent_runs_never_share_a_record(tmp_path):
    made: list[Path] = []
    lock = threading.Lock()

    def make() -> None:
        p = records.create(tmp_path, "demo")
        with lock:
            made.append(p)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in made}) == 8


def test_interrupted_run_is_marked_and_earlier_records_untouched(tmp_path):
    first = runbook.run(DEMO, records_root=tmp_path, steps=["prerequisites"])
    before = {f: f.read_bytes() for f in first.record.rglob("*") if f.is_file()}

    def interrupt(ev):
        if ev["event"] == "cell" and ev["cell"] == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runbook.run(DEMO, records_root=tmp_path, steps=["prerequisites"], progress=interrupt)
    runs = {p.name: records.read_run(p) for p in tmp_path.iterdir() if p.is_dir()}
    assert len(runs) == 2
    statuses = sorted(r["status"] for r in runs.values())
    assert statuses == ["incomplete", "passed"]
    assert any(r.get("interrupted") for r in runs.values())
    assert before == {f: f.read_bytes() for f in first.record.rglob("*") if f.is_file()}
    listing = records.list_records(tmp_path)
    assert sorted(listing.status) == ["incomplete", "passed"]


def test_relative_records_folder_holds_every_artifact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(DEMO), "--step", "prerequisites", "--records", "rel-records"]) == 0
    (record,) = [p for p in (tmp_path / "rel-records").iterdir() if p.is_dir()]
    assert (record / "prerequisites" / "prerequisites.json").is_file()
    assert (record / "steps" / "prerequisites.json").is_file()
    assert not (NOTEBOOKS_DIR / "rel-records").exists()


def test_a_live_run_connects_once_and_each_kernel_reads_the_lab_from_the_record(tmp_path, api):
    """Validate once, connect once: one GET /version for the whole run (the parent's), however many steps."""
    api.seed_from_snapshot(DEMO_DIR / "snapshot")
    kc = write_kubeconfig(tmp_path / "kubeconfig", api.url, token=api.token)
    p = tmp_path / "live.yaml"
    p.write_text(demo_text().replace(f"kind: snapshot\n  snapshot: {DEMO_DIR}/snapshot", f"kind: live\n  kubeconfig: {kc}"))
    api.reset_requests()
    result = runbook.run(p, records_root=tmp_path / "rec", steps=["prerequisites", "network-attachments"])
    assert [s.status for s in result.steps] == ["passed", "passed"], result.steps
    versions = [r for r in api.requests if r.path == "/version"]
    assert len(versions) == 1, f"{len(versions)} GET /version in a 2-step run"
    lab_json = json.loads((result.record / "lab.json").read_text())
    assert lab_json["lab"] == "demo" and "kubeconfig" in json.dumps(lab_json)


def test_a_notebook_the_record_cannot_complete_makes_its_step_an_error(tmp_path, monkeypatch):
    """The HTML of a step is written while the next step runs; if it cannot be written the step is an error
    in the result and in run.json, as if it had failed at once, and the other steps are as they were."""
    real = records.render_html

    def render(ipynb: Path, scrubber: object) -> Path:
        if ipynb.name.startswith("02-"):
            raise OSError("no space left on device")
        return real(ipynb, scrubber)

    monkeypatch.setattr(records, "render_html", render)
    result = runbook.run(DEMO, records_root=tmp_path / "rec", steps=["prerequisites", "network-attachments",
                                                                    "spk-install"])
    assert [s.status for s in result.steps] == ["passed", "error", "passed"]
    bad = result.steps[1]
    assert bad.error is not None and "could not be completed" in bad.error.message and "no space" in bad.error.message
    assert bad.html == "" and (result.record / "02-network-attachments.ipynb").is_file()
    assert not (result.record / "02-network-attachments.html").exists()
    run = json.loads((result.record / "run.json").read_text())
    assert [s["status"] for s in run["steps"]] == ["passed", "error", "passed"] and run["status"] == "failed"
    assert run["steps"][1]["html"] == "" and "could not be completed" in run["steps"][1]["error"]["message"]
    assert (result.record / "01-prerequisites.html").is_file() and (result.record / "03-spk-install.html").is_file()
