"""The pyarrow/numpy engine behind :func:`spkrunbook.capture.text.read_tcpdump_text`.

Why a second engine: one RE2 expression with ~23 optional groups costs about
8 us per line and turning its results into pandas object columns as much
again.  Most lines a user pastes have one shape -- ``TIME IP[6] SRC > DST:
Flags [..], seq .., ack .., win .., ... length N`` (or ``UDP``/``ICMP``/
``ICMP6``/other) -- so this engine:

1. gates every line with a capture-free RE2 expression (a DFA scan, cheap)
   that only accepts lines whose fields the byte walk below reads exactly as
   :data:`spkrunbook.capture.text.LINE_RE` would;
2. reads those lines' fields straight from the UTF-8 bytes with numpy
   (timestamps, the ``" > "`` and ``": "`` positions from pyarrow
   ``find_substring``, flags, seq/ack/win, the last ``length N`` from a
   reversed-bytes search), with no per-line Python;
3. sends every other line (``-e``, ``-i any``, ARP, LLDP, ``HBH``, odd
   spacing, banners, hex dumps) through the full expression, on that subset
   only;
4. turns the union into columns once: host/port splitting, service names and
   categories are computed per *distinct* token, numbers stay in numpy.

Anything the byte walk finds unusual (a number longer than 10 digits, a token
longer than its window, a host that ends in ``:``) moves the line to step 3,
so the two engines cannot disagree on what a line means.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import columns, schema

# Lines whose fields the byte walk reads.  Everything not matched here goes
# through the full LINE_RE.  `]` after a non-TCP kind would let LINE_RE's
# optional flags group match (a quirk we leave to the full expression), `[`,
# `HBH `, `frag (` right after the colon take LINE_RE's optional parts, and
# flags with spaces could hide a `length N` inside the main match.
GATE_RE = (
    r"^(?:\d{4}-\d\d-\d\d )?(?:\d\d:\d\d:\d\d(?:\.\d+)?|\d{6,}\.\d+) IP6? [^ ]+ > [^ ]+: "
    r"(?:Flags \[[^\] ]*\]|(?:UDP|ICMP6|ICMP)[^\]]*$|[^\[HfFDR\]][^\]]*$)"
)
_DIRS = {b"In", b"Out", b"B", b"M", b"P"}
KIND_TCP, KIND_UDP, KIND_ICMP6, KIND_ICMP = 1, 2, 3, 4
L3_IP, L3_IP6, L3_ARP, L3_LLDP = 1, 2, 3, 4
_MIN = np.iinfo(np.int64).min
_FLAG_LUT = np.zeros(256, np.int64)
for _c, _b in {"F": 1, "S": 2, "R": 4, "P": 8, ".": 16, "U": 32, "E": 64, "W": 128}.items():
    _FLAG_LUT[ord(_c)] = _b


def lines_array(raw: bytes) -> pa.Array | None:
    """A pyarrow string array of ``raw`` split on ``\\n`` (last empty line dropped), or
    None when the text needs the careful Python route (CR line ends, invalid UTF-8)."""
    b = np.frombuffer(raw, np.uint8)
    nl = np.flatnonzero(b == 10)
    n = len(nl) + (0 if raw.endswith(b"\n") or not raw else 1)
    head = raw[: (nl[9] + 1) if len(nl) > 9 else len(raw)]
    if b"\r\n" in head or (len(nl) < 10 and raw.endswith(b"\r")):
        return None
    if n == 0 or len(raw) >= 2**31 - 1:
        return None
    offs = np.empty(n + 1, np.int32)
    offs[0] = 0
    offs[1 : len(nl) + 1] = nl[:n] + 1
    offs[n] = len(raw)
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offs), pa.py_buffer(raw))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return None
    # every string but maybe the last ends in exactly one "\n"
    return pc.ascii_rtrim(arr, "\n") if n else arr


def join_records(arr: pa.Array, continuation: str) -> tuple[pa.Array, np.ndarray | None]:
    """:func:`text._join_records` on a string array: -v header + continuation -> one record (joined by a
    space); returns the records and the line each starts on (None when no line continues another)."""
    cont = pc.match_substring_regex(arr, continuation).to_numpy(zero_copy_only=False)
    if not cont.any():
        return arr, None
    ends = pc.ends_with(arr, ")").to_numpy(zero_copy_only=False)
    cand = np.zeros(len(arr), bool)
    cand[1:] = cont[1:] & ends[:-1]
    # in a run of candidates, a line taken as a continuation cannot head the next: every other one
    idx = np.arange(len(arr))
    run_start = np.maximum.accumulate(np.where(cand & ~np.r_[False, cand[:-1]], idx, 0))
    accepted = cand & ((idx - run_start) % 2 == 0)
    heads = np.flatnonzero(accepted) - 1
    keep = ~accepted
    joined = pc.binary_join_element_wise(arr.take(pa.array(heads)), pc.utf8_slice_codeunits(arr.take(pa.array(heads + 1)), 4),
                                         " ")
    is_head = np.zeros(len(arr), bool)
    is_head[heads] = True
    rec = pc.replace_with_mask(arr.filter(pa.array(keep)), pa.array(is_head[keep]), joined)
    return rec, np.flatnonzero(keep)


def _digits(buf: np.ndarray, pos: np.ndarray, end: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimal number starting at each ``pos`` (stopping at ``end``): (value of the first
    ``width`` digits, digit count; ``width + 1`` means "longer than width")."""
    lim = len(buf) - 1
    val = np.zeros(len(pos), np.int64)
    nd = np.zeros(len(pos), np.int64)
    run = np.ones(len(pos), bool)
    for k in range(width + 1):
        idx = pos + k
        c = buf[np.minimum(idx, lim)] - np.uint8(48)
        run &= (c < 10) & (idx < end)
        if not run.any():
            break
        if k < width:
            val = np.where(run, val * 10 + c, val)
        nd += run
    return val, nd


