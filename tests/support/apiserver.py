"""A local stand-in Kubernetes API server, good enough for the official client.

Why: the design forbids patching client methods in tests. The live target is
tested by letting the real ``kubernetes`` client talk HTTP (and the exec
websocket protocol) to this server on 127.0.0.1, so request building, JSON
decoding, Status errors, resourceVersion conflicts and exec framing are all
exercised for real.

::

    with FakeApiServer(token="s3cret") as api:
        api.seed_from_snapshot("tests/data/demo-snapshot")
        api.on_exec("tmm-.*", "debug", lambda argv, stdin: (b"ok\\n", b"", 0))
        ...  # point a kubeconfig at api.url

What it speaks (pure stdlib, one thread per connection):

- REST for core (``/api/v1``) and groups (``/apis/<group>/<version>``),
  namespaced and cluster-scoped: get, list (``labelSelector``,
  ``fieldSelector``), create, replace (PUT, with resourceVersion conflicts),
  patch (merge, strategic treated as merge, JSON patch), delete; ``dryRun``.
- ``Status`` error bodies with the real reasons (NotFound, AlreadyExists,
  Conflict, Invalid, Unauthorized, Forbidden, TooManyRequests ...).
- Custom resource groups are served only while their CRD object is stored,
  like a real server without the CRD (``404 page not found``).
- Discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<g>/<v>``.
- ``/api/v1/nodes/<n>/proxy/configz`` from ``kubelet_configs``.
- Hostile answers on demand (``drip``, ``huge``; ``fail_next`` with a message that
  echoes the request's ``{authorization}`` header or its bare ``{token}``), for the client's bounds.
- ``pods/<p>/exec`` over websocket with the channel protocols
  (``v5.channel.k8s.io``, ``v4.channel.k8s.io``, ``channel.k8s.io``); commands
  are answered by handlers registered with ``on_exec``.
- Pods created through the API become ``Running``/``Ready`` after
  ``pod_startup_delay`` seconds (``None`` keeps them Pending).

Left out on purpose: watch, pagination (``limit``/``continue``), server-side
apply semantics, admission, RBAC beyond one bearer token and ``fail_next``.

Why it is kept beside the real server (``tests/support/realcluster.py``, marker
``apiserver``) and the real node (``tests/support/dataplane.py``, marker
``dataplane``, where exec, logs, configz and pods that really start are tested):
it answers what they cannot show on demand: injected failures (``fail_next``:
429/5xx with ``Retry-After``, a 409 at a chosen moment), late answers, a server
that speaks only ``v4.channel.k8s.io``, a restarted container without a previous
log, and the other steps' tests, in milliseconds, in every test run. Every live test that needs none of that runs against both servers
(``tests/conftest.py``: ``SERVERS``/``both_servers``); where they disagreed the real
server was right and this one was changed to answer like it:

- a pod's ``status.qosClass`` is computed from its resources at creation and a
  status write that changes it is refused (422, field is immutable);
- a POST whose ``metadata.resourceVersion`` is set is answered 500
  ``resourceVersion should not be set on objects to be created``.

Things it still does differently, which no test relies on: it keeps unknown
fields of a custom resource (the real server prunes them by the CRD's schema), it
does not validate against a CRD's schema at all, and new nodes are not tainted
``node.kubernetes.io/not-ready``. Found on the real node: an exec'd command goes on
running when its client closes the stream (here the handler is stopped); a pod log
asked for with ``Accept: text/plain`` alone is a 406 (here it is served); the
websocket exec is authorized as ``get pods/exec`` (here one bearer token may do all).
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from spkrunbook.cluster.base import RESOURCES, Obj, Resource, field_selector_matches, label_selector_matches

ExecReturn = tuple[bytes, bytes, int] | Generator[tuple[int, bytes], None, int] | None
#: ``handler(argv, stdin)``: a ``(stdout, stderr, exit_code)`` tuple, or a generator
#: yielding ``(channel, bytes)`` that returns the exit code, or None for "not mine".
ExecHandler = Callable[[list[str], bytes], ExecReturn]

#: Groups a stock OpenShift serves without any extra operator; every other group
#: is served only while one of its CRDs is stored.
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "policy",
        "apiextensions.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "networking.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "config.openshift.io",
        "operator.openshift.io",
        "machineconfiguration.openshift.io",
        "performance.openshift.io",
        "security.openshift.io",
    }
)

EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_FRAME_CHUNK = 32 * 1024


class RequestRecord(NamedTuple):
    """One request as the server saw it: unpacks as ``(method, path, query)``."""

    method: str
    path: str
    query: dict[str, list[str]]


@dataclass
class _Failure:
    method: str
    path: re.Pattern[str]
    status: int
    remaining: int | None  # None: forever
    retry_after: float | None
    message: str | None


@dataclass
class _Hostile:
    method: str
    path: re.Pattern[str]
    kind: str  # drip-headers | drip-body | huge
    interval: float
    size: int
    content_length: bool
    remaining: int | None


@dataclass
class _ExecRoute:
    pod: re.Pattern[str]
    container: str | None
    namespace: str | None
    handler: ExecHandler


@dataclass
class PlainText:
    """A text/plain answer (pod logs) rather than JSON."""

    text: str


class ApiError(Exception):
    """Raised inside the server to answer with a Status (or plain text) error."""

    def __init__(self, code: int, message: str, *, reason: str | None = None, details: dict | None = None,
                 plain: bool = False, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details
        self.plain = plain
        self.headers = headers or {}

    def body(self) -> Obj:
        status: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(value: Any) -> Any:
    """YAML loaders turn timestamps into datetimes; the API speaks strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _json_patch(doc: Any, ops: list[dict]) -> Any:
    """RFC 6902 JSON patch: add, remove, replace, test (enough for labels and spec fields)."""
    doc = copy.deepcopy(doc)

    def parts(pointer: str) -> list[str]:
        return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]

    for op in ops:
        path = parts(op["path"])
        parent = doc
        for p in path[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = path[-1] if path else ""
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise ApiError(422, f"test operation failed at {op['path']}")
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last)
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise ApiError(422, f"replace operation does not apply: doc is missing path: {op['path']}")
                parent[last] = op["value"]
        else:
            raise ApiError(422, f"unsupported JSON patch operation {kind!r}")
    return doc


