"""The live target: a real API server through the official ``kubernetes`` client.

This module is the one boundary where foreign errors are caught. Every
``kubernetes.client.ApiException``, urllib3 error and websocket failure is
translated here into our family (``spkrunbook.errors``) and re-raised ``from``
the original, keeping ``status`` and ``reason``:

::

    404 object            -> ResourceMissing (names the object)
    404 whole API         -> ResourceMissing (names the CRD to install)
    409                   -> Conflict (AlreadyExists / stale resourceVersion)
    401 / 403             -> Forbidden (verb + resource, suggests ``oc auth can-i``)
    refused / DNS / TLS / timeout -> ClusterUnreachable (server URL + what to check)
    429 / 5xx             -> retried with backoff ``retries`` times, then ClusterError
    exec could not start  -> ExecError

Every wait and read has a bound: a request (connect, headers and body) ends at
``request_timeout`` however slowly the server drips (one watchdog thread shuts the
socket down at the deadline); a body is read at most ``MAX_OBJECT_BYTES`` (a single
object, ``/version``, a log: etcd stores at most 1.5 MiB per object) or
``max_list_bytes`` (a list); exec output is capped in bytes (``MAX_EXEC_BYTES``) and
time, and the result says what was cut; a kubeconfig is read by ``spkrunbook.kubeconfig``
(no YAML alias is expanded) and handed to the client as data; an exec credential
plugin runs with a deadline and a cap on what it prints.

No message carries a token or kubeconfig content: every credential the client
sends (static, from an exec plugin, an auth-provider or OIDC refresh, a token file)
is registered with the scrubber (``secrets.remember``) before the request leaves,
and a server message echoing it is masked here. Requests go through
``ApiClient.param_serialize`` + ``call_api`` on generic paths built from a
``Resource``, so every entry of ``RESOURCES`` (and any CRD) works the same way.
Written against the client's OpenAPI-generator layout of release 37.
"""

from __future__ import annotations

import base64
import heapq
import http.client
import json
import os
import random
import re
import select
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.config import incluster_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader
from kubernetes.stream import stream as k8s_stream
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from websocket import ABNF, WebSocketBadStatusException, WebSocketException

from .. import kubeconfig as kubeconfigs
from .. import secrets
from ..errors import ClusterError, ClusterUnreachable, Conflict, ExecError, Forbidden, Invalid, ResourceMissing
from .base import Argv, ClusterAccess, ExecResult, Obj, Objs, Resource, TargetInfo, resource

if TYPE_CHECKING:
    from ..params import TargetParams
    from .base import NbdbFiles

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_KUBELET_LOG_GONE = re.compile(r"^unable to retrieve container logs for \S+$")
#: One object, /version, a log tail, a patch's answer: etcd refuses objects over 1.5 MiB.
MAX_OBJECT_BYTES = 8 << 20
#: A list (1,000 OpenShift nodes with their image lists are about 40 MB); ``target.max_response_mb``.
MAX_LIST_BYTES = 64 << 20
#: What one exec may print (stdout and stderr together) before it is cut.
MAX_EXEC_BYTES = 16 << 20
#: What an exec credential plugin may print (an ExecCredential is a few KB).
MAX_PLUGIN_BYTES = 1 << 20
_READ_CHUNK = 256 * 1024
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# What to install when a whole API group is missing; anything else gets the generic hint.
_CRD_HINTS = {
    "k8s.cni.cncf.io": "Multus provides it on OpenShift; check `oc get crd network-attachment-definitions.k8s.cni.cncf.io` "
    "and that the cluster network operator has not disabled Multus (disableMultiNetwork)",
    "k8s.f5net.com": "install the SPK CRDs (the f5-spk-crds-* Helm charts from the SPK tarball) before the controller",
    "nmstate.io": "install the Kubernetes NMState Operator, or accept that node interface state is unknown",
    "performance.openshift.io": "the Node Tuning Operator provides it; check `oc get crd performanceprofiles.performance.openshift.io`",
}


#: HTTP status (or a refinement of one) -> (our class, message, hint); formatted with the request's facts.
_STATUS: dict[int | str, tuple[type[ClusterError], str, str]] = {
    404: (ResourceMissing, "{what} not found", "check the name and namespace with `oc get {plural}{ns_flag}`"),
    "404-api": (ResourceMissing, "the cluster does not serve {plural} ({api_version}): the CustomResourceDefinition "
                                 "{crd} is not installed", "install the CRD {crd}; check with `oc get crd {crd}`"),
    "404-core": (ResourceMissing, "the API server does not serve {plural} ({api_version})",
                 "check the cluster version; this API may be newer than the cluster"),
    409: (Conflict, "{what} was changed by someone else since it was read: {message}",
          "read it again, re-apply the change and retry"),
    "409-exists": (Conflict, "{what} already exists", "replace it, or delete it first"),
    401: (Forbidden, "the API server at {server} rejected the credentials (401 Unauthorized) when trying to {verb} {what}",
          "log in again (`oc login`) and check the user of {where} with `oc whoami`"),
    403: (Forbidden, "not allowed to {verb} {what}: {message}", "{can_i}"),
    422: (Invalid, "the API server rejected {what} as invalid: {message}",
          "the object does not match the resource's schema (a CRD's validation); fix the field named above"),
    "retry": (ClusterError, "the API server answered {status} {reason} to {verb} {what} after {attempts} attempt(s): "
                            "{message}", "the API server is overloaded or unhealthy; retry later, or raise target.retries"),
    "other": (ClusterError, "the API server refused to {verb} {what} ({status} {reason}): {message}",
              "check the object against the resource's schema"),
}

