"""A copy of a record for a vendor's support: addresses, MACs and host names replaced consistently
across every file (and inside the captures), the original never touched.

The record is already free of secrets (it was scrubbed when the run ended); this
goes further for people outside the lab: the lab's addressing plan, its MACs and
its node names become stable placeholders (``capture.anonymize``), the same in the
NAD YAML, the OVN routes and the pcap. Pictures are left out, because they carry
addresses drawn into pixels; everything left out is listed in the copy's README.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..capture.anonymize import Pseudonyms, rewrite_capture
from ..errors import CaptureError, RecordError
from .store import Record, os_error, read, write_bytes, write_text

CAPTURES = (".pcap", ".pcapng", ".cap")
PICTURES = (".png", ".jpg", ".jpeg", ".gif")
TEXT = (".json", ".yaml", ".yml", ".txt", ".csv", ".diff", ".sh", ".md", ".log", ".svg", ".out", ".err", ".html",
        ".ipynb")
NODE_CHECKS = {"hugepages", "cpu-manager", "topology-manager", "master-interfaces", "node-capacity",
               "master-bridge-port"}
_DATA_IMG = re.compile(r"<img\b[^>]*\bsrc=['\"]data:image/[^'\"]+['\"][^>]*>", re.I)
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
README = "SHARED-README.md"
_OVN_NODE = re.compile(r"(?:\bGR_|\brtos-|\brtoe-GR_|\brtoj-GR_|\bext_|\bk8s-|/\* )([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)(?= \*/|\b)")


@dataclass
class ShareResult:
    """What the shared copy holds and what was left out of it."""

    source: Path
    out: Path
    files: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "out": str(self.out), "files": self.files, "captures": self.captures,
                "left_out": self.left_out, "hosts_replaced": len(self.hosts)}


def _hosts(rec: Record) -> list[str]:
    """The lab's own names: its nodes (as the checks named them) and the API server's host."""
    names: set[str] = set()
    for step in rec.steps():
        for r in step.rows():
            if r.check in NODE_CHECKS and _DNS.match(r.subject or ""):
                names.add(r.subject)
    for txt in rec.path.glob("*/ovn/*.txt"):  # OVN names its routers and ports after every node
        try:
            names.update(m.group(1) for m in _OVN_NODE.finditer(txt.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            pass
    target = (rec.run or {}).get("target") or {}
    for value in (target.get("server"), target.get("name")):
        host = urlsplit(str(value)).hostname if value and "://" in str(value) else None
        if host and not re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
            names.add(host)
    return sorted(names)


def _notebook(text: str) -> str:
    """An executed notebook without its pictures (each replaced by a line saying so)."""
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data") or {}
            for mime in [m for m in data if m.startswith("image/") and m != "image/svg+xml"]:
                del data[mime]
                data.setdefault("text/plain", ["[picture left out of the shared copy]"])
            if "text/html" in data:
                html = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
                data["text/html"] = _DATA_IMG.sub("<p>[picture left out of the shared copy]</p>", html)
    nb.get("metadata", {}).pop("widgets", None)
    return json.dumps(nb, indent=1, ensure_ascii=False)


def share(record: str | Path, out: str | Path | None = None) -> ShareResult:
    """Write the shared copy (``<record>-shared`` beside it by default); never overwrites anything."""
    rec = read(record)
    if rec.run is None:
        raise RecordError(f"{rec.path} has no readable run.json", hint="share a record `spkrunbook run` finished")
    dest = Path(out) if out is not None else rec.path.with_name(rec.path.name + "-shared")
    if dest.exists():
        raise RecordError(f"{dest} already exists; nothing was written",
                          hint="remove it, or give another folder with --out")
    hosts = _hosts(rec)
    names = Pseudonyms(hosts)
    result = ShareResult(rec.path, dest, hosts=hosts)
    try:
        dest.mkdir(parents=True)
    except OSError as exc:
        raise os_error("create", dest, exc) from None
    for path in sorted(p for p in rec.path.rglob("*") if p.is_file()):
        rel = str(path.relative_to(rec.path))
        new_rel = names.text(rel)
        suffix = path.suffix.lower()
        target = dest / new_rel
        if suffix in PICTURES:
            result.left_out[rel] = "a picture: addresses are drawn into it; the figures' data is in the CSV/JSON"
            continue
        data = path.read_bytes()
        if suffix in CAPTURES:
            try:
                write_bytes(target, rewrite_capture(data, names))
            except CaptureError as exc:
                result.left_out[rel] = f"a capture that could not be rewritten: {exc.message}"
                continue
            result.captures.append(new_rel)
        elif suffix in TEXT:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                result.left_out[rel] = "not UTF-8 text"
                continue
            if suffix == ".ipynb":
                text = _notebook(text)
            elif suffix == ".html":
                text = _DATA_IMG.sub("<p>[picture left out of the shared copy]</p>", text)
            write_text(target, names.text(text))
        else:
            result.left_out[rel] = f"a {suffix or 'suffix-less'} file this tool cannot rewrite"
            continue
        result.files.append(new_rel)
    lines = [f"# Shared copy of the lab record {names.text(rec.path.name)}", "",
             "Made with `spkrunbook records share`. IPv4 addresses keep their host octet, each /24 becoming a /24 of "
             "198.18.0.0/15; IPv6 prefixes become fd5b::/16 prefixes; MAC addresses become 02:5b:… ones; node and "
             f"server names become node-N ({len(hosts)} replaced). The same original always has the same placeholder, "
             "in every file and inside the captures (headers rewritten, checksums fixed; payloads are as captured).",
             "", f"{len(result.files)} file(s), {len(result.captures)} capture(s).", ""]
    if result.left_out:
        lines += ["Left out:", ""] + [f"- `{names.text(k)}`: {v}" for k, v in sorted(result.left_out.items())]
    write_text(dest / README, "\n".join(lines) + "\n")
    return result
