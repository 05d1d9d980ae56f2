"""What a fleet's pod runs: ``spkrunbook fleet run /etc/spkrunbook/fleet.json`` for its index.

The index comes from ``JOB_COMPLETION_INDEX`` (an Indexed Job sets it) or ``--index``
(the per-lab Jobs of older clusters). The pod runs its lab into the records store,
and a retry of the same Job run (``SPKRUNBOOK_FLEET_RUN``: the Job's uid, from the
downward API) never starts over:

- the lab's newest record of this Job run is incomplete (the pod was killed or
  evicted): it is resumed from its first step that did not pass;
- it has a verdict already (a cluster without ``podFailurePolicy`` retried exit 1):
  the pod exits with that verdict and runs nothing;
- there is none: a new run.

``status`` reads the store only: each lab's newest record, whatever ran it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .. import params, publish
from ..errors import ParameterError, Problem
from ..record import remote

INDEX_ENV = "JOB_COMPLETION_INDEX"
RUN_ENV = "SPKRUNBOOK_FLEET_RUN"


def read_index(path: str | Path) -> dict[str, Any]:
    """The fleet's ``fleet.json`` (rendered by ``fleet.render``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParameterError([Problem("FLEET", f"cannot read {path}: {type(exc).__name__}")],
                             hint="the pod mounts fleet.json from the fleet's ConfigMap; apply the fleet again") from None
    if not isinstance(data, dict) or not isinstance(data.get("labs"), list) or not data.get("records"):
        raise ParameterError([Problem("FLEET", f"{path} is not a fleet index (records, labs)")])
    return data


def lab_records(store: remote.Store, lab: str) -> list[str]:
    """The store's record names of one lab, newest first (``<stamp>-<lab>`` or ``<stamp>-<lab>-<n>``)."""
    pattern = re.compile(rf"^\d{{8}}T\d{{6}}Z-{re.escape(lab)}(-\d+)?$")
    return [n for n in store.names() if pattern.match(n)]


def previous(store: remote.Store, lab: str, run_id: str) -> tuple[str, dict[str, Any]] | None:
    """This Job run's newest record of ``lab`` and its run.json, or None."""
    if not run_id:
        return None
    for name in lab_records(store, lab):
        data = store.read_json(name) or {}
        if (data.get("fleet") or {}).get("run") == run_id:
            return name, data
    return None


def run_index(fleet_file: str | Path, index: int | None = None, *, progress: Any = None) -> int:
    """Run one index of the fleet; the exit code is the runbook's (0, 1, 2, 75, 130, 143)."""
    data = read_index(fleet_file)
    if index is None:
        text = os.environ.get(INDEX_ENV, "")
        if not text.isdigit():
            raise ParameterError([Problem("--index", f"no index: give --index or set {INDEX_ENV} (an Indexed Job does)")])
        index = int(text)
    if not 0 <= index < len(data["labs"]):
        raise ParameterError([Problem("--index", f"{index} is not an index of this fleet (0-{len(data['labs']) - 1})")])
    entry = data["labs"][index]
    dest = publish.Destination.open(data["records"])
    assert dest.store is not None
    run_id = os.environ.get(RUN_ENV, "")
    lab = params.load(entry["params"])
    resume = None
    found = previous(dest.store, lab.lab, run_id)
    attempt = 1
    if found is not None:
        name, run = found
        attempt = int((run.get("fleet") or {}).get("attempt") or 1) + 1
        if run.get("status") in ("passed", "failed"):
            if progress is not None:
                progress({"event": "fleet-verdict", "record": dest.store.record_url(name), "status": run["status"]})
            return 0 if run["status"] == "passed" else 1
        resume = dest.store.record_url(name)
    annotations = {"fleet": {"name": data.get("fleet"), "index": index, "run": run_id, "attempt": attempt}}
    notify_url = os.environ.get(publish.NOTIFY_ENV) or None
    # A record the store did not take raises RecordNotStored (exit 75): the Job retries and resumes.
    result, done = publish.run_and_publish(lab, dest, notify_url=notify_url, resume=resume, steps=entry.get("steps"),
                                           annotations=annotations, progress=progress)
    if progress is not None:  # the pod's log says what the store took (the record cannot: it is uploaded last)
        progress({"event": "published", **done.to_dict()})
    return int(result.exit_code)


def status(labs: list[str], store: remote.Store) -> list[dict[str, Any]]:
    """Each lab's newest record in the store: status, when, how long, and its address."""
    rows = []
    for index, lab in enumerate(labs):
        names = lab_records(store, lab)
        row: dict[str, Any] = {"index": index, "lab": lab, "record": "", "status": "never run",
                               "started": "", "duration_s": "", "resumed_from": ""}
        if names:
            run = store.read_json(names[0]) or {}
            row.update({"record": store.record_url(names[0]), "status": run.get("status", "incomplete"),
                        "started": run.get("started", ""), "duration_s": run.get("duration_s", ""),
                        "resumed_from": run.get("resumed_from", "")})
        rows.append(row)
    return rows
