"""Generate a big synthetic pcap fast (numpy + bytes templates) for the benchmark.

Mixed TCP/UDP/ICMP, IPv4 and IPv6, ~10% 802.1Q-tagged, ~500 flows; sizes mix
ACKs, full-size data segments and small datagrams.  Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import struct

import numpy as np


def _ip4(src: int, dst: int, proto: int, payload: bytes) -> bytes:
    return struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0, src, dst) + payload


def _ip6(src: bytes, dst: bytes, nh: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + src + dst + payload


def _tcp(sp: int, dp: int, seq: int, ack: int, flags: int, data: int) -> bytes:
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 0x50, flags, 502, 0, 0) + b"d" * data


def _udp(sp: int, dp: int, data: int) -> bytes:
    return struct.pack("!HHHH", sp, dp, 8 + data, 0) + b"u" * data


def templates(flows: int = 500, seed: int = 1) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for f in range(flows):
        v6 = f % 4 == 0
        vlan = f % 10 == 0
        kind = ["tcp", "tcp", "tcp", "udp", "icmp"][f % 5]
        a, b = 0x0A000000 + int(rng.integers(1, 60000)), 0x0A100000 + int(rng.integers(1, 200))
        a6, b6 = bytes([0xFD] + [0] * 13) + a.to_bytes(4, "big")[2:], bytes([0xFD] + [0] * 13) + b.to_bytes(4, "big")[2:]
        sp, dp = int(rng.integers(1024, 65000)), [443, 80, 8080, 10250, 53][f % 5]
        if kind == "tcp":
            l4s = [(6, _tcp(sp, dp, 1000 + i * 1448, 5000, 0x10, 1448)) for i in range(2)] + \
                  [(6, _tcp(dp, sp, 5000, 1000 + i * 1448, 0x10, 0)) for i in range(2)] + [(6, _tcp(sp, dp, 0, 0, 0x02, 0))]
        elif kind == "udp":
            l4s = [(17, _udp(sp, dp, 60)), (17, _udp(dp, sp, 120))]
        else:
            l4s = [(1 if not v6 else 58, struct.pack("!BBHHH", 8 if not v6 else 128, 0, 0, f, 1) + b"p" * 56)]
        for proto, l4 in l4s:
            fwd = l4[:2] == sp.to_bytes(2, "big") or proto in (1, 58)
            if v6:
                ip = _ip6(a6 if fwd else b6, b6 if fwd else a6, proto, l4)
                et = b"\x86\xdd"
            else:
                ip = _ip4(a if fwd else b, b if fwd else a, proto, l4)
                et = b"\x08\x00"
            eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + ((b"\x81\x00" + struct.pack("!H", 100 + f % 50)) if vlan else b"") + et
            out.append(eth + ip)
    return out


def write(path: str, packets: int, seed: int = 1) -> int:
    """Write a classic pcap of ``packets`` packets; return the file size."""
    tpl = templates(seed=seed)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(tpl), packets)
    t0 = 1_700_000_000_000_000  # usec
    ts = t0 + np.cumsum(rng.integers(1, 40, packets))
    hdrs = np.empty((packets, 4), "<u4")
    hdrs[:, 0] = ts // 1_000_000
    hdrs[:, 1] = ts % 1_000_000
    lens = np.array([len(t) for t in tpl], np.uint32)
    hdrs[:, 2] = lens[idx]
    hdrs[:, 3] = lens[idx]
    hb = hdrs.tobytes()
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        step = 100_000
        for s in range(0, packets, step):
            f.write(b"".join(hb[16 * i:16 * i + 16] + tpl[j] for i, j in zip(range(s, min(s + step, packets)), idx[s:s + step].tolist())))
        return f.tell()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=1_000_000)
    a = ap.parse_args()
    print(write(a.out, a.packets))
