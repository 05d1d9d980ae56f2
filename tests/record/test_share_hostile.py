"""A vendor copy is all or nothing per file (issue 23 item 3): odd captures and odd records.

Each case is a small record made here. Before: pcaps of a link type the tool does not
know (9999, 0/NULL), cut inside the last packet, with a caplen of 0xFFFFFFF0, or a
pcapng with a bad interface id or block length were copied with their original
addresses and reported as shared; a symlink to a file outside the record was followed
and that file copied in; a share that failed halfway left a half-written ``-shared``
folder; 70,000 IPv6 prefixes ended it with exit 1 and no message; a 2 GB sparse pcap
took 209 s and 4.2 GB, a 2 GB sparse text file was killed at 300 s; ``records diff``
read each whole file into memory; a truncated ``.ipynb`` or ``run.json`` with steps as
strings gave tracebacks.
"""

from __future__ import annotations

import ipaddress
import json
import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from spkrunbook import cli
from spkrunbook.errors import RecordError
from spkrunbook.record.share import README, share
from tests.support.hostile import RSS_LIMIT_MB, run_cli, tiny_tmpfs

SRC, DST = "10.1.10.22", "10.1.10.100"
SRC_MAC = bytes.fromhex("005056a1b2c3")


def frame(src: str = SRC, dst: str = DST, payload: bytes = b"hello") -> bytes:
    """Ethernet / IPv4 / UDP with the given addresses (checksums zero: the rewrite adjusts what is there)."""
    udp = struct.pack("!HHHH", 40000, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, ipaddress.IPv4Address(src).packed,
                     ipaddress.IPv4Address(dst).packed)
    return bytes.fromhex("005056ffeedd") + SRC_MAC + b"\x08\x00" + ip + udp


def pcap(frames: list[bytes], linktype: int = 1, *, incl: list[int] | None = None) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for n, f in enumerate(frames):
        out += struct.pack("<IIII", 1, n, incl[n] if incl else len(f), len(f)) + f
    return out


def block(btype: int, body: bytes, *, length: int | None = None) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = length if length is not None else 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def pcapng(*blocks: bytes) -> bytes:
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + option(4, b"lab-host worker-1") + option(0, b""))
    return shb + b"".join(blocks)


def idb(linktype: int = 1, *options: bytes) -> bytes:
    return block(1, struct.pack("<HHI", linktype, 0, 262144) + b"".join(options) + (option(0, b"") if options else b""))


def epb(f: bytes, ifid: int = 0, caplen: int | None = None) -> bytes:
    return block(6, struct.pack("<IIIII", ifid, 0, 1, caplen if caplen is not None else len(f), len(f)) + f
                 + option(1, b"comment from worker-1 at 10.1.10.22") + option(0, b""))


@pytest.fixture
def record(tmp_path: Path) -> Path:
    rec = tmp_path / "records" / "20260101T000000Z-lab"
    (rec / "debugging" / "captures").mkdir(parents=True)
    (rec / "steps").mkdir()
    (rec / "run.json").write_text(json.dumps({"lab": "lab", "status": "passed", "started": "2026-01-01T00:00:00Z",
                                              "target": {"kind": "snapshot", "name": "must-gather"},
                                              "steps": [{"step": "debugging", "status": "passed"}]}))
    (rec / "steps" / "debugging.json").write_text(json.dumps({"findings": [{"title": "checks", "rows": [
        {"check": "master-interfaces", "status": "pass", "evidence": "ens224 up", "action": "", "subject": "worker-1"}]}]}))
    (rec / "notes.txt").write_text(f"TMM self IP {DST} on worker-1, MAC 00:50:56:a1:b2:c3\n")
    (rec / "index.html").write_text("<p>made by the run</p>")
    return rec


def shared_bytes(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())


def originals_absent(out: Path) -> None:
    data = shared_bytes(out)
    for needle in (SRC.encode(), DST.encode(), ipaddress.IPv4Address(SRC).packed, ipaddress.IPv4Address(DST).packed,
                   SRC_MAC, b"00:50:56:a1"):
        assert needle not in data, f"{needle!r} is still in the copy"


