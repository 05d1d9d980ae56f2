"""A real single-node data plane on this machine, registered with a real control plane (marker ``dataplane``).

What runs, all real: ``containerd`` and ``runc`` (Debian packages), the ``kubelet`` built by
``scripts/build_k8s.sh`` from the same pinned ``k8s.io/kubernetes`` as the API server, the CNI plugins
``bridge``, ``host-local`` and ``macvlan`` (Debian ``containernetworking-plugins``), called by
``nad-delegate`` (``tests/dataplane/cni/nad_delegate.py``), a small meta-plugin that follows the
Network Plumbing WG's NetworkAttachmentDefinition standard (not Multus: no registry serves Multus).
The images come from ``scripts/build_dataplane_images.py`` (no registry).

What the fixture sets up on the machine, and removes again (``DataPlane.stop``, an exit path that runs
on failure too; ``leftovers()`` then says what, if anything, is still there):

- two network namespaces that play the lab's internal and external networks, each holding one end of
  a veth pair whose other end, in the host, is the macvlan master (``ens224``, ``ens256``, promiscuous
  as F5's guide asks), with an address on each lab network (the peer the TMM stand-in answers);
- ``/proc/sys/vm/nr_hugepages`` raised to what the TMM pod asks for, and the v1 ``hugetlb`` cgroup
  hierarchy mounted when it is not (before the kubelet starts, so hugepage limits apply);
- containerd with its own config, root, state and socket in a temp dir (``restrict_oom_score_adj``:
  root here lacks CAP_SYS_RESOURCE) and the images imported;
- the cluster network's bridge ``cni0`` with the node's address (``NODE_IP``, the pods' gateway): the
  kubelet serves there and nowhere else (not on 127.0.0.1: the API server's node proxy refuses loopback);
- the kubelet (root dir in the temp dir) with the static CPU manager (one CPU reserved for the system,
  so a Guaranteed 1-CPU container gets the other one to itself), the topology manager off, and a node
  client certificate (``system:node:<name>``, for the Node authorizer).

Not real, and named so: ``report_network_state`` writes the node's ``NodeNetworkState`` the way the
kubernetes-nmstate handler would (no NMState runs here), from this machine's kernel (``/sys/class/net``:
state, MTU, MAC, the IFF_PROMISC bit as ``accept-all-mac-addresses``, bridge ports).

Paths the kubelet and containerd use whatever they are told (``/var/lib/kubelet/device-plugins``,
``/var/log/containers``, ``/run/containerd``, ``/run/netns``, the ``kubepods`` cgroups) allow one data
plane per machine: ``DataPlane`` takes a lock (``dataplane.lock`` in the build cache) for its lifetime,
and the tier's tests run in one process, one after the other.

``NodeCluster`` is the real control plane of ``tests/support/realcluster.py`` with what a node needs
besides: ``Node,RBAC`` authorization and ``NodeRestriction``, the API server's kubelet client
certificate (exec, logs and the node proxy), ``--kubelet-preferred-address-types InternalIP``,
the node-lifecycle and garbage-collector controllers, and a user for the meta-plugin.
"""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import importlib.util
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spkrunbook.cluster.base import Obj
from spkrunbook.errors import ClusterError

from .paths import DEMO_DIR, ROOT
from .realcluster import Binaries, RealCluster, cache_dir, free_port

META_PLUGIN = ROOT / "tests" / "dataplane" / "cni" / "nad_delegate.py"
IMAGE_BUILDER = ROOT / "scripts" / "build_dataplane_images.py"
CNI_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "macvlan", "loopback")
CNI_USER = "nad-delegate"
#: A user who may read what the runbook reads but not exec into pods. (``lab-reader``'s get on every
#: resource includes ``pods/exec``, and Kubernetes 1.34 authorizes a websocket exec as ``get pods/exec``.)
NO_EXEC = "lab-no-exec"
CLUSTER_CIDR = "10.217.64.0/24"  # the pods' cluster network, on the bridge below
BRIDGE = "cni0"  # the seed's `tcpdump -i cni0` interface
#: The node's address: the cluster network's gateway on the bridge. The kubelet serves there, not on 127.0.0.1:
#: the API server's node proxy (``/api/v1/nodes/<n>/proxy/configz``) refuses loopback addresses.
NODE_IP = str(ipaddress.ip_network(CLUSTER_CIDR).network_address + 1)
#: Paths outside the temp dir that the kubelet, containerd or the CNI plugins create whatever they are told.
FIXED_PATHS = ("/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/var/log/containers", "/run/containerd",
               "/run/netns", "/etc/cni", "/opt/cni", "/var/lib/containerd", "/etc/kubernetes")
#: The nat chain of ``DataPlane.expose``: loopback listeners of this machine made reachable from the pods.
EXPOSE_CHAIN = "SPKRB-EXPOSE"
CGROUP_ROOT = Path("/sys/fs/cgroup")
HUGETLB = CGROUP_ROOT / "hugetlb"
NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")


class Unavailable(Exception):
    """This machine cannot run the data plane; the message says why (the tests skip, or fail under CI)."""


def run(argv: list[str], *, check: bool = True, timeout: float = 60, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, capture_output=True, timeout=timeout, check=check, input=input)


