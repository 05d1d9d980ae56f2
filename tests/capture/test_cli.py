"""``spkrunbook capture``: tables that never cut an endpoint, --json and --csv for pipelines, every file reported."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spkrunbook.capture import read_capture, stats
from spkrunbook.capture.cli import _endpoint, main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "captures"


def _cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS=str(columns), PYTHONPATH=str(ROOT), TERM="dumb")
    return subprocess.run([sys.executable, "-m", "spkrunbook.capture.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


@pytest.mark.parametrize("columns", [80, 100])
def test_tables_never_cut_an_endpoint(columns: int, tmp_path: Path) -> None:
    # long IPv6 endpoints: rewrite the text capture's addresses to full-length ones
    long = "fd00:1111:2222:3333:4444:5555:6666:7777"
    text = (DATA / "eth.nn.txt").read_text().replace("fd00:99::1", long)
    p = tmp_path / "long.txt"
    p.write_text(text)
    r = _cli(str(p), str(DATA / "eth.pcap"), columns=columns)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout
    flat = r.stdout
    for path in (p, DATA / "eth.pcap"):
        conv = stats.conversations(read_capture(path)).head(10)
        for _, row in conv.iterrows():
            for a, port in ((row["a"], row["a_port"]), (row["b"], row["b_port"])):
                ep = _endpoint(a, None if port is None or port != port else int(port))
                assert ep in flat, (ep, columns)
    assert max(len(line) for line in flat.splitlines()) <= columns


def test_json_keeps_good_files_beside_a_bad_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\x00" * 100)
    assert main([str(DATA / "eth.pcap"), str(bad), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out[0]["file"].endswith("eth.pcap") and out[0]["summary"]["packets"] == 236
    assert out[1]["file"] == str(bad) and "error" in out[1] and out[1]["hint"]


def test_csv_conversations_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(DATA / "eth.pcap"), str(DATA / "vlan.pcap"), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["file"] for r in rows} == {str(DATA / "eth.pcap"), str(DATA / "vlan.pcap")}
    assert set(rows[0]) == {"file", "protocol", "a", "a_port", "b", "b_port", "packets_ab", "packets_ba", "bytes",
                            "duration", "bps"}
    assert main([str(DATA / "eth.pcap"), "--csv", "summary"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {"file", "metric", "value"} == set(rows[0]) and any(r["metric"] == "packets" and r["value"] == "236" for r in rows)


def test_empty_capture_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "empty.pcap"
    p.write_bytes((DATA / "eth.pcap").read_bytes()[:24])
    assert main([str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["packets"] == 0 and any("no packets" in w for w in out["warnings"])


@pytest.mark.parametrize("columns", [80, 200])
def test_the_summary_names_the_file_whole_and_counts_expert_information_as_tshark_does(columns: int) -> None:
    from tests.support import tshark
    from tests.support.paths import DEMO_PARAMS

    pcap = DEMO_PARAMS.parent / "captures" / "net1.pcap"
    r = _cli(str(pcap), columns=columns)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert str(pcap) in lines[0] or len(str(pcap)) > columns, "the file heads its tables, never cut mid-word"
    for title in ("Capture File Properties", "Protocol Hierarchy", "Conversations", "Expert Information (TCP)"):
        assert any(line.strip().startswith(title) for line in lines), title
    theirs = {k: n for k, n in tshark.expert(pcap).items() if k[2] == "TCP" and k[1] != "Malformed"
              and k[3] != "D-SACK Sequence"}
    head = next(line for line in lines if line.strip().startswith("Expert Information (TCP)"))
    for severity in ("Warning", "Note", "Chat"):
        n = sum(v for k, v in theirs.items() if k[0] == severity)
        assert f"{n:,} {severity.lower()}s" in head, (severity, head)
    assert max(len(line) for line in lines) <= columns


def test_json_carries_the_expert_counts_and_the_hierarchy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(DATA / "eth.pcap"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["expert"]["counts"]) == {"Error", "Warning", "Note", "Chat"}
    assert out["hierarchy"][0]["protocol"] == "eth" and out["hierarchy"][0]["packets"] == 236
    assert out["properties"]["Packets"] == "236"


@pytest.mark.parametrize("name", ["eth.pcap", "multi.pcapng", "any_sll2.nn.txt"])
def test_large_files_take_the_streaming_pass_and_say_so(name: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The same JSON as a whole-file read, but for the line that says which path was taken and the Expert
    Information (the streaming pass gives the analysis flags and resets, each count whole, and says so)."""
    from spkrunbook.capture import cli, streaming

    if not streaming.HAVE_C_ACCOUNT:
        pytest.skip("the C extension _account is not built")
    assert main([str(DATA / name), "--json", "--top", "50"]) == 0
    whole = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(cli, "STREAMING_BYTES", 1)
    assert main([str(DATA / name), "--json", "--top", "50"]) == 0
    big = json.loads(capsys.readouterr().out)
    assert whole.pop("analysis") == "whole file" and big.pop("analysis").startswith("streaming pass")
    w_expert, b_expert = whole.pop("expert"), big.pop("expert")
    assert big == whole
    assert "note" in b_expert and "note" not in w_expert
    per_filter: dict[str, int] = {}
    for r in w_expert["entries"]:
        per_filter[r["filter"]] = per_filter.get(r["filter"], 0) + r["count"]
    assert b_expert["entries"], "the test captures have flagged packets"
    for r in b_expert["entries"]:
        assert r["count"] == per_filter[r["filter"]], r
        assert not r["filter"].startswith(("tcp.connection.syn", "tcp.connection.fin")), r
    assert {f for f in per_filter if f.startswith("tcp.analysis.") and f != "tcp.analysis.reused_ports"} \
        == {r["filter"] for r in b_expert["entries"] if r["filter"].startswith("tcp.analysis.")}
    assert main([str(DATA / name)]) == 0
    assert "note: streaming pass" in capsys.readouterr().out
