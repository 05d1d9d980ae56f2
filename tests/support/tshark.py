"""What tshark's own statistics print, read into plain Python: the yardstick Wireshark tables are held to.

``-z conv,tcp`` / ``conv,udp`` / ``conv,ip``, ``-z endpoints,ip``, ``-z io,phs`` and ``-z expert``
on a capture file, as tshark 4.0 prints them (byte counts as Wireshark's ``format_size``: ``9820
bytes``, ``222 kB``). Each parser says what it could not read instead of guessing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

#: ``10.1.10.22:56114 <-> 10.1.10.100:8080  163 222 kB  153 10 kB  316 233 kB  2.016038000  0.2609``
_CONV = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)\s+"
                   r"([\d.]+)\s+([\d.]+)\s*$")
_PHS = re.compile(r"^( *)(\S+)\s+frames:(\d+)\s+bytes:(\d+)\s*$")
_EXPERT_HEAD = re.compile(r"^(Errors|Warns|Notes|Chats) \((\d+)\)$")
_EXPERT_ROW = re.compile(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*?)\s*$")
SEVERITY = {"Errors": "Error", "Warns": "Warning", "Notes": "Note", "Chats": "Chat"}


def need_tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (scripts/bootstrap.sh test installs it)")
    return path


def stats(capture: Path, *z: str) -> str:
    """tshark's printed statistics (``-q -z ...``) of ``capture``."""
    args = [need_tshark(), "-n", "-r", str(capture), "-q"]
    for x in z:
        args += ["-z", x]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=300).stdout


@dataclass(frozen=True)
class Conversation:
    a: str
    b: str
    packets_ba: int
    bytes_ba: str
    packets_ab: int
    bytes_ab: str
    packets: int
    bytes: str
    rel_start: float
    duration: float


def conversations(capture: Path, kind: str) -> dict[tuple[str, str, float], Conversation]:
    """``-z conv,<kind>`` by (A, B, relative start) as tshark prints them (``addr:port`` for tcp/udp, ``addr``
    for ip): two connections on the same ports are two conversations, apart by their start."""
    out = {}
    for line in stats(capture, f"conv,{kind}").splitlines():
        m = _CONV.match(line)
        if m:
            g = m.groups()
            c = Conversation(g[0], g[1], int(g[2]), g[3], int(g[4]), g[5], int(g[6]), g[7], float(g[8]), float(g[9]))
            out[(c.a, c.b, round(c.rel_start, 6))] = c
    return out


def endpoints(capture: Path) -> dict[str, tuple[int, int, int, int, int, int]]:
    """``-z endpoints,ip``: address -> packets, bytes, tx packets, tx bytes, rx packets, rx bytes."""
    out = {}
    for line in stats(capture, "endpoints,ip").splitlines():
        parts = line.split()
        if len(parts) == 7 and all(p.isdigit() for p in parts[1:]):
            n = [int(p) for p in parts[1:]]
            out[parts[0]] = (n[0], n[1], n[2], n[3], n[4], n[5])
    return out


def hierarchy(capture: Path) -> dict[str, tuple[int, int]]:
    """``-z io,phs``: ``eth:ip:tcp`` -> (frames, bytes)."""
    out: dict[str, tuple[int, int]] = {}
    path: list[str] = []
    for line in stats(capture, "io,phs").splitlines():
        m = _PHS.match(line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        path = path[:depth] + [m.group(2)]
        out[":".join(path)] = (int(m.group(3)), int(m.group(4)))
    return out


def expert(capture: Path) -> dict[tuple[str, str, str, str], int]:
    """``-z expert``: (severity, group, protocol, summary) -> how many packets."""
    out: dict[tuple[str, str, str, str], int] = {}
    severity = ""
    for line in stats(capture, "expert").splitlines():
        head = _EXPERT_HEAD.match(line.strip())
        if head:
            severity = SEVERITY[head.group(1)]
            continue
        m = _EXPERT_ROW.match(line)
        if severity and m and m.group(1).isdigit():
            key = (severity, m.group(2), m.group(3), m.group(4))
            out[key] = out.get(key, 0) + int(m.group(1))
    return out


def fields(capture: Path, frames: list[int], *names: str) -> dict[int, list[str]]:
    """``-T fields`` of some frames: frame number -> the fields' values as tshark prints them."""
    filt = "frame.number in {" + ",".join(str(f) for f in frames) + "}"
    args = [need_tshark(), "-n", "-r", str(capture), "-Y", filt, "-T", "fields", "-e", "frame.number"]
    for n in names:
        args += ["-e", n]
    text = subprocess.run(args, capture_output=True, text=True, check=True, timeout=300).stdout
    return {int(row.split("\t")[0]): row.split("\t")[1:] for row in text.splitlines() if row.strip()}
