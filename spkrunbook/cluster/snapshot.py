"""Read cluster state offline from an ``oc adm must-gather`` / ``oc adm inspect`` directory.

Path rules follow ``oc adm inspect`` (group ``""`` is written ``core``):
lists at ``cluster-scoped-resources/<group>/<plural>.yaml`` or
``namespaces/<ns>/<group>/<plural>.yaml``; single objects under a folder of the
plural; pods at ``namespaces/<ns>/pods/<pod>/<pod>.yaml``. The must-gather root
may hold one folder per gather image; the first that has resources is used.

A must-gather copied from a broken node is read without a traceback: a file that
cannot be read (permissions), is not UTF-8, is not YAML, holds YAML aliases, is larger
than ``MAX_FILE_BYTES`` (refused with its size, never parsed), or holds objects of the
wrong shape (``metadata`` a string) raises ``SnapshotError`` naming the file and what is
wrong, so each check that needs it fails saying so; ``problems()`` lists every such
file the runbook reads, for ``validate`` and ``run`` alike.

Command outputs that a live target would get by exec are read from
``spkrunbook-exec/<ns>/<pod>/<container>/<slug>.out`` (see ``exec_slug``), so a
snapshot can carry what was seen in the TMM debug sidecar.
"""

from __future__ import annotations

import copy
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from ..errors import NotAvailable, ResourceMissing, SnapshotError
from .base import (
    RESOURCES,
    Argv,
    ExecResult,
    Obj,
    Objs,
    Resource,
    TargetInfo,
    field_selector_matches,
    label_selector_matches,
    resource,
)

if TYPE_CHECKING:
    from .base import NbdbFiles

EXEC_DIR = "spkrunbook-exec"
#: (file inside the snapshot, what is wrong with it); a module name since ``list`` is a method below.
Problems = list[tuple[str, str]]


