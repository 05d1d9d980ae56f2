"""Read cluster state offline from an ``oc adm must-gather`` / ``oc adm inspect`` directory.

Path rules follow ``oc adm inspect`` (group ``""`` is written ``core``):
lists at ``cluster-scoped-resources/<group>/<plural>.yaml`` or
``namespaces/<ns>/<group>/<plural>.yaml``; single objects under a folder of the
plural; pods at ``namespaces/<ns>/pods/<pod>/<pod>.yaml``. The must-gather root
may hold one folder per gather image; the first that has resources is used.

Command outputs that a live target would get by exec are read from
``spkrunbook-exec/<ns>/<pod>/<container>/<slug>.out`` (see ``exec_slug``), so a
snapshot can carry what was seen in the TMM debug sidecar.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import NotAvailable, ResourceMissing, SnapshotError
from .base import Argv, ExecResult, Obj, Objs, Resource, TargetInfo, field_selector_matches, label_selector_matches, resource

if TYPE_CHECKING:
    from .base import NbdbFiles

EXEC_DIR = "spkrunbook-exec"


def exec_slug(argv: list[str]) -> str:
    """File name for a saved command output: argv joined, unsafe characters replaced."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", " ".join(argv)).strip("_")[:200]


@lru_cache(maxsize=512)
def _load_file(path: str, mtime: float) -> tuple[Obj, ...]:
    yaml = YAML(typ="safe", pure=False)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh)
    except YAMLError as exc:
        raise SnapshotError(f"{path} is not valid YAML: {exc}", hint="re-collect the snapshot with oc adm must-gather") from None
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise SnapshotError(f"{path} does not hold a Kubernetes object or list")
    if "items" in data and str(data.get("kind", "List")).endswith("List"):
        return tuple(i for i in (data.get("items") or []) if isinstance(i, dict))
    return (data,)


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
            for obj in _load_file(str(f), f.stat().st_mtime):
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


