"""OVN northbound databases read offline, from what ``oc adm must-gather`` collected.

The debugging step reads OVN routes with ``ovn-nbctl`` in an OVN pod on a live
cluster. A snapshot has no pod to exec into, but the default must-gather copies
the NB databases themselves (``openshift/must-gather:collection-scripts/
gather_network_logs_basics``), so the same commands can run here against them:

- **interconnect** (OpenShift 4.14+, node annotation ``k8s.ovn.org/zone-name`` equals
  the node name): every ``ovnkube-node`` pod has its own NB database, copied from
  ``/etc/ovn/ovnnb_db.db`` in container ``nbdb`` into
  ``network_logs/ovnk_database_store.tar.gz`` as ``ovnk_database_store/<pod>_nbdb``
  (``<pod>_sbdb`` beside it). These are standalone databases.
- **legacy**: only the RAFT leader's database of the ``ovnkube-master`` pods, as
  ``network_logs/leader_nbdb.gz`` (a clustered database file, gzip-compressed).

A database is read the way ``openshift/network-tools`` ``ovn-db-run-locally`` does:
a clustered file becomes standalone (``ovsdb-tool cluster-to-standalone``), a
private ``ovsdb-server`` serves it, ``ovn-nbctl`` queries it. Here the server
listens on a unix socket in a temporary directory (no TCP port; its control
socket, lock and log stay in that directory too) and is stopped when the
``with`` block ends, also after an error. The snapshot itself is never written:
the server works on a copy.

The tools come from Debian ``ovn-central`` (``ovn-nbctl``) and
``openvswitch-common`` (``ovsdb-tool``, ``ovsdb-server``).

Errors (``spkrunbook.errors``): ``NotAvailable`` when the tools are missing;
``SnapshotError`` when a database or archive is missing, unsafe, too big or
unreadable; ``ExecError`` when ``ovn-nbctl`` rejects a command (e.g. a router
that is not in this database) or does not answer in time.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, Protocol

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ...errors import ExecError, NotAvailable, SnapshotError
from ..facts import OVN_NAMESPACE

NETWORK_LOGS = "network_logs"
IC_ARCHIVE = "ovnk_database_store.tar.gz"
LEGACY_NBDB = "leader_nbdb.gz"
CLUSTER_ROUTER = "ovn_cluster_router"
NB_NAME = "OVN_Northbound"
#: Default bound on one database's size once uncompressed (an NB database of a big cluster is a few hundred MB).
MAX_DB_BYTES = 2 * 1024**3
INSTALL_HINT = "install the OVN tools: `apt-get install ovn-central openvswitch-common` (Debian/Ubuntu)"
_TOOLS = ("ovsdb-tool", "ovsdb-server", "ovn-nbctl")
#: Debian installs ovsdb-server in /usr/sbin, which is not on a normal user's PATH.
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
#: A DNS-1123 pod name followed by ``_nbdb``, optionally under one folder (must-gather: ``ovnk_database_store/``).
_IC_MEMBER = re.compile(r"^(?:\./)?(?:[^/]+/)?(?P<pod>[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)_nbdb$")
_CHUNK = 1 << 20

Mode = Literal["interconnect", "legacy", "file"]


# -- tools -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OvnTools:
    """Absolute paths of the three OVN/OVSDB programs this module runs."""

    ovsdb_tool: str
    ovsdb_server: str
    ovn_nbctl: str


def find_tools(search_path: str | None = None) -> OvnTools:
    """Locate the tools on ``search_path`` (default ``$PATH``) plus the sbin folders; NotAvailable names what is missing."""
    path = os.environ.get("PATH", "") if search_path is None else search_path
    dirs = os.pathsep.join([path, *_SBIN])
    found = {name: shutil.which(name, path=dirs) for name in _TOOLS}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise NotAvailable(f"reading OVN databases offline needs {', '.join(missing)}, which {verb} not installed",
                           hint=INSTALL_HINT)
    return OvnTools(ovsdb_tool=str(found["ovsdb-tool"]), ovsdb_server=str(found["ovsdb-server"]),
                    ovn_nbctl=str(found["ovn-nbctl"]))


# -- where the databases are -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NbdbFile:
    """One NB database a snapshot holds: the file on disk and, for an archive, which member.

    ``pod`` is the ovnkube-node pod it was copied from (interconnect) and ``node``
    that pod's node, when the snapshot's pod list says so; the legacy leader
    database serves every node, so its ``node`` is None.
    """

    path: Path
    mode: Mode = "file"
    member: str | None = None
    pod: str | None = None
    node: str | None = None
    size: int | None = None

    def describe(self) -> str:
        """Where the database came from, for evidence text."""
        if self.member:
            who = f" (pod {self.pod} on {self.node})" if self.node else f" (pod {self.pod})" if self.pod else ""
            return f"{self.path}:{self.member}{who}"
        return str(self.path)


def _data_dirs(root: Path) -> list[Path]:
    """The root, then its image folders (``oc adm must-gather`` writes one folder per gather image)."""
    if not root.is_dir():
        raise SnapshotError(f"snapshot directory {root} does not exist",
                            hint="point at the folder oc adm must-gather --dest-dir wrote (must-gather.local.*)")
    return [root, *sorted(p for p in root.iterdir() if p.is_dir() and p.name != NETWORK_LOGS)]


def _yaml_objects(path: Path) -> list[dict[str, Any]]:
    yaml = YAML(typ="safe", pure=False)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh)
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"cannot read {path}: {exc}",
                            hint="collect the snapshot again with oc adm must-gather") from None
    if not isinstance(data, dict):
        return []
    if str(data.get("kind", "")).endswith("List"):
        return [i for i in data.get("items") or [] if isinstance(i, dict)]
    return [data]


def pod_nodes(snapshot: str | Path, namespace: str = OVN_NAMESPACE) -> dict[str, str]:
    """Pod name -> node name for the pods of ``namespace`` in the snapshot.

    Reads ``namespaces/<ns>/core/pods.yaml`` (the ``oc adm inspect`` list) and
    ``namespaces/<ns>/pods/<pod>/<pod>.yaml`` in the root and in every image folder.
    """
    mapping: dict[str, str] = {}
    for data in _data_dirs(Path(snapshot)):
        ns = data / "namespaces" / namespace
        files = [ns / "core" / "pods.yaml", *sorted((ns / "pods").glob("*/*.yaml"))]
        for f in files:
            if not f.is_file():
                continue
            for obj in _yaml_objects(f):
                name = (obj.get("metadata") or {}).get("name")
                node = (obj.get("spec") or {}).get("nodeName")
                if obj.get("kind", "Pod") == "Pod" and name and node:
                    mapping.setdefault(str(name), str(node))
    return mapping


def _check_member_name(archive: Path, name: str) -> None:
    p = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or ".." in p.parts or re.match(r"^[A-Za-z]:", name):
        raise SnapshotError(f"{archive} holds an unsafe member name {name!r} (absolute or climbing out with '..'); "
                            "it was not read",
                            hint="this is not an archive oc adm must-gather wrote: collect it again")


def list_archive(archive: str | Path) -> list[tuple[str, str, int]]:
    """``(member, pod, size)`` of each ``<pod>_nbdb`` in an interconnect archive; refuses unsafe archives.

    Every member name is checked (absolute paths and ``..`` refuse the whole
    archive); an ``_nbdb`` member that is not a regular file (a link, a device) too.
    """
    archive = Path(archive)
    found: list[tuple[str, str, int]] = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for info in tar:
                _check_member_name(archive, info.name)
                m = _IC_MEMBER.match(info.name)
                if not m:
                    continue
                if not info.isreg():
                    raise SnapshotError(f"{archive}: member {info.name} is a link or special file, not a database; "
                                        "the archive was not read",
                                        hint="this is not an archive oc adm must-gather wrote: collect it again")
                found.append((info.name, m.group("pod"), info.size))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise SnapshotError(f"{archive} is not a readable tar.gz archive ({exc})",
                            hint="the copy may be truncated: collect the must-gather again") from None
    return found


def find_nbdbs(snapshot: str | Path) -> list[NbdbFile]:
    """Every NB database the snapshot holds, interconnect ones first (sorted by pod); [] when it has none.

    Looks for ``network_logs/`` in the root and in each image folder. Pods are
    mapped to nodes through the snapshot's ``openshift-ovn-kubernetes`` pod list.
    """
    root = Path(snapshot)
    nodes = pod_nodes(root)
    ic: list[NbdbFile] = []
    legacy: list[NbdbFile] = []
    for data in _data_dirs(root):
        logs = data / NETWORK_LOGS
        archive = logs / IC_ARCHIVE
        if archive.is_file():
            for member, pod, size in list_archive(archive):
                ic.append(NbdbFile(archive, "interconnect", member, pod, nodes.get(pod), size))
        leader = logs / LEGACY_NBDB
        if leader.is_file():
            legacy.append(NbdbFile(leader, "legacy"))
    return sorted(ic, key=lambda f: (f.pod or "", str(f.path))) + legacy


def nbdb_for_node(snapshot_or_files: str | Path | Iterable[NbdbFile], node: str) -> NbdbFile:
    """The database that holds ``node``'s routes: the interconnect database that names ``node`` in
    ``NB_Global options:name``, else the legacy leader's (which holds every node)."""
    files = (find_nbdbs(snapshot_or_files) if isinstance(snapshot_or_files, (str, Path))
             else list(snapshot_or_files))
    # Each database names its node: that name decides (the pod list only where the OVN tools are missing).
    for f in named_by_zone(files):
        if f.mode == "interconnect" and f.node == node:
            return f
    legacy = [f for f in files if f.mode == "legacy"]
    if legacy:
        return legacy[0]
    if not files:
        raise SnapshotError(f"the snapshot holds no OVN NB database (neither network_logs/{IC_ARCHIVE} "
                            f"nor network_logs/{LEGACY_NBDB})",
                            hint="collect it with the default `oc adm must-gather` (it gathers the OVN databases "
                                 "on OVN-Kubernetes clusters), or read the routes on the live cluster")
    unmapped = [f.pod for f in files if f.node is None]
    known = sorted({f.node for f in files if f.node})
    detail = f"; pods without a node in the snapshot's pod list: {', '.join(p or '?' for p in unmapped)}" \
        if unmapped else ""
    raise SnapshotError(f"no ovnkube-node database for node {node} (databases of: {', '.join(known) or 'none'}"
                        f"{detail})",
                        hint=f"check the node name; the pod list is namespaces/{OVN_NAMESPACE}/core/pods.yaml "
                             "in the must-gather" + ("; without it, identify_nodes() asks each database its zone"
                                                     if unmapped else ""))