# -- captures: rewritten whole, or left out and listed ---------------------------------------------------------------------
@pytest.mark.parametrize(("name", "data", "why"), [
    ("linktype-9999.pcap", pcap([frame()], linktype=9999), "link type 9999 is not one whose addresses"),
    ("huge-caplen.pcap", pcap([frame()], incl=[0xFFFFFFF0]), "claims 4,294,967,280 bytes"),
    ("bad-ifid.pcapng", pcapng(idb(), epb(frame(), ifid=7)), "a packet for interface 7, which the file never described"),
    ("bad-length.pcapng", pcapng(idb(), block(6, b"\0" * 40, length=30)), "has a bad length 30"),
    ("bad-caplen.pcapng", pcapng(idb(), epb(frame(), caplen=5000)), "a packet claims 5,000 bytes"),
    ("idb-9999.pcapng", pcapng(idb(9999), epb(frame())), "interface 0 has link type 9999"),
    ("not-a-capture.pcap", b"GET / HTTP/1.1\r\nHost: 10.1.10.100\r\n", "not a pcap or pcapng file"),
], ids=lambda v: v if isinstance(v, str) and v.endswith((".pcap", ".pcapng")) else "")
def test_a_capture_that_cannot_be_rewritten_whole_is_left_out_and_listed(record: Path, tmp_path: Path, name: str,
                                                                         data: bytes, why: str) -> None:
    (record / "debugging" / "captures" / name).write_bytes(data)
    res = share(record, tmp_path / "shared")
    key = f"debugging/captures/{name}"
    assert why in res.left_out[key] and res.left_out[key].startswith("a capture that cannot be rewritten whole")
    assert not (res.out / key).exists() and not res.captures
    originals_absent(res.out)
    assert name in (res.out / README).read_text()


def test_null_loopback_and_cut_last_packets_are_rewritten_and_the_cut_said(record: Path, tmp_path: Path) -> None:
    null = struct.pack("<I", 2) + frame()[14:]  # BSD loopback: address family 2, then the IPv4 packet
    (record / "debugging" / "captures" / "lo.pcap").write_bytes(pcap([null], linktype=0))
    cut = pcap([frame(), frame(DST, SRC)])
    (record / "debugging" / "captures" / "cut.pcap").write_bytes(cut[:-7])
    res = share(record, tmp_path / "shared")
    assert sorted(res.captures) == ["debugging/captures/cut.pcap", "debugging/captures/lo.pcap"], res.left_out
    originals_absent(res.out)
    assert (res.out / "debugging/captures/cut.pcap").stat().st_size == len(pcap([frame()]))
    assert any("cut.pcap: the original's last packet (2) was cut short" in n for n in res.notes)


def test_pcapng_blocks_and_options_that_can_hold_names_are_left_out(record: Path, tmp_path: Path) -> None:
    nrb = block(4, struct.pack("<HH", 1, 13) + ipaddress.IPv4Address(DST).packed + b"worker-1\0" + b"\0" * 3
                + struct.pack("<HH", 0, 0))
    data = pcapng(idb(1, option(2, b"ens224 on worker-1"), option(4, ipaddress.IPv4Address(SRC).packed + b"\xff" * 4),
                      option(9, b"\x06")), nrb, epb(frame()), block(0x40000BAD, b"F5\0\0" + DST.encode()))
    (record / "debugging" / "captures" / "opts.pcapng").write_bytes(data)
    res = share(record, tmp_path / "shared")
    assert res.captures == ["debugging/captures/opts.pcapng"], res.left_out
    originals_absent(res.out)
    assert b"worker-1" not in shared_bytes(res.out)
    assert any("1 custom, 1 name resolution" in n for n in res.notes), res.notes
    if subprocess.run(["which", "tshark"], capture_output=True).returncode == 0:
        shown = subprocess.run(["tshark", "-r", str(res.out / "debugging/captures/opts.pcapng"), "-T", "fields",
                                "-e", "ip.src", "-e", "ip.dst"], capture_output=True, text=True, check=True).stdout
        assert shown.split() == ["198.18.0.22", "198.18.0.100"], shown


