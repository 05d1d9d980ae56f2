"""Hostile capture inputs end in a message, in bounded memory, never in a hang.

Memory is measured in a fresh interpreter that resets its own peak-RSS mark
after its imports (``/proc/self/clear_refs``) and reports ``VmHWM`` minus the
RSS at that point: what the read itself added.  The bounds are generous (the
point is "a fixed budget", not a number); no timing assertions.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from spkrunbook.capture import (
    CaptureLimitWarning,
    CaptureTruncatedWarning,
    read_capture,
    read_pcap,
    read_pcap_stream,
    read_tcpdump_text,
)
from spkrunbook.capture import limits as caplimits
from spkrunbook.errors import CaptureError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "captures"
PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
MiB = 2**20

CHILD = r'''
import json, sys, warnings
import numpy, pandas, pyarrow
import spkrunbook.capture as cap
def status(k):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(k + ":"):
                return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS")
out = {}
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        df = getattr(cap, sys.argv[2])(sys.argv[1], **json.loads(sys.argv[3]))
        out["packets"] = len(df)
        out["attrs"] = {k: v for k, v in df.attrs.items() if k != "unparsed"}
    except cap.CaptureError as e:
        out["error"] = str(e)
out["warnings"] = [str(x.message) for x in w]
out["peak"] = status("VmHWM") - base
print(json.dumps(out, default=str))
'''


def _measure(path: Path, func: str = "read_capture", **kw: object) -> dict:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc/self/clear_refs to measure peak memory")
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), func, json.dumps(kw)], capture_output=True, text=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _sparse_zeros(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.write(PCAP_HDR)
        f.truncate(size)
    return path


# --------------------------------------------------------------------------- memory, in a fresh process
def test_pcap_header_then_zeros_is_an_error_in_bounded_memory(tmp_path: Path) -> None:
    out = _measure(_sparse_zeros(tmp_path / "z.pcap", 256 * MiB))
    assert "zero-length records" in out["error"] and "what to do" in out["error"]
    assert out["peak"] < 200 * MiB, out  # was ~3 GB for 256 MB of zeros (one row per 16-byte record)


@pytest.mark.slow
def test_two_gigabyte_sparse_file_is_an_error_in_bounded_memory(tmp_path: Path) -> None:
    out = _measure(_sparse_zeros(tmp_path / "z.pcap", 2 * 2**30))
    assert "zero-length records" in out["error"]
    assert out["peak"] < 200 * MiB, out  # was a MemoryError traceback


def test_record_claiming_a_gigabyte_stops_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "big.pcap"
    with open(p, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFFFFF, 1))  # snaplen 4 GB
        f.write(struct.pack("<IIII", 1, 0, 2**30, 2**30))
        f.truncate(100 * MiB)
    out = _measure(p)
    assert out["packets"] == 0 and any("damaged" in w for w in out["warnings"]), out
    assert out["peak"] < 100 * MiB, out


def test_pcapng_block_with_absurd_length_is_an_error(tmp_path: Path) -> None:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20)
    for blen in (0xFFFFFFF0, 0x0FFFFFF0, caplimits.MAX_BLOCK + 4):
        p = tmp_path / f"b{blen}.pcapng"
        with open(p, "wb") as f:
            f.write(shb + idb + struct.pack("<II", 6, blen))
            f.truncate(64 * MiB)
        out = _measure(p)
        assert "bad pcapng block" in out["error"], out
        assert out["peak"] < 100 * MiB, out


def test_huge_text_without_packet_lines_is_read_in_chunks(tmp_path: Path) -> None:
    p = tmp_path / "junk.txt"
    with open(p, "wb") as f:
        f.write((b"z" * 99 + b"\n") * 1_000_000)  # 100 MB, sniffed as text
    out = _measure(p)
    assert "no tcpdump packet lines" in out["error"] and "1,000,000" not in out["error"]
    assert out["peak"] < 250 * MiB, out  # the whole file was loaded (and split into ~5 copies) before


def test_huge_text_line_is_reported_and_skipped(tmp_path: Path) -> None:
    p = tmp_path / "one.txt"
    line = (DATA / "eth.nn.txt").read_bytes().splitlines(keepends=True)[0]
    with open(p, "wb") as f:
        f.write(line + b"w" * (60 * MiB) + b"\n" + line)
    out = _measure(p, "read_tcpdump_text", chunk_size=4 * MiB)
    assert out["packets"] == 2 and out["attrs"]["unparsed_count"] == 1, out
    assert out["peak"] < 100 * MiB, out


# --------------------------------------------------------------------------- special files
@pytest.mark.timeout(30)
def test_fifo_without_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for reader in (read_capture, read_pcap, read_tcpdump_text):
        with pytest.raises(CaptureError, match="FIFO") as ei:
            reader(fifo)
        assert ei.value.hint and "PcapStreamReader" in ei.value.hint


@pytest.mark.timeout(60)
def test_cli_refuses_a_fifo_with_exit_2(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "spkrunbook.capture.cli", str(fifo)], capture_output=True, text=True,
                       cwd=ROOT, timeout=50)
    assert r.returncode == 2 and "FIFO" in r.stderr and "Traceback" not in r.stderr


def test_devices_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="character device"):
        read_capture("/dev/zero")
    with pytest.raises(CaptureError, match="folder"):
        read_capture(tmp_path)
    with pytest.raises(CaptureError, match="cannot open"):
        read_capture(tmp_path / "missing.pcap")


# --------------------------------------------------------------------------- records and limits
def _records(n_zero_first: int) -> bytes:
    raw = (DATA / "eth.pcap").read_bytes()
    return raw[:24] + b"\0" * 16 * n_zero_first + raw[24:]


def test_zero_length_records_are_skipped_counted_and_keep_frame_numbers() -> None:
    ref = read_pcap(DATA / "eth.pcap")
    with pytest.warns(CaptureTruncatedWarning, match="skipped 3 zero-length records"):
        df = read_pcap(_records(3))
    assert len(df) == len(ref) and df.attrs["skipped_records"] == 3
    assert df["frame"].tolist() == [f + 3 for f in ref["frame"].tolist()]
    assert df["src"].astype(str).tolist() == ref["src"].astype(str).tolist()


def test_max_packets_stops_with_a_warning_pcap_pcapng_and_stream() -> None:
    for name in ("eth.pcap", "eth.pcapng", "multi.pcapng"):
        ref = read_pcap(DATA / name)
        with pytest.warns(CaptureLimitWarning, match="max_packets=7"):
            df = read_pcap(DATA / name, max_packets=7)
        assert len(df) == 7 and df.attrs["limit_reached"] == "max_packets=7"
        assert df["frame"].tolist() == ref["frame"].tolist()[:7]
        assert "truncated_at" not in df.attrs
    raw = (DATA / "eth.pcap").read_bytes()
    with pytest.warns(CaptureLimitWarning):
        df = read_pcap_stream((raw[i:i + 1000] for i in range(0, len(raw), 1000)), max_packets=5)
    assert len(df) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_pcap(DATA / "eth.pcap", max_packets=None)) == len(ref if False else read_pcap(DATA / "eth.pcap"))


def test_max_bytes_stops_reading() -> None:
    with pytest.warns(CaptureLimitWarning, match="max_bytes=5000"):
        df = read_pcap(DATA / "eth.pcap", max_bytes=5000)
    assert 0 < len(df) < len(read_pcap(DATA / "eth.pcap"))


def test_text_is_streamed_in_chunks_with_the_same_result(tmp_path: Path) -> None:
    src = DATA / "any_sll2.e.txt"
    whole = read_tcpdump_text(src)
    text = src.read_bytes()
    p = tmp_path / "junk_in_between.txt"
    p.write_bytes(b"garbage line\n" + text + b"\xff\xfe not utf-8\n" + text)
    chunked = read_tcpdump_text(p, chunk_size=4096)
    one = read_tcpdump_text(p, chunk_size=1 << 30)
    assert len(chunked) == 2 * len(whole) and chunked.attrs["unparsed_count"] == one.attrs["unparsed_count"]
    for c in ("frame", "src", "dst", "sport", "dport", "protocol", "tcp_flags", "seq", "ack", "timestamp", "interface"):
        assert chunked[c].astype(object).tolist() == one[c].astype(object).tolist(), c
    assert chunked.attrs["unparsed"] == one.attrs["unparsed"]


def test_text_max_lines_and_unparsed_cap(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    lines = (DATA / "eth.nn.txt").read_bytes().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[:20]) + b"junk\n" * (caplimits.MAX_UNPARSED_KEPT + 10))
    with pytest.warns(CaptureLimitWarning, match="max_lines=10"):
        df = read_tcpdump_text(p, max_lines=10)
    assert len(df) == 10 and df.attrs["limit_reached"] == "max_lines=10"
    df = read_tcpdump_text(p)
    assert df.attrs["unparsed_count"] == caplimits.MAX_UNPARSED_KEPT + 10
    assert len(df.attrs["unparsed"]) == caplimits.MAX_UNPARSED_KEPT


def test_corrupt_and_truncated_files_give_messages(tmp_path: Path) -> None:
    raw = (DATA / "eth.pcap").read_bytes()
    p = tmp_path / "cut.pcap"
    p.write_bytes(raw[: len(raw) - 7])
    with pytest.warns(CaptureTruncatedWarning, match="ends inside a record"):
        assert len(read_capture(p)) > 0
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(CaptureError, match="neither pcap"):
        read_capture(p)
    p.write_bytes(raw[:10])
    with pytest.raises(CaptureError, match="too short"):
        read_pcap(p)