def _starts(buf: np.ndarray, pos: np.ndarray, end: np.ndarray, lit: bytes) -> np.ndarray:
    """Whether the bytes at ``pos`` are ``lit`` (within the line)."""
    lim = len(buf) - 1
    ok = pos + len(lit) <= end
    for j, ch in enumerate(lit):
        ok &= buf[np.minimum(pos + j, lim)] == ch
    return ok


def _words(buf: np.ndarray) -> np.ndarray:
    """Overlapping little-endian 8-byte words: ``W[i]`` holds ``buf[i:i+8]`` (zero padded)."""
    bufp = np.concatenate([buf, np.zeros(16, np.uint8)])
    return np.ndarray(shape=(len(bufp) - 7,), dtype="<u8", buffer=bufp, offset=0, strides=(1,))


def _is(w: np.ndarray, pos: np.ndarray, end: np.ndarray, lit: bytes) -> np.ndarray:
    """Whether the word ``w`` (the 8 bytes at ``pos``) starts with ``lit`` within the line."""
    mask = np.uint64((1 << (8 * len(lit))) - 1)
    return ((w & mask) == np.uint64(int.from_bytes(lit, "little"))) & (pos + len(lit) <= end)


def _find_in(buf: np.ndarray, pos: np.ndarray, end: np.ndarray, ch: int, width: int) -> np.ndarray:
    """Offset of the first ``ch`` at or after ``pos`` within ``width`` bytes (-1 if none)."""
    idx = pos[:, None] + np.arange(width)
    w = buf[np.minimum(idx, len(buf) - 1)]
    hit = (w == ch) & (idx < end[:, None])
    off = np.argmax(hit, axis=1)
    return np.where(hit.any(axis=1), off, -1)


def gather_strings(buf: np.ndarray, start: np.ndarray, stop: np.ndarray) -> pa.Array:
    """A pyarrow string array of ``buf[start:stop]`` per row (boundaries at ASCII bytes)."""
    lens = np.maximum(stop - start, 0).astype(np.int64)
    offs = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    total = int(offs[-1])
    idx = np.repeat(start - offs[:-1], lens) + np.arange(total)
    data = buf[idx]
    return pa.LargeStringArray.from_buffers(len(lens), pa.py_buffer(offs), pa.py_buffer(data.tobytes())).cast(pa.string())


class Fields:
    """Per-line fields for a set of rows (``rows`` are line indices)."""

    NUMS = ("ifindex", "flen", "vlan", "vlan2", "seq", "ack", "win", "len")

    def __init__(self, m: int) -> None:
        self.rows = np.zeros(m, np.int64)
        z = lambda: np.zeros(m, np.int64)
        f = lambda: np.zeros(m, bool)
        self.num = {k: (z(), f()) for k in self.NUMS}
        self.tod_ns, self.has_tod = z(), f()
        self.ep_ns, self.has_ep, self.ep_ok = z(), f(), f()
        self.day_ns, self.has_date, self.date_ok = z(), f(), f()
        self.l3 = np.zeros(m, np.int8)
        self.kind = np.zeros(m, np.int8)
        self.direction = np.full(m, -1, np.int8)
        self.arp = f()
        self.lldp = f()
        self.src: pa.Array = pa.nulls(m, pa.string())
        self.dst: pa.Array = pa.nulls(m, pa.string())
        self.iface: pa.Array = pa.nulls(m, pa.string())
        self.flags: pa.Array = pa.nulls(m, pa.string())  # printed flags (slow path)
        self.fbits = np.full(m, -2, np.int64)  # flag bits (fast path; -1 none, -2: see flags)
        self.arp_s: pa.Array = pa.nulls(m, pa.string())  # sender (who-has ... tell X, or Reply X is-at)
        self.arp_t: pa.Array = pa.nulls(m, pa.string())
        # the same five text columns as indices into ``toks`` (-1: none), once they are interned
        self.ids: dict[str, np.ndarray] | None = None
        self.toks: list[str] = []


