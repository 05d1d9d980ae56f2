"""Wireshark's tables (``spkrunbook.capture.wireshark``) held against what tshark itself prints for the
same captures: conversations, endpoints, the protocol hierarchy, expert information and the packet list."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import expert, read_capture, units, wireshark
from tests.support import tshark
from tests.support.paths import DEMO_PARAMS

CAPTURES = sorted((DEMO_PARAMS.parent / "captures").glob("*.pcap"))
#: tshark's entries the engine does not produce, on purpose (see wireshark.NOT_ANALYSED)
NOT_OURS = {"D-SACK Sequence"}


@pytest.fixture(scope="module", params=CAPTURES, ids=lambda p: p.stem)
def capture(request: pytest.FixtureRequest) -> tuple[Path, pd.DataFrame, expert.TcpExpert]:
    tshark.need_tshark()
    df = read_capture(request.param)
    return request.param, df, expert.analyze(df)


def _plain(text: str) -> str:
    return text.replace(",", "")


@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_conversations_are_tsharks(capture, kind: str) -> None:
    """One row per TCP connection, as tshark counts them (two connections on the same ports are two)."""
    path, df, ex = capture
    ours = wireshark.conversations(df, kind.upper(), ex)
    theirs = tshark.conversations(path, kind)
    assert len(ours) == len(theirs) > 0 or (len(ours) == len(theirs) == 0 and kind == "udp")
    for r in ours.to_dict("records"):
        t = theirs[(f"{r['Address A']}:{r['Port A']}", f"{r['Address B']}:{r['Port B']}", round(r["Rel Start"], 6))]
        assert (r["Packets A→B"], r["Packets B→A"], r["Packets"]) == (t.packets_ab, t.packets_ba, t.packets)
        # the page shows bytes as Wireshark's format_size: the same text, with thousands separated
        assert [_plain(units.size(r[c])) for c in ("Bytes A→B", "Bytes B→A", "Bytes")] == [t.bytes_ab, t.bytes_ba, t.bytes]
        assert round(r["Rel Start"], 6) == round(t.rel_start, 6)
        assert units.seconds(r["Duration"], 4) == f"{t.duration:.4f}"


def test_ip_conversations_and_endpoints_are_tsharks(capture) -> None:
    path, df, _ = capture
    conv = wireshark.ip_conversations(df, 4)
    theirs = tshark.conversations(path, "ip")
    assert len(conv) == len(theirs)
    for r in conv.to_dict("records"):
        t = theirs[(r["Address A"], r["Address B"], round(r["Rel Start"], 6))]
        assert (r["Packets A→B"], r["Packets B→A"], _plain(units.size(r["Bytes"]))) == (t.packets_ab, t.packets_ba, t.bytes)
        assert round(r["Rel Start"], 6) == round(t.rel_start, 6)
    ep = wireshark.endpoints(df, 4)
    want = tshark.endpoints(path)
    got = {r["Address"]: (r["Packets"], r["Bytes"], r["Tx Packets"], r["Tx Bytes"], r["Rx Packets"], r["Rx Bytes"])
           for r in ep.to_dict("records")}
    assert got == want


def test_protocol_hierarchy_is_tsharks_down_to_the_transport_layer(capture) -> None:
    path, df, _ = capture
    ph = wireshark.protocol_hierarchy(df)
    theirs = tshark.hierarchy(path)
    for p, packets, nbytes in zip(ph.attrs["path"], ph["Packets"], ph["Bytes"]):
        assert theirs.get(p) == (packets, nbytes), p
    # every node tshark has at those layers is here too
    ours = set(ph.attrs["path"])
    assert {p for p in theirs if p.count(":") <= 2 and not p.split(":")[-1].startswith("_ws")} <= ours
    assert ph["Protocol"].str.strip().tolist() == [p.rsplit(":", 1)[-1] for p in ph.attrs["path"]]


def test_expert_information_is_tsharks_for_tcp(capture) -> None:
    path, df, ex = capture
    info = wireshark.expert_info(df, ex)
    ours = {(r["Severity"], r["Group"], r["Protocol"], r["Summary"]): r["Count"] for r in info.to_dict("records")}
    theirs = {k: n for k, n in tshark.expert(path).items() if k[2] == "TCP" and k[3] not in NOT_OURS and k[1] != "Malformed"}
    assert ours == theirs
    counts = wireshark.expert_counts(info)
    assert counts["Warning"] == sum(n for k, n in ours.items() if k[0] == "Warning")
    # each row lists its packets, the first of them in frame order
    for r in info.to_dict("records"):
        frames = [f for f in r["Packets"] if f != "…"]
        assert frames == sorted(frames) and len(frames) == min(r["Count"], wireshark.PACKETS_LISTED)


def test_flagged_packets_show_wiresharks_relative_numbers(capture) -> None:
    path, df, ex = capture
    rows = wireshark.flagged_packets(df, ex, n=25)
    assert len(rows)
    want = tshark.fields(path, rows["No."].tolist(), "tcp.seq", "tcp.ack", "tcp.window_size", "tcp.len",
                         "tcp.analysis.duplicate_ack_frame", "tcp.stream")
    for r in rows.to_dict("records"):
        seq, ack, win, length, dup_of, _stream = want[r["No."]]
        info = r["Info"]
        assert f" Seq={seq} " in info and f" Len={length}" in info, (r["No."], info, want[r["No."]])
        assert (f" Ack={ack} " in info) == bool(ack) and f" Win={win} " in info, (r["No."], info, want[r["No."]])
        if dup_of:
            assert f"[TCP Dup ACK {dup_of}#" in info
        assert not re.search(r"Seq=\d{7,}", info), "relative sequence numbers, as Wireshark shows them"


def test_tables_declare_how_their_columns_read() -> None:
    df = read_capture(CAPTURES[0])
    conv = wireshark.conversations(df)
    assert list(conv.columns) == wireshark.CONVERSATION_COLUMNS
    kinds = conv.attrs["kinds"]
    assert kinds["Bytes"] == "bytes" and kinds["Bits/s A→B"] == "bits/s" and kinds["Port A"] == "id"
    assert wireshark.expert_info(df, None).empty and wireshark.flagged_packets(df, None).empty
