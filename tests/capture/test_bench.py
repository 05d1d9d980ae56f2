"""The benchmark scripts still run, on a small input (numbers are measured there, never asserted here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spkrunbook.capture import read_pcap

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_capture_matches_its_ground_truth(tmp_path: Path) -> None:
    from benchmarks.make_capture_bench import write

    p = tmp_path / "b.pcap"
    write(str(p), 5000)
    truth = json.loads(Path(str(p) + ".truth.json").read_text())
    df = read_pcap(p)
    counts = df["protocol"].value_counts()
    assert len(df) == truth["packets"] == 5000
    for k in ("TCP", "UDP", "ICMP", "other"):
        assert int(counts.get(k, 0)) == truth.get(k, 0), k
    assert int(df["vlan"].notna().sum()) == truth["vlan"] and int(df["vlan_inner"].notna().sum()) == truth["qinq"]
    assert int((df["ip_version"] == 6).sum()) == truth["ipv6"]
    # real sequencing: sequence numbers are not replayed (the flaw that made tshark superlinear)
    tcp = df[df["protocol"] == "TCP"]
    assert tcp["seq"].nunique() > len(tcp) // 3


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("tcpdump") is None, reason="needs tshark and tcpdump")
def test_bench_scripts_run_on_a_small_input(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "benchmarks/bench_capture.py", "--packets", "3000", "--tshark-packets", "3000",
                        "--dpkt-packets", "3000", "--scapy-packets", "300", "--workdir", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    table = r.stdout.split("{")[0]
    assert "our reader's counts equal it" in table and "| tshark" in table and "| - | - |" not in table
    r = subprocess.run([sys.executable, "benchmarks/bench_hostile.py", "--timeout", "60"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "hang" not in r.stdout and "MemoryError" not in r.stdout and "crash" not in r.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
def test_text_and_streaming_benchmarks_run_on_a_small_input(tmp_path: Path) -> None:
    """Every text form renders offline (tcpdump -nn; the names form is made without DNS) and is read."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "benchmarks/bench_text.py", "--packets", "2000", "--repeat", "1",
                        "--workdir", str(tmp_path / "text")], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("| `") or ln.startswith("| names")]
    assert len(rows) == 8 and all("x |" in ln for ln in rows), r.stdout[-3000:]
    names = (tmp_path / "text" / "bench.names.2000.txt").read_text()
    assert ".https" in names or ".domain" in names
    plot = tmp_path / "memory.png"
    r = subprocess.run([sys.executable, "benchmarks/bench_stream.py", "--packets", "2000,6000", "--repeat", "1",
                        "--plot", str(plot)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count(" MB | ") == 2 and plot.read_bytes()[:4] == b"\x89PNG"
