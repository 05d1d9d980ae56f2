"""The streaming pass gives the whole-file path's tables, frame for frame, on every kept capture.

Both paths reduce the packets to aggregates and build the tables with
``capture.tables``; what is tested here is the reduction: the C tallies and the
TCP expert state machine (``_account.c``) against the vectorised whole-file
code, which the other tests hold to tshark.  Random TCP traffic (port reuse,
zero windows, keep-alives, losses, time running backwards) exercises the state
machine where real captures rarely go.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spkrunbook.capture import expert, flows, plots, read_capture, stats, streaming
from spkrunbook.errors import CaptureError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DEMO = ROOT / "spkrunbook" / "demo" / "captures"
PCAPS = sorted([*FIXTURES.glob("captures/*.pcap*"), *FIXTURES.glob("analysis/*.pcap"), *DEMO.glob("*.pcap")])
TEXTS = sorted(p for p in [*FIXTURES.glob("captures/*.txt"), *FIXTURES.glob("analysis/*.txt"), *DEMO.glob("*.txt")]
               if not p.name.endswith((".conv.txt", ".endpoints.txt", ".phs.txt")))  # (tshark's tables, not tcpdump text)
ALL = ("TCP", "UDP", "ICMP", "ICMPv6", "ARP", "LLDP", "other")

pytestmark = pytest.mark.skipif(not streaming.HAVE_C_ACCOUNT, reason="the C extension _account is not built")


def _same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    pd.testing.assert_frame_equal(a, b, obj=what)
    assert a.attrs == b.attrs, what


def _assert_equal_paths(path: Path, chunk_size: int | None = None, *, start_ns: bool = True) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_capture(path, max_packets=None)
        cs = streaming.analyze_capture(path, chunk_size=chunk_size)
    ex = expert.analyze(df)
    assert cs.packets == len(df)
    interval = plots.choose_interval(df)
    pairs = {
        "summary": (stats.summary(df), cs.summary()),
        "conversations": (stats.conversations(df), cs.conversations()),
        "conversations, every protocol": (stats.conversations(df, ALL), cs.conversations(ALL)),
        "per_interval by direction": (stats.per_interval(df, "100ms", by="direction"), cs.per_interval("100ms", by="direction")),
        "per_interval by interface": (stats.per_interval(df, "1s", by="interface"), cs.per_interval("1s", by="interface")),
        "per_interval, both": (stats.per_interval(df, interval, by=["interface", "direction"]),
                               cs.per_interval(interval, by=["interface", "direction"])),
        "tcp_flag_counts": (stats.tcp_flag_counts(df), cs.tcp_flag_counts()),
        "top_talkers": (stats.top_talkers(df, 5), cs.top_talkers(5)),
        "endpoints": (stats.endpoints(df), cs.endpoints()),
        "protocol_hierarchy": (stats.protocol_hierarchy(df), cs.protocol_hierarchy()),
        "resets": (stats.resets(df), cs.resets()),
        "tcp_anomalies": (stats.tcp_anomalies(df), cs.tcp_anomalies()),
        "expert counts": (ex.counts(), cs.expert_counts()),
        "expert events": (ex.events(df), cs.events()),
        "problem_conversations": (flows.problem_conversations(df, ex), cs.problem_conversations()),
        "handshake_rtts": (flows.handshake_rtts(df, ex), cs.handshake_rtts()),
    }
    for what, (whole, streamed) in pairs.items():
        _same(whole, streamed, f"{path.name}: {what}")
    assert cs.relative_text == ex.relative_text and cs.unavailable == ex.unavailable
    for kind in expert.KIND_NAMES:
        if kind not in ex.unavailable:
            assert cs.frames(kind) == ex.frames(kind), kind
    # the worst streams, read back for their pictures: the same packets, flags and relative numbers
    for st in cs.problem_conversations(2)["stream"].astype(int):
        sdf, sex = cs.stream(int(st))
        whole_s = flows.stream_packets(df, int(st), ex).drop(columns=["row"])
        streamed = flows.stream_packets(sdf, int(st), sex).drop(columns=["row"])
        if not start_ns:  # a stream of dated lines alone is on the date axis, however the file is
            whole_s.attrs.pop("start_ns"), streamed.attrs.pop("start_ns")
        _same(whole_s, streamed, f"{path.name}: stream {st}")


@pytest.mark.parametrize("path", PCAPS + TEXTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_streaming_equals_the_whole_file_path(path: Path) -> None:
    _assert_equal_paths(path)


@pytest.mark.parametrize("name", ["captures/multi.pcapng", "analysis/reorder.rx.pcap", "analysis/reorder.rx.nn.txt",
                                  "captures/any_sll2.e.txt", "analysis/keepalive.rx.S.txt"])
def test_many_small_chunks_give_the_same_tables(name: str) -> None:
    """State carried from chunk to chunk: a few KiB at a time, as a multi-GB file is read."""
    _assert_equal_paths(FIXTURES / name, chunk_size=4096)


def test_text_whose_dates_stop_part_way(tmp_path: Path) -> None:
    """The time axis is decided on the whole file: dates only if every packet has one (the pass starts again)."""
    dated = (FIXTURES / "captures" / "eth.tttt.txt").read_text().splitlines()
    undated = (FIXTURES / "captures" / "eth.nn.txt").read_text().splitlines()
    p = tmp_path / "mixed.txt"
    p.write_text("\n".join(dated[:150] + undated[150:]) + "\n")
    _assert_equal_paths(p, chunk_size=4096, start_ns=False)
    assert not streaming.analyze_capture(p, chunk_size=4096).dated


def test_the_kept_captures_hold_what_is_compared() -> None:
    """The comparison is worth something: the captures hold resets, every expert kind but the rare
    zero-window-probe ones, handshakes, VLAN tags, pcapng interfaces and cooked directions."""
    seen: set[str] = set()
    for p in PCAPS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cs = streaming.analyze_capture(p)
        c = cs.expert_counts().set_index("kind")["packets"]
        seen |= {k for k, v in c.items() if v}
        seen |= {"resets"} if len(cs.resets()) else set()
        seen |= {"handshakes"} if len(cs.handshake_rtts()) else set()
        seen |= {"interfaces"} if cs.interfaces() else set()
        seen |= {"directions"} if cs.directions() else set()
        seen |= {str(x) for x in cs.protocol_hierarchy()["protocol"]}
    assert {"retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
            "duplicate_ack", "zero_window", "window_full", "window_update", "keep_alive", "keep_alive_ack", "resets",
            "handshakes", "interfaces", "directions", "vlan", "ieee8021ad", "sll", "raw", "ipv6", "arp"} <= seen


# ----------------------------------------------------------------------------- random TCP traffic
def _pcap(path: Path, packets: list[tuple[int, int, int, int, int, int, int, int, int, int]]) -> None:
    """(t_us, client, port, c2s, seq, ack, flags, win, payload, wscale) -> Ethernet/IPv4/TCP pcap."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for t, client, port, c2s, seq, ack, flg, win, plen, ws in packets:
            opt = struct.pack("!BBBB", 1, 3, 3, ws) if ws >= 0 else b""
            cli, srv = 0x0A000001 + client, 0x0A0000FE
            sp, dp = (port, 443) if c2s else (443, port)
            tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (5 + len(opt) // 4) << 4, flg,
                              win, 0, 0) + opt + bytes(plen)
            ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, *((cli, srv) if c2s else (srv, cli)))
            frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp
            f.write(struct.pack("<IIII", 1_700_000_000 + t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame)


def _random_traffic(seed: int, n: int = 3000) -> list[tuple[int, int, int, int, int, int, int, int, int, int]]:
    """Few 4-tuples, many packets: sequence numbers near what is expected, with losses, repeats, probes,
    zero windows, keep-alives, resets, SYNs that reuse a tuple, 32-bit wraps and times that jump."""
    rng = np.random.default_rng(seed)
    state: dict[tuple[int, int], list[int]] = {}
    out = []
    t = 0
    for _ in range(n):
        key = (int(rng.integers(0, 3)), int(rng.integers(1000, 1004)))
        st = state.setdefault(key, [int(rng.integers(0, 2**32)), int(rng.integers(0, 2**32))])
        c2s = int(rng.integers(0, 2))
        me, peer = (0, 1) if c2s else (1, 0)
        r = rng.random()
        flg, plen, ws, win = 16, 0, -1, int(rng.choice([0, 1, 502, 502, 65535]))
        seq = st[me]
        if r < 0.04:  # a new connection on the tuple (maybe a reuse with another ISN)
            st[me] = int(rng.integers(0, 2**32)) if rng.random() < 0.7 else st[me]
            seq, flg, ws = st[me], 2 if rng.random() < 0.6 else 18, int(rng.choice([-1, 0, 7, 14, 15]))
            st[me] = (st[me] + 1) & 0xFFFFFFFF
        elif r < 0.08:
            flg = int(rng.choice([4, 20, 17, 25]))
        elif r < 0.5:
            plen = int(rng.choice([1, 1, 100, 1448]))
            flg = int(rng.choice([16, 24]))
            step = rng.random()
            if step < 0.1:
                seq = (st[me] - plen) & 0xFFFFFFFF  # repeat
            elif step < 0.15:
                seq = (st[me] + 1448) & 0xFFFFFFFF  # a gap
            elif step < 0.18:
                seq = (st[me] - 1) & 0xFFFFFFFF  # keep-alive-like
            st[me] = (seq + plen) & 0xFFFFFFFF if step >= 0.1 else st[me]
        elif r < 0.53:
            seq = (st[me] - 1) & 0xFFFFFFFF  # a keep-alive
        ack = st[peer] if flg & 16 else 0
        if rng.random() < 0.05:
            ack = (ack - 1448) & 0xFFFFFFFF
        t += int(rng.choice([10, 50, 500, 3000, 25000, 1_200_000])) if rng.random() > 0.01 else -2000
        t = max(t, 0)
        out.append((t, key[0], key[1], c2s, seq, ack, flg, win, plen, ws))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_random_tcp_traffic_equal_paths(seed: int, tmp_path: Path) -> None:
    p = tmp_path / f"random{seed}.pcap"
    _pcap(p, _random_traffic(seed))
    _assert_equal_paths(p)


# ----------------------------------------------------------------------------- what the pass keeps and refuses
def test_only_flagged_and_reset_packets_are_kept(tmp_path: Path) -> None:
    path = FIXTURES / "analysis" / "loss.rx.pcap"
    cs = streaming.analyze_capture(path)
    bits = (cs.kept["tcp_flagbits"].to_numpy(np.int64, na_value=0) & 4) != 0
    flagged = np.isin(cs.kept["frame"].to_numpy(np.int64), cs.events()["frame"].to_numpy(np.int64))
    assert len(cs.kept) < cs.packets / 4 and (bits | flagged).all()
    small = streaming.analyze_capture(path, max_kept=10)
    assert len(small.kept) == 10 and "not kept" in " ".join(small.notes)
    assert small.expert_counts().equals(cs.expert_counts())  # the counts stay exact


def test_per_interval_needs_a_multiple_of_the_bin_width() -> None:
    cs = streaming.analyze_capture(FIXTURES / "captures" / "eth.pcap")
    with pytest.raises(ValueError, match="multiple"):
        cs.per_interval("150us")
    with pytest.raises(ValueError, match="per interface and direction"):
        cs.per_interval("1s", by="protocol")


def test_the_stats_functions_take_the_streaming_result() -> None:
    path = FIXTURES / "captures" / "any_sll2.pcap"
    cs = streaming.analyze_capture(path)
    df = read_capture(path)
    for fn in (stats.summary, stats.conversations, stats.tcp_flag_counts, stats.resets, stats.top_talkers,
               stats.endpoints, stats.protocol_hierarchy, stats.tcp_anomalies):
        _same(fn(df), fn(cs), fn.__name__)
    _same(flows.handshake_rtts(df), flows.handshake_rtts(cs), "handshake_rtts")


def test_not_a_capture_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"\x00\x01\x02\x03" * 100)
    with pytest.raises(CaptureError, match="neither pcap"):
        streaming.analyze_capture(bad)
    with pytest.raises(CaptureError, match="folder"):
        streaming.analyze_capture(tmp_path)


