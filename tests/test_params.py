"""params: every problem at once with its field path; secrets stay secret."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from spkrunbook import cli, params
from spkrunbook.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "params" / "demo.yaml"


def demo_data() -> dict:
    return params.read_yaml(DEMO)


def test_demo_and_template_are_valid():
    lab = params.load(DEMO)
    assert lab.lab == "demo"
    assert lab.target.snapshot == (ROOT / "demo" / "snapshot").resolve()
    assert lab.cni_networks == "default/macvlan-internal,default/macvlan-external"
    # the seed uses cniVersion 0.3.0, below OpenShift's documented minimum: a warning, not an error
    assert [w.path for w in lab.warnings()] == ["networks.internal.cni_version", "networks.external.cni_version"]
    params.load(ROOT / "params" / "lab-template.yaml")


def test_every_problem_reported_with_field_path():
    data = demo_data()
    data["networks"]["internal"]["master"] = "ens 224"
    data["networks"]["external"]["master"] = "averyveryverylongname0"
    data["networks"]["external"]["mode"] = "passthrough"
    data["networks"]["internal"]["name"] = "Macvlan_Internal"
    data["tmm"]["cpu"] = 1.5
    data["tmm"]["hugepages"] = "1572M"
    data["vlans"]["internal"]["selfip_v4s"] = ["10.1.10.300"]
    data["colour"] = "blue"
    with pytest.raises(ParameterError) as err:
        params.parse(data, base_dir=DEMO.parent)
    got = {p.path: p.message for p in err.value.problems}
    assert got["networks.internal.master"] == "'ens 224' is not a valid interface name (no '/', ':' or whitespace allowed)"
    assert "at most 15 characters" in got["networks.external.master"]
    assert "'bridge', 'private', 'vepa' or 'passthru'" in got["networks.external.mode"]
    assert "DNS-1123" in got["networks.internal.name"]
    assert "whole CPUs" in got["tmm.cpu"]
    assert "Mi or Gi" in got["tmm.hugepages"]
    assert "not an IPv4 address" in got["vlans.internal.selfip_v4s"]
    assert "unknown field" in got["colour"]
    assert len(err.value.problems) == 8
    assert "networks.internal.master: 'ens 224' is not a valid interface name" in str(err.value)


@pytest.mark.parametrize(
    "name,ok",
    [("ens224", True), ("eth0.100", True), ("a" * 15, True), ("a" * 16, False), ("en/s", False), ("en:s", False), ("", False), ("en\ts", False)],
)
def test_interface_names(name, ok):
    assert (params.interface_name_problem(name) is None) is ok


def test_cross_field_problems():
    data = demo_data()
    data["networks"]["external"]["name"] = data["networks"]["internal"]["name"]
    data["vlans"]["external"]["name"] = "internal"
    data["vlans"]["internal"]["prefixlen_v4"] = None
    with pytest.raises(ParameterError) as err:
        params.parse(data, base_dir=DEMO.parent)
    paths = sorted(p.path for p in err.value.problems)
    assert paths == ["networks.external.name", "vlans.external.name", "vlans.internal.prefixlen_v4"]


def test_shared_master_is_a_warning():
    data = demo_data()
    data["networks"]["external"]["master"] = "ens224"
    lab = params.parse(data, base_dir=DEMO.parent)
    assert any(w.path == "networks.external.master" for w in lab.warnings())


def test_secrets_from_environment_never_in_scrubbed(monkeypatch):
    monkeypatch.setenv("REG_PW", "hunter2-registry-password")
    data = demo_data()
    data["install"]["image_credentials"] = {"registry": "r.example", "username": "u", "password": "${REG_PW}"}
    lab = params.parse(data, base_dir=DEMO.parent)
    assert lab.install.image_credentials.password.get_secret_value() == "hunter2-registry-password"
    assert "hunter2" not in repr(lab) and "hunter2" not in str(lab.scrubbed())
    assert lab.secrets() == ["hunter2-registry-password"]


def test_missing_environment_variable_is_a_problem(monkeypatch):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    data = demo_data()
    data["install"]["image_credentials"] = {"registry": "r", "username": "u", "password": "${NOPE_NOT_SET}"}
    with pytest.raises(ParameterError) as err:
        params.parse(data)
    assert any(p.path == "install.image_credentials.password" and "NOPE_NOT_SET" in p.message for p in err.value.problems)


def test_dump_round_trip_keeps_secrets_out(tmp_path, monkeypatch):
    monkeypatch.setenv("REG_PW", "hunter2-registry-password")
    data = copy.deepcopy(demo_data())
    data["install"]["image_credentials"] = {"registry": "r", "username": "u", "password": "${REG_PW}"}
    lab = params.parse(data, base_dir=DEMO.parent)
    out = params.dump(lab, tmp_path / "saved.yaml", base_dir=DEMO.parent)
    text = out.read_text()
    assert "hunter2" not in text and "${SPKRUNBOOK_REGISTRY_PASSWORD}" in text
    monkeypatch.setenv("SPKRUNBOOK_REGISTRY_PASSWORD", "x" * 10)
    again = params.parse(params.read_yaml(out), base_dir=DEMO.parent)
    assert again.networks == lab.networks and again.target.snapshot == lab.target.snapshot


def test_cli_validate_exit_codes(tmp_path, capsys):
    assert cli.main(["validate", str(DEMO)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("master: ens224", "master: 'ens 224'").replace("mode: bridge", "mode: nope", 1))
    assert cli.main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "networks.internal.master: 'ens 224' is not a valid interface name" in err
    assert "networks.internal.mode" in err
    assert cli.main(["validate", str(tmp_path / "missing.yaml")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("lab: [unclosed\n")
    assert cli.main(["validate", str(broken)]) == 2


def test_files_named_in_params_must_exist(tmp_path):
    data = demo_data()
    data["debug"]["analyse"] = ["../demo/captures/cni0.pcap", "../demo/captures/nope.pcap"]
    data["install"]["values_file"] = "missing-values.yaml"
    with pytest.raises(ParameterError) as err:
        params.parse(data, base_dir=DEMO.parent)
    got = {p.path: p.message for p in err.value.problems}
    assert set(got) == {"debug.analyse[1]", "install.values_file"}
    assert "nope.pcap does not exist" in got["debug.analyse[1]"]