def identify_nodes(files: Iterable[NbdbFile], *, timeout: float = 30.0, every: bool = False) -> list[NbdbFile]:
    """The node of each interconnect database from the database itself (``every``), or of those the pod list
    did not map.

    In interconnect mode each node's database names its zone, the node, in
    ``NB_Global options:name`` (network-tools' ``ovn-dbs-run-locally`` reads it as the
    host too): no pod list is needed. This opens each database read, one server start each.
    """
    out = []
    for f in files:
        if f.mode == "interconnect" and (every or f.node is None):
            with open_nbdb(f, timeout=timeout) as db:
                f = replace(f, node=db.zone() or (None if every and f.node is None else f.node))
        out.append(f)
    return out


def named_by_zone(files: Iterable[NbdbFile], *, timeout: float = 30.0) -> list[NbdbFile]:
    """Every interconnect database mapped to its node by the name it holds (``NB_Global options:name``); where
    the OVN tools are missing, the must-gather's pod list stays the only map."""
    files = list(files)
    if not any(f.mode == "interconnect" for f in files):
        return files
    try:
        return identify_nodes(files, timeout=timeout, every=True)
    except NotAvailable:
        return files


# -- copying a database out, bounded -----------------------------------------------------------------------------
class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _copy_bounded(src: _Readable, dst: IO[bytes], limit: int, what: str) -> int:
    total = 0
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            return total
        total += len(chunk)
        if total > limit:
            raise SnapshotError(f"{what} is larger than {limit} bytes once uncompressed; not read",
                                hint="pass a larger max_bytes if the database really is that big")
        dst.write(chunk)


