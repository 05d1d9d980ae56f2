"""spkrunbook.steps.install.values: the seed's four macvlan changes, merged round-trip into a values file."""

from __future__ import annotations

import base64
import difflib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook import params
from spkrunbook.errors import ParameterError
from spkrunbook.steps.install import values
from tests.support import paths
from tests.support.paths import DEMO_DIR

DATA = paths.FIXTURES / "install"
DEMO_VALUES = DEMO_DIR / "values" / "ingress-values.yaml"

# The seed's "Install SPK" snippets, verbatim (steps 1-4).
SEED_ENV = """\
tmm:
  customEnvVars:
    - name: TMM_MAPRES_ADDL_VETHS_ON_DP
      value: "TRUE"
"""
SEED_TOPOLOGY = "tmm:\n  topologyManager: false\n"
SEED_CNI = "tmm:\n  cniNetworks: default/macvlan-internal,default/macvlan-external\n"
SEED_RESOURCES = """\
tmm:
  resources:
    limits:
      cpu: 1
      hugepages-2Mi: "1572Mi"
      memory: "2Gi"
    requests:
      cpu: 1
      hugepages-2Mi: "1572Mi"
      memory: "2Gi"
"""


def make_lab(**over: Any) -> params.Lab:
    data: dict[str, Any] = {
        "lab": "t",
        "target": {"kind": "snapshot", "snapshot": "/nonexistent"},
        "networks": {
            "internal": {"name": "macvlan-internal", "namespace": "default", "master": "ens224"},
            "external": {"name": "macvlan-external", "namespace": "default", "master": "ens256"},
        },
        "tmm": {"namespace": "default", "cpu": 1, "replicas": 1},
    }
    for key, value in over.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    return params.parse(data)


def load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def untouched_lines_survive(original: str, merged: str) -> None:
    """Every line the diff does not mark as removed is in the merged file, in order."""
    sm = difflib.SequenceMatcher(a=original.splitlines(True), b=merged.splitlines(True), autojunk=False)
    kept = sum(size for _, _, size in sm.get_matching_blocks())
    removed = [line for tag, i1, i2, _, _ in sm.get_opcodes() if tag in ("replace", "delete") for line in original.splitlines(True)[i1:i2]]
    assert kept + len(removed) == len(original.splitlines(True))


# -- golden: the seed's snippets -------------------------------------------------------------------


def test_seed_four_changes_from_nothing() -> None:
    m = values.merge(None, make_lab())
    got = load(m.merged)["tmm"]
    assert got["customEnvVars"] == load(SEED_ENV)["tmm"]["customEnvVars"]
    assert got["topologyManager"] is load(SEED_TOPOLOGY)["tmm"]["topologyManager"] is False
    assert got["cniNetworks"] == load(SEED_CNI)["tmm"]["cniNetworks"]
    assert got["resources"] == load(SEED_RESOURCES)["tmm"]["resources"]
    assert {c.path.split(".")[1].split("[")[0] for c in m.changes} == {"customEnvVars", "topologyManager", "cniNetworks", "resources"}
    assert all(c.action == "add" for c in m.changes)
    assert m.assumptions == []


def test_seed_resources_block_text_is_the_seeds() -> None:
    lab = make_lab()
    m = values.merge("tmm:\n  resources:\n", lab)  # an empty (null) resources key is filled in
    # Only the resources block, as text: the seed's quoting and layout.
    text = values.merge(None, lab).merged
    block = text[text.index("  resources:") :]
    assert block == SEED_RESOURCES[len("tmm:\n") :]
    assert "cpu: 1\n" in m.merged


def test_seed_env_block_text_is_the_seeds() -> None:
    text = values.merge(None, make_lab()).merged
    assert text.startswith(SEED_ENV)


def test_seed_changes_on_the_seed_values_are_no_ops() -> None:
    seed = SEED_ENV + SEED_TOPOLOGY[len("tmm:\n") :] + SEED_CNI[len("tmm:\n") :] + SEED_RESOURCES[len("tmm:\n") :]
    m = values.merge(seed, make_lab())
    assert m.merged == seed
    assert m.applied == []
    assert m.diff == ""


def test_two_cpus_use_the_chart_default() -> None:
    res = load(values.merge(None, make_lab(tmm={"cpu": 2})).merged)["tmm"]["resources"]
    assert res["limits"] == res["requests"] == {"cpu": 2, "hugepages-2Mi": "3Gi", "memory": "2Gi"}


def test_other_cpu_counts_state_the_assumption() -> None:
    m = values.merge(None, make_lab(tmm={"cpu": 3}))
    assert m.assumptions and "3 CPUs" in m.assumptions[0]
    assert any(r.check == "sizing assumption" and r.status == "warn" for r in m.findings.rows)
    assert "assumption" in m._repr_html_()


