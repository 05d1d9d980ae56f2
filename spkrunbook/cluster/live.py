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

No message carries a token or kubeconfig content. Requests go through
``ApiClient.param_serialize`` + ``call_api`` on generic paths built from a
``Resource``, so every entry of ``RESOURCES`` (and any CRD) works the same way.
Written against the client's OpenAPI-generator layout of release 37.
"""

from __future__ import annotations

import json
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3
from kubernetes import config as kconfig
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.stream import stream as k8s_stream
from websocket import WebSocketBadStatusException, WebSocketException

from ..errors import ClusterError, ClusterUnreachable, Conflict, ExecError, Forbidden, Invalid, ResourceMissing
from .base import Argv, ExecResult, Obj, Objs, Resource, TargetInfo, resource

if TYPE_CHECKING:
    from ..params import TargetParams
    from .base import NbdbFiles

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
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
    ) -> None:
        if not hasattr(api_client, "param_serialize"):  # the pre-37 generator had another call_api
            raise ClusterError("the installed kubernetes client is too old for spkrunbook (need release 37 or later)",
                               hint="pip install 'kubernetes>=37,<38' in the runbook's virtual env")
        self._client = api_client
        self.server = api_client.configuration.host
        self.context = context
        self.user = user
        self.namespace = namespace or "default"
        self.kubeconfig = kubeconfig
        self.request_timeout = request_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._version: dict[str, Any] | None = None
        self._count = 0
        self._count_lock = threading.Lock()

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_params(cls, params: TargetParams, *, check: bool = True, **kwargs: Any) -> LiveTarget:
        """Build from the target params; with ``check``, ask the server once (GET /version)."""
        token = params.token.get_secret_value() if params.token is not None else None
        if params.in_cluster:
            target = cls.in_cluster(request_timeout=params.request_timeout, retries=params.retries, **kwargs)
        elif params.server:
            target = cls.from_server(params.server, token, verify_tls=params.verify_tls,
                                     request_timeout=params.request_timeout, retries=params.retries, **kwargs)
        else:
            target = cls.from_kubeconfig(params.kubeconfig, params.context, verify_tls=params.verify_tls,
                                         request_timeout=params.request_timeout, retries=params.retries, **kwargs)
        if check:
            target.check_reachable()
        return target

    @classmethod
    def from_kubeconfig(cls, path: str | Path | None = None, context: str | None = None, *,
                        verify_tls: bool = True, **kwargs: Any) -> LiveTarget:
        """From a kubeconfig file (default: $KUBECONFIG or ~/.kube/config) and optional context."""
        cfg_path = str(path) if path else os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        shown = cfg_path or "~/.kube/config"
        if cfg_path and not Path(cfg_path).expanduser().is_file():
            raise ClusterUnreachable(f"the kubeconfig {shown} does not exist",
                                     hint="set target.kubeconfig to the file `oc login` wrote, or run `oc login` first")
        try:
            contexts, active = kconfig.list_kube_config_contexts(cfg_path)
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            raise ClusterUnreachable(f"the kubeconfig {shown} could not be read ({type(exc).__name__})",
                                     hint="check that it is a kubeconfig written by `oc login` / `oc config`") from exc
        names = [c.get("name") for c in contexts or []]
        if context is not None and context not in names:
            raise ClusterUnreachable(f"the kubeconfig {shown} has no context {context!r} (it has: {', '.join(names) or 'none'})",
                                     hint="set target.context to one of them, or list them with `oc config get-contexts`")
        chosen = next((c for c in contexts or [] if c.get("name") == context), None) if context else active
        ctx = (chosen or {}).get("context") or {}
        cfg = _base_configuration()
        try:
            client = kconfig.new_client_from_config(config_file=cfg_path, context=context, persist_config=False,
                                                    client_configuration=cfg)
        except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            raise ClusterUnreachable(
                f"the kubeconfig {shown} (context {(chosen or {}).get('name')!r}) could not be loaded ({type(exc).__name__})",
                hint="check the context's cluster and user entries with `oc config view --minify`") from exc
        if not verify_tls:
            client.close()
            cfg.verify_ssl = False
            client = ApiClient(cfg)
        return cls(client, context=(chosen or {}).get("name"), user=ctx.get("user"), namespace=ctx.get("namespace"),
                   kubeconfig=shown, **kwargs)

    @classmethod
    def from_server(cls, server: str, token: str | None = None, *, verify_tls: bool = True,
                    **kwargs: Any) -> LiveTarget:
        """From an API URL and a bearer token (e.g. `oc whoami -t`)."""
        cfg = _base_configuration()
        cfg.host = server.rstrip("/")
        cfg.verify_ssl = verify_tls
        if token:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        return cls(ApiClient(cfg), **kwargs)

    @classmethod
    def in_cluster(cls, **kwargs: Any) -> LiveTarget:
        """From the service account of the pod this runs in."""
        cfg = _base_configuration()
        try:
            kconfig.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise ClusterUnreachable("in-cluster configuration is not available (not running in a pod?)",
                                     hint="set target.in_cluster to false and give target.kubeconfig") from exc
        return cls(ApiClient(cfg), context="in-cluster", **kwargs)

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
        query = [("container", container), ("tailLines", str(tail_lines))]
        if previous:
            query.append(("previous", "true"))
        try:
            return str(self._request("GET", self.path("pods", pod, namespace, "log"), query=query,
                                     res=resource("pods"), name=pod, namespace=namespace, verb="get logs of",
                                     text=True))
        except ClusterError as exc:
            if "not found" in exc.message and ("container" in exc.message or "previous" in exc.message):
                return None  # 400: no such (previous) container: nothing to read
            raise

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
                return self._send(method, path, query, body, content_type, text=text)
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
              content_type: str | None, *, text: bool = False) -> Any:
        headers = {"Accept": "text/plain" if text else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        request = self._client.param_serialize(method=method, resource_path=path, query_params=query or [],
                                               header_params=headers, body=body, auth_settings=["BearerToken"])
        timeout = (min(self.request_timeout, 10.0), self.request_timeout)
        response = self._client.call_api(*request, _request_timeout=timeout)
        data = response.read()
        if not 200 <= response.status <= 299:
            ApiException.from_response(http_resp=response, body=data.decode("utf-8", "replace"), data=None)
        if text:
            return bytes(data).decode("utf-8", "replace")
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise self._not_an_api(path, response.headers.get("Content-Type") if response.headers else None,
                                   bytes(data)) from None

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
    ) -> ExecResult:
        """Run ``argv`` and collect stdout/stderr as bytes; ``timed_out`` instead of raising on timeout."""
        run = self.exec_stream(namespace, pod, container, argv, timeout=timeout, stdin=stdin)
        out, err = bytearray(), bytearray()
        for channel, data in run:
            (out if channel == 1 else err).extend(data)
        return ExecResult(argv=list(argv), stdout=bytes(out), stderr=bytes(err), exit_code=run.exit_code,
                          timed_out=run.timed_out)

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
        self._done = False
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

    def _drain(self) -> Iterator[tuple[int, bytes]]:
        for channel in (1, 2):
            data = self._ws.read_channel(channel)
            if data:
                yield channel, bytes(data)

    def _run(self, stdin: bytes | None) -> Generator[tuple[int, bytes], None, None]:
        ws = self._ws
        try:
            if stdin is not None:
                for i in range(0, len(stdin), 32 * 1024):
                    ws.write_stdin(stdin[i:i + 32 * 1024])
                ws.close_channel(0)  # v5: EOF on stdin; a no-op on v4
            while ws.is_open():
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    self.timed_out = True
                    break
                ws.update(timeout=min(remaining, 0.5))
                yield from self._drain()
            if not self.timed_out:
                yield from self._drain()
                self.exit_code = self._exit_code(ws.read_channel(3))
        except (WebSocketException, OSError) as exc:
            raise ExecError(f"the exec connection to {self.where} broke while `{' '.join(self.argv)}` ran "
                            f"({type(exc).__name__})", hint="retry; check the node and API server") from exc
        finally:
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


def kube_contexts(kubeconfig: str | Path | None = None) -> tuple[list[str], str | None]:
    """Context names in a kubeconfig and the active one, as the client reads them; ``([], None)`` when unusable."""
    try:
        contexts, active = kconfig.list_kube_config_contexts(config_file=str(kubeconfig) if kubeconfig else None)
    except (ConfigException, OSError, TypeError, ValueError):
        return [], None
    names = sorted(c["name"] for c in contexts or [] if c.get("name"))
    return names, (active or {}).get("name")
