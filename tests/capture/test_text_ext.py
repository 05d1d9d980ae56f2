"""IPv6 lines with extension headers keep their protocol and ports (issue 16).

After an extension header tcpdump prints the ports alone:
``fd00::1 > fd00::2: HBH 40000 > 443: Flags [P.], ...``.  The capture is made
here, rendered by the real tcpdump, and checked against our pcap reader and
tshark.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from spkrunbook.capture import read_pcap, read_tcpdump_text, text

S = bytes.fromhex("fd000000000000000000000000000001")
D = bytes.fromhex("fd000000000000000000000000000002")
pytestmark = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")


def _ip6(nh: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + S + D + payload


def _opt(nh: int) -> bytes:  # hop-by-hop / destination options header with one PadN option
    return bytes([nh, 0]) + b"\x01\x04\x00\x00\x00\x00"


def _capture(path: Path) -> None:
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, 0x50, 0x18, 502, 0, 0) + b"x" * 10
    udp = struct.pack("!HHHH", 5000, 5001, 8 + 4, 0) + b"abcd"
    pkts = [_ip6(0, _opt(6) + tcp), _ip6(0, _opt(17) + udp), _ip6(60, _opt(6) + tcp), _ip6(0, _opt(60) + _opt(6) + tcp),
            _ip6(43, bytes([6, 0, 0, 0, 0, 0, 0, 0]) + tcp), _ip6(6, tcp)]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, p in enumerate(pkts):
            e = b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + p
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(e), len(e)) + e)


@pytest.mark.parametrize("flags", [["-nn"], ["-nn", "-e"], ["-nn", "-tttt"], ["-tt"]])
def test_ipv6_extension_headers_keep_protocol_and_ports(tmp_path: Path, flags: list[str]) -> None:
    pcap = tmp_path / "ext.pcap"
    _capture(pcap)
    out = subprocess.run(["tcpdump", *flags, "-r", str(pcap)], capture_output=True, text=True, check=True).stdout
    lines = [ln for ln in out.splitlines() if not ln.startswith(" ")]  # -v continuation lines aside
    assert "HBH" in out and "DSTOPT" in out
    ref = read_pcap(pcap)
    cols = ["protocol", "sport", "dport", "ip_proto", "src", "dst"]
    want = ref[cols].astype(object).values.tolist()
    fast = read_tcpdump_text(lines)
    slow = text._read_python(lines, "<lines>", "UTC")
    for df in (fast, slow):
        assert df[cols].astype(object).values.tolist() == want
    if shutil.which("tshark"):
        ts = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-E", "occurrence=f", "-e", "tcp.srcport",
                             "-e", "udp.srcport", "-e", "tcp.dstport", "-e", "udp.dstport"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
        got = [[int(x) for x in ln.split("\t") if x] for ln in ts]
        assert got == [[int(r[1]), int(r[2])] for r in want]