def test_without_the_c_extension_the_whole_file_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without a compiler: the same tables from the whole-file path, and a note that says why."""
    path = FIXTURES / "analysis" / "reorder.rx.pcap"
    fast = streaming.analyze_capture(path, macs=True)
    monkeypatch.setattr(streaming, "_account", None)
    slow = streaming.analyze_capture(path)
    assert type(slow) is not streaming.CaptureStats and "not built" in " ".join(slow.notes)
    for table in ("summary", "conversations", "endpoints", "protocol_hierarchy", "tcp_flag_counts", "resets",
                  "tcp_anomalies", "expert_counts", "events", "problem_conversations", "handshake_rtts"):
        _same(getattr(fast, table)(), getattr(slow, table)(), table)
    _same(fast.per_interval("100ms", by="direction"), slow.per_interval("100ms", by="direction"), "per_interval")
    assert fast.mac_counts() == slow.mac_counts() and fast.time_span() == slow.time_span() and len(fast) == len(slow)
    assert set(fast.problem_figures(1)) == set(slow.problem_figures(1))


@pytest.mark.parametrize("path", [p for p in PCAPS if p.parent.name == "captures"] + [DEMO / "net1.pcap"], ids=lambda p: p.name)
def test_mac_counts_equal_the_l2_reader(path: Path) -> None:
    """The promiscuous-mode check counts frames per MAC; the pass counts them as capture.l2 does."""
    from spkrunbook.capture import l2

    assert streaming.analyze_capture(path, macs=True).mac_counts() == l2.mac_counts(path.read_bytes())
    with pytest.raises(CaptureError, match="not counted"):
        streaming.analyze_capture(path).mac_counts()
