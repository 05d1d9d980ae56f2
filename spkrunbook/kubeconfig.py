"""What a kubeconfig file says without connecting: its contexts and the current one.

Read as plain YAML (the Kubernetes client is only imported at the live cluster
boundary), so validation and forms can name the contexts of a lab's kubeconfig.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def default_path() -> Path:
    """``$KUBECONFIG`` (its first entry) or ``~/.kube/config``, as ``oc`` and ``kubectl`` choose it."""
    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(env).expanduser() if env else Path("~/.kube/config").expanduser()


def read(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The kubeconfig as data, or None when it is missing or not a readable YAML mapping."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    p = Path(path).expanduser() if path else default_path()
    try:
        data = YAML(typ="safe").load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def contexts(path: str | os.PathLike[str] | None) -> tuple[list[str], str | None]:
    """Context names (sorted) and the current context; ``([], None)`` when there is no usable file."""
    data = read(path)
    if data is None:
        return [], None
    names = sorted(str(c["name"]) for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name"))
    current = data.get("current-context")
    return names, (str(current) if current else None)
