"""Ethernet addresses in a capture: which MACs frames were sent to and from.

The statistics work on L3/L4 columns; whether a switch delivers frames to a macvlan
interface's own MAC is an L2 question, answered here from the pcap bytes (classic
pcap and pcapng, Ethernet link type) without decoding anything else.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterator

import numpy as np

from ..errors import CaptureError


def _frames(data: bytes) -> Iterator[tuple[int, memoryview]]:
    view = memoryview(data)
    if len(data) >= 24 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        link = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(e + "I", data, pos + 8)[0]
            if pos + 16 + incl > len(data):
                return
            yield link, view[pos + 16:pos + 16 + incl]
            pos += 16 + incl
        return
    if len(data) >= 12 and data[:4] == b"\x0a\x0d\x0d\x0a":
        pos, e = 0, "<"
        links: list[int] = []
        while pos + 12 <= len(data):
            if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
                e, links = ("<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"), []
            btype, blen = struct.unpack_from(e + "II", data, pos)
            if blen < 12 or pos + blen > len(data):
                return
            if btype == 1:
                links.append(struct.unpack_from(e + "H", data, pos + 8)[0])
            elif btype == 6 and blen >= 32:
                ifid, cap = struct.unpack_from(e + "I", data, pos + 8)[0], struct.unpack_from(e + "I", data, pos + 20)[0]
                if ifid < len(links) and pos + 28 + cap <= pos + blen:
                    yield links[ifid], view[pos + 28:pos + 28 + cap]
            pos += blen
        return
    raise CaptureError("not a pcap or pcapng file", hint="MAC addresses are read from pcap/pcapng captures only")


def _mac(b: memoryview) -> str:
    return ":".join(f"{x:02x}" for x in b)


def mac_counts(data: bytes) -> tuple[Counter[str], Counter[str]]:
    """(frames per destination MAC, frames per source MAC) over the Ethernet frames of a capture."""
    dst: Counter[str] = Counter()
    src: Counter[str] = Counter()
    for link, frame in _frames(data):
        if link == 1 and len(frame) >= 12:
            dst[_mac(frame[0:6])] += 1
            src[_mac(frame[6:12])] += 1
        elif link == 113 and len(frame) >= 16 and struct.unpack_from("!H", frame, 4)[0] == 6:
            # Linux cooked v1 keeps only the sender's address, and says whether the frame was to us
            pkttype = struct.unpack_from("!H", frame, 0)[0]
            (src if pkttype == 4 else dst)[_mac(frame[6:12])] += 1
    return dst, src


def mac_columns(arr: np.ndarray, d0: np.ndarray, cap: np.ndarray, lt: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """The MAC each frame of a decoded chunk was sent to and from (48 bits in a uint64; 2**63 for none), by the
    rules of :func:`mac_counts` (Ethernet: both; Linux cooked v1: the one it keeps)."""
    none = np.uint64(1 << 63)
    n = len(d0)
    to, frm = np.full(n, none, np.uint64), np.full(n, none, np.uint64)
    if not n:
        return to, frm
    lts = np.full(n, lt) if not isinstance(lt, np.ndarray) else lt
    last = len(arr) - 1
    # the 8 bytes at every offset as one big-endian word: a MAC is the top 48 bits (one gather per MAC)
    w64 = np.ndarray((len(arr) - 7,), ">u8", buffer=arr, strides=(1,)) if len(arr) >= 8 else None

    def mac(pos: np.ndarray) -> np.ndarray:
        out = np.zeros(len(pos), np.uint64)
        near_end = pos + 8 > len(arr)
        if w64 is not None:
            ok = ~near_end
            out[ok] = w64[pos[ok]] >> np.uint64(16)
        if near_end.any():  # the last frames of the buffer: byte by byte
            b = arr[np.minimum(pos[near_end][:, None] + np.arange(6), last)].astype(np.uint64)
            out[near_end] = (b << np.arange(40, -8, -8, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)
        return out

    eth = np.flatnonzero((lts == 1) & (cap >= 12))
    if len(eth):
        to[eth], frm[eth] = mac(d0[eth]), mac(d0[eth] + 6)
    sll = np.flatnonzero((lts == 113) & (cap >= 16))
    if len(sll):
        p = d0[sll]
        halen = arr[np.minimum(p + 4, last)].astype(np.int64) * 256 + arr[np.minimum(p + 5, last)]
        sll = sll[halen == 6]
        p = d0[sll]
        out = (arr[np.minimum(p, last)].astype(np.int64) * 256 + arr[np.minimum(p + 1, last)]) == 4
        m = mac(p + 6)
        frm[sll[out]], to[sll[~out]] = m[out], m[~out]
    return to, frm


def mac_text(value: int) -> str:
    """A MAC from :func:`mac_columns` as text (``02:00:00:00:00:01``)."""
    return ":".join(f"{(value >> s) & 0xFF:02x}" for s in range(40, -8, -8))