def pod_qos_class(spec: Obj) -> str:
    """The QoS class the real API server computes when a pod is created (cpu and memory only; hugepages
    do not count): no request or limit anywhere is BestEffort; limits for both in every container, with
    requests equal to them (or unset), Guaranteed; anything else Burstable."""
    from kubernetes.utils import parse_quantity

    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set, guaranteed = False, bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        any_set = any_set or bool(req or lim)
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
        for k, v in req.items():
            if k not in lim or parse_quantity(v) != parse_quantity(lim[k]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class FakeApiServer:
    """The stand-in API server: start it, seed it, point the real client at ``url``."""

    def __init__(
        self,
        *,
        token: str | None = None,
        resources: Iterable[Resource] | None = None,
        builtin_groups: Iterable[str] = BUILTIN_GROUPS,
        pod_startup_delay: float | None = 0.0,
        exec_protocols: Iterable[str] = EXEC_PROTOCOLS,
        git_version: str = "v1.27.16+03a907c",
    ) -> None:
        self.token = token
        self.builtin_groups = frozenset(builtin_groups)
        self.pod_startup_delay = pod_startup_delay
        self.exec_protocols = tuple(exec_protocols)
        self.git_version = git_version
        self.kubelet_configs: dict[str, dict[str, Any]] = {}
        self._slow: list[list[Any]] = []  # [method, path regex, seconds, times left]: see answer_late
        self._hostile: list[_Hostile] = []  # drip / huge answers: see drip() and huge()
        # (namespace, pod, container, previous) -> log text, as GET pods/<p>/log serves it
        self.pod_logs: dict[tuple[str, str, str, bool], str] = {}
        self.requests: list[RequestRecord] = []
        self._registry: dict[tuple[str, str, str], Resource] = {}
        self._by_kind: dict[tuple[str, str], Resource] = {}
        self._store: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._ready_at: dict[tuple[str, str], float] = {}
        self._failures: list[_Failure] = []
        self._exec_routes: list[_ExecRoute] = []
        self._rv = 1000
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for res in resources if resources is not None else RESOURCES.values():
            self.register(res)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeApiServer:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        server = self

        class Handler(_Handler):
            api = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the server first"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def write_kubeconfig(self, path: str | Path, *, token: str | None = None, context: str = "fake-lab",
                         user: str = "lab-admin", namespace: str = "default") -> Path:
        """A kubeconfig for this server (bearer token: ``token`` or the server's own)."""
        return write_kubeconfig(path, self.url, token=token if token is not None else self.token,
                                context=context, user=user, namespace=namespace)

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- registry --------------------------------------------------------------------------
    def register(self, res: Resource) -> None:
        """Make a resource known (it is still hidden while a custom group lacks its CRD)."""
        with self._lock:
            self._registry[(res.group, res.version, res.plural)] = res
            if res.kind:
                self._by_kind[(res.api_version, res.kind)] = res

    def _resource_for(self, obj: Obj) -> Resource:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        res = self._by_kind.get((api_version, kind))
        if res is None:
            raise KeyError(f"no registered resource for apiVersion={api_version!r} kind={kind!r}; use register()")
        return res

    def _served(self, group: str, version: str) -> bool:
        if group in self.builtin_groups:
            return True
        crds = self._store.get(("apiextensions.k8s.io", "customresourcedefinitions"), {})
        for crd in crds.values():
            spec = crd.get("spec") or {}
            if spec.get("group") == group and any(
                v.get("name") == version and v.get("served", True) for v in spec.get("versions") or []
            ):
                return True
        return False

    def _crd_resource_present(self, res: Resource) -> bool:
        if res.group in self.builtin_groups:
            return True
        crds = self._store.get(("apiextensions.k8s.io", "customresourcedefinitions"), {})
        return ("", f"{res.plural}.{res.group}") in crds

    def _register_from_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        if not (spec.get("group") and names.get("plural")):
            return
        for v in spec.get("versions") or []:
            if v.get("name") and (spec["group"], v["name"], names["plural"]) not in self._registry:
                self.register(Resource(spec["group"], v["name"], names["plural"],
                                       spec.get("scope", "Namespaced") == "Namespaced", names.get("kind", "")))

    # -- seeding and inspection ----------------------------------------------------------------
    def add(self, obj: Obj, res: Resource | str | None = None) -> Obj:
        """Store an object as-is (server fields filled only where missing); returns the stored copy."""
        with self._lock:
            r = RESOURCES[res] if isinstance(res, str) else res or self._resource_for(obj)
            obj = _jsonable(copy.deepcopy(obj))
            obj.setdefault("apiVersion", r.api_version)
            if r.kind:
                obj.setdefault("kind", r.kind)
            md = obj.setdefault("metadata", {})
            if not md.get("name"):
                raise ValueError("object has no metadata.name")
            if r.namespaced:
                md.setdefault("namespace", "default")
            else:
                md.pop("namespace", None)
            self._stamp(md, keep=True)
            self._store.setdefault((r.group, r.plural), {})[(md.get("namespace", ""), md["name"])] = obj
            if (r.group, r.plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._register_from_crd(obj)
            return copy.deepcopy(obj)

    def add_many(self, objs: Iterable[Obj]) -> int:
        n = 0
        for obj in objs:
            self.add(obj)
            n += 1
        return n

    def remove(self, res: Resource | str, name: str, namespace: str | None = None) -> bool:
        """Drop an object without an API call (e.g. to delete a CRD behind the client's back)."""
        r = RESOURCES[res] if isinstance(res, str) else res
        with self._lock:
            key = ((namespace or "") if r.namespaced else "", name)
            return self._store.get((r.group, r.plural), {}).pop(key, None) is not None

    def objects(self, res: Resource | str | None = None, namespace: str | None = None) -> list[Obj]:
        """Stored objects (copies), optionally of one resource and namespace."""
        r = RESOURCES[res] if isinstance(res, str) else res
        with self._lock:
            out = []
            for (group, plural), objs in self._store.items():
                if r is not None and (group, plural) != (r.group, r.plural):
                    continue
                for (ns, _), obj in objs.items():
                    if namespace is None or ns == namespace:
                        self._maybe_start_pod(group, plural, obj)
                        out.append(copy.deepcopy(obj))
            return out

    def get_object(self, res: Resource | str, name: str, namespace: str | None = None) -> Any:
        """The stored object (a copy), or None when there is none: tests index it or assert it is None."""
        r = RESOURCES[res] if isinstance(res, str) else res
        with self._lock:
            obj = self._store.get((r.group, r.plural), {}).get(((namespace or "") if r.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def seed_from_snapshot(self, path: str | Path) -> int:
        """Load every object of a must-gather style directory (CRDs first); returns how many."""
        from spkrunbook.cluster.snapshot import SnapshotTarget

        snap = SnapshotTarget(path)
        n = 0
        ordered = sorted(RESOURCES.items(), key=lambda kv: kv[0] != "customresourcedefinitions")
        for _, res in ordered:
            for obj in snap.list(res):
                obj.setdefault("apiVersion", res.api_version)
                obj.setdefault("kind", res.kind)
                self.add(obj, res)
                n += 1
        return n

    # -- behaviour knobs ------------------------------------------------------------------------
    def fail_next(self, method: str, path_regex: str, status: int, times: int | None = 1, *,
                  retry_after: float | None = None, message: str | None = None) -> None:
        """Answer the next ``times`` matching requests (None: all) with ``status`` instead."""
        with self._lock:
            self._failures.append(_Failure(method.upper(), re.compile(path_regex), status, times, retry_after, message))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()
            self._slow.clear()
            self._hostile.clear()

    def drip(self, method: str, path_regex: str, *, interval: float = 1.0, phase: str = "body",
             times: int | None = None) -> None:
        """Answer matching requests one byte every ``interval`` seconds, never finishing in time: the
        status line and headers (``phase="headers"``) or, after prompt headers, the body (``"body"``)."""
        with self._lock:
            self._hostile.append(_Hostile(method.upper(), re.compile(path_regex), "drip-" + phase, interval, 0, True, times))

    def huge(self, method: str, path_regex: str, size: int, *, content_length: bool = False,
             times: int | None = None) -> None:
        """Answer matching requests 200 with ``size`` bytes of JSON-looking filler, made as it is sent (never held
        in memory); with ``content_length`` the header says the size, else the answer ends when the connection closes."""
        with self._lock:
            self._hostile.append(_Hostile(method.upper(), re.compile(path_regex), "huge", 0.0, size, content_length, times))

    def answer_late(self, method: str, path_regex: str, seconds: float, times: int = 1) -> None:
        """Carry out the next ``times`` matching requests, then wait ``seconds`` before answering:
        a client with a shorter timeout sees a lost response for a write that did happen."""
        with self._lock:
            self._slow.append([method.upper(), re.compile(path_regex), seconds, times])

    def on_exec(self, pod_regex: str, container: str | None, handler: ExecHandler, *,
                namespace: str | None = None) -> None:
        """Answer exec in pods whose name fully matches ``pod_regex`` (container None: any).

        Later registrations win; a handler returning None passes to the next one.
        """
        with self._lock:
            self._exec_routes.insert(0, _ExecRoute(re.compile(pod_regex), container, namespace, handler))

    # -- internals shared with the handler ------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _stamp(self, md: Obj, *, keep: bool) -> None:
        if not keep or not md.get("uid"):
            md["uid"] = str(uuid.uuid4())
        if not keep or not md.get("creationTimestamp"):
            md["creationTimestamp"] = _now()
        if not keep or not md.get("resourceVersion"):
            md["resourceVersion"] = self._next_rv()
        md.setdefault("generation", 1)

    def _maybe_start_pod(self, group: str, plural: str, obj: Obj) -> None:
        """Pods created through the API turn Running/Ready once their delay has passed."""
        if (group, plural) != ("", "pods"):
            return
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        ready_at = self._ready_at.get(key)
        if ready_at is None or time.monotonic() < ready_at:
            return
        del self._ready_at[key]
        now = _now()
        containers = (obj.get("spec") or {}).get("containers") or []
        obj["status"] = {
            **({"qosClass": obj["status"]["qosClass"]} if (obj.get("status") or {}).get("qosClass") else {}),
            "phase": "Running",
            "hostIP": "192.0.2.10",
            "podIP": "10.128.0.99",
            "startTime": now,
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "containerStatuses": [
                {"name": c.get("name"), "ready": True, "started": True, "restartCount": 0,
                 "image": c.get("image", ""), "imageID": "", "containerID": f"cri-o://{uuid.uuid4().hex}",
                 "state": {"running": {"startedAt": now}}}
                for c in containers
            ],
        }
        md["resourceVersion"] = self._next_rv()


class _Handler(BaseHTTPRequestHandler):
    """One connection; ``api`` is bound to the owning FakeApiServer by a subclass."""

    api: FakeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1.0"
    # Headers and body leave in one send (a buffered writer, flushed once per request by
    # BaseHTTPRequestHandler, and by the exec session per frame), and TCP_NODELAY is set:
    # before, the body went out as a second small segment that Nagle held back until the
    # client's delayed ACK, costing every request about 44 ms (issue 16).
    disable_nagle_algorithm = True
    wbufsize = 256 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ------------------------------------------------------------------------------------
    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        plain = isinstance(body, PlainText)
        data = body.text.encode() if plain else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if plain else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, err: ApiError) -> None:
        if err.plain:
            data = (err.message + "\n").encode()
            self.send_response(err.code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send_json(err.code, err.body(), err.headers)

    def _dispatch(self, method: str) -> None:
        api = self.api
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        with api._lock:
            api.requests.append(RequestRecord(method, path, query))
            hostile = next((h for h in api._hostile if h.method in ("*", method) and h.path.search(path)
                            and h.remaining != 0), None)
            if hostile is not None and hostile.remaining is not None:
                hostile.remaining -= 1
            failure = None
            for f in api._failures:
                if f.method in ("*", method) and f.path.search(path) and f.remaining != 0:
                    failure = f
                    if f.remaining is not None:
                        f.remaining -= 1
                    break
            api._failures = [f for f in api._failures if f.remaining != 0]
        try:
            is_upgrade = self.headers.get("Upgrade", "").lower() == "websocket"
            body = None if is_upgrade else self._body()
            if hostile is not None:
                self._hostile_answer(hostile)
                return
            if failure is not None:
                headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
                auth = self.headers.get("Authorization", "")
                message = (failure.message or f"injected failure {failure.status}").replace(  # a server that echoes
                    "{authorization}", auth).replace("{token}", auth.partition(" ")[2])  # the credential back
                raise ApiError(failure.status, message, headers=headers)
            self._authenticate()
            if is_upgrade:
                self._exec(method, path, query)
                return
            code, result = self._route(method, path, query, body)
            with api._lock:
                late = next((s for s in api._slow if s[0] in ("*", method) and s[1].search(path) and s[3] > 0), None)
                if late is not None:
                    late[3] -= 1
            if late is not None:
                time.sleep(late[2])
            self._send_json(code, result)
        except ApiError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the stand-in: answer 500 so the test sees it
            self._send_error(ApiError(500, f"fake apiserver error: {type(exc).__name__}: {exc}"))

    def _hostile_answer(self, h: _Hostile) -> None:
        """A drip or a huge answer (see ``FakeApiServer.drip`` / ``huge``); ends when the client hangs up."""
        self.close_connection = True
        sock = self.connection
        try:
            if h.kind.startswith("drip"):
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
                if h.kind == "drip-body":
                    sock.sendall(head)
                    head = b'{"kind": "Status", "message": "' + b"a" * 999_000
                for i in range(len(head)):
                    sock.sendall(head[i:i + 1])
                    time.sleep(h.interval)
                return
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {h.size}\r\n".encode() if h.content_length else b"Connection: close\r\n"
            sock.sendall(head + b"\r\n")
            chunk = b'{"filler": "' + b"x" * (1 << 20) + b'"},'
            sent = 0
            while sent < h.size:
                part = chunk[:h.size - sent]
                sock.sendall(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionError, OSError):
            pass

    def _authenticate(self) -> None:
        token = self.api.token
        if token is None:
            return
        if self.headers.get("Authorization", "") != f"Bearer {token}":
            raise ApiError(401, "Unauthorized")

    # -- routing -----------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        api = self.api
        if path == "/version":
            m = re.match(r"v(\d+)\.(\d+)", api.git_version)
            major, minor = (m.group(1), m.group(2)) if m else ("1", "0")
            return 200, {"major": major, "minor": minor, "gitVersion": api.git_version,
                         "gitCommit": "03a907cfee31b7c8b4a5a4b7e4c1d2a9b5e6f7a8", "gitTreeState": "clean",
                         "buildDate": "2024-06-01T00:00:00Z", "goVersion": "go1.20.12", "compiler": "gc",
                         "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return 200, self._group_list()
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            return 200, self._group(parts[1])
        else:
            raise ApiError(404, "404 page not found", plain=True)
        with api._lock:
            if not api._served(group, version):
                raise ApiError(404, "404 page not found", plain=True)
            if not rest:
                return 200, self._resource_list(group, version)
            if rest[0] == "namespaces" and len(rest) >= 3:
                namespace: str | None = rest[1]
                plural, name, sub = rest[2], (rest[3] if len(rest) > 3 else None), rest[4:]
            else:
                namespace = None
                plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), rest[2:]
            res = api._registry.get((group, version, plural))
            if res is None or not api._crd_resource_present(res):
                raise ApiError(404, "the server could not find the requested resource")
            if namespace is not None and not res.namespaced:
                raise ApiError(404, "the server could not find the requested resource")
            if sub:
                return self._subresource(method, res, namespace, name, sub, query, body)
            if name is None:
                if method == "GET":
                    if "watch" in query and query["watch"][0] in ("1", "true"):
                        raise ApiError(400, "watch is not supported by the stand-in API server")
                    return 200, self._list(res, namespace, query)
                if method == "POST":
                    return self._create(res, namespace, body, query)
                raise ApiError(405, f"{method} is not supported on a collection")
            if method == "GET":
                return 200, self._get(res, namespace, name)
            if method == "PUT":
                return self._replace(res, namespace, name, body, query)
            if method == "PATCH":
                return self._patch(res, namespace, name, body, query)
            if method == "DELETE":
                return self._delete(res, namespace, name, query)
            raise ApiError(405, f"{method} is not supported on {res.plural}/{name}")

    def _group_list(self) -> Obj:
        api = self.api
        groups: dict[str, list[str]] = {}
        for (group, version, _plural) in api._registry:
            if group and api._served(group, version):
                groups.setdefault(group, [])
                if version not in groups[group]:
                    groups[group].append(version)
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self._group_obj(g, vs) for g, vs in sorted(groups.items())]}

    @staticmethod
    def _group_obj(group: str, versions: list[str]) -> Obj:
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def _group(self, group: str) -> Obj:
        grp = self._group_list()
        for g in grp["groups"]:
            if g["name"] == group:
                return {"kind": "APIGroup", "apiVersion": "v1", **g}
        raise ApiError(404, "404 page not found", plain=True)

    def _resource_list(self, group: str, version: str) -> Obj:
        api = self.api
        resources = [
            {"name": r.plural, "singularName": "", "namespaced": r.namespaced, "kind": r.kind,
             "verbs": ["create", "delete", "get", "list", "patch", "update"]}
            for (g, v, _), r in sorted(api._registry.items()) if g == group and v == version and api._crd_resource_present(r)
        ]
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}

    # -- storage operations ---------------------------------------------------------------------------
    def _bucket(self, res: Resource) -> dict[tuple[str, str], Obj]:
        return self.api._store.setdefault((res.group, res.plural), {})

    @staticmethod
    def _not_found(res: Resource, name: str) -> ApiError:
        what = f"{res.plural}.{res.group}" if res.group else res.plural
        return ApiError(404, f'{what} "{name}" not found',
                        details={"name": name, "group": res.group, "kind": res.plural})

    def _get(self, res: Resource, namespace: str | None, name: str) -> Obj:
        obj = self._bucket(res).get((namespace or "", name))
        if obj is None:
            raise self._not_found(res, name)
        self.api._maybe_start_pod(res.group, res.plural, obj)
        return copy.deepcopy(obj)

    def _list(self, res: Resource, namespace: str | None, query: dict[str, list[str]]) -> Obj:
        labels = query.get("labelSelector", [""])[0]
        fields = query.get("fieldSelector", [""])[0]
        items = []
        for (ns, _), obj in sorted(self._bucket(res).items()):
            if namespace is not None and ns != namespace:
                continue
            self.api._maybe_start_pod(res.group, res.plural, obj)
            if not label_selector_matches((obj.get("metadata") or {}).get("labels"), labels or None):
                continue
            if not field_selector_matches(obj, fields or None):
                continue
            items.append(copy.deepcopy(obj))
        return {
            "kind": f"{res.kind}List" if res.kind else "List",
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": str(self.api._rv)},
            "items": items,
        }

    def _check_body(self, res: Resource, namespace: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        kind = body.get("kind")
        if res.kind and kind and kind != res.kind:
            raise ApiError(400, f"the body kind {kind!r} does not match the resource {res.plural} ({res.kind})")
        md = body.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise ApiError(400, "metadata must be an object")
        if res.namespaced:
            if md.get("namespace") and namespace and md["namespace"] != namespace:
                raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
            md["namespace"] = namespace or md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        body["apiVersion"] = res.api_version
        if res.kind:
            body["kind"] = res.kind
        return body

    @staticmethod
    def _invalid_name(res: Resource) -> ApiError:
        return ApiError(422, f"{res.kind or res.plural} is invalid: metadata.name: Required value: name or generateName is required",
                        details={"kind": res.kind, "group": res.group,
                                 "causes": [{"reason": "FieldValueRequired", "message": "Required value: name or generateName is required",
                                             "field": "metadata.name"}]})

    def _create(self, res: Resource, namespace: str | None, body: Any, query: dict[str, list[str]]) -> tuple[int, Obj]:
        api = self.api
        obj = self._check_body(res, namespace, copy.deepcopy(body))
        md = obj["metadata"]
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise self._invalid_name(res)
        key = (md.get("namespace", ""), md["name"])
        bucket = self._bucket(res)
        if key in bucket:
            what = f"{res.plural}.{res.group}" if res.group else res.plural
            raise ApiError(409, f'{what} "{md["name"]}" already exists', reason="AlreadyExists",
                           details={"name": md["name"], "group": res.group, "kind": res.plural})
        if md.get("resourceVersion"):  # the real server's answer, word for word (and its odd 500)
            raise ApiError(500, "resourceVersion should not be set on objects to be created")
        for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
            md.pop(k, None)
        api._stamp(md, keep=False)
        if (res.group, res.plural) == ("", "pods"):
            # Like the real server: the QoS class is computed from the resources at creation, never taken from the body.
            obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj.get("spec") or {}), "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": _now()}]}
        if "dryRun" in query:
            return 201, obj
        bucket[key] = obj
        if (res.group, res.plural) == ("", "pods") and api.pod_startup_delay is not None:
            api._ready_at[key] = time.monotonic() + api.pod_startup_delay
        if (res.group, res.plural) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            api._register_from_crd(obj)
        return 201, copy.deepcopy(obj)

    def _store_update(self, res: Resource, old: Obj, new: Obj, query: dict[str, list[str]]) -> Obj:
        md, old_md = new["metadata"], old["metadata"]
        for k in ("uid", "creationTimestamp", "namespace", "name"):
            if k in old_md:
                md[k] = old_md[k]
        md["generation"] = old_md.get("generation", 1) + (1 if new.get("spec") != old.get("spec") else 0)
        md["resourceVersion"] = old_md.get("resourceVersion", "")
        if "dryRun" in query:
            return new
        md["resourceVersion"] = self.api._next_rv()
        self._bucket(res)[(md.get("namespace", ""), md["name"])] = new
        return new

    def _replace(self, res: Resource, namespace: str | None, name: str, body: Any,
                 query: dict[str, list[str]]) -> tuple[int, Obj]:
        obj = self._check_body(res, namespace, copy.deepcopy(body))
        md = obj["metadata"]
        if not md.get("name"):
            raise self._invalid_name(res)
        if md["name"] != name:
            raise ApiError(400, f"the name of the object ({md['name']}) does not match the name on the URL ({name})")
        old = self._bucket(res).get((namespace or "", name))
        if old is None:
            raise self._not_found(res, name)
        rv = md.get("resourceVersion")
        if rv and rv != old["metadata"].get("resourceVersion"):
            what = f"{res.plural}.{res.group}" if res.group else res.plural
            raise ApiError(409, f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
                                "please apply your changes to the latest version and try again",
                           reason="Conflict", details={"name": name, "group": res.group, "kind": res.plural})
        return 200, copy.deepcopy(self._store_update(res, old, obj, query))

    def _patch(self, res: Resource, namespace: str | None, name: str, body: Any,
               query: dict[str, list[str]]) -> tuple[int, Obj]:
        old = self._bucket(res).get((namespace or "", name))
        if old is None:
            raise self._not_found(res, name)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/json-patch+json":
            if not isinstance(body, list):
                raise ApiError(400, "a JSON patch must be a list of operations")
            new = _json_patch(old, body)
        elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                       "application/apply-patch+yaml", "application/json"):
            if not isinstance(body, dict):
                raise ApiError(400, "a merge patch must be a JSON object")
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"].get("resourceVersion"):
                raise ApiError(409, f'Operation cannot be fulfilled on {res.plural} "{name}": the object has been modified',
                               reason="Conflict", details={"name": name, "group": res.group, "kind": res.plural})
            new = _merge_patch(old, body)
        else:
            raise ApiError(415, f"the content type {ctype!r} is not supported for patch")
        new = self._check_body(res, namespace, new)
        return 200, copy.deepcopy(self._store_update(res, old, new, query))

    def _delete(self, res: Resource, namespace: str | None, name: str, query: dict[str, list[str]]) -> tuple[int, Obj]:
        bucket = self._bucket(res)
        key = (namespace or "", name)
        obj = bucket.get(key)
        if obj is None:
            raise self._not_found(res, name)
        if "dryRun" not in query:
            del bucket[key]
            self.api._ready_at.pop(key, None)
            self.api._next_rv()
        return 200, copy.deepcopy(obj)

    def _subresource(self, method: str, res: Resource, namespace: str | None, name: str | None, sub: list[str],
                     query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        assert name is not None
        if (res.group, res.plural) == ("", "nodes") and sub[:2] == ["proxy", "configz"] and method == "GET":
            self._get(res, None, name)
            cfg = self.api.kubelet_configs.get(name, {"cpuManagerPolicy": "none", "topologyManagerPolicy": "none"})
            return 200, {"kubeletconfig": copy.deepcopy(cfg)}
        if sub == ["status"]:
            if method == "GET":
                return 200, self._get(res, namespace, name)
            before = copy.deepcopy(self._bucket(res).get((namespace or "", name)))
            old_qos = ((before or {}).get("status") or {}).get("qosClass")
            if method == "PUT":
                code, out = self._replace(res, namespace, name, body, query)
            elif method == "PATCH":
                code, out = self._patch(res, namespace, name, body, query)
            else:
                raise ApiError(405, f"{method} is not supported on {res.plural}/{name}/status")
            new_qos = (out.get("status") or {}).get("qosClass")
            if (res.group, res.plural) == ("", "pods") and before is not None and old_qos and new_qos != old_qos:
                # what the real server answers (status.qosClass is immutable); nothing of the write is kept
                self._bucket(res)[(namespace or "", name)] = before
                raise ApiError(422, f'Pod "{name}" is invalid: status.qosClass: Invalid value: "{new_qos}": field is immutable',
                               reason="Invalid")
            return code, out
        if (res.group, res.plural) == ("", "pods") and sub == ["exec"]:
            raise ApiError(400, "Upgrade request required")
        if (res.group, res.plural) == ("", "pods") and sub == ["log"] and method == "GET":
            pod = self._get(res, namespace, name)
            container = (query.get("container") or [""])[0] or pod["spec"]["containers"][0]["name"]
            previous = (query.get("previous") or ["false"])[0] == "true"
            key = (namespace or "", name, container, previous)
            if key not in self.api.pod_logs:
                why = "previous terminated container" if previous else "container"
                raise ApiError(400, f'{why} "{container}" in pod "{name}" not found')
            return 200, PlainText(self.api.pod_logs[key])
        raise ApiError(404, "the server could not find the requested resource")

    # -- exec over websocket -----------------------------------------------------------------------------
    def _exec(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        api = self.api
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec", path)
        if not m or method not in ("GET", "POST"):
            raise ApiError(400, f"websocket upgrade is only served for pods/<name>/exec, not {path}")
        namespace, pod_name = m.group(1), m.group(2)
        with api._lock:
            pod = api._store.get(("", "pods"), {}).get((namespace, pod_name))
            if pod is None:
                raise self._not_found(RESOURCES["pods"], pod_name)
            api._maybe_start_pod("", "pods", pod)
            pod = copy.deepcopy(pod)
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container", [""])[0]
        if not container:
            if len(containers) != 1:
                raise ApiError(400, f"a container name must be specified for pod {pod_name}, choose one of: {containers}")
            container = containers[0]
        elif containers and container not in containers:
            raise ApiError(400, f"container {container} is not valid for pod {pod_name}")
        if (pod.get("status") or {}).get("phase") not in ("Running", None):
            raise ApiError(400, f"unable to upgrade connection: container not found ({container!r}); pod is not running")
        argv = query.get("command", [])
        if not argv:
            raise ApiError(400, "you must specify at least 1 command")
        key = self.headers.get("Sec-WebSocket-Key")
        if not key:
            raise ApiError(400, "missing Sec-WebSocket-Key")
        offered = [p.strip() for p in (self.headers.get("Sec-WebSocket-Protocol") or "").split(",") if p.strip()]
        protocol = next((p for p in api.exec_protocols if p in offered), None)
        if offered and protocol is None:
            raise ApiError(400, f"none of the offered subprotocols {offered} is supported ({list(api.exec_protocols)})")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        if protocol:
            self.send_header("Sec-WebSocket-Protocol", protocol)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        _ExecSession(self, protocol or "channel.k8s.io", namespace, pod_name, container, argv,
                     want_stdin=query.get("stdin", ["false"])[0] in ("1", "true")).run()


class _ExecSession:
    """One exec websocket: a reader thread for client frames, the handler's output sent as frames."""

    def __init__(self, handler: _Handler, protocol: str, namespace: str, pod: str, container: str,
                 argv: list[str], *, want_stdin: bool) -> None:
        self.h = handler
        self.api = handler.api
        self.protocol = protocol
        self.namespace, self.pod, self.container, self.argv = namespace, pod, container, argv
        self.want_stdin = want_stdin
        self.stdin = bytearray()
        self.stdin_last = time.monotonic()
        self.stdin_done = threading.Event()
        self.client_closed = threading.Event()
        self.send_lock = threading.Lock()

    # framing
    def send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self.send_lock:
            self.h.wfile.write(header + payload)
            self.h.wfile.flush()

    def send_channel(self, channel: int, data: bytes) -> None:
        for i in range(0, max(len(data), 1), _FRAME_CHUNK):
            self.send_frame(0x2, bytes([channel]) + data[i:i + _FRAME_CHUNK])

    def _read_exact(self, n: int) -> bytes:
        data = self.h.rfile.read(n)
        if len(data) < n:
            raise ConnectionError("client went away")
        return data

    def _read_frame(self) -> tuple[bool, int, bytes]:
        b1, b2 = self._read_exact(2)
        fin, opcode, masked, n = bool(b1 & 0x80), b1 & 0x0F, bool(b2 & 0x80), b2 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        mask = self._read_exact(4) if masked else b""
        payload = self._read_exact(n)
        if masked:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _unmask(payload, mask)
        return fin, opcode, payload

    def reader(self) -> None:
        message, _msg_opcode = bytearray(), 0
        try:
            while True:
                fin, opcode, payload = self._read_frame()
                if opcode == 0x8:
                    break
                if opcode == 0x9:
                    self.send_frame(0xA, payload)
                    continue
                if opcode == 0xA:
                    continue
                if opcode in (0x1, 0x2):
                    message, _msg_opcode = bytearray(payload), opcode
                else:
                    message += payload
                if not fin:
                    continue
                data = bytes(message)
                if not data:
                    continue
                channel = data[0]
                if channel == 0:
                    self.stdin += data[1:]
                    self.stdin_last = time.monotonic()
                elif channel == 255 and self.protocol == "v5.channel.k8s.io" and data[1:2] == b"\x00":
                    self.stdin_done.set()
        except (ConnectionError, OSError, struct.error, ValueError):
            pass
        finally:
            self.stdin_done.set()
            self.client_closed.set()

    def _collect_stdin(self) -> bytes:
        if not self.want_stdin:
            return b""
        if self.protocol == "v5.channel.k8s.io":
            self.stdin_done.wait(30)
        else:  # v4 has no stdin EOF: take what arrived until it goes quiet
            while not self.stdin_done.is_set() and time.monotonic() - self.stdin_last < 0.3:
                time.sleep(0.02)
        return bytes(self.stdin)

    def _handlers(self) -> Iterator[ExecHandler]:
        for route in list(self.api._exec_routes):
            if route.pod.fullmatch(self.pod) and route.container in (None, self.container) and \
                    route.namespace in (None, self.namespace):
                yield route.handler

    def run(self) -> None:
        threading.Thread(target=self.reader, name="fake-exec-reader", daemon=True).start()
        try:
            stdin = self._collect_stdin()
            status = self._run_handlers(stdin)
            if status is not None and not self.client_closed.is_set():
                self.send_channel(3, json.dumps(status).encode())
                self.send_frame(0x8, struct.pack("!H", 1000))
                self.client_closed.wait(1.0)
        except (BrokenPipeError, ConnectionError, OSError):
            pass
        finally:
            try:
                self.h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run_handlers(self, stdin: bytes) -> Obj | None:
        result: ExecReturn = None
        try:
            for handler in self._handlers():
                result = handler(list(self.argv), stdin)
                if result is not None:
                    break
        except Exception as exc:  # the handler crashed: report it the way a runtime failure looks
            return {"metadata": {}, "status": "Failure", "message": f"handler error: {type(exc).__name__}: {exc}",
                    "reason": "InternalError"}
        if result is None:
            return {"metadata": {}, "status": "Failure",
                    "message": f'OCI runtime exec failed: exec failed: unable to start container process: exec: '
                               f'"{self.argv[0]}": executable file not found in $PATH: unknown'}
        if isinstance(result, tuple):
            stdout, stderr, code = result
            if stdout:
                self.send_channel(1, stdout)
            if stderr:
                self.send_channel(2, stderr)
        else:
            gen = result
            code = 0
            try:
                while True:
                    if self.client_closed.is_set():
                        gen.close()
                        return None
                    try:
                        channel, chunk = next(gen)
                    except StopIteration as stop:
                        code = int(stop.value or 0)
                        break
                    if chunk:
                        self.send_channel(channel, chunk)
            except (BrokenPipeError, ConnectionError, OSError):
                gen.close()
                return None
        if code == 0:
            return {"metadata": {}, "status": "Success"}
        return {"metadata": {}, "status": "Failure",
                "message": f"command terminated with non-zero exit code: error executing command {self.argv}, exit code {code}",
                "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def write_kubeconfig(path: str | Path, server: str, *, token: str | None = None, context: str = "fake-lab",
                     user: str = "lab-admin", namespace: str = "default") -> Path:
    """A minimal kubeconfig (JSON, which is valid YAML) pointing at ``server`` with a bearer-token user."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": user, "user": {"token": token} if token else {}}],
        "contexts": [{"name": context, "context": {"cluster": "fake", "user": user, "namespace": namespace}}],
        "current-context": context,
    }
    path = Path(path)
    path.write_text(json.dumps(cfg, indent=2))
    return path


def _unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR a large payload with its 4-byte mask quickly (int arithmetic, no per-byte loop)."""
    n = len(payload)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