#: Why a connection failed, by the exception in the cause chain (first match wins).
_UNREACHABLE: list[tuple[type[BaseException], str]] = [
    (urllib3.exceptions.NameResolutionError, "its host name does not resolve"),
    (ssl.SSLError, "the TLS handshake failed (certificate not trusted or wrong server)"),
    (urllib3.exceptions.SSLError, "the TLS handshake failed (certificate not trusted or wrong server)"),
    (ConnectionRefusedError, "the connection was refused"),
    (urllib3.exceptions.ConnectTimeoutError, "connecting timed out after {connect:g}s"),
    (urllib3.exceptions.ReadTimeoutError, "it did not answer within {read:g}s"),
    (urllib3.exceptions.ProtocolError, "the connection was dropped"),
    (ConnectionError, "the connection was dropped"),
    (urllib3.exceptions.NewConnectionError, "could not connect ({name})"),
]


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    """``exc`` or anything behind it (``reason`` of urllib3's wrappers, ``__cause__``, ``__context__``) is a ``kind``."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else (exc.__cause__ or exc.__context__)
    return False


# -- bounds: a deadline on every request, however slowly the server answers ----------------------------------
class _Watch:
    """One request's deadline; ``sock`` is the socket it uses (set by the connection classes below)."""

    __slots__ = ("deadline", "done", "expired", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.expired = False
        self.done = False

    def expire(self) -> None:
        """Shut the socket down: a read blocked on it returns at once, in whichever thread."""
        self.expired = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Reaper:
    """One daemon thread for every request's deadline (not a timer thread per request)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._n = 0
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float) -> _Watch:
        w = _Watch(time.monotonic() + seconds)
        with self._cv:
            heapq.heappush(self._heap, (w.deadline, self._n, w))
            self._n += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="spkrunbook-deadlines", daemon=True)
                self._thread.start()
            self._cv.notify()
        return w

    def _run(self) -> None:
        with self._cv:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    if not self._cv.wait(30.0) and not self._heap:
                        self._thread = None
                        return
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                heapq.heappop(self._heap)[2].expire()


_REAPER = _Reaper()
_LOCAL = threading.local()


class _Watched:
    """Mixed into urllib3's connections: the socket of the request under way is known to its watch."""

    sock: Any

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        w = getattr(_LOCAL, "watch", None)
        if w is not None:
            w.sock = sock  # the raw socket: shutting it down also ends a TLS handshake that drips
        return sock

    def request(self, *args: Any, **kwargs: Any) -> Any:
        w = getattr(_LOCAL, "watch", None)
        if w is not None and self.sock is not None:
            w.sock = self.sock  # a kept-alive connection reused
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def _bound(client: ApiClient) -> ApiClient:
    """The client's connections made watchable (pools are made lazily, at the first request)."""
    pm = client.rest_client.pool_manager
    pm.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return client


# -- credentials: an exec plugin with a deadline, every credential registered -----------------------------------
def run_credential_plugin(exec_config: dict[str, Any], cwd: str | None, cluster: dict[str, Any] | None, *,
                          timeout: float, where: str) -> dict[str, Any]:
    """Run a kubeconfig ``exec`` credential plugin (client.authentication.k8s.io) with a deadline.

    What the client's own ``ExecProvider`` does, bounded: never interactive (stdin
    closed), at most ``timeout`` seconds (the plugin's whole process group is killed
    after), at most ``MAX_PLUGIN_BYTES`` of output. Returns the ExecCredential's
    ``status``; every credential in it is registered with the scrubber at once.
    """
    command = exec_config.get("command")
    api_version = exec_config.get("apiVersion")
    if not command or not api_version:
        raise ClusterUnreachable(f"the credential plugin of {where} has no {'command' if not command else 'apiVersion'}",
                                 hint="check the user's exec section with `oc config view --minify`")
    argv = [str(command), *[str(a) for a in exec_config.get("args") or []]]
    env = dict(os.environ)
    for item in exec_config.get("env") or []:
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    info: dict[str, Any] = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if exec_config.get("provideClusterInfo") and cluster is not None:
        info["spec"]["cluster"] = cluster
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    shown = " ".join(argv)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                cwd=cwd or None, env=env, start_new_session=True)
    except OSError as exc:
        raise ClusterUnreachable(f"the credential plugin `{shown}` of {where} cannot start: {exc.strerror}",
                                 hint=f"install `{argv[0]}` or put it on PATH (the kubeconfig's user runs it to log in)") from None
    out, err, why = bytearray(), bytearray(), ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        assert proc.stdout is not None and proc.stderr is not None
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                why = f"did not answer within {timeout:g}s"
                break
            for key, _ in sel.select(min(left, 0.5)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if len(out) + len(err) > MAX_PLUGIN_BYTES:
                    why = f"printed more than {MAX_PLUGIN_BYTES:,} bytes"
                    break
            if why:
                break
    if why:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    if why:
        raise ClusterUnreachable(
            f"the credential plugin `{shown}` of {where} {why}; it was stopped",
            hint=f"run `{shown}` by hand: it may wait for a login a headless run cannot give (log in first, e.g. "
                 "`oc login`), or it may hang; the plugin's deadline is target.request_timeout")
    if code != 0:
        tail = secrets.Scrubber().text(err.decode("utf-8", "replace").strip()[-300:]) or "(nothing on stderr)"
        raise ClusterUnreachable(f"the credential plugin `{shown}` of {where} exited with status {code}: {tail}",
                                 hint=f"run `{shown}` by hand and log in again")
    try:
        data = json.loads(bytes(out))
        status = data["status"]
        if not isinstance(status, dict):
            raise TypeError("status")
    except (ValueError, KeyError, TypeError):
        raise ClusterUnreachable(f"the credential plugin `{shown}` of {where} printed no ExecCredential with a status",
                                 hint=f"run `{shown}` by hand: it must print a client.authentication.k8s.io "
                                      "ExecCredential as JSON") from None
    if data.get("apiVersion") != api_version:
        raise ClusterUnreachable(f"the credential plugin `{shown}` of {where} answered {data.get('apiVersion')!r}, "
                                 f"not {api_version!r}", hint="set the exec apiVersion in the kubeconfig to the one "
                                                               "the plugin speaks")
    secrets.remember(*(str(status[k]) for k in ("token", "clientKeyData") if status.get(k)))
    return status


class _Loader(KubeConfigLoader):
    """The client's kubeconfig loader, with its exec plugin run by ``run_credential_plugin`` (bounded,
    registered) instead of ``ExecProvider`` (no deadline, errors only logged, leading to a 401 later)."""

    plugin_timeout = 15.0
    shown = "the kubeconfig"

    def _load_from_exec_plugin(self) -> bool | None:
        user: Any = self._user
        node: Any = self._cluster
        if user is None or "exec" not in user:
            return None
        base_path = self._get_base_path(node.path)
        exec_config = user["exec"].value
        cluster = node.value if exec_config.get("provideClusterInfo") else None
        context: Any = self._current_context
        status = run_credential_plugin(exec_config, base_path, cluster, timeout=self.plugin_timeout,
                                       where=f"{self.shown} (user {context['context'].safe_get('user')!r})")
        if "token" in status:
            self.token = f"Bearer {status['token']}"
        elif "clientCertificateData" in status and "clientKeyData" in status:
            from kubernetes.config.kube_config import FileOrData

            self.cert_file = FileOrData(status, None, data_key_name="clientCertificateData", file_base_path=base_path,
                                        base64_file_content=False, temp_file_path=self._temp_file_path).as_file()
            self.key_file = FileOrData(status, None, data_key_name="clientKeyData", file_base_path=base_path,
                                       base64_file_content=False, temp_file_path=self._temp_file_path).as_file()
        else:
            raise ClusterUnreachable(f"the credential plugin of {self.shown} gave neither a token nor a client "
                                     "certificate and key", hint="run the plugin by hand and log in again")
        if "expirationTimestamp" in status:
            from kubernetes.config.dateutil import parse_rfc3339

            self.expiry = parse_rfc3339(status["expirationTimestamp"])
        return True


def _remember_auth(headers: dict[str, Any] | None) -> None:
    """The credential a request carries (whatever its source), registered before the request leaves."""
    for key, value in (headers or {}).items():
        if str(key).lower() == "authorization" and isinstance(value, str):
            scheme, _, cred = value.partition(" ")
            secrets.remember(cred.strip())
            if scheme.lower() == "basic":
                try:
                    user_pass = base64.b64decode(cred).decode("utf-8", "replace")
                    secrets.remember(user_pass.partition(":")[2])
                except ValueError:
                    pass


class LiveTarget:
    """Reads and writes a real cluster; the only place the ``kubernetes`` client is used."""

    kind = "live"
    can_write = True

    def __init__(
        self,
        api_client: ApiClient,
        *,
        context: str | None = None,
        user: str | None = None,
        namespace: str | None = None,
        kubeconfig: str | None = None,
        request_timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        max_list_bytes: int = MAX_LIST_BYTES,
        access: dict[str, Any] | None = None,
    ) -> None:
        if not hasattr(api_client, "param_serialize"):  # the pre-37 generator had another call_api
            raise ClusterError("the installed kubernetes client is too old for spkrunbook (need release 37 or later)",
                               hint="pip install 'kubernetes>=37,<38' in the runbook's virtual env")
        self._client = _bound(api_client)
        self.server = api_client.configuration.host
        self.context = context
        self.user = user
        self.namespace = namespace or "default"
        self.kubeconfig = kubeconfig
        self.request_timeout = request_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_list_bytes = max_list_bytes
        # How the target was given (kubeconfig + context, server, in-cluster), for ``cluster_access``.
        self._access = dict(access or {})
        self._version: dict[str, Any] | None = None
        self._count = 0
        self._count_lock = threading.Lock()
        if not api_client.configuration.verify_ssl:
            _quiet_insecure_warning()

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_params(cls, params: TargetParams, *, check: bool = True, **kwargs: Any) -> LiveTarget:
        """Build from the target params; with ``check``, ask the server once (GET /version)."""
        token = params.token.get_secret_value() if params.token is not None else None
        common: dict[str, Any] = {"request_timeout": params.request_timeout, "retries": params.retries,
                                  "max_list_bytes": int(params.max_response_mb) << 20, **kwargs}
        if params.in_cluster:
            target = cls.in_cluster(**common)
        elif params.server:
            target = cls.from_server(params.server, token, verify_tls=params.verify_tls,
                                     ca_file=params.ca_file, **common)
        else:
            target = cls.from_kubeconfig(params.kubeconfig, params.context, verify_tls=params.verify_tls, **common)
        if check:
            target.check_reachable()
        return target

    @classmethod
    def from_kubeconfig(cls, path: str | Path | None = None, context: str | None = None, *,
                        verify_tls: bool = True, **kwargs: Any) -> LiveTarget:
        """From a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and optional context.

        The file is read by ``spkrunbook.kubeconfig`` (bounded, no alias expanded) and given to the
        client as data; relative paths in it resolve against its folder, as ``oc`` resolves them.
        """
        kc = kubeconfigs.load(path)
        shown = str(kc.path)
        if context is not None and kc.context(context) is None:
            raise ClusterUnreachable(f"the kubeconfig {shown} has no context {context!r} (it has: {', '.join(kc.names) or 'none'})",
                                     hint="set target.context to one of them, or list them with `oc config get-contexts`")
        chosen = kc.context(context)
        if chosen is None:
            raise ClusterUnreachable(f"the kubeconfig {shown} names no current context and none was given",
                                     hint="set target.context (`oc config get-contexts` lists them)")
        ctx: dict[str, Any] = chosen["context"] if isinstance(chosen.get("context"), dict) else {}
        cfg = _base_configuration()
        loader_kind = type("_BoundLoader", (_Loader,), {"plugin_timeout": float(kwargs.get("request_timeout", 15.0)),
                                                         "shown": f"the kubeconfig {shown}"})
        try:
            loader = loader_kind(ConfigNode("kube-config", kc.data, path=str(kc.path.resolve())),
                                 active_context=str(chosen["name"]), config_base_path=None)
            loader.load_and_set(cfg)
        except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ClusterUnreachable(
                f"the kubeconfig {shown} (context {chosen['name']!r}) could not be loaded ({type(exc).__name__})",
                hint="check the context's cluster and user entries with `oc config view --minify`") from exc
        if not verify_tls:
            cfg.verify_ssl = False
        access = {"kind": "kubeconfig", "path": str(kc.path.resolve()), "context": str(chosen["name"]),
                  "verify_tls": bool(cfg.verify_ssl)}
        return cls(ApiClient(cfg), context=str(chosen["name"]), user=ctx.get("user"), namespace=ctx.get("namespace"),
                   kubeconfig=shown, access=access, **kwargs)

    @classmethod
    def from_server(cls, server: str, token: str | None = None, *, verify_tls: bool = True,
                    ca_file: str | Path | None = None, **kwargs: Any) -> LiveTarget:
        """From an API URL and a bearer token (e.g. `oc whoami -t`), and the CA that signed the server's certificate."""
        cfg = _base_configuration()
        cfg.host = server.rstrip("/")
        cfg.verify_ssl = verify_tls
        if ca_file:
            cfg.ssl_ca_cert = str(ca_file)
        if token:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
            secrets.remember(token)
        access = {"kind": "server", "server": cfg.host, "ca_file": str(ca_file) if ca_file else None,
                  "verify_tls": verify_tls, "token_env": "SPKRUNBOOK_TOKEN" if token else None}
        return cls(ApiClient(cfg), access=access, **kwargs)

    @classmethod
    def in_cluster(cls, *, token_file: str | Path | None = None, ca_file: str | Path | None = None,
                   environ: dict[str, str] | None = None, **kwargs: Any) -> LiveTarget:
        """From the service account of the pod this runs in (its token file is re-read as it rotates)."""
        cfg = _base_configuration()
        token_file = str(token_file or incluster_config.SERVICE_TOKEN_FILENAME)
        ca_file = str(ca_file or incluster_config.SERVICE_CERT_FILENAME)
        try:
            incluster_config.InClusterConfigLoader(token_filename=token_file, cert_filename=ca_file,
                                                   environ=environ if environ is not None else os.environ
                                                   ).load_and_set(cfg)
        except ConfigException as exc:
            raise ClusterUnreachable("in-cluster configuration is not available (not running in a pod?)",
                                     hint="set target.in_cluster to false and give target.kubeconfig") from exc
        access = {"kind": "in-cluster", "server": cfg.host, "ca_file": ca_file, "token_file": token_file,
                  "verify_tls": True}
        return cls(ApiClient(cfg), context="in-cluster", access=access, **kwargs)

    @contextmanager
    def cluster_access(self) -> Iterator[ClusterAccess]:
        """How helm reaches this same cluster with these same credentials, for the length of one call.

        Given by kubeconfig: that file and context (helm runs the same exec plugin, if any).
        Given by server or in-cluster: a temporary kubeconfig that holds no secret (the
        server and its CA, in a private folder removed after the call) and the bearer
        token in helm's environment (``HELM_KUBETOKEN``), never on its command line.
        """
        a = self._access
        if a.get("kind") == "kubeconfig":
            args = ["--kubeconfig", a["path"], "--kube-context", a["context"]]
            if not a.get("verify_tls", True):
                args.append("--kube-insecure-skip-tls-verify")
            yield ClusterAccess(tuple(args), {}, tuple(args))
            return
        if a.get("kind") not in ("server", "in-cluster"):
            raise ClusterError("this target was not built from params, so helm cannot be told how to reach it",
                               hint="build it with LiveTarget.from_params / from_kubeconfig / from_server")
        cluster: dict[str, Any] = {"server": self.server}
        shown = ["--kube-apiserver", self.server]
        if not a.get("verify_tls", True):
            cluster["insecure-skip-tls-verify"] = True
            shown.append("--kube-insecure-skip-tls-verify")
        elif a.get("ca_file"):
            cluster["certificate-authority"] = str(Path(a["ca_file"]).resolve())
            shown += ["--kube-ca-file", cluster["certificate-authority"]]
        env: dict[str, str] = {}
        shown_env: dict[str, str] = {}
        bearer = self._client.configuration.get_api_key_with_prefix("authorization") or \
            self._client.configuration.get_api_key_with_prefix("BearerToken")
        if bearer:
            token = bearer.partition(" ")[2] or bearer
            secrets.remember(token)
            env["HELM_KUBETOKEN"] = token
            shown_env["HELM_KUBETOKEN"] = ('"$(cat ' + a["token_file"] + ')"' if a.get("token_file")
                                          else '"$' + (a.get("token_env") or "SPKRUNBOOK_TOKEN") + '"')
        folder = Path(tempfile.mkdtemp(prefix="spkrunbook-kube-"))  # mode 0700
        try:
            path = folder / "kubeconfig"
            doc = {"apiVersion": "v1", "kind": "Config", "current-context": "target",
                   "clusters": [{"name": "target", "cluster": cluster}],
                   "users": [{"name": "target", "user": {}}],
                   "contexts": [{"name": "target", "context": {"cluster": "target", "user": "target",
                                                                "namespace": self.namespace}}]}
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            yield ClusterAccess(("--kubeconfig", str(path), "--kube-context", "target"), env, tuple(shown),
                                shown_env)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LiveTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identity -------------------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        """HTTP requests sent (every retry and exec counts), for benchmarks."""
        return self._count

    def check_reachable(self) -> dict[str, Any]:
        """GET /version; raises ClusterUnreachable / Forbidden with one clear message."""
        self._version = self._request("GET", "/version", verb="get", what="the server version")
        return self._version

    def version(self) -> dict[str, Any]:
        return self._version if self._version is not None else self.check_reachable()

    def info(self) -> TargetInfo:
        return TargetInfo(
            kind="live",
            name=self.context or self.server,
            details={
                "server": self.server,
                "context": self.context,
                "user": self.user,
                "namespace": self.namespace,
                "kubernetes_version": (self._version or {}).get("gitVersion"),
            },
        )

    # -- reading ----------------------------------------------------------------------------------------
    def path(self, res: str | Resource, name: str | None = None, namespace: str | None = None,
             subresource: str | None = None) -> str:
        """The REST path of a resource / object (namespace None on a list: all namespaces)."""
        r = resource(res)
        base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
        if r.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{r.plural}"
        if name is not None:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base

    def get(self, res: str | Resource, name: str, namespace: str | None = None) -> Obj:
        r = resource(res)
        ns = (namespace or self.namespace) if r.namespaced else None
        return self._request("GET", self.path(r, name, ns), res=r, name=name, namespace=ns, verb="get")

    def list(
        self,
        res: str | Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Objs:
        r = resource(res)
        query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        ns = namespace if r.namespaced else None
        data = self._request("GET", self.path(r, None, ns), query=query, res=r, namespace=ns, verb="list")
        items = data.get("items") or []
        for item in items:  # a typed list leaves these out of its items; keep objects self-describing
            item.setdefault("apiVersion", r.api_version)
            if r.kind:
                item.setdefault("kind", r.kind)
        return items

    def logs(self, namespace: str, pod: str, container: str, *, previous: bool = False,
             tail_lines: int = 400) -> str | None:
        """The container's log (the one before its last restart with ``previous``); None when there is none."""
        query = [("container", container), ("tailLines", str(tail_lines)), ("limitBytes", str(MAX_OBJECT_BYTES))]
        if previous:
            query.append(("previous", "true"))
        for attempt in range(3):
            try:
                text = secrets.Scrubber().text(str(self._request(
                    "GET", self.path("pods", pod, namespace, "log"), query=query, res=resource("pods"), name=pod,
                    namespace=namespace, verb="get logs of", text=True)))
            except ClusterError as exc:
                if "not found" in exc.message and ("container" in exc.message or "previous" in exc.message):
                    return None  # 400: no such (previous) container: nothing to read
                raise
            # While it restarts a crashed container the kubelet may answer 200 with this instead of the log:
            # the pod's status still names the container it has just removed. A moment later it names the next.
            if not _KUBELET_LOG_GONE.match(text.strip()):
                return text
            time.sleep(1.0 + attempt)
        raise ClusterError(f"the kubelet could not read the log of {namespace}/{pod} container {container}: {text.strip()} "
                           "(it was restarting the container)",
                           hint=f"read it again in a moment: oc logs {pod} -n {namespace} -c {container}"
                                + (" --previous" if previous else ""))

    def exists(self, res: str | Resource, name: str, namespace: str | None = None) -> bool:
        try:
            self.get(res, name, namespace)
        except ResourceMissing:
            return False
        return True

    def get_raw(self, path: str, query: Sequence[tuple[str, str]] | None = None) -> Any:
        """Any GET path, e.g. ``/api/v1/nodes/<n>/proxy/configz`` (`oc get --raw`)."""
        return self._request("GET", path, query=query, verb="get", what=path)

    def ovn_nb_databases(self) -> NbdbFiles:
        """None: a live cluster's NB databases are read with ``ovn-nbctl`` in its OVN pods."""
        return []

    def kubelet_config(self, node: str) -> dict[str, Any]:
        """The running kubelet's configuration (``.kubeletconfig`` of the node's configz)."""
        data = self._request("GET", self.path("nodes", node, subresource="proxy/configz"),
                             res=resource("nodes"), name=node, verb="get", what=f"the kubelet configz of node {node}")
        return (data or {}).get("kubeletconfig") or {}

    def wait_for(self, res: str | Resource, name: str, namespace: str | None, condition: Callable[[Obj], bool], *,
                 timeout: float = 60.0, interval: float = 0.5) -> Obj:
        """Poll until ``condition(obj)`` holds (e.g. a debug pod becomes Ready); ClusterError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                obj = self.get(res, name, namespace)
                if condition(obj):
                    return obj
            except ResourceMissing:
                obj = None
            if time.monotonic() >= deadline:
                r = resource(res)
                state = ((obj or {}).get("status") or {}).get("phase", "absent" if obj is None else "unknown")
                raise ClusterError(f"{r.plural}/{name} did not become ready within {timeout:g}s (state: {state})",
                                   hint=f"look at `oc describe {r.plural} {name}" + (f" -n {namespace}`" if namespace else "`")
                                   + " and its events")
            time.sleep(interval)

    # -- writing ------------------------------------------------------------------------------------------
    def _ns_for(self, r: Resource, obj: Obj | None, namespace: str | None) -> str | None:
        if not r.namespaced:
            return None
        return namespace or ((obj or {}).get("metadata") or {}).get("namespace") or self.namespace

    def create(self, res: str | Resource, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        r = resource(res)
        ns = self._ns_for(r, obj, namespace)
        name = (obj.get("metadata") or {}).get("name")
        query = [("dryRun", "All")] if dry_run else None
        return self._request("POST", self.path(r, None, ns), query=query, body=obj, res=r, name=name, namespace=ns,
                             verb="create")

    def replace(self, res: str | Resource, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        """PUT the whole object; a stale ``metadata.resourceVersion`` raises Conflict."""
        r = resource(res)
        ns = self._ns_for(r, obj, namespace)
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("replace needs metadata.name")
        query = [("dryRun", "All")] if dry_run else None
        return self._request("PUT", self.path(r, name, ns), query=query, body=obj, res=r, name=name, namespace=ns,
                             verb="update")

    def patch(self, res: str | Resource, name: str, patch: Obj | Objs, namespace: str | None = None, *,
              patch_type: str = "merge") -> Obj:
        """Merge patch (default), ``strategic`` or ``json`` (a list of RFC 6902 operations)."""
        r = resource(res)
        ns = (namespace or self.namespace) if r.namespaced else None
        ctype = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
                 "json": "application/json-patch+json"}[patch_type]
        return self._request("PATCH", self.path(r, name, ns), body=patch, content_type=ctype, res=r, name=name,
                             namespace=ns, verb="patch")

    def delete(self, res: str | Resource, name: str, namespace: str | None = None, *,
               grace_period: int | None = None, missing_ok: bool = False) -> None:
        r = resource(res)
        ns = (namespace or self.namespace) if r.namespaced else None
        query = [("gracePeriodSeconds", str(grace_period))] if grace_period is not None else None
        try:
            self._request("DELETE", self.path(r, name, ns), query=query, res=r, name=name, namespace=ns, verb="delete")
        except ResourceMissing:
            if not missing_ok:
                raise

    # -- the one HTTP path, with bounded retry and error translation ----------------------------------------
    def _bump(self) -> None:
        with self._count_lock:
            self._count += 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        res: Resource | None = None,
        name: str | None = None,
        namespace: str | None = None,
        verb: str | None = None,
        what: str | None = None,
        text: bool = False,
    ) -> Any:
        verb = verb or _VERBS.get(method, method.lower())
        for attempt in range(self.retries + 1):
            self._bump()
            try:
                return self._send(method, path, query, body, content_type, text=text, listing=verb == "list")
            except ApiException as exc:
                if exc.status in RETRY_STATUSES and attempt < self.retries:
                    time.sleep(self._delay(attempt, exc))
                    continue
                if not exc.status:  # the client's wrapper for TLS failures
                    raise self._unreachable(exc) from exc
                raise self._translate(exc.status, exc.reason, exc.body, res=res, name=name, namespace=namespace,
                                      verb=verb, what=what, attempts=attempt + 1) from exc
            except urllib3.exceptions.HTTPError as exc:
                cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
                # a refused/failed connect never reached the server: safe to repeat for any verb;
                # a read that timed out may have been applied: repeat only reads.
                connect_failed = isinstance(cause, (urllib3.exceptions.NewConnectionError,
                                                    urllib3.exceptions.ConnectTimeoutError))
                retryable = not isinstance(cause, (urllib3.exceptions.SSLError, urllib3.exceptions.NameResolutionError)) \
                    and (connect_failed or method == "GET")
                if retryable and attempt < self.retries:
                    time.sleep(self._delay(attempt, None))
                    continue
                raise self._unreachable(cause) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, query: Sequence[tuple[str, str]] | None, body: Any,
              content_type: str | None, *, text: bool = False, listing: bool = False) -> Any:
        # A log is text/plain, but the API server negotiates its errors too: text/plain alone is a 406 there.
        headers = {"Accept": "text/plain, */*" if text else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        request = self._client.param_serialize(method=method, resource_path=path, query_params=query or [],
                                               header_params=headers, body=body, auth_settings=["BearerToken"])
        _remember_auth(request[2])
        timeout = (min(self.request_timeout, 10.0), self.request_timeout)
        watch = _REAPER.watch(self.request_timeout)
        _LOCAL.watch = watch
        try:
            response = self._client.call_api(*request, _request_timeout=timeout)
            data = self._read_body(response.response, self.max_list_bytes if listing else MAX_OBJECT_BYTES, method, path,
                                   listing)
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
            if watch.expired:
                self._client.rest_client.pool_manager.clear()
                raise self._too_slow(method, path) from exc
            raise
        finally:
            watch.done = True
            _LOCAL.watch = None
        if watch.expired:  # the last byte came just as the deadline passed: the socket is gone, the answer whole
            self._client.rest_client.pool_manager.clear()
        if not 200 <= response.status <= 299:
            ApiException.from_response(http_resp=response, body=data.decode("utf-8", "replace"), data=None)
        if text:
            return data.decode("utf-8", "replace")
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise self._not_an_api(path, response.headers.get("Content-Type") if response.headers else None,
                                   data) from None

    def _read_body(self, raw: Any, cap: int, method: str, path: str, listing: bool) -> bytes:
        """The body, read in chunks up to ``cap`` bytes (a larger answer is refused, not read)."""
        length = raw.headers.get("Content-Length") if raw.headers else None
        if length and str(length).isdigit() and int(length) > cap:
            raw.close()
            raise self._too_big(method, path, cap, int(length), listing)
        buf = bytearray()
        while True:
            chunk = raw.read(_READ_CHUNK)
            if not chunk:
                break
            buf += chunk
            if len(buf) > cap:
                raw.close()
                raise self._too_big(method, path, cap, None, listing)
        raw.release_conn()
        return bytes(buf)

    def _too_big(self, method: str, path: str, cap: int, said: int | None, listing: bool) -> ClusterError:
        """A list over its cap is a ClusterError (exit 1); one object over 8 MB means this is no API server
        (ClusterUnreachable, exit 2)."""
        self._client.rest_client.pool_manager.clear()
        size = f"{said:,} bytes" if said is not None else f"more than {cap:,} bytes"
        if listing:
            hint = ("a list this large is unusual for a lab; raise target.max_response_mb if the cluster really is this "
                    f"big (now {cap >> 20} MB), or check that {self.server} is the API server")
        else:
            hint = (f"a Kubernetes API server never answers one object with more than 1.5 MiB (etcd's limit): check that "
                    f"{self._where()} point at the API server (`oc whoami --show-server`), not a proxy or another service")
        kind = ClusterError if listing else ClusterUnreachable
        return kind(f"the API server at {self.server} answered {method} {path} with {size}; refused "
                    f"(at most {cap:,} bytes are read)", hint=hint)

    def _too_slow(self, method: str, path: str) -> ClusterUnreachable:
        return ClusterUnreachable(
            f"the API server at {self.server} did not finish answering {method} {path} within "
            f"{self.request_timeout:g}s (target.request_timeout); the request was stopped",
            hint=f"the server (or a proxy in front of it) answers too slowly: check {self._where()} and the API "
                 "server's health (`oc get --raw /readyz`); raise target.request_timeout for a slow link")

    def _delay(self, attempt: int, exc: ApiException | None) -> float:
        retry_after = None
        if exc is not None and exc.headers:
            try:
                retry_after = float(exc.headers.get("Retry-After"))
            except (TypeError, ValueError):
                retry_after = None
        delay = min(self.max_backoff, self.backoff * (2 ** attempt))
        delay *= 1 + random.random() * 0.1
        if retry_after is not None:
            delay = max(delay, min(retry_after, 10.0))
        return delay

    # -- translation -----------------------------------------------------------------------------------------
    def _where(self) -> str:
        bits = []
        if self.kubeconfig:
            bits.append(f"the kubeconfig {self.kubeconfig}")
        if self.context:
            bits.append(f"its context {self.context!r}")
        return " and ".join(bits) or "target.server"

    def _unreachable(self, cause: BaseException | None) -> ClusterUnreachable:
        """A connection that never reached a Kubernetes API, by the exception's type (``_UNREACHABLE``)."""
        why = "the connection failed"
        for kind, text in _UNREACHABLE:
            if _caused_by(cause, kind):
                why = text.format(connect=min(self.request_timeout, 10.0), read=self.request_timeout,
                                  name=type(cause).__name__)
                break
        hint = (f"check that {self._where()} point at the right cluster (compare `oc whoami --show-server`), "
                "that you are on the lab network or VPN, and that the API server is up")
        if "TLS" in why:
            hint += "; for a lab with a self-signed API certificate set target.verify_tls: false"
        return ClusterUnreachable(f"cannot reach the Kubernetes API server at {self.server}: {why}", hint=hint)

    def _not_an_api(self, path: str, content_type: str | None, body: bytes) -> ClusterUnreachable:
        """200 from something that is not a Kubernetes API server (a login page, a proxy, a wrong URL)."""
        looks = "an HTML page" if body.lstrip()[:1] == b"<" else f"{content_type or 'no content type'}, not JSON"
        return ClusterUnreachable(
            f"{self.server} answered {path} with {looks}: this is not the Kubernetes API server",
            hint=f"point {self._where()} at the API URL (https://api.<cluster>:6443, from `oc whoami --show-server`), "
                 "not the console or a proxy login page")

    def _translate(self, status: int, reason: str | None, body: Any, *, res: Resource | None, name: str | None,
                   namespace: str | None, verb: str, what: str | None, attempts: int = 1) -> ClusterError:
        """An HTTP error status as one of our errors, by the table ``_STATUS`` (message and hint per status)."""
        st: dict[str, Any] = {}
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8", "replace")
        if isinstance(body, str):
            try:
                parsed = json.loads(body)
                st = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                st = {}
        message = str(st.get("message") or (body.strip()[:300] if isinstance(body, str) else "") or reason or "")
        reason = st.get("reason") or reason
        details = st.get("details") or {}
        in_ns = f" in namespace {namespace}" if namespace else ""
        if res is not None:
            what = what or (f"{res.plural}/{name}{in_ns}" if name else f"{res.plural}{in_ns or ' (all namespaces)'}")
        what = what or "the request"
        # A 404 for a whole API (no CRD) is not a 404 for one object: the body's details name the object.
        key: int | str = status
        if status == 404 and res is not None and not (name and details.get("name") == name):
            key = "404-api" if res.group else "404-core"
        elif status == 409 and reason == "AlreadyExists":
            key = "409-exists"
        elif status in RETRY_STATUSES:
            key = "retry"
        elif status not in _STATUS:
            key = "other"
        cls, text, hint = _STATUS[key]
        message = secrets.Scrubber().text(message)  # a server that echoes the request's token never shows it
        crd = f"{res.plural}.{res.group}" if res is not None and res.group else ""
        fill = {"what": what, "verb": verb, "message": message, "status": status, "reason": reason or "",
                "attempts": attempts, "server": self.server, "where": self._where(), "crd": crd,
                "plural": res.plural if res else what, "api_version": res.api_version if res else "",
                "ns_flag": f" -n {namespace}" if namespace else "", "can_i": self._can_i(verb, res, namespace)}
        hint = _CRD_HINTS.get(res.group, hint) if key == "404-api" and res is not None else hint
        return cls(text.format(**fill), hint=hint.format(**fill), status=status, reason=reason)

    @staticmethod
    def _can_i(verb: str, res: Resource | None, namespace: str | None) -> str:
        """The ``oc auth can-i`` line for a denied request, or the RBAC rule when there is no resource (``/version``)."""
        if res is None:
            return "ask the cluster admin for a role that allows this request"
        group = f".{res.group}" if res.group else ""
        ns = f" -n {namespace}" if namespace else ""
        return (f"check with `oc auth can-i {verb} {res.plural}{group}{ns}`; grant it with a Role or ClusterRole "
                f"allowing verb {verb!r} on {res.plural!r} in API group {res.group or 'core'!r}")

    # -- exec ---------------------------------------------------------------------------------------------------
    def exec_stream(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Argv,
        *,
        timeout: float = 30.0,
        stdin: bytes | None = None,
    ) -> ExecStream:
        """Start ``argv`` in a container; iterate the result for (channel, bytes) as they arrive."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of arguments, never a shell string")
        argv = [str(a) for a in argv]
        self._bump()
        _remember_auth({"authorization": self._client.configuration.get_api_key_with_prefix("authorization")
                        or self._client.configuration.get_api_key_with_prefix("BearerToken") or ""})
        # stream() swaps call_api on the ApiClient it is given while it runs; a private
        # client keeps concurrent REST calls on the shared one out of the websocket path.
        client = ApiClient(self._client.configuration)
        try:
            ws = k8s_stream(CoreV1Api(client).connect_get_namespaced_pod_exec, pod, namespace, command=argv,
                            container=container, stdin=stdin is not None, stdout=True, stderr=True, tty=False,
                            _preload_content=False, binary=True)
        except ApiException as exc:
            raise self._exec_error(exc, namespace, pod, container, argv) from exc
        finally:
            client.close()
        return ExecStream(ws, argv, timeout=timeout, stdin=stdin, where=f"{namespace}/{pod} container {container}")

    def exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Argv,
        *,
        timeout: float = 30.0,
        stdin: bytes | None = None,
        max_bytes: int = MAX_EXEC_BYTES,
    ) -> ExecResult:
        """Run ``argv`` and collect stdout/stderr as bytes, at most ``timeout`` seconds and ``max_bytes``
        bytes; a cut run says so (``timed_out``, ``cut``) instead of raising, and keeps what came."""
        run = self.exec_stream(namespace, pod, container, argv, timeout=timeout, stdin=stdin)
        out, err = bytearray(), bytearray()
        cut = ""
        with run:
            for channel, data in run:
                (out if channel == 1 else err).extend(data)
                if len(out) + len(err) > max_bytes:
                    del out[max_bytes:]
                    del err[max(0, max_bytes - len(out)):]
                    cut = (f"output cut at {max_bytes:,} bytes (the command was still writing; "
                           f"the first {len(out):,} bytes of stdout kept)")
                    break
        if run.timed_out:
            cut = f"stopped after {timeout:g}s (the command had not finished; {len(out):,} bytes of stdout kept)"
        return ExecResult(argv=list(argv), stdout=bytes(out), stderr=bytes(err), exit_code=run.exit_code,
                          timed_out=run.timed_out, cut=cut)

    def _exec_error(self, exc: ApiException, namespace: str, pod: str, container: str,
                    argv: Argv) -> Exception:
        ctx = exc.__context__
        if isinstance(ctx, WebSocketBadStatusException):
            status = getattr(ctx, "status_code", 0) or 0
            body = getattr(ctx, "resp_body", None)
            if status == 400:
                text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
                try:
                    text = json.loads(text).get("message", text)
                except (ValueError, AttributeError):
                    pass
                return ExecError(f"cannot exec `{' '.join(argv)}` in {namespace}/{pod} container {container}: {text}",
                                 hint=f"check that the pod is Running and has that container: `oc get pod {pod} -n {namespace}`")
            if status == 403:
                # exec is the pods/exec subresource: `get` over a websocket (how this client execs), `create` over SPDY
                denied = self._translate(status, None, body, res=resource("pods"), name=pod, namespace=namespace,
                                         verb="create", what=None)
                detail = denied.message.split(": ", 1)[-1]
                return Forbidden(f"not allowed to exec into {namespace}/{pod} (pods/exec): {detail}",
                                 hint=f"check with `oc auth can-i create pods --subresource=exec -n {namespace}` (and `get`); "
                                      "grant a Role allowing verbs get and create on pods/exec in that namespace "
                                      "(OpenShift's admin and edit roles have them)", status=403, reason=denied.reason)
            return self._translate(status, None, body, res=resource("pods"), name=pod, namespace=namespace,
                                   verb="create", what=None)
        if isinstance(ctx, WebSocketException) and not isinstance(ctx, OSError):
            return ExecError(f"the exec connection to {namespace}/{pod} failed ({type(ctx).__name__})",
                             hint="retry; if it persists check the API server and kubelet on that node")
        return self._unreachable(ctx if isinstance(ctx, BaseException) else exc)


class ExecStream:
    """A running exec: iterate for (channel, bytes); then ``exit_code`` / ``timed_out`` are known."""

    def __init__(self, ws: Any, argv: Argv, *, timeout: float, stdin: bytes | None, where: str) -> None:
        self._ws = ws
        self.argv = argv
        self.where = where
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.exit_code: int | None = None
        self.timed_out = False
        self._open = True
        self._iter = self._run(stdin)

    def __iter__(self) -> ExecStream:
        return self

    def __next__(self) -> tuple[int, bytes]:
        return next(self._iter)

    def close(self) -> None:
        """Stop early: closes the websocket, which ends the command's stream on the server."""
        self._iter.close()  # a generator: ends its finally block
        self._close_ws()

    def _close_ws(self) -> None:
        try:
            self._ws.close()
        except Exception:  # noqa: BLE001 - closing a dead socket must not mask the real outcome
            pass

    def __enter__(self) -> ExecStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _frame(self, timeout: float) -> tuple[int, bytes] | None:
        """One websocket frame as (channel, bytes), waiting at most ``timeout`` for it to start.

        Read frame by frame, not with the client's ``update()``: that one reads every
        frame already waiting before it returns, so output that never ends never
        returns, and it keeps a copy of everything (``capture_all``).
        """
        sock = self._ws.sock
        raw = sock.sock
        if not (isinstance(raw, ssl.SSLSocket) and raw.pending()):
            poll = select.poll()  # not select(): a process with many files has descriptors above 1024
            poll.register(raw, select.POLLIN)
            if not poll.poll(max(timeout, 0.0) * 1000):
                return None
        opcode, frame = sock.recv_data_frame(True)
        if opcode == ABNF.OPCODE_CLOSE:
            self._open = False
            return None
        if opcode not in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT):
            return None
        data = frame.data.encode() if isinstance(frame.data, str) else bytes(frame.data)
        if not data or data[0] == 255:  # v5: a channel was closed
            return None
        return data[0], data[1:]

    def _run(self, stdin: bytes | None) -> Generator[tuple[int, bytes], None, None]:
        ws = self._ws
        # A frame that drips can hold recv_data_frame past any select timeout: the deadline shuts the socket.
        watch = _REAPER.watch(max(self.deadline - time.monotonic(), 0.0) + 1.0)
        watch.sock = ws.sock.sock
        status = bytearray()
        try:
            if stdin is not None:
                for i in range(0, len(stdin), 32 * 1024):
                    ws.write_stdin(stdin[i:i + 32 * 1024])
                ws.close_channel(0)  # v5: EOF on stdin; a no-op on v4
            while self._open and ws.sock.connected:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    self.timed_out = True
                    break
                got = self._frame(min(remaining, 0.5))
                if got is None:
                    continue
                channel, data = got
                if channel == 3:
                    status += data
                elif data:
                    yield channel, data
            if not self.timed_out:
                self.exit_code = self._exit_code(bytes(status))
        except (WebSocketException, OSError) as exc:
            if watch.expired:
                self.timed_out = True
                return
            raise ExecError(f"the exec connection to {self.where} broke while `{' '.join(self.argv)}` ran "
                            f"({type(exc).__name__})", hint="retry; check the node and API server") from exc
        finally:
            watch.done = True
            self._close_ws()

    def _exit_code(self, raw: bytes | str) -> int:
        text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else (raw or "")
        if not text.strip():
            if getattr(self._ws, "subprotocol", None) in ("v4.channel.k8s.io", "v5.channel.k8s.io"):
                raise ExecError(f"`{' '.join(self.argv)}` in {self.where} ended without an exit status",
                                hint="the connection was cut; retry")
            return 0  # channel.k8s.io (v1) sends nothing on success
        try:
            status = json.loads(text)
        except ValueError:
            raise ExecError(f"`{' '.join(self.argv)}` could not run in {self.where}: {text.strip()}") from None
        if status.get("status") == "Success":
            return 0
        if status.get("reason") == "NonZeroExitCode":
            for cause in (status.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode":
                    return int(cause.get("message"))
        raise ExecError(f"`{' '.join(self.argv)}` could not run in {self.where}: {status.get('message', text)}",
                        hint="check that the command exists in that container")


def _base_configuration() -> Configuration:
    """A fresh client configuration: urllib3's own retries off, so ours are the only (bounded) ones."""
    cfg = type.__call__(Configuration)  # not the process-wide default copy
    cfg.retries = False
    return cfg


def _quiet_insecure_warning() -> None:
    """``verify_tls: false`` is said once, as the lab's own warning (``params``); urllib3's
    InsecureRequestWarning on every request is noise on the terminal and in every notebook."""
    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
