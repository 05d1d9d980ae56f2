"""Signed artifacts (issue 24 item 4): F5's signatures checked with the real openssl, a chart's provenance with
the real helm verify (v3 and v4 from scripts/build_k8s.sh), before helm installs anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spkrunbook import params
from spkrunbook.cluster.snapshot import SnapshotTarget
from spkrunbook.steps import install
from spkrunbook.steps.install import signatures
from tests.support import fakehelm
from tests.support.paths import DEMO_PARAMS, ROOT

CHART = ROOT / "tests" / "fixtures" / "charts" / "f5ingress-test"
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def release(tmp_path: Path, *, tamper: bool = False) -> Path:
    """An SPK-style release as F5 ships it: tarball, PEM public key, a signature of it; the chart unpacked in tar/."""
    rel = tmp_path / "release"
    (rel / "tar").mkdir(parents=True)
    chart = rel / "tar" / "f5ingress-5.0.29.tgz"
    subprocess.run(["tar", "czf", str(chart), "-C", str(CHART.parent), CHART.name], check=True)
    tarball = rel / "f5-spk-tarball-1.8.0.tgz"
    subprocess.run(["tar", "czf", str(tarball), "-C", str(rel), "tar"], check=True)
    key = tmp_path / "signer.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(rel / "f5-spk-1.8.0.pem")], check=True)
    subprocess.run(["openssl", "dgst", "-sha512", "-sign", str(key), "-out",
                    str(rel / "f5-spk-tarball.tgz-1.8.0.sha512.sig"), str(tarball)], check=True)
    if tamper:
        with open(tarball, "ab") as fh:
            fh.write(b"one byte more")
    return chart


def lab_for(chart: Path, **install_over: object) -> params.Lab:
    data = params.read_yaml(DEMO_PARAMS)
    data["install"] = {**data["install"], "chart": str(chart), **install_over}
    return params.parse(data, base_dir=DEMO_PARAMS.parent)


def test_f5_names_pair_a_signature_with_the_file_it_signs(tmp_path: Path) -> None:
    release(tmp_path)
    assert signatures.signed_file(tmp_path / "release" / "f5-spk-tarball.tgz-1.8.0.sha512.sig") == \
        tmp_path / "release" / "f5-spk-tarball-1.8.0.tgz"


def test_a_good_signature_verifies_with_openssl(tmp_path: Path) -> None:
    check = signatures.verify(lab_for(release(tmp_path)))
    (row,) = check.findings.rows
    assert row.status == "pass" and "Verified OK" in row.evidence and not check.refusal
    assert check.checked[0].argv[1:3] == ["dgst", "-sha512"]


def test_a_bad_signature_stops_the_step_before_helm_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_for(release(tmp_path, tamper=True))
    check = signatures.verify(lab)
    (row,) = check.findings.rows
    assert row.status == "fail" and "Verification failure" in row.evidence and "helm was not run" in row.evidence
    log = tmp_path / "helm.log"
    helm = fakehelm.install(tmp_path / "bin")
    monkeypatch.setenv("FAKE_HELM_LOG", str(log))
    result = install.run(lab, SnapshotTarget(lab.target.snapshot), which=lambda n: str(helm) if n == "helm" else
                         shutil.which(n))
    assert not result.ok and not result.helm.ran and not log.exists()
    assert result.helm.decision.reason.startswith("the signature check failed for f5-spk-tarball-1.8.0.tgz")
    assert json.loads(result.files()["signatures.json"])["checked"][0]["ok"] is False


def test_no_signature_is_a_warning(tmp_path: Path) -> None:
    chart = tmp_path / "f5ingress.tgz"
    subprocess.run(["tar", "czf", str(chart), "-C", str(CHART.parent), CHART.name], check=True)
    (row,) = signatures.verify(lab_for(chart)).findings.rows
    assert row.status == "warn" and "no signature" in row.evidence and "install.signatures" in row.action


@pytest.mark.apiserver
@pytest.mark.parametrize("major", [3, 4])
def test_a_provenance_file_is_checked_with_the_real_helm(tmp_path: Path, major: int) -> None:
    from tests.support.realcluster import NotBuilt, binaries

    try:
        helm = binaries().helm3 if major == 3 else binaries().helm4
    except NotBuilt as exc:
        pytest.skip(str(exc))
    if helm is None or shutil.which("gpg") is None:
        pytest.skip("helm or gpg is not there")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "SPK Lab <lab@example.org>", "rsa2048",
                    "sign", "never"], env=env, check=True, capture_output=True)
    sec, pub = tmp_path / "secring.gpg", tmp_path / "pubring.gpg"
    sec.write_bytes(subprocess.run(["gpg", "--batch", "--export-secret-keys"], env=env, check=True, capture_output=True).stdout)
    pub.write_bytes(subprocess.run(["gpg", "--batch", "--export"], env=env, check=True, capture_output=True).stdout)
    out = tmp_path / "charts"
    subprocess.run([str(helm), "package", str(CHART), "-d", str(out), "--sign", "--key", "SPK Lab", "--keyring", str(sec)],
                   check=True, capture_output=True, env={**env, "HELM_CACHE_HOME": str(tmp_path / "c"),
                                                         "HELM_CONFIG_HOME": str(tmp_path / "cf")})
    chart = next(out.glob("*.tgz"))
    which = {"helm": str(helm), "openssl": shutil.which("openssl")}.get
    good = signatures.verify(lab_for(chart, keyring=str(pub)), which=which)
    assert [(v.tool, v.ok) for v in good.checked] == [("helm verify", True)], good.checked
    with open(chart, "ab") as fh:
        fh.write(b"\0")
    bad = signatures.verify(lab_for(chart, keyring=str(pub)), which=which)
    assert [(v.tool, v.ok) for v in bad.checked] == [("helm verify", False)] and bad.refusal
