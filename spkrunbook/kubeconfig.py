"""The one reader of kubeconfig files: what a kubeconfig says, read with bounds, without connecting.

Every caller asks here: validation and forms (its contexts), the live target
(which hands the parsed data to the Kubernetes client, so the client never parses
the file itself), and the scrubber (the credentials it holds). Read as plain YAML
with the bounds of a hostile file: at most ``MAX_BYTES``, ``MAX_DEPTH`` levels,
UTF-8, a regular file (never a FIFO that would block), and no YAML aliases at all:
``oc`` and ``kubectl`` never write them, and expanding them is how a small file
becomes gigabytes (the "billion laughs").
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ClusterUnreachable

#: A kubeconfig with hundreds of clusters is a few hundred KB; certificates inline are ~2 KB each.
MAX_BYTES = 4 << 20
MAX_DEPTH = 32


def default_path() -> Path:
    """``$KUBECONFIG`` (its first entry) or ``~/.kube/config``, as ``oc`` and ``kubectl`` choose it."""
    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(env).expanduser() if env else Path("~/.kube/config").expanduser()


@dataclass(frozen=True)
class Kubeconfig:
    """A kubeconfig read and checked: its data, where it is, and its contexts."""

    path: Path
    data: dict[str, Any]

    @property
    def contexts(self) -> list[dict[str, Any]]:
        return [c for c in self.data.get("contexts") or [] if isinstance(c, dict) and c.get("name")]

    @property
    def names(self) -> list[str]:
        """Context names, sorted."""
        return sorted(str(c["name"]) for c in self.contexts)

    @property
    def current(self) -> str | None:
        cur = self.data.get("current-context")
        return str(cur) if cur else None

    def context(self, name: str | None) -> dict[str, Any] | None:
        """The context entry ``name`` (None: the current one); None when there is none."""
        name = name if name is not None else self.current
        return next((c for c in self.contexts if str(c["name"]) == name), None)


def _refuse(shown: str, why: str, hint: str = "check that it is a kubeconfig written by `oc login` / `oc config`") -> ClusterUnreachable:
    return ClusterUnreachable(f"the kubeconfig {shown} {why}", hint=hint)


def load(path: str | os.PathLike[str] | None) -> Kubeconfig:
    """Read a kubeconfig with its bounds; ``ClusterUnreachable`` (exit 2) saying what is wrong with it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

    p = Path(path).expanduser() if path else default_path()
    shown = str(p)
    try:
        st = p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(shown, "is a symbolic link that points to itself (a loop)",
                          "point target.kubeconfig at the real file") from None
        if isinstance(exc, FileNotFoundError):
            raise _refuse(shown, "does not exist",
                          "set target.kubeconfig to the file `oc login` wrote, or run `oc login` first") from None
        raise _refuse(shown, f"cannot be read: {exc.strerror}", "check the file's permissions") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(shown, "is not a regular file" + (" (it is a folder)" if stat.S_ISDIR(st.st_mode) else ""),
                      "set target.kubeconfig to the kubeconfig file itself")
    if st.st_size > MAX_BYTES:
        raise _refuse(shown, f"is {st.st_size:,} bytes; a kubeconfig is at most {MAX_BYTES:,}",
                      "is this the right file? a kubeconfig is a few kilobytes")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _refuse(shown, f"cannot be read: {exc.strerror}", "check the file's permissions") from None
    if len(raw) > MAX_BYTES:
        raise _refuse(shown, f"is more than {MAX_BYTES:,} bytes", "is this the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(shown, f"is not UTF-8 text (byte {exc.start})", "save it as UTF-8") from None
    yaml = YAML(typ="safe")
    try:
        depth = 0
        for event in yaml.parse(text):
            if isinstance(event, AliasEvent):
                raise _refuse(shown, "uses YAML aliases (*name), which kubeconfigs written by oc or kubectl never do; "
                                     "they are not expanded", "write the kubeconfig out again with `oc config view --raw`")
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _refuse(shown, f"nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
        data = yaml.load(text)
    except YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise _refuse(shown, f"is not valid YAML{line}") from None
    except RecursionError:
        raise _refuse(shown, "nests too deeply to read") from None
    if not isinstance(data, dict):
        raise _refuse(shown, "does not hold a kubeconfig (a mapping with clusters, users and contexts)")
    return Kubeconfig(p, data)


def read(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The kubeconfig as data, or None when it is missing, unreadable or refused."""
    try:
        return load(path).data
    except ClusterUnreachable:
        return None


def contexts(path: str | os.PathLike[str] | None) -> tuple[list[str], str | None]:
    """Context names (sorted) and the current context; ``([], None)`` when there is no usable file."""
    try:
        kc = load(path)
    except ClusterUnreachable:
        return [], None
    return kc.names, kc.current
