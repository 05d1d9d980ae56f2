#!/usr/bin/env python3
"""Regenerate notebooks/02-network-attachments.ipynb (uses scripts/nbtool.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtool  # noqa: E402

nbtool.write(
    ROOT / "notebooks" / "02-network-attachments.ipynb",
    [
        ("md", """
# 02 · NetworkAttachmentDefinitions for the macvlan networks

Without SR-IOV, TMM gets its internal and external interfaces from the **macvlan**
CNI plugin through Multus. For SPK you need **two NetworkAttachmentDefinitions**:
one that corresponds to the internal network and one that corresponds to the
external network, each bound to its own physical NIC on the nodes that run TMM
(`ens224` and `ens256` in the source document's example).

This notebook builds both NADs from the params, checks them, shows the YAML and
the `oc` commands you would run by hand, applies them (or, on a snapshot, says
what it *would* do), reads them back and derives the `tmm.cniNetworks` value the
SPK install step needs.
"""),
        ("params", """
params_file = "../params/demo.yaml"  # the lab's params file (see params/lab-template.yaml)
record_dir = ""  # where artifacts go; set by `spkrunbook run`, empty means records/<time>-<lab>-interactive
interactive = True  # False under `spkrunbook run`: no widgets, nothing waits for a person
"""),
        ("code", """
from IPython.display import Markdown, display
from spkrunbook import notebook, nad

step = notebook.start("network-attachments", params_file, record_dir)
step.overview()
"""),
        ("md", """
## 1 · Check the parameters

Every problem at once, before anything touches the cluster: NAD names must be
DNS-1123 labels; `master` must be a Linux interface name (at most 15 characters,
no `/`, `:` or whitespace); the mode one of `bridge` (the default for new macvlan
interfaces), `private`, `vepa`, `passthru`; a known `cniVersion` (OpenShift
documents 0.3.1 as the minimum for macvlan, the seed uses 0.3.0, so that is a
warning); the MTU in range; internal and external must not share a name and
should not share a NIC. Where the target reports the nodes' interfaces
(NodeNetworkState), each master must exist on every TMM node.
"""),
        ("code", """
checks = nad.validate(step.lab, step.target)
checks
"""),
        ("md", """
## 2 · The manifests

The source document has you create a `macvlan_example.yml` holding both NADs.
`spec.config` is a JSON string: `cniVersion`, `type: macvlan`, the `master` NIC,
the `mode`, and an **empty `ipam`**: there is no IPAM for SPK, because the self
IPs are configured later with F5SPKVlan CRs. The tool adds the namespace and the
label `app.kubernetes.io/managed-by: spkrunbook`, so that it only ever changes or
removes NADs it created. The files and the commands are saved in the lab record.
"""),
        ("code", """
rendered = nad.render(step.lab)
rendered.save(step)
Markdown(rendered.markdown())
"""),
        ("md", """
## 3 · Apply (or plan)

On a live cluster each NAD is created when absent, left alone when it already
matches, and updated (with the diff shown) only when this tool manages it. A NAD
someone else made is **refused** unless the params say `nad.force: true`. Each NAD
is decided on its own: if one is created and the other refused, the table says
so and nothing is rolled back. On a snapshot nothing is written; the table is the
plan.
"""),
        ("code", """
applied = nad.apply(step.lab, step.target, checks=checks)
step.save_json("network-attachments/apply.json", applied.to_dict())
applied
"""),
        ("md", """
## 4 · Verify

The equivalent of `oc get -n default network-attachment-definitions` and
`oc get -n default network-attachment-definitions macvlan-internal -o yaml`: each
NAD is read back and compared with the params.
"""),
        ("code", """
verified = nad.verify(step.lab, step.target)
step.save_json("network-attachments/verify.json", verified.to_dict())
verified
"""),
        ("md", """
## 5 · `tmm.cniNetworks` for the SPK install

The order of this list decides the TMM interface names: the first network becomes
interface `1.1`, the second `1.2`. The next step (03, SPK install) reads it from
this step's record.
"""),
        ("code", """
step.data["cni_networks"] = verified.cni_networks
step.data["tmm_interfaces"] = verified.interfaces
Markdown(f'```yaml\\ntmm:\\n  cniNetworks: "{verified.cni_networks}"\\n```')
"""),
        ("md", """
## Interactive: edit, render, apply, verify

In JupyterLab this form edits the same parameters: choose each master from the
NICs the TMM nodes report, the mode and the names; messages appear beside the
fields as you type. **Apply** writes to the cluster only after you tick the
confirmation box. Nothing here runs in a headless (pipeline) run.
"""),
        ("code", """
from spkrunbook.widgets import common
from spkrunbook.widgets.nad import NadForm

form = common.show(NadForm, interactive, step)  # a form for a person; nothing when headless
"""),
        ("md", """
## Teardown (on request)

With `nad.teardown: true` the NADs this tool manages are deleted; NADs without
its label are left in place and reported.
"""),
        ("code", """
removed = nad.teardown(step.lab, step.target, when=step.lab.nad.teardown)
removed
"""),
        ("md", """
## Result

A failed check, a refused or failed apply, or (on a live cluster) a NAD that does
not match fails this step.
"""),
        ("code", """
step.finish(checks, applied.findings, verified.findings, removed.findings)
"""),
    ],
)
