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

The space never runs out: past the 512 /24s of 198.18.0.0/15, IPv4 networks
continue in 240.0.0.0/4 (reserved, never routed) and ``notes`` says so; IPv6
prefixes count to 2**32. A capture is rewritten whole or not at all
(``rewrite_capture_file`` streams it record by record and raises ``CaptureError``
on a link type it cannot rewrite, a record that claims more bytes than a packet
can hold, a pcapng block of a bad length or for an interface never described);
pcapng blocks that can carry names or addresses outside packets (name
resolution, options, comments, custom and decryption-secrets blocks) are left
out of the copy. ``text`` also replaces what a table cut short (``10.1.10...``)
when it begins like an original it has seen.
"""

from __future__ import annotations

import io
import ipaddress
import re
import struct
from collections.abc import Iterable
from typing import BinaryIO

from ..errors import CaptureError

# tcpdump's text writes "10.1.10.22.37188": an address may be followed by ".port"
_V4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d)")
_V6 = re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])")
_MAC = re.compile(r"(?<![0-9A-Fa-f:-])(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])")
_KEEP_V4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4",
                                              "240.0.0.0/4", "255.0.0.0/8", "100.64.0.0/16", "100.88.0.0/16")]
V4_POOL = ipaddress.ip_network("198.18.0.0/15")
#: Where IPv4 networks continue when V4_POOL is used up: reserved ("future use"), never routed, 2**20 /24s.
V4_WIDER = ipaddress.ip_network("240.0.0.0/4")
#: Link types whose frames ``Pseudonyms.packet`` rewrites: Ethernet, Linux cooked v1/v2, raw IP, BSD NULL/LOOP.
LINKTYPES = frozenset({0, 1, 12, 14, 101, 108, 113, 228, 229, 276})
#: The largest frame a capture record may claim (tcpdump's and Wireshark's own limit is 256 KiB).
MAX_FRAME = 262144
# What a table left of an address when it cut a cell: "10.1.10..." or "fd00:1:..." followed by an ellipsis.
_CUT_ADDRESS = re.compile(r"(?<![\w.:-])((?:\d{1,3}\.){1,3}\d{0,3}|(?:[0-9A-Fa-f]{1,4}[:-]){1,7}[0-9A-Fa-f]{0,4})"
                          r"(?=\.\.\.|…)")
# An IPv4 network's first three octets and a dot, whether an address or a cut cell follows.
_V4_PREFIX = re.compile(r"(?<![\d.])((?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\."
                        r"(?:25[0-5]|2[0-4]\d|1?\d?\d))\.")
_CUT_WORD = re.compile(r"(?<![\w.-])([A-Za-z0-9][A-Za-z0-9.-]{2,})(?=\.\.\.|…)")
CUT = "x.x"


class Pseudonyms:
    """The replacements of one share (keep the object for every file of it)."""

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self._v4net: dict[bytes, bytes] = {}
        self._v6net: dict[bytes, bytes] = {}
        self._v6iid: dict[bytes, bytes] = {}
        self._mac: dict[bytes, bytes] = {}
        self._hosts: dict[str, str] = {}
        self.notes: list[str] = []  # what a reader of the copy should know (a wider range was used)
        self._seen: set[bytes] = set()  # every original address and MAC met, as bytes
        self._texts_cache: list[str] = []
        self._texts_for = -1
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
            pool, first = V4_POOL.num_addresses // 256, int(V4_POOL.network_address)
            if n >= pool:  # the benchmarking range is used up: carry on in the reserved 240.0.0.0/4, and say so
                if n == pool:
                    self.notes.append(f"more than {pool} IPv4 /24 networks: those after the first {pool} became /24s of "
                                      f"{V4_WIDER} (reserved, never routed)")
                n, first = n - pool, int(V4_WIDER.network_address)
                if n >= V4_WIDER.num_addresses // 256:
                    raise CaptureError(f"more than {pool + V4_WIDER.num_addresses // 256:,} IPv4 /24 networks to replace")
            self._v4net[net] = struct.pack("!I", first + n * 256)[:3]
        self._seen.add(a)
        return self._v4net[net] + a[3:]

    def ipv6_bytes(self, a: bytes) -> bytes:
        ip = ipaddress.IPv6Address(a)
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
            return a
        self._seen.add(a)
        prefix, iid = a[:8], a[8:]
        if not ip.is_link_local:
            if prefix not in self._v6net:  # fd5b:0:<32-bit count>::/64: never runs out
                self._v6net[prefix] = struct.pack("!HHI", 0xFD5B, 0, len(self._v6net) + 1)
            prefix = self._v6net[prefix]
        if int.from_bytes(iid, "big") > 0xFFFF:  # an EUI-64 or random identifier says who; ::1, ::2 do not
            if iid not in self._v6iid:
                self._v6iid[iid] = (0x5B0000 + len(self._v6iid) + 1).to_bytes(8, "big")
            iid = self._v6iid[iid]
        return prefix + iid

    def mac_bytes(self, m: bytes) -> bytes:
        if m in (b"\xff" * 6, b"\x00" * 6) or m[0] & 1:  # broadcast, none, multicast
            return m
        self._seen.add(m)
        if m not in self._mac:
            self._mac[m] = b"\x02\x5b" + (len(self._mac) + 1).to_bytes(4, "big")
        return self._mac[m]

    # -- text -----------------------------------------------------------------------------------------------
    def text(self, s: str) -> str:
        """Every address, MAC and known host name in ``s`` replaced, and what a table cut of one."""
        s = _MAC.sub(self._mac_text, s)
        s = _V6.sub(self._v6_text, s)
        s = _V4.sub(lambda m: str(ipaddress.IPv4Address(self.ipv4_bytes(ipaddress.IPv4Address(m.group()).packed))), s)
        if self._host_re is not None:
            s = self._host_re.sub(lambda m: self._hosts[m.group()], s)
        if "..." in s or "…" in s:
            s = _CUT_ADDRESS.sub(self._cut_address, s)
            s = _CUT_WORD.sub(self._cut_word, s)
        return s

    def originals(self) -> list[str]:
        """Every original this object replaced, in the text forms a reader would search for: addresses, MACs (both
        cases), host names, and each IPv4 network's first three octets with their dot (what a cut cell keeps)."""
        out: set[str] = set(self._hosts)
        for raw in self._seen:
            if len(raw) == 4:
                out.add(str(ipaddress.IPv4Address(raw)))
                out.add(".".join(str(b) for b in raw[:3]) + ".")
            elif len(raw) == 16:
                out.add(str(ipaddress.IPv6Address(raw)))
            else:
                mac = ":".join(f"{b:02x}" for b in raw)
                out.update({mac, mac.upper(), mac.replace(":", "-"), mac.upper().replace(":", "-")})
        return sorted(out, key=lambda x: (-len(x), x))

    def leak(self, text: str) -> str | None:
        """The first original this object replaced that ``text`` still holds: a host name, an address of an original
        IPv4 /24 or IPv6 /64 (also the /24's first three octets, as a cut cell keeps them), an original MAC."""
        if self._host_re is not None and (m := self._host_re.search(text)):
            return m.group()
        for m in _V4_PREFIX.finditer(text):
            try:
                net = bytes(int(x) for x in m.group(1).split("."))
            except ValueError:
                continue
            if net in self._v4net:
                return m.group()
        for m in _V6.finditer(text):
            try:
                raw = ipaddress.IPv6Address(m.group()).packed
            except ValueError:
                continue
            if raw in self._seen or raw[:8] in self._v6net:
                return m.group()
        for m in _MAC.finditer(text):
            if bytes(int(x, 16) for x in re.split(r"[:-]", m.group())) in self._seen:
                return m.group()
        return None

    def _cut_address(self, m: re.Match[str]) -> str:
        token = m.group(1).lower()
        if any(o.lower().startswith(token) for o in self._texts()):
            return CUT
        return m.group(1)

    def _cut_word(self, m: re.Match[str]) -> str:
        token = m.group(1)
        if len(token) >= 4 and any(h.startswith(token) for h in self._hosts):
            return "node-?"
        return token

    def _texts(self) -> list[str]:
        if self._texts_for != len(self._seen):
            self._texts_cache = [t for t in self.originals() if t not in self._hosts]
            self._texts_for = len(self._seen)
        return self._texts_cache

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
        """Rewrite one captured frame in place (its length never changes); ``linktype`` one of ``LINKTYPES``."""
        if linktype in (0, 108) and len(data) >= 4:  # BSD loopback: a 4-byte address family, then IP
            version = data[4] >> 4 if len(data) > 4 else 0
            self._l3(data, 4, 0x0800 if version == 4 else 0x86DD if version == 6 else 0)
        elif linktype == 1:
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