def test_explicit_hugepages_are_used_without_assumption() -> None:
    m = values.merge(None, make_lab(tmm={"cpu": 4, "hugepages": "6Gi", "memory": "4Gi"}))
    res = load(m.merged)["tmm"]["resources"]["limits"]
    assert res == {"cpu": 4, "hugepages-2Mi": "6Gi", "memory": "4Gi"}
    assert m.assumptions == []


def test_nad_order_follows_the_params() -> None:
    lab = make_lab(networks={
        "internal": {"name": "int-spk", "namespace": "spk-ingress", "master": "ens224"},
        "external": {"name": "ext-spk", "namespace": "spk-ingress", "master": "ens256"},
        "order": ["external", "internal"],
    })
    m = values.merge(None, lab)
    assert load(m.merged)["tmm"]["cniNetworks"] == "spk-ingress/ext-spk,spk-ingress/int-spk"
    cni = next(c for c in m.changes if c.path == "tmm.cniNetworks")
    assert "1.1 = external" in cni.reason


def test_cni_networks_from_the_nad_step_win() -> None:
    m = values.merge(None, make_lab(), cni_networks="spk/a,spk/b")
    assert load(m.merged)["tmm"]["cniNetworks"] == "spk/a,spk/b"


# -- round trip -----------------------------------------------------------------------------------


def test_commented_file_round_trips_byte_for_byte() -> None:
    original = (DATA / "commented-values.yaml").read_text()
    m = values.merge(original, make_lab())
    assert m.roundtrip_exact
    untouched_lines_survive(original, m.merged)
    # Every comment line of the original is still there, in the same order.
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    merged_comments = [line for line in m.merged.splitlines() if line.lstrip().startswith("#")]
    assert comments == merged_comments
    # Unrelated settings: everything outside the four paths is equal, key order too.
    a, b = load(original), load(m.merged)
    for key in a:
        if key != "tmm":
            assert a[key] == b[key]
    assert list(a) == list(b)
    assert list(a["tmm"]) == list(b["tmm"])[: len(a["tmm"])]
    for key in a["tmm"]:
        if key not in ("customEnvVars", "topologyManager", "cniNetworks", "resources"):
            assert a["tmm"][key] == b["tmm"][key]


