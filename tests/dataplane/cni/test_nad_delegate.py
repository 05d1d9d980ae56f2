"""nad-delegate's reading of the pod annotation, against the examples of the NPWG standard (section 4.1.2).

What it does with real plugins and a real API server is tested in the data plane tier
(``tests/dataplane/test_node.py``); these need neither.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dataplane.cni import nad_delegate as nd
from tests.support.dataplane import META_PLUGIN


def test_comma_list_with_namespaces_and_interface_names() -> None:
    got = nd.parse_networks(" macvlan-internal, spk/macvlan-external@ext0 ,", "default")
    assert [(s.ref, s.interface) for s in got] == [("default/macvlan-internal", None), ("spk/macvlan-external", "ext0")]


def test_json_list_keeps_interface_mac_and_namespace() -> None:
    text = json.dumps([{"name": "a"}, {"name": "b", "namespace": "x", "interface": "in1", "mac": "02:00:00:00:00:01"}])
    got = nd.parse_networks(text, "default")
    assert [(s.ref, s.interface, s.mac) for s in got] == [("default/a", None, None), ("x/b", "in1", "02:00:00:00:00:01")]


def test_empty_annotation_asks_for_nothing() -> None:
    assert nd.parse_networks("  ", "default") == []


@pytest.mark.parametrize(("text", "says"), [
    ("[{\"name\": 1}]", "needs a string \"name\""),
    ("[not json", "not valid JSON"),
    ("Macvlan_Internal", "not a DNS-1123 label"),
    ("{\"name\": \"a\"}", "not a DNS-1123 label"),  # not a list: read as a name, which it is not
])
def test_a_bad_annotation_is_an_invalid_config_error(text: str, says: str) -> None:
    with pytest.raises(nd.CniError) as err:
        nd.parse_networks(text, "default")
    assert err.value.code == 7 and says in err.value.msg


def test_version_and_an_unknown_command_follow_the_cni_protocol() -> None:
    env = {**os.environ, "CNI_COMMAND": "VERSION"}
    out = subprocess.run([sys.executable, str(META_PLUGIN)], env=env, capture_output=True, text=True, check=True)
    assert "1.0.0" in json.loads(out.stdout)["supportedVersions"]
    env["CNI_COMMAND"] = "FROB"
    bad = subprocess.run([sys.executable, str(META_PLUGIN)], env=env, input='{"cniVersion": "1.0.0"}', capture_output=True, text=True)
    assert bad.returncode == 1 and json.loads(bad.stdout)["code"] == 4
