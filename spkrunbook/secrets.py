"""What a secret is, what it looks like masked, and the scrubber that keeps it out of records and logs.

Three layers, all answered here:

- **known values**: the lab's secrets and every credential in the kubeconfig it
  points at, replaced wherever they appear (also base64-encoded);
- **by shape in a document** (a values file, a kubeconfig): keys whose name says
  password/token/secret/key/license, env entries (``{name, value}``) whose name
  says TOKEN, PASSWORD, SECRET, KEY or LICENSE, and PEM private keys (also base64);
- **by shape in text**: bearer tokens, ``password:`` lines, PEM blocks, docker
  config auths, ``--password=`` flags.

The params file never needs a secret: ``${ENV}`` references are written back
instead (``ENV_REFS``), and a lab handed to a papermill kernel carries only such
references.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class _Target(Protocol):
    kubeconfig: Path | None


class SecretHolder(Protocol):
    """What ``Scrubber.for_lab`` needs of a lab (``params.Lab`` is one): its secret values and its kubeconfig.
    A protocol, so this module, which ``params`` imports, imports nothing of ``params``."""

    @property
    def target(self) -> _Target: ...

    def secrets(self) -> list[str]: ...

MASK = "***"
# Shorter strings would match too much ordinary text to be worth masking.
MIN_SECRET_LEN = 6

#: Params fields that hold secrets, and the environment variable written in their place.
ENV_REFS: dict[str, str] = {
    "target.token": "SPKRUNBOOK_TOKEN",
    "install.image_credentials.password": "SPKRUNBOOK_REGISTRY_PASSWORD",
}

# Keys of a YAML/JSON document whose string value is a secret.
_SECRET_KEY = re.compile(
    r"(?i)^(.*password|passwd|passphrase|.*token|.*secret|.*apikey|api[-_]key|.*[-_.]key|key|.*key-?data|jwt|auth"
    r"|.*license(key)?|.*licen[cs]e[-_]?key|.*credentials?|\.dockerconfigjson)$"
)
# Known secret-bearing values of the f5ingress chart (beyond what the key names say).
CHART_SECRET_KEYS: frozenset[str] = frozenset({
    "imageCredentials.password", "controller.licenseKey", "cwc.licenseKey", "license.jwt", "jwt",
})
# Env entries ({name: ..., value: ...}) whose name says the value is secret.
_SECRET_ENV_NAME = re.compile(r"(?i)(TOKEN|PASSWORD|PASSWD|SECRET|(^|_)KEY($|_)|APIKEY|LICENSE|CREDENTIAL|JWT)")
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")

_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), MASK),
    (re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s\"']+"), r"\1" + MASK),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1" + MASK),
    # YAML-style "key: value" lines with an unquoted secret-like key (JSON keys are quoted
    # and handled below, so JSON files stay valid).
    (
        re.compile(
            r"(?im)^(\s*-?\s*(?:password|passwd|token|client-key-data|client_key|secret|licenseKey|\.dockerconfigjson)\s*:\s+)"
            r"(?![\"']?\*\*\*)(?!null\s*$)(?!~\s*$)(?![\"']?\$\{)(\S[^\n]*)$"
        ),
        # quoted: a bare *** would read as a YAML alias
        r'\1"' + MASK + '"',
    ),
    # A whole ``${ENV}`` reference is not a secret but where one comes from: lab.json hands it to the kernels.
    (re.compile(r"(\"(?:password|token|auth|client-key-data|licenseKey)\"\s*:\s*\")(?!\*\*\*)"
                r"(?!\$\{[A-Za-z_][A-Za-z0-9_]*\}\")[^\"]+(\")", re.I),
     r"\1" + MASK + r"\2"),
    (re.compile(r"(?i)(--(?:password|token|docker-password)[= ])\S+"), r"\1" + MASK),
]

_KUBECONFIG_SECRET_KEYS = {"token", "password", "client-key-data", "client-key", "id-token", "refresh-token",
                           "access-token", "client-secret"}


def is_secret_key(key: object, path: str = "") -> bool:
    """Whether a mapping key (at dotted ``path``) holds a secret by its name."""
    return bool(_SECRET_KEY.match(str(key))) or (path in CHART_SECRET_KEYS)


def is_secret_env_name(name: object) -> bool:
    """Whether an environment variable's name says its value is a secret (``SPK_API_TOKEN``)."""
    return bool(_SECRET_ENV_NAME.search(str(name)))