def _materialize(source: NbdbFile, out: Path, limit: int) -> None:
    """Write the raw database bytes of ``source`` to ``out`` (from the tar member, the gzip or the plain file)."""
    what = source.describe()
    try:
        if source.member is not None:
            _check_member_name(source.path, source.member)
            with tarfile.open(source.path, "r:*") as tar:
                # Walk forward to the member and read it there: getmember() would decompress the whole archive
                # first and then seek back, decompressing it again.
                info = next((i for i in tar if i.name == source.member), None)
                if info is None:
                    raise SnapshotError(f"{source.path} has no member {source.member}",
                                        hint="list the databases again with find_nbdbs()")
                if not info.isreg():
                    raise SnapshotError(f"{what} is a link or special file, not a database; not read",
                                        hint="this is not an archive oc adm must-gather wrote: collect it again")
                if info.size > limit:
                    raise SnapshotError(f"{what} is {info.size} bytes, larger than {limit}; not read",
                                        hint="pass a larger max_bytes if the database really is that big")
                fh = tar.extractfile(info)
                if fh is None:  # pragma: no cover - isreg() members always have a file object
                    raise SnapshotError(f"{what} cannot be read from the archive")
                with fh, open(out, "wb") as dst:
                    _copy_bounded(fh, dst, limit, what)
            return
        with open(source.path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
        if compressed:
            with gzip.open(source.path, "rb") as gz, open(out, "wb") as dst:
                _copy_bounded(gz, dst, limit, what)
        else:
            with open(source.path, "rb") as plain, open(out, "wb") as dst:
                _copy_bounded(plain, dst, limit, what)
    except SnapshotError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SnapshotError(f"{what} cannot be decompressed ({exc})",
                            hint="the copy may be truncated: collect the must-gather again") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read {what}: {exc.strerror or exc}",
                            hint="check the path and its permissions") from None


