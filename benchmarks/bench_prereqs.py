#!/usr/bin/env python3
"""Prerequisite checks on a large cluster: API requests and wall time.

Seeds an API server with the demo lab grown to N worker nodes (default 1,000, plus
3 control-plane nodes), then runs every prerequisite check through the official
kubernetes client over HTTP, the way a live run does. Reports the number of API
requests (the checks list resources; they never fetch node by node) and the wall
time, next to a node-by-node baseline (one GET per TMM node for the same node data)
run side by side.

``--server stand-in`` (default) uses the stand-in API server; ``--server real`` the
real etcd + kube-apiserver of the ``apiserver`` test tier (nodes and NodeNetworkStates
posted directly; built by scripts/build_k8s.sh); ``--server both`` prints both.

Usage: python benchmarks/bench_prereqs.py [--workers N] [--repeat R] [--server stand-in|real|both]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spkrunbook import params  # noqa: E402
from spkrunbook.cluster.live import LiveTarget  # noqa: E402
from spkrunbook.steps import prereqs  # noqa: E402
from tests.support import FakeApiServer  # noqa: E402
from tests.support.labdata import lab_objects  # noqa: E402
from tests.support.paths import DEMO_PARAMS  # noqa: E402


def measure(name: str, api: Any, kubeconfig: Path, workers: int, repeat: int, seeded: int, seed_s: float) -> None:
    """Run the checks ``repeat`` times and the node-by-node baseline; ``api.requests`` counts the requests."""
    base = params.read_yaml(DEMO_PARAMS)
    base["target"] = {"kind": "live", "kubeconfig": str(kubeconfig), "request_timeout": 60}
    lab = params.parse(base)
    walls, reqs, rows = [], [], 0
    for _ in range(repeat):
        target = LiveTarget.from_params(lab.target)
        api.reset_requests()
        t0 = time.perf_counter()
        findings = prereqs.run(lab, target)
        walls.append(time.perf_counter() - t0)
        reqs.append(len(api.requests))
        rows = len(findings.checks.rows)
        target.close()
        assert findings.ok, findings.to_frame().to_string()
    target = LiveTarget.from_params(lab.target)
    api.reset_requests()
    t0 = time.perf_counter()
    for i in range(workers):
        target.get("nodes", f"worker-{i}")
    per_node_s = time.perf_counter() - t0
    per_node_reqs = len(api.requests)
    target.close()
    print(f"[{name}] seeded with {seeded} objects ({workers} workers + 3 control-plane) in {seed_s:.1f}s")
    print(f"[{name}] prerequisite checks: {rows} result rows, {reqs[0]} API requests per run "
          f"(runs: {', '.join(str(r) for r in reqs)}), wall median {statistics.median(walls):.2f}s "
          f"(min {min(walls):.2f}s, max {max(walls):.2f}s, {repeat} runs)")
    print(f"[{name}] node-by-node baseline (GET each node only): {per_node_reqs} requests, {per_node_s:.2f}s "
          f"-> the list-based checks use {per_node_reqs / reqs[0]:.0f}x fewer requests")


def stand_in(workers: int, repeat: int) -> None:
    with FakeApiServer() as api, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        n = api.add_many(lab_objects("ok", workers=workers))
        seed_s = time.perf_counter() - t0
        measure("stand-in", api, api.write_kubeconfig(Path(tmp) / "kubeconfig"), workers, repeat, n, seed_s)


def real(workers: int, repeat: int) -> None:
    from tests.support import realcluster

    with realcluster.RealCluster(realcluster.binaries(), controllers=False) as cluster, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        n = cluster.seed(lab_objects("ok", workers=workers))
        seed_s = time.perf_counter() - t0
        api = realcluster.RealApi(cluster)
        measure(f"real kube-apiserver {cluster.bins.kubernetes_version}", api, api.write_kubeconfig(Path(tmp) / "kc"),
                workers, repeat, n, seed_s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", choices=("stand-in", "real", "both"), default="stand-in")
    args = ap.parse_args()
    if args.server in ("stand-in", "both"):
        stand_in(args.workers, args.repeat)
    if args.server in ("real", "both"):
        real(args.workers, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
