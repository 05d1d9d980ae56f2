"""tcpdump text parser: the seed's lines, every flag notation, and agreement with
the pcap reader on text that tcpdump printed from the same captures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import read_pcap, read_tcpdump_text

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "captures"

SEED = """\
16:17:54.972934 IP worker1.36308 > 10.42.0.5.10250: Flags [P.], seq 230:265, ack 1938, win 6181, options [nop,nop,TS val 4161270865 ecr 1731266921], length 35
16:17:54.972939 IP 10.42.0.5.10250 > worker1.36308: Flags [.], ack 265, win 501, options [nop,nop,TS val 1731266921 ecr 4161270865], length 0
16:17:54.972951 IP worker1.36308 > 10.42.0.5.10250: Flags [P.], seq 265:300, ack 1938, win 6181, options [nop,nop,TS val 4161270865 ecr 1731266921], length 35
16:17:54.973188 IP worker1.36308 > 10.42.0.5.10250: Flags [P.], seq 300:335, ack 1938, win 6181, options [nop,nop,TS val 4161270865 ecr 1731266921], length 35
16:17:54.973199 IP worker1.36308 > 10.42.0.5.10250: Flags [P.], seq 335:370, ack 1938, win 6181, options [nop,nop,TS val 4161270866 ecr 1731266921], length 35
16:17:54.973779 IP 10.42.0.5.10250 > worker1.36308: Flags [.], ack 370, win 501, options [nop,nop,TS val 1731266922 ecr 4161270865], length 0
"""


def test_seed_lines_parse_exactly() -> None:
    df = read_tcpdump_text(SEED.splitlines())
    assert len(df) == 6 and df.attrs["unparsed"] == []
    r = df.iloc[0]
    assert (r["src"], r["sport"], r["dst"], r["dport"]) == ("worker1", 36308, "10.42.0.5", 10250)
    assert (r["tcp_flags"], r["tcp_flagbits"], r["seq"], r["ack"], r["window"], r["payload_len"]) == ("P.", 0x18, 230, 1938, 6181, 35)
    assert r["protocol"] == "TCP" and r["ip_version"] == 4
    assert r["time_of_day"] == pd.Timedelta("16:17:54.972934")
    assert pd.isna(r["timestamp"]) and pd.isna(r["wire_len"]) and pd.isna(r["cap_len"])  # not invented
    r = df.iloc[1]
    assert r["tcp_flags"] == "." and pd.isna(r["seq"]) and r["ack"] == 265 and r["window"] == 501 and r["payload_len"] == 0
    assert df["seq"].tolist()[2:5] == [265, 300, 335]


@pytest.mark.parametrize("flags,bits", [("S", 2), ("S.", 18), ("P.", 24), ("F.", 17), ("R", 4), ("R.", 20), (".", 16),
                                        ("E", 64), ("W", 128), ("none", 0), ("SEW", 194), ("FP.", 25)])
def test_every_flag_notation(flags: str, bits: int) -> None:
    line = f"12:00:00.000001 IP 10.0.0.1.1000 > 10.0.0.2.https: Flags [{flags}], seq 1, win 0, length 0"
    df = read_tcpdump_text([line])
    assert df["tcp_flagbits"][0] == bits and df["tcp_flags"][0] == flags and df["dport"][0] == 443


def test_variants_from_the_facts_sheet() -> None:
    lines = [
        "22:48:28.272309 94:42:c9:c3:f7:92 > 76:9c:19:34:50:26, ethertype IPv4 (0x0800), length 94: 192.168.16.230.42397 > 172.27.1.13.commplex-main: UDP, length 52",
        "11:22:21.229307 veth50680d5c P   IP 10.42.3.13 > 10.42.3.11: ICMP echo request, id 10, seq 1, length 64",
        "1491525948.268015 IP 192.168.10.113.33060 > 172.217.3.196.443: Flags [P.], seq 256:730, ack 116, win 3818, options [nop,nop,TS val 71847613 ecr 4161606244], length 474",
        "2024-01-02 03:04:05.123456789 IP6 fe80::5054:ff:fe12:3456 > ff02::1:ff00:1: ICMP6, neighbor solicitation, who has 2001:db8:1000::1, length 32",
        "10:00:00.000000 ARP, Request who-has 10.1.1.2 tell 10.1.1.1, length 28",
        "10:00:00.000001 ARP, Reply 10.1.1.1 is-at 02:42:ac:16:00:02, length 28",
        "10:00:00.000002 aa:bb:cc:dd:ee:ff > 01:80:c2:00:00:0e, ethertype LLDP (0x88cc), length 208: LLDP, length 194: sw1",
        "10:00:00.000003 IP 192.168.10.254.1900 > 239.255.255.250.1900: UDP, length 166",
        "10:00:00.000004 IP 10.0.0.1.53089 > 10.0.0.2.53: 53089+ PTR? 92.240.43.23.in-addr.arpa. (43)",
        "    0x0000:  4500 0054 0000 4000 4001 b6a6 0a00 0001  E..T..@.@.......",
        "tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes",
    ]
    df = read_tcpdump_text(lines)
    assert df.attrs["unparsed_count"] == 2 and [n for n, _ in df.attrs["unparsed"]] == [10, 11]
    assert df["protocol"].astype(str).tolist() == ["UDP", "ICMP", "TCP", "ICMPv6", "ARP", "ARP", "LLDP", "UDP", "UDP"]
    assert df["wire_len"][0] == 94 and df["payload_len"][0] == 52 and df["dport"][0] == 5000
    assert df["interface"][1] == "veth50680d5c" and df["direction"][1] == "P"
    assert df["timestamp"][2] == pd.Timestamp("2017-04-07 00:45:48.268015", tz="UTC") and df["seq"][2] == 256
    assert df["timestamp"][3].value % 1000 == 789  # ns kept
    assert (df["src"][4], df["dst"][4]) == ("10.1.1.1", "10.1.1.2") and df["src"][5] == "10.1.1.1"
    assert df["dport"][8] == 53 and df["frame"].tolist()[:3] == [1, 2, 3]


def test_timezone_is_applied_to_dated_lines() -> None:
    df = read_tcpdump_text(["2024-06-01 12:00:00.000000 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64"], tz="Europe/Berlin")
    assert df["timestamp"][0] == pd.Timestamp("2024-06-01 10:00:00", tz="UTC")


@pytest.mark.parametrize("txt,pcap", [("eth.nn.txt", "eth.pcap"), ("eth.tttt.txt", "eth.pcap"), ("eth.tt.txt", "eth.pcap"),
                                      ("eth.e.txt", "eth.pcap"), ("eth.names.txt", "eth.pcap"), ("any_sll2.nn.txt", "any_sll2.pcap"),
                                      ("any_sll2.e.txt", "any_sll2.pcap"), ("vlan.e.txt", "vlan.pcap"), ("nano.tttt.txt", "nano.pcap")])
def test_text_agrees_with_pcap_of_the_same_capture(txt: str, pcap: str) -> None:
    t, p = read_tcpdump_text(DATA / txt), read_pcap(DATA / pcap)
    # tcpdump cannot print the cooked-v2 QinQ frames ("IP0 (invalid)"); they are reported, not dropped
    assert len(t) + t.attrs["unparsed_count"] == len(p)
    p = p.set_index("frame").loc[t["frame"].to_numpy()].reset_index()
    assert (t["protocol"].astype(str).to_numpy() == p["protocol"].astype(str).to_numpy()).all()
    for c in ("sport", "dport", "window", "tcp_flagbits"):
        assert t[c].astype(object).equals(p[c].astype(object)), c
    tcp = (p["protocol"] == "TCP").to_numpy()
    assert (t["payload_len"][tcp].astype(int).to_numpy() == p["payload_len"][tcp].astype(int).to_numpy()).all()
    if "names" not in txt:
        ip = p["ip_version"].notna().to_numpy()
        assert (t["src"][ip].astype(str).to_numpy() == p["src"][ip].astype(str).to_numpy()).all()
    else:
        assert set(t["src"].astype(str)) >= {"worker1", "tmm-0"}
    assert (t["time_of_day"].to_numpy() == p["time_of_day"].to_numpy()).all()
    if ".tt" in txt:
        assert (t["timestamp"] == p["timestamp"]).all()
    if ".e." in txt:
        assert (t["wire_len"].astype(int).to_numpy() == p["wire_len"].astype(int).to_numpy()).all()
        assert t["vlan"].astype(object).equals(p["vlan"].astype(object))
    if "any" in txt:
        assert (t["direction"].astype(str).to_numpy() == p["direction"].astype(str).to_numpy()).all()


def test_python_fallback_matches_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    from spkrunbook.capture import text

    fast = read_tcpdump_text(DATA / "any_sll2.e.txt")
    monkeypatch.setattr(text, "pa", None)
    slow = read_tcpdump_text(DATA / "any_sll2.e.txt")
    pd.testing.assert_frame_equal(fast, slow, check_categorical=False)
    assert fast.attrs["unparsed"] == slow.attrs["unparsed"]
