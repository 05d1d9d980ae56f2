"""``spkrunbook records index``: labs as rows, nights as columns, each finding's "since when"; ``records diff``
across two nights of one lab (``LAB@YYYY-MM-DD``).

The records are real runs (the prerequisites step on snapshot variants: lab-b's cluster loses
its hugepages between two runs). Only the nights are made up: each real record is copied under
the name and ``started`` time of an earlier night, because a test cannot wait for four nights.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from spkrunbook import cli, runbook
from spkrunbook.record import nights
from tests.support import fleetlabs, labdata

pytestmark = pytest.mark.slow


def _redate(record: Path, root: Path, day: str) -> Path:
    """A copy of ``record`` as if it ran at 02:00 UTC on ``day`` (YYYY-MM-DD)."""
    stamp = day.replace("-", "") + "T020000Z"
    out = root / (stamp + record.name[16:])
    shutil.copytree(record, out)
    run = json.loads((out / "run.json").read_text())
    run["started"] = f"{day}T02:00:00Z"
    (out / "run.json").write_text(json.dumps(run))
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lab-a passes every night; lab-b passes on 1 December and has no hugepages from 2 December on."""
    tmp = tmp_path_factory.mktemp("nights")
    labs = tmp / "labs"
    a = fleetlabs.variant_lab(labs, "lab-a", "ok", steps=["prerequisites"])
    b = fleetlabs.variant_lab(labs, "lab-b", "ok", steps=["prerequisites"])
    runs = tmp / "runs"
    ok_a = runbook.run(a, records_root=runs).record
    ok_b = runbook.run(b, records_root=runs).record
    snap = labs / "snapshots" / "lab-b"
    shutil.rmtree(snap)
    labdata.write_snapshot(labdata.lab_objects("no-hugepages"), snap)  # the same params; the cluster changed
    bad_b = runbook.run(b, records_root=runs).record
    root = tmp / "records"
    root.mkdir()
    for day in ("2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"):
        _redate(ok_a, root, day)
        _redate(ok_b if day == "2026-12-01" else bad_b, root, day)
    return root


def test_the_page_has_every_lab_and_night_and_each_findings_first_night(history: Path) -> None:
    assert cli.main(["records", "index", str(history)]) == 0
    page = (history / nights.PAGE).read_text()
    assert page.count("<tr><th style='text-align:left'>lab-") == 2
    assert [d for d in ("1 December", "2 December", "3 December", "4 December") if d in page] == \
        ["1 December", "2 December", "3 December", "4 December"]
    names = sorted(p.name for p in history.iterdir() if p.is_dir())
    for name in names:  # every cell links to its record's page, relative to the index
        assert f'href="{name}/index.html"' in page
    # lab-b: hugepages failed on every worker since 2 December (passed on the 1st)
    runs = nights.read_runs(nights.Source(history))
    b = [r for r in runs if r.lab == "lab-b"]
    failing = [k for k, (st, _) in b[-1].open.items() if st == "fail" and k[1] == "hugepages"]
    assert failing, b[-1].open
    assert {str(nights.since(b, k)) for k in failing} == {"2026-12-02"}
    section = page[page.index("<h3 style='font-size:1em'>lab-b"):]
    assert re.search(r"hugepages</b> on <b>worker-\d</b> \(prerequisites\) since <b>2 December", section)
    # lab-a's warnings are as old as its records
    a = [r for r in runs if r.lab == "lab-a"]
    assert a[-1].open and {str(nights.since(a, k)) for k in a[-1].open} == {"2026-12-01"}
    assert "FAILED" in page and "PASSED, " in page and "warning" in page


def test_records_diff_across_two_nights_of_one_lab(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["records", "diff", "lab-b@2026-12-01", "lab-b@2026-12-02", "--records", str(history),
                     "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert any(c["what"] == "step" and c["where"] == "prerequisites" and c["after"] == "failed" for c in changes)
    assert any(c["what"] == "finding" and "hugepages" in c["where"] for c in changes)
    assert cli.main(["records", "diff", "lab-b@2026-11-30", "lab-b@2026-12-02", "--records", str(history)]) == 2
    assert "no record of lab 'lab-b' on 2026-11-30" in capsys.readouterr().err
