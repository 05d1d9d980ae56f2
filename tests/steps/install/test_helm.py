"""spkrunbook.steps.install.helm: the command, and a fake ``helm`` executable on PATH that records its argv."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import notebook, params, progress
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.errors import HelmError
from spkrunbook.steps import install
from spkrunbook.steps.install import helm, values
from tests.support import FakeApiServer, fakehelm, labdata, paths
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

ROOT = paths.ROOT
DEMO = DEMO_PARAMS
PASSWORD = "registry-pw-DO-NOT-LEAK-42"



@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``helm`` on PATH that logs its argv and the values files it was given."""
    bindir = tmp_path / "bin"
    fakehelm.install(bindir)
    log = tmp_path / "helm-log.json"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELM_LOG", str(log))
    return log


def lab_data(**install_over: Any) -> dict[str, Any]:
    return {
        "lab": "helm",
        "target": {"kind": "snapshot", "snapshot": str(DEMO_DIR / "snapshot")},
        "networks": {
            "internal": {"name": "macvlan-internal", "master": "ens224"},
            "external": {"name": "macvlan-external", "master": "ens256"},
        },
        "install": {"release": "f5ingress", **install_over},
    }


# -- command ---------------------------------------------------------------------------------------


def test_command_is_an_argv_list() -> None:
    lab = params.parse(lab_data(chart="tar/f5ingress-5.0.29.tgz", chart_version="5.0.29", helm_timeout="15m"))
    argv = helm.command(lab, ["/tmp/v.yaml", "extra.yaml"])
    assert argv == [
        "helm", "upgrade", "--install", "f5ingress", "tar/f5ingress-5.0.29.tgz", "-n", "default",
        "-f", "/tmp/v.yaml", "-f", "extra.yaml", "--timeout", "15m", "--version", "5.0.29",
    ]


def test_command_without_chart_has_a_placeholder_and_quotes_for_a_shell() -> None:
    lab = params.parse(lab_data())
    argv = helm.command(lab, ["values.yaml"])
    assert argv[4] == helm.CHART_PLACEHOLDER
    assert "'<chart: tar/f5ingress-<version>.tgz>'" in helm.shell(argv)


def test_live_command_targets_the_same_cluster(api: FakeApiServer, tmp_path: Path) -> None:
    """helm is handed the cluster by the target: the kubeconfig and context it was built from."""
    kc = api.write_kubeconfig(tmp_path / "kc", context="lab")
    data = lab_data(chart="c.tgz")
    data["target"] = {"kind": "live", "kubeconfig": str(kc), "context": "lab"}
    lab = params.parse(data)
    with LiveTarget.from_params(lab.target, check=False) as target, helm.cluster_access(target) as access:
        assert access is not None and access.env == {}
        argv = helm.command(lab, ["v.yaml"], cluster=access.args)
    assert argv[-4:] == ["--kubeconfig", str(kc.resolve()), "--kube-context", "lab"]


def test_server_and_token_reach_helm_as_a_kubeconfig_without_the_secret(api: FakeApiServer, tmp_path: Path) -> None:
    """``target.server`` + token: helm gets a temporary kubeconfig naming the server (no token in it, none on
    its command line), the token in its environment; the file is gone after the call."""
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n")
    with LiveTarget.from_server(api.url, api.token, ca_file=ca) as target, helm.cluster_access(target) as access:
        assert access is not None
        kc = Path(access.args[access.args.index("--kubeconfig") + 1])
        written = json.loads(kc.read_text())
        assert oct(kc.stat().st_mode & 0o777) == "0o600" and oct(kc.parent.stat().st_mode & 0o777) == "0o700"
        assert written["clusters"][0]["cluster"] == {"server": api.url, "certificate-authority": str(ca.resolve())}
        assert api.token is not None and api.token not in kc.read_text() and api.token not in " ".join(access.args + access.shown)
        assert access.env == {"HELM_KUBETOKEN": api.token}
        assert access.shown_env == {"HELM_KUBETOKEN": '"$SPKRUNBOOK_TOKEN"'}
        assert "--kube-apiserver" in access.shown and "--kube-ca-file" in access.shown
    assert not kc.exists() and not kc.parent.exists()


