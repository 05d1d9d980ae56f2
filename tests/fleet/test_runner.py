"""What a fleet's pod runs (``spkrunbook fleet run``), against the real S3 server: its index's lab into the
store; a retry of the same Job run resumes the incomplete record or repeats the verdict without running;
``fleet status`` reads each lab's newest record.

No kubelet here: the pod is this process (or a subprocess killed with SIGKILL, as a node loss kills a pod);
the environment is what the rendered Job gives the pod (``JOB_COMPLETION_INDEX``, ``SPKRUNBOOK_FLEET_RUN``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import cli, fleet
from spkrunbook.fleet import render, runner
from spkrunbook.record import remote
from tests.support import fleetlabs

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def _index(tmp_path: Path, s3: Any, variants: list[tuple[str, str, list[str] | None]]) -> tuple[Path, fleet.FleetPlan]:
    """A fleet of variant labs and its fleet.json with the params where this machine has them."""
    labs = tmp_path / "labs"
    entries = []
    for name, variant, steps in variants:
        fleetlabs.variant_lab(labs, name, variant, steps=steps)
        entries.append({"params": f"labs/{name}.yaml"})
    plan = fleet.load(fleetlabs.fleet_file(tmp_path, entries, records=s3.url))
    index = render.fleet_index(plan)
    for entry in index["labs"]:
        entry["params"] = str(labs / f"{entry['lab']}.yaml")  # the pod reads /etc/spkrunbook/labs/...
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(index))
    return path, plan


def test_each_index_runs_its_lab_and_a_retry_repeats_the_verdict(s3: Any, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path, plan = _index(tmp_path, s3, [("lab-ok", "ok", ["prerequisites"]), ("lab-nohp", "no-hugepages", ["prerequisites"])])
    monkeypatch.setenv("SPKRUNBOOK_FLEET_RUN", "job-uid-1")
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
    assert runner.run_index(path) == 1  # the check failed: exit 1, the record is the verdict
    store = remote.open_store(s3.url)
    (name,) = runner.lab_records(store, "lab-nohp")
    run = store.read_json(name)
    assert run is not None
    assert run["status"] == "failed" and run["fleet"] == {"name": "spk-labs", "index": 1, "run": "job-uid-1", "attempt": 1}
    # a cluster without podFailurePolicy retries exit 1: the retry repeats the verdict and runs nothing
    t0 = time.monotonic()
    assert runner.run_index(path) == 1
    assert time.monotonic() - t0 < 10 and runner.lab_records(store, "lab-nohp") == [name]
    assert runner.run_index(path, 0) == 0
    # tomorrow's Job (another uid) runs anew
    monkeypatch.setenv("SPKRUNBOOK_FLEET_RUN", "job-uid-2")
    assert runner.run_index(path) == 1 and len(runner.lab_records(store, "lab-nohp")) == 2
    rows = runner.status([lab.name for lab in plan.labs], store)
    assert [(r["lab"], r["status"]) for r in rows] == [("lab-ok", "passed"), ("lab-nohp", "failed")]
    assert cli.main(["fleet", "status", str(plan.source), "--json"]) == 0


def test_a_killed_pod_is_retried_and_resumes(s3: Any, tmp_path: Path) -> None:
    path, _ = _index(tmp_path, s3, [("lab-demo", "demo", None)])
    env = {**os.environ, "SPKRUNBOOK_FLEET_RUN": "job-uid-kill", "JOB_COMPLETION_INDEX": "0"}
    pod = subprocess.Popen([sys.executable, "-m", "spkrunbook", "fleet", "run", str(path)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = remote.open_store(s3.url)
    deadline = time.monotonic() + 300
    name = None
    while time.monotonic() < deadline:  # SIGKILL (no grace: a lost node) once two steps are in the store
        names = runner.lab_records(store, "lab-demo")
        run = store.read_json(names[0]) if names else None
        if run and sum(s.get("status") == "passed" for s in run["steps"]) >= 2:
            name = names[0]
            break
        time.sleep(0.5)
    os.killpg(pod.pid, signal.SIGKILL)
    pod.wait(timeout=30)
    assert name is not None, "the pod never synced two passed steps"
    killed = store.read_json(name)
    assert killed is not None
    assert killed["status"] == "incomplete"
    done = subprocess.run([sys.executable, "-m", "spkrunbook", "fleet", "run", str(path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    newest = runner.lab_records(store, "lab-demo")[0]
    run = store.read_json(newest)
    assert run is not None
    assert newest != name and run["status"] == "passed"
    assert run["resumed_from"] == store.record_url(name) and run["fleet"]["attempt"] == 2
    carried = [s["step"] for s in run["steps"] if s.get("carried_from") == name]
    assert carried[:2] == ["prerequisites", "network-attachments"]
