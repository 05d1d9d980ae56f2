"""A fleet of labs as a real Indexed Job: its pods run the runtime image on the real node and write their
records to the real S3 server; a pod killed mid-run is retried by the Job and the retry resumes the lab.

Everything is the product's path: ``spkrunbook fleet plan`` renders the objects, ``spkrunbook fleet apply``
applies them to the real API server; the job controller (kube-controller-manager) runs the Indexed Job with
the rendered ``podFailurePolicy``; the kubelet runs each index's pod with containerd and runc from the image
``scripts/build_image.sh`` built offline (mmdebstrap + pip + umoci) and this module imports into the node's
containerd; the pods reach SeaweedFS (the session's ``s3_server``) and the API server (for the live lab)
over the cluster network at the node's address. The fleet has six labs: the bundled demo lab (4 steps,
passes with warnings; its first pod is killed with SIGKILL through ``ctr`` once a step is in the store), the
``ok`` variant (passes with warnings), three variants that fail the prerequisites, and one live lab against
this cluster through a kubeconfig Secret.

What is not real, and says so: no kube-proxy runs, so the two loopback listeners are made reachable from the
pods by the DNAT rules of ``DataPlane.expose`` (what kube-proxy would write); the variant snapshots reach the
pods on a ``hostPath`` volume (one node: a real cluster would mount a PVC of must-gathers).

The figures (wall time, each lab's pod time and run time, upload time, objects and bytes per record) are
printed (``-s``) and written to ``$SPKRUNBOOK_FLEET_FIGURES`` when it is set; nothing here asserts a time.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook.cluster.base import Obj
from spkrunbook.fleet import apply as fleet_apply
from spkrunbook.fleet import runner
from spkrunbook.record import remote
from tests.dataplane import helpers as h
from tests.support import fleetlabs
from tests.support import image as runtime_image
from tests.support.dataplane import CLUSTER_CIDR, DataPlane, NodeCluster
from tests.support.realcluster import ADMIN
from tests.support.s3server import SeaweedS3

pytestmark = [pytest.mark.dataplane, pytest.mark.s3, pytest.mark.slow, pytest.mark.timeout(1800)]

NS = "spk-runbooks"
FLEET = "spk-labs"
MOUNT = "/srv/labs"
#: index -> (lab, variant, steps, what its record must say, the pod's exit code)
LABS: list[tuple[str, str, list[str] | None, str, int]] = [
    ("lab-demo", "demo", None, "passed", 0),
    ("lab-ok", "ok", ["prerequisites", "network-attachments", "spk-install"], "passed", 0),
    ("lab-nohp", "no-hugepages", None, "failed", 1),
    ("lab-sdn", "openshift-sdn", None, "failed", 1),
    ("lab-noif", "missing-interface", None, "failed", 1),
    ("lab-live", "live", ["prerequisites", "network-attachments"], "passed", 0),
]
KILLED = 0  # the index whose first pod is killed
JOB = fleet_apply.KINDS[("batch/v1", "Job")]
CONFIGMAPS = fleet_apply.KINDS[("v1", "ConfigMap")]


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "spkrunbook"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _ts(stamp: str | None) -> float | None:
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))) if stamp else None


@dataclass
class FleetRun:
    """What the run left, for the tests below to judge."""

    folder: Path
    plan_text: str
    apply_out: str
    store_url: str
    job: Obj
    pods: list[Obj]
    logs: dict[str, str]
    killed_record: str
    killed_run: dict[str, Any]
    killed_pod: str
    secrets: list[str]
    figures: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def runtime_image_dir() -> Path:
    try:
        return runtime_image.build()
    except runtime_image.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the fleet on the dataplane tier: {exc}", pytrace=False)
        pytest.skip(f"the runtime image: {exc}")


@pytest.fixture(scope="module")
def fleet_run(node_cluster: NodeCluster, node: DataPlane, s3_server: SeaweedS3, runtime_image_dir: Path) -> Iterator[FleetRun]:
    a = node_cluster.admin
    h.wipe(node_cluster, node)
    meta = runtime_image.meta(runtime_image_dir)
    import_s = runtime_image.import_into(runtime_image_dir, ["ctr", "-a", str(node.sock), "-n", "k8s.io"])
    s3_at = node.expose(s3_server.port)
    api_at = node.expose(node_cluster.port)
    bucket = s3_server.bucket(f"fleet-pods-{os.getpid()}")
    store_url = f"{bucket}/nightly"
    share = Path(tempfile.mkdtemp(prefix="spkrb-fleet-labs-"))
    share.chmod(0o755)  # the pods run as uid 1001
    try:
        # -- the platform team's part: the namespace, the Secrets, the fleet file ------------------------------
        node_cluster.ensure_namespace(NS)
        access, secret = s3_server.keys["admin"]
        a.create(h.SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "spk-s3", "namespace": NS},
                             "stringData": {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}}, NS)
        kc = json.loads(node_cluster.kubeconfig(ADMIN, share / "kc-admin").read_text())
        (share / "kc-admin").unlink()
        kc["clusters"][0]["cluster"]["server"] = f"https://{api_at}"  # where a pod reaches the API server
        a.create(h.SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "lab-live-kubeconfig", "namespace": NS},
                             "data": {"kubeconfig": base64.b64encode(json.dumps(kc).encode()).decode()}}, NS)
        entries: list[dict[str, Any]] = []
        for name, variant, steps, _, _ in LABS:
            p = fleetlabs.variant_lab(share, name, "ok" if variant == "live" else variant, steps=steps, mounted_at=MOUNT)
            entry: dict[str, Any] = {"params": p.name}
            if variant == "live":
                y = YAML()
                data = y.load(p.read_text())
                data["target"] = {"kind": "live", "kubeconfig": f"/etc/spkrunbook/labs/{name}/kubeconfig", "retries": 1}
                data["description"] = "fleet test lab: this cluster, live, through a kubeconfig Secret"
                with open(p, "w") as fh:
                    y.dump(data, fh)
                entry["kubeconfig"] = {"secret": "lab-live-kubeconfig", "key": "kubeconfig"}
            entries.append(entry)
        for p in share.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        fleet_file = fleetlabs.fleet_file(
            share, entries, fleet=FLEET, namespace=NS, image=meta["name"], image_pull_policy="IfNotPresent",
            records=store_url, parallelism=2, retries=2, deadline="30m",
            s3={"endpoint": f"http://{s3_at}", "region": "us-east-1", "credentials": {"secret": "spk-s3"}},
            volumes=[{"name": "labs", "hostPath": {"path": str(share), "type": "Directory"}}],
            volume_mounts=[{"name": "labs", "mountPath": MOUNT, "readOnly": True}])

        # -- the product's path: plan, then apply ---------------------------------------------------------------
        planned = _cli("fleet", "plan", str(fleet_file))
        assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
        admin_kc = h.kubeconfig(node_cluster, share)
        t0 = time.monotonic()
        applied = _cli("fleet", "apply", str(fleet_file), "--kubeconfig", str(admin_kc))
        admin_kc.unlink()
        assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]

        # -- the Job runs; index KILLED's first pod is killed once its record has a passed step -----------------
        seen: dict[str, dict[str, float]] = {}
        killed_record, killed_pod = "", ""
        deadline = time.monotonic() + 1500
        job: Obj = {}
        with _env(s3_server.env()):
            store = remote.open_store(store_url)  # this process reads the store at 127.0.0.1
            while time.monotonic() < deadline:
                now = time.monotonic()
                pods = a.list("pods", NS, label_selector=f"batch.kubernetes.io/job-name={FLEET}")
                for pod in pods:
                    t = seen.setdefault(pod["metadata"]["name"], {"seen": now})
                    phase = (pod.get("status") or {}).get("phase")
                    if phase == "Running":
                        t.setdefault("running", now)
                    if phase in ("Succeeded", "Failed"):
                        t.setdefault("done", now)
                if not killed_pod:
                    killed_record, killed_pod = _kill_when_a_step_passed(node, store, pods)
                job = a.get(JOB, FLEET, NS)
                if _finished(job):
                    break
                time.sleep(0.5)
            wall = time.monotonic() - t0
            assert _finished(job), f"the Job did not finish in time: {json.dumps(job.get('status'))}"
            assert killed_pod, "index 0 never had a passed step in the store while its first pod ran"
            pods = a.list("pods", NS, label_selector=f"batch.kubernetes.io/job-name={FLEET}")
            logs = {p["metadata"]["name"]: a.logs(NS, p["metadata"]["name"], "runbook", tail_lines=100_000) or "" for p in pods}
            killed_run = store.read_json(killed_record) or {}
            figures = _figures(store, pods, logs, seen, wall, import_s, meta, {killed_pod: killed_record})
        run = FleetRun(share, planned.stdout, applied.stdout, store_url, job, pods, logs, killed_record, killed_run,
                       killed_pod, [secret, node_cluster.tokens[ADMIN]], figures)
        _report(figures, logs)
        yield run
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            node_cluster.kubectl("delete", "job", FLEET, "-n", NS, "--cascade=background", "--ignore-not-found", "--wait=false")
        h.wipe(node_cluster, node)
        for obj in a.list(CONFIGMAPS, NS, label_selector=f"app.kubernetes.io/instance={FLEET}"):
            a.delete(CONFIGMAPS, obj["metadata"]["name"], NS, missing_ok=True)
        for name in ("spk-s3", "lab-live-kubeconfig"):
            a.delete(h.SECRETS, name, NS, missing_ok=True)
        a.delete(fleet_apply.KINDS[("v1", "ServiceAccount")], f"{FLEET}-runner", NS, missing_ok=True)
        node.unexpose()
        shutil.rmtree(share, ignore_errors=True)


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for k, v in values.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        yield


def _finished(job: Obj) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def _index(pod: Obj) -> int:
    return int(pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])


def _kill_when_a_step_passed(node: DataPlane, store: remote.Store, pods: list[Obj]) -> tuple[str, str]:
    """SIGKILL (no grace: what a lost node or the OOM killer does) the container of index KILLED's running pod
    through containerd once its lab's record in the store has a passed step and no verdict."""
    lab = LABS[KILLED][0]
    running = [p for p in pods if _index(p) == KILLED and (p.get("status") or {}).get("phase") == "Running"]
    names = runner.lab_records(store, lab)
    if not running or not names:
        return "", ""
    run = store.read_json(names[0]) or {}
    if run.get("status") != "incomplete" or not any(s.get("status") == "passed" for s in run.get("steps") or []):
        return "", ""
    statuses = running[0]["status"].get("containerStatuses") or []
    cid = (statuses[0].get("containerID") or "").removeprefix("containerd://") if statuses else ""
    if not cid:
        return "", ""
    if node.ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False).returncode != 0:
        return "", ""  # the task ended on its own meanwhile: the test says so if no other chance comes
    return names[0], running[0]["metadata"]["name"]