_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
# pcapng interface options kept (time resolution, offset, FCS length): the others can name hosts or addresses.
_KEEP_IDB_OPTIONS = frozenset({9, 13, 14})


def rewrite_capture(data: bytes, names: Pseudonyms) -> bytes:
    """A pcap or pcapng file with every frame's addresses replaced (CaptureError if it cannot be, whole)."""
    out = io.BytesIO()
    rewrite_capture_file(io.BytesIO(data), out, names)
    return out.getvalue()


def rewrite_capture_file(src: BinaryIO, dst: BinaryIO, names: Pseudonyms) -> list[str]:
    """Stream a pcap or pcapng from ``src`` to ``dst`` with every frame's addresses replaced, in bounded memory.

    All or nothing: ``CaptureError`` says why the file cannot be rewritten whole (the caller throws away what was
    written). Returns notes for the reader of the copy (a last packet cut short, blocks left out).
    """
    head = src.read(4)
    if head in _PCAP_MAGIC:
        return _rewrite_pcap(src, dst, names, head, _PCAP_MAGIC[head])
    if head == _PCAPNG_SHB:
        return _rewrite_pcapng(src, dst, names, head)
    raise CaptureError("not a pcap or pcapng file", hint="convert it with editcap first, or share it yourself")


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    return data if data is not None else b""


