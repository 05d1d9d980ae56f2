"""The fleet file is validated like a params file: every problem at once, each with its field path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spkrunbook import cli, fleet
from spkrunbook.errors import ParameterError
from tests.support import fleetlabs


def _problems(path: Path) -> dict[str, str]:
    with pytest.raises(ParameterError) as exc:
        fleet.load(path)
    return {p.path: p.message for p in exc.value.problems}


def test_a_valid_fleet_loads_with_each_lab_in_index_order(tmp_path: Path) -> None:
    fleetlabs.variant_lab(tmp_path / "labs", "lab-a", "ok")
    fleetlabs.variant_lab(tmp_path / "labs", "lab-b", "no-hugepages", steps=["prerequisites"])
    plan = fleet.load(fleetlabs.fleet_file(tmp_path, [{"params": "labs/lab-a.yaml"},
                                                      {"params": "labs/lab-b.yaml", "steps": [1, "debugging"]}]))
    assert [lab.name for lab in plan.labs] == ["lab-a", "lab-b"]
    assert plan.labs[1].steps == ["prerequisites", "debugging"]  # the fleet's steps win over the params'
    assert set(plan.labs[0].files) == {"params.yaml", "install.values_file-ingress-values.yaml"}
    assert b"/etc/spkrunbook/labs/lab-a/install.values_file-ingress-values.yaml" in plan.labs[0].files["params.yaml"]
    assert not plan.in_cluster


def test_every_problem_at_once_with_field_paths(tmp_path: Path) -> None:
    labs = tmp_path / "labs"
    fleetlabs.variant_lab(labs, "lab-a", "ok")
    bad = fleetlabs.variant_lab(labs, "lab-b", "ok")
    text = bad.read_text().replace("master: ens224", "master: ens 224")
    text = re.sub(r"snapshot: .*", "snapshot: ./relative", text)
    text = text.replace("target:\n", "target:\n  token: ${LAB_B_TOKEN}\n")
    bad.write_text(text)
    path = fleetlabs.fleet_file(tmp_path, [{"params": "labs/lab-a.yaml", "steps": ["nope"]},
                                           {"params": "labs/lab-b.yaml"},
                                           {"params": "labs/missing.yaml"},
                                           {"params": "labs/lab-a.yaml", "secrets": {"PATH": {"secret": "x"}}}],
                                fleet="Bad_Name", records="records/", schedule="every night", parallelism=0,
                                deadline="soon", bogus=1)
    got = _problems(path)
    expected = {
        "fleet": "DNS-1123",
        "records": "not an object store URL",
        "schedule": "not a cron schedule",
        "parallelism": "greater than or equal to 1",
        "deadline": "not a duration",
        "bogus": "unknown field",
        "labs[0].steps": "unknown step 'nope'",
        "labs[1].params: networks.internal.master": "not a valid interface name",
        "labs[1].params: target.snapshot": "absolute path",
        "labs[1].secrets": "${LAB_B_TOKEN}",
        "labs[2].params": "does not exist",
        "labs[3].secrets": "set by the runtime",
    }
    for path_, words in expected.items():
        assert path_ in got, f"{path_} not reported; got {sorted(got)}"
        assert words in got[path_], (path_, got[path_])


def test_relative_folders_and_big_files_cannot_reach_a_pod(tmp_path: Path) -> None:
    labs = tmp_path / "labs"
    p = fleetlabs.variant_lab(labs, "lab-a", "ok")
    (labs / "big.pcap").write_bytes(b"\0" * (300 * 1024))
    (labs / "snap").mkdir()
    p.write_text(re.sub(r"snapshot: .*", "snapshot: ./snap", p.read_text()).replace("analyse:\n", "analyse:\n  - big.pcap\n"))
    got = _problems(fleetlabs.fleet_file(tmp_path, [{"params": "labs/lab-a.yaml"}]))
    assert "absolute path" in got["labs[0].params: target.snapshot"]
    assert "too big for a ConfigMap" in got["labs[0].params: debug.analyse[0]"]


def test_two_labs_of_one_name_are_refused(tmp_path: Path) -> None:
    fleetlabs.variant_lab(tmp_path / "labs", "lab-a", "ok")
    got = _problems(fleetlabs.fleet_file(tmp_path, [{"params": "labs/lab-a.yaml"}, {"params": "labs/lab-a.yaml"}]))
    assert "also labs[0]" in got["labs[1].params"]


def test_cli_plan_exits_2_and_lists_the_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = fleetlabs.fleet_file(tmp_path, [{"params": "labs/none.yaml"}], records="/tmp/x")
    assert cli.main(["fleet", "plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "records:" in err and "labs[0].params:" in err
