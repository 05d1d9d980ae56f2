"""params: every problem at once with its field path; secrets stay secret."""

from __future__ import annotations

import copy

import pytest

from spkrunbook import cli, params
from spkrunbook.errors import ParameterError
from tests.support import paths
from tests.support.paths import DEMO_DIR, DEMO_PARAMS, TEMPLATE

ROOT = paths.ROOT
DEMO = DEMO_PARAMS


def demo_data() -> dict:
    return params.read_yaml(DEMO)


def test_demo_is_valid():
    lab = params.load(DEMO)
    assert lab.lab == "demo"
    assert lab.target.snapshot == (DEMO_DIR / "snapshot").resolve()
    assert lab.cni_networks == "default/macvlan-internal,default/macvlan-external"
    # the demo raises no warning from its own params (F5's guide's example cniVersion 0.3.0 would: see below)
    assert lab.warnings() == []


def test_the_unfilled_template_reports_each_placeholder(capsys):
    with pytest.raises(ParameterError) as err:
        params.load(TEMPLATE)
    assert [p.path for p in err.value.problems] == [
        "lab", "target.kubeconfig", "networks.internal.master", "networks.external.master",
        "vlans.internal.selfip_v4s[0]", "vlans.external.selfip_v4s[0]", "install.values_file"]
    assert all("still the template's placeholder <" in p.message for p in err.value.problems)
    assert cli.main(["validate", str(TEMPLATE), "--offline"]) == 2
    assert "networks.internal.master: still the template's placeholder" in capsys.readouterr().err


def test_a_filled_template_is_valid(tmp_path):
    text = TEMPLATE.read_text()
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    (tmp_path / "values.yaml").write_text("tmm: {}\n")
    for placeholder, value in (("<lab-name>", "rack3"), ("<path to your kubeconfig, e.g. ~/.kube/config>", "kubeconfig"),
                               ("<internal NIC on the TMM nodes, e.g. ens224>", "ens224"),
                               ("<external NIC on the TMM nodes, e.g. ens256>", "ens256"),
                               ('"<internal self IP in the node subnet, e.g. 10.1.10.100>"', "10.1.10.100"),
                               ('"<external self IP, e.g. 10.1.20.100>"', "10.1.20.100"),
                               ("<your ingress-values.yaml>", "values.yaml")):
        assert placeholder in text
        text = text.replace(placeholder, value)
    (tmp_path / "lab.yaml").write_text(text)
    lab = params.load(tmp_path / "lab.yaml")
    assert lab.lab == "rack3" and lab.target.kubeconfig == (tmp_path / "kubeconfig").resolve()


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
    data["debug"]["analyse"] = ["./captures/cni0.pcap", "./captures/nope.pcap"]
    data["install"]["values_file"] = "missing-values.yaml"
    with pytest.raises(ParameterError) as err:
        params.parse(data, base_dir=DEMO.parent)
    got = {p.path: p.message for p in err.value.problems}
    assert set(got) == {"debug.analyse[1]", "install.values_file"}
    assert "nope.pcap does not exist" in got["debug.analyse[1]"]


# -- the NAD fields: judged by params, the one validator (forms and nad.validate ask it) --------------

GOOD = {"name": "macvlan-internal", "namespace": "default", "master": "ens224", "mode": "bridge", "cni_version": "0.3.1", "mtu": None}


def good_lab() -> params.Lab:
    data = demo_data()
    data["networks"]["internal"].update(GOOD)
    data["networks"]["external"].update({**GOOD, "name": "macvlan-external", "master": "ens256"})
    return params.parse(data, base_dir=DEMO.parent)


def network_problems(role: str, values: dict) -> list:
    lab = good_lab()
    changes = {f"networks.{role}.{k}": v for k, v in values.items()}
    return [p for p in params.problems_with(lab, changes) if p.path.startswith(f"networks.{role}.")]


def test_good_values_have_no_problems():
    assert network_problems("internal", GOOD) == []


