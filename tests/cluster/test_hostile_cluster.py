"""A slow or hostile cluster and run-time credentials at the one boundary (issue 23, items 1 and 2).

The real ``kubernetes`` client against the stand-in, which injects the faults: a server
that drips one byte at a time (headers or body), answers of a gigabyte (with and
without a Content-Length), exec output that never ends or never finishes, a 403 that
echoes the request's credential; and kubeconfigs that are hostile themselves (an exec
credential plugin that hangs, prints too much, fails or lies; YAML alias bombs; a FIFO;
a symlink loop). Each case must end within its bound plus a small margin with one of
our errors, a message that says what happened and what to do, and no credential in it.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import sys
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from spkrunbook import kubeconfig, secrets
from spkrunbook.cluster.live import MAX_EXEC_BYTES, MAX_OBJECT_BYTES, LiveTarget
from spkrunbook.errors import ClusterError, ClusterUnreachable, Forbidden
from tests.support import FakeApiServer

TIMEOUT = 2.0
MARGIN = 1.5  # what "a small margin" means here: scheduling on a shared 2-core machine
PLUGIN_TOKEN = "plugin-issued-TOKEN-0123456789-DO-NOT-LEAK"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
def target(api: FakeApiServer) -> Iterator[LiveTarget]:
    t = LiveTarget.from_server(api.url, api.token, request_timeout=TIMEOUT, retries=2, backoff=0.01)
    yield t
    t.close()


def timed(fn: object, *args: object) -> tuple[float, BaseException | None, object]:
    t0 = time.monotonic()
    try:
        out = fn(*args)  # type: ignore[operator]
    except BaseException as exc:
        return time.monotonic() - t0, exc, None
    return time.monotonic() - t0, None, out


# -- a slow server: a deadline on the whole answer, not per read ---------------------------------------------------
@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_server_that_drips_one_byte_at_a_time_is_stopped_at_the_request_timeout(api: FakeApiServer, target: LiveTarget,
                                                                                   phase: str) -> None:
    api.drip("GET", "^/version$", interval=0.2, phase=phase)  # each read well inside the socket timeout
    took, exc, _ = timed(target.check_reachable)
    assert isinstance(exc, ClusterUnreachable), exc
    assert TIMEOUT - 0.1 <= took <= TIMEOUT + MARGIN, f"{took:.1f}s"
    assert "did not finish answering GET /version within 2s" in exc.message and "request_timeout" in (exc.hint or "")
    # not retried: a server this slow is not a blip (retries=2 would have tripled the wait)
    assert [r.path for r in api.requests].count("/version") == 1
    api.clear_failures()
    assert target.check_reachable()["gitVersion"], "the next request uses a fresh connection"


def test_a_dripping_list_is_stopped_and_the_next_call_works(api: FakeApiServer, target: LiveTarget) -> None:
    api.drip("GET", "^/api/v1/nodes$", interval=0.1, times=1)
    took, exc, _ = timed(target.list, "nodes")
    assert isinstance(exc, ClusterUnreachable) and took <= TIMEOUT + MARGIN
    assert target.list("nodes") == []


# -- a huge answer: read at most a cap ---------------------------------------------------------------------------------
@pytest.mark.parametrize("content_length", [True, False], ids=["said", "unsaid"])
def test_version_answered_with_a_gigabyte_is_refused_without_reading_it(api: FakeApiServer, target: LiveTarget,
                                                                        content_length: bool) -> None:
    before = rss_mb()
    api.huge("GET", "^/version$", 1 << 30, content_length=content_length)
    took, exc, _ = timed(target.check_reachable)
    assert isinstance(exc, ClusterError), exc
    assert took < 5 and rss_mb() - before < 4 * MAX_OBJECT_BYTES / 2**20, f"{took:.1f}s, +{rss_mb() - before:.0f} MB"
    said = "1,073,741,824 bytes" if content_length else f"more than {MAX_OBJECT_BYTES:,} bytes"
    assert f"answered GET /version with {said}; refused" in exc.message
    assert "etcd" in (exc.hint or "") and "oc whoami --show-server" in (exc.hint or "")


def test_a_list_larger_than_the_cap_names_the_setting(api: FakeApiServer) -> None:
    api.huge("GET", "^/api/v1/nodes$", 40 << 20)
    with LiveTarget.from_server(api.url, api.token, max_list_bytes=16 << 20, retries=0) as t:
        with pytest.raises(ClusterError) as caught:
            t.list("nodes")
    assert "more than 16,777,216 bytes" in caught.value.message
    assert "target.max_response_mb" in (caught.value.hint or "")


# -- exec: capped in bytes and in time, and the result says what was cut ----------------------------------------------
def tmm_pod(api: FakeApiServer) -> None:
    api.add({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tmm-1", "namespace": "spk"},
             "spec": {"nodeName": "worker-0", "containers": [{"name": "debug", "image": "x"}]},
             "status": {"phase": "Running"}})


def endless(argv: list[str], stdin: bytes) -> Generator[tuple[int, bytes], None, int]:
    chunk = b"x" * 65536
    while True:
        yield 1, chunk


def trickle(argv: list[str], stdin: bytes) -> Generator[tuple[int, bytes], None, int]:
    while True:
        time.sleep(0.2)
        yield 1, b"still here\n"


def test_exec_output_that_never_ends_is_cut_at_the_byte_cap(api: FakeApiServer, target: LiveTarget) -> None:
    tmm_pod(api)
    api.on_exec("tmm-.*", "debug", endless)
    before = rss_mb()
    took, exc, res = timed(lambda: target.exec("spk", "tmm-1", "debug", ["ip", "-br", "link"], timeout=30))
    assert exc is None and res is not None
    assert len(res.stdout) <= MAX_EXEC_BYTES and not res.ok  # type: ignore[attr-defined]
    assert res.cut.startswith(f"output cut at {MAX_EXEC_BYTES:,} bytes")  # type: ignore[attr-defined]
    assert took < 30 and rss_mb() - before < 200, f"{took:.1f}s, +{rss_mb() - before:.0f} MB"


def test_exec_that_never_finishes_is_cut_at_its_timeout(api: FakeApiServer, target: LiveTarget) -> None:
    tmm_pod(api)
    api.on_exec("tmm-.*", "debug", trickle)
    took, exc, res = timed(lambda: target.exec("spk", "tmm-1", "debug", ["tmctl", "-a"], timeout=1.5))
    assert exc is None and res is not None and res.timed_out  # type: ignore[attr-defined]
    assert 1.4 <= took <= 1.5 + MARGIN
    assert res.cut.startswith("stopped after 1.5s") and b"still here" in res.stdout  # type: ignore[attr-defined]


# -- a credential the server echoes back ------------------------------------------------------------------------------
def test_a_403_that_echoes_the_token_never_shows_it(api: FakeApiServer, target: LiveTarget) -> None:
    api.fail_next("GET", "/nodes$", 403, message="nodes is forbidden: token {token} may not list nodes")
    with pytest.raises(Forbidden) as caught:
        target.list("nodes")
    assert api.token is not None and api.token not in str(caught.value) and "token *** may not" in caught.value.message


# -- kubeconfigs with an exec credential plugin ----------------------------------------------------------------------
def plugin(tmp_path: Path, body: str) -> Path:
    """A real exec credential plugin: a script the kubeconfig's user runs (like `oc` or a cloud CLI)."""
    script = tmp_path / "credential-plugin"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def exec_kubeconfig(tmp_path: Path, server: str, command: Path) -> Path:
    kc = tmp_path / "kubeconfig"
    kc.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "sso", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(command),
                                                    "interactiveMode": "Never"}}}],
        "contexts": [{"name": "lab", "context": {"cluster": "c", "user": "sso"}}]}))
    return kc


