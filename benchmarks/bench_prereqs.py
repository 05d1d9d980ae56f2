#!/usr/bin/env python3
"""Prerequisite checks on a large cluster: API requests and wall time.

Seeds the stand-in API server with the demo lab grown to N worker nodes (default
1,000, plus 3 control-plane nodes), then runs every prerequisite check through
the official kubernetes client over HTTP, the way a live run does. Reports the
number of API requests (the checks list resources; they never fetch node by
node) and the wall time, next to a node-by-node baseline (one GET per TMM node
for the same node data) run side by side.

Usage: python benchmarks/bench_prereqs.py [--workers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spkrunbook import params  # noqa: E402
from spkrunbook.steps import prereqs  # noqa: E402
from spkrunbook.cluster.live import LiveTarget  # noqa: E402
from tests.support import FakeApiServer  # noqa: E402
from tests.support.labdata import lab_objects  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    base = params.read_yaml(ROOT / "params" / "demo.yaml")
    with FakeApiServer() as api, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        n = api.add_many(lab_objects("ok", workers=args.workers))
        seed_s = time.perf_counter() - t0
        kc = api.write_kubeconfig(Path(tmp) / "kubeconfig")
        base["target"] = {"kind": "live", "kubeconfig": str(kc), "request_timeout": 60}
        lab = params.parse(base)
        walls, reqs, rows = [], [], 0
        for _ in range(args.repeat):
            target = LiveTarget.from_params(lab.target)
            api.reset_requests()
            t0 = time.perf_counter()
            findings = prereqs.run(lab, target)
            walls.append(time.perf_counter() - t0)
            reqs.append(api.request_count)
            rows = len(findings.rows)
            assert findings.ok, findings.to_frame().to_string()
        # Baseline: what fetching each TMM node on its own would cost (node data only).
        target = LiveTarget.from_params(lab.target)
        names = [f"worker-{i}" for i in range(args.workers)]
        api.reset_requests()
        t0 = time.perf_counter()
        for name in names:
            target.get("nodes", name)
        per_node_s = time.perf_counter() - t0
        per_node_reqs = api.request_count

    print(f"stand-in API seeded with {n} objects ({args.workers} workers + 3 control-plane) in {seed_s:.1f}s")
    print(f"prerequisite checks: {rows} result rows, {reqs[0]} API requests per run "
          f"(runs: {', '.join(str(r) for r in reqs)}), wall median {statistics.median(walls):.2f}s "
          f"(min {min(walls):.2f}s, max {max(walls):.2f}s, {args.repeat} runs)")
    print(f"node-by-node baseline (GET each node only): {per_node_reqs} requests, {per_node_s:.2f}s "
          f"-> the list-based checks use {per_node_reqs / reqs[0]:.0f}x fewer requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