# -- the private server ------------------------------------------------------------------------------------------
def _clean_env(run_dir: Path) -> dict[str, str]:
    """The environment for the tools: OVS paths inside ``run_dir``, no ovn-nbctl daemon mode or preset DB."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OVN_NB_DAEMON", "OVN_NBCTL_OPTIONS", "OVN_NB_DB", "OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR")}
    env.update(OVS_RUNDIR=str(run_dir), OVS_LOGDIR=str(run_dir), OVS_DBDIR=str(run_dir), LC_ALL="C")
    return env


def _run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=max(timeout, 0.1), check=False)
    except subprocess.TimeoutExpired:
        raise SnapshotError(f"`{' '.join(argv)}` did not finish in {timeout:.0f} s",
                            hint="the database may be very large: pass a longer timeout") from None


def _tail(text: str, lines: int = 5, *, names: dict[str, str] | None = None) -> str:
    """The last lines of a tool's message, with temporary file names replaced by what the user knows."""
    out = " | ".join(line.strip().removeprefix("ovsdb-tool: ") for line in text.strip().splitlines()[-lines:])
    for temp, shown in (names or {}).items():
        out = out.replace(temp, shown)
    return out


class NbDatabase:
    """A northbound database served by a private ``ovsdb-server``; made by :func:`open_nbdb`."""

    def __init__(self, source: NbdbFile, tools: OvnTools, run_dir: Path, db_file: Path, clustered: bool,
                 process: subprocess.Popen[bytes], env: dict[str, str], timeout: float) -> None:
        self.source = source
        self.tools = tools
        self.run_dir = run_dir
        self.db_file = db_file
        self.clustered = clustered
        self.process = process
        self.socket = run_dir / "nb.sock"
        self.timeout = timeout
        self.damage: str | None = None
        self._env = env

    @property
    def pid(self) -> int:
        """Process id of the private ovsdb-server (gone once the ``with`` block has ended)."""
        return self.process.pid

    @property
    def remote(self) -> str:
        """The ``--db`` value for ovn-nbctl."""
        return f"unix:{self.socket}"

    def nbctl(self, *args: str, timeout: float | None = None) -> str:
        """Run ``ovn-nbctl --db=unix:<sock> ARGS`` and return what it printed; ExecError if it fails."""
        if self.process.poll() is not None:
            raise ExecError(f"the ovsdb-server serving {self.source.describe()} has stopped",
                            hint="open the database again")
        limit = self.timeout if timeout is None else timeout
        argv = [self.tools.ovn_nbctl, f"--db={self.remote}", f"--timeout={max(int(limit), 1)}", *args]
        shown = "ovn-nbctl " + " ".join(args)
        try:
            done = subprocess.run(argv, env=self._env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=limit + 2, check=False)
        except subprocess.TimeoutExpired:
            raise ExecError(f"`{shown}` on {self.source.describe()} did not answer in {limit:.0f} s",
                            hint="pass a longer timeout for a very large database") from None
        if done.returncode != 0:
            raise ExecError(f"`{shown}` on {self.source.describe()} failed: "
                            f"{_tail(done.stderr) or f'exit code {done.returncode}'}",
                            hint="list the routers with `ovn-nbctl lr-list`; in interconnect mode a node's "
                                 "database holds only its own GR_<node>")
        return done.stdout

    def routers(self) -> list[str]:
        """Names of the logical routers (``lr-list``), e.g. ``GR_worker-1``, ``ovn_cluster_router``."""
        names = []
        for line in self.nbctl("lr-list").splitlines():
            m = re.match(r"^\S+\s+\((.*)\)\s*$", line)
            if m:
                names.append(m.group(1))
        return names

    def zone(self) -> str | None:
        """``NB_Global`` ``options:name``: the zone (the node's name in interconnect mode), when set."""
        try:
            value = self.nbctl("--if-exists", "get", "NB_Global", ".", "options:name").strip()
        except ExecError:
            return None
        return value.strip('"') or None

    def route_tables(self, node: str) -> dict[str, str]:
        """The texts the debugging step parses: ``gateway`` (GR_<node> routes), ``cluster``, ``policies``."""
        return {"gateway": self.nbctl("lr-route-list", f"GR_{node}"),
                "cluster": self.nbctl("lr-route-list", CLUSTER_ROUTER),
                "policies": self.nbctl("lr-policy-list", CLUSTER_ROUTER)}


