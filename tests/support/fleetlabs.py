"""Labs for fleet tests: the demo lab's params pointed at snapshot variants (``labdata``), and fleet files.

A variant lab is the bundled demo lab with ``target.snapshot`` replaced by a
must-gather folder written from ``labdata.lab_objects(variant)`` (``ok`` passes with
the demo's warnings, ``no-hugepages`` and ``openshift-sdn`` fail the prerequisites),
its values file beside the params (bundled into the lab's ConfigMap by a fleet) and
its captures given by absolute path (the demo's, in the installed package).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from spkrunbook import bundle

from . import labdata


def variant_lab(folder: Path, name: str, variant: str = "ok", *, snapshots: Path | None = None,
                steps: list[str] | None = None, mounted_at: str | None = None) -> Path:
    """Write ``folder/<name>.yaml`` (and its values file) for a lab on the snapshot ``variant``.

    ``mounted_at``: the path where a pod sees ``folder`` (a volume): the snapshot is written under
    ``folder/snapshots`` and the demo's captures are copied to ``folder/captures``, and the params name
    both by their path in the pod."""
    y = YAML()
    demo = bundle.demo_dir()
    data: dict[str, Any] = y.load(bundle.demo_params().read_text())
    if mounted_at is not None and snapshots is not None:
        raise ValueError("mounted_at puts the snapshots in folder/snapshots; leave snapshots out")
    snap = (snapshots or folder / "snapshots") / name
    if variant == "demo":
        shutil.copytree(demo / "snapshot", snap, dirs_exist_ok=True)
    else:
        labdata.write_snapshot(labdata.lab_objects(variant), snap)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo / "values" / "ingress-values.yaml", folder / "ingress-values.yaml")
    data["lab"] = name
    data["description"] = f"fleet test lab on the {variant} snapshot"
    data["target"]["snapshot"] = str(snap.resolve())
    data["install"]["values_file"] = "ingress-values.yaml"
    captures = ("cni0.pcap", "net1.pcap", "net2.pcap", "cni0.txt")
    data["debug"]["analyse"] = [str((demo / "captures" / f).resolve()) for f in captures]
    if mounted_at is not None:
        (folder / "captures").mkdir(parents=True, exist_ok=True)
        for f in captures:
            shutil.copy(demo / "captures" / f, folder / "captures" / f)
        data["target"]["snapshot"] = f"{mounted_at}/snapshots/{name}"
        data["debug"]["analyse"] = [f"{mounted_at}/captures/{f}" for f in captures]
    if steps:
        data["steps"] = steps
    path = folder / f"{name}.yaml"
    with open(path, "w") as fh:
        y.dump(data, fh)
    return path


def fleet_file(folder: Path, labs: list[dict[str, Any]], **fields: Any) -> Path:
    """Write ``folder/fleet.yaml`` with defaults a test can override."""
    data: dict[str, Any] = {"fleet": "spk-labs", "namespace": "spk-runbooks", "image": "localhost/spkrunbook:test",
                            "records": "s3://lab-records/nightly", "parallelism": 2, **fields, "labs": labs}
    path = folder / "fleet.yaml"
    y = YAML()
    with open(path, "w") as fh:
        y.dump(data, fh)
    return path
