"""Secrets recognised by their shape in the user's values file, through a real headless run (slow).

A ``customEnvVars`` entry named like a secret (``SPK_API_TOKEN``) and a secret-bearing
key of the f5ingress chart (``controller.licenseKey``) are in no params field, so the
scrubber cannot know them in advance: they must be masked by shape wherever they
would land (values.yaml, values.diff, the notebook, its HTML, every JSON) and in
every encoding a file might hold them (plain, base64, JSON- and HTML-escaped).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from spkrunbook import runbook
from tests.support.paths import DEMO_DIR, DEMO_PARAMS

pytestmark = pytest.mark.slow

TOKEN = "tok-PLANT-9f3c&<x>\"q"
LICENSE = "LIC-PLANT-4471-ab/cd+ef=="


def forms(secret: str) -> list[bytes]:
    return [secret.encode(), base64.b64encode(secret.encode()), json.dumps(secret)[1:-1].encode(),
            html.escape(secret).encode(), html.escape(json.dumps(secret)[1:-1]).encode()]


def test_values_secrets_by_shape_never_land_in_the_record(tmp_path: Path) -> None:
    yaml = YAML()
    doc = yaml.load((DEMO_DIR / "values" / "ingress-values.yaml").read_text())
    doc.setdefault("controller", {})["licenseKey"] = LICENSE
    doc["tmm"].setdefault("customEnvVars", []).append({"name": "SPK_API_TOKEN", "value": TOKEN})
    buf = io.StringIO()
    yaml.dump(doc, buf)
    values = buf.getvalue()
    vfile = tmp_path / "values.yaml"
    vfile.write_text(values)
    before = vfile.read_bytes()
    text = DEMO_PARAMS.read_text().replace("./", f"{DEMO_DIR}/").replace(
        f"values_file: {DEMO_DIR}/values/ingress-values.yaml", f"values_file: {vfile}")
    params = tmp_path / "lab.yaml"
    params.write_text(text)
    result = runbook.run(params, records_root=tmp_path / "records", steps=["spk-install"])
    assert result.exit_code == 0, [s.to_dict() for s in result.steps]
    leaks = []
    files = [p for p in result.record.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"values.yaml", "values.diff", "03-spk-install.ipynb", "03-spk-install.html"} <= names
    for p in files:
        data = p.read_bytes()
        leaks += [f"{p.relative_to(result.record)}: {f[:12]!r}" for s in (TOKEN, LICENSE) for f in forms(s) if f in data]
    assert not leaks, leaks
    shown = (result.record / "spk-install" / "values.yaml").read_text()
    assert "SPK_API_TOKEN" in shown and "licenseKey" in shown, "the keys stay, only their values are masked"
    assert vfile.read_bytes() == before, "the user's values file is never changed"