TOKEN_COLUMNS = ("src", "dst", "iface", "arp_s", "arp_t")


class Interner:
    """Distinct text tokens of a chunk -> indices, shared by the rows read by C, by bytes and by LINE_RE."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names: list[str] = names if names is not None else []  # (shared: the part it comes from keeps its ids)
        self.index: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def of(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i

    def ids(self, arr: pa.Array) -> np.ndarray:
        """Indices of a string array's values (-1 for null), one lookup per distinct value."""
        if not len(arr):
            return np.zeros(0, np.int64)
        enc = pc.dictionary_encode(arr.cast(pa.string()))
        m = np.array([self.of(x) for x in enc.dictionary.to_pylist()] + [-1], np.int64)
        return m[enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)]


def intern(F: Fields, it: Interner) -> None:
    """Give ``F`` its token columns as indices into ``it`` (whatever form they were in)."""
    if F.ids is None:
        F.ids = {k: it.ids(getattr(F, k)) for k in TOKEN_COLUMNS}
    elif F.toks is not it.names:
        m = np.array([it.of(x) for x in F.toks] + [-1], np.int64)
        F.ids = {k: m[v] for k, v in F.ids.items()}
    F.toks = it.names


def from_scan(raw: bytes, scanned: tuple[Any, ...]) -> tuple[Fields, np.ndarray, np.ndarray]:
    """The records the C scanner read (``_scan.scan(raw)``), as Fields; and the records it handed back:
    their first lines and whether each is a -v pair."""
    _, rline_b, joined_b, status_b, ints_b, has_b, small_b, toks_b, names = scanned
    rline = np.frombuffer(rline_b, np.int64)
    status = np.frombuffer(status_b, np.uint8)
    ok = np.flatnonzero(status == 0)
    ints = np.frombuffer(ints_b, np.int64).reshape(-1, 12)[ok]
    has = np.frombuffer(has_b, np.uint8).reshape(-1, 12)[ok]
    small = np.frombuffer(small_b, np.int8).reshape(-1, 4)[ok]
    tok = np.frombuffer(toks_b, np.int32).reshape(-1, 5)[ok].astype(np.int64)
    F = Fields(0)
    F.rows = rline[ok]
    for j, k in enumerate(Fields.NUMS, start=3):
        F.num[k] = (ints[:, j], has[:, j] == 1)
    F.has_date = has[:, 0] == 1
    ymd = ints[:, 0]
    F.day_ns, F.date_ok = _days_ns(ymd // 10000, ymd // 100 % 100, ymd % 100, F.has_date)
    F.has_tod = has[:, 1] == 1
    F.tod_ns = np.where(F.has_tod, ints[:, 1], 0)
    F.has_ep = has[:, 2] != 0
    F.ep_ok = has[:, 2] == 1
    F.ep_ns = np.where(F.ep_ok, ints[:, 2], 0)
    F.fbits = ints[:, 11]
    F.direction, F.l3, F.kind = small[:, 0].copy(), small[:, 1].copy(), small[:, 2].copy()
    F.arp, F.lldp = small[:, 3] == 1, small[:, 3] == 2
    m = len(ok)
    F.src = F.dst = F.iface = F.flags = F.arp_s = F.arp_t = pa.nulls(m, pa.string())
    F.ids = dict(zip(TOKEN_COLUMNS, (tok[:, 1], tok[:, 2], tok[:, 0], tok[:, 3], tok[:, 4])))
    F.toks = names
    punt = np.flatnonzero(status != 0)
    return F, rline[punt], np.frombuffer(joined_b, np.uint8)[punt].astype(bool)


def fast_chunk(arr: pa.Array, base: int) -> tuple[Fields, np.ndarray]:
    """Read the gated lines of ``arr``; return their fields and the indices of the other lines."""
    n = len(arr)
    gate = pc.match_substring_regex(arr, GATE_RE).to_numpy(zero_copy_only=False)
    cand = np.flatnonzero(gate)
    _, obuf, dbuf = arr.buffers()
    offs = np.frombuffer(obuf, np.int32, count=arr.offset + n + 1)[arr.offset :].astype(np.int64)
    lo = int(offs[0]) if n else 0
    buf = np.frombuffer(dbuf, np.uint8)[lo : int(offs[-1]) if n else 0]  # this chunk's bytes only
    offs -= lo
    st, en = offs[cand], offs[cand + 1]
    sub = arr.take(pa.array(cand))
    gt = pc.find_substring(sub, " > ").to_numpy(zero_copy_only=False).astype(np.int64) + st
    co = pc.find_substring(sub, ": ").to_numpy(zero_copy_only=False).astype(np.int64) + st
    rev = pc.binary_reverse(sub.cast(pa.binary()))
    lrev = pc.find_substring(rev, " htgnel").to_numpy(zero_copy_only=False).astype(np.int64)
    ok = co > gt  # a source ending in ":" ("::") puts the first ": " before " > "
    # --- timestamp: [date ]tod | epoch (the gate vouches for the digits)
    lim = len(buf) - 1

    def dig(p: np.ndarray) -> np.ndarray:
        return buf[np.minimum(p, lim)].astype(np.int64) - 48

    has_date = buf[np.minimum(st + 4, lim)] == 45  # "-"
    t0 = st + np.where(has_date, 11, 0)
    is_tod = buf[np.minimum(t0 + 2, lim)] == 58  # ":"
    tod_ns = ((dig(t0) * 10 + dig(t0 + 1)) * 60 + dig(t0 + 3) * 10 + dig(t0 + 4)) * 60 + dig(t0 + 6) * 10 + dig(t0 + 7)
    tod_ns *= 1_000_000_000
    has_frac = is_tod & (buf[np.minimum(t0 + 8, lim)] == 46)  # "."
    ew = np.zeros(len(st), np.int64)
    ewn = np.zeros(len(st), np.int64)
    if not is_tod.all():  # epoch seconds.frac; more than 10 digits of seconds: the full expression
        e = np.flatnonzero(~is_tod)
        ew[e], ewn[e] = _digits(buf, t0[e], en[e], 10)
        ok &= is_tod | (ewn <= 10)
    fpos = np.where(is_tod, t0 + 9, t0 + ewn + 1)
    fr, fnd = _digits(buf, fpos, en, 9)
    run = fnd.copy()
    if (fnd > 9).any():  # LINE_RE keeps every digit; the time uses the first 9
        lng = np.flatnonzero(fnd > 9)
        run[lng] = _run(buf, fpos[lng], en[lng])
    ok &= run < 30
    fr = fr * 10 ** (9 - np.minimum(fnd, 9))
    tod_ns += np.where(has_frac, fr, 0)
    ef = fr
    ts_end = np.where(is_tod & ~has_frac, t0 + 8, fpos + run)  # the space
    q = ts_end + 1
    ip6 = buf[np.minimum(q + 2, lim)] == 54  # "6"
    s0 = q + np.where(ip6, 4, 3)
    ok &= gt >= s0
    d0 = gt + 3
    r = co + 2
    # --- kind
    W = _words(buf)
    wr = W[np.minimum(r, len(W) - 1)]
    k_tcp = _is(wr, r, en, b"Flags [")
    k_udp = _is(wr, r, en, b"UDP")
    k_i6 = _is(wr, r, en, b"ICMP6")
    k_i4 = _is(wr, r, en, b"ICMP") & ~k_i6
    kind = np.select([k_tcp, k_udp, k_i6, k_i4], [KIND_TCP, KIND_UDP, KIND_ICMP6, KIND_ICMP], 0).astype(np.int8)
    # --- TCP (on the TCP rows): flags, seq, ack, win -- sequential optional parts, as in LINE_RE
    m = len(cand)
    T = np.flatnonzero(k_tcp)
    ten = en[T]
    fl0 = r[T] + 7
    fw = _find_in(buf, fl0, ten, 93, 12)  # "]"
    tok = fw >= 0
    # flag bits: every flag letter of the printed set ORed (what columns.flag_bits computes)
    fb = np.zeros(len(T), np.int64)
    for j in range(int(fw.max(initial=0))):
        c = buf[np.minimum(fl0 + j, lim)]
        fb |= np.where(j < fw, _FLAG_LUT[c], 0)
    fbits = np.full(m, -1, np.int64)
    fbits[T] = np.where(fw > 0, fb, -1)  # "Flags []": no flags (LINE_RE's empty group)
    p = fl0 + np.maximum(fw, 0) + 1
    nums = {}
    for word in (b", seq ", b", ack ", b", win "):
        wp = W[np.minimum(p, len(W) - 1)]
        has = _is(wp, p, ten, word)
        H = np.flatnonzero(has)
        v, nd = np.zeros(len(T), np.int64), np.zeros(len(T), np.int64)
        v[H], nd[H] = _digits(buf, p[H] + 6, ten[H], 10)
        has &= nd > 0
        tok &= ~(has & (nd > 10))
        vv, hh = np.zeros(m, np.int64), np.zeros(m, bool)
        vv[T], hh[T] = v, has
        nums[word[2:5].decode()] = (vv, hh)
        p = np.where(has, p + 6 + nd, p)
        if word == b", seq ":
            colon = has & (buf[np.minimum(p, lim)] == 58)
            C = np.flatnonzero(colon)
            nd2 = np.zeros(len(T), np.int64)
            _, nd2[C] = _digits(buf, p[C] + 1, ten[C], 12)
            colon &= nd2 > 0
            tok &= ~(colon & (nd2 > 12))
            p = np.where(colon, p + 1 + nd2, p)
    ok[T] &= tok
    # --- last "length N"
    L = en - st
    has_len = lrev >= 0
    lpos = st + L - lrev  # first byte after " length" ... i.e. the digits in the original
    lv, lnd = _digits(buf, np.where(has_len, lpos, st), en, 10)
    need_regex = has_len & (lnd == 0)  # last "length " not followed by a digit: an earlier one may be
    ok &= ~need_regex & ~(has_len & (lnd > 10))
    # with the timestamp the first byte, "length" can only come after the main part in gated lines
    has_len &= lnd > 0
    # --- strings
    src = gather_strings(buf, s0, gt)
    dst = gather_strings(buf, d0, co)
    # a source that is a direction word could make LINE_RE read "IP" as an interface
    srcw = _short_tokens(buf, s0, gt)
    ok &= ~srcw
    # --- assemble
    good = np.flatnonzero(ok)
    F = Fields(len(good))
    F.rows = cand[good] + base
    F.tod_ns = np.where(is_tod, tod_ns, 0)[good]
    F.has_tod = is_tod[good]
    F.ep_ns = (ew * 1_000_000_000 + ef)[good]
    F.has_ep = ~is_tod[good]
    F.ep_ok = F.has_ep.copy()
    F.has_date = has_date[good]
    F.date_ok = F.has_date.copy()
    if F.has_date.any():
        y, _ = _digits(buf, st, en, 4)
        mo, _ = _digits(buf, st + 5, en, 2)
        dd, _ = _digits(buf, st + 8, en, 2)
        F.day_ns, F.date_ok = _days_ns(y[good], mo[good], dd[good], F.has_date)
    F.l3 = np.where(ip6, L3_IP6, L3_IP).astype(np.int8)[good]
    F.kind = kind[good]
    for k, (v, h) in nums.items():
        F.num[k] = (v[good], h[good])
    F.num["len"] = (lv[good], has_len[good])
    take = pa.array(good)
    F.src, F.dst = src.take(take), dst.take(take)
    F.fbits = fbits[good]
    rest = np.setdiff1d(np.arange(n), cand[good], assume_unique=True) + base
    return F, rest


def _run(buf: np.ndarray, pos: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Length of the digit run at ``pos`` (up to 30)."""
    _, nd = _digits(buf, pos, end, 30)
    return np.minimum(nd, 30)


def _short_tokens(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Whether buf[s:e] is one of In/Out/B/M/P."""
    L = e - s
    out = np.zeros(len(s), bool)
    S = np.flatnonzero(L <= 3)
    for w in _DIRS:
        out[S] |= (L[S] == len(w)) & _starts(buf, s[S], e[S], w)
    return out


def _days_ns(y: np.ndarray, mo: np.ndarray, d: np.ndarray, has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = has & (mo >= 1) & (mo <= 12) & (d >= 1) & (y >= 1678) & (y <= 2261)
    months = np.where(valid, (y - 1970) * 12 + mo - 1, 0).astype("M8[M]")
    day = months.astype("M8[D]").astype(np.int64) + np.where(valid, d - 1, 0)
    # a day past the month's end (2024-02-31) is not a date
    nxt = (months + np.timedelta64(1, "M")).astype("M8[D]").astype(np.int64)
    valid &= day < nxt
    return np.where(valid, day * 86_400_000_000_000, 0), valid


def slow_fields(arr: pa.Array, rows: np.ndarray, line_re: str, field_names: list[str]) -> Fields:
    """Fields of ``rows`` through the full expression (threaded over slices)."""
    sub = arr.take(pa.array(rows)) if len(rows) != len(arr) else arr
    n = len(sub)
    ncpu = os.cpu_count() or 1
    step = max(20_000, -(-n // ncpu))
    slices = [sub.slice(i, step) for i in range(0, n, step)] or [sub]
    if len(slices) > 1:
        with ThreadPoolExecutor(max_workers=min(len(slices), ncpu)) as ex:
            parts = list(ex.map(lambda a: pc.extract_regex(a, line_re), slices))
    else:
        parts = [pc.extract_regex(slices[0], line_re)]
    st = pa.chunked_array(parts, type=parts[0].type).combine_chunks()
    valid = st.is_valid().to_numpy(zero_copy_only=False)
    col = {f: pc.if_else(pc.equal(st.field(f), ""), pa.scalar(None, pa.string()), st.field(f)) if f != "kind" else st.field(f)
           for f in field_names}
    notna = {f: col[f].is_valid().to_numpy(zero_copy_only=False) & valid for f in field_names}
    is_pkt = notna["src"] | notna["arp"] | notna["lldp"]
    good = np.flatnonzero(is_pkt)
    take = pa.array(good)
    c = {f: col[f].take(take) for f in field_names}
    nn = {f: notna[f][good] for f in field_names}
    F = Fields(len(good))
    F.rows = rows[good]
    for k in Fields.NUMS:
        F.num[k] = _to_int(c[k], nn[k])
    tod = c["tod"].to_pandas().astype(object).where(nn["tod"], None)
    F.tod_ns = columns.tod_ns(pd.Series(tod.to_numpy(), dtype=object)) if len(good) else np.zeros(0, np.int64)
    F.has_tod = nn["tod"]
    ep = c["epoch"].to_pylist()
    F.has_ep = nn["epoch"]
    F.ep_ok = F.has_ep.copy()
    for i in np.flatnonzero(F.has_ep):
        w, _, fr = ep[i].partition(".")
        v = int(w) * 1_000_000_000 + int(fr.ljust(9, "0")[:9])
        if v >= 2**63:
            F.ep_ok[i] = False
        else:
            F.ep_ns[i] = v
    F.has_date = nn["date"]
    if F.has_date.any():
        ds = c["date"].to_pylist()
        y = np.array([int(x[:4]) if x else 0 for x in ds], np.int64)
        mo = np.array([int(x[5:7]) if x else 0 for x in ds], np.int64)
        dd = np.array([int(x[8:10]) if x else 0 for x in ds], np.int64)
        F.day_ns, F.date_ok = _days_ns(y, mo, dd, F.has_date)
    l3 = c["l3"].to_pylist()
    F.l3 = np.array([{"IP": L3_IP, "IP6": L3_IP6, "ARP": L3_ARP, "LLDP": L3_LLDP}.get(x, 0) for x in l3], np.int8)
    kind = c["kind"].to_pylist()
    F.kind = np.array([{"Flags [": KIND_TCP, "UDP": KIND_UDP, "ICMP6": KIND_ICMP6, "ICMP": KIND_ICMP}.get(x, 0) for x in kind], np.int8)
    dirs = c["dir"].to_pylist()
    F.direction = np.array([schema.DIRECTIONS.index(x) if x else -1 for x in dirs], np.int8)
    F.arp = nn["arp"]
    F.lldp = nn["lldp"]
    # ports printed after IPv6 extension headers ("HBH 40000 > 443: ..."): as if printed host.port
    F.src, F.dst = (pc.if_else(pc.is_valid(c[p]), pc.binary_join_element_wise(c[e], c[p], "."), c[e])
                    for e, p in (("src", "xsp"), ("dst", "xdp")))
    F.iface, F.flags = c["iface"], c["flags"]
    F.arp_s = pc.coalesce(c["arp_s"], c["arp_r"])
    F.arp_t = c["arp_t"]
    return F


def _to_int(a: pa.Array, has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        v = pc.cast(a, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return v, has.copy()
    except (pa.ArrowInvalid, OverflowError):
        vals = a.to_pylist()
        out = np.zeros(len(vals), np.int64)
        ok = has.copy()
        for i, x in enumerate(vals):
            if x is None:
                continue
            iv = int(x)
            if iv >= 2**63:
                ok[i] = False
            else:
                out[i] = iv
        return out, ok


def concat(parts: list[Fields]) -> Fields:
    """The rows of several Fields in row order (token columns interned when any part has them so)."""
    if len(parts) == 1 and (len(parts[0].rows) < 2 or bool((np.diff(parts[0].rows) > 0).all())):
        return parts[0]
    m = sum(len(p.rows) for p in parts)
    F = Fields(0)
    if any(p.ids is not None for p in parts):
        it = Interner(next(p for p in parts if p.ids is not None).toks)
        for p in parts:
            intern(p, it)
    rows = np.concatenate([p.rows for p in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(rows, kind="stable")
    F.rows = rows[order]
    cat = lambda xs: np.concatenate(xs)[order]
    for k in Fields.NUMS:
        F.num[k] = (cat([p.num[k][0] for p in parts]), cat([p.num[k][1] for p in parts]))
    for a in ("tod_ns", "has_tod", "ep_ns", "has_ep", "ep_ok", "day_ns", "has_date", "date_ok", "l3", "kind", "direction", "arp", "lldp", "fbits"):
        setattr(F, a, cat([getattr(p, a) for p in parts]))
    tk = pa.array(order)
    for a in ("src", "dst", "iface", "flags", "arp_s", "arp_t"):
        setattr(F, a, pa.concat_arrays([getattr(p, a).cast(pa.string()) for p in parts]).take(tk) if m else pa.nulls(0, pa.string()))
    if any(p.ids is not None for p in parts):
        F.ids = {k: cat([p.ids[k] for p in parts if p.ids is not None]) for k in TOKEN_COLUMNS}
        F.toks = parts[0].toks
    return F


def _categorical(codes: np.ndarray, uniq: list[str]) -> pd.Categorical:
    """Categorical with sorted categories (as ``pd.Categorical(values)`` makes them) from codes into ``uniq``."""
    valid = codes[codes >= 0]
    used = np.flatnonzero(np.bincount(valid, minlength=len(uniq))) if len(valid) else np.zeros(0, np.int64)
    if not len(used):
        return pd.Categorical.from_codes(np.full(len(codes), -1), categories=pd.Index([], dtype="str"))
    names = [uniq[i] for i in used]
    order = sorted(range(len(names)), key=names.__getitem__)
    remap = np.full(len(uniq), -1, np.int64)
    remap[used[order]] = np.arange(len(used))
    out = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return pd.Categorical.from_codes(out, categories=pd.Index([names[i] for i in order]))


_ALLNUM = re.compile(r"^[0-9.]+$")


def build(F: Fields, tz: str) -> tuple[dict[str, Any], bool]:
    """The schema columns from the fields (the post-processing of the reference path, in numpy)."""
    m = len(F.rows)
    kind, l3 = F.kind, F.l3
    tcp, udp, icmp, icmp6 = kind == KIND_TCP, kind == KIND_UDP, kind == KIND_ICMP, kind == KIND_ICMP6
    arp = F.arp
    lldp = F.lldp | (l3 == L3_LLDP)
    # tokens, each looked at once: every row's src/dst/interface/ARP fields are indices into toks
    if F.ids is None:
        intern(F, Interner())
    assert F.ids is not None
    toks = F.toks
    sidx, didx = F.ids["src"], F.ids["dst"]
    src_na = sidx < 0
    # per distinct address token (a last, unused entry keeps the lookups below in range)
    used = np.zeros(len(toks) + 1, bool)
    used[sidx[sidx >= 0]] = used[didx[didx >= 0]] = True
    colon = np.zeros(len(toks) + 1, bool)
    dots = np.zeros(len(toks) + 1, np.int64)
    allnum = np.zeros(len(toks) + 1, bool)
    hosts: dict[str, int] = {}
    hlist: list[str] = []

    def hid(s: str) -> int:
        i = hosts.get(s)
        if i is None:
            i = hosts[s] = len(hlist)
            hlist.append(s)
        return i

    whole = np.full(len(toks) + 1, -1, np.int64)
    split_h = np.full(len(toks) + 1, -1, np.int64)
    split_p = np.full(len(toks) + 1, -1, np.int64)  # -1: no port
    for i in np.flatnonzero(used).tolist():
        t = toks[i]
        colon[i], dots[i], allnum[i] = ":" in t, t.count("."), bool(_ALLNUM.search(t))
        whole[i] = hid(t)
        if "." in t:
            h, _, p = t.rpartition(".")
            split_h[i] = hid(h)
            pn = columns.port_number(p)
            split_p[i] = -1 if pn is None else pn
        else:
            split_h[i] = whole[i]
    sg = np.maximum(sidx, 0)
    v6 = (colon[sg] & ~src_na) | (l3 == L3_IP6)
    sdots = np.where(src_na, 0, dots[sg])
    unknown = ~(tcp | udp | icmp | icmp6 | arp | lldp) & ~src_na
    ported_guess = unknown & ((~v6 & (sdots == 4)) | (v6 & (sdots >= 1) & ~(allnum[sg] & ~src_na)))
    udp = udp | ported_guess
    proto = np.full(m, 6, np.int8)
    proto[tcp], proto[udp], proto[icmp], proto[icmp6], proto[arp], proto[lldp] = 0, 1, 2, 3, 4, 5
    ported = tcp | udp

    def host_port(ix: np.ndarray) -> tuple[np.ndarray, pd.arrays.IntegerArray]:
        na = ix < 0
        g = np.maximum(ix, 0)
        h = np.where(na, -1, np.where(ported, split_h[g], whole[g]))
        pv = np.where(ported & ~na, split_p[g], -1)
        return h, pd.arrays.IntegerArray(np.maximum(pv, 0).astype(np.uint16), pv < 0)

    sh, sport = host_port(sidx)
    dh, dport = host_port(didx)
    if arp.any():
        a_s, a_t = F.ids["arp_s"], F.ids["arp_t"]
        for i in np.flatnonzero(arp).tolist():
            sh[i] = hid(toks[a_s[i]]) if a_s[i] >= 0 else -1
            dh[i] = hid(toks[a_t[i]]) if a_t[i] >= 0 else -1
    # flags: per distinct printed string
    if m:
        fenc = pc.dictionary_encode(F.flags)
        fd = [columns.flag_bits(x) for x in fenc.dictionary.to_pylist()]
        fi = fenc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        fb = np.where(fi >= 0, np.array(fd + [0], np.int64)[fi], -1)
        fb = np.where(F.fbits == -2, fb, F.fbits)
    else:
        fb = np.zeros(0, np.int64)
    fbits = pd.arrays.IntegerArray(np.maximum(fb, 0).astype(np.uint8), fb < 0)

    def nums(name: str, dtype: str) -> pd.api.extensions.ExtensionArray:
        v, h = F.num[name]
        info = np.iinfo(schema.numpy_dtype(dtype))
        h = h & (v >= info.min) & (v <= info.max)  # beyond the column's range: not a value
        return schema.masked(np.where(h, v, 0), h, dtype)

    # time
    ts = np.full(m, _MIN, np.int64)
    has_tod = F.has_tod
    tod_ns = np.where(has_tod, F.tod_ns, 0)
    has_date = F.has_date & has_tod
    dsel = has_date & F.date_ok
    if dsel.any():
        local = F.day_ns[dsel] + tod_ns[dsel]
        if tz != "UTC":
            loc = pd.DatetimeIndex(local.view("M8[ns]")).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            local = loc.tz_convert("UTC").tz_localize(None).to_numpy().astype("M8[ns]").view("i8")
        ts[dsel] = local
    has_ep = F.has_ep
    esel = has_ep & F.ep_ok
    if has_ep.any():
        ts[esel] = F.ep_ns[esel]
        tod_ns = tod_ns.copy()
        tod_ns[esel] = F.ep_ns[esel] % 86_400_000_000_000
    tod_td = np.where(has_tod | esel, tod_ns, _MIN).view("m8[ns]")
    # interface
    iface = _categorical(F.ids["iface"], toks)
    v_ip = np.where((l3 == L3_IP6) | icmp6 | (v6 & (l3 != L3_IP) & ~arp), 6, 4)
    ipv_known = ~src_na & ~arp
    ipproto = np.select([tcp, udp, icmp, icmp6], [6, 17, 1, 58], 0)
    return {
        "frame": pd.arrays.IntegerArray((F.rows + 1).astype(np.uint32), np.zeros(m, bool)),
        "timestamp": pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC"),
        "time_of_day": tod_td,
        "interface": iface,
        "ifindex": nums("ifindex", "Int32"),
        "direction": pd.Categorical.from_codes(F.direction, dtype=schema.COLUMNS["direction"]),
        "vlan": nums("vlan", "Int16"),
        "vlan_inner": nums("vlan2", "Int16"),
        "src": _categorical(sh, hlist),
        "dst": _categorical(dh, hlist),
        "sport": sport,
        "dport": dport,
        "protocol": pd.Categorical.from_codes(proto, dtype=schema.COLUMNS["protocol"]),
        "ip_version": schema.masked(v_ip, ipv_known, "UInt8"),
        "ip_proto": schema.masked(ipproto, ipv_known & (ipproto > 0), "UInt8"),
        "wire_len": nums("flen", "UInt32"),
        "cap_len": pd.arrays.IntegerArray(np.zeros(m, np.uint32), np.ones(m, bool)),
        "payload_len": nums("len", "UInt32"),
        "tcp_flags": pd.Categorical.from_codes(np.where(fb >= 0, fb, -1), dtype=schema.COLUMNS["tcp_flags"]),
        "tcp_flagbits": fbits,
        "seq": nums("seq", "UInt32"),
        "ack": nums("ack", "UInt32"),
        "window": nums("win", "UInt16"),
        "icmp_type": pd.arrays.IntegerArray(np.zeros(m, np.uint8), np.ones(m, bool)),
        "icmp_code": pd.arrays.IntegerArray(np.zeros(m, np.uint8), np.ones(m, bool)),
    }, bool(has_date.all() or has_ep.all()) if m else False
