#!/usr/bin/env python3
"""A fleet of labs as its Indexed Job runs them, into a real S3 server: wall time, per-lab time, upload time,
objects per record, and the index page.

    python benchmarks/bench_fleet.py                    # 6 labs, 2 at a time, SeaweedFS, the live lab on the real apiserver
    python benchmarks/bench_fleet.py --parallelism 1 --no-live

Each index runs as the pod runs it (``spkrunbook fleet run fleet.json --index N`` with the
Job's run id in ``SPKRUNBOOK_FLEET_RUN``), ``--parallelism`` processes at a time, on this
machine; what the kubelet adds (pod start, image already on the node) is not in these
figures: the data-plane tier measures that (tests/dataplane/test_fleet_job.py, figures in docs/fleet.md). The labs:
the bundled demo (4 steps, passes with warnings), snapshot variants that pass
(``ok``), warn and fail (``no-hugepages``, ``openshift-sdn``, ``missing-interface``),
and, with the real kube-apiserver built, one live lab (prerequisites and NADs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spkrunbook import fleet  # noqa: E402
from spkrunbook.fleet import render, runner  # noqa: E402
from spkrunbook.record import nights, remote  # noqa: E402
from tests.support import fleetlabs, s3server  # noqa: E402

LABS = [("lab-demo", "demo", None), ("lab-ok", "ok", ["prerequisites", "network-attachments", "spk-install"]),
        ("lab-nohp", "no-hugepages", None), ("lab-sdn", "openshift-sdn", None),
        ("lab-noif", "missing-interface", None)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--no-live", action="store_true", help="leave out the live lab (no real apiserver)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    labs = tmp / "labs"
    entries = []
    for name, variant, steps in LABS:
        fleetlabs.variant_lab(labs, name, variant, steps=steps)
        entries.append({"params": f"labs/{name}.yaml"})
    cluster = None
    if not args.no_live:
        from tests.support import realcluster
        from tests.support.paths import DEMO_DIR

        cluster = realcluster.RealCluster(realcluster.binaries()).start()
        cluster.seed_from_snapshot(DEMO_DIR / "snapshot")
        p = fleetlabs.variant_lab(labs, "lab-live", "ok", steps=["prerequisites", "network-attachments"])
        text = p.read_text()
        p.write_text(text[:text.index("target:")] + f"target:\n  kind: live\n  kubeconfig: {cluster.kubeconfig()}\n"
                     + text[text.index("networks:"):])
        entries.append({"params": "labs/lab-live.yaml"})
    s3 = s3server.SeaweedS3(s3server.binary()).start()
    try:
        s3.bucket("fleet")
        url = "s3://fleet/nightly"
        os.environ.update(s3.env())  # this process reads the store too
        env = {**os.environ, "SPKRUNBOOK_FLEET_RUN": f"bench-{int(time.time())}", "SPKRUNBOOK_STAGING": str(tmp / "staging")}
        plan = fleet.load(fleetlabs.fleet_file(tmp, entries, records=url, parallelism=args.parallelism))
        index = render.fleet_index(plan)
        for e in index["labs"]:
            e["params"] = str(labs / f"{e['lab']}.yaml")
        (tmp / "fleet.json").write_text(json.dumps(index))
        t0 = time.monotonic()
        pending = list(range(len(index["labs"])))
        running: dict[int, tuple[subprocess.Popen[str], float]] = {}
        done: dict[int, dict[str, object]] = {}
        while pending or running:
            while pending and len(running) < args.parallelism:
                i = pending.pop(0)
                proc = subprocess.Popen([sys.executable, "-m", "spkrunbook", "fleet", "run", str(tmp / "fleet.json"),
                                         "--index", str(i)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
                running[i] = (proc, time.monotonic())
            for i, (proc, started) in list(running.items()):
                if proc.poll() is None:
                    continue
                out = proc.stdout.read() if proc.stdout else ""
                flat = re.sub(r"\s*\n\s*", " ", out)
                m = re.search(r"uploaded: (\S+) \((\d+) objects, (\d+) bytes, ([\d.]+)s\)", flat)
                done[i] = {"lab": index["labs"][i]["lab"], "exit": proc.returncode,
                           "wall_s": round(time.monotonic() - started, 1),
                           "upload_s": float(m.group(4)) if m else None, "uploaded_objects": int(m.group(2)) if m else None}
                del running[i]
            time.sleep(0.2)
        wall = time.monotonic() - t0
        store = remote.open_store(url)
        rows = []
        for i in sorted(done):
            (name,) = runner.lab_records(store, str(done[i]["lab"]))[:1]
            run = store.read_json(name) or {}
            files = store.files(name)
            size = sum(store.fs.size(f"{store.root}/{name}/{f}") for f in files)
            rows.append({**done[i], "status": run.get("status"), "run_s": run.get("duration_s"),
                         "objects": len(files), "bytes": size})
        t1 = time.monotonic()
        nights.write(url)
        index_s = time.monotonic() - t1
    finally:
        s3.stop()
        if cluster is not None:
            cluster.stop()
    print(f"{len(rows)} labs, parallelism {args.parallelism}: wall {wall:.1f}s; index page {index_s:.1f}s")
    print(f"{'lab':10} {'exit':>4} {'status':>10} {'wall_s':>7} {'run_s':>7} {'upload_s':>8} {'objects':>7} {'bytes':>10}")
    for r in rows:
        print(f"{r['lab']:10} {r['exit']:>4} {r['status']!s:>10} {r['wall_s']:>7} {r['run_s']!s:>7} "
              f"{r['upload_s']!s:>8} {r['objects']:>7} {r['bytes']:>10,}")
    if args.json:
        Path(args.json).write_text(json.dumps({"wall_s": wall, "index_s": index_s, "parallelism": args.parallelism,
                                               "labs": rows}, indent=2))


if __name__ == "__main__":
    main()