def _figures(store: remote.Store, pods: list[Obj], logs: dict[str, str], seen: dict[str, dict[str, float]],
             wall: float, import_s: float, meta: dict[str, Any], killed: dict[str, str]) -> dict[str, Any]:
    labs = []
    for pod in sorted(pods, key=lambda p: (_index(p), p["metadata"]["creationTimestamp"])):
        name = pod["metadata"]["name"]
        term = ((pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("terminated") or {}
        flat = re.sub(r"\s*\n\s*", " ", logs.get(name, ""))
        up = re.search(r"uploaded: (\S+) \((\d+) objects, ([\d,]+) bytes, ([\d.]+)s\)", flat)
        record = up.group(1).rstrip("/").rsplit("/", 1)[-1] if up else killed.get(name, "")
        run = store.read_json(record) if record else None
        files = store.files(record) if record else []
        t = seen.get(name, {})
        started, finished = _ts(term.get("startedAt")), _ts(term.get("finishedAt"))
        labs.append({
            "index": _index(pod), "lab": LABS[_index(pod)][0], "pod": name, "exit": term.get("exitCode"),
            "status": (run or {}).get("status", ""), "record": record,
            "pod_s": round(t["done"] - t["seen"], 1) if "done" in t else None,  # created -> terminal, as seen by polling
            "container_s": (finished - started) if started is not None and finished is not None else None,
            "run_s": (run or {}).get("duration_s"),
            "upload_s": float(up.group(4)) if up else None,
            "objects": len(files), "bytes": sum(store.fs.size(f"{store.root}/{record}/{f}") for f in files) if record else 0,
        })
    # from the killed pod seen Failed to its replacement seen: the job controller's per-index back-off
    tries = sorted((p for p in pods if _index(p) == KILLED), key=lambda p: p["metadata"]["creationTimestamp"])
    retry_after = None
    if len(tries) >= 2:
        gone, back = seen.get(tries[0]["metadata"]["name"], {}).get("done"), seen.get(tries[1]["metadata"]["name"], {}).get("seen")
        retry_after = round(back - gone, 1) if gone is not None and back is not None else None
    return {"wall_s": round(wall, 1), "image_import_s": round(import_s, 1), "image": meta, "parallelism": 2,
            "retry_after_s": retry_after, "pods": labs}


def _report(figures: dict[str, Any], logs: dict[str, str]) -> None:
    out = os.environ.get("SPKRUNBOOK_FLEET_FIGURES")
    if out:
        Path(out).write_text(json.dumps(figures, indent=2))
        folder = Path(f"{out}.logs")
        folder.mkdir(exist_ok=True)
        for pod, text in logs.items():
            (folder / f"{pod}.log").write_text(text)
    print(f"\nfleet of {len(LABS)} labs as an Indexed Job on the node, parallelism 2: wall {figures['wall_s']}s "
          f"(image import {figures['image_import_s']}s before it); the killed pod replaced after {figures['retry_after_s']}s")
    print(f"{'idx':>3} {'lab':9} {'exit':>4} {'status':>10} {'pod_s':>6} {'cont_s':>6} {'run_s':>6} {'upload_s':>8} "
          f"{'objects':>7} {'bytes':>11}")
    for r in figures["pods"]:
        print(f"{r['index']:>3} {r['lab']:9} {r['exit']!s:>4} {r['status']:>10} {r['pod_s']!s:>6} {r['container_s']!s:>6} "
              f"{r['run_s']!s:>6} {r['upload_s']!s:>8} {r['objects']:>7} {r['bytes']:>11,}")


# -- the tests --------------------------------------------------------------------------------------------------
def test_the_applied_job_is_what_fleet_plan_renders(fleet_run: FleetRun, node_cluster: NodeCluster) -> None:
    objs = [d for d in YAML(typ="safe").load_all(fleet_run.plan_text) if d]
    (job,) = [o for o in objs if o["kind"] == "Job"]
    assert fleet_apply.same(fleet_run.job, job), "the Job on the server is not the one fleet plan renders"
    spec = fleet_run.job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == len(LABS) and spec["parallelism"] == 2
    assert [r["action"] for r in spec["podFailurePolicy"]["rules"]] == ["FailIndex", "Count", "Ignore"]
    pod = spec["template"]["spec"]
    assert pod["volumes"][-1]["hostPath"]["path"] == str(fleet_run.folder)
    assert "Job" in fleet_run.apply_out and "create" in fleet_run.apply_out


def test_every_lab_ran_in_its_own_pod_with_its_verdict(fleet_run: FleetRun, runtime_image_dir: Path) -> None:
    status = fleet_run.job["status"]
    passed = [i for i, lab in enumerate(LABS) if lab[4] == 0]
    failed = [i for i, lab in enumerate(LABS) if lab[4] == 1]
    assert status["completedIndexes"] == _ranges(passed)
    assert status["failedIndexes"] == _ranges(failed)  # exit 1: FailIndex, the record is the verdict
    assert any(c["type"] == "Failed" and c["reason"] == "FailedIndexes" for c in status["conditions"])
    by_index: dict[int, list[Obj]] = {}
    for pod in fleet_run.pods:
        by_index.setdefault(_index(pod), []).append(pod)
    for i, (lab, _variant, _steps, verdict, code) in enumerate(LABS):
        pods = sorted(by_index[i], key=lambda p: p["metadata"]["creationTimestamp"])
        assert len(pods) == (2 if i == KILLED else 1), f"{lab}: {[p['metadata']['name'] for p in pods]}"
        last = pods[-1]["status"]
        (cs,) = last["containerStatuses"]
        assert cs["image"] == runtime_image.meta(runtime_image_dir)["name"], cs["image"]
        assert cs["state"]["terminated"]["exitCode"] == code, (lab, cs["state"], fleet_run.logs[pods[-1]["metadata"]["name"]][-2000:])
        assert last["phase"] == ("Succeeded" if code == 0 else "Failed")
        # on the cluster network (the store and the API server reached through the node's address), not the host's
        assert not pods[-1]["spec"].get("hostNetwork")
        assert ipaddress.ip_address(last["podIP"]) in ipaddress.ip_network(CLUSTER_CIDR), last.get("podIP")
        row = next(r for r in fleet_run.figures["pods"] if r["pod"] == pods[-1]["metadata"]["name"])
        assert row["status"] == verdict, row


def test_the_records_land_in_the_store_and_the_index_shows_every_lab(fleet_run: FleetRun, s3_server: SeaweedS3) -> None:
    env = {**os.environ, **s3_server.env(), "SPKRUNBOOK_STAGING": str(fleet_run.folder / "host-staging")}
    with _env(s3_server.env()):
        store = remote.open_store(fleet_run.store_url)
        for i, (lab, _v, _s, verdict, _c) in enumerate(LABS):
            names = runner.lab_records(store, lab)
            run = store.read_json(names[0]) or {}
            assert run["status"] == verdict and run["fleet"]["index"] == i and run["fleet"]["name"] == FLEET, (lab, run)
            assert run["fleet"]["run"] == fleet_run.job["metadata"]["uid"]  # the Job's uid, from the downward API
            assert len(names) == (2 if i == KILLED else 1)
        live = store.read_json(runner.lab_records(store, "lab-live")[0]) or {}
        assert live["target"]["kind"] == "live", live["target"]
    done = _cli("fleet", "status", str(fleet_run.folder / "fleet.yaml"), "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert [(r["lab"], r["status"]) for r in rows] == [(lab, verdict) for lab, _v, _s, verdict, _c in LABS]
    index = _cli("records", "index", fleet_run.store_url, env=env)
    assert index.returncode == 0, index.stdout[-2000:] + index.stderr[-2000:]
    with _env(s3_server.env()):
        page = remote.open_store(fleet_run.store_url).fs.cat(f"{fleet_run.store_url.removeprefix('s3://')}/labs.html").decode()
    for lab, *_ in LABS:
        assert lab in page, f"{lab} is not on the index page"


def test_the_killed_pod_is_retried_and_resumes(fleet_run: FleetRun, s3_server: SeaweedS3) -> None:
    killed = next(p for p in fleet_run.pods if p["metadata"]["name"] == fleet_run.killed_pod)
    term = killed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 137  # SIGKILL: no podFailurePolicy rule matches, so it counts towards the retries
    assert fleet_run.killed_run["status"] == "incomplete"
    passed = [s["step"] for s in fleet_run.killed_run["steps"] if s.get("status") == "passed"]
    assert passed
    with _env(s3_server.env()):
        store = remote.open_store(fleet_run.store_url)
        newest = runner.lab_records(store, LABS[KILLED][0])[0]
        run = store.read_json(newest) or {}
    assert newest != fleet_run.killed_record and run["status"] == "passed"
    assert run["resumed_from"] == store.record_url(fleet_run.killed_record)
    assert run["fleet"]["attempt"] == 2 and run["fleet"]["run"] == fleet_run.killed_run["fleet"]["run"]
    assert [s["step"] for s in run["steps"] if s.get("carried_from") == fleet_run.killed_record] == passed
    assert [s["step"] for s in run["steps"]] == ["prerequisites", "network-attachments", "spk-install", "debugging"]


def test_no_secret_in_the_manifests_logs_records_or_keys(fleet_run: FleetRun, s3_server: SeaweedS3,
                                                        node_cluster: NodeCluster) -> None:
    assert all(len(s) >= 20 for s in fleet_run.secrets)
    where: dict[str, str] = {"fleet plan": fleet_run.plan_text, "fleet apply": fleet_run.apply_out,
                             "the Job": json.dumps(fleet_run.job)}
    for name, text in fleet_run.logs.items():
        where[f"log of {name}"] = text
    for cm in node_cluster.admin.list(CONFIGMAPS, NS, label_selector=f"app.kubernetes.io/instance={FLEET}"):
        where[f"ConfigMap {cm['metadata']['name']}"] = json.dumps(cm)
    with _env(s3_server.env()):
        fs = remote.open_store(fleet_run.store_url).fs
        bucket = fleet_run.store_url.removeprefix("s3://").split("/", 1)[0]
        keys = fs.find(bucket)
        assert len(keys) > 50
        where["object keys"] = "\n".join(keys)
        for key in keys:
            where[key] = fs.cat(key).decode("utf-8", errors="replace")
    for secret in fleet_run.secrets:
        leaked = [w for w, text in where.items() if secret in text]
        assert not leaked, f"a secret is in {leaked[:5]}"


def _ranges(indexes: list[int]) -> str:
    """The Job's status notation for indexes: ``[0, 1, 5]`` is ``0,1,5``, ``[2, 3, 4]`` is ``2-4``."""
    groups: list[list[int]] = []
    for i in indexes:
        if groups and groups[-1][-1] == i - 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    # what the real job controller writes: two neighbours as a list, three or more as a range
    return ",".join(",".join(map(str, g)) if len(g) < 3 else f"{g[0]}-{g[-1]}" for g in groups)