CREDENTIAL = ('cat <<EOF\n{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
              f'"status": {{"token": "{PLUGIN_TOKEN}"}}}}\nEOF\n')


def test_an_exec_plugin_token_is_registered_the_moment_it_is_obtained(tmp_path: Path) -> None:
    with FakeApiServer(token=PLUGIN_TOKEN) as api:
        kc = exec_kubeconfig(tmp_path, api.url, plugin(tmp_path, CREDENTIAL))
        assert PLUGIN_TOKEN not in kc.read_text() and PLUGIN_TOKEN not in secrets.kubeconfig_secrets(kc)
        api.fail_next("GET", "/nodes$", 403, message="token {token} is not allowed to list nodes")
        with LiveTarget.from_kubeconfig(kc, retries=0) as t:
            assert PLUGIN_TOKEN in secrets.remembered()
            assert t.check_reachable()["gitVersion"]  # the plugin's token was accepted
            with pytest.raises(Forbidden) as caught:
                t.list("nodes")
        assert PLUGIN_TOKEN not in str(caught.value)
        assert secrets.Scrubber().text(f"Authorization: {PLUGIN_TOKEN}") == "Authorization: ***"


@pytest.mark.parametrize(("body", "said"), [
    ("exec sleep 3600\n", "did not answer within 2s"),
    ("sleep 3600 &\nwait\n", "did not answer within 2s"),  # a child holding the pipes: the whole group is stopped
    ("yes token\n", "printed more than 1,048,576 bytes"),
    ("echo 'login required: run oc login' >&2; exit 3\n", "exited with status 3: login required: run oc login"),
    ("echo not-json\n", "printed no ExecCredential"),
])
def test_an_exec_plugin_that_hangs_floods_fails_or_lies_is_bounded_and_said(api: FakeApiServer, tmp_path: Path,
                                                                           body: str, said: str) -> None:
    kc = exec_kubeconfig(tmp_path, api.url, plugin(tmp_path, body))
    took, exc, _ = timed(lambda: LiveTarget.from_kubeconfig(kc, request_timeout=TIMEOUT))
    assert isinstance(exc, ClusterUnreachable), exc
    assert took <= TIMEOUT + MARGIN, f"{took:.1f}s"
    assert said in exc.message and "credential plugin" in exc.message and exc.hint
    assert exc.exit_code == 2


