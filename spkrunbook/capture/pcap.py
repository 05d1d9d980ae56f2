"""pcap and pcapng into the capture schema, fast and in bounded memory.

Why this shape: a Python loop per packet (dpkt, scapy) tops out at tens of
thousands of packets per second, far too slow for the captures a debugging
session pulls off a TMM pod.  Here the only per-record Python work is one
``struct.unpack_from`` to find where the next record starts; every field is then
decoded for a whole chunk at once with numpy fancy indexing on a uint8 view.

Files are read in chunks (``CHUNK`` bytes) and only the decoded columns are
kept, so peak memory stays well below the file size for large captures.  The
same machinery powers :class:`PcapStreamReader`, which takes pcap/pcapng bytes
as they arrive (e.g. from a websocket to ``tcpdump -w -`` in a pod).

Damage handling: a file cut off mid-record yields the packets read so far plus
a ``warnings.warn`` naming the byte offset (also ``df.attrs["truncated_at"]``);
a file that is not a capture, an unsupported link type or a malformed pcapng
block raise :class:`spkrunbook.errors.CaptureError`.
"""

from __future__ import annotations

import functools
import io
import os
import socket
import struct
import warnings
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from spkrunbook.errors import CaptureError

from . import l2, schema
from .limits import MAX_BLOCK, MAX_PACKETS, MAX_RECORD, CaptureLimitWarning, open_regular

CHUNK = 16 * 1024 * 1024

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_SLL, LINKTYPE_SLL2, LINKTYPE_IPV4, LINKTYPE_IPV6 = 113, 276, 228, 229
SUPPORTED_LINKTYPES = {
    0: "NULL (BSD loopback)",
    1: "Ethernet",
    12: "raw IP",
    14: "raw IP",
    101: "raw IP",
    108: "LOOP (OpenBSD loopback)",
    113: "Linux cooked v1 (SLL)",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}
_MAX_CAPLEN = 0x40000  # libpcap's largest snaplen; larger record lengths mean corruption
_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
# link type -> index into schema.LINK_LAYERS (tshark's name for the layer)
_LAYER = {LINKTYPE_ETHERNET: 0, LINKTYPE_SLL: 1, LINKTYPE_SLL2: 1, LINKTYPE_RAW: 2, 12: 2, 14: 2, LINKTYPE_IPV4: 2,
          LINKTYPE_IPV6: 2, LINKTYPE_NULL: 3, LINKTYPE_LOOP: 4}

_P_TCP, _P_UDP, _P_ICMP, _P_ICMP6, _P_ARP, _P_LLDP, _P_OTHER = range(7)


def _unsupported_linktype(lt: int) -> CaptureError:
    known = ", ".join(f"{k} ({v})" for k, v in sorted(SUPPORTED_LINKTYPES.items()))
    return CaptureError(
        f"unsupported link type {lt} in capture",
        hint=f"capture with tcpdump on an Ethernet interface or '-i any' (cooked); supported: {known}",
    )


# --------------------------------------------------------------------------- addresses
def _ntoa(u: int) -> str:
    return socket.inet_ntoa(u.to_bytes(4, "big"))


