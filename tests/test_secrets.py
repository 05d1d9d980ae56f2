"""scrub: known secrets and secret-shaped text never survive; JSON stays valid."""

from __future__ import annotations

import base64
import json

from spkrunbook.secrets import MASK, Scrubber, kubeconfig_secrets


def test_known_values_and_their_base64_are_masked():
    s = Scrubber({"s3cr3t-value-xyz"})
    text = f"a s3cr3t-value-xyz b {base64.b64encode(b's3cr3t-value-xyz').decode()} c"
    assert s.text(text) == f"a {MASK} b {MASK} c"


def test_secret_shapes_are_masked_without_knowing_the_value():
    s = Scrubber()
    text = "\n".join(
        [
            "imageCredentials:",
            "  password: hunter2hunter2",
            "  token: null",
            "Authorization: Bearer abcdefghijklmnopqrstuvwx",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "helm --password p4ss --set x=1",
            "  password: ${FROM_ENV}",
        ]
    )
    out = s.text(text)
    assert "hunter2hunter2" not in out and "abcdefghijklmnop" not in out and "MIIEowIBAAKCAQEA" not in out and "p4ss" not in out
    assert "token: null" in out and "${FROM_ENV}" in out


def test_json_stays_valid():
    s = Scrubber({"tok-1234567"})
    data = {"token": None, "password": "abc", "auth": "tok-1234567", "n": 1}
    out = json.loads(s.text(json.dumps(data, indent=2)))
    assert out == {"token": None, "password": MASK, "auth": MASK, "n": 1}
    assert s.text("password: hunter2hunter2") == f"password: \"{MASK}\""


def test_kubeconfig_secrets(tmp_path):
    key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA\n-----END PRIVATE KEY-----\n").decode()
    kc = tmp_path / "kc"
    kc.write_text(
        json.dumps(
            {
                "users": [
                    {"name": "a", "user": {"token": "sha256~abcdef123456"}},
                    {"name": "b", "user": {"client-key-data": key, "password": "pw-123456"}},
                    {"name": "c", "user": {"exec": {"env": [{"name": "X", "value": "exec-secret-1"}]}}},
                ]
            }
        )
    )
    found = kubeconfig_secrets(kc)
    assert {"sha256~abcdef123456", key, "pw-123456", "exec-secret-1"} <= found
    assert "MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEA" in found
    assert kubeconfig_secrets(tmp_path / "missing") == set()