def _as_source(source: NbdbFile | str | Path) -> NbdbFile:
    if isinstance(source, NbdbFile):
        return source
    path = Path(source)
    if not path.is_file():
        raise SnapshotError(f"OVN database file {path} does not exist",
                            hint="find the databases of a must-gather with find_nbdbs()")
    return NbdbFile(path)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def open_nbdb(source: NbdbFile | str | Path, *, timeout: float = 30.0, max_bytes: int = MAX_DB_BYTES,
              strict: bool = True, tools: OvnTools | None = None) -> Iterator[NbDatabase]:
    """Serve one NB database (gz or not, clustered or standalone) for ``ovn-nbctl`` while the block runs.

    ``timeout`` bounds each step (conversion, check, server start, each query).
    Raises NotAvailable (tools missing), SnapshotError (unreadable, not a NB
    database, damaged unless ``strict=False``, server refused it). The server and
    its temporary directory are gone afterwards, also when the block raised.
    """
    src = _as_source(source)
    tools = tools or find_tools()
    with tempfile.TemporaryDirectory(prefix="spkrunbook-nbdb-") as tmp:
        run_dir = Path(tmp)
        env = _clean_env(run_dir)
        db_file, clustered, damage = _prepare(src, tools, run_dir, env, timeout=timeout, max_bytes=max_bytes,
                                              strict=strict)
        try:
            with open(run_dir / "ovsdb-server.log", "wb") as log:  # the child keeps its own descriptor
                process = subprocess.Popen(
                    [tools.ovsdb_server, str(db_file), f"--remote=punix:{run_dir / 'nb.sock'}",
                     f"--unixctl={run_dir / 'ovsdb-server.ctl'}", "--no-chdir", "-vconsole:info", "-vsyslog:off"],
                    env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir,
                    start_new_session=True)
        except OSError as exc:
            raise NotAvailable(f"cannot start ovsdb-server: {exc}", hint=INSTALL_HINT) from None
        try:
            db = NbDatabase(src, tools, run_dir, db_file, clustered, process, env, timeout)
            db.damage = damage
            _wait_ready(db, run_dir / "ovsdb-server.log", timeout)
            yield db
        finally:
            _stop(process)


