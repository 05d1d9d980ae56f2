"""tcpdump text parser, the fast engine: the byte walk for common lines must read
exactly what the full expression (LINE_RE) reads, on lines near the edges of the
gate; unusual input degrades to NA or to "unparsed", never to a crash."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import _text_fast, read_tcpdump_text, text

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "captures"

EDGE = [
    "16:17:54.972934 IP worker1.36308 > 10.42.0.5.10250: Flags [P.], seq 230:265, ack 1938, win 6181, options [nop,nop,TS val 4161270865 ecr 1731266921], length 35",
    "22:13:23.970642 IP 10.16.0.126.80 > 10.0.28.142.62025: Flags [.], ack 4294965848, win 502, length 0",
    "22:13:23.971407 IP 10.0.124.71.19408 > 10.16.0.141.8080: Flags [.], seq 1449:2897, ack 0, win 502, length 1448: HTTP",
    "22:13:23.504067 IP6 fd00::1d.80 > fd00::51a9.55711: Flags [.], ack 1, win 502, length 0",
    "22:13:23.998689 IP 10.16.0.183.10250 > 10.0.195.62.23892: UDP, length 120",
    "22:13:23.985083 IP 10.0.227.183 > 10.16.0.156: ICMP echo request, id 119, seq 1, length 64",
    "2024-01-02 03:04:05.123456789 IP6 fe80::5054:ff:fe12:3456 > ff02::1:ff00:1: ICMP6, neighbor solicitation, who has 2001:db8:1000::1, length 32",
    "1491525948.268015 IP 192.168.10.113.33060 > 172.217.3.196.443: Flags [P.], seq 256:730, ack 116, win 3818, length 474",
    "2024-01-01 1234567.5 IP 1.2.3.4.53 > 5.6.7.8.99: Flags [R.], seq 1:5, ack 9, win 9, length 4",
    "12:00:00 IP 1.2.3.4.53 > 5.6.7.8.99: Flags [], seq 1, win 9, length 0",
    "12:00:00.1234567891234 IP 1.2.3.4.53 > 5.6.7.8.99: Flags [R.], seq 1:5, ack 9, win 9, length 4",
    "12:00:00.000001 IP6 fd00:: > fd00::1: ICMP6, echo request, seq 1, length 64",
    "12:00:00.000001 IP B > C.80: Flags [S], seq 1, win 0, length 0",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99: 1 2/0/0 A 1.2.3.4 [|domain]",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99: UDP, length 5 length x",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99:  UDP, length 5",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99: UDPx, length 5",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99: Flags [P.], seq 1:2x, ack 5, win 3, length 1",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99: Flags [P.], ack 5, seq 1, win 3, length 1",
    "12:00:00.000001 IP 1.2.3.4.53 > 5.6.7.8.99: Flags [S E W], seq 1, win 3, length 1",
    "12:00:00.000001 IP wörker.80 > 5.6.7.8.99: Flags [P.], ack 5, win 3, length 1",
    "12:00:00.000001 IP 1.2.3.4.https > 5.6.7.8.commplex-main: Flags [P.], ack 5, win 3, length 1: HTTP",
    "12:00:00.000001 IP 1.2.3.4.nosuchsvc > 5.6.7.8.99: Flags [FP.], ack 5, win 3, length 1",
    "12:00:00.000001 IP 10.0.0.1 > 10.0.0.2: ip-proto-47 12",
    "12:00:00.000001 IP6 fe80::1.546 > ff02::1:2.547: dhcp6 solicit",
    "12:00:00.000001 IP 10.0.0.1.53089 > 10.0.0.2.53: 53089+ PTR? 92.240.43.23.in-addr.arpa. (43)",
    "12:00:00.000001  IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1",
    "IP 10.0.0.1.5 > 10.0.0.2.6: UDP, length 1",
    "11:22:21.229307 veth50680d5c P   IP 10.42.3.13 > 10.42.3.11: ICMP echo request, id 10, seq 1, length 64",
    "22:48:28.272309 94:42:c9:c3:f7:92 > 76:9c:19:34:50:26, ethertype IPv4 (0x0800), length 94: 192.168.16.230.42397 > 172.27.1.13.commplex-main: UDP, length 52",
    "10:00:00.000000 ARP, Request who-has 10.1.1.2 tell 10.1.1.1, length 28",
    "10:00:00.000002 aa:bb:cc:dd:ee:ff > 01:80:c2:00:00:0e, ethertype LLDP (0x88cc), length 208: LLDP, length 194: sw1",
    "IP6 :: > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28",
    "    0x0000:  4500 0054 0000 4000 4001 b6a6 0a00 0001  E..T..@.@.......",
    "tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes",
    "",
]


def _full_expression_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_text_fast, "GATE_RE", r"^\x00never")


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs


def test_edge_lines_read_the_same_by_bytes_and_by_the_full_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = read_tcpdump_text(EDGE)
    assert 0 < len(fast) < len(EDGE)
    _full_expression_only(monkeypatch)
    _same(fast, read_tcpdump_text(EDGE))


@pytest.mark.parametrize("name", ["eth.nn.txt", "eth.tttt.txt", "eth.tt.txt", "eth.names.txt", "nano.tttt.txt", "vlan.nn.txt", "snap96.nn.txt"])
def test_captures_read_the_same_by_bytes_and_by_the_full_expression(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    fast = read_tcpdump_text(DATA / name)
    _full_expression_only(monkeypatch)
    _same(fast, read_tcpdump_text(DATA / name))


def test_edge_lines_agree_with_the_python_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # lines whose numbers fit their columns (the Python engine cannot hold the others)
    lines = [ln for ln in EDGE if "1234567891234" not in ln]
    fast = read_tcpdump_text(lines)
    monkeypatch.setattr(text, "pa", None)
    slow = read_tcpdump_text(lines)
    pd.testing.assert_frame_equal(fast, slow, check_categorical=False)
    assert fast.attrs == slow.attrs


def test_unparsed_lines_keep_their_numbers_among_many_packets() -> None:
    good = EDGE[1]
    lines = [good] * 1000
    bad = {7: "    0x0000:  4500 0054", 500: "3 packets captured", 999: "garbage"}
    for i, t in bad.items():
        lines[i] = t
    df = read_tcpdump_text("\n".join(lines) + "\n")
    assert df.attrs["unparsed"] == [(i + 1, t) for i, t in sorted(bad.items())]
    assert df.attrs["unparsed_count"] == 3 and len(df) == 997
    assert df["frame"].tolist()[:8] == [1, 2, 3, 4, 5, 6, 7, 9]


def test_numbers_beyond_their_column_are_missing_not_a_crash() -> None:
    df = read_tcpdump_text([
        "12:00:00.000001 IP 1.2.3.4.5 > 5.6.7.8.9: Flags [S], seq 12345678901, win 99999, length 0",
        "12:00:00.000002 IP 1.2.3.4.5 > 5.6.7.8.9: Flags [S], seq 4294967295, win 65535, length 0",
    ])
    assert pd.isna(df["seq"][0]) and pd.isna(df["window"][0]) and df["payload_len"][0] == 0
    assert df["seq"][1] == 4294967295 and df["window"][1] == 65535


def test_epoch_beyond_the_timestamp_range_is_missing() -> None:
    df = read_tcpdump_text(["99999999999.5 IP 1.2.3.4.5 > 5.6.7.8.9: UDP, length 1"])
    assert pd.isna(df["timestamp"][0]) and df["payload_len"][0] == 1


@pytest.mark.parametrize("raw", [
    b"12:00:00.000001 IP 1.2.3.4.5 > 5.6.7.8.9: UDP, length 1\r\n12:00:00.000002 IP 1.2.3.4.5 > 5.6.7.8.9: UDP, length 2\r\n",
    b"12:00:00.000001 IP h\xff.5 > 5.6.7.8.9: UDP, length 1\n12:00:00.000002 IP 1.2.3.4.5 > 5.6.7.8.9: UDP, length 2",
])
def test_crlf_and_bad_utf8_files(tmp_path: Path, raw: bytes) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(raw)
    df = read_tcpdump_text(p)
    assert df["payload_len"].tolist() == [1, 2] and df.attrs["unparsed_count"] == 0
    assert df["dst"].astype(str).tolist() == ["5.6.7.8", "5.6.7.8"]


def test_empty_inputs(tmp_path: Path) -> None:
    p = tmp_path / "e.txt"
    p.write_bytes(b"")
    sources: tuple[Path | list[str] | str, ...] = (p, [], "\n")
    for src in sources:
        df = read_tcpdump_text(src)
        assert len(df) == 0
