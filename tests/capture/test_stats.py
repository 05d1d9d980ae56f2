"""Statistics agree with tshark's conversation tables; plots and CLI work headless."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import cli as capcli
from spkrunbook.capture import plots, read_pcap, read_tcpdump_text, stats

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "captures"
CONV_RE = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+(\d+) (\w+)\s+(\d+)\s+(\d+) (\w+)\s+(\d+)\s+(\d+) (\w+)")


def parse_tshark_conv(text: str) -> dict[str, set[tuple]]:
    """Exact frame counts per folded conversation from ``-z conv,tcp/udp`` (byte columns are rounded by tshark)."""
    out: dict[str, set[tuple]] = {"TCP": set(), "UDP": set()}
    kind = None
    for line in text.splitlines():
        if line.startswith("TCP Conversations"):
            kind = "TCP"
        elif line.startswith("UDP Conversations"):
            kind = "UDP"
        m = CONV_RE.match(line)
        if m and kind:
            a, pa_, b, pb = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
            total = int(m.group(11))
            out[kind].add((frozenset([(a, pa_), (b, pb)]), total))
    return out


def ours(df: pd.DataFrame) -> dict[str, set[tuple]]:
    c = stats.conversations(df)
    res: dict[str, set[tuple]] = {"TCP": set(), "UDP": set()}
    for p, a, ap, b, bp, n in zip(c["protocol"].astype(str), c["a"].astype(str), c["a_port"].tolist(), c["b"].astype(str),
                                  c["b_port"].tolist(), c["packets"].tolist()):
        res[p].add((frozenset([(a, int(ap)), (b, int(bp))]), int(n)))
    return res


@pytest.mark.parametrize("name,conv", [("eth.pcap", "eth"), ("any_sll2.pcap", "any_sll2"), ("multi.pcapng", "multi.ng"), ("vlan.pcap", "vlan")])
def test_conversation_packets_equal_tshark_conv(name: str, conv: str) -> None:
    assert ours(read_pcap(DATA / name)) == parse_tshark_conv((DATA / f"{conv}.conv.txt").read_text())


@pytest.mark.parametrize("name,fields", [("eth.pcap", "eth"), ("any_sll1.pcap", "any_sll1"), ("snap96.pcap", "snap96")])
def test_conversation_bytes_equal_tshark_field_totals(name: str, fields: str) -> None:
    t = pd.read_csv(DATA / f"{fields}.fields.csv", dtype=str, keep_default_na=False)
    icmp = (t["icmp.type"] != "") | (t["icmpv6.type"] != "")
    t = t[~icmp]
    src = t["ip.src"].where(t["ip.src"] != "", t["ipv6.src"])
    dst = t["ip.dst"].where(t["ip.dst"] != "", t["ipv6.dst"])
    sp = t["tcp.srcport"].where(t["tcp.srcport"] != "", t["udp.srcport"])
    dp = t["tcp.dstport"].where(t["tcp.dstport"] != "", t["udp.dstport"])
    ok = sp != ""
    key = [frozenset([(s, int(a)), (d, int(b))]) for s, a, d, b in zip(src[ok], sp[ok], dst[ok], dp[ok])]
    exp = pd.DataFrame({"k": key, "len": t.loc[ok, "frame.len"].astype(int).to_numpy()}).groupby("k")["len"].agg(["size", "sum"])
    c = stats.conversations(read_pcap(DATA / name))
    got = {frozenset([(a, int(ap)), (b, int(bp))]): (int(n), int(nb)) for a, ap, b, bp, n, nb in
           zip(c["a"].astype(str), c["a_port"].tolist(), c["b"].astype(str), c["b_port"].tolist(), c["packets"].tolist(),
               c["bytes"].tolist())}
    assert got == {k: (int(v["size"]), int(v["sum"])) for k, v in exp.iterrows()}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed; stored conv outputs were checked instead")
def test_conversations_against_live_tshark() -> None:
    out = subprocess.run(["tshark", "-r", str(DATA / "eth.pcap"), "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                         capture_output=True, text=True, check=True).stdout
    assert ours(read_pcap(DATA / "eth.pcap")) == parse_tshark_conv(out)


def test_retransmission_hints_match_tshark() -> None:
    t = pd.read_csv(DATA / "eth.fields.csv", dtype=str, keep_default_na=False)
    expected = t.loc[t["tcp.analysis.retransmission"] != "", "frame.number"].astype(int).tolist()
    a = stats.tcp_anomalies(read_pcap(DATA / "eth.pcap"))
    assert expected and a.loc[a["kind"] == "retransmission", "frame"].astype(int).tolist() == expected


def test_other_statistics() -> None:
    df = read_pcap(DATA / "any_sll2.pcap")
    pi = stats.per_interval(df, "1s", by="direction")
    assert pi["packets"].sum() == len(df) and set(pi["direction"].dropna()) <= {"In", "Out", "B", "M", "P"}
    assert stats.per_interval(df, "100ms")["bytes"].sum() == df["wire_len"].sum()
    fc = stats.tcp_flag_counts(df)
    assert fc["packets"].sum() == (df["protocol"] == "TCP").sum() and "S." in set(fc["flags"])
    r = stats.resets(df)
    assert len(r) >= 3 and r["tcp_flags"].astype(str).str.contains("R").all()
    tt = stats.top_talkers(df, 3)
    assert len(tt) == 3 and tt["bytes"].is_monotonic_decreasing
    s = stats.summary(df)["value"]
    assert s["packets"] == len(df) and s["protocol.TCP"] == (df["protocol"] == "TCP").sum()


def test_statistics_on_text_without_dates() -> None:
    df = read_tcpdump_text(DATA / "eth.nn.txt")
    assert stats.per_interval(df)["packets"].sum() == len(df)
    assert stats.conversations(df).attrs["bytes_source"] == "payload_len"
    assert ours(df) == parse_tshark_conv((DATA / "eth.conv.txt").read_text())


def test_empty_frame_statistics() -> None:
    from spkrunbook.capture.schema import empty_frame

    e = empty_frame()
    assert len(stats.conversations(e)) == 0 and len(stats.tcp_flag_counts(e)) == 0 and len(stats.tcp_anomalies(e)) == 0


def test_plots_are_figures_and_save(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    df = read_pcap(DATA / "multi.pcapng")
    for name, fig in {"rate": plots.rate_over_time(df), "conv": plots.top_conversations(df, 5), "flags": plots.tcp_flags(df)}.items():
        assert isinstance(fig, Figure)
        p = plots.save_png(fig, tmp_path, name)
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plots.rate_over_time(read_tcpdump_text(DATA / "any_sll2.nn.txt"))
    assert len(fig.axes[0].get_lines()) >= 2  # one line per direction


def test_cli_table_json_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import argparse

    p = argparse.ArgumentParser()
    capcli.add_arguments(p)
    assert capcli.run(p.parse_args([str(DATA / "eth.pcap"), "--top", "3"])) == 0
    assert "Conversations (the 3 with the most bytes)" in capsys.readouterr().out
    assert capcli.run(p.parse_args([str(DATA / "eth.pcap"), str(DATA / "eth.nn.txt"), "--json"])) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["summary"]["packets"] == doc[1]["summary"]["packets"] == 236 and len(doc[0]["top_conversations"]) == 10
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"\x00\x01\x02\x03" * 10)
    assert capcli.run(p.parse_args([str(bad)])) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["eth.pcap", "multi.pcapng", "any_sll2.pcap"])
def test_tcp_anomalies_equal_tshark_fields(name: str) -> None:
    """Retransmissions and dup ACKs, frame for frame, as tshark's fields (the expert analysis underneath)."""
    t = pd.read_csv(DATA / (name.replace(".pcapng", ".ng").replace(".pcap", "") + ".fields.csv"), dtype=str, keep_default_na=False)
    a = stats.tcp_anomalies(read_pcap(DATA / name))
    for kind in ("retransmission", "duplicate_ack"):
        assert a.loc[a["kind"] == kind, "frame"].astype(int).tolist() == t.loc[t[f"tcp.analysis.{kind}"] != "", "frame.number"].astype(int).tolist()
    assert list(a.columns) == ["kind", "frame", "timestamp", "src", "sport", "dst", "dport", "seq", "ack", "payload_len"]