@pytest.mark.parametrize(
    "field,value,fragment",
    [
        ("name", "Macvlan_Internal", "DNS-1123"),
        ("name", "", "required"),
        ("name", "a" * 64, "63"),
        ("namespace", "Default", "DNS-1123"),
        ("master", "ens 224", "not a valid interface name"),
        ("master", "eth0:1", "not a valid interface name"),
        ("master", "a/b", "not a valid interface name"),
        ("master", "enp0s31f6abcdefgh", "at most 15"),
        ("master", "", "empty"),
        ("master", "ens\x00224", "NUL byte"),
        ("mode", "passthrough", "passthru"),
        ("mode", "l2", "not a macvlan mode"),
        ("cni_version", "0.3.7", "not a known CNI spec version"),
        ("cni_version", "0.2.0", "cannot describe an interface without an address"),
        ("mtu", "abc", "whole number"),
        ("mtu", 10000, "outside 68..9216"),
        ("mtu", 20, "outside"),
    ],
)
def test_each_bad_value_is_an_error_on_its_field(field, value, fragment):
    probs = network_problems("internal", {**GOOD, field: value})
    assert [p.path for p in probs] == [f"networks.internal.{field}"]
    assert probs[0].severity == "error"
    assert fragment in probs[0].message
    # a form asking about the one field gets the same answer
    assert params.field_problems(good_lab(), f"networks.internal.{field}", value) == probs


def test_every_problem_is_reported_at_once():
    bad = {"name": "Bad_Name", "namespace": "x y", "master": "ens 1", "mode": "l3", "cni_version": "9", "mtu": "big"}
    probs = network_problems("external", bad)
    assert sorted(p.path.rsplit(".", 1)[1] for p in probs) == sorted(GOOD)


def test_old_cni_version_is_a_warning():
    probs = network_problems("internal", {**GOOD, "cni_version": "0.3.0"})
    assert [(p.path, p.severity) for p in probs] == [("networks.internal.cni_version", "warning")]
    assert "0.3.1" in probs[0].message


def test_shared_name_is_an_error_and_shared_master_a_warning():
    lab = good_lab()
    same = {f"networks.external.{k}": v for k, v in GOOD.items()}
    probs = [p for p in params.problems_with(lab, same) if p.path.startswith("networks.")]
    assert {(p.path, p.severity) for p in probs} == {("networks.external.name", "error"), ("networks.external.master", "warning")}
    other_ns = {**same, "networks.external.namespace": "spk", "networks.external.master": "ens256"}
    assert [p for p in params.problems_with(lab, other_ns) if p.path.startswith("networks.")] == []


def test_a_capture_filter_word_with_a_shell_character_is_reported_by_validate(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("debug:\n", "debug:\n  capture:\n    filter: [tcp, port, '443;']\n", 1)
                   .replace("./", f"{DEMO_DIR}/"))
    assert cli.main(["validate", "--offline", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "debug.capture.filter" in err and "'443;'" in err and "Traceback" not in err


def test_the_capture_step_asks_the_same_rule():
    from spkrunbook.steps.debug.captures import tcpdump_argv

    assert tcpdump_argv("net1", filter=["tcp", "port", "443"])[-3:] == ["tcp", "port", "443"]
    with pytest.raises(ParameterError, match=r"debug\.capture\.filter.*'443;'"):
        tcpdump_argv("net1", filter=["tcp", "port", "443;"])


def test_validate_strict_fails_on_a_params_warning(tmp_path, capsys):
    assert cli.main(["validate", "--offline", "--strict", str(DEMO)]) == 0  # the demo warns about nothing
    warned = tmp_path / "warned.yaml"
    warned.write_text(DEMO.read_text().replace('cni_version: "0.3.1"', 'cni_version: "0.3.0"', 1).replace("./", f"{DEMO_DIR}/"))
    assert cli.main(["validate", "--offline", str(warned)]) == 0
    assert cli.main(["validate", "--offline", "--strict", str(warned)]) == 1
    assert "--strict" in capsys.readouterr().out