def _prepare(src: NbdbFile, tools: OvnTools, run_dir: Path, env: dict[str, str], *, timeout: float,
             max_bytes: int, strict: bool) -> tuple[Path, bool, str | None]:
    """Copy the database into ``run_dir`` and make it servable: ``(standalone file, was clustered, damage)``."""
    raw = run_dir / "copied.db"
    _materialize(src, raw, max_bytes)
    what = src.describe()
    names = {str(raw): what, str(run_dir / "standalone.db"): f"{what} (made standalone)"}
    probe = _run([tools.ovsdb_tool, "db-is-clustered", str(raw)], env, timeout)
    if probe.returncode not in (0, 2):  # 0: clustered, 2: standalone, else: not an OVSDB file
        raise SnapshotError(f"{what} is not an OVSDB database ({_tail(probe.stderr, names=names) or 'unreadable'})",
                            hint="the file is damaged or not a database: collect the must-gather again")
    clustered = probe.returncode == 0
    damage = _damage(tools, raw, env, timeout, names)
    db_file = raw
    if clustered:
        db_file = run_dir / "standalone.db"
        done = _run([tools.ovsdb_tool, "cluster-to-standalone", str(db_file), str(raw)], env, timeout)
        if done.returncode != 0:
            raise SnapshotError(f"{what} is a clustered database that cannot be made standalone "
                                f"({_tail(done.stderr, names=names)})",
                                hint="the file is damaged: collect the must-gather again")
        raw.unlink()
    name = _run([tools.ovsdb_tool, "db-name", str(db_file)], env, timeout)
    if name.returncode != 0:
        raise SnapshotError(f"{what} is not a readable OVSDB database ({_tail(name.stderr, names=names)})",
                            hint="the file is damaged: collect the must-gather again")
    if name.stdout.strip() != NB_NAME:
        raise SnapshotError(f"{what} holds {name.stdout.strip() or 'an unnamed database'}, not {NB_NAME}",
                            hint="pick the _nbdb file (the _sbdb files are the southbound database)")
    if damage and strict:
        raise SnapshotError(f"{what} is damaged: {damage}; ovsdb-server would serve only the records before "
                            "the damage, so routes could look missing that are not",
                            hint="collect the must-gather again, or pass strict=False to read what precedes "
                                 "the damage (NbDatabase.damage says where it is)")
    return db_file, clustered, damage


def _damage(tools: OvnTools, db_file: Path, env: dict[str, str], timeout: float,
            names: dict[str, str]) -> str | None:
    """What ``ovsdb-tool show-log`` says is wrong with the file (a bad checksum, a cut record), or None.

    ovsdb-server itself only logs such damage and serves the records before it.
    """
    try:
        done = subprocess.run([tools.ovsdb_tool, "show-log", str(db_file)], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=max(timeout, 0.1), check=False)
    except subprocess.TimeoutExpired:
        raise SnapshotError(f"checking {names.get(str(db_file), db_file.name)} did not finish in {timeout:.0f} s",
                            hint="the database may be very large: pass a longer timeout") from None
    if done.returncode == 0:
        return None
    return _tail(done.stderr, names=names) or f"ovsdb-tool show-log exit code {done.returncode}"


def accepts_connections(path: Path) -> bool:
    """True once a server listens on the unix socket ``path``."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def _wait_ready(db: NbDatabase, log: Path, timeout: float) -> None:
    """Wait for the server's socket; SnapshotError with its last log lines if it exits first or is too slow."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while not accepts_connections(db.socket):  # the file appears at bind(), before listen(): connect, not exists()
        if db.process.poll() is not None:
            text = log.read_text(errors="replace")
            raise SnapshotError(f"ovsdb-server refused {db.source.describe()}: {_tail(text) or 'no message'}",
                                hint="the database is damaged or from an incompatible OVSDB: collect it again")
        if time.monotonic() > deadline:
            raise SnapshotError(f"ovsdb-server did not open {db.source.describe()} within {timeout:.0f} s",
                                hint="the database may be very large: pass a longer timeout")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def read_route_tables(snapshot_or_files: str | Path | Iterable[NbdbFile], node: str, *, timeout: float = 30.0,
                      max_bytes: int = MAX_DB_BYTES, strict: bool = True) -> tuple[NbdbFile, dict[str, str]]:
    """One call for the debugging step: which database answered for ``node``, and its three route texts."""
    source = nbdb_for_node(snapshot_or_files, node)
    with open_nbdb(source, timeout=timeout, max_bytes=max_bytes, strict=strict) as db:
        return source, db.route_tables(node)
