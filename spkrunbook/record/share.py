"""A copy of a record for a vendor's support: nothing original in it, in any form; the original never touched.

The record is already free of secrets (it was scrubbed when the run ended); this
goes further for people outside the lab: the lab's addresses, MACs and node names
become stable placeholders (``capture.anonymize``), the same in the NAD YAML, the
OVN routes, the tables, the notebooks and inside the pcaps. Every file is rewritten
whole or left out and listed, never copied as it is:

- captures are rewritten frame by frame, streamed (a 2 GB capture in bounded memory);
  one this tool cannot rewrite whole (an unknown link type, a record claiming more
  than a frame can hold, a damaged pcapng block) is left out;
- text (YAML, CSV, logs, JSON) is rewritten, streamed in line-aligned chunks; JSON and
  notebooks string by string, so a name after a newline escape is found too;
- pictures are drawn again from the pseudonymised data by the debugging step's own
  plotting code (``redraw``, given by the caller: this layer cannot import the steps),
  with their text kept as text; a picture with nothing to draw it from is left out,
  and so is its place in a notebook (no broken image);
- notebook HTML and the run's ``index.html`` are made again from the rewritten files;
- symbolic links are never followed, special files never read;
- the copy is built in a hidden folder beside the destination and renamed into place
  only when complete, after a last pass that leaves out any file still holding an
  original address, MAC or name (or the first three octets of one, as a cut cell keeps).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..capture.anonymize import Pseudonyms, rewrite_capture_file
from ..errors import CaptureError, RecordError
from ..secrets import Scrubber
from .index import INDEX, write_run_index
from .render import render_html
from .store import RUN_FILE, Record, os_error, read

CAPTURES = (".pcap", ".pcapng", ".cap")
PICTURES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
TEXT = (".yaml", ".yml", ".txt", ".csv", ".diff", ".sh", ".md", ".log", ".out", ".err")
NODE_CHECKS = {"hugepages", "cpu-manager", "topology-manager", "master-interfaces", "node-capacity",
               "master-bridge-port"}
_DATA_IMG = re.compile(r"<img\b[^>]*\bsrc=['\"]data:(image/[a-z+]+);base64,([^'\"]+)['\"][^>]*>", re.I)
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
README = "SHARED-README.md"
_OVN_NODE = re.compile(r"(?:\bGR_|\brtos-|\brtoe-GR_|\brtoj-GR_|\bext_|\bk8s-|/\* )([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)(?= \*/|\b)")
#: Larger JSON or notebooks are not parsed whole (text is streamed instead; a notebook is left out).
MAX_PARSED = 64 << 20
_CHUNK = 1 << 20
PICTURE_NOTE = "[a picture the shared copy could not draw again from its data: left out]"

#: ``redraw(capture, name)``: the figures of that (pseudonymised) capture, {path relative to its step folder: content}.
Redraw = Callable[[Path, str], dict[str, "str | bytes"]]


@dataclass
class ShareResult:
    """What the shared copy holds and what was left out of it."""

    source: Path
    out: Path
    files: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)
    redrawn: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how much was left out, and why, grouped."""
        if not self.left_out:
            return "nothing was left out"
        why: dict[str, int] = {}
        for reason in self.left_out.values():
            key = reason.split(":")[0]
            why[key] = why.get(key, 0) + 1
        parts = ", ".join(f"{n} {k}" if n > 1 else k for k, n in sorted(why.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"{len(self.left_out)} file(s) left out ({parts}); {README} lists each"

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "out": str(self.out), "files": self.files, "captures": self.captures,
                "redrawn": self.redrawn, "left_out": self.left_out, "summary": self.summary(),
                "hosts_replaced": len(self.hosts), "notes": self.notes}


def _hosts(rec: Record) -> list[str]:
    """The lab's own names: its nodes (as the checks named them) and the API server's host."""
    names: set[str] = set()
    for step in rec.steps():
        for r in step.rows():
            if r.check in NODE_CHECKS and _DNS.match(r.subject or ""):
                names.add(r.subject)
    for txt in rec.path.glob("*/ovn/*.txt"):  # OVN names its routers and ports after every node
        try:
            if txt.is_file() and not txt.is_symlink() and txt.stat().st_size <= MAX_PARSED:
                names.update(m.group(1) for m in _OVN_NODE.finditer(txt.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            pass
    target = (rec.run or {}).get("target") or {}
    for value in (target.get("server"), target.get("name")) if isinstance(target, dict) else ():
        host = urlsplit(str(value)).hostname if value and "://" in str(value) else None
        if host and not re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
            names.add(host)
    return sorted(names)


def _walk(root: Path, result: ShareResult) -> Iterator[Path]:
    """Every regular file under ``root`` (relative), never following a link; links and special files listed."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                result.left_out[str((here / name).relative_to(root))] = "a symbolic link: never followed"
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        for name in sorted(files):
            p = here / name
            rel = p.relative_to(root)
            try:
                mode = p.lstat().st_mode
            except OSError as exc:
                result.left_out[str(rel)] = f"unreadable: {exc.strerror}"
                continue
            if stat.S_ISLNK(mode):
                result.left_out[str(rel)] = "a symbolic link: never followed"
            elif not stat.S_ISREG(mode):
                result.left_out[str(rel)] = "not a regular file (a FIFO, socket or device)"
            else:
                yield rel


class _Drawn(str):
    """A picture (SVG text or base64 PNG) drawn from the rewritten data: never rewritten again."""


class _Copy:
    """One share under way: the pseudonyms, the temporary folder, what is known about each file."""

    def __init__(self, rec: Record, tmp: Path, names: Pseudonyms, result: ShareResult, redraw: Redraw | None) -> None:
        self.rec, self.tmp, self.names, self.result, self.redraw = rec, tmp, names, result, redraw
        self.files: list[Path] = []  # the record's regular files, relative
        self.pictures: dict[str, str | bytes] = {}  # original relative path of a figure -> redrawn content
        self.by_hash: dict[str, str] = {}  # sha256 of an original picture -> its relative path

    def target(self, rel: Path) -> Path:
        out = self.tmp / self.names.text(str(rel))
        out.parent.mkdir(parents=True, exist_ok=True)
        return out

    def leave_out(self, rel: Path | str, why: str) -> None:
        self.result.left_out[str(rel)] = why

    def unreadable(self, rel: Path, exc: OSError) -> None:
        """A file of the record that cannot be read is left out; anything else (writing the copy: a full disk, a
        read-only folder) ends the share, which then leaves nothing behind."""
        if exc.filename is None or not str(exc.filename).startswith(str(self.rec.path)):
            raise exc
        self.leave_out(rel, f"unreadable: {exc.strerror}")

    # -- captures ------------------------------------------------------------------------------------------------
    def capture(self, rel: Path) -> None:
        out = self.target(rel)
        try:
            with open(self.rec.path / rel, "rb") as src, open(out, "wb") as dst:
                notes = rewrite_capture_file(src, dst, self.names)
        except CaptureError as exc:
            out.unlink(missing_ok=True)
            self.leave_out(rel, f"a capture that cannot be rewritten whole: {exc.message}")
            return
        except OSError as exc:
            out.unlink(missing_ok=True)
            self.unreadable(rel, exc)
            return
        self.result.notes += [f"{self.names.text(str(rel))}: {n}" for n in notes]
        self.result.captures.append(str(out.relative_to(self.tmp)))
        self.result.files.append(str(out.relative_to(self.tmp)))
        self._redraw(rel, out)

    def _redraw(self, rel: Path, shared: Path) -> None:
        """The capture's figures drawn again from its pseudonymised copy (``<step>/captures/<name>.<key>.<ext>``)."""
        if self.redraw is None or rel.parent.name != "captures":
            return
        prefix = f"{rel.parent / rel.stem}."
        if not any(str(f).startswith(prefix) and f.suffix.lower() in PICTURES for f in self.files):
            return  # no picture of it in the record: nothing to draw again (and no need to read it whole)
        try:
            drawn = self.redraw(shared, rel.stem)
        except (CaptureError, ValueError, OSError) as exc:
            self.result.notes.append(f"the figures of {self.names.text(str(rel))} could not be drawn again: {exc}")
            return
        step = rel.parent.parent
        for key, content in drawn.items():
            if key.lower().endswith(PICTURES):
                self.pictures[str(step / key)] = content

    # -- text ------------------------------------------------------------------------------------------------------
    def text(self, rel: Path) -> None:
        """A text file rewritten in line-aligned chunks, or left out saying why."""
        src = self.rec.path / rel
        out = self.target(rel)
        try:
            why = _stream_text(src, out, self.names)
        except OSError as exc:
            out.unlink(missing_ok=True)
            return self.unreadable(rel, exc)
        if why:
            out.unlink(missing_ok=True)
            self.leave_out(rel, why)
        else:
            self.result.files.append(str(out.relative_to(self.tmp)))
        return None

    def json(self, rel: Path) -> None:
        src = self.rec.path / rel
        try:
            if src.stat().st_size > MAX_PARSED:
                return self.text(rel)
            data = json.loads(src.read_bytes())
        except ValueError as exc:
            return self.leave_out(rel, f"damaged JSON: {exc}")
        except OSError as exc:
            return self.unreadable(rel, exc)
        out = self.target(rel)
        out.write_text(json.dumps(self._strings(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.result.files.append(str(out.relative_to(self.tmp)))
        return None

    def _strings(self, node: Any) -> Any:
        if isinstance(node, _Drawn):  # a picture drawn from the rewritten data: rewriting it again would remap it
            return str(node)
        if isinstance(node, str):
            return self.names.text(node)
        if isinstance(node, list):
            return [self._strings(v) for v in node]
        if isinstance(node, dict):
            return {self.names.text(str(k)): self._strings(v) for k, v in node.items()}
        return node

    # -- pictures and notebooks --------------------------------------------------------------------------------------
    def picture(self, rel: Path) -> None:
        drawn = self.pictures.get(str(rel))
        if drawn is None:
            self.leave_out(rel, "a picture with no data in the record to draw it again from")
            return
        out = self.target(rel)
        if isinstance(drawn, bytes):
            out.write_bytes(drawn)
        else:  # drawn from the rewritten data already: rewriting it again would map placeholders anew
            out.write_text(drawn, encoding="utf-8")
        self.result.redrawn.append(str(out.relative_to(self.tmp)))
        self.result.files.append(str(out.relative_to(self.tmp)))

    def _redrawn_for(self, raw: bytes) -> str | bytes | None:
        rel = self.by_hash.get(hashlib.sha256(raw).hexdigest())
        return self.pictures.get(rel) if rel is not None else None

    def notebook(self, rel: Path) -> None:
        src = self.rec.path / rel
        try:
            if src.stat().st_size > MAX_PARSED:
                return self.leave_out(rel, f"a notebook larger than {MAX_PARSED >> 20} MB: not read whole")
            nb = json.loads(src.read_bytes())
        except ValueError as exc:
            return self.leave_out(rel, f"a damaged notebook (not JSON: {exc})")
        except OSError as exc:
            return self.unreadable(rel, exc)
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            return self.leave_out(rel, "a damaged notebook (no cells)")
        dropped = 0
        for cell in nb["cells"]:
            if isinstance(cell, dict):
                dropped += sum(self._output(o) for o in cell.get("outputs") or [] if isinstance(o, dict))
        if isinstance(nb.get("metadata"), dict):
            nb["metadata"].pop("widgets", None)
        out = self.target(rel)
        out.write_text(json.dumps(self._strings(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if dropped:
            self.result.notes.append(f"{self.names.text(str(rel))}: {dropped} picture(s) with no data to draw them "
                                     "again from were left out")
        self.result.files.append(str(out.relative_to(self.tmp)))
        return None

    def _output(self, out: dict[str, Any]) -> int:
        """Each picture in one output drawn again from the shared data, or taken out; how many were taken out."""
        data = out.get("data")
        if not isinstance(data, dict):
            return 0
        dropped = 0
        for mime in [m for m in data if m.startswith("image/")]:
            raw = data[mime]
            raw = "".join(raw) if isinstance(raw, list) else str(raw)
            try:
                blob = raw.encode() if mime == "image/svg+xml" else base64.b64decode(raw)
            except ValueError:
                blob = b""
            drawn = self._redrawn_for(blob)
            if drawn is None or (mime == "image/svg+xml") != isinstance(drawn, str):
                del data[mime]
                dropped += 1
            else:
                data[mime] = _Drawn(drawn if isinstance(drawn, str) else base64.b64encode(drawn).decode())
        if "text/html" in data:
            html = "".join(data["text/html"]) if isinstance(data["text/html"], list) else str(data["text/html"])
            data["text/html"], n = self._html_images(html)
            dropped += n
        if dropped and not any(m.startswith("image/") for m in data):
            data["text/plain"] = PICTURE_NOTE
        return dropped

    def _html_images(self, html: str) -> tuple[str, int]:
        dropped = 0

        def one(m: re.Match[str]) -> str:
            nonlocal dropped
            try:
                drawn = self._redrawn_for(base64.b64decode(m.group(2)))
            except ValueError:
                drawn = None
            if isinstance(drawn, bytes):
                return f"<img src=\"data:{m.group(1)};base64,{base64.b64encode(drawn).decode()}\">"
            dropped += 1
            return f"<p>{PICTURE_NOTE}</p>"

        return _DATA_IMG.sub(one, html), dropped


def _stream_text(src: Path, out: Path, names: Pseudonyms) -> str:
    """Rewrite a text file in line-aligned chunks (bounded memory); the reason it cannot be, or ''."""
    with open(src, "rb") as fh, open(out, "w", encoding="utf-8") as dst:
        carry = b""
        while True:
            chunk = fh.read(_CHUNK)
            data = carry + chunk
            if not data:
                return ""
            if b"\0" in data:
                return "binary content (NUL bytes) in a text file"
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if cut == 0:
                if len(data) > 4 * _CHUNK:
                    return f"a line longer than {4 * _CHUNK:,} bytes"
                carry = data
                continue
            try:
                text = data[:cut].decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"not UTF-8 text (byte {exc.start:,} of a chunk)"
            dst.write(names.text(text))
            carry = data[cut:]
            if not chunk:
                return ""


def _leftover(tmp: Path, names: Pseudonyms) -> dict[str, str]:
    """Files of the copy still holding an original (address, MAC, name, or a /24's first three octets)."""
    found: dict[str, str] = {}
    for p in sorted(tmp.rglob("*")):
        if not p.is_file() or p.suffix.lower() in CAPTURES or p.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif"):
            continue  # packets are checked as they are rewritten (payloads are not rewritten: the README says so)
        with open(p, "rb") as fh:
            tail = ""
            while chunk := fh.read(_CHUNK):
                text = tail + chunk.decode("utf-8", "replace")
                if names.leak(text) is not None:
                    found[str(p.relative_to(tmp))] = "still held an original address, MAC or name after the rewrite"
                    break
                tail = text[-64:]
    return found


def share(record: str | Path, out: str | Path | None = None, *, redraw: Redraw | None = None) -> ShareResult:
    """Write the shared copy (``<record>-shared`` beside it by default); never overwrites anything.

    ``redraw`` draws a capture's figures again (the debugging step's ``captures.redraw``); without it every
    picture is left out. Raises ``RecordError`` when the copy cannot be made; then nothing is left behind.
    """
    rec = read(record)
    if rec.run is None:
        raise RecordError(f"{rec.path} has no readable {RUN_FILE}", hint="share a record `spkrunbook run` finished")
    dest = Path(out) if out is not None else rec.path.with_name(rec.path.name + "-shared")
    if dest.exists() or dest.is_symlink():
        raise RecordError(f"{dest} already exists; nothing was written", hint="remove it, or give another folder with --out")
    hosts = _hosts(rec)
    names = Pseudonyms(hosts)
    result = ShareResult(rec.path, dest, hosts=hosts)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    except OSError as exc:
        raise os_error("create", dest, exc) from None
    try:
        _build(rec, tmp, names, result, redraw)
        os.rename(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise os_error("write the shared copy", dest, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.files = sorted(set(result.files) - {names.text(k) for k in result.left_out})
    return result


def _build(rec: Record, tmp: Path, names: Pseudonyms, result: ShareResult, redraw: Redraw | None) -> None:
    copy = _Copy(rec, tmp, names, result, redraw)
    files = copy.files = list(_walk(rec.path, result))
    kind = {f: f.suffix.lower() for f in files}
    for f in files:  # captures first: their addresses and figures are what the rest is rewritten with
        if kind[f] in CAPTURES:
            copy.capture(f)
    for f in files:  # text captures next (tcpdump logs), then drawn again like the pcaps
        if kind[f] == ".txt" and f.parent.name == "captures":
            copy.text(f)
            if str(f) not in result.left_out:
                copy._redraw(f, tmp / names.text(str(f)))
    for f in files:
        if kind[f] in PICTURES:
            try:
                copy.by_hash[hashlib.sha256((rec.path / f).read_bytes()).hexdigest()] = str(f)
            except OSError:
                pass
    for f in files:
        k = kind[f]
        if k in CAPTURES or (k == ".txt" and f.parent.name == "captures"):
            continue
        if k in PICTURES:
            copy.picture(f)
        elif k == ".ipynb":
            copy.notebook(f)
        elif k == ".json":
            copy.json(f)
        elif k in TEXT:
            copy.text(f)
        elif k == ".html":
            continue  # made again below from the rewritten notebooks and run.json
        else:
            copy.leave_out(f, f"a {k or 'suffix-less'} file this tool cannot rewrite")
    _pages(tmp, files, copy)
    for rel, why in _leftover(tmp, names).items():
        (tmp / rel).unlink()
        result.left_out[rel] = why
    result.notes += names.notes
    _readme(tmp, rec, names, result)


def _pages(tmp: Path, files: list[Path], copy: _Copy) -> None:
    """The HTML pages made again from the rewritten files: each notebook's, and the run's index."""
    for f in files:
        if f.suffix.lower() != ".html":
            continue
        shared = copy.tmp / copy.names.text(str(f))
        ipynb = shared.with_suffix(".ipynb")
        if f.name == INDEX and f.parent == Path("."):
            continue
        if ipynb.is_file():
            try:
                render_html(ipynb, Scrubber())
                copy.result.files.append(str(shared.relative_to(tmp)))
            except Exception as exc:  # noqa: BLE001 - nbconvert fails in many ways; the page is left out, said why
                copy.leave_out(f, f"its notebook could not be rendered again ({type(exc).__name__})")
        else:
            copy.leave_out(f, "an HTML page with no notebook to make it again from")
    if (copy.rec.path / INDEX).is_file():
        if all(isinstance(s, dict) for s in (copy.rec.run or {}).get("steps") or []):
            write_run_index(tmp)
            copy.result.files.append(INDEX)
        else:
            copy.leave_out(INDEX, f"the run page, which cannot be made again from a damaged {RUN_FILE}")


def _readme(tmp: Path, rec: Record, names: Pseudonyms, result: ShareResult) -> None:
    lines = [f"# Shared copy of the lab record {names.text(rec.path.name)}", "",
             "Made with `spkrunbook records share`. IPv4 addresses keep their host octet, each /24 becoming a /24 of "
             "198.18.0.0/15; IPv6 prefixes become fd5b::/16 prefixes; MAC addresses become 02:5b:… ones; node and "
             f"server names become node-N ({len(result.hosts)} replaced). The same original always has the same "
             "placeholder, in every file and inside the captures (headers rewritten, checksums fixed; payloads are as "
             "captured). Every picture was drawn again from the rewritten data; a table cell the original cut short "
             "inside an address shows x.x.", "",
             f"{len(result.files)} file(s), {len(result.captures)} capture(s), {len(result.redrawn)} picture(s) drawn "
             f"again. {result.summary()}.", ""]
    if result.notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in result.notes] + [""]
    if result.left_out:
        lines += ["Left out:", ""] + [f"- `{names.text(k)}`: {v}" for k, v in sorted(result.left_out.items())]
    (tmp / README).write_text("\n".join(lines) + "\n", encoding="utf-8")  # names in it were rewritten above