def exec_slug(argv: list[str]) -> str:
    """File name for a saved command output: argv joined, unsafe characters replaced."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", " ".join(argv)).strip("_")[:200]


#: The largest file read: one object is at most 1.5 MiB in etcd, a namespace's pod list a few MB.
MAX_FILE_BYTES = 32 << 20
_RECOLLECT = "re-collect it with `oc adm must-gather` (or `oc adm inspect` of that resource), or remove the file"
_MAPS = ("labels", "annotations")


def _broken(path: str, what: str, hint: str = _RECOLLECT) -> SnapshotError:
    return SnapshotError(f"the snapshot file {path} {what}", hint=hint)


def _shape(path: str, objs: tuple[Obj, ...]) -> tuple[Obj, ...]:
    """Each object a mapping whose metadata (and its labels, annotations) are mappings, as the API writes them."""
    for n, obj in enumerate(objs):
        md = obj.get("metadata")
        name = md.get("name") if isinstance(md, dict) else None
        which = f"object {name!r}" if isinstance(name, str) else f"object {n + 1}"
        if md is not None and not isinstance(md, dict):
            raise _broken(path, f"is damaged: {which} has metadata that is a {type(md).__name__}, not a mapping")
        for key in _MAPS:
            value = (md or {}).get(key)
            if value is not None and not isinstance(value, dict):
                raise _broken(path, f"is damaged: {which} has metadata.{key} that is a {type(value).__name__}, "
                                    "not a mapping")
    return objs


@lru_cache(maxsize=512)
def _load_file(path: str, mtime: float) -> tuple[Obj, ...]:
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise _broken(path, f"is {size:,} bytes; refused, at most {MAX_FILE_BYTES:,} are read (one object is at most "
                                "1.5 MiB in etcd: something in it is not what the API server stores)")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _broken(path, f"cannot be read: {exc.strerror}",
                      "make the must-gather folder readable by this user (e.g. `chmod -R a+rX` on it), or run as its owner") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _broken(path, f"is not UTF-8 text (byte {exc.start:,}: {raw[exc.start:exc.start + 1]!r}); oc writes UTF-8, "
                            "so it was damaged or edited in another encoding",
                      f"convert it (`iconv -f latin1 -t utf-8`), or {_RECOLLECT}") from None
    yaml = YAML(typ="safe", pure=False)
    try:
        # an anchor and maybe an alias: oc never writes them, and they are not expanded
        if "&" in text and "*" in text and any(isinstance(ev, AliasEvent) for ev in yaml.parse(text)):
            raise _broken(path, "uses YAML aliases (*name), which oc never writes; they are not expanded")
        data = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise _broken(path, f"is not valid YAML{where}") from None
    except RecursionError:
        raise _broken(path, "nests too deeply to read") from None
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise _broken(path, f"does not hold a Kubernetes object or list (it holds a {type(data).__name__})")
    if "items" in data and str(data.get("kind", "List")).endswith("List"):
        items = data.get("items") or []
        if not isinstance(items, list):
            raise _broken(path, f"is damaged: its items are a {type(items).__name__}, not a list")
        return _shape(path, tuple(i for i in items if isinstance(i, dict)))
    return _shape(path, (data,))


class SnapshotTarget:
    """A read-only target backed by a must-gather directory."""

    kind = "snapshot"
    can_write = False

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        if not root.is_dir():
            raise SnapshotError(
                f"snapshot directory {root} does not exist",
                hint="set target.snapshot to the folder oc adm must-gather wrote (must-gather.local.*)",
            )
        self.root = root
        self.data = self._find_data_dir(root)

    @staticmethod
    def _find_data_dir(root: Path) -> Path:
        def has_data(p: Path) -> bool:
            return (p / "cluster-scoped-resources").is_dir() or (p / "namespaces").is_dir()

        if has_data(root):
            return root
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if has_data(sub):
                return sub
        raise SnapshotError(
            f"{root} does not look like a must-gather directory (no cluster-scoped-resources/ or namespaces/)",
            hint="point target.snapshot at the folder oc adm must-gather --dest-dir wrote",
        )

    def info(self) -> TargetInfo:
        return TargetInfo(kind="snapshot", name=f"{self.root.parent.name}/{self.root.name}", details={"path": str(self.root)})

    # -- reading ----------------------------------------------------------------------
    def _files(self, res: Resource, namespace: str | None) -> list[Path]:
        files: list[Path] = []
        if res.namespaced:
            ns_root = self.data / "namespaces"
            namespaces = [namespace] if namespace else sorted(p.name for p in ns_root.iterdir() if p.is_dir()) if ns_root.is_dir() else []
            for ns in namespaces:
                base = ns_root / ns
                files.append(base / res.group_dir / f"{res.plural}.yaml")
                folder = base / res.group_dir / res.plural
                if folder.is_dir():
                    files.extend(sorted(folder.glob("*.yaml")))
                if res.plural == "pods" and res.group == "":
                    pods = base / "pods"
                    if pods.is_dir():
                        files.extend(sorted(pods.glob("*/*.yaml")))
        else:
            base = self.data / "cluster-scoped-resources" / res.group_dir
            files.append(base / f"{res.plural}.yaml")
            folder = base / res.plural
            if folder.is_dir():
                files.extend(sorted(folder.glob("*.yaml")))
        return [f for f in files if f.is_file()]

    def list(
        self,
        res: str | Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Objs:
        r = resource(res)
        seen: dict[tuple[str, str], Obj] = {}
        for f in self._files(r, namespace):
            for obj in self._load(f):
                md = obj.get("metadata") or {}
                if r.namespaced and namespace and md.get("namespace", namespace) != namespace:
                    continue
                key = (md.get("namespace", ""), md.get("name", ""))
                if key in seen:
                    continue
                if not label_selector_matches(md.get("labels"), label_selector):
                    continue
                if not field_selector_matches(obj, field_selector):
                    continue
                seen[key] = obj
        return [copy.deepcopy(o) for o in seen.values()]

    def _load(self, f: Path) -> tuple[Obj, ...]:
        try:
            mtime = f.stat().st_mtime
        except OSError as exc:
            raise _broken(self._rel(f), f"cannot be read: {exc.strerror}") from None
        try:
            return _load_file(str(f), mtime)
        except SnapshotError as exc:  # said with the path inside the snapshot, the way a person finds it
            raise SnapshotError(exc.message.replace(str(f), self._rel(f)), hint=exc.hint) from None

    def _rel(self, f: Path) -> str:
        try:
            return str(f.relative_to(self.root))
        except ValueError:
            return str(f)

    def problems(self) -> Problems:
        """(file, what is wrong) for every file the runbook would read that cannot be read as the API wrote it."""
        out: Problems = []
        seen: set[Path] = set()
        for r in RESOURCES.values():
            try:
                files = self._files(r, None)
            except OSError as exc:
                out.append((r.plural, f"cannot be listed: {exc.strerror}"))
                continue
            for f in files:
                if f in seen:
                    continue
                seen.add(f)
                try:
                    self._load(f)
                except SnapshotError as exc:
                    out.append((self._rel(f), exc.message))
        return out

    def get(self, res: str | Resource, name: str, namespace: str | None = None) -> Obj:
        r = resource(res)
        for obj in self.list(r, namespace if r.namespaced else None):
            if (obj.get("metadata") or {}).get("name") == name:
                return obj
        where = f" in namespace {namespace}" if r.namespaced and namespace else ""
        raise ResourceMissing(
            f"{r.plural}/{name}{where} is not in the snapshot {self.root}",
            status=404,
            reason="NotFound",
            hint="collect it with oc adm inspect, or check the name",
        )

    def exists(self, res: str | Resource, name: str, namespace: str | None = None) -> bool:
        try:
            self.get(res, name, namespace)
        except ResourceMissing:
            return False
        return True

    def logs(self, namespace: str, pod: str, container: str, *, previous: bool = False,
             tail_lines: int = 400) -> str | None:
        """The container log must-gather saved (``…/<container>/<container>/logs/previous.log``), or None."""
        logs = self.data / "namespaces" / namespace / "pods" / pod / container / container / "logs"
        path = logs / ("previous.log" if previous else "current.log")
        if not path.is_file():
            return None
        with open(path, "rb") as fh:  # the tail only: a crash-looping container's log can be large
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            text = fh.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-tail_lines:])

    def saved_output_path(self, namespace: str, pod: str, container: str, argv: Argv) -> Path:
        return self.data / EXEC_DIR / namespace / pod / container / f"{exec_slug(argv)}.out"

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
        """Replay a command output saved in the snapshot, or say it is not there."""
        out = self.saved_output_path(namespace, pod, container, argv)
        if not out.is_file():
            raise NotAvailable(
                f"the snapshot holds no output of `{' '.join(argv)}` in {namespace}/{pod} container {container}",
                hint=f"run it on a live target, or save its output as {out.relative_to(self.data)}",
            )
        err = out.with_suffix(".err")
        rc = out.with_suffix(".rc")
        return ExecResult(
            argv=list(argv),
            stdout=out.read_bytes(),
            stderr=err.read_bytes() if err.is_file() else b"",
            exit_code=int(rc.read_text().strip()) if rc.is_file() else 0,
        )

    def ovn_nb_databases(self) -> NbdbFiles:
        """The NB databases the must-gather collected (``network_logs/``), interconnect first; SnapshotError
        for an archive that is damaged or unsafe."""
        from .ovn.nbdb import find_nbdbs

        return find_nbdbs(self.root)

    def file(self, relative: str) -> Path:
        """A file shipped inside the snapshot (captures, notes)."""
        return self.data / relative