# -- links, special files, a failure halfway ---------------------------------------------------------------------------------
def test_symlinks_are_never_followed_out_of_the_record(record: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret-plan.txt").write_text("the lab's real addressing plan: 10.9.9.9 worker-77\n")
    (record / "plan.txt").symlink_to(outside / "secret-plan.txt")
    (record / "debugging" / "elsewhere").symlink_to(outside)
    os.mkfifo(record / "pipe.txt")
    res = share(record, tmp_path / "shared")
    assert res.left_out["plan.txt"] == res.left_out["debugging/elsewhere"] == "a symbolic link: never followed"
    assert res.left_out["pipe.txt"].startswith("not a regular file")
    assert b"10.9.9.9" not in shared_bytes(res.out) and b"worker-77" not in shared_bytes(res.out)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tiny_tmpfs(tmp_path / "disk", "256k") as mnt:
        yield mnt


def test_a_share_that_fails_halfway_leaves_nothing_behind(record: Path, tiny_disk: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (record / "big.txt").write_text(f"{DST} flow\n" * 60_000)  # about 1 MB: more than the disk holds
    assert cli.main(["records", "share", str(record), "--out", str(tiny_disk / "shared")]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert f"cannot write the shared copy {tiny_disk / 'shared'}: the disk is full" in said, said
    assert list(tiny_disk.iterdir()) == [], "no half-written copy, no hidden partial folder"


# -- the pseudonym space, and large files in bounded memory --------------------------------------------------------------------
def test_seventy_thousand_ipv6_prefixes_and_six_hundred_ipv4_networks(record: Path, tmp_path: Path) -> None:
    lines = [f"2001:db8:{i // 65536:x}:{i % 65536:x}::1 seen" for i in range(70_000)]
    lines += [f"10.{i // 256}.{i % 256}.7 seen" for i in range(600)]
    (record / "addresses.txt").write_text("\n".join(lines) + "\n")
    res = share(record, tmp_path / "shared")
    text = (res.out / "addresses.txt").read_text().splitlines()
    assert len(set(text)) == 70_600, "each original kept its own placeholder"
    assert text[69_999].startswith("fd5b:0:1:1170::") and text[-1].startswith("240.0.")
    assert any("those after the first 512 became /24s of 240.0.0.0/4" in n for n in res.notes)
    assert "240.0.0.0/4" in (res.out / README).read_text()


@pytest.mark.slow
def test_sparse_two_gigabyte_files_are_refused_fast_in_bounded_memory(record: Path, tmp_path: Path) -> None:
    captures = record / "debugging" / "captures"
    with open(captures / "sparse.pcap", "wb") as fh:
        fh.write(pcap([]))
        fh.truncate(2 << 30)
    with open(record / "sparse.txt", "wb") as fh:
        fh.truncate(2 << 30)
    ended = run_cli(["records", "share", str(record), "--out", str(tmp_path / "shared"), "--json"])
    print(ended)
    assert ended.returncode == 0 and ended.rss_mb is not None and ended.rss_mb < RSS_LIMIT_MB, ended
    assert ended.seconds < 30, ended
    left = json.loads(ended.stdout)["left_out"]
    assert "record 1 has no length" in left["debugging/captures/sparse.pcap"]
    assert left["sparse.txt"] == "binary content (NUL bytes) in a text file"


@pytest.mark.slow
def test_a_large_real_capture_streams_in_bounded_memory(record: Path, tmp_path: Path) -> None:
    one = frame(payload=b"x" * 1400)
    count = 220_000  # about 320 MB of frames
    with open(record / "debugging" / "captures" / "big.pcap", "wb") as fh:
        fh.write(pcap([]))
        rec = struct.pack("<IIII", 1, 0, len(one), len(one)) + one
        for _ in range(count // 1000):
            fh.write(rec * 1000)
    ended = run_cli(["records", "share", str(record), "--out", str(tmp_path / "shared"), "--json"])
    assert ended.returncode == 0 and ended.rss_mb is not None and ended.rss_mb < RSS_LIMIT_MB, ended
    out = tmp_path / "shared" / "debugging" / "captures" / "big.pcap"
    assert out.stat().st_size == (record / "debugging" / "captures" / "big.pcap").stat().st_size
    with open(out, "rb") as fh:
        fh.seek(24 + 16)
        assert ipaddress.IPv4Address(DST).packed not in fh.read(1 << 20)
    print(ended)


@pytest.mark.slow
def test_records_diff_hashes_a_two_gigabyte_file_in_bounded_memory(record: Path, tmp_path: Path) -> None:
    other = tmp_path / "records" / "20260101T000001Z-lab"
    import shutil

    shutil.copytree(record, other)
    for rec, fill in ((record, b"a"), (other, b"b")):
        with open(rec / "big.bin", "wb") as fh:
            fh.truncate(2 << 30)
            fh.seek((2 << 30) - 1)
            fh.write(fill)
    ended = run_cli(["records", "diff", str(record), str(other), "--json"])
    print(ended)
    assert ended.returncode == 0 and ended.rss_mb is not None and ended.rss_mb < RSS_LIMIT_MB, ended
    changes = json.loads(ended.stdout)["changes"]
    assert {"what": "file", "where": "big.bin", "before": "present", "after": "changed"} in changes


# -- damaged records ----------------------------------------------------------------------------------------------------
def test_a_truncated_notebook_and_run_json_with_steps_as_strings(record: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    nb = json.dumps({"cells": [{"cell_type": "code", "source": f"# {DST}", "outputs": []}], "metadata": {},
                     "nbformat": 4, "nbformat_minor": 5})
    (record / "04-debugging.ipynb").write_text(nb[: len(nb) // 2])
    (record / "run.json").write_text(json.dumps({"lab": "lab", "status": "passed", "steps": ["debugging", "passed"]}))
    res = share(record, tmp_path / "shared")
    assert res.left_out["04-debugging.ipynb"].startswith("a damaged notebook (not JSON")
    assert res.left_out["index.html"].startswith("the run page, which cannot be made again from a damaged run.json")
    originals_absent(res.out)
    assert cli.main(["records", "--records", str(record.parent)]) == 0
    assert cli.main(["records", "diff", str(record), str(res.out)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_share_refuses_an_existing_destination_and_writes_nothing(record: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(RecordError):
        share(record, tmp_path / "taken")
    assert list((tmp_path / "taken").iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".taken.partial-")]