def looks_private(value: str) -> bool:
    """A PEM private key, plain or base64-encoded (kubeconfig ``client-key-data`` style)."""
    if _PEM_PRIVATE.search(value):
        return True
    compact = re.sub(r"\s+", "", value)
    if len(compact) < 40 or not re.fullmatch(r"[A-Za-z0-9+/=]+", compact):
        return False
    try:
        decoded = base64.b64decode(compact, validate=True).decode("utf-8", "ignore")
    except (binascii.Error, ValueError):
        return False
    return bool(_PEM_PRIVATE.search(decoded))


def _is_ref(value: str) -> bool:
    return value.startswith("${") or value == MASK


def secret_slots(node: Any, path: str = "") -> Iterator[tuple[Any, Any, str]]:
    """(container, key, value) for every secret string in a parsed document, by key, env name or shape.

    Works on plain dicts/lists and on ruamel's round-trip types, so a caller can
    replace the value in place and keep the file's formatting.
    """
    if isinstance(node, Mapping):
        env_like = "name" in node and "value" in node and is_secret_env_name(node.get("name"))
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if isinstance(v, str):
                if not v or _is_ref(v):
                    continue
                if (k == "value" and env_like) or (k != "name" and is_secret_key(k, here)) or looks_private(v):
                    yield node, k, v
            else:
                yield from secret_slots(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, str):
                if v and not _is_ref(v) and looks_private(v):
                    yield node, i, v
            else:
                yield from secret_slots(v, f"{path}[{i}]")


def secret_values(doc: Any) -> set[str]:
    """Every secret value in a document, plus the lines of multi-line ones (block scalars)."""
    out: set[str] = set()
    for _, _, v in secret_slots(doc):
        out.add(v)
        out.update(line.strip() for line in v.splitlines() if len(line.strip()) >= 8)
    return out


def _walk_kubeconfig(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _KUBECONFIG_SECRET_KEYS and isinstance(v, str):
                out.add(v)
                if k == "client-key-data":
                    try:
                        out.update(line for line in base64.b64decode(v).decode().splitlines() if len(line) > 20)
                    except (binascii.Error, ValueError, UnicodeDecodeError):
                        pass  # not base64: the raw value is masked anyway
            elif k == "env" and isinstance(v, list):  # exec credential plugins
                for item in v:
                    if isinstance(item, dict) and isinstance(item.get("value"), str):
                        out.add(item["value"])
            else:
                _walk_kubeconfig(v, out)
    elif isinstance(node, list):
        for v in node:
            _walk_kubeconfig(v, out)


def kubeconfig_secrets(path: Path | str | None) -> set[str]:
    """Every credential value in a kubeconfig file (empty when there is none or it is unreadable)."""
    from . import kubeconfig

    if path is None:
        return set()
    data = kubeconfig.read(path)
    out: set[str] = set()
    if data is not None:
        _walk_kubeconfig(data, out)
    return out


#: Credentials this process obtained at run time (an exec plugin's token, a refreshed OIDC token, a
#: service account's token file, any bearer token the client sent): every Scrubber masks them.
_RUNTIME: set[str] = set()


def remember(*values: str) -> None:
    """Register credentials the moment they are obtained, so no output of this process can carry them."""
    _RUNTIME.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LEN)


def remembered() -> frozenset[str]:
    """What ``remember`` has registered in this process."""
    return frozenset(_RUNTIME)


@dataclass
class Scrubber:
    """Masks known secret values and secret-shaped text."""

    secrets: set[str] = field(default_factory=set)

    @classmethod
    def for_lab(cls, lab: SecretHolder, extra: Iterable[str] = ()) -> Scrubber:
        secrets = set(lab.secrets()) | kubeconfig_secrets(lab.target.kubeconfig) | set(extra)
        return cls({s for s in secrets if s and len(s) >= MIN_SECRET_LEN})

    def add(self, *values: str) -> None:
        self.secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LEN)

    def text(self, text: str) -> str:
        for s in sorted(self.secrets | _RUNTIME, key=len, reverse=True):
            if s in text:
                text = text.replace(s, MASK)
            b64 = base64.b64encode(s.encode()).decode()
            if b64 in text:
                text = text.replace(b64, MASK)
        for pat, repl in _TEXT_PATTERNS:
            text = pat.sub(repl, text)
        return text

    def bytes_contain_secret(self, data: bytes) -> bool:
        return any(s.encode() in data for s in self.secrets | _RUNTIME)

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
