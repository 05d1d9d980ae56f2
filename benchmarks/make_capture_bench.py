"""Generate a realistic benchmark pcap, with its ground truth.

Why not replayed templates: a capture that repeats the same TCP sequence numbers
makes tshark's TCP analysis superlinear (issue 16), so the peer would be slow for
a reason users never meet.  Here every TCP connection has real sequencing
(``bench_analysis._connection``: handshake with window scale, request, a server
transfer acknowledged every second segment, ~1 % of segments lost before the
capture point -> duplicate ACKs and a (fast) retransmission, 0.3 % duplicated,
zero windows, keep-alives, FIN or RST closes), interleaved in time.  Mixed in:

- IPv6 for every 4th connection, with a hop-by-hop extension header for every
  8th (a PadN option);
- 802.1Q tags on every 10th connection, QinQ (802.1ad outer + 802.1Q inner) on
  every 10th + 3;
- DNS-like UDP query/response pairs (~8 % of packets);
- ICMP port-unreachable errors quoting the UDP datagram (~1 %);
- IPv4 UDP datagrams of 3,000 bytes in three fragments (~1.5 %).

Full frames (payload bytes zero), as ``tcpdump -w`` writes them.  Deterministic
(seeded).  ``write`` returns the file size and writes ``PATH.truth.json``: per
protocol, IP version, VLAN/QinQ, extension-header, fragment and ICMP-error
counts, which ``bench_capture.py`` checks our reader against.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: benchmarks.* by its package name
from benchmarks.bench_analysis import _connection  # the realistic TCP model

MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"


def _ip4(src: int, dst: int, proto: int, payload: bytes, ident: int = 1, frag: int = 0x4000) -> bytes:
    return struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag, 64, proto, 0, src, dst) + payload


def _ip6(src: bytes, dst: bytes, nh: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + src + dst + payload


def _v6(a: int) -> bytes:
    return b"\xfd\x00" + b"\x00" * 10 + a.to_bytes(4, "big")


def _eth(l3: bytes, v6: bool, vlan: int | None, qinq: int | None) -> bytes:
    tags = b""
    if qinq is not None:
        tags = struct.pack("!HH", 0x88A8, qinq) + struct.pack("!HH", 0x8100, vlan or 1)
    elif vlan is not None:
        tags = struct.pack("!HH", 0x8100, vlan)
    return MAC + tags + (b"\x86\xdd" if v6 else b"\x08\x00") + l3


EPOCH = 1_000_000  # packets generated (and held) at a time; each epoch is 60 s of traffic


def write(path: str, packets: int, seed: int = 16, link: str = "eth") -> int:
    """Write ``packets`` packets to ``path`` (classic pcap, microseconds); return the file size.

    Up to 1 M packets this is one 60-second capture; beyond, 60-second epochs of
    1 M packets follow each other (new connections, new seeds), so memory stays
    at one epoch's worth however large the file.  ``link="sll2"`` writes the same
    frames as ``tcpdump -i any`` does (Linux cooked v2: interface, direction).
    """
    truth: Counter[str] = Counter()
    size = 24
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 276 if link == "sll2" else 1))
        done, epoch, conn = 0, 0, 0
        while done < packets:
            n = min(EPOCH, packets - done)
            out, conn = _epoch(n, seed + epoch, conn, epoch * 60_000_000, truth, link)
            f.write(out)
            size += len(out)
            done += n
            epoch += 1
    truth["tcp_connections"] = conn
    Path(str(path) + ".truth.json").write_text(json.dumps(dict(truth), indent=1, sort_keys=True))
    return size


def _sll2(frame: bytes, outgoing: bool) -> bytes:
    """An Ethernet frame as ``-i any`` captures it: the cooked v2 header (protocol, ifindex, direction, MAC)."""
    return struct.pack("!HHIHBB8s", int.from_bytes(frame[12:14], "big"), 0, 2 if outgoing else 3, 1, 4 if outgoing else 0,
                       6, frame[6:12]) + frame[14:]


def _epoch(packets: int, seed: int, conn: int, t_off: int, truth: Counter[str], link: str = "eth") -> tuple[bytearray, int]:
    """One 60-second epoch: its pcap records and the next connection number."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, ...]] = []
    first_conn = conn
    target_tcp = int(packets * 0.895)
    while len(rows) < target_tcp:
        rows.extend(_connection(rng, conn))
        conn += 1
    # (t_us, kind, conn, seq, ack, flags, win, plen, ws); kind 0/1 = TCP direction, 2 = UDP q, 3 = UDP r, 4 = ICMP, 5 = frag
    extra: list[tuple[int, ...]] = []
    n_udp = int(packets * 0.08) // 2
    for i in range(n_udp):
        t = int(rng.integers(0, 60_000_000))
        extra.append((t, 2, i, 0, 0, 0, 0, 40, -1))
        extra.append((t + int(rng.integers(200, 3000)), 3, i, 0, 0, 0, 0, 120, -1))
    for i in range(int(packets * 0.01)):
        extra.append((int(rng.integers(0, 60_000_000)), 4, i, 0, 0, 0, 0, 60, -1))
    for i in range(int(packets * 0.015) // 3):
        t = int(rng.integers(0, 60_000_000))
        for k in range(3):
            extra.append((t + k * 10, 5, i, k, 0, 0, 0, 0, -1))
    a = np.array(rows + extra, dtype=np.int64)
    a = a[np.argsort(a[:, 0], kind="stable")][:packets]
    del rows, extra
    server4, server6 = 0x0A010A64, _v6(0x0A010A64)
    out = bytearray()
    t0 = 1_800_000_000_000_000 + t_off
    for t_us, kind, cid, seq, ack, flg, win, plen, ws in a.tolist():
        vlan = qinq = None
        if kind <= 1:
            v6, hbh = cid % 4 == 0, cid % 8 == 0
            if cid % 10 == 0:
                vlan = 100 + cid % 50
            elif cid % 10 == 3:
                qinq, vlan = 200 + cid % 20, 300 + cid % 30
            client = 0x0A800000 + cid // 60000 * 256 + 2
            cport = 1024 + cid % 60000
            c2s = kind == 1
            sp, dp = (cport, 443) if c2s else (443, cport)
            opt = struct.pack("!I", 0x01030300 | ws) if ws >= 0 else b"\x01\x01\x01\x01"
            tcp = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 6 << 4, flg, win, 0, 0) + opt + bytes(plen)
            if v6:
                s6, d6 = (_v6(client), server6) if c2s else (server6, _v6(client))
                l3 = _ip6(s6, d6, 0, bytes([6, 0, 1, 4, 0, 0, 0, 0]) + tcp) if hbh else _ip6(s6, d6, 6, tcp)
                truth["ipv6"] += 1
                truth["ipv6_hbh"] += hbh
            else:
                s4, d4 = (client, server4) if c2s else (server4, client)
                l3 = _ip4(s4, d4, 6, tcp)
                truth["ipv4"] += 1
            truth["TCP"] += 1
        elif kind in (2, 3):
            client = 0x0A900000 + cid % 50000
            sp, dp = (20000 + cid % 40000, 53) if kind == 2 else (53, 20000 + cid % 40000)
            udp = struct.pack("!HHHH", sp, dp, 8 + plen, 0) + bytes(plen)
            l3 = _ip4(client, 0x0A010A35, 17, udp) if kind == 2 else _ip4(0x0A010A35, client, 17, udp)
            truth["UDP"] += 1
            truth["ipv4"] += 1
        elif kind == 4:  # port unreachable, quoting the datagram's IP header and 8 bytes
            client = 0x0A900000 + cid % 50000
            quoted = _ip4(client, 0x0A010A36, 17, struct.pack("!HHHH", 30000 + cid % 30000, 9999, 8 + 32, 0))
            l3 = _ip4(0x0A010A36, client, 1, struct.pack("!BBHI", 3, 3, 0, 0) + quoted)
            truth["ICMP"] += 1
            truth["icmp_errors"] += 1
            truth["ipv4"] += 1
        else:  # one of three fragments of a 3,000-byte UDP datagram
            k = seq
            body = struct.pack("!HHHH", 40000 + cid % 20000, 5000, 8 + 2992, 0) + bytes(2992) if k == 0 else bytes(1480 if k == 1 else 3000 - 2 * 1480)
            if k == 0:
                body = body[:1480]
            off = (k * 1480) // 8
            frag = off | (0x2000 if k < 2 else 0)
            l3 = _ip4(0x0A900001 + cid % 1000, 0x0A010A37, 17, body, ident=cid, frag=frag)
            truth["ipv4"] += 1
            truth["fragments"] += 1
            truth["UDP" if k == 0 else "other"] += 1
        if link == "sll2":  # "-i any" sees the frames of VLAN interfaces untagged
            vlan = qinq = None
        frame = _eth(l3, kind <= 1 and cid % 4 == 0, vlan, qinq)
        if link == "sll2":
            frame = _sll2(frame, kind in (1, 2))
        truth["vlan"] += vlan is not None
        truth["qinq"] += qinq is not None
        ts = t0 + t_us
        out += struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame))
        out += frame
    truth["packets"] += len(a)
    del first_conn
    return out, conn


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--link", choices=("eth", "sll2"), default="eth")
    a = ap.parse_args()
    print(write(a.out, a.packets, link=a.link))