class _AddressTable:
    """Global address -> category code mapping, shared by every chunk of one read."""

    def __init__(self) -> None:
        self.codes: dict[object, int] = {}
        self.names: list[str] = []
        self._order: np.ndarray = np.empty(0, np.intp)

    def order(self) -> np.ndarray:
        """The codes in the order of their address text (the categories' order), computed once per new address."""
        if len(self._order) != len(self.names):
            self._order = np.argsort(np.array(self.names, dtype=str), kind="stable") if self.names else np.empty(0, np.intp)
        return self._order

    def _code(self, key: object, text: Callable[[], str]) -> int:
        c = self.codes.get(key)
        if c is None:
            c = self.codes[key] = len(self.names)
            self.names.append(text())
        return c

    def v4(self, values: np.ndarray) -> np.ndarray:
        """Category codes for uint32 IPv4 addresses (hash factorize, no sort)."""
        if len(values) == 0:
            return np.empty(0, np.int32)
        fc, uniq = pd.factorize(values)
        m = np.fromiter(
            (self._code(int(u), functools.partial(_ntoa, int(u))) for u in uniq),
            np.int32,
            len(uniq),
        )
        return m[fc]

    def v6(self, rows16: np.ndarray) -> np.ndarray:
        """Category codes for an (n, 16) uint8 array of IPv6 addresses."""
        if len(rows16) == 0:
            return np.empty(0, np.int32)
        q = np.ascontiguousarray(rows16).view("<u8")
        return self.v6_halves(q[:, 0], q[:, 1])

    def v6_halves(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Category codes for IPv6 addresses given as their first and last 8 bytes (little-endian uint64 views)."""
        if len(hi) == 0:
            return np.empty(0, np.int32)
        fh, uh = pd.factorize(hi)
        fl, ul = pd.factorize(lo)
        fc, uniq = pd.factorize(fh.astype(np.int64) * len(ul) + fl)
        out = np.empty(len(uniq), np.int32)
        for i, k in enumerate(uniq):
            raw = int(uh[k // len(ul)]).to_bytes(8, "little") + int(ul[k % len(ul)]).to_bytes(8, "little")
            out[i] = self._code(raw, functools.partial(socket.inet_ntop, socket.AF_INET6, raw))
        return out[fc]


# --------------------------------------------------------------------------- decoder
class _Columns:
    """Accumulates decoded chunk columns; builds the DataFrame once at the end."""

    NAMES = ["frame", "ts", "ifid", "ifindex", "pkttype", "vlan", "vlan_inner", "src", "dst", "sport", "dport", "proto", "ipv", "ipproto", "wire", "cap", "payload", "flags", "seq", "ack", "win", "itype", "icode", "m_ifindex", "m_pkttype", "m_vlan", "m_vlan_inner", "m_ports", "m_ipv", "m_tcp", "m_ack", "m_payload", "m_icmp", "wscale", "m_wscale", "link"]

    want_macs = False  # whether the reader adds each frame's MACs (mac_to, mac_from) to the decoded chunk

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in self.NAMES}
        self.count = 0
        self.addrs = _AddressTable()
        self.ifnames: dict[int, str] = {}

    def add(self, cols: dict[str, np.ndarray], frames: np.ndarray | None = None) -> None:
        n = len(cols["ts"])
        cols["frame"] = (np.arange(self.count + 1, self.count + n + 1, dtype=np.uint32) if frames is None
                         else frames.astype(np.uint32))
        self.count += n
        for k in self.NAMES:
            self.parts[k].append(cols[k])

    def frame(self, since: int = 0, *, consume: bool = False) -> pd.DataFrame:
        """The rows decoded so far (from part index ``since``) as a schema DataFrame.

        ``consume`` (the final frame) frees each column's chunk parts as soon as
        they are joined, so the parts and the finished frame never coexist whole.
        """
        joined: dict[str, np.ndarray] = {}

        def cat(k: str) -> np.ndarray:
            if k in joined:
                return joined[k]
            if consume:
                p = self.parts[k]
                r = np.concatenate(p) if len(p) > 1 else (p[0] if p else np.empty(0))
                p.clear()
            else:
                p = self.parts[k][since:]
                r = np.concatenate(p) if p else np.empty(0)
            joined[k] = r  # some masks serve two columns
            return r

        if self.count == 0 or not self.parts["ts"][since:]:
            return schema.empty_frame()
        ts = cat("ts").astype(np.int64, copy=False)
        # categories in a stable order (independent of chunking): sorted address text
        order = self.addrs.order()
        remap = np.empty(len(order) + 1, np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        remap[-1] = -1
        names = pd.Index(np.array(self.addrs.names, dtype=object)[order] if len(order) else [], dtype=object)
        ifid = cat("ifid").astype(np.int32, copy=False)
        if self.ifnames:
            ifcats = [self.ifnames.get(i, f"if{i}") for i in range(max(self.ifnames) + 1)]
            ifcodes = np.where((ifid >= 0) & (ifid < len(ifcats)), ifid, -1)
            interface = pd.Categorical.from_codes(ifcodes, categories=pd.Index(ifcats).unique()
                                                  if len(set(ifcats)) == len(ifcats) else None) \
                if len(set(ifcats)) == len(ifcats) else pd.Categorical([ifcats[i] if i >= 0 else None for i in ifcodes])
        else:
            interface = pd.Categorical.from_codes(np.full(len(ts), -1, np.int8), categories=pd.Index([], dtype=object))
        pk = cat("pkttype")
        m_pk = cat("m_pkttype")
        direction = pd.Categorical.from_codes(
            np.where(m_pk & (pk <= 4), pk, -1).astype(np.int8), dtype=schema.COLUMNS["direction"]
        )
        m_ports, m_tcp, m_ack = cat("m_ports"), cat("m_tcp"), cat("m_ack")
        flags = cat("flags").astype(np.int16)
        d = {
            "frame": pd.arrays.IntegerArray(cat("frame").astype(np.uint32), np.zeros(len(ts), bool)),
            "timestamp": pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC"),
            "time_of_day": (ts % 86_400_000_000_000).view("m8[ns]"),
            "interface": interface,
            "ifindex": schema.masked(cat("ifindex"), cat("m_ifindex"), "Int32"),
            "direction": direction,
            "vlan": schema.masked(cat("vlan"), cat("m_vlan"), "Int16"),
            "vlan_inner": schema.masked(cat("vlan_inner"), cat("m_vlan_inner"), "Int16"),
            "src": pd.Categorical.from_codes(remap[cat("src").astype(np.int32)], categories=names, validate=False),
            "dst": pd.Categorical.from_codes(remap[cat("dst").astype(np.int32)], categories=names, validate=False),
            "sport": schema.masked(cat("sport"), m_ports, "UInt16"),
            "dport": schema.masked(cat("dport"), m_ports, "UInt16"),
            "protocol": pd.Categorical.from_codes(cat("proto").astype(np.int8), dtype=schema.COLUMNS["protocol"]),
            "ip_version": schema.masked(cat("ipv"), cat("m_ipv"), "UInt8"),
            "ip_proto": schema.masked(cat("ipproto"), cat("m_ipv"), "UInt8"),
            "wire_len": schema.masked(cat("wire"), None, "UInt32"),
            "cap_len": schema.masked(cat("cap"), None, "UInt32"),
            "payload_len": schema.masked(cat("payload"), cat("m_payload"), "UInt32"),
            "tcp_flags": pd.Categorical.from_codes(np.where(m_tcp, flags, -1).astype(np.int16),
                                                   dtype=schema.COLUMNS["tcp_flags"]),
            "tcp_flagbits": schema.masked(flags, m_tcp, "UInt8"),
            "seq": schema.masked(cat("seq"), m_tcp, "UInt32"),
            "ack": schema.masked(cat("ack"), m_ack, "UInt32"),
            "window": schema.masked(cat("win"), m_tcp, "UInt16"),
            "icmp_type": schema.masked(cat("itype"), cat("m_icmp"), "UInt8"),
            "icmp_code": schema.masked(cat("icode"), cat("m_icmp"), "UInt8"),
            "tcp_wscale": schema.masked(cat("wscale"), cat("m_wscale"), "UInt8"),
            "link": pd.Categorical.from_codes(cat("link").astype(np.int8), dtype=schema.COLUMNS["link"]),
        }
        if not self.ifnames:
            # pcapng without names still has interface ids
            ifv = ifid >= 0
            if ifv.any():
                d["interface"] = pd.Categorical.from_codes(np.where(ifv, ifid, -1),
                                                           categories=pd.Index([f"if{i}" for i in range(int(ifid.max()) + 1)]))
        df = pd.DataFrame(d, copy=False)
        return df


def _decode(
    arr: np.ndarray,
    d0: np.ndarray,
    cap: np.ndarray,
    wire: np.ndarray,
    ts: np.ndarray,
    lt: np.ndarray | int,
    ifid: np.ndarray | None,
    addrs: _AddressTable,
) -> dict[str, np.ndarray]:
    """Decode link, network and transport headers of every packet in one chunk.

    ``arr`` is the chunk (uint8), ``d0`` the offset of each packet's first byte,
    ``cap`` its captured length.  A field is only used when it lies inside the
    captured bytes; everything else is masked (NA).
    """
    n = len(d0)
    last = len(arr) - 1
    end = d0 + cap  # one past the last captured byte of each packet
    z = np.zeros(n, bool)

    def u8(pos: np.ndarray) -> np.ndarray:
        return arr[np.minimum(pos, last)]

    if len(arr) >= 8:
        # unaligned big-endian views at every byte offset: one gather per field
        v16 = np.ndarray((len(arr) - 1,), ">u2", buffer=arr, strides=(1,))
        v32 = np.ndarray((len(arr) - 3,), ">u4", buffer=arr, strides=(1,))

        def be16(pos: np.ndarray) -> np.ndarray:
            return v16[np.minimum(pos, last - 1)].astype(np.uint16)

        def be32(pos: np.ndarray) -> np.ndarray:
            return v32[np.minimum(pos, last - 3)].astype(np.uint32)
    else:
        def be16(pos: np.ndarray) -> np.ndarray:
            p = np.minimum(pos, last - 1)
            return (arr[p].astype(np.uint16) << 8) | arr[p + 1]

        def be32(pos: np.ndarray) -> np.ndarray:
            p = np.minimum(pos, last - 3)
            return (
                (arr[p].astype(np.uint32) << 24)
                | (arr[p + 1].astype(np.uint32) << 16)
                | (arr[p + 2].astype(np.uint32) << 8)
                | arr[p + 3]
            )

    et = np.zeros(n, np.uint16)
    net = d0.copy()
    vlan = np.zeros(n, np.uint16)
    vlan2 = np.zeros(n, np.uint16)
    m_vlan = z.copy()
    m_vlan2 = z.copy()
    pkttype = np.zeros(n, np.uint8)
    m_pkttype = z.copy()
    ifindex = np.zeros(n, np.int32)
    m_ifindex = z.copy()
    if ifid is not None:
        ifindex[:] = ifid
        m_ifindex[:] = ifid >= 0

    layer = np.zeros(n, np.int8)  # schema.LINK_LAYERS
    lts = np.unique(lt) if isinstance(lt, np.ndarray) else np.array([lt])
    for L in lts.tolist():
        sel = slice(None) if len(lts) == 1 else np.nonzero(lt == L)[0]
        s0, scap = d0[sel], cap[sel]
        layer[sel] = _LAYER.get(int(L), 0)
        if L == LINKTYPE_ETHERNET:
            e = be16(s0 + 12)
            et[sel] = np.where(scap >= 14, e, 0)
            net[sel] = s0 + 14
        elif L == LINKTYPE_SLL:
            et[sel] = np.where(scap >= 16, be16(s0 + 14), 0)
            net[sel] = s0 + 16
            pkttype[sel] = be16(s0).astype(np.uint8)
            m_pkttype[sel] = scap >= 2
        elif L == LINKTYPE_SLL2:
            et[sel] = np.where(scap >= 20, be16(s0), 0)
            net[sel] = s0 + 20
            pkttype[sel] = u8(s0 + 10)
            m_pkttype[sel] = scap >= 11
            ifindex[sel] = be32(s0 + 4).astype(np.int32)
            m_ifindex[sel] = scap >= 8
        elif L in (LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6):
            v = u8(s0) >> 4
            e = np.where(v == 4, 0x0800, np.where(v == 6, 0x86DD, 0)).astype(np.uint16)
            if L == LINKTYPE_IPV4:
                e[:] = 0x0800
            elif L == LINKTYPE_IPV6:
                e[:] = 0x86DD
            et[sel] = np.where(scap >= 1, e, 0)
            net[sel] = s0
        elif L in (LINKTYPE_NULL, LINKTYPE_LOOP):
            fam_le = arr[np.minimum(s0, last)].astype(np.uint32)  # family < 256 in either order
            fam_be = u8(s0 + 3).astype(np.uint32)
            fam = np.where(fam_le != 0, fam_le, fam_be)
            et[sel] = np.where(scap >= 4, np.where(fam == 2, 0x0800, np.where(np.isin(fam, (10, 24, 28, 30)), 0x86DD, 0)), 0)
            net[sel] = s0 + 4
        else:
            raise _unsupported_linktype(int(L))

    # 802.1Q / 802.1ad tags (Ethernet, and cooked captures of tagged frames)
    tags = (np.zeros(n, np.int8), np.zeros(n, np.int8))  # 1: vlan (0x8100, 0x9100), 2: ieee8021ad (0x88a8)
    for (vl, mv_), tag in zip(((vlan, m_vlan), (vlan2, m_vlan2)), tags):
        t = np.isin(et, _VLAN_TPIDS) & (net + 4 <= end)
        if not t.any():
            break
        it = np.nonzero(t)[0]
        tag[it] = np.where(et[it] == 0x88A8, 2, 1)
        vl[it] = be16(net[it]) & 0xFFF
        mv_[it] = True
        et[it] = be16(net[it] + 2)
        net[it] += 4

    proto = np.full(n, _P_OTHER, np.int8)
    ipv = np.zeros(n, np.uint8)
    ipproto = np.zeros(n, np.uint8)
    m_ipv = z.copy()
    src = np.full(n, -1, np.int32)
    dst = np.full(n, -1, np.int32)
    l4 = net.copy()
    l4len = np.zeros(n, np.int64)
    first_frag = np.ones(n, bool)

    # IPv4
    v4 = (et == 0x0800) & (net + 20 <= end) & ((u8(net) >> 4) == 4)
    if v4.any():
        i4 = np.nonzero(v4)[0]
        nn = net[i4]
        ihl = (u8(nn) & 0xF).astype(np.int64) * 4
        tot = be16(nn + 2).astype(np.int64)
        tot = np.where(tot >= ihl, tot, wire[i4] - (nn - d0[i4]))  # TSO: total length 0
        ipv[i4] = 4
        m_ipv[i4] = True
        ipproto[i4] = u8(nn + 9)
        first_frag[i4] = (be16(nn + 6) & 0x1FFF) == 0
        l4[i4] = nn + ihl
        l4len[i4] = tot - ihl
        codes = addrs.v4(np.concatenate([be32(nn + 12), be32(nn + 16)]))
        src[i4], dst[i4] = codes[: len(i4)], codes[len(i4):]
    # IPv6
    v6 = (et == 0x86DD) & (net + 40 <= end) & ((u8(net) >> 4) == 6)
    if v6.any():
        i6 = np.nonzero(v6)[0]
        nn = net[i6]
        nh = u8(nn + 6)
        plen = be16(nn + 4).astype(np.int64)
        p = nn + 40
        ff = np.ones(len(i6), bool)
        for _ in range(4):  # skip up to 4 extension headers
            hop = np.isin(nh, (0, 43, 60)) & (p + 2 <= end[i6])
            frag = (nh == 44) & (p + 8 <= end[i6])
            ah = (nh == 51) & (p + 2 <= end[i6])
            ext = hop | frag | ah
            if not ext.any():
                break
            hl = np.where(hop, (u8(p + 1).astype(np.int64) + 1) * 8,
                          np.where(frag, 8, (u8(p + 1).astype(np.int64) + 2) * 4))
            ff &= ~(frag & ((be16(p + 2) & 0xFFF8) != 0))
            nh = np.where(ext, u8(p), nh)
            p = np.where(ext, p + hl, p)
        ipv[i6] = 6
        m_ipv[i6] = True
        ipproto[i6] = nh
        first_frag[i6] = ff
        l4[i6] = p
        l4len[i6] = plen - (p - nn - 40)
        if len(arr) >= 8:  # the two 8-byte halves of each address, one gather each
            v64 = np.ndarray((len(arr) - 7,), "<u8", buffer=arr, strides=(1,))
            a16 = np.concatenate([nn + 8, nn + 24])
            codes = addrs.v6_halves(v64[np.minimum(a16, last - 7)], v64[np.minimum(a16 + 8, last - 7)])
        else:
            rows = np.minimum(nn[:, None] + np.arange(8, 40), last)
            b = arr[rows]
            codes = addrs.v6(np.concatenate([b[:, :16], b[:, 16:]]))
        src[i6], dst[i6] = codes[: len(i6)], codes[len(i6):]
    isip = v4 | v6

    # ARP (Ethernet/IPv4 only carry addresses)
    arp = et == 0x0806
    proto[arp] = _P_ARP
    payload = np.zeros(n, np.int64)
    m_payload = z.copy()
    if arp.any():
        ia = np.nonzero(arp)[0]
        nn = net[ia]
        ok = (u8(nn + 4) == 6) & (u8(nn + 5) == 4) & (nn + 28 <= end[ia])
        codes = addrs.v4(np.concatenate([be32(nn + 14), be32(nn + 24)]))
        src[ia] = np.where(ok, codes[: len(ia)], -1)
        dst[ia] = np.where(ok, codes[len(ia):], -1)
        payload[ia] = wire[ia] - (nn - d0[ia])
        m_payload[ia] = True
    proto[et == 0x88CC] = _P_LLDP

    # transport
    l4ok = isip & first_frag
    tcp = l4ok & (ipproto == 6)
    udp = l4ok & (ipproto == 17)
    icmp = l4ok & (((ipproto == 1) & (ipv == 4)) | ((ipproto == 58) & (ipv == 6)))
    proto[isip] = _P_OTHER
    proto[tcp] = _P_TCP
    proto[udp] = _P_UDP
    proto[icmp & (ipv == 4)] = _P_ICMP
    proto[icmp & (ipv == 6)] = _P_ICMP6
    payload[isip] = l4len[isip]
    m_payload[isip] = l4len[isip] >= 0

    m_ports = (tcp | udp) & (l4 + 4 <= end)
    sport = np.zeros(n, np.uint16)
    dport = np.zeros(n, np.uint16)
    flags = np.zeros(n, np.uint8)
    seq = np.zeros(n, np.uint32)
    ack = np.zeros(n, np.uint32)
    win = np.zeros(n, np.uint16)
    m_tcp = tcp & (l4 + 16 <= end)
    if m_ports.any():
        ip_ = np.nonzero(m_ports)[0]
        sport[ip_] = be16(l4[ip_])
        dport[ip_] = be16(l4[ip_] + 2)
    if m_tcp.any():
        it = np.nonzero(m_tcp)[0]
        p = l4[it]
        seq[it] = be32(p + 4)
        ack[it] = be32(p + 8)
        doff = (u8(p + 12) >> 4).astype(np.int64) * 4
        flags[it] = u8(p + 13)
        win[it] = be16(p + 14)
        payload[it] = l4len[it] - doff
    m_ack = m_tcp & ((flags & 0x10) != 0)
    # window-scale option (kind 3) of SYN packets: one vectorised step per option, 40 bytes at most
    wscale = np.zeros(n, np.uint8)
    m_wscale = z.copy()
    isyn = np.nonzero(m_tcp & ((flags & 0x02) != 0))[0]
    if len(isyn):
        p0 = l4[isyn]
        oend = np.minimum(p0 + (u8(p0 + 12) >> 4).astype(np.int64) * 4, end[isyn])
        o = p0 + 20
        live = o < oend
        for _ in range(40):
            if not live.any():
                break
            kind = u8(o)
            ln = np.where(o + 1 < oend, u8(o + 1).astype(np.int64), 0)
            ws = live & (kind == 3) & (ln == 3) & (o + 2 < oend)
            wscale[isyn[ws]] = u8(o + 2)[ws]
            m_wscale[isyn[ws]] = True
            nop = kind == 1
            live &= (kind != 0) & (nop | (ln >= 2))
            o = np.where(nop, o + 1, o + ln)
            live &= o < oend
    # TCP whose header was not captured: payload unknown
    m_payload &= ~(tcp & ~m_tcp)
    if udp.any():
        iu = np.nonzero(udp & (l4 + 6 <= end))[0]
        ulen = be16(l4[iu] + 4).astype(np.int64)
        payload[iu] = np.where(ulen >= 8, ulen - 8, l4len[iu] - 8)
    m_icmp = icmp & (l4 + 2 <= end)
    itype = np.zeros(n, np.uint8)
    icode = np.zeros(n, np.uint8)
    if m_icmp.any():
        ic = np.nonzero(m_icmp)[0]
        itype[ic] = u8(l4[ic])
        icode[ic] = u8(l4[ic] + 1)
    m_payload &= payload >= 0

    return {
        "ts": ts, "ifid": ifid if ifid is not None else np.full(n, -1, np.int32),
        "ifindex": ifindex, "m_ifindex": m_ifindex, "pkttype": pkttype, "m_pkttype": m_pkttype,
        "vlan": vlan, "m_vlan": m_vlan, "vlan_inner": vlan2, "m_vlan_inner": m_vlan2,
        "src": src, "dst": dst, "sport": sport, "dport": dport, "m_ports": m_ports,
        "proto": proto, "ipv": ipv, "ipproto": ipproto, "m_ipv": m_ipv,
        "wire": wire.astype(np.uint32), "cap": cap.astype(np.uint32),
        "payload": np.clip(payload, 0, 0xFFFFFFFF).astype(np.uint32), "m_payload": m_payload,
        "flags": flags, "m_tcp": m_tcp, "seq": seq, "ack": ack, "m_ack": m_ack, "win": win,
        "itype": itype, "icode": icode, "m_icmp": m_icmp, "wscale": wscale, "m_wscale": m_wscale,
        "link": (layer * 7 + np.where(tags[0] == 0, 0, 1 + 3 * (tags[0] - 1) + tags[1])).astype(np.int8),
    }


# --------------------------------------------------------------------------- walks
# The per-record loop: find where each record starts and read its header.  The
# C helper (_walk.c, built by ``pip install -e .`` when a compiler is there)
# does it at memory speed; the pure-Python walks below are the fallback with the
# same contract (tests compare the two on every test capture and on mutations).
#
# walk_pcap(buf, start, end, big_endian, snaplen, tsmult)
#   -> (count, stop, status, data_off, ts_ns, caplen, wirelen)      status 0 need more, 1 caplen > snaplen
# walk_ng(buf, start, end, big_endian, snaplen0)
#   -> (count, stop, status, data_off, ifid, ts_raw, caplen, wirelen)
#      status 0 need more; 2 the block at ``stop`` is for Python (SHB, IDB, malformed)
# Arrays come back as bytes of native int64 (ts_raw: uint64).


def _py_walk_pcap(buf: bytes | bytearray, start: int, end: int, big: bool, snaplen: int, tsmult: int) -> tuple:
    if not 0 <= start <= end <= len(buf):
        raise ValueError("walk_pcap: start/end outside the buffer")
    unpack = struct.Struct((">" if big else "<") + "I").unpack_from
    offs: list[int] = []
    app = offs.append
    off, status = start, 0
    mv = memoryview(buf)
    try:
        while off + 16 <= end:
            cl = unpack(mv, off + 8)[0]
            if cl > snaplen:
                status = 1
                break
            if off + 16 + cl > end:
                break
            app(off)
            off += 16 + cl
    finally:
        mv.release()
    if not offs:
        e = b""
        return 0, off, status, e, e, e, e
    arr = np.frombuffer(buf, np.uint8, count=off)
    o = np.array(offs, dtype=np.int64)
    hdr = arr[o[:, None] + np.arange(16)].view((">" if big else "<") + "u4").astype(np.int64)
    del arr
    ts = hdr[:, 0] * 1_000_000_000 + hdr[:, 1] * tsmult
    return len(o), off, status, (o + 16).tobytes(), ts.tobytes(), hdr[:, 2].tobytes(), hdr[:, 3].tobytes()


def _py_walk_ng(buf: bytes | bytearray, start: int, end: int, big: bool, snaplen0: int) -> tuple:
    if not 0 <= start <= end <= len(buf):
        raise ValueError("walk_ng: start/end outside the buffer")
    e = ">" if big else "<"
    unpack2 = struct.Struct(e + "II").unpack_from
    unpack1 = struct.Struct(e + "I").unpack_from
    offs: list[int] = []
    off, status = start, 0
    mv = memoryview(buf)
    try:
        while off + 12 <= end:
            if mv[off:off + 4] == PCAPNG_SHB:
                status = 2
                break
            btype, blen = unpack2(mv, off)
            if blen < 12 or blen % 4 or blen > 0x10000000:
                status = 2
                break
            if off + blen > end:
                break
            if unpack1(mv, off + blen - 4)[0] != blen or btype == 1:
                status = 2
                break
            if btype in (2, 6):
                if blen < 32:
                    status = 2
                    break
                offs.append(off)
            elif btype == 3:
                if blen < 16:
                    status = 2
                    break
                offs.append(off)
            off += blen
    finally:
        mv.release()
    if not offs:
        x = b""
        return 0, off, status, x, x, x, x, x
    arr = np.frombuffer(buf, np.uint8, count=off)
    o = np.array(offs, dtype=np.int64)
    hdr = arr[o[:, None] + np.arange(12)].view(e + "u4").astype(np.int64)
    btype, blen = hdr[:, 0], hdr[:, 1]
    pkt = btype != 3
    ip = np.nonzero(pkt)[0]
    ep = arr[o[ip][:, None] + np.arange(28)].view(e + "u4").astype(np.int64)  # EPB/PB blocks are >= 32 bytes
    ep16 = arr[o[ip][:, None] + np.arange(8, 10)].view(e + "u2")[:, 0].astype(np.int64)
    del arr
    ifid = np.zeros(len(o), np.int64)
    tsr = np.zeros(len(o), np.uint64)
    wire = hdr[:, 2].copy()
    cap = np.minimum(np.minimum(hdr[:, 2], snaplen0), blen - 16)
    ifid[ip] = np.where(btype[ip] == 2, ep16, ep[:, 2])
    tsr[ip] = (ep[:, 3].astype(np.uint64) << np.uint64(32)) | ep[:, 4].astype(np.uint64)
    wire[ip] = ep[:, 6]
    cap[ip] = np.minimum(ep[:, 5], blen[ip] - 32)
    d0 = np.where(pkt, o + 28, o + 12)
    return (len(o), off, status, d0.tobytes(), ifid.tobytes(), tsr.tobytes(),
            cap.tobytes(), wire.tobytes())


_Walk = Callable[..., tuple[Any, ...]]
_c_walk_pcap: _Walk | None
_c_walk_ng: _Walk | None
try:  # the C walk, when the optional extension was built
    from ._walk import walk_ng as _c_walk_ng
    from ._walk import walk_pcap as _c_walk_pcap
except ImportError:  # pragma: no cover - depends on the build
    _c_walk_pcap = _c_walk_ng = None

HAVE_C_WALK = _c_walk_pcap is not None
_walk_pcap: _Walk = _c_walk_pcap or _py_walk_pcap
_walk_ng: _Walk = _c_walk_ng or _py_walk_ng


def use_c_walk(enabled: bool) -> bool:
    """Switch between the C walk and the pure-Python fallback (tests); returns the previous state."""
    global _walk_pcap, _walk_ng
    before = _walk_pcap is _c_walk_pcap and HAVE_C_WALK
    if enabled and not HAVE_C_WALK:
        raise RuntimeError("spkrunbook.capture._walk is not built")
    _walk_pcap = _c_walk_pcap if enabled and _c_walk_pcap is not None else _py_walk_pcap
    _walk_ng = _c_walk_ng if enabled and _c_walk_ng is not None else _py_walk_ng
    return before


def _i64(b: bytes) -> np.ndarray:
    return np.frombuffer(b, np.int64)


# --------------------------------------------------------------------------- framing
class _Interface:
    __slots__ = ("div", "linktype", "mult", "name", "offset_ns", "shift", "snaplen")

    def __init__(self, linktype: int, snaplen: int) -> None:
        self.linktype, self.snaplen = linktype, snaplen
        self.mult, self.div, self.shift, self.offset_ns = 1000, 1, 0, 0
        self.name: str | None = None

    def set_tsresol(self, r: int) -> None:
        if r & 0x80:
            self.mult, self.div, self.shift = 1, 1, r & 0x7F
        else:
            r &= 0x7F
            self.mult, self.div = (10 ** (9 - r), 1) if r <= 9 else (1, 10 ** (r - 9))


class PcapStreamReader:
    """Incremental pcap/pcapng decoder: ``feed()`` bytes as they arrive.

    Why: live captures are streamed (``tcpdump -w -`` in a pod, bytes over a
    websocket); this decodes them while they arrive so a notebook can show
    progress, without buffering the whole stream.

    >>> r = PcapStreamReader()
    >>> for chunk in chunks:            # doctest: +SKIP
    ...     new = r.feed(chunk)         # packets decoded by this call
    >>> df = r.close()                  # every packet, one schema DataFrame

    ``drain()`` returns the packets decoded since the previous ``drain()`` as a
    DataFrame (for live tables); ``packets`` and ``bytes_read`` count progress.
    """

    def __init__(self, source: str = "<stream>", *, min_batch: int = 1 << 20,
                 max_packets: int | None = MAX_PACKETS, max_bytes: int | None = None) -> None:
        self.source = source
        self.min_batch = min_batch
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.records = 0  # records seen, skipped ones included (frame numbers count them)
        self.skipped_records = 0  # zero-length records (caplen == orig_len == 0) skipped
        self.limit_reached: str | None = None
        self._damage: str | None = None
        self._buf = bytearray()
        self._base = 0  # file offset of _buf[0]
        self._fmt: str | None = None
        self._endian = "<"
        self._tsmult = 1000
        self._snaplen = _MAX_CAPLEN
        self._linktype = -1
        self._ifaces: list[_Interface] = []
        self._ifbase = 0  # global interface-id offset of the current pcapng section
        self._cols = _Columns()
        self._drained = 0
        self.bytes_read = 0
        self.linktypes: set[int] = set()
        self.truncated_at: int | None = None
        self._closed = False
        self._result: pd.DataFrame | None = None

    @property
    def packets(self) -> int:
        return self._cols.count

    # ------------------------------------------------------------------ feeding
    def feed(self, data: bytes | bytearray | memoryview) -> int:
        """Add bytes; decode every complete record; return how many packets were added."""
        if self._closed:
            raise CaptureError("feed() after close()", hint="create a new PcapStreamReader")
        if self.limit_reached is not None or self.truncated_at is not None:
            return 0  # past a limit or damage: the rest is not kept
        if self.max_bytes is not None and self.bytes_read + len(data) >= self.max_bytes:
            data = memoryview(data)[: max(self.max_bytes - self.bytes_read, 0)]
            self.limit_reached = f"max_bytes={self.max_bytes}"
        self._buf += data
        self.bytes_read += len(data)
        if len(self._buf) < self.min_batch and self._fmt is not None:
            return 0
        return self._process()

    def _read_file(self, f: Any, chunk_size: int) -> None:
        """Read a whole file through one reused buffer (``readinto``, no per-chunk copies)."""
        buf = bytearray(max(chunk_size, 4096))
        n = 0
        while True:
            if n == len(buf):  # one record larger than the buffer: grow
                buf.extend(bytes(len(buf)))
            want = len(buf) - n
            if self.max_bytes is not None:
                want = min(want, self.max_bytes - self.bytes_read)
                if want <= 0:
                    self.limit_reached = f"max_bytes={self.max_bytes}"
                    break
            with memoryview(buf) as mv:
                k = f.readinto(mv[n:n + want])
            if not k:
                break
            n += k
            self.bytes_read += k
            used = self._process_buf(buf, n)
            if used:
                self._base += used
                buf[: n - used] = buf[used:n]
                n -= used
            if self.truncated_at is not None or self.limit_reached is not None:
                break
        self._buf = bytearray(buf[:n])

    def _process(self) -> int:
        before = self._cols.count
        used = self._process_buf(self._buf, len(self._buf))
        if used:
            del self._buf[:used]
            self._base += used
        return self._cols.count - before

    def _process_buf(self, buf: bytearray, n: int) -> int:
        """Decode every complete record in ``buf[:n]``; return the bytes consumed."""
        if self._fmt is None:
            if n < 24:
                return 0
            self._header(bytes(buf[:24]))
        if self._fmt == "pcap":
            return self._pcap_records(buf, n, 24 if self._base == 0 else 0)
        return self._pcapng_blocks(buf, n)

    def _header(self, head: bytes) -> None:
        magic = head[:4]
        if magic in PCAP_MAGICS:
            self._fmt = "pcap"
            self._endian, self._tsmult = PCAP_MAGICS[magic]
            _, _, _, _, snap, lt = struct.unpack_from(self._endian + "HHiIII", head, 4)
            self._snaplen = min(max(snap, _MAX_CAPLEN), MAX_RECORD)
            self._linktype = lt & 0x0FFFFFFF
            if self._linktype not in SUPPORTED_LINKTYPES:
                raise _unsupported_linktype(self._linktype)
            self.linktypes.add(self._linktype)
        elif magic == PCAPNG_SHB:
            self._fmt = "pcapng"
        else:
            raise CaptureError(
                f"{self.source} is not a pcap or pcapng capture (starts with {head[:8].hex(' ')})",
                hint="save captures with 'tcpdump -w FILE' (binary); for pasted tcpdump lines use read_tcpdump_text",
            )

    def _pcap_records(self, buf: bytearray, n: int, start: int) -> int:
        """Walk classic pcap record headers; decode complete records; return bytes consumed."""
        count, off, status, d0, ts, cap, wire = _walk_pcap(buf, start, n, self._endian == ">", self._snaplen, self._tsmult)
        if status == 1:
            cl = struct.unpack_from(self._endian + "I", buf, off + 8)[0]
            self._stop(off, f"record header at byte {self._base + off} claims {cl} captured bytes "
                            f"(more than the snapshot length {self._snaplen}); the file is damaged there")
        if count:
            d0a, capa, wirea, tsa = _i64(d0), _i64(cap), _i64(wire), _i64(ts)
            keep, frames, off = self._select(capa, wirea, d0a, off)
            if keep is not None:
                d0a, capa, wirea, tsa = d0a[keep], capa[keep], wirea[keep], tsa[keep]
            if len(d0a):
                arr = np.frombuffer(buf, np.uint8, count=off)
                try:
                    dec = _decode(arr, d0a, capa, wirea, tsa, self._linktype, None, self._cols.addrs)
                    dec["offset"] = d0a + self._base
                    if self._cols.want_macs:
                        dec["mac_to"], dec["mac_from"] = l2.mac_columns(arr, d0a, capa, self._linktype)
                    self._cols.add(dec, frames)
                finally:
                    del arr
        return off

    def _select(self, cap: np.ndarray, wire: np.ndarray, d0: np.ndarray, off: int
                ) -> tuple[np.ndarray | None, np.ndarray, int]:
        """Which of these records to keep: zero-length ones skipped, at most ``max_packets`` in all.

        Returns (indices to keep or None for all, their frame numbers, bytes consumed).
        """
        n = len(cap)
        empty = (cap == 0) & (wire == 0)
        nskip = int(np.count_nonzero(empty))
        keep: np.ndarray | None = None
        if nskip:
            keep = np.flatnonzero(~empty)
            self.skipped_records += nskip
        idx = keep if keep is not None else np.arange(n)
        room = None if self.max_packets is None else self.max_packets - self._cols.count
        if room is not None and len(idx) > room:
            idx = idx[:max(room, 0)]
            keep = idx
            self.limit_reached = f"max_packets={self.max_packets}"
            last = int(idx[-1]) if len(idx) else -1
            # consume up to the end of the last kept record (pcap: header + data); the rest is not read
            off = int(d0[last] + cap[last]) if last >= 0 else int(d0[0]) - 16
            n_seen = last + 1
        else:
            n_seen = n
        frames = self.records + 1 + idx
        self.records += n_seen
        return keep, frames, off

    def _pcapng_blocks(self, buf: bytearray, n: int) -> int:
        off = 0
        parts: list[tuple[Any, ...]] = []
        while True:
            snap0 = self._ifaces[0].snaplen if self._ifaces else 0
            count, off, status, *cols = _walk_ng(buf, off, n, self._endian == ">", snap0)
            if count:
                parts.append(tuple(cols))
            if status == 0:
                if off + 8 <= n:  # an incomplete block: refuse to wait for an absurd one
                    btype, blen = struct.unpack_from(self._endian + "II", buf, off)
                    if blen > MAX_BLOCK and buf[off:off + 4] != PCAPNG_SHB:
                        raise CaptureError(
                            f"bad pcapng block at byte {self._base + off}: type {btype:#x} claims {blen:,} bytes "
                            f"(more than the {MAX_BLOCK:,} this reader accepts); the file is damaged there",
                            hint="the file is damaged; 'editcap' or 'pcapfix' may recover the good part",
                        )
                break
            # the block at ``off`` needs Python: SHB, IDB or damage
            if buf[off:off + 4] == PCAPNG_SHB:
                bom = bytes(buf[off + 8:off + 12])
                if bom == b"\x4d\x3c\x2b\x1a":
                    e = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    e = ">"
                else:
                    raise CaptureError(f"bad pcapng section header at byte {self._base + off} (byte-order magic {bom.hex()})",
                                       hint="the file is damaged or not pcapng; re-export it with 'editcap -F pcapng'")
                self._flush_ng(buf, parts)  # packets of the previous section first
                parts = []
                self._endian = e
                self._ifbase += len(self._ifaces)
                self._ifaces = []
            btype, blen = struct.unpack_from(self._endian + "II", buf, off)
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                raise CaptureError(
                    f"bad pcapng block at byte {self._base + off}: type {btype:#x} with length {blen}",
                    hint="the file is damaged; 'editcap' or 'pcapfix' may recover the good part",
                )
            if off + blen > n:
                break
            if struct.unpack_from(self._endian + "I", buf, off + blen - 4)[0] != blen:
                raise CaptureError(
                    f"bad pcapng block at byte {self._base + off}: trailing length does not match {blen}",
                    hint="the file is damaged; 'editcap' or 'pcapfix' may recover the good part",
                )
            if (btype in (2, 6) and blen < 32) or (btype == 3 and blen < 16):
                raise CaptureError(
                    f"bad pcapng block at byte {self._base + off}: packet block type {btype} too short ({blen} bytes)",
                    hint="the file is damaged; 'editcap' or 'pcapfix' may recover the good part",
                )
            if btype == 1:
                self._flush_ng(buf, parts)
                parts = []
                self._idb(bytes(buf[off:off + blen]))
            off += blen
        self._flush_ng(buf, parts)
        return off

    def _idb(self, block: bytes) -> None:
        e = self._endian
        lt, _, snap = struct.unpack_from(e + "HHI", block, 8)
        itf = _Interface(lt, snap or _MAX_CAPLEN)
        p, end = 16, len(block) - 4
        while p + 4 <= end:
            code, ln = struct.unpack_from(e + "HH", block, p)
            if code == 0:
                break
            val = block[p + 4:p + 4 + ln]
            if code == 9 and ln >= 1:
                itf.set_tsresol(val[0])
            elif code == 2:
                itf.name = val.decode("utf-8", "replace").rstrip("\0")
            elif code == 14 and ln == 8:
                itf.offset_ns = struct.unpack(e + "q", val)[0] * 1_000_000_000
            p += 4 + ((ln + 3) & ~3)
        self._ifaces.append(itf)
        gid = self._ifbase + len(self._ifaces) - 1
        self._cols.ifnames[gid] = itf.name or f"if{gid}"
        self.linktypes.add(lt)
        if lt not in SUPPORTED_LINKTYPES:
            raise _unsupported_linktype(lt)

    def _flush_ng(self, buf: bytearray, parts: list[tuple[Any, ...]]) -> None:
        if not parts or self.limit_reached is not None:
            return
        if not self._ifaces:
            raise CaptureError("pcapng packet block before any interface description block",
                               hint="the file is damaged or was cut at the start")
        if len(parts) == 1:
            d0, ifid, tsr, cap, wire = (_i64(x) for x in parts[0])
        else:
            d0, ifid, tsr, cap, wire = (np.concatenate([_i64(p[k]) for p in parts]) for k in range(5))
        keep, frames, _ = self._select(cap, wire, d0, 0)
        if keep is not None:
            d0, ifid, tsr, cap, wire = d0[keep], ifid[keep], tsr[keep], cap[keep], wire[keep]
        if not len(d0):
            return
        tsr = tsr.view(np.uint64)
        nif = len(self._ifaces)
        lt_of = np.array([i.linktype for i in self._ifaces], np.int64)
        bad = (ifid < 0) | (ifid >= nif)
        if bad.any():
            raise CaptureError(f"pcapng packet refers to interface {int(ifid[bad][0])} but only {nif} are described",
                               hint="the file is damaged")
        ts = np.empty(len(d0), np.int64)
        for i, itf in enumerate(self._ifaces):
            m = slice(None) if nif == 1 else ifid == i
            t = tsr[m]
            if not len(t):
                continue
            if itf.shift:
                whole = (t >> np.uint64(itf.shift)).astype(np.int64)
                frac = (t & np.uint64((1 << itf.shift) - 1)).astype(np.float64) / float(1 << itf.shift)
                ts[m] = whole * 1_000_000_000 + np.round(frac * 1e9).astype(np.int64)
            else:
                ts[m] = t.astype(np.int64) * itf.mult // itf.div
            ts[m] += itf.offset_ns
        arr = np.frombuffer(buf, np.uint8)
        try:
            lt = lt_of[ifid] if nif > 1 else int(lt_of[0])
            dec = _decode(arr, d0, cap, wire, ts, lt, (ifid + self._ifbase).astype(np.int32), self._cols.addrs)
            dec["offset"] = d0 + self._base
            if self._cols.want_macs:
                dec["mac_to"], dec["mac_from"] = l2.mac_columns(arr, d0, cap, lt)
            self._cols.add(dec, frames)
        finally:
            del arr

    def _stop(self, off: int, why: str) -> None:
        self.truncated_at = self._base + off
        self._damage = why

    # ------------------------------------------------------------------ results
    def drain(self) -> pd.DataFrame:
        """Packets decoded since the previous ``drain()`` (for live progress tables)."""
        since = self._drained
        self._drained = len(self._cols.parts["ts"])
        return self._cols.frame(since)

    def close(self) -> pd.DataFrame:
        """Decode what is left, warn about a cut-off tail, return every packet."""
        if not self._closed:
            self._closed = True
            if self._fmt is None:
                if self.bytes_read == 0:
                    raise CaptureError(f"{self.source} is empty", hint="check that the capture produced any output")
                if len(self._buf) < 24:
                    self._header(bytes(self._buf[:4]).ljust(4, b"\0")) if len(self._buf) >= 4 and bytes(self._buf[:4]) not in PCAP_MAGICS and bytes(self._buf[:4]) != PCAPNG_SHB else None
                    raise CaptureError(f"{self.source} is too short to be a capture ({self.bytes_read} bytes)",
                                       hint="the capture file is cut off before its header ended")
            if self._damage is None and self.limit_reached is None:
                self._process()
            if self.truncated_at is None and len(self._buf) and self.limit_reached is None:
                self.truncated_at = self._base
            if self.limit_reached is not None:
                warnings.warn(f"{self.source}: stopped at {self.limit_reached} after {self.packets:,} packets "
                              f"({self.bytes_read:,} bytes read); the rest of the capture is not read. "
                              "Pass a larger limit (max_packets=None for no limit), or cut the file first "
                              "('editcap -r FILE OUT 1-1000000')", CaptureLimitWarning, stacklevel=3)
            if self.skipped_records:
                if not self.packets and self.limit_reached is None:
                    raise CaptureError(
                        f"{self.source} holds no packets: {self.skipped_records:,} zero-length records "
                        f"({self.bytes_read:,} bytes); the file is zero-filled or damaged after its header",
                        hint="capture again ('tcpdump -w FILE'); a file pre-allocated or cut by a full disk reads like this")
                warnings.warn(f"{self.source}: skipped {self.skipped_records:,} zero-length records "
                              "(no captured bytes, no wire length): the file is damaged or zero-filled there",
                              CaptureTruncatedWarning, stacklevel=3)
            if self.truncated_at is not None:
                why = self._damage or (
                    f"the capture ends inside a record at byte {self.truncated_at} "
                    f"({self._base + len(self._buf) - self.truncated_at} trailing bytes ignored)"
                )
                warnings.warn(f"{self.source}: {why}; returning the {self.packets} packets read before it",
                              CaptureTruncatedWarning, stacklevel=3)
        if self._result is not None:
            return self._result
        df = self._cols.frame(consume=True)
        self._result = df
        df.attrs.update({"source": self.source, "format": self._fmt, "linktypes": sorted(self.linktypes)})
        if self.truncated_at is not None:
            df.attrs["truncated_at"] = self.truncated_at
        if self.skipped_records:
            df.attrs["skipped_records"] = self.skipped_records
        if self.limit_reached is not None:
            df.attrs["limit_reached"] = self.limit_reached
        return df


class CaptureTruncatedWarning(UserWarning):
    """A capture ended (or was damaged) mid-record; the packets before it were kept."""


def read_pcap(source: str | os.PathLike[str] | BinaryIO | bytes, *, chunk_size: int = CHUNK,
              max_packets: int | None = MAX_PACKETS, max_bytes: int | None = None) -> pd.DataFrame:
    """Read a classic pcap or pcapng file (format auto-detected) into the capture schema.

    ``source`` is a path (a regular file: FIFOs and devices are refused), a
    binary file object or the bytes themselves.  The file is read ``chunk_size``
    bytes at a time, so memory is a fixed budget plus what the packets kept take
    (see :mod:`spkrunbook.capture.limits`).  At most ``max_packets`` packets are
    kept and at most ``max_bytes`` bytes read (None: no limit); at a limit the
    read stops with a :class:`~spkrunbook.capture.limits.CaptureLimitWarning`
    and ``df.attrs["limit_reached"]``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        f: BinaryIO = io.BytesIO(source)
        name = "<bytes>"
        close = False
    elif hasattr(source, "read"):
        f, name, close = source, getattr(source, "name", "<stream>"), False  # type: ignore[assignment]
    else:
        name = os.fspath(source)
        f = open_regular(name)
        close = True
    try:
        r = PcapStreamReader(str(name), min_batch=0, max_packets=max_packets, max_bytes=max_bytes)
        if hasattr(f, "readinto"):
            r._read_file(f, chunk_size)
        else:
            while True:
                data = f.read(chunk_size)
                if not data:
                    break
                r.feed(data)
                if r.truncated_at is not None or r.limit_reached is not None:
                    break
        return r.close()
    finally:
        if close:
            f.close()


def read_pcap_stream(
    chunks: Iterable[bytes],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    source: str = "<stream>",
    max_packets: int | None = MAX_PACKETS,
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Decode pcap/pcapng bytes arriving in pieces (a websocket, a pipe).

    ``on_progress(packets, bytes)`` is called after every piece, so a notebook
    can show a live counter.
    """
    r = PcapStreamReader(source, max_packets=max_packets, max_bytes=max_bytes)
    for c in chunks:
        r.feed(c)
        if on_progress is not None:
            on_progress(r.packets, r.bytes_read)
        if r.limit_reached is not None or r.truncated_at is not None:
            break
    df = r.close()
    if on_progress is not None:
        on_progress(r.packets, r.bytes_read)
    return df
