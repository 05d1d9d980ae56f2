"""The params loader under random input (hypothesis): it either returns a Lab or raises ParameterError
with field paths; never another exception, never a hang, never a secret in the message."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from spkrunbook import params
from spkrunbook.errors import ParameterError
from tests.support.paths import DEMO_PARAMS

DEMO: dict[str, Any] = YAML(typ="safe").load(DEMO_PARAMS.read_text())
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                              HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=40), st.sampled_from(["<placeholder>", "${SPK_FUZZ}", "\x00", "ens224",
                                                           "10.1.10.300", "0.2.0", "passthru", "[/b]"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [p for p in _paths(DEMO) if p]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _judge(data: Any) -> None:
    try:
        lab = params.parse(data, base_dir=DEMO_PARAMS.parent)
    except ParameterError as exc:
        assert exc.problems, "a ParameterError names at least one problem"
        assert all(isinstance(p.path, str) for p in exc.problems)
        assert "fuzz-secret-value" not in str(exc)
    else:
        assert isinstance(lab, params.Lab)


@SETTINGS
@given(st.sampled_from(PATHS), values)
def test_one_field_of_the_demo_replaced_by_anything(path: tuple[Any, ...], value: Any) -> None:
    os.environ["SPK_FUZZ"] = "fuzz-secret-value"
    _judge(_set(DEMO, path, value))


@SETTINGS
@given(values)
def test_any_document_at_all(doc: Any) -> None:
    _judge(doc)


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_as_a_params_file(tmp_path_factory: Any, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "lab.yaml"
    path.write_bytes(data)
    try:
        params.load(path)
    except ParameterError as exc:
        assert exc.problems
