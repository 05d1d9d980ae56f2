"""Keep secrets out of records, logs and notebook outputs.

Two layers: known values (the lab's secrets and every credential in the
kubeconfig it points at) are replaced wherever they appear, and well-known
shapes (bearer tokens, ``password:`` fields, PEM private keys, docker config
auths) are masked even when we did not know the value.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ruamel.yaml import YAML

if TYPE_CHECKING:
    from .params import Lab

MASK = "***"
# Shorter strings would match too much ordinary text to be worth masking.
MIN_SECRET_LEN = 6

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), MASK),
    (re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1" + MASK),
    # YAML-style "key: value" lines with an unquoted secret-like key (JSON keys are quoted
    # and handled below, so JSON files stay valid).
    (
        re.compile(
            r"(?im)^(\s*-?\s*(?:password|passwd|token|client-key-data|client_key|secret|\.dockerconfigjson)\s*:\s+)"
            r"(?![\"']?\*\*\*)(?!null\s*$)(?!~\s*$)(?![\"']?\$\{)(\S[^\n]*)$"
        ),
        # quoted: a bare *** would read as a YAML alias
        r'\1"' + MASK + '"',
    ),
    (re.compile(r"(\"(?:password|token|auth|client-key-data)\"\s*:\s*\")(?!\*\*\*)[^\"]+(\")", re.I), r"\1" + MASK + r"\2"),
    (re.compile(r"(?i)(--(?:password|token|docker-password)[= ])\S+"), r"\1" + MASK),
]

_KUBECONFIG_SECRET_KEYS = {"token", "password", "client-key-data", "client-key", "id-token", "refresh-token", "access-token", "client-secret"}


def _walk_secrets(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _KUBECONFIG_SECRET_KEYS and isinstance(v, str):
                out.add(v)
                if k == "client-key-data":
                    try:
                        out.update(line for line in base64.b64decode(v).decode().splitlines() if len(line) > 20)
                    except Exception:  # noqa: BLE001 - not base64: the raw value is masked anyway
                        pass
            elif k == "env" and isinstance(v, list):  # exec credential plugins
                for item in v:
                    if isinstance(item, dict) and isinstance(item.get("value"), str):
                        out.add(item["value"])
            else:
                _walk_secrets(v, out)
    elif isinstance(node, list):
        for v in node:
            _walk_secrets(v, out)


def kubeconfig_secrets(path: Path | None) -> set[str]:
    """Every credential value in a kubeconfig file (empty when there is none)."""
    if path is None or not Path(path).is_file():
        return set()
    try:
        data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - an unreadable kubeconfig has nothing to scrub
        return set()
    out: set[str] = set()
    _walk_secrets(data, out)
    return out


@dataclass
class Scrubber:
    """Masks known secret values and secret-shaped text."""

    secrets: set[str] = field(default_factory=set)

    @classmethod
    def for_lab(cls, lab: "Lab", extra: Iterable[str] = ()) -> "Scrubber":
        secrets = set(lab.secrets()) | kubeconfig_secrets(lab.target.kubeconfig) | set(extra)
        return cls({s for s in secrets if s and len(s) >= MIN_SECRET_LEN})

    def add(self, *values: str) -> None:
        self.secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LEN)

    def text(self, text: str) -> str:
        for s in sorted(self.secrets, key=len, reverse=True):
            if s in text:
                text = text.replace(s, MASK)
            b64 = base64.b64encode(s.encode()).decode()
            if b64 in text:
                text = text.replace(b64, MASK)
        for pat, repl in _PATTERNS:
            text = pat.sub(repl, text)
        return text

    def bytes_contain_secret(self, data: bytes) -> bool:
        return any(s.encode() in data for s in self.secrets)

    def file(self, path: Path) -> bool:
        """Scrub a text file in place; binary files are left alone. True when it changed."""
        try:
            original = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            return False
        cleaned = self.text(original)
        if cleaned != original:
            path.write_text(cleaned, encoding="utf-8")
            return True
        return False