def _tshark_endpoints(text: str) -> dict[str, tuple[int, ...]]:
    """``-z endpoints,ip -z endpoints,ipv6``: address -> packets, bytes, tx packets, tx bytes, rx packets, rx bytes."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if m:
            out[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return out


SAVED = [("eth.pcap", "eth"), ("any_sll2.pcap", "any_sll2"), ("any_sll1.pcap", "any_sll1"), ("vlan.pcap", "vlan"),
         ("rawip.pcap", "rawip"), ("multi.pcapng", "multi.ng"), ("snap96.pcap", "snap96")]


@pytest.mark.parametrize("name,saved", SAVED)
def test_endpoints_equal_tshark(name: str, saved: str) -> None:
    """Every IP address with what it sent and received, as ``tshark -z endpoints`` (ARP's addresses aside: tshark
    counts IP headers only)."""
    df = read_pcap(DATA / name)
    e = stats.endpoints(df[df["protocol"].astype(str) != "ARP"])
    got = {r.address: (r.packets, r.bytes, r.packets_sent, r.bytes_sent, r.packets_received, r.bytes_received)
           for r in e.itertuples()}
    assert got == _tshark_endpoints((DATA / f"{saved}.endpoints.txt").read_text())
    assert e["bytes"].is_monotonic_decreasing and len(stats.top_talkers(df, 3)) == 3


_MODELLED = {"eth", "sll", "raw", "null", "loop", "vlan", "ieee8021ad", "ip", "ipv6", "arp", "lldp", "tcp", "udp", "icmp",
             "icmpv6"}


def _phs(text: str) -> list[tuple[str, int, int]]:
    """``-z io,phs`` as (path, frames, bytes) in tshark's order, down to the transport layer (what is modelled)."""
    out: list[tuple[str, int, int]] = []
    stack: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)", line)
        if m:
            stack = stack[: len(m.group(1)) // 2] + [m.group(2)]
            if set(stack) <= _MODELLED and not any(p in ("tcp", "udp", "icmp", "icmpv6") for p in stack[:-1]):
                out.append((":".join(stack), int(m.group(3)), int(m.group(4))))
    return out


@pytest.mark.parametrize("name,saved", [("eth.pcap", "eth"), ("vlan.pcap", "vlan"), ("rawip.pcap", "rawip"),
                                        ("multi.pcapng", "multi.ng")])
def test_protocol_hierarchy_equals_tshark(name: str, saved: str) -> None:
    """Node for node, in tshark's order (its ``data`` nodes and what it dissects above TCP/UDP/ICMP aside)."""
    h = stats.protocol_hierarchy(read_pcap(DATA / name))
    ours = [(p, f, b) for p, f, b in zip(h["path"], h["frames"], h["bytes"]) if not p.endswith(":data")]
    assert ours == _phs((DATA / f"{saved}.phs.txt").read_text())
    assert list(h.columns) == ["path", "protocol", "level", "frames", "bytes"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed; stored outputs were checked instead")
def test_endpoints_and_hierarchy_against_live_tshark() -> None:
    out = subprocess.run(["tshark", "-r", str(DATA / "eth.pcap"), "-q", "-z", "io,phs", "-z", "endpoints,ip",
                          "-z", "endpoints,ipv6"], capture_output=True, text=True, check=True).stdout
    df = read_pcap(DATA / "eth.pcap")
    h = stats.protocol_hierarchy(df)
    assert [(p, f, b) for p, f, b in zip(h["path"], h["frames"], h["bytes"]) if not p.endswith(":data")] == _phs(out)
    e = stats.endpoints(df[df["protocol"].astype(str) != "ARP"])
    assert {r.address: r.packets for r in e.itertuples()} == {k: v[0] for k, v in _tshark_endpoints(out).items()}