# -- hostile kubeconfig files --------------------------------------------------------------------------------------------
def alias_bomb(levels: int = 12) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
              for i in range(1, levels)]
    return "apiVersion: v1\nkind: Config\npreferences:\n" + "".join(f"  {line}\n" for line in lines)


def test_a_kubeconfig_alias_bomb_is_refused_before_anything_is_expanded(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(alias_bomb())  # 9**12 strings if expanded
    before = rss_mb()
    took, exc, _ = timed(LiveTarget.from_kubeconfig, kc)
    assert isinstance(exc, ClusterUnreachable) and took < 2 and rss_mb() - before < 50
    assert "aliases" in exc.message and "oc config view --raw" in (exc.hint or "")
    assert kubeconfig.contexts(kc) == ([], None)  # forms and validation ask the same reader
    assert secrets.kubeconfig_secrets(kc) == set()


@pytest.mark.skipif(sys.platform != "linux", reason="FIFOs and symlink loops as Linux makes them")
def test_a_kubeconfig_that_is_a_fifo_or_a_symlink_loop_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    for path, said in ((fifo, "not a regular file"), (loop, "points to itself")):
        took, exc, _ = timed(LiveTarget.from_kubeconfig, path)
        assert isinstance(exc, ClusterUnreachable) and said in exc.message and took < 1


def test_validate_offline_names_a_hostile_kubeconfig_at_its_field(tmp_path: Path) -> None:
    """The same reader answers validation: an alias bomb is a problem of target.kubeconfig before anything connects."""
    from spkrunbook import params
    from spkrunbook.errors import ParameterError
    from tests.support.paths import DEMO_PARAMS

    kc = tmp_path / "kubeconfig"
    kc.write_text(alias_bomb())
    data = params.load(DEMO_PARAMS).model_dump(mode="json")
    data["target"] = {"kind": "live", "kubeconfig": str(kc), "context": "lab"}
    with pytest.raises(ParameterError) as caught:
        params.parse(data, base_dir=tmp_path)
    assert [p.path for p in caught.value.problems] == ["target.kubeconfig"]
    assert caught.value.problems[0].message.startswith("uses YAML aliases")
