"""A real Kubernetes control plane on loopback: etcd and kube-apiserver (and, when built, the
kube-controller-manager and kube-scheduler) from ``scripts/build_k8s.sh``'s cache.

Nothing here imitates a server: the binaries are the ones ``k8s.io/kubernetes`` and
``go.etcd.io/etcd`` publish, built at the versions pinned in ``scripts/k8s-versions.env``.
What the fixture does itself, and says so:

- TLS with a CA made by ``openssl`` for the run; a static token file with three users:
  ``lab-admin`` (``system:masters``, the runbook's user), ``lab-reader`` (a ClusterRole
  with only get/list/watch, bound to it) and ``fixture`` (``system:masters``, used to
  seed and inspect so the runbook's own requests can be counted apart);
- an audit log (level Metadata) from which ``requests()`` reads what each user asked;
- the CRDs of ``tests/fixtures/crds`` installed, and the demo snapshot's objects posted;
- the status a kubelet or Multus would write is written by the tests through the
  ``/status`` subresource (there is no kubelet here): a pod never runs a container.

``RealCluster`` is started once per session (``tests/conftest.py``: fixture
``real_cluster``) and stopped at the end: processes killed and waited for, the
temp dir removed, no port left listening. ``RealApi`` gives a test the same
surface as the stand-in ``FakeApiServer`` (``add``, ``get_object``, ``remove``,
``requests`` ...), backed by the real server, so one test can run against both.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from spkrunbook.cluster.base import RESOURCES, Obj, Resource
from spkrunbook.cluster.live import LiveTarget
from spkrunbook.errors import ClusterError, Conflict, ResourceMissing

from .apiserver import RequestRecord
from .paths import ROOT

VERSIONS_FILE = ROOT / "scripts" / "k8s-versions.env"
CRD_DIR = ROOT / "tests" / "fixtures" / "crds"
ADMIN, READER, FIXTURE = "lab-admin", "lab-reader", "fixture"
_METHOD = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE",
           "get": "GET", "list": "GET", "watch": "GET"}
_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")


class NotBuilt(Exception):
    """The binaries are not in the cache: the message says why and what to run."""


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def cache_dir() -> Path:
    if os.environ.get("SPKRUNBOOK_K8S_CACHE"):
        return Path(os.environ["SPKRUNBOOK_K8S_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spkrunbook-k8s"


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    apiserver: Path
    controller_manager: Path | None
    scheduler: Path | None
    helm3: Path | None
    helm4: Path | None
    kubernetes_version: str
    kubelet: Path | None = None  # the data plane tier's (tests/support/dataplane.py)
    kubectl: Path | None = None


def _proxy_reason() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        return "there is no Go toolchain on this machine"
    try:
        proxy = subprocess.run([go, "env", "GOPROXY"], capture_output=True, text=True, timeout=20).stdout.split(",")[0].strip()
        urllib.request.urlopen(f"{proxy}/k8s.io/kubernetes/@v/{versions()['KUBERNETES_VERSION']}.info", timeout=5).close()
    except Exception as exc:
        return f"the Go module proxy cannot be reached ({type(exc).__name__})"
    return "they were not built yet"


def binaries() -> Binaries:
    """The cached binaries, or ``NotBuilt`` naming why (no Go, proxy unreachable, not built yet)."""
    v = versions()
    cache = cache_dir()
    kdir = cache / f"kubernetes-{v['KUBERNETES_VERSION']}"
    etcd, api = kdir / "etcd", kdir / "kube-apiserver"
    if not (etcd.is_file() and api.is_file()):
        raise NotBuilt(f"etcd and kube-apiserver {v['KUBERNETES_VERSION']} are not in {kdir}: {_proxy_reason()}; "
                       "run scripts/build_k8s.sh (scripts/bootstrap.sh test runs it)")

    def opt(p: Path) -> Path | None:
        return p if p.is_file() else None

    return Binaries(etcd, api, opt(kdir / "kube-controller-manager"), opt(kdir / "kube-scheduler"),
                    opt(cache / f"helm-{v['HELM_V3_VERSION']}" / "helm"), opt(cache / f"helm-{v['HELM_V4_VERSION']}" / "helm"),
                    v["KUBERNETES_VERSION"], opt(kdir / "kubelet"), opt(kdir / "kubectl"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def load_yaml_docs(path: Path) -> list[Obj]:
    y = YAML(typ="safe")
    return [d for d in y.load_all(path.read_text()) if d]


def clean(obj: Obj) -> Obj:
    """A copy without the fields a server sets (uid, resourceVersion, ...), ready to post."""
    obj = copy.deepcopy(obj)
    md = obj.setdefault("metadata", {})
    for k in _SERVER_FIELDS:
        md.pop(k, None)
    return obj


class RealCluster:
    """etcd + kube-apiserver (+ controller-manager and scheduler with ``controllers=True``) in a temp dir.

    A subclass can add token users (``USERS``: name -> group), apiserver flags (``apiserver_args``) and
    controllers (``CONTROLLERS``); the data plane tier's ``NodeCluster`` does (tests/support/dataplane.py).
    """

    USERS: dict[str, str] = {ADMIN: "system:masters", READER: "spkrunbook:readers", FIXTURE: "system:masters"}
    # No garbage collector: it would delete the seeded TMM pod, whose owner ReplicaSet only exists
    # in the snapshot it came from (RealApi.wipe deletes what the tests make, children included).
    CONTROLLERS: tuple[str, ...] = ("deployment-controller", "replicaset-controller")
    AUTHORIZATION_MODE = "RBAC"
    #: The names and addresses the API server's certificate is valid for.
    API_SANS: tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes.default.svc")

    def __init__(self, bins: Binaries, *, controllers: bool = True) -> None:
        self.bins = bins
        self.controllers = controllers and bins.controller_manager is not None and bins.scheduler is not None
        self.tmp = Path(tempfile.mkdtemp(prefix="spkrunbook-k8s-"))
        self.tokens = {u: base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=") for u in self.USERS}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.port = 0
        self.etcd_port = 0
        self.started_s = 0.0
        self._admin: LiveTarget | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> RealCluster:
        t0 = time.monotonic()
        try:
            self._pki()
            self._start_etcd()
            self._start_apiserver()
            self._wait_ready()
            self._rbac()
            self.install_crds()
            if self.controllers:
                self._start_controllers()
        except BaseException:
            self.stop()
            raise
        self.started_s = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        for name in reversed(list(self.procs)):
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for p in self.procs.values():
            for stream in (p.stdout, p.stderr):
                if stream is not None:
                    stream.close()
        self.procs.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> RealCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.tmp / "pki" / "ca.crt"

    def _run(self, argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True, timeout=60)

    def _pki(self) -> None:
        pki = self.tmp / "pki"
        pki.mkdir()
        ossl = "openssl"
        self._run([ossl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=spkrunbook-test-ca",
                   "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt")])
        (pki / "san.ext").write_text(f"subjectAltName={','.join(self.API_SANS)}\n"
                                     "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n")
        self._run([ossl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
                   "-keyout", str(pki / "apiserver.key"), "-out", str(pki / "apiserver.csr")])
        self._run([ossl, "x509", "-req", "-in", str(pki / "apiserver.csr"), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
                   "-CAcreateserial", "-days", "2", "-extfile", str(pki / "san.ext"), "-out", str(pki / "apiserver.crt")])
        self._run([ossl, "genrsa", "-out", str(pki / "sa.key"), "2048"])
        self._run([ossl, "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")])
        (pki / "tokens.csv").write_text("".join(f'{self.tokens[u]},{u},{u},"{self.USERS[u]}"\n' for u in self.tokens))
        (self.tmp / "audit-policy.yaml").write_text(json.dumps({
            "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
            "rules": [{"level": "Metadata", "users": [ADMIN, READER, FIXTURE]}, {"level": "None"}]}))

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    def log(self, name: str) -> str:
        p = self.tmp / f"{name}.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    def _start_etcd(self) -> None:
        self.etcd_port, peer = free_port(), free_port()
        self._spawn("etcd", [
            str(self.bins.etcd), "--data-dir", str(self.tmp / "etcd"), "--name", "default",
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}", "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer}", "--unsafe-no-fsync", "--log-level", "warn"])
        self._wait(lambda: port_open(self.etcd_port), "etcd", 30)

    def _start_apiserver(self) -> None:
        pki = self.tmp / "pki"
        self.port = free_port()
        self._spawn("kube-apiserver", [
            str(self.bins.apiserver), "--etcd-servers", f"http://127.0.0.1:{self.etcd_port}",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", str(self.port),
            "--tls-cert-file", str(pki / "apiserver.crt"), "--tls-private-key-file", str(pki / "apiserver.key"),
            "--client-ca-file", str(pki / "ca.crt"), "--token-auth-file", str(pki / "tokens.csv"),
            "--authorization-mode", self.AUTHORIZATION_MODE, "--anonymous-auth=false",
            "--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"), "--service-cluster-ip-range", "10.96.0.0/24",
            "--allow-privileged=true", "--disable-admission-plugins", "ServiceAccount", "--profiling=false",
            "--audit-log-path", str(self.tmp / "audit.log"), "--audit-policy-file", str(self.tmp / "audit-policy.yaml"),
            "--audit-log-mode", "blocking", "--audit-log-format", "json", "--cert-dir", str(pki), *self.apiserver_args()])

    def apiserver_args(self) -> list[str]:
        """Flags a subclass adds (none of the ones above: list flags would append, not replace)."""
        return []

    def _wait(self, ok: Any, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.procs.get(name)
            if p is not None and p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.log(name)}")
            if ok():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} not ready after {timeout:g}s:\n{self.log(name)}")

    def _readyz(self) -> bool:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        req = urllib.request.Request(f"{self.url}/readyz", headers={"Authorization": f"Bearer {self.tokens[FIXTURE]}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def _wait_ready(self) -> None:
        self._wait(self._readyz, "kube-apiserver", 90)

    def _start_controllers(self) -> None:
        kc = str(self.kubeconfig(FIXTURE))
        self._spawn("kube-controller-manager", [
            str(self.bins.controller_manager), "--kubeconfig", kc, "--leader-elect=false", "--secure-port=0",
            "--controllers", ",".join(self.CONTROLLERS),
            "--use-service-account-credentials=false"])
        self._spawn("kube-scheduler", [str(self.bins.scheduler), "--kubeconfig", kc, "--leader-elect=false",
                                       "--secure-port=0"])
        time.sleep(1.0)  # neither serves a health endpoint here (--secure-port=0): a bad flag shows as an early exit
        for name in ("kube-controller-manager", "kube-scheduler"):
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{self.log(name)}")

    # -- clients ------------------------------------------------------------------------------------
    def kubeconfig(self, user: str = ADMIN, path: Path | None = None, *, context: str = "real-lab",
                   namespace: str = "default") -> Path:
        """A kubeconfig for ``user`` (TLS verified against the run's CA, bearer token)."""
        path = path or self.tmp / f"kubeconfig-{user}"
        cfg = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "real", "cluster": {"server": self.url,
                                                       "certificate-authority-data": base64.b64encode(self.ca_file.read_bytes()).decode()}}],
            "users": [{"name": user, "user": {"token": self.tokens[user]}}],
            "contexts": [{"name": context, "context": {"cluster": "real", "user": user, "namespace": namespace}}],
            "current-context": context,
        }
        path.write_text(json.dumps(cfg, indent=2))
        return path

    @property
    def admin(self) -> LiveTarget:
        """The fixture's own client (user ``fixture``: its requests are not counted as the runbook's)."""
        if self._admin is None:
            self._admin = LiveTarget.from_kubeconfig(self.kubeconfig(FIXTURE), retries=2)
        return self._admin

    def kubectl(self, *args: str, user: str = FIXTURE, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        kubectl = str(self.bins.kubectl) if self.bins.kubectl else shutil.which("kubectl") or "/usr/bin/kubectl"
        return subprocess.run([kubectl, "--kubeconfig", str(self.kubeconfig(user)), *args], input=input, text=True,
                              capture_output=True, timeout=60, check=check)

    # -- what the fixture installs ------------------------------------------------------------------
    def _rbac(self) -> None:
        a = self.admin
        a.create(_EXTRA[("rbac.authorization.k8s.io/v1", "ClusterRole")], {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                  "metadata": {"name": "spkrunbook-read-only"},
                                  "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                                            {"nonResourceURLs": ["*"], "verbs": ["get"]}]})
        a.create(_EXTRA[("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")], {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                                         "metadata": {"name": "spkrunbook-read-only"},
                                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                     "name": "spkrunbook-read-only"},
                                         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": READER}]})

    def crd_files(self) -> list[Path]:
        return sorted(CRD_DIR.glob("*.yaml"))

    def install_crds(self) -> None:
        crds = []
        for f in self.crd_files():
            for doc in load_yaml_docs(f):
                self.put(doc)
                crds.append(doc)
        for crd in crds:
            self.admin.wait_for("customresourcedefinitions", crd["metadata"]["name"], None, _established, timeout=30)
        # Established is not yet served: right after it, a list may answer 429 "storage is
        # (re)initializing" (seen here). Wait until each served version lists.
        deadline = time.monotonic() + 30
        for crd in crds:
            spec = crd["spec"]
            for v in spec["versions"]:
                if not v.get("served") or ((spec.get("conversion") or {}).get("strategy") == "Webhook" and not v.get("storage")):
                    continue
                res = Resource(spec["group"], v["name"], spec["names"]["plural"], spec["scope"] == "Namespaced", spec["names"]["kind"])
                while True:
                    try:
                        self.admin.list(res)
                        break
                    except ClusterError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.2)

    def put(self, obj: Obj) -> Obj:
        """Create or replace ``obj`` as the fixture user; its ``status`` written through ``/status`` too."""
        res = resource_for(obj)
        body = clean(obj)
        ns = body["metadata"].get("namespace") if res.namespaced else None
        if res.namespaced:
            ns = ns or "default"
            body["metadata"]["namespace"] = ns
            self.ensure_namespace(ns)
        else:
            body["metadata"].pop("namespace", None)
        a = self.admin
        try:
            out = a.create(res, body, ns)
        except Conflict:
            cur = a.get(res, body["metadata"]["name"], ns)
            body["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            out = a.replace(res, body, ns)
        if obj.get("status") and res.plural != "customresourcedefinitions" and out.get("status") != obj["status"]:
            st = copy.deepcopy(out)
            st["status"] = copy.deepcopy(obj["status"])
            try:
                out = a._request("PUT", a.path(res, body["metadata"]["name"], ns, "status"), body=st, res=res,
                                 name=body["metadata"]["name"], namespace=ns, verb="update")
            except ResourceMissing:
                pass  # no status subresource: the status went in with the object
        if res.plural == "nodes":
            out = self._untaint_ready_node(out)
        return out

    def _untaint_ready_node(self, node: Obj) -> Obj:
        """The real server's TaintNodesByCondition admission taints every new node ``not-ready``; the node
        lifecycle controller lifts it once the kubelet reports Ready. There is no kubelet (and that controller
        would then mark the node unreachable), so for a node whose status says Ready the fixture lifts it."""
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or [])
        taints = (node.get("spec") or {}).get("taints") or []
        keep = [t for t in taints if t.get("key") != "node.kubernetes.io/not-ready"]
        if not ready or keep == taints:
            return node
        return self.admin.patch("nodes", node["metadata"]["name"], {"spec": {"taints": keep or None}})

    def ensure_namespace(self, ns: str) -> None:
        if ns in ("default", "kube-system", "kube-public"):
            return
        try:
            self.admin.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        except Conflict:
            pass

    def seed(self, objects: Iterable[Obj]) -> int:
        """Post objects (CRD stubs skipped: the real CRDs are installed; pods skipped: no kubelet runs them)."""
        n, bad = 0, []
        for obj in objects:
            kind = obj.get("kind")
            if kind in ("CustomResourceDefinition", "Pod"):
                continue
            try:
                self.put(obj)
            except ClusterError as exc:
                bad.append(f"{kind} {obj['metadata'].get('name')}: {exc.message}")
                continue
            n += 1
        if bad:
            raise ClusterError("the real API server rejected seed objects:\n" + "\n".join(bad))
        return n

    def seed_from_snapshot(self, path: str | Path) -> int:
        from spkrunbook.cluster.snapshot import SnapshotTarget

        snap = SnapshotTarget(path)
        objs = []
        for res in RESOURCES.values():
            if res.plural in ("customresourcedefinitions", "pods", "events") or (res.plural == "nodenetworkstates" and res.version == "v1"):
                continue
            for obj in snap.list(res):
                obj.setdefault("apiVersion", res.api_version)
                obj.setdefault("kind", res.kind)
                objs.append(obj)
        return self.seed(objs)

    # -- what the server saw ------------------------------------------------------------------------
    def audit(self) -> list[dict[str, Any]]:
        p = self.tmp / "audit.log"
        if not p.exists():
            return []
        out = []
        for line in p.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line still being written
        return out

    def requests(self, user: str = ADMIN, since: int = 0) -> list[RequestRecord]:
        """The requests ``user`` made (from the audit log), as the stand-in's ``RequestRecord``s."""
        from urllib.parse import parse_qs, urlsplit

        time.sleep(0.05)  # the ResponseComplete event is written just after the response
        out = []
        for ev in self.audit()[since:]:
            if (ev.get("user") or {}).get("username") != user:
                continue
            u = urlsplit(ev.get("requestURI", ""))
            out.append(RequestRecord(_METHOD.get(ev.get("verb", ""), ev.get("verb", "").upper()), u.path.rstrip("/") or "/",
                                     parse_qs(u.query, keep_blank_values=True)))
        return out

    def audit_mark(self) -> int:
        time.sleep(0.05)
        return len(self.audit())


def _established(crd: Obj) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in (crd.get("status") or {}).get("conditions") or [])


_EXTRA = {
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): Resource("rbac.authorization.k8s.io", "v1", "clusterroles", False, "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False, "ClusterRoleBinding"),
    ("v1", "Secret"): Resource("", "v1", "secrets", True, "Secret"),
    ("v1", "ServiceAccount"): Resource("", "v1", "serviceaccounts", True, "ServiceAccount"),
}


def resource_for(obj: Obj) -> Resource:
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    if key in _EXTRA:
        return _EXTRA[key]
    for r in RESOURCES.values():
        if (r.api_version, r.kind) == key and not (r.plural == "nodenetworkstates" and r.version == "v1"):
            return r
    raise KeyError(f"no resource for {key}")


class RealApi:
    """The stand-in ``FakeApiServer``'s surface over a ``RealCluster``, so a test can run against both.

    ``requests`` are the runbook user's (``lab-admin``) requests since this object was made or
    ``reset_requests()``, read from the audit log.
    """

    kind = "real"

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster
        self.token = cluster.tokens[ADMIN]
        self._mark = cluster.audit_mark()
        self._touched: set[tuple[Resource, str]] = set()  # cluster-scoped objects a test changed: restored after it

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def requests(self) -> list[RequestRecord]:
        return self.cluster.requests(ADMIN, self._mark)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def reset_requests(self) -> None:
        self._mark = self.cluster.audit_mark()

    def write_kubeconfig(self, path: str | Path, *, token: str | None = None, context: str = "real-lab",
                         user: str = ADMIN, namespace: str = "default") -> Path:
        assert token is None or token == self.token, "the real server knows only its own tokens"
        return self.cluster.kubeconfig(user, Path(path), context=context, namespace=namespace)

    def add(self, obj: Obj, res: Any = None) -> Obj:
        if obj.get("kind") == "CustomResourceDefinition":
            return obj  # the real CRDs are installed already
        r = resource_for(obj)
        if not r.namespaced and r.plural != "namespaces":
            self._touched.add((r, obj["metadata"]["name"]))
        return self.cluster.put(obj)

    def add_many(self, objs: Iterable[Obj]) -> int:
        n = 0
        for obj in objs:
            self.add(obj)
            n += 1
        return n

    def restore(self) -> None:
        """Put back the demo snapshot's version of every cluster-scoped object this test changed."""
        if not self._touched:
            return
        from spkrunbook.cluster.snapshot import SnapshotTarget

        from .paths import DEMO_DIR

        snap = SnapshotTarget(DEMO_DIR / "snapshot")
        for res, name in sorted(self._touched, key=lambda t: (t[0].plural, t[1])):
            try:
                original = snap.get(res, name)
            except ClusterError:
                self.remove(res, name)
                continue
            original.setdefault("apiVersion", res.api_version)
            original.setdefault("kind", res.kind)
            self.cluster.put(original)
        self._touched.clear()

    def seed_from_snapshot(self, path: str | Path) -> int:
        return self.cluster.seed_from_snapshot(path)

    def get_object(self, res: str | Resource, name: str, namespace: str | None = None) -> Any:
        """The object as the real server holds it, or None when there is none (the stand-in's surface)."""
        try:
            return self.cluster.admin.get(res, name, namespace)
        except ResourceMissing:
            return None

    def remove(self, res: str | Resource, name: str, namespace: str | None = None) -> bool:
        try:
            self.cluster.admin.delete(res, name, namespace)
            return True
        except ResourceMissing:
            return False

    def objects(self, res: str | Resource, namespace: str | None = None) -> list[Obj]:
        return self.cluster.admin.list(res, namespace)

    def wipe(self, plurals: Iterable[str] = ("network-attachment-definitions", "f5-spk-vlans", "f5-spk-staticroutes",
                                            "deployments", "replicasets", "pods")) -> None:
        """Delete what earlier tests wrote in any namespace (the session's cluster is shared)."""
        a = self.cluster.admin
        for plural in plurals:
            for obj in a.list(plural):
                md = obj["metadata"]
                try:
                    a.delete(plural, md["name"], md.get("namespace"), grace_period=0, missing_ok=True)
                except ClusterError:
                    pass