@pytest.mark.parametrize(
    "kind,over,helm_path,run,why",
    [
        ("snapshot", {"chart": "c.tgz"}, "/bin/helm", False, "snapshot"),
        ("live", {"chart": "c.tgz", "run_helm": False}, "/bin/helm", False, "run_helm is false"),
        ("live", {}, "/bin/helm", False, "install.chart is not set"),
        ("live", {"chart": "c.tgz"}, None, False, "not on PATH"),
        ("live", {"chart": "c.tgz"}, "/bin/helm", True, "running /bin/helm"),
    ],
)
def test_decide(kind: str, over: dict[str, Any], helm_path: str | None, run: bool, why: str) -> None:
    d = helm.decide(params.parse(lab_data(**over)), kind, which=lambda _n: helm_path)
    assert d.run is run and why in d.reason


# -- run with the fake helm --------------------------------------------------------------------------


def test_run_streams_lines_and_records_argv(fake_helm: Path) -> None:
    seen: list[str] = []
    result = helm.run(["helm", "upgrade", "--install", "r", "c.tgz"], on_line=seen.append)
    assert result.ok and result.returncode == 0
    assert seen[0] == 'Release "f5ingress" does not exist. Installing it now.' and seen[-1] == "STATUS: deployed"
    assert json.loads(fake_helm.read_text())["argv"] == ["upgrade", "--install", "r", "c.tgz"]


