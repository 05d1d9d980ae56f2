#!/usr/bin/env python3
"""Regenerate demo/snapshot (the bundled demo lab) from tests.support.labdata.

Usage: python scripts/make_demo_snapshot.py [OUT_DIR]
Files the debugging step ships (spkrunbook-exec/, captures/) are kept.
"""

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import labdata

out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "spkrunbook" / "demo" / "snapshot")
image_dir = out / "quay-io-openshift-release-dev-ocp-v4-0-art-dev-sha256-5d1c4f0d"
for sub in ("cluster-scoped-resources", "namespaces"):
    shutil.rmtree(image_dir / sub, ignore_errors=True)
labdata.write_snapshot(labdata.lab_objects("ok"), out)
print(f"wrote {out}")

# The NB database the must-gather collects (and the routing-namespace pods it is for),
# built by the real OVN tools: the debugging step reads the demo's OVN routes from it.
import subprocess  # noqa: E402

subprocess.run([sys.executable, str(Path(__file__).with_name("make_nbdb.py")), "--snapshot", str(out),
                "--out", str(image_dir)], check=True)
