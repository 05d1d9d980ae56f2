"""Consistent pseudonyms for a record shared with a vendor: addresses, MACs and host names, in text
and inside pcap / pcapng files (headers rewritten, checksums kept right).

One ``Pseudonyms`` object serves one share, so the same input always gets the same
token in every file: ``10.1.10.100`` is the same placeholder in a NAD's YAML, in
the OVN route table and in the capture. The mapping is a bijection that keeps
structure an engineer reads: IPv4 keeps the host octet and maps each /24 to one
/24 of 198.18.0.0/15 (RFC 2544's benchmarking range, never a real network), IPv6
maps each /64 to one /64 of fd5b::/16 and each interface identifier to a small
number, MACs become locally administered ``02:5b:…`` addresses. Addresses that
identify nobody stay: loopback, unspecified, link-local IPv4, multicast,
broadcast, netmasks, and OVN's fixed join/transit subnets (100.64.0.0/16,
100.88.0.0/16).

Packets keep their length and everything but the addresses; TCP, UDP, ICMP and
ICMPv6 checksums are updated incrementally (RFC 1624), so a truncated capture
(snaplen) stays consistent too, and IPv4 header checksums are recomputed.
Payloads are not rewritten: say so to whoever receives the capture.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Iterable

from ..errors import CaptureError

# tcpdump's text writes "10.1.10.22.37188": an address may be followed by ".port"
_V4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d)")
_V6 = re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])")
_MAC = re.compile(r"(?<![0-9A-Fa-f:-])(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])")
_KEEP_V4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4",
                                              "240.0.0.0/4", "255.0.0.0/8", "100.64.0.0/16", "100.88.0.0/16")]
V4_POOL = ipaddress.ip_network("198.18.0.0/15")


class Pseudonyms:
    """The replacements of one share (keep the object for every file of it)."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self._v4net: dict[bytes, bytes] = {}
        self._v6net: dict[bytes, bytes] = {}
        self._v6iid: dict[bytes, bytes] = {}
        self._mac: dict[bytes, bytes] = {}
        self._hosts: dict[str, str] = {}
        for h in sorted(set(hosts), key=lambda x: (-len(x), x)):
            if h:
                self._hosts[h] = f"node-{len(self._hosts) + 1}"
        # OVN writes node names inside others (GR_worker-1, rtoe-GR_worker-1, ext_worker-1)
        self._host_re = re.compile("|".join(rf"(?<![A-Za-z0-9.]){re.escape(h)}(?![A-Za-z0-9-])" for h in self._hosts)) \
            if self._hosts else None

    # -- one value ----------------------------------------------------------------------------------------
    def ipv4_bytes(self, a: bytes) -> bytes:
        ip = ipaddress.IPv4Address(a)
        if any(ip in n for n in _KEEP_V4):
            return a
        net = a[:3]
        if net not in self._v4net:
            n = len(self._v4net)
            if n >= V4_POOL.num_addresses // 256:
                raise CaptureError("more than 512 /24 networks to pseudonymise in one share",
                                   hint="share fewer files at once")
            base = int(V4_POOL.network_address) + n * 256
            self._v4net[net] = struct.pack("!I", base)[:3]
        return self._v4net[net] + a[3:]

    def ipv6_bytes(self, a: bytes) -> bytes:
        ip = ipaddress.IPv6Address(a)
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
            return a
        prefix, iid = a[:8], a[8:]
        if not ip.is_link_local:
            if prefix not in self._v6net:
                self._v6net[prefix] = struct.pack("!HHHH", 0xFD5B, 0, 0, len(self._v6net) + 1)
            prefix = self._v6net[prefix]
        if int.from_bytes(iid, "big") > 0xFFFF:  # an EUI-64 or random identifier says who; ::1, ::2 do not
            if iid not in self._v6iid:
                self._v6iid[iid] = (0x5B0000 + len(self._v6iid) + 1).to_bytes(8, "big")
            iid = self._v6iid[iid]
        return prefix + iid

    def mac_bytes(self, m: bytes) -> bytes:
        if m in (b"\xff" * 6, b"\x00" * 6) or m[0] & 1:  # broadcast, none, multicast
            return m
        if m not in self._mac:
            self._mac[m] = b"\x02\x5b" + (len(self._mac) + 1).to_bytes(4, "big")
        return self._mac[m]

    # -- text -----------------------------------------------------------------------------------------------
    def text(self, s: str) -> str:
        """Every address, MAC and known host name in ``s`` replaced."""
        s = _MAC.sub(self._mac_text, s)
        s = _V6.sub(self._v6_text, s)
        s = _V4.sub(lambda m: str(ipaddress.IPv4Address(self.ipv4_bytes(ipaddress.IPv4Address(m.group()).packed))), s)
        if self._host_re is not None:
            s = self._host_re.sub(lambda m: self._hosts[m.group()], s)
        return s

    def _mac_text(self, m: re.Match[str]) -> str:
        sep = m.group(1)
        raw = bytes(int(x, 16) for x in re.split(r"[:-]", m.group()))
        out = sep.join(f"{b:02x}" for b in self.mac_bytes(raw))
        return out.upper() if m.group().isupper() else out

    def _v6_text(self, m: re.Match[str]) -> str:
        token = m.group()
        if token.count(":") < 2 or ("::" not in token and token.count(":") < 7):
            return token  # a time (07:24:36) or a ratio, not an address
        try:
            ip = ipaddress.IPv6Address(token)
        except ValueError:
            return token
        return str(ipaddress.IPv6Address(self.ipv6_bytes(ip.packed)))

    # -- packets --------------------------------------------------------------------------------------------
    def packet(self, data: bytearray, linktype: int) -> None:
        """Rewrite one captured frame in place (its length never changes)."""
        if linktype == 1:
            if len(data) < 14:
                return
            data[0:6], data[6:12] = self.mac_bytes(bytes(data[0:6])), self.mac_bytes(bytes(data[6:12]))
            off, etype = 12, struct.unpack_from("!H", data, 12)[0]
            while etype in (0x8100, 0x88A8, 0x9100) and len(data) >= off + 6:
                off += 4
                etype = struct.unpack_from("!H", data, off)[0]
            self._l3(data, off + 2, etype)
        elif linktype == 113 and len(data) >= 16:
            alen = struct.unpack_from("!H", data, 4)[0]
            if alen == 6:
                data[6:12] = self.mac_bytes(bytes(data[6:12]))
            self._l3(data, 16, struct.unpack_from("!H", data, 14)[0])
        elif linktype == 276 and len(data) >= 20:
            if data[11] == 6:
                data[12:18] = self.mac_bytes(bytes(data[12:18]))
            self._l3(data, 20, struct.unpack_from("!H", data, 0)[0])
        elif linktype in (101, 228, 229, 12, 14) and data:
            version = data[0] >> 4
            self._l3(data, 0, 0x0800 if version == 4 else 0x86DD if version == 6 else 0)

    def _l3(self, d: bytearray, off: int, etype: int) -> None:
        if etype == 0x0800:
            self._ipv4(d, off, top=True)
        elif etype == 0x86DD:
            self._ipv6(d, off, top=True)
        elif etype == 0x0806 and len(d) >= off + 28 and d[off + 4] == 6 and d[off + 5] == 4:
            for mac_at, ip_at in ((off + 8, off + 14), (off + 18, off + 24)):
                d[mac_at:mac_at + 6] = self.mac_bytes(bytes(d[mac_at:mac_at + 6]))
                d[ip_at:ip_at + 4] = self.ipv4_bytes(bytes(d[ip_at:ip_at + 4]))

    def _ipv4(self, d: bytearray, off: int, *, top: bool) -> tuple[bytes, bytes] | None:
        if len(d) < off + 20 or d[off] >> 4 != 4:
            return None
        ihl = (d[off] & 0x0F) * 4
        old = bytes(d[off + 12:off + 20])
        new = self.ipv4_bytes(old[:4]) + self.ipv4_bytes(old[4:])
        d[off + 12:off + 20] = new
        if len(d) >= off + ihl:
            d[off + 10:off + 12] = b"\0\0"
            d[off + 10:off + 12] = struct.pack("!H", _checksum(bytes(d[off:off + ihl])))
        frag = struct.unpack_from("!H", d, off + 6)[0] & 0x1FFF
        if frag == 0:
            self._l4(d, off + ihl, d[off + 9], old, new, v6=False, quoted=not top)
        return old, new

    def _ipv6(self, d: bytearray, off: int, *, top: bool) -> None:
        if len(d) < off + 40 or d[off] >> 4 != 6:
            return
        old = bytes(d[off + 8:off + 40])
        new = self.ipv6_bytes(old[:16]) + self.ipv6_bytes(old[16:])
        d[off + 8:off + 40] = new
        nh, p = d[off + 6], off + 40
        while nh in (0, 43, 60, 51, 44) and len(d) >= p + 8:
            if nh == 44:
                if struct.unpack_from("!H", d, p + 2)[0] & 0xFFF8:  # not the first fragment: no L4 header
                    return
                nh, p = d[p], p + 8
            elif nh == 51:
                nh, p = d[p], p + (d[p + 1] + 2) * 4
            else:
                nh, p = d[p], p + (d[p + 1] + 1) * 8
        self._l4(d, p, nh, old, new, v6=True, quoted=not top)

    def _l4(self, d: bytearray, p: int, proto: int, old: bytes, new: bytes, *, v6: bool, quoted: bool = False) -> None:
        """Fix the checksum the address change touched, then rewrite what the L4 header carries.

        ``quoted``: the packet an ICMP error quotes (its checksum fixed, nothing inside it followed).
        """
        at = {6: 16, 17: 6, 58: 2}.get(proto)
        if at is not None and len(d) >= p + at + 2:
            ck = struct.unpack_from("!H", d, p + at)[0]
            if not (proto == 17 and ck == 0):  # UDP over IPv4 may carry no checksum
                d[p + at:p + at + 2] = struct.pack("!H", _adjust(ck, old, new))
        if quoted:
            return
        if proto == 1 and len(d) >= p + 8 and d[p] in (3, 4, 5, 11, 12):  # ICMP error: the packet it quotes
            before = bytes(d[p + 8:])
            self._ipv4(d, p + 8, top=False)
            self._fix(d, p, 2, before, bytes(d[p + 8:]))
        elif proto == 58 and len(d) >= p + 8:
            before = bytes(d[p + 8:])
            if d[p] < 128:  # ICMPv6 error: the packet it quotes
                self._ipv6(d, p + 8, top=False)
            elif d[p] in (135, 136) and len(d) >= p + 24:  # neighbour solicitation / advertisement
                d[p + 8:p + 24] = self.ipv6_bytes(bytes(d[p + 8:p + 24]))
                q = p + 24
                while len(d) >= q + 8 and d[q + 1]:
                    if d[q] in (1, 2) and d[q + 1] == 1:  # source / target link-layer address
                        d[q + 2:q + 8] = self.mac_bytes(bytes(d[q + 2:q + 8]))
                    q += d[q + 1] * 8
            self._fix(d, p, 2, before, bytes(d[p + 8:]))

    @staticmethod
    def _fix(d: bytearray, p: int, at: int, before: bytes, after: bytes) -> None:
        if before != after and len(d) >= p + at + 2:
            ck = struct.unpack_from("!H", d, p + at)[0]
            d[p + at:p + at + 2] = struct.pack("!H", _adjust(ck, before, after))