def test_run_failure_is_a_helm_error_with_tail_and_hint(fake_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_RC", "3")
    with pytest.raises(HelmError) as err:
        helm.run(["helm", "upgrade", "--install", "r", "c.tgz"], release="r", namespace="spk")
    e = err.value
    assert e.returncode == 3
    assert "Kubernetes cluster unreachable" in e.stderr_tail
    assert "kubeconfig" in (e.hint or "")
    assert "exit code 3" in str(e)


def test_run_output_is_scrubbed(fake_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spkrunbook.secrets import Scrubber

    monkeypatch.setenv("FAKE_HELM_ECHO", PASSWORD)
    seen: list[str] = []
    result = helm.run(["helm", "upgrade", "--install", "f5ingress", "chart.tgz"], on_line=seen.append, scrubber=Scrubber({PASSWORD}))
    assert PASSWORD not in result.output and PASSWORD not in "".join(seen)
    assert "using password ***" in seen


def test_run_missing_executable() -> None:
    with pytest.raises(HelmError, match="cannot start") as err:
        helm.run(["/nonexistent/helm", "version"])
    assert err.value.returncode == 127


@pytest.mark.parametrize(
    "stderr,needle",
    [
        ("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress", "helm rollback f5ingress -n spk"),
        ('Error: UPGRADE FAILED: "f5ingress" has no deployed releases', "helm uninstall f5ingress -n spk"),
        ("Error: INSTALLATION FAILED: timed out waiting for the condition", "helm_timeout"),
        ("Error: INSTALLATION FAILED: path \"tar/x.tgz\" not found", "install.chart"),
        ("something new", "run the step again"),
    ],
)
def test_hints(stderr: str, needle: str) -> None:
    assert needle in helm.hint_for(stderr, "f5ingress", "spk")


# -- the step function: live stand-in server and fake helm --------------------------------------------


@pytest.fixture
def live_step(api: FakeApiServer, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[notebook.Step]:
    api.add_many(labdata.lab_objects())
    monkeypatch.setenv("SPK_REGISTRY_PW", PASSWORD)
    values_file = tmp_path / "my-values.yaml"
    values_file.write_text("# mine\ntmm:\n  topologyManager: true\n")
    (tmp_path / "tar").mkdir()
    (tmp_path / "tar" / "f5ingress-5.0.29.tgz").write_bytes(b"chart")  # helm is fake here; the file must exist
    data = lab_data(chart="tar/f5ingress-5.0.29.tgz", values_file=str(values_file),
                    image_credentials={"registry": "quay.example", "username": "bot", "password": "${SPK_REGISTRY_PW}"})
    data["target"] = {"kind": "live", "kubeconfig": str(kubeconfig)}
    pfile = tmp_path / "lab.yaml"
    pfile.write_text(json.dumps(data))
    step = notebook.start("spk-install", str(pfile), str(tmp_path / "record"))
    yield step


def test_run_helm_live_uses_a_private_temp_values_file(live_step: notebook.Step, fake_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_ECHO", PASSWORD)
    vals = values.prepare(live_step.lab)
    shown = progress.quiet()
    outcome = helm.install(live_step.lab, live_step.target, vals, progress=shown)
    live_step.save(vals)
    live_step.save(outcome)
    assert outcome.ok and outcome.ran and outcome.findings.ok
    log = json.loads(fake_helm.read_text())
    argv = log["argv"]
    assert argv[:3] == ["upgrade", "--install", "f5ingress"] and argv[3].endswith("/tar/f5ingress-5.0.29.tgz")
    assert argv[4:6] == ["-n", "default"]
    assert "--kubeconfig" in argv
    given = log["values"][0]
    assert PASSWORD in given["text"] and "topologyManager: false" in given["text"]
    assert given["mode"] == "0o600"
    temp = Path(given["path"])
    assert not temp.exists() and not str(temp).startswith(str(live_step.record_dir))
    # The shown command names the record's (masked) copy beside it, never the temp file.
    assert "-f values.yaml" in outcome.command_line and str(temp) not in outcome.command_line
    for f in live_step.record_dir.rglob("*"):
        if f.is_file():
            assert PASSWORD not in f.read_text(errors="replace"), f
    assert "using password ***" in shown.lines
    assert (live_step.record_dir / "spk-install" / "helm-output.txt").read_text().startswith("$ helm upgrade --install")


def test_run_helm_live_failure_is_a_failed_row(live_step: notebook.Step, fake_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HELM_RC", "1")
    outcome = helm.install(live_step.lab, live_step.target, values.prepare(live_step.lab))
    assert not outcome.ok and isinstance(outcome.error, HelmError) and outcome.error.returncode == 1
    row = outcome.findings.failed()[0]
    assert "kubeconfig" in row.action
    assert "FAILED" in outcome._repr_html_()
    assert "helm-output.txt" in outcome.files()


def test_run_helm_on_a_snapshot_records_the_command(tmp_path: Path, fake_helm: Path) -> None:
    step = notebook.start("spk-install", str(DEMO), str(tmp_path / "rec"))
    assert isinstance(step.target, SnapshotTarget)
    outcome = helm.install(step.lab, step.target, values.prepare(step.lab))
    step.save(outcome)
    assert not outcome.ran and not fake_helm.exists()
    script = (step.record_dir / "spk-install" / "helm-command.sh").read_text()
    assert "helm upgrade --install f5ingress" in script and "-f values.yaml" in script
    assert outcome.findings.rows[0].status == "skip"


def test_install_run_is_the_whole_step_on_a_snapshot(tmp_path: Path, fake_helm: Path) -> None:
    lab = params.load(DEMO)
    result = install.run(lab, SnapshotTarget(_snapshot(lab)))
    assert result.ok and not result.helm.ran and not fake_helm.exists()
    assert [p.findings.title for p in result.parts] == ["SPK values", "MTU agreement (before the install)",
                                                        "F5SPKVlan CRs", "helm upgrade --install",
                                                        "TMM verification", "helm uninstall"]
    assert result.removed is not None and not result.removed.requested
    assert {"values.yaml", "values.diff", "f5spkvlans.yaml", "helm-command.sh", "tmm-verification.json"} <= set(result.files())


# -- helm 3 / helm 4, the release's own status, teardown ------------------------------------------------------

def live_lab(tmp_path: Path, **install_over: Any) -> params.Lab:
    kc = tmp_path / "kc"
    if not kc.exists():
        kc.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "lab",
                                  "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                                  "users": [{"name": "u", "user": {}}],
                                  "contexts": [{"name": "lab", "context": {"cluster": "c", "user": "u"}}]}))
    data = lab_data(chart=str(tmp_path / "f5ingress.tgz"), **install_over)
    data["target"] = {"kind": "live", "kubeconfig": str(kc)}
    return params.parse(data)


def live(lab: params.Lab) -> LiveTarget:
    """The lab's target, not connected (helm here is the fake one, which reaches nothing)."""
    return LiveTarget.from_params(lab.target, check=False)


@pytest.mark.parametrize(("major", "wait", "rollback"), [(3, "--wait", "--atomic"), (4, "--wait=watcher", "--rollback-on-failure")])
def test_helm_version_decides_the_flags(fake_helm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        major: int, wait: str, rollback: str) -> None:
    monkeypatch.setenv("FAKE_HELM_MAJOR", str(major))
    lab = live_lab(tmp_path, helm_wait=True, rollback_on_failure=True)
    outcome = helm.install(lab, live(lab), values.prepare(lab))
    assert outcome.ok and outcome.major == major and outcome.status == "deployed" and outcome.revision == 1
    argv = json.loads(fake_helm.read_text())["argv"]
    assert wait in argv and rollback in argv
    other = {3: ("--wait=watcher", "--rollback-on-failure"), 4: ("--atomic",)}[major]
    assert not set(other) & set(argv)
    assert f"helm v{major}" in outcome.findings.rows[0].evidence
    plain = helm.command(live_lab(tmp_path), ["v.yaml"], major=major)
    assert not {"--wait", "--wait=watcher", "--atomic", "--rollback-on-failure"} & set(plain)


@pytest.mark.parametrize(("state", "recover"), [("pending-install", "helm uninstall f5ingress -n default"),
                                                ("pending-upgrade", "helm rollback f5ingress <revision> -n default")])
def test_a_pending_release_is_reported_with_its_recovery_and_not_touched(fake_helm: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        state: str, recover: str) -> None:
    monkeypatch.setenv("FAKE_HELM_STATUS", state)
    lab = live_lab(tmp_path)
    outcome = helm.install(lab, live(lab), values.prepare(lab))
    assert not outcome.ok and outcome.status == state
    assert not fake_helm.exists(), "no upgrade was run on a pending release"
    (row,) = outcome.findings.rows
    assert row.status == "fail" and state in row.evidence and recover in row.action
    assert "helm history f5ingress -n default" in row.action


def test_exit_0_with_a_release_that_is_not_deployed_fails(fake_helm: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Success is the exit code AND the release's status: helm 0 with a "failed" release is a failure."""
    monkeypatch.setenv("FAKE_HELM_STATUS", "failed")
    lab = live_lab(tmp_path)
    outcome = helm.install(lab, live(lab), values.prepare(lab))
    assert fake_helm.exists(), "the upgrade ran (failed is not a pending state)"
    assert not outcome.ok and outcome.error is not None
    assert "exited 0 but release f5ingress is failed" in outcome.error.message
    assert "helm history f5ingress -n default" in (outcome.error.hint or "")


def test_teardown_uninstalls_only_when_asked(fake_helm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = live_lab(tmp_path)
    assert helm.uninstall(lab, live(lab), when=False).findings.rows[0].status == "skip"
    absent = helm.uninstall(lab, live(lab), when=True)
    assert absent.outcome == "absent" and absent.findings.ok
    helm.install(lab, live(lab), values.prepare(lab))
    gone = helm.uninstall(lab, live(lab), when=True)
    assert gone.outcome == "uninstalled" and gone.ran and "revision 1" in gone.detail
    assert helm.uninstall(lab, live(lab), when=True).outcome == "absent", "the release is gone"
    planned = helm.uninstall(lab, SnapshotTarget(DEMO_DIR / "snapshot"), when=True)
    assert planned.outcome == "planned" and not planned.ran
    assert "helm uninstall f5ingress -n default" in planned.findings.rows[0].action


def _snapshot(lab: params.Lab) -> Path:
    assert lab.target.snapshot is not None, "a snapshot lab"
    return lab.target.snapshot