def _rewrite_pcap(src: BinaryIO, dst: BinaryIO, names: Pseudonyms, magic: bytes, e: str) -> list[str]:
    header = magic + _read_exact(src, 20)
    if len(header) < 24:
        raise CaptureError("the pcap file header is cut short")
    linktype = struct.unpack_from(e + "I", header, 20)[0] & 0x0FFFFFFF
    if linktype not in LINKTYPES:
        raise CaptureError(f"link type {linktype} is not one whose addresses this tool can rewrite "
                           f"(it knows {', '.join(map(str, sorted(LINKTYPES)))})")
    dst.write(header)
    notes: list[str] = []
    n = 0
    while True:
        rec = _read_exact(src, 16)
        if not rec:
            break
        n += 1
        if len(rec) < 16:
            notes.append(f"the original's last record ({n}) was cut short inside its header; left out")
            break
        incl, orig = struct.unpack_from(e + "II", rec, 8)
        if orig == 0:  # a frame has at least one byte: zeros here are a damaged or sparse file, not packets
            raise CaptureError(f"record {n:,} has no length (zeros where a packet should be: a damaged or sparse file)")
        if incl > MAX_FRAME:
            raise CaptureError(f"record {n:,} claims {incl:,} bytes (a frame is at most {MAX_FRAME:,})")
        frame = bytearray(_read_exact(src, incl))
        if len(frame) < incl:
            notes.append(f"the original's last packet ({n:,}) was cut short ({len(frame):,} of {incl:,} bytes); left out")
            break
        names.packet(frame, linktype)
        dst.write(rec)
        dst.write(frame)
    return notes