def _sum16(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    return sum(struct.unpack(f"!{len(b) // 2}H", b))


def _checksum(b: bytes) -> int:
    s = _sum16(b)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _adjust(ck: int, old: bytes, new: bytes) -> int:
    """RFC 1624 (eqn. 3): the checksum after ``old`` became ``new`` (same length, 16-bit aligned)."""
    if len(old) % 2:
        old, new = old + b"\0", new + b"\0"
    n = len(old) // 2
    s = (~ck & 0xFFFF) + sum(~w & 0xFFFF for w in struct.unpack(f"!{n}H", old)) + _sum16(new)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def rewrite_capture(data: bytes, names: Pseudonyms) -> bytes:
    """A pcap or pcapng file with every frame's addresses replaced (CaptureError if it is neither)."""
    if len(data) >= 24 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return _rewrite_pcap(data, names)
    if len(data) >= 12 and data[:4] == b"\x0a\x0d\x0d\x0a":
        return _rewrite_pcapng(data, names)
    raise CaptureError("not a pcap or pcapng file", hint="share it as it is, or convert it with editcap first")


def _rewrite_pcap(data: bytes, names: Pseudonyms) -> bytes:
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
    out, pos = bytearray(data), 24
    while pos + 16 <= len(out):
        incl = struct.unpack_from(e + "I", out, pos + 8)[0]
        start, end = pos + 16, pos + 16 + incl
        if end > len(out):
            break  # a cut last record stays as it was
        frame = bytearray(out[start:end])
        names.packet(frame, linktype)
        out[start:end] = frame
        pos = end
    return bytes(out)


def _rewrite_pcapng(data: bytes, names: Pseudonyms) -> bytes:
    out, pos, e = bytearray(data), 0, "<"
    links: list[int] = []
    while pos + 12 <= len(out):
        btype = struct.unpack_from("<I", out, pos)[0]
        if btype == 0x0A0D0D0A:
            e = "<" if out[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack_from(e + "I", out, pos + 4)[0]
        if blen < 12 or pos + blen > len(out):
            break
        btype = struct.unpack_from(e + "I", out, pos)[0]
        if btype == 1:
            links.append(struct.unpack_from(e + "H", out, pos + 8)[0])
        elif btype == 6 and blen >= 32:
            ifid, cap = struct.unpack_from(e + "I", out, pos + 8)[0], struct.unpack_from(e + "I", out, pos + 20)[0]
            start = pos + 28
            if ifid < len(links) and start + cap <= pos + blen:
                frame = bytearray(out[start:start + cap])
                names.packet(frame, links[ifid])
                out[start:start + cap] = frame
        elif btype == 3 and blen >= 16 and links:
            start, cap = pos + 12, blen - 16
            frame = bytearray(out[start:start + cap])
            names.packet(frame, links[0])
            out[start:start + cap] = frame
        pos += blen
    return bytes(out)
