#!/usr/bin/env python3
"""Regenerate notebooks/01-prerequisites.ipynb."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
nbtool.write(
    ROOT / "notebooks" / "01-prerequisites.ipynb",
    [
        ("md", """
# 01 · Prerequisites for SPK with macvlan

SPK on macvlan is a lab set-up for clusters without SR-IOV hardware: TMM gets its
internal and external interfaces from two macvlan NetworkAttachmentDefinitions
instead of SR-IOV virtual functions. Before creating anything, this notebook
checks what the source document assumes:

* a working OpenShift cluster whose default network is **OVN-Kubernetes**;
* **Multus** (the NetworkAttachmentDefinition CRD);
* **hugepages** configured, and the **CPU Manager** with the **static** policy on
  the nodes that will run TMM, with a topology manager setting compatible with
  `tmm.topologyManager: false`;
* **two additional interfaces** (internal and external) on those nodes, in
  promiscuous mode when the nodes are VMs;
* enough CPU and memory for the TMM resources.

Run it on the bundled demo snapshot (the default) or point `params_file` at your
own lab (see `params/lab-template.yaml`).
"""),
        ("params", """
params_file = "../params/demo.yaml"  # the lab's params file (see params/lab-template.yaml)
record_dir = ""  # where artifacts go; set by `spkrunbook run`, empty means records/<time>-<lab>-interactive
interactive = True  # False under `spkrunbook run`: no widgets, nothing waits for a person
"""),
        ("code", """
from IPython.display import display
from spkrunbook import notebook, prereqs

step = notebook.start("prerequisites", params_file, record_dir)
step.overview()
"""),
        ("md", """
## The checks

Each row is one check on one node (or on the cluster). **fail** stops the
runbook; **warn** needs a person's judgement; the last column says what to do.
"""),
        ("code", """
findings = prereqs.run(step.lab, step.target)
findings
"""),
        ("md", """
## What the nodes report about their interfaces

From NodeNetworkState (the NMState operator). `promisc` is the kernel's
promiscuous flag as NMState reports it (`accept-all-mac-addresses`).
"""),
        ("code", """
prereqs.interfaces_frame(step.target, step.lab)
"""),
        ("code", """
from spkrunbook.widgets import common
from spkrunbook.widgets.prereqs import PrereqsForm

form = common.show(PrereqsForm, interactive, step)  # a form for a person; nothing when headless
"""),
        ("md", """
## Result

The findings are saved in the lab record (`prerequisites/prerequisites.json` and
`.csv`); a failed check fails this step.
"""),
        ("code", """
step.save_findings(findings)
step.finish(findings)
"""),
    ],
)