def _rewrite_pcapng(src: BinaryIO, dst: BinaryIO, names: Pseudonyms, head: bytes) -> list[str]:
    notes: list[str] = []
    dropped: dict[str, int] = {}
    links: list[int] = []
    e = "<"
    first = True
    n = 0
    while True:
        start = head if first else _read_exact(src, 4)
        first = False
        if not start:
            break
        n += 1
        rest = _read_exact(src, 8 if start == _PCAPNG_SHB else 4)
        if start == _PCAPNG_SHB:
            if len(rest) < 8:
                raise CaptureError(f"block {n}: the section header is cut short")
            e = "<" if rest[4:8] == b"\x4d\x3c\x2b\x1a" else ">" if rest[4:8] == b"\x1a\x2b\x3c\x4d" else ""
            if not e:
                raise CaptureError(f"block {n}: the section header's byte-order magic is wrong")
            links = []
        elif len(rest) < 4:
            notes.append(f"the original ended inside block {n}; the rest was left out")
            break
        btype = struct.unpack(e + "I", start)[0]
        blen = struct.unpack_from(e + "I", rest, 0)[0]
        if blen < 12 or blen % 4 or blen > MAX_FRAME + 4096:
            raise CaptureError(f"block {n} (type {btype:#x}) has a bad length {blen:,}")
        body = rest[4:] + _read_exact(src, blen - len(rest) - 4 - 4)
        tail = _read_exact(src, 4)
        if len(body) + 4 + len(rest[:4]) + len(tail) < blen:
            notes.append(f"the original's last block ({n:,}) was cut short; left out")
            break
        if struct.unpack(e + "I", tail)[0] != blen:
            raise CaptureError(f"block {n} (type {btype:#x}): its trailing length does not match ({blen:,})")
        out = _block(btype, body, e, links, names, n)
        if out is None:
            kind = {4: "name resolution", 10: "decryption secrets", 0xBAD: "custom", 0x40000BAD: "custom"}.get(
                btype, f"type {btype:#x}")
            dropped[kind] = dropped.get(kind, 0) + 1
            continue
        btype_out, body_out = out
        length = 12 + len(body_out)
        dst.write(struct.pack(e + "II", btype_out, length) + body_out + struct.pack(e + "I", length))
    if dropped:
        notes.append("pcapng blocks left out (they can hold names or addresses outside the packets): "
                     + ", ".join(f"{v} {k}" for k, v in sorted(dropped.items())))
    return notes


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _block(btype: int, body: bytes, e: str, links: list[int], names: Pseudonyms, n: int) -> tuple[int, bytes] | None:
    """One pcapng block rewritten (options dropped but time resolution), or None to leave it out."""
    if btype == 0x0A0D0D0A:  # section header: magic, version, section length unknown (-1), no options
        return btype, body[:8] + struct.pack(e + "q", -1)
    if btype == 1:  # interface description
        if len(body) < 8:
            raise CaptureError(f"block {n}: an interface description is cut short")
        linktype = struct.unpack_from(e + "H", body, 0)[0]
        if linktype not in LINKTYPES:
            raise CaptureError(f"interface {len(links)} has link type {linktype}, not one whose addresses this tool "
                               f"can rewrite (it knows {', '.join(map(str, sorted(LINKTYPES)))})")
        links.append(linktype)
        keep = b"".join(_options(body[8:], e, _KEEP_IDB_OPTIONS))
        return btype, body[:8] + (keep + struct.pack(e + "HH", 0, 0) if keep else b"")
    if btype == 6:  # enhanced packet
        if len(body) < 20:
            raise CaptureError(f"block {n}: an enhanced packet block is cut short")
        ifid, cap = struct.unpack_from(e + "I", body, 0)[0], struct.unpack_from(e + "I", body, 12)[0]
        if ifid >= len(links):
            raise CaptureError(f"block {n}: a packet for interface {ifid}, which the file never described")
        if 20 + cap > len(body):
            raise CaptureError(f"block {n}: a packet claims {cap:,} bytes in a block of {len(body) + 12:,}")
        frame = bytearray(body[20:20 + cap])
        names.packet(frame, links[ifid])
        return btype, body[:20] + _pad(bytes(frame))
    if btype == 3:  # simple packet: interface 0
        if not links:
            raise CaptureError(f"block {n}: a packet before any interface was described")
        frame = bytearray(body[4:])
        names.packet(frame, links[0])
        return btype, body[:4] + bytes(frame)
    if btype == 5:  # interface statistics: counters kept, options (comments) dropped
        if len(body) < 12:
            raise CaptureError(f"block {n}: an interface statistics block is cut short")
        return btype, body[:12]
    return None


def _options(raw: bytes, e: str, keep: frozenset[int]) -> list[bytes]:
    out, pos = [], 0
    while pos + 4 <= len(raw):
        code, length = struct.unpack_from(e + "HH", raw, pos)
        if code == 0:
            break
        value = raw[pos + 4:pos + 4 + length]
        if code in keep:
            out.append(struct.pack(e + "HH", code, length) + _pad(value))
        pos += 4 + length + (-length % 4)
    return out
