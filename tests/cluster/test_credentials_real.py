"""Credentials obtained at run time, against the real kube-apiserver (issue 23 item 1, issue 20 item 1).

The runbook's user here never appears in a params file or a kubeconfig: an exec
credential plugin (a real script, the way ``oc`` or a cloud CLI logs in) prints it, or
it is read from a token file the way a pod's service account is. Either way it is
registered with the scrubber the moment the client obtains it, so no record holds
it, and helm reaches the same server with it. ``verify_tls: false`` says so once, in
our words, and never through urllib3's InsecureRequestWarning.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from spkrunbook import params, runbook, secrets
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import Forbidden
from tests.support.hostile import run_cli
from tests.support.paths import DEMO_DIR, DEMO_PARAMS
from tests.support.realcluster import ADMIN, READER, RealApi, RealCluster

pytestmark = pytest.mark.apiserver


def record_text(record: Path) -> str:
    return "".join(f.read_text(errors="replace") for f in record.rglob("*") if f.is_file())


def write_params(tmp_path: Path, target: dict[str, Any], **over: Any) -> Path:
    data = params.read_yaml(DEMO_PARAMS)
    data["target"] = {"kind": "live", "retries": 0, **target}
    data["install"] = {**data["install"], "values_file": str(DEMO_DIR / "values" / "ingress-values.yaml")}
    data.pop("debug", None)
    data.update(over)
    pfile = tmp_path / "lab.yaml"
    with open(pfile, "w") as fh:
        YAML().dump(data, fh)
    return pfile


def plugin_kubeconfig(tmp_path: Path, cluster: RealCluster, user: str) -> Path:
    """A kubeconfig whose user is an exec credential plugin; the token is only in a file the plugin reads."""
    secret = tmp_path / "plugin-state" / "token"
    secret.parent.mkdir()
    secret.write_text(cluster.tokens[user])
    script = tmp_path / "oc-sso-plugin"
    script.write_text("#!/bin/sh\nprintf '{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
                      f"\"status\": {{\"token\": \"%s\"}}}}' \"$(cat {secret})\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    kc = tmp_path / "kubeconfig"
    kc.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sso",
        "clusters": [{"name": "real", "cluster": {"server": cluster.url, "certificate-authority": str(cluster.ca_file)}}],
        "users": [{"name": "sso-user", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                         "command": str(script)}}}],
        "contexts": [{"name": "sso", "context": {"cluster": "real", "user": "sso-user"}}]}))
    assert cluster.tokens[user] not in kc.read_text()
    return kc


@pytest.mark.slow
def test_an_exec_plugin_token_reaches_the_cluster_and_never_the_record(real_cluster: RealCluster, real_api: RealApi,
                                                                       tmp_path: Path) -> None:
    token = real_cluster.tokens[ADMIN]
    kc = plugin_kubeconfig(tmp_path, real_cluster, ADMIN)
    mark = real_cluster.audit_mark()
    result = runbook.run(write_params(tmp_path, {"kubeconfig": str(kc)}), records_root=tmp_path / "rec",
                         steps=["prerequisites", "network-attachments"])
    assert [s.status for s in result.steps] == ["passed", "passed"], [s.error for s in result.steps]
    assert real_cluster.requests(ADMIN, mark), "the plugin's token is lab-admin's: the kernels used it"
    assert token in secrets.remembered(), "registered the moment the parent's client obtained it"
    assert token not in record_text(result.record)


def test_a_token_file_is_registered_when_read_and_helm_reaches_the_same_server(real_cluster: RealCluster,
                                                                             real_api: RealApi, tmp_path: Path) -> None:
    """In-cluster configuration: the server from the environment a pod has, the token from its file."""
    token_file = tmp_path / "token"
    token_file.write_text(real_cluster.tokens[READER])
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(real_cluster.port)}
    with LiveTarget.in_cluster(token_file=token_file, ca_file=real_cluster.ca_file, environ=env, retries=0) as t:
        assert t.list("nodes"), "the reader may list nodes"
        assert real_cluster.tokens[READER] in secrets.remembered()
        with pytest.raises(Forbidden) as denied:
            t.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "not-allowed"}})
        assert "lab-reader" in denied.value.message and real_cluster.tokens[READER] not in str(denied.value)
        with t.cluster_access() as access:
            assert access.env == {"HELM_KUBETOKEN": real_cluster.tokens[READER]}
            assert access.shown_env == {"HELM_KUBETOKEN": f'"$(cat {token_file})"'}
            assert real_cluster.tokens[READER] not in Path(access.args[1]).read_text()


@pytest.mark.slow
def test_verify_tls_false_is_one_warning_of_ours_and_never_urllib3s(real_cluster: RealCluster, real_api: RealApi,
                                                                   tmp_path: Path) -> None:
    pfile = write_params(tmp_path, {"server": real_cluster.url, "token": "${SPKRUNBOOK_TOKEN}", "verify_tls": False})
    env = {"SPKRUNBOOK_TOKEN": real_cluster.tokens[ADMIN]}
    validated = run_cli(["validate", str(pfile)], env=env)
    assert validated.returncode == 0, validated
    said = validated.stdout + validated.stderr
    assert "InsecureRequestWarning" not in said and "urllib3" not in said, said
    ours = [line for line in said.splitlines() if "target.verify_tls" in line]
    assert len(ours) == 1 and ours[0].startswith("warning: target.verify_tls: false: the API server's certificate"), said
    ran = run_cli(["run", str(pfile), "--step", "1", "--records", str(tmp_path / "rec")], env=env)
    assert ran.returncode == 0, ran
    (record,) = [p for p in (tmp_path / "rec").iterdir() if p.is_dir()]
    assert "InsecureRequestWarning" not in record_text(record) + ran.stdout + ran.stderr
    assert real_cluster.tokens[ADMIN] not in record_text(record)