def sh_ok(argv: list[str]) -> bool:
    try:
        return run(argv, check=False, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# -- the control plane a node needs ----------------------------------------------------------------------------
class NodeCluster(RealCluster):
    """``RealCluster`` ready for a kubelet: node authorization, the kubelet client, the node controllers."""

    USERS = {**RealCluster.USERS, CNI_USER: "spkrunbook:cni", NO_EXEC: "spkrunbook:no-exec"}
    CONTROLLERS = ("deployment-controller", "replicaset-controller", "node-lifecycle-controller",
                   "garbage-collector-controller", "namespace-controller", "job-controller")
    AUTHORIZATION_MODE = "Node,RBAC"
    #: Pods reach the API server at the node's address (``DataPlane.expose``): its certificate names that too.
    API_SANS = (*RealCluster.API_SANS, f"IP:{NODE_IP}")

    def _pki(self) -> None:
        super()._pki()
        pki = self.tmp / "pki"
        sign_cert(pki, "kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", client=True)

    def apiserver_args(self) -> list[str]:
        pki = self.tmp / "pki"
        return ["--kubelet-client-certificate", str(pki / "kubelet-client.crt"),
                "--kubelet-client-key", str(pki / "kubelet-client.key"),
                "--kubelet-certificate-authority", str(pki / "ca.crt"),
                "--kubelet-preferred-address-types", "InternalIP",
                "--enable-admission-plugins", "NodeRestriction"]

    def _rbac(self) -> None:
        super()._rbac()
        from .realcluster import _EXTRA

        a = self.admin
        a.create(_EXTRA[("rbac.authorization.k8s.io/v1", "ClusterRole")], {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "nad-delegate"},
            # what Multus's own ClusterRole grants for this: read pods and NADs, write the network-status annotation
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"]},
                      {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"], "verbs": ["get"]}]})
        a.create(_EXTRA[("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")], {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "nad-delegate"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "nad-delegate"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": CNI_USER}]})
        a.create(_EXTRA[("rbac.authorization.k8s.io/v1", "ClusterRole")], {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "spkrunbook-no-exec"},
            "rules": [{"apiGroups": ["*"], "verbs": ["get", "list", "watch"],
                       "resources": ["pods", "pods/log", "events", "nodes", "namespaces", "network-attachment-definitions",
                                     "f5-spk-vlans", "f5-spk-staticroutes", "customresourcedefinitions",
                                     "adminpolicybasedexternalroutes", "deployments", "replicasets", "clusterversions",
                                     "infrastructures", "networks", "kubeletconfigs", "machineconfigpools",
                                     "performanceprofiles", "nodenetworkstates"]}]})
        a.create(_EXTRA[("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")], {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "spkrunbook-no-exec"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "spkrunbook-no-exec"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": NO_EXEC}]})

    def seed_openshift(self) -> int:
        """The demo snapshot's cluster-wide OpenShift objects (version, network, platform); no nodes, no
        KubeletConfig or MachineConfigPool (no Machine Config Operator manages this node), no NADs or VLANs."""
        from spkrunbook.cluster.base import RESOURCES
        from spkrunbook.cluster.snapshot import SnapshotTarget

        snap = SnapshotTarget(DEMO_DIR / "snapshot")
        objs = []
        for key in ("clusterversions", "infrastructures", "networks.config", "networks.operator"):
            res = RESOURCES[key]
            for obj in snap.list(res):
                obj.setdefault("apiVersion", res.api_version)
                obj.setdefault("kind", res.kind)
                objs.append(obj)
        return self.seed(objs)


def sign_cert(pki: Path, name: str, subject: str, *, client: bool = False, sans: str = "") -> tuple[Path, Path]:
    """A key and a certificate signed by the run's CA (``pki/ca.key``)."""
    key, csr, crt, ext = (pki / f"{name}.{s}" for s in ("key", "csr", "crt", "ext"))
    usage = "clientAuth" if client else "serverAuth"
    ext.write_text(f"extendedKeyUsage={usage}\nkeyUsage=digitalSignature,keyEncipherment\n" + (f"subjectAltName={sans}\n" if sans else ""))
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr)])
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
         "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt)])
    return key, crt


# -- what the machine must offer ---------------------------------------------------------------------------------
def images_dir() -> Path | None:
    """The images' folder ``scripts/build_dataplane_images.py`` made for the current sources, if any."""
    spec = importlib.util.spec_from_file_location("build_dataplane_images", IMAGE_BUILDER)
    assert spec is not None and spec.loader is not None
    mod = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = mod  # dataclasses look their module up there
        spec.loader.exec_module(mod)
    d = cache_dir() / f"dataplane-images-{mod.cache_key()}"
    return d if (d / "images.json").is_file() else None


def _mounted_cgroups() -> set[str]:
    out: set[str] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        _, _, post = line.partition(" - ")
        fields = post.split()
        if fields and fields[0] == "cgroup":
            out.update(o for o in fields[2].split(",") if o in ("cpu", "cpuacct", "cpuset", "memory", "pids", "hugetlb", "devices", "freezer"))
    return out


def node_name() -> str:
    """The node's name: the machine's, when it is a valid node name (DNS-1123 subdomain), else ``dataplane-node``."""
    name = socket.gethostname().lower()
    return name if re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name) else "dataplane-node"


def requirements(bins: Binaries) -> list[str]:
    """Why this machine cannot run the data plane (empty: it can)."""
    why = []
    if os.geteuid() != 0:
        why.append("it runs as root (containerd, the kubelet, network namespaces, cgroups)")
    if bins.kubelet is None:
        why.append(f"the kubelet {bins.kubernetes_version} is not built (run scripts/build_k8s.sh)")
    for tool in ("containerd", "runc", "ctr", "ip", "openssl"):
        if shutil.which(tool) is None:
            why.append(f"`{tool}` is not installed (scripts/bootstrap.sh test installs it)")
    for p in CNI_PLUGINS:
        if not (CNI_DIR / p).is_file():
            why.append(f"the CNI plugin {CNI_DIR / p} is missing (Debian containernetworking-plugins)")
    if images_dir() is None:
        why.append("the data plane images are not built (run scripts/build_dataplane_images.py)")
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        why.append("this tier is written for cgroup v1 hierarchies (found the unified cgroup v2 at /sys/fs/cgroup)")
    else:
        missing = {"cpu", "cpuacct", "cpuset", "memory", "pids"} - _mounted_cgroups()
        if missing:
            why.append(f"cgroup v1 hierarchies not mounted: {', '.join(sorted(missing))}")
        if "hugetlb" not in Path("/proc/cgroups").read_text():
            why.append("the kernel has no hugetlb cgroup controller")
    if (os.cpu_count() or 1) < 2:
        why.append("the static CPU manager needs 2 CPUs (one reserved for the system, one for TMM)")
    if not os.access(NR_HUGEPAGES, os.W_OK):
        why.append(f"{NR_HUGEPAGES} is not writable")
    return why


# -- the data plane -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Master:
    """A macvlan master on the node: ``name`` in the host, its veth peer ``lab0`` in ``netns`` at ``peer``."""

    name: str
    netns: str
    peer: str  # address/prefix of the lab network's host that talks to TMM


@dataclass
class Before:
    """What the machine had before the data plane started (so stop removes only what it added)."""

    paths: set[str]
    links: set[str]
    netns: set[str]
    mounts: set[str]
    nr_hugepages: int
    hugetlb_mounted: bool
    iptables: set[str]


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _links() -> set[str]:
    return {p.name for p in Path("/sys/class/net").iterdir()}


def _netns() -> set[str]:
    p = Path("/run/netns")
    return {n.name for n in p.iterdir()} if p.is_dir() else set()


def _pids_with(text: str, *, exclude: str) -> list[int]:
    """Processes whose command line names ``text`` (and not ``exclude``)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and exclude not in cmd:
            out.append(int(proc.name))
    return out


def _pids_named(name: str) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == name:
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def _mountpoints() -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        out.append(line.split()[4].replace("\\040", " "))
    return out


def _iptables_chains() -> set[str]:
    out: set[str] = set()
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("mangle", "nat", "filter"):
            done = subprocess.run([tool, "-w", "5", "-t", table, "-S"], capture_output=True, text=True, timeout=30, check=False)
            out.update(f"{tool}/{table}/{ln.split()[1]}" for ln in done.stdout.splitlines() if ln.startswith("-N "))
    return out


def _remove_kube_chains(chains: set[str]) -> None:
    """Each ``tool/table/KUBE-*`` chain of ``chains``, with the rules that jump to it."""
    for entry in sorted(chains):
        tool, table, chain = entry.split("/")
        if not chain.startswith("KUBE-"):
            continue
        rules = subprocess.run([tool, "-w", "5", "-t", table, "-S"], capture_output=True, text=True, timeout=30,
                               check=False).stdout.splitlines()
        for rule in rules:
            words = shlex.split(rule)
            if words[:1] == ["-A"] and words[-2:] == ["-j", chain]:
                run([tool, "-w", "5", "-t", table, "-D", *words[1:]], check=False)
        run([tool, "-w", "5", "-t", table, "-F", chain], check=False)
        run([tool, "-w", "5", "-t", table, "-X", chain], check=False)


def _kubepods_cgroups() -> list[Path]:
    """Every ``kubepods`` cgroup under each v1 hierarchy, deepest first."""
    out: list[Path] = []
    for h in CGROUP_ROOT.iterdir():
        k = h / "kubepods"
        if k.is_dir():
            out += sorted((p for p in k.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            out.append(k)
    return out


@dataclass
class DataPlane:
    """containerd + the kubelet registered with ``cluster`` as node ``name``; ``start()`` / ``stop()``."""

    cluster: NodeCluster
    bins: Binaries
    images: Path
    masters: tuple[Master, ...]
    hugepages_2mi: int = 800
    cpu_manager_policy: str = "static"
    name: str = field(default_factory=node_name)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spkrb-node-")))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    before: Before | None = None
    started_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    reclaimed: list[str] = field(default_factory=list)  # what a data plane that died had left, removed at start
    _lock: Any = None
    _kubelet_port: int = 0

    # -- paths --------------------------------------------------------------------------------------------
    @property
    def sock(self) -> Path:
        return self.tmp / "containerd.sock"

    @property
    def image_names(self) -> dict[str, str]:
        names: dict[str, str] = json.loads((self.images / "images.json").read_text())
        return names

    def log(self, name: str, tail: int = 4000) -> str:
        p = self.tmp / f"{name}.log"
        return p.read_text(errors="replace")[-tail:] if p.exists() else ""

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        return run(["ctr", "-a", str(self.sock), "-n", "k8s.io", *args], check=check, timeout=timeout)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def start(self) -> DataPlane:
        t0 = time.monotonic()
        if not self.tmp.exists():  # started again after a stop: a fresh temp dir and state
            self.tmp = Path(tempfile.mkdtemp(prefix="spkrb-node-"))
            self.procs, self.problems, self._kubelet_port = {}, [], 0
        self._take_lock()
        self.reclaimed = self._reclaim()
        self.before = Before({p for p in FIXED_PATHS if os.path.lexists(p)}, _links(), _netns(), set(_mountpoints()),
                             int(NR_HUGEPAGES.read_text()), "hugetlb" in _mounted_cgroups(), _iptables_chains())
        try:
            clash = ({BRIDGE, *(m.name for m in self.masters)} & self.before.links) | \
                ({m.netns for m in self.masters} & self.before.netns)
            if clash:
                raise Unavailable(f"{', '.join(sorted(clash))} already exist on this machine (another data plane, or "
                                  "what a crashed run left: delete them by hand)")
            self._network()
            self._hugepages(self.hugepages_2mi)
            self._containerd()
            self._cni()
            self._kubelet_pki()
            self.start_kubelet()
            self.report_network_state()
        except BaseException:
            self.stop()
            raise
        self.started_s = time.monotonic() - t0
        return self

    def _reclaim(self) -> list[str]:
        """Remove what a data plane that died without its teardown left (a killed test run: its lab networks'
        namespaces, the bridge with the node's address, mounts and processes under an old ``spkrb-node-`` folder).
        Only with the lock held, so no live data plane owns them; only what carries our names or our address.
        Returns what it removed (the tier's first test prints it)."""
        done: list[str] = []
        tmp_root = str(Path(tempfile.gettempdir()) / "spkrb-node-")
        old_dirs = {str(d) for d in Path(tempfile.gettempdir()).glob("spkrb-node-*")} - {str(self.tmp)}
        for pid in _pids_with(tmp_root, exclude=str(self.tmp)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                done.append(f"process {pid}")
        for mount in sorted((m for m in _mountpoints() if m.startswith(tmp_root) and not m.startswith(str(self.tmp))),
                            key=len, reverse=True):
            run(["umount", "-l", mount], check=False)
            done.append(f"mount {mount}")
        for m in self.masters:
            if m.netns in _netns():
                run(["ip", "netns", "del", m.netns], check=False)
                done.append(f"netns {m.netns}")
            if m.name in _links():
                run(["ip", "link", "del", m.name], check=False)
                done.append(f"link {m.name}")
        if BRIDGE in _links() and f"inet {NODE_IP}/" in run(["ip", "-4", "addr", "show", BRIDGE], check=False).stdout.decode():
            run(["ip", "link", "del", BRIDGE], check=False)
            done.append(f"bridge {BRIDGE} ({NODE_IP})")
        if not _pids_named("kubelet"):  # a kubelet that died leaves its chains: nobody else makes them here
            chains = {c for c in _iptables_chains() if c.split("/")[2].startswith("KUBE-")}
            _remove_kube_chains(chains)
            done += [f"iptables chain {c}" for c in sorted(chains)]
        for d in sorted(old_dirs):
            shutil.rmtree(d, ignore_errors=True)
            done.append(f"folder {d}")
        return done

    def _take_lock(self) -> None:
        path = cache_dir() / "dataplane.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(path, "w")  # noqa: SIM115 - held for the data plane's lifetime, closed in stop()
        deadline = time.monotonic() + float(os.environ.get("SPKRUNBOOK_DATAPLANE_LOCK_WAIT", "1800"))
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock.close()
                    self._lock = None
                    raise Unavailable("another data plane holds this machine (dataplane.lock); one runs per machine") from None
                time.sleep(2)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it; closed when it ends
        try:
            self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                start_new_session=True)
        finally:
            log.close()

    def _wait(self, ok: Any, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.procs.get(name)
            if p is not None and p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.log(name)}")
            if ok():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {timeout:g}s:\n{self.log(name)}")

    # -- the lab networks ----------------------------------------------------------------------------------------
    def _network(self) -> None:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", f"{NODE_IP}/{ipaddress.ip_network(CLUSTER_CIDR).prefixlen}", "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])
        for m in self.masters:
            run(["ip", "netns", "add", m.netns])
            run(["ip", "link", "add", m.name, "type", "veth", "peer", "name", "lab0", "netns", m.netns])
            # promiscuous, as F5's guide asks of the masters (on a VM: its port group too)
            run(["ip", "link", "set", m.name, "up", "promisc", "on"])
            run(["ip", "-n", m.netns, "link", "set", "lo", "up"])
            run(["ip", "-n", m.netns, "link", "set", "lab0", "up"])
            run(["ip", "-n", m.netns, "addr", "add", m.peer, "dev", "lab0"])

    def in_lab(self, master: str, argv: list[str], *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` in the lab network behind ``master`` (its peer namespace)."""
        m = next(x for x in self.masters if x.name == master)
        return run(["ip", "netns", "exec", m.netns, *argv], timeout=timeout, check=check)

    def expose(self, port: int) -> str:
        """Make a listener on 127.0.0.1:``port`` of this machine (the API server, the S3 server) reachable from the
        pods at ``NODE_IP:port``, returning that address. What kube-proxy does for an endpoint on the host's
        loopback (no kube-proxy runs here): a DNAT rule for TCP that comes in on the cluster network's bridge, in
        a nat chain of its own (``SPKRB-EXPOSE``, jumped to from PREROUTING), and ``route_localnet`` on the bridge
        so the kernel routes the rewritten packets to 127.0.0.1. The kubelet's ``KUBE-FIREWALL`` still drops any
        packet to 127.0.0.0/8 that was not DNATed. The rules go with ``unexpose`` (``stop`` calls it)."""
        ipt = ["iptables", "-w", "5", "-t", "nat"]
        if run([*ipt, "-S", EXPOSE_CHAIN], check=False).returncode != 0:
            run([*ipt, "-N", EXPOSE_CHAIN])
            run([*ipt, "-A", "PREROUTING", "-i", BRIDGE, "-j", EXPOSE_CHAIN])
        Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").write_text("1\n")
        rule = ["-d", NODE_IP, "-p", "tcp", "--dport", str(port), "-j", "DNAT", "--to-destination", f"127.0.0.1:{port}"]
        if run([*ipt, "-C", EXPOSE_CHAIN, *rule], check=False).returncode != 0:
            run([*ipt, "-A", EXPOSE_CHAIN, *rule])
        return f"{NODE_IP}:{port}"

    def unexpose(self) -> None:
        """Remove what ``expose`` added (nothing when it was not called)."""
        ipt = ["iptables", "-w", "5", "-t", "nat"]
        if shutil.which("iptables") is None or run([*ipt, "-S", EXPOSE_CHAIN], check=False).returncode != 0:
            return
        while run([*ipt, "-D", "PREROUTING", "-i", BRIDGE, "-j", EXPOSE_CHAIN], check=False).returncode == 0:
            pass
        run([*ipt, "-F", EXPOSE_CHAIN], check=False)
        run([*ipt, "-X", EXPOSE_CHAIN], check=False)
        with contextlib.suppress(OSError):
            Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").write_text("0\n")

    def report_network_state(self) -> Obj:
        """The node's interfaces as the kubernetes-nmstate handler reports them (``NodeNetworkState``), read from
        this machine's kernel: a STAND-IN for that handler (no NMState operator runs here), with real data:
        ``accept-all-mac-addresses`` is the IFF_PROMISC bit of ``/sys/class/net/<if>/flags``, as nmstate reads it."""
        kinds = {"veth": "veth", "bridge": "linux-bridge", "macvlan": "mac-vlan"}
        interfaces = []
        for d in sorted(Path("/sys/class/net").iterdir()):
            flags = int((d / "flags").read_text(), 16)
            uevent = dict(ln.split("=", 1) for ln in (d / "uevent").read_text().splitlines() if "=" in ln)
            row: dict[str, Any] = {"name": d.name, "state": "up" if flags & 0x1 else "down", "mtu": int((d / "mtu").read_text()),
                                   "type": "loopback" if d.name == "lo" else kinds.get(uevent.get("DEVTYPE", ""), "ethernet"),
                                   "mac-address": (d / "address").read_text().strip().upper(),
                                   "accept-all-mac-addresses": bool(flags & 0x100)}
            if (d / "master").exists():
                row["controller"] = (d / "master").resolve().name
            interfaces.append(row)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self.cluster.put({"apiVersion": "nmstate.io/v1beta1", "kind": "NodeNetworkState",
                                 "metadata": {"name": self.name, "annotations": {
                                     "spkrunbook.test/stand-in": "written by the data plane tier from the node's kernel; no NMState runs"}},
                                 "status": {"currentState": {"interfaces": interfaces}, "lastSuccessfulUpdateTime": now}})

    # -- hugepages and cgroups ----------------------------------------------------------------------------------
    def _hugepages(self, pages: int) -> None:
        assert self.before is not None
        NR_HUGEPAGES.write_text(f"{max(pages, self.before.nr_hugepages)}\n")
        got = int(NR_HUGEPAGES.read_text())
        if got < pages:
            # A machine that has been busy holds its free memory in pieces: give the page cache back and
            # let the kernel compact, then ask again (what `sysctl vm.compact_memory=1` is for).
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            Path("/proc/sys/vm/compact_memory").write_text("1\n")
            NR_HUGEPAGES.write_text(f"{max(pages, self.before.nr_hugepages)}\n")
            got = int(NR_HUGEPAGES.read_text())
        if got < pages:
            raise Unavailable(f"asked the kernel for {pages} 2Mi hugepages, it gave {got} (memory too fragmented or too small)")
        if not self.before.hugetlb_mounted:
            HUGETLB.mkdir(exist_ok=True)
            run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(HUGETLB)])

    # -- containerd -------------------------------------------------------------------------------------------
    def _containerd(self) -> None:
        t = self.tmp
        (t / "cni" / "net.d").mkdir(parents=True)
        names = self.image_names
        cfg = f"""version = 2
root = "{t}/containerd/root"
state = "{t}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{t}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{names['pause']}"
  # root here lacks CAP_SYS_RESOURCE: without this every sandbox fails ("can't get final child's PID from pipe")
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{t}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{t}/cni/bin"
    conf_dir = "{t}/cni/net.d"
    max_conf_num = 1
"""
        (t / "containerd.toml").write_text(cfg)
        self._spawn("containerd", ["containerd", "--config", str(t / "containerd.toml"), "--log-level", "warn"])
        self._wait(lambda: self.sock.exists() and sh_ok(["ctr", "-a", str(self.sock), "version"]), "containerd", 30)
        self.ctr("images", "import", str(self.images / "images.tar"))

    def _cni(self) -> None:
        bindir = self.tmp / "cni" / "bin"
        bindir.mkdir(parents=True)
        for p in CNI_PLUGINS:
            (bindir / p).symlink_to(CNI_DIR / p)
        py = shutil.which("python3") or "/usr/bin/python3"
        plugin = bindir / "nad-delegate"
        plugin.write_text(f"#!{py} -I\n" + META_PLUGIN.read_text())
        plugin.chmod(0o755)
        pki = self.cluster.tmp / "pki"
        (self.tmp / "cni" / "token").write_text(self.cluster.tokens[CNI_USER])
        (self.tmp / "cni" / "token").chmod(0o600)
        net = ipaddress.ip_network(CLUSTER_CIDR)
        conflist = {
            "cniVersion": "1.0.0", "name": "spkrunbook-node",
            "plugins": [{
                "type": "nad-delegate",
                "apiServer": {"url": self.cluster.url, "caFile": str(pki / "ca.crt"), "tokenFile": str(self.tmp / "cni" / "token")},
                "cacheDir": str(self.tmp / "cni" / "cache"), "logFile": str(self.tmp / "nad-delegate.log"),
                "clusterNetwork": {
                    "cniVersion": "1.0.0", "name": "cluster",
                    "plugins": [{"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                                 "ipam": {"type": "host-local", "dataDir": str(self.tmp / "cni" / "ipam"),
                                          "ranges": [[{"subnet": str(net), "gateway": str(net.network_address + 1)}]],
                                          "routes": [{"dst": "0.0.0.0/0"}]}}]},
            }],
        }
        (self.tmp / "cni" / "net.d" / "10-spkrunbook-node.conflist").write_text(json.dumps(conflist, indent=2))

    # -- the kubelet --------------------------------------------------------------------------------------------
    def _kubelet_pki(self) -> None:
        pki = self.tmp / "pki"
        pki.mkdir()
        cpki = self.cluster.tmp / "pki"
        for f in ("ca.crt", "ca.key"):
            shutil.copy(cpki / f, pki / f)
        sign_cert(pki, "kubelet", f"/CN=system:node:{self.name}", sans=f"DNS:{self.name},IP:{NODE_IP}")
        sign_cert(pki, "node", f"/O=system:nodes/CN=system:node:{self.name}", client=True)
        (pki / "ca.key").unlink()
        kc = {"apiVersion": "v1", "kind": "Config",
              "clusters": [{"name": "real", "cluster": {"server": self.cluster.url, "certificate-authority": str(pki / "ca.crt")}}],
              "users": [{"name": "node", "user": {"client-certificate": str(pki / "node.crt"), "client-key": str(pki / "node.key")}}],
              "contexts": [{"name": "node", "context": {"cluster": "real", "user": "node"}}], "current-context": "node"}
        (self.tmp / "kubelet.kubeconfig").write_text(json.dumps(kc))

    def kubelet_config(self) -> dict[str, Any]:
        pki = self.tmp / "pki"
        cfg: dict[str, Any] = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": NODE_IP, "port": self._kubelet_port, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": 0,
            "tlsCertFile": str(pki / "kubelet.crt"), "tlsPrivateKeyFile": str(pki / "kubelet.key"),
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{self.sock}",
            "cgroupDriver": "cgroupfs", "failSwapOn": False, "failCgroupV1": False,
            "cpuManagerPolicy": self.cpu_manager_policy, "topologyManagerPolicy": "none",
            "podLogsDir": str(self.tmp / "pods"),
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                             "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "nodeStatusUpdateFrequency": "2s", "nodeStatusReportFrequency": "10s", "syncFrequency": "10s",
            "serializeImagePulls": False, "registerNode": True, "resolvConf": "/etc/resolv.conf",
        }
        if self.cpu_manager_policy == "static":
            # The static policy keeps ceil(reserved) CPUs for the shared pool: CPU 0 here, and the other CPU is
            # the one a Guaranteed 1-CPU f5-tmm takes for itself. 500m rather than reservedSystemCPUs "0": that
            # would leave 1 CPU allocatable, too little for f5-tmm (1) beside F5's debug sidecar (500m).
            cfg["systemReserved"] = {"cpu": "500m"}
        return cfg

    def start_kubelet(self) -> None:
        assert self.bins.kubelet is not None
        self._kubelet_port = self._kubelet_port or free_port()
        (self.tmp / "kubelet.yaml").write_text(json.dumps(self.kubelet_config(), indent=2))
        since = time.time() - 1
        self._spawn("kubelet", [str(self.bins.kubelet), "--config", str(self.tmp / "kubelet.yaml"),
                                "--kubeconfig", str(self.tmp / "kubelet.kubeconfig"), "--root-dir", str(self.tmp / "kubelet"),
                                "--hostname-override", self.name, "--node-ip", NODE_IP, "--v", "2"])
        self._wait(lambda: self._node_ready(since) and _port_open(NODE_IP, self._kubelet_port), "kubelet", 120)
        a = self.cluster.admin
        a.patch("nodes", self.name, {"metadata": {"labels": {"node-role.kubernetes.io/worker": ""}}})

    def _node_ready(self, since: float) -> bool:
        """Ready, untainted, and said so by a kubelet started at ``since`` (not the one before a restart)."""
        try:
            node = self.cluster.admin.get("nodes", self.name)
        except ClusterError:
            return False
        st = node.get("status") or {}
        ready: dict[str, Any] = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
        beat = ready.get("lastHeartbeatTime") or "1970-01-01T00:00:00Z"
        fresh = calendar.timegm(time.strptime(beat, "%Y-%m-%dT%H:%M:%SZ")) >= since
        pages = (st.get("capacity") or {}).get("hugepages-2Mi")
        n = int(NR_HUGEPAGES.read_text())
        tainted = any(t.get("key") == "node.kubernetes.io/not-ready" for t in (node.get("spec") or {}).get("taints") or [])
        return ready.get("status") == "True" and fresh and not tainted and pages == (f"{n * 2}Mi" if n else "0")

    def stop_kubelet(self) -> None:
        p = self.procs.pop("kubelet", None)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def restart_kubelet(self, *, cpu_manager_policy: str | None = None, hugepages_2mi: int | None = None) -> None:
        """Restart the kubelet with another CPU manager policy or hugepage count (the node's capacity is read at start)."""
        self.stop_kubelet()
        if cpu_manager_policy is not None and cpu_manager_policy != self.cpu_manager_policy:
            self.cpu_manager_policy = cpu_manager_policy
            (self.tmp / "kubelet" / "cpu_manager_state").unlink(missing_ok=True)  # a policy change needs a fresh state
        if hugepages_2mi is not None:
            NR_HUGEPAGES.write_text(f"{hugepages_2mi}\n")
        self.start_kubelet()

    # -- teardown -------------------------------------------------------------------------------------------
    def drain(self, timeout: float = 90) -> None:
        """Delete every workload and every pod on the node through the API, and wait for the kubelet to stop them."""
        a = self.cluster.admin
        for plural in ("deployments", "replicasets"):
            for obj in a.list(plural):
                md = obj["metadata"]
                a.delete(plural, md["name"], md.get("namespace"), missing_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            pods = a.list("pods", field_selector=f"spec.nodeName={self.name}")
            for p in pods:
                md = p["metadata"]
                if not md.get("deletionTimestamp"):
                    a.delete("pods", md["name"], md.get("namespace"), grace_period=1, missing_ok=True)
            running = self.ctr("tasks", "ls", "-q", check=False).stdout.split() if self.sock.exists() else []
            if not pods and not running:
                return
            if time.monotonic() > deadline:
                self.problems.append(f"pods or tasks still there after {timeout:g}s: "
                                     f"{[p['metadata']['name'] for p in pods]}, {len(running)} task(s)")
                return
            time.sleep(0.5)

    def stop(self) -> list[str]:
        """Stop and remove everything the data plane added; returns what could not be removed (also ``problems``)."""
        steps = [
            ("drain", lambda: self.drain() if "kubelet" in self.procs and self.procs["kubelet"].poll() is None else None),
            ("kubelet", self.stop_kubelet),
            ("containers", self._kill_tasks),
            ("containerd", self._stop_containerd),
            ("processes", self._kill_strays),
            ("exposed ports", self.unexpose),
            ("network", self._remove_network),
            ("mounts", self._unmount),
            ("cgroups", self._remove_cgroups),
            ("hugepages", self._restore_hugepages),
            ("files", self._remove_files),
            ("iptables", self._remove_chains),
        ]
        for name, fn in steps:
            try:
                fn()
            except Exception as exc:  # every step runs; what failed is reported
                self.problems.append(f"{name}: {type(exc).__name__}: {exc}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        left = self.leftovers()
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
        return self.problems + left

    def _kill_tasks(self) -> None:
        if "containerd" not in self.procs or self.procs["containerd"].poll() is not None:
            return
        for tid in self.ctr("tasks", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("tasks", "kill", "-s", "SIGKILL", tid, check=False)
            self.ctr("tasks", "delete", "-f", tid, check=False)

    def _stop_containerd(self) -> None:
        p = self.procs.pop("containerd", None)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def _stray_pids(self) -> list[int]:
        """Processes started for this data plane that outlived their parents: containerd's shims (their
        command line names its socket) and anything left in the ``kubepods`` cgroups."""
        pids: set[int] = set()
        marker = str(self.tmp).encode()
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if marker in (d / "cmdline").read_bytes():
                        pids.add(int(d.name))
                except OSError:
                    continue
        for cg in _kubepods_cgroups():
            with contextlib.suppress(OSError):
                pids.update(int(x) for x in (cg / "cgroup.procs").read_text().split())
        pids.discard(os.getpid())
        return sorted(pids)

    def _kill_strays(self) -> None:
        for _ in range(20):
            pids = self._stray_pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.25)

    def _our_netns(self, name: str) -> bool:
        """A network namespace this data plane made: a lab network's, or one containerd made for a pod."""
        return name.startswith("cni-") or name in {m.netns for m in self.masters}

    def _our_mounts(self) -> list[str]:
        """Mounts this data plane made and has not undone. Others on this machine make network namespaces too:
        only ours count, and ``/run/netns`` itself (iproute2 makes it a mount) only when nothing else is in it."""
        assert self.before is not None
        mounts = [m for m in _mountpoints() if m not in self.before.mounts]
        prefixes = (str(self.tmp), "/var/lib/kubelet", "/run/containerd", "/var/lib/cni")
        ours = [m for m in mounts if m.startswith(prefixes)
                or (m.startswith("/run/netns/") and self._our_netns(m.removeprefix("/run/netns/")))]
        others = [n for n in _netns() if not self._our_netns(n)]
        if "/run/netns" in mounts and not others:
            ours.append("/run/netns")
        return ours

    def _unmount(self) -> None:
        if self.before is None:
            return
        for _ in range(3):
            mounts = self._our_mounts()
            if not mounts:
                return
            for m in sorted(mounts, key=len, reverse=True):
                run(["umount", "-l", m], check=False)

    def _remove_cgroups(self) -> None:
        for cg in _kubepods_cgroups():
            with contextlib.suppress(OSError):
                cg.rmdir()

    def _remove_network(self) -> None:
        if self.before is None:
            return
        for m in self.masters:
            if m.name in _links():
                run(["ip", "link", "del", m.name], check=False)
            if m.netns in _netns() and m.netns not in self.before.netns:
                run(["ip", "netns", "del", m.netns], check=False)
        for ns in _netns() - self.before.netns:
            if self._our_netns(ns):
                run(["ip", "netns", "del", ns], check=False)
        if BRIDGE in _links() and BRIDGE not in self.before.links:
            run(["ip", "link", "del", BRIDGE], check=False)

    def _restore_hugepages(self) -> None:
        if self.before is None:
            return
        NR_HUGEPAGES.write_text(f"{self.before.nr_hugepages}\n")
        if not self.before.hugetlb_mounted and os.path.ismount(HUGETLB):
            run(["umount", str(HUGETLB)], check=False)
        if not self.before.hugetlb_mounted and HUGETLB.is_dir() and not os.path.ismount(HUGETLB):
            with contextlib.suppress(OSError):
                HUGETLB.rmdir()

    def _remove_files(self) -> None:
        if self.before is None:
            return
        for p in FIXED_PATHS:
            if p not in self.before.paths and os.path.lexists(p):
                if p == "/run/netns" and any(Path(p).iterdir()):
                    continue  # namespaces that are not ours
                shutil.rmtree(p, ignore_errors=True)

    def _remove_chains(self) -> None:
        """The kubelet's own iptables chains (``KUBE-FIREWALL``, the canaries) and the rules that jump to them."""
        if self.before is None:
            return
        _remove_kube_chains(_iptables_chains() - self.before.iptables)

    def leftovers(self) -> list[str]:
        """What the data plane added to the machine that is still there (empty after a clean stop)."""
        if self.before is None:
            return []
        b = self.before
        out = [f"process {pid}: {Path(f'/proc/{pid}/cmdline').read_bytes().replace(bytes(1), b' ').decode(errors='replace')[:120]}"
               for pid in self._stray_pids() if Path(f"/proc/{pid}").exists()]
        out += [f"mount {m}" for m in self._our_mounts()]
        out += [f"interface {i}" for i in sorted(_links() - b.links) if i in (BRIDGE, *(m.name for m in self.masters))]
        out += [f"network namespace {n}" for n in sorted(_netns() - b.netns) if self._our_netns(n)]
        out += [f"path {p}" for p in FIXED_PATHS if p not in b.paths and os.path.lexists(p)
                and not (p == "/run/netns" and os.path.ismount(p) and "/run/netns" not in self._our_mounts())]
        out += [f"cgroup {c}" for c in _kubepods_cgroups()]
        if int(NR_HUGEPAGES.read_text()) != b.nr_hugepages:
            out.append(f"nr_hugepages {NR_HUGEPAGES.read_text().strip()} (was {b.nr_hugepages})")
        if not b.hugetlb_mounted and "hugetlb" in _mounted_cgroups():
            out.append(f"the hugetlb cgroup mount at {HUGETLB}")
        out += [f"iptables chain {c}" for c in sorted(_iptables_chains() - b.iptables)]
        if self.tmp.exists():
            out.append(f"temp dir {self.tmp}")
        return out


def masters_for(lab: Any) -> tuple[Master, ...]:
    """The lab's two masters, each with a peer address on its VLAN's network (the subnet's first host)."""
    out = []
    for role in ("internal", "external"):
        net = getattr(lab.networks, role)
        vlan = getattr(lab.vlans, role)
        subnet = ipaddress.ip_interface(f"{vlan.selfip_v4s[0]}/{vlan.prefixlen_v4}").network
        peer = next(h for h in subnet.hosts() if str(h) not in vlan.selfip_v4s)
        out.append(Master(net.master, f"spkrb-lab-{role}", f"{peer}/{subnet.prefixlen}"))
    return tuple(out)


@contextlib.contextmanager
def running(cluster: NodeCluster, bins: Binaries, masters: tuple[Master, ...], **kw: Any) -> Iterator[DataPlane]:
    """A started data plane, stopped on the way out (also on failure); raises if anything was left behind."""
    images = images_dir()
    if images is None:
        raise Unavailable("the data plane images are not built (run scripts/build_dataplane_images.py)")
    dp = DataPlane(cluster, bins, images, masters, **kw)
    dp.start()
    try:
        yield dp
    finally:
        left = dp.stop()
        if left:
            raise AssertionError("the data plane left things behind:\n  " + "\n  ".join(left))