def test_the_diff_only_touches_the_macvlan_lines() -> None:
    original = (DATA / "commented-values.yaml").read_text()
    m = values.merge(original, make_lab())
    changed = [line for line in m.diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed, m.diff
    for line in changed:
        assert any(k in line for k in ("topologyManager", "TMM_MAPRES_ADDL_VETHS_ON_DP", "value:", "cpu:", "hugepages-", "memory:", "cniNetworks")), line


def test_new_key_goes_before_trailing_comments() -> None:
    text = "tmm:\n  name: f5-tmm\n\n# the debug sidecar\ndebug:\n  enabled: true\n"
    m = values.merge(text, make_lab())
    assert m.merged.startswith("tmm:\n  name: f5-tmm\n  customEnvVars:\n")
    assert m.merged.endswith("\n\n# the debug sidecar\ndebug:\n  enabled: true\n")


def test_demo_values_round_trip_and_show_the_conflicts() -> None:
    original = DEMO_VALUES.read_text()
    m = values.merge(original, make_lab(), source=DEMO_VALUES)
    assert m.roundtrip_exact
    untouched_lines_survive(original, m.merged)
    conflicts = {c.path: (values._show(c.old), values._show(c.new)) for c in m.conflicts}
    assert conflicts["tmm.topologyManager"] == ("true", "false")
    assert conflicts["tmm.resources.requests.hugepages-2Mi"] == ("1024Mi", "1572Mi")
    env = load(m.merged)["tmm"]["customEnvVars"]
    assert [e["name"] for e in env] == ["CONFIG_VIEWER_ENABLE", "TMM_MAPRES_DELAY_MS", "TMM_MAPRES_VERBOSITY", "TMM_LOG_LEVEL", "TMM_MAPRES_ADDL_VETHS_ON_DP"]
    assert "-  topologyManager: true\n+  topologyManager: false" in m.diff
    assert DEMO_VALUES.read_text() == original  # never modified


# -- env var merge --------------------------------------------------------------------------------


def test_env_var_merge_never_drops_or_duplicates() -> None:
    text = (
        "tmm:\n  customEnvVars:\n"
        "    - name: PAL_CPU_SET\n      value: '0,1'\n"
        "    - name: TMM_MAPRES_ADDL_VETHS_ON_DP\n      value: 'FALSE'\n"
        "    - name: TMM_LOG_LEVEL\n      value: Debug\n"
        "    - name: TMM_MAPRES_ADDL_VETHS_ON_DP\n      value: 'TRUE'\n"
    )
    lab = make_lab(tmm={"custom_env": [{"name": "TMM_LOG_LEVEL", "value": "Debug"}, {"name": "EXTRA", "value": "1"}]})
    m = values.merge(text, lab)
    env = load(m.merged)["tmm"]["customEnvVars"]
    names = [e["name"] for e in env]
    assert names == ["PAL_CPU_SET", "TMM_MAPRES_ADDL_VETHS_ON_DP", "TMM_LOG_LEVEL", "EXTRA"]
    assert env[1]["value"] == "TRUE"
    assert "value: 'TRUE'" in m.merged  # the user's quoting is kept on a changed value
    actions = {c.path: c.action for c in m.changes if "customEnvVars" in c.path}
    assert actions == {
        "tmm.customEnvVars[TMM_MAPRES_ADDL_VETHS_ON_DP]": "change",
        "tmm.customEnvVars[TMM_MAPRES_ADDL_VETHS_ON_DP] (duplicate)": "remove",
        "tmm.customEnvVars[TMM_LOG_LEVEL]": "keep",
        "tmm.customEnvVars[EXTRA]": "add",
    }


def test_env_vars_must_be_a_list() -> None:
    with pytest.raises(values.ValuesError, match="customEnvVars must be a list"):
        values.merge("tmm:\n  customEnvVars:\n    A: b\n", make_lab())


# -- bad inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cpu", [1.5, "500m", "1500m"])
def test_fractional_cpu_in_params_is_refused(cpu: Any) -> None:
    with pytest.raises(ParameterError) as err:
        make_lab(tmm={"cpu": cpu})
    assert err.value.problems[0].path == "tmm.cpu"
    assert "whole CPUs" in err.value.problems[0].message


def test_requests_different_from_limits_in_user_values_are_fixed_and_shown() -> None:
    text = (
        "tmm:\n  resources:\n    limits:\n      cpu: '1'\n      hugepages-2Mi: 1572Mi\n      memory: 2Gi\n      ephemeral-storage: 1Gi\n"
        "    requests:\n      cpu: 500m\n      hugepages-2Mi: 1024Mi\n      memory: 1Gi\n      ephemeral-storage: 512Mi\n"
    )
    before = values.check_resources(load(text)["tmm"]["resources"])
    assert not before.ok
    assert "requests" in before.failed()[0].evidence
    m = values.merge(text, make_lab())
    after = load(m.merged)["tmm"]["resources"]
    assert {k: str(v) for k, v in after["limits"].items()} == {k: str(v) for k, v in after["requests"].items()}
    assert values.check_resources(after).ok
    changed = {c.path: c for c in m.conflicts}
    assert "not a whole CPU" in changed["tmm.resources.requests.cpu"].reason
    assert changed["tmm.resources.requests.ephemeral-storage"].new == "1Gi"
    # A limit the user already had right is kept as written (quoted '1' is one CPU).
    assert next(c for c in m.changes if c.path == "tmm.resources.limits.cpu").action == "keep"


def test_check_resources_rejects_fractions_and_bad_units() -> None:
    f = values.check_resources({"limits": {"cpu": "1.5", "memory": "2G", "hugepages-2Mi": 3221225472}})
    failed = {r.check for r in f.failed()}
    assert failed == {"whole CPUs", "Mi/Gi units"}


def test_other_hugepage_size_is_removed() -> None:
    text = "tmm:\n  resources:\n    limits:\n      hugepages-1Gi: 2Gi\n      cpu: 1\n"
    m = values.merge(text, make_lab())
    lim = load(m.merged)["tmm"]["resources"]["limits"]
    assert "hugepages-1Gi" not in lim and lim["hugepages-2Mi"] == "1572Mi"
    assert any(c.action == "remove" and c.path.endswith("hugepages-1Gi") for c in m.changes)


def test_extra_values_file_undoing_a_change_fails_the_check(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("tmm:\n  topologyManager: true\n  customEnvVars:\n    - name: A\n      value: b\n")
    lab = make_lab()
    m = values.merge(None, lab)
    f = values.check(values.effective(m.merged, [extra]), lab)
    assert {r.check for r in f.failed()} == {"TMM env var", "topology manager"}
    assert values.check(values.effective(m.merged), lab).ok


def test_not_yaml_is_a_values_error() -> None:
    with pytest.raises(values.ValuesError, match="not valid YAML"):
        values.merge("tmm: [unclosed\n", make_lab())


def test_missing_values_file_is_a_values_error(tmp_path: Path) -> None:
    lab = make_lab(install={"values_file": str(tmp_path / "nope.yaml")})
    with pytest.raises(values.ValuesError, match="does not exist"):
        values.merge_file(lab)


# -- secrets --------------------------------------------------------------------------------------


def test_secrets_are_masked_in_everything_shown() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7sQ\n-----END RSA PRIVATE KEY-----\n"
    b64 = base64.b64encode(pem.encode()).decode()
    text = (
        "imageCredentials:\n  registry: r.example\n  username: u\n  password: hunter2-registry-pw\n"
        "controller:\n  f5_lic_helper:\n    rabbitmqCerts:\n"
        f"      ca_root_cert: Y2EtY2VydA==\n      client_key: {b64}\n"
        f"other:\n  blob: \"{b64}\"\n  apiToken: tok-1234567890\n"
    )
    m = values.merge(text, make_lab())
    for secret in ("hunter2-registry-pw", b64, "tok-1234567890"):
        assert secret in m.merged  # helm gets the real values
        assert secret not in m.masked_merged
        assert secret not in m.diff
        assert secret not in m.masked_original
        assert secret in m.secrets
    assert "Y2EtY2VydA==" in m.masked_merged  # a certificate is not a secret
    masked = load(m.masked_merged)
    assert masked["imageCredentials"]["password"] == "***"
    assert masked["other"]["blob"] == "***"


def test_params_credentials_go_to_helm_but_are_never_shown() -> None:
    lab = make_lab(install={"image_credentials": {"registry": "quay.example", "username": "bot", "password": "s3cret-from-env"}})
    m = values.merge("imageCredentials:\n  password: old-placeholder\n", lab)
    assert load(m.merged)["imageCredentials"]["password"] == "s3cret-from-env"
    shown = str(m) + m.to_frame().to_string() + m.diff + m.masked_merged + str(m.to_dict())
    assert "s3cret-from-env" not in shown and "old-placeholder" not in shown
    assert "s3cret-from-env" in m.secrets


def test_write_in_place_keeps_a_backup(tmp_path: Path) -> None:
    f = tmp_path / "v.yaml"
    f.write_text("# mine\ntmm:\n  name: f5-tmm\n")
    lab = make_lab(install={"values_file": str(f), "modify_values_in_place": True})
    m = values.merge_file(lab)
    bak = values.write_in_place(m)
    assert bak.read_text() == "# mine\ntmm:\n  name: f5-tmm\n"
    assert f.read_text() == m.merged and "TMM_MAPRES_ADDL_VETHS_ON_DP" in f.read_text()


def test_changes_table_columns() -> None:
    df = values.merge(None, make_lab()).to_frame()
    assert list(df.columns) == ["path", "action", "old", "new", "reason"]
    assert set(df["old"]) == {"(absent)"}


def test_repr_never_holds_the_texts_or_secrets() -> None:
    lab = make_lab(install={"image_credentials": {"registry": "q", "username": "u", "password": "s3cret-in-repr"}})
    m = values.merge("imageCredentials:\n  password: file-secret-xyz\n", lab)
    for text in (repr(m), repr(m.overrides), str(m)):
        assert "s3cret-in-repr" not in text and "file-secret-xyz" not in text


@pytest.mark.parametrize(("pal", "cpu", "status"), [("0,1", 2, "pass"), ("0-3", 2, "warn"), ("0,2", 1, "warn")])
def test_pal_cpu_set_is_checked_against_the_tmm_cpu_count_before_install(pal: str, cpu: int, status: str) -> None:
    lab = make_lab()
    lab = lab.model_copy(update={"tmm": lab.tmm.model_copy(update={"cpu": cpu})})
    m = values.merge(f"tmm:\n  customEnvVars:\n    - name: PAL_CPU_SET\n      value: \"{pal}\"\n", lab)
    f = values.check(values.effective(m.merged), lab)
    (row,) = [r for r in f.rows if r.check == "PAL_CPU_SET"]
    assert row.status == status, row
    assert f.ok, "the rule is unconfirmed: a mismatch warns, never fails"
    if status == "warn":
        assert "mapres" in row.evidence and f"exactly {cpu} CPU" in row.action


@pytest.mark.parametrize(("values_text", "status"), [
    ("", "pass"),
    ("tmm:\n  nodeSelector:\n    node-role.kubernetes.io/worker: ''\n", "pass"),
    ("tmm:\n  nodeSelector:\n    spk: tmm\n", "fail"),
])
def test_tmm_placement_in_the_values_matches_the_nodes_the_checks_looked_at(values_text: str, status: str) -> None:
    lab = make_lab()
    m = values.merge(values_text or None, lab)
    f = values.check(values.effective(m.merged), lab)
    (row,) = [r for r in f.rows if r.check == "TMM placement"]
    assert row.status == status, row
    if status == "fail":
        assert "spk" in row.evidence and "node_selector" in row.action
