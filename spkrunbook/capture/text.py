"""tcpdump's one-line text output into the capture schema.

Why: users paste what they saw on a node (``tcpdump -i cni0``) or save
``tcpdump -r`` output; those lines carry no frame lengths and maybe no date, but
they still answer "who talked to whom, with which flags".  Every variant the
runbook meets is understood: ``-n``/``-nn`` or names (``worker1.36308``,
``.https``), ``-t``/``-tt``/``-ttt``/``-tttt``/``-ttttt`` (and ``--nano``),
``-e`` (MACs, ethertype, VLAN, frame length), ``-i any`` (interface +
``In``/``Out``/``B``/``M``/``P``), ``-v`` (the IP header line and the packet
line under it are one record, on the header's line), IPv4/IPv6, TCP (every flag
notation), UDP, ICMP, ICMPv6, ARP, LLDP.

Lines that are not packet lines (``-v`` detail lines, hex dumps, stderr
banners) are never dropped silently: ``df.attrs["unparsed"]`` is a list of
``(lineno, text)`` and ``df.attrs["unparsed_count"]`` their number.

:data:`LINE_RE` defines what a line means; three engines read it, and the
tests hold them equal line for line:

- the C scanner (``_scan.c``, built with the package): one pass over each line,
  taking the choices the expression prefers; a line it is not sure of goes to
  the expression in RE2;
- without the C scanner: a capture-free RE2 gate picks the lines of the common
  shape, whose fields numpy reads from the bytes (``_text_fast``), and the full
  expression reads the rest in RE2;
- without pyarrow: the full expression in Python's ``re``, line by line.

Host, port and service mapping runs once per distinct token.  Numbers that do
not fit their column (a ``win`` above 65535, an epoch past 2262) are missing
rather than wrapped.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from . import columns, schema
from .limits import MAX_LINE, MAX_PACKETS, MAX_UNPARSED_KEPT, TEXT_CHUNK, CaptureLimitWarning, open_regular

try:  # pyarrow is the fast path; the fallback keeps the parser usable without it
    import pyarrow as pa

    from . import _text_fast as _fast
except ImportError:  # pragma: no cover - exercised only where pyarrow is absent
    pa = None

try:  # the C line scanner (optional, like the pcap record walk): LINE_RE's fields without the regex
    from . import _scan
except ImportError:  # pragma: no cover - depends on the build
    _scan = None  # type: ignore[assignment]
HAVE_C_SCAN = _scan is not None and pa is not None
_use_scan = HAVE_C_SCAN


def use_c_scan(enabled: bool) -> bool:
    """Switch the C scanner on or off (tests, benchmarks); returns the previous state."""
    global _use_scan
    before = _use_scan
    if enabled and not HAVE_C_SCAN:
        raise RuntimeError("spkrunbook.capture._scan is not built")
    _use_scan = enabled
    return before


#: a line that continues a -v IP header: the packet, indented by exactly four spaces ("    SRC > DST: ...")
CONTINUATION_RE = r"^    [^ \t\r\n\f\v][^ ]* > "
_CONTINUATION = re.compile(CONTINUATION_RE)


def _continues(line: str) -> bool:
    return _CONTINUATION.match(line) is not None


def _join_records(lines: list[str]) -> tuple[list[str], np.ndarray | None]:
    """Records from lines: a -v header (ends in ")") and the line that continues it become one (joined by a
    space, on the header's line); returns the records and the line each starts on (None: one per line)."""
    if not any(ln.startswith("    ") for ln in lines):
        return lines, None
    out: list[str] = []
    line_of: list[int] = []
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and lines[i].endswith(")") and _continues(lines[i + 1]):
            out.append(lines[i] + " " + lines[i + 1][4:])
            line_of.append(i)
            i += 2
        else:
            out.append(lines[i])
            line_of.append(i)
            i += 1
    return out, np.array(line_of, np.int64)

_HEX = r"[0-9a-fA-F]"
_MAC = rf"(?:{_HEX}{{2}}(?::{_HEX}{{2}}){{5}}|Broadcast)(?: \([^)]*\))?"
_ETYPE = r"ethertype [^ ]+ \(0x[0-9a-fA-F]{4}\)"
LINE_RE = (
    # -ttt and -ttttt print their time after a space; a line that starts with a tab is detail (-v) or a dump
    r"^ *(?:(?P<date>\d{4}-\d\d-\d\d) )?"
    r"(?:(?P<tod>\d\d:\d\d:\d\d(?:\.\d+)?)|(?P<epoch>\d{6,}\.\d+))? *"
    r"(?:(?P<iface>[^ ]+) +(?P<dir>In|Out|B|M|P) +)?"
    r"(?:ifindex (?P<ifindex>\d+) )?"
    rf"(?:(?:{_MAC} > {_MAC}, |{_MAC} )?{_ETYPE}, length (?P<flen>\d+): )?"
    # (-i any -e prints the ethertype after a tag without its number: "vlan 100, p 0, ethertype IPv4, ...")
    rf"(?:vlan (?P<vlan>\d+), p \d+, (?:{_ETYPE}|ethertype [^ ,]+),? )?"
    rf"(?:vlan (?P<vlan2>\d+), p \d+, (?:{_ETYPE}|ethertype [^ ,]+),? )?"
    r"(?:(?P<l3>IP6?|ARP|LLDP) ?,? )?"
    # -v: the IP header in parentheses, "(tos 0x0, ttl 64, ..., length 60)" or "(hlim 64, ... payload length: 32)"
    r"(?:\((?:[^()]|\([^()]*\))*\) )?"
    r"(?:"
    r"(?P<src>[^ ]+) > (?P<dst>[^ ]+?):(?: \[[^\]]*\])? "
    # IPv6 extension headers; after them tcpdump prints the ports alone: "HBH 40000 > 443: Flags [P.]"
    r"(?:(?:(?:HBH|DSTOPT)(?: \([^)]*\))*|RT6 \([^)]*\)|frag \([^)]*\)) )*"
    r"(?:\[[^\]]*\] )?"  # -v: "[icmp6 sum ok]" after the extension headers
    r"(?:(?P<xsp>\d+|[a-z][a-z0-9-]*) > (?P<xdp>\d+|[a-z][a-z0-9-]*): )?"
    r"(?P<kind>Flags \[|UDP|ICMP6|ICMP|)"
    r"(?:(?P<flags>[^\]]*)\](?:, cksum 0x[0-9a-f]+ \([^)]*\))?(?:, seq (?P<seq>\d+)(?::\d+)?)?(?:, ack (?P<ack>\d+))?"
    r"(?:, win (?P<win>\d+))?)?"
    r"|(?:Ethernet \(len \d+\), IPv4 \(len \d+\), )?"  # -v ARP
    r"(?P<arp>Request who-has (?P<arp_t>[^ ]+)(?: \([^)]*\))? tell (?P<arp_s>[^ ,]+)|Reply (?P<arp_r>[^ ]+) is-at)"
    r"|(?P<lldp>length)"
    r")"
    r"(?:.*length (?P<len>\d+))?"
)
_FIELDS = ["date", "tod", "epoch", "iface", "dir", "ifindex", "flen", "vlan", "vlan2", "l3", "src", "dst", "kind",
           "flags", "seq", "ack", "win", "arp", "arp_t", "arp_s", "arp_r", "lldp", "len", "xsp", "xdp"]
_PY_RE = re.compile(LINE_RE)

def read_tcpdump_text(source: str | os.PathLike[str] | Iterable[str], *, tz: str = "UTC",
                      max_lines: int | None = MAX_PACKETS, chunk_size: int = TEXT_CHUNK) -> pd.DataFrame:
    """Parse tcpdump one-line output (a path, or an iterable of lines) into the schema.

    ``tz`` is the zone the printed times are in (tcpdump prints local time);
    timestamps are converted to UTC.  Non-packet lines are returned in
    ``df.attrs["unparsed"]`` as ``(lineno, text)`` (the first
    ``MAX_UNPARSED_KEPT``; ``unparsed_count`` counts them all).

    A path (a regular file; FIFOs and devices are refused) is read
    ``chunk_size`` bytes at a time, cut at line ends, so memory is a fixed
    budget plus the rows kept; at most ``max_lines`` lines are read (None: no
    limit), then the read stops with a
    :class:`~spkrunbook.capture.limits.CaptureLimitWarning` and
    ``df.attrs["limit_reached"]``.  Lines longer than ``MAX_LINE`` bytes are
    reported as unparsed and skipped.
    """
    name = "<lines>"
    if isinstance(source, (str, os.PathLike)) and not (isinstance(source, str) and "\n" in source):
        name = os.fspath(source)
        with open_regular(name, "tcpdump text") as f:
            return _read_text_file(f, name, tz, max_lines, chunk_size)
    elif isinstance(source, str):
        lines = source.splitlines()
    else:
        lines = [ln.rstrip("\n") for ln in source]
    lines = [ln.removesuffix("\r") for ln in lines] if any(ln.endswith("\r") for ln in lines[:10]) else lines
    if pa is not None and lines:
        return _read_arrow(pa.array(lines, type=pa.string()), name, tz)
    return _read_python(lines, name, tz)


def _read_raw(raw: bytes, name: str, tz: str) -> pd.DataFrame:
    """One chunk of whole lines (bytes) through the C scanner, the byte walk, or the careful Python route."""
    if _use_scan and pa is not None and not _crlf(raw) and (raw.isascii() or _utf8(raw)):
        return _read_scanned(raw, name, tz)
    arr = _fast.lines_array(raw) if pa is not None else None
    if arr is not None:
        return _read_arrow(arr, name, tz)
    lines = raw.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln.removesuffix("\r") for ln in lines] if any(ln.endswith("\r") for ln in lines[:10]) else lines
    if pa is not None and lines:
        return _read_arrow(pa.array(lines, type=pa.string()), name, tz)
    return _read_python(lines, name, tz)


class _TextChunks:
    """A text file's packets, one frame per ``chunk_size`` bytes of whole lines (frame numbers are file lines).

    Iterating yields ``(frame, line_starts)``: ``line_starts[i]`` is the byte offset
    of the chunk's line ``i`` (with ``offsets=True``; else None).  Meanwhile it counts
    what is not a packet (``unparsed``, ``n_unparsed``), the lines read
    (``line_base``), whether every chunk had dates, and where a limit stopped it.
    """

    def __init__(self, f: BinaryIO, name: str, tz: str, max_lines: int | None, chunk_size: int,
                 offsets: bool = False) -> None:
        self.f, self.name, self.tz, self.max_lines, self.chunk_size, self.offsets = f, name, tz, max_lines, chunk_size, offsets
        self.unparsed: list[tuple[int, str]] = []
        self.n_unparsed = 0
        self.line_base = 0  # lines before the current chunk
        self.date_known = True
        self.any_rows = False
        self.limit: str | None = None

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, np.ndarray | None]]:
        carry = b""
        pos = 0  # file offset of carry[0]
        skipping = False  # inside an over-long line: drop bytes until its end
        eof = False
        while not eof and self.limit is None:
            data = self.f.read(max(self.chunk_size, 1))
            eof = not data
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    pos += len(data)
                    continue
                data, skipping = data[nl + 1:], False
                pos += nl + 1
            buf = carry + data if carry else data
            cut = len(buf) if eof else buf.rfind(b"\n") + 1
            while 0 < cut < len(buf) and _continued(buf, cut):  # keep a -v header with the line that continues it
                cut = buf.rfind(b"\n", 0, cut - 1) + 1
            if cut == 0:
                if len(buf) > MAX_LINE:  # one line longer than any tcpdump line: report it, skip the rest of it
                    self.line_base += 1
                    self.n_unparsed += 1
                    if len(self.unparsed) < MAX_UNPARSED_KEPT:
                        self.unparsed.append((self.line_base, buf[:200].decode("utf-8", "replace")
                                              + f"... ({len(buf):,}+ bytes, no line end)"))
                    pos += len(buf)
                    carry, skipping = b"", True
                else:
                    carry = buf
                continue
            chunk, carry = buf[:cut], buf[cut:]
            if not chunk:
                break
            nlines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
            if self.max_lines is not None and self.line_base + nlines > self.max_lines:
                keep = self.max_lines - self.line_base
                ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
                chunk, nlines = (chunk[:int(ends[keep - 1]) + 1] if keep > 0 else b""), keep
                self.limit = f"max_lines={self.max_lines}"
                if not chunk:
                    break
            starts = None
            if self.offsets:
                ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
                starts = pos + np.concatenate([[0], ends[: nlines - 1] + 1]).astype(np.int64)
            df = _read_raw(chunk, self.name, self.tz)
            pos += len(chunk)
            del chunk
            if self.line_base:
                df["frame"] = df["frame"] + self.line_base
            self.n_unparsed += int(df.attrs.get("unparsed_count", 0))
            room = MAX_UNPARSED_KEPT - len(self.unparsed)
            if room > 0:
                self.unparsed += [(ln + self.line_base, t) for ln, t in df.attrs.get("unparsed", [])[:room]]
            if len(df):
                self.date_known &= bool(df.attrs.get("date_known", False))
                self.any_rows = True
            yield df, starts
            self.line_base += nlines

    def attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.name, "format": "text", "unparsed": self.unparsed,
                                  "unparsed_count": self.n_unparsed, "date_known": bool(self.date_known and self.any_rows)}
        if self.limit is not None:
            out["limit_reached"] = self.limit
        return out

    def warn(self, packets: int) -> None:
        """The limit warning, if a limit stopped the read."""
        if self.limit is not None:
            warnings.warn(f"{self.name}: stopped at {self.limit} after {self.line_base:,} lines ({packets:,} packets); the "
                          "rest is not read. Pass a larger limit (max_lines=None for no limit), or cut the file first "
                          "(head -n N)", CaptureLimitWarning, stacklevel=4)


def _continued(buf: bytes, cut: int) -> bool:
    """Whether the (maybe partial) line at ``cut`` may continue the line before it (-v): four spaces and
    the start of a packet, or too little of it yet to tell."""
    nl = buf.find(b"\n", cut)
    line = buf[cut:] if nl < 0 else buf[cut:nl]
    if nl < 0 and b" > " not in line:  # partial: undecided unless it already cannot be one
        head = line[:5]
        spaces = min(len(head), 4)
        return head[:spaces] == b" " * spaces and (len(head) < 5 or head[4:5] not in b" \t\r\n\f\v")
    return _continues(line.decode("utf-8", "replace"))


def _read_text_file(f: BinaryIO, name: str, tz: str, max_lines: int | None, chunk_size: int) -> pd.DataFrame:
    """Stream a text file: whole lines ``chunk_size`` bytes at a time, one frame per chunk, joined once."""
    chunks = _TextChunks(f, name, tz, max_lines, chunk_size)
    parts = [df for df, _ in chunks if len(df)]
    out = _join(parts) if parts else _read_python([], name, tz)
    out.attrs.update(chunks.attrs())
    chunks.warn(len(out))
    return out


def _join(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunk frames column by column (categories unioned), freeing each part's column as it goes
    (``parts`` is emptied)."""
    if len(parts) == 1:
        return parts[0]
    names = list(parts[0].columns)
    by_part = [dict(p.items()) for p in parts]  # (DataFrame.pop is slow: it rebuilds the frame's blocks)
    parts.clear()
    cols: dict[str, object] = {}
    for c in names:
        pieces = [p.pop(c) for p in by_part]
        if isinstance(pieces[0].dtype, pd.CategoricalDtype) and any(x.dtype != pieces[0].dtype for x in pieces):
            cols[c] = pd.Series(union_categoricals(pieces, sort_categories=True))
        else:
            cols[c] = pd.concat(pieces, ignore_index=True)
        del pieces
    return pd.DataFrame(cols)


def _crlf(raw: bytes) -> bool:
    """Windows line ends, judged as ``_text_fast.lines_array`` judges them (the first ten lines): the Python
    route strips them."""
    pos = 0
    for _ in range(10):
        nl = raw.find(b"\n", pos)
        if nl < 0:
            return b"\r\n" in raw or raw.endswith(b"\r")
        pos = nl + 1
    return b"\r\n" in raw[:pos]


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _record_texts(raw: bytes, lines: np.ndarray, joined: np.ndarray) -> list[str]:
    """The text of records given by first line (and whether each is a -v pair), as the other engines see it."""
    ends = np.flatnonzero(np.frombuffer(raw, np.uint8) == 10)
    starts = np.concatenate([[0], ends + 1])
    stop = np.append(ends, len(raw))

    def line(i: int) -> str:
        return raw[int(starts[i]):int(stop[i])].decode("utf-8", "replace")

    return [line(i) + " " + line(i + 1)[4:] if j else line(i) for i, j in zip(lines.tolist(), joined.tolist())]


def _read_scanned(raw: bytes, name: str, tz: str) -> pd.DataFrame:
    """The C scanner's records, and LINE_RE (RE2) on the ones it hands back."""
    F, punt_line, punt_joined = _fast.from_scan(raw, _scan.scan(raw))
    parts = [F]
    unparsed_idx = np.zeros(0, np.int64)
    texts: list[str] = []
    if len(punt_line):
        texts = _record_texts(raw, punt_line, punt_joined)
        slow = _fast.slow_fields(pa.array(texts, pa.string()), np.arange(len(texts)), LINE_RE, _FIELDS)
        unparsed_idx = np.setdiff1d(np.arange(len(texts)), slow.rows, assume_unique=True)
        slow.rows = punt_line[slow.rows]
        parts.append(slow)
    d, date_known = _fast.build(_fast.concat(parts), tz)
    df = pd.DataFrame(d)
    kept = unparsed_idx[:MAX_UNPARSED_KEPT]  # every one is counted, the first ones keep their text
    unparsed = [(int(punt_line[i]) + 1, texts[i]) for i in kept.tolist()]
    df.attrs.update({"source": name, "format": "text", "unparsed": unparsed, "unparsed_count": len(unparsed_idx),
                     "date_known": date_known})
    return df


def _read_arrow(arr: pa.Array, name: str, tz: str) -> pd.DataFrame:
    """The fast engine (see ``_text_fast``): gated lines by bytes, the rest by LINE_RE."""
    arr, line_of = _fast.join_records(arr, CONTINUATION_RE)
    n = len(arr)
    ncpu = os.cpu_count() or 1
    step = min(100_000, max(50_000, -(-n // ncpu)))  # cache-sized chunks, ncpu at a time
    chunks = [(arr.slice(i, step), i) for i in range(0, n, step)]
    if len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=min(len(chunks), ncpu)) as ex:
            res = list(ex.map(lambda c: _fast.fast_chunk(*c), chunks))
    else:
        res = [_fast.fast_chunk(*chunks[0])]
    parts = [f for f, _ in res]
    rest = np.concatenate([r for _, r in res])
    slow = _fast.slow_fields(arr, rest, LINE_RE, _FIELDS) if len(rest) else None
    F = _fast.concat(parts + ([slow] if slow is not None else []))
    unparsed_idx = np.setdiff1d(rest, slow.rows, assume_unique=True) if slow is not None else rest
    kept_idx = unparsed_idx[:MAX_UNPARSED_KEPT]  # every one is counted, the first ones keep their text
    texts = arr.take(pa.array(kept_idx, pa.int64())).to_pylist() if len(kept_idx) else []
    if line_of is not None:  # records -> the lines they start on
        F.rows = line_of[F.rows]
        kept_idx = line_of[kept_idx]
    unparsed = [(int(i) + 1, t) for i, t in zip(kept_idx.tolist(), texts)]
    d, date_known = _fast.build(F, tz)
    df = pd.DataFrame(d)
    df.attrs.update({"source": name, "format": "text", "unparsed": unparsed, "unparsed_count": len(unparsed_idx),
                     "date_known": date_known})
    return df


def _read_python(lines: list[str], name: str, tz: str) -> pd.DataFrame:
    """The reference engine: LINE_RE through Python's ``re`` (used without pyarrow)."""
    lines, line_of = _join_records(lines)
    rows = [_PY_RE.match(ln) for ln in lines]
    valid = np.array([m is not None for m in rows], bool)
    cols = {f: pd.Series([m.group(f) if m is not None else None for m in rows], dtype=object) for f in _FIELDS}
    for f in cols:
        cols[f] = cols[f].replace("", None) if f != "kind" else cols[f]
    for end, port in (("src", "xsp"), ("dst", "xdp")):  # ports printed after IPv6 extension headers
        has = cols[port].notna() & cols[end].notna()
        if has.any():
            cols[end] = cols[end].where(~has, cols[end] + "." + cols[port])
    src, dst = cols["src"], cols["dst"]
    kind = cols["kind"].fillna("")
    is_pkt = valid & (src.notna() | cols["arp"].notna() | cols["lldp"].notna()).to_numpy()
    # a line counts only if something after the time was recognised
    unparsed_idx = np.nonzero(~is_pkt)[0]
    lineno = line_of if line_of is not None else np.arange(len(lines))
    unparsed = [(int(lineno[i]) + 1, lines[i]) for i in unparsed_idx[:MAX_UNPARSED_KEPT]]
    keep = np.nonzero(is_pkt)[0]

    def k(name: str) -> pd.Series:
        return cols[name].iloc[keep].reset_index(drop=True)

    src, dst, kind, l3 = k("src"), k("dst"), k("kind").fillna(""), k("l3")
    m = len(keep)
    proto = np.full(m, 6, np.int8)  # "other"
    tcp = (kind == "Flags [").to_numpy()
    udp = (kind == "UDP").to_numpy()
    icmp = (kind == "ICMP").to_numpy()
    icmp6 = (kind == "ICMP6").to_numpy()
    arp = k("arp").notna().to_numpy()
    lldp = k("lldp").notna().to_numpy() | (l3 == "LLDP").to_numpy()
    # host.port without a protocol word (DNS and other decoded UDP): ports are printed only for TCP/UDP
    s_str = src.fillna("")
    v6 = s_str.str.contains(":", regex=False).to_numpy() | (l3 == "IP6").to_numpy()
    dots = s_str.str.count(r"\.").to_numpy()
    unknown = ~(tcp | udp | icmp | icmp6 | arp | lldp) & src.notna().to_numpy()
    ported_guess = unknown & ((~v6 & (dots == 4)) | (v6 & (dots >= 1) & ~s_str.str.contains(r"^[0-9.]+$").to_numpy()))
    udp = udp | ported_guess
    proto[tcp], proto[udp], proto[icmp], proto[icmp6], proto[arp], proto[lldp] = 0, 1, 2, 3, 4, 5
    ported = tcp | udp

    def split(s: pd.Series) -> tuple[pd.Series, pd.Series]:
        host = s.copy()
        port = pd.Series([None] * len(s), dtype=object)
        if ported.any():
            sp = s[ported].str.rsplit(".", n=1, expand=True)
            if sp.shape[1] == 2:
                host[ported] = sp[0].to_numpy()
                port[ported] = sp[1].to_numpy()
        return host, port

    shost, sport_s = split(src)
    dhost, dport_s = split(dst)
    shost = shost.where(~pd.Series(arp), k("arp_s").where(k("arp_s").notna(), k("arp_r")))
    dhost = dhost.where(~pd.Series(arp), k("arp_t"))

    def ports(p: pd.Series) -> pd.arrays.IntegerArray:
        u = pd.unique(p.dropna())
        mp = {x: columns.port_number(x) for x in u}
        v = p.map(mp)
        values: Any = v
        return pd.array(values, dtype="UInt16")

    def nums(name: str, dtype: str) -> pd.api.extensions.ExtensionArray:
        values: Any = pd.to_numeric(k(name), errors="coerce")
        return pd.array(values, dtype=dtype)

    flags = k("flags")
    fb_map = {x: columns.flag_bits(x) for x in pd.unique(flags.dropna())}
    fb_values: Any = flags.map(fb_map)
    fbits = pd.array(fb_values, dtype="UInt8")
    fb_np = fbits.to_numpy(dtype=np.int16, na_value=-1)
    ack = nums("ack", "UInt32")

    tod, epoch, date = k("tod"), k("epoch"), k("date")
    tod_ns = columns.tod_ns(tod)
    ts = np.full(m, np.iinfo(np.int64).min, np.int64)
    has_tod = tod.notna().to_numpy()
    has_date = date.notna().to_numpy() & has_tod
    tz_shift = None
    if has_date.any():
        day = pd.to_datetime(date[has_date], format="%Y-%m-%d").to_numpy().astype("M8[ns]").view("i8")
        local = day + tod_ns[has_date]
        if tz != "UTC":
            loc = pd.DatetimeIndex(local.view("M8[ns]")).tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            local = loc.tz_convert("UTC").tz_localize(None).to_numpy().astype("M8[ns]").view("i8")
        ts[has_date] = local
    has_ep = epoch.notna().to_numpy()
    if has_ep.any():
        parts = epoch[has_ep].str.split(".", n=1, expand=True)
        whole = parts[0].astype(np.int64).to_numpy()
        frac = parts[1].str.ljust(9, "0").str.slice(0, 9).astype(np.int64).to_numpy()
        ts[has_ep] = whole * 1_000_000_000 + frac
        tod_ns[has_ep] = ts[has_ep] % 86_400_000_000_000
        tz_shift = None
    del tz_shift
    tod_td = np.where(has_tod | has_ep, tod_ns, np.iinfo(np.int64).min).view("m8[ns]")
    iface = k("iface")
    direction = k("dir")
    v_ip = np.where((l3 == "IP6").to_numpy() | ((kind == "ICMP6").to_numpy()) | (v6 & (l3 != "IP").to_numpy() & ~arp), 6, 4)
    ipv_known = (src.notna().to_numpy() & ~arp) & ((l3.isin(["IP", "IP6"])).to_numpy() | tcp | udp | icmp | icmp6 | src.notna().to_numpy())
    ipproto = np.select([tcp, udp, icmp, icmp6], [6, 17, 1, 58], 0)
    d = {
        "frame": pd.array((lineno[keep] + 1).astype(np.uint32), dtype="UInt32"),
        "timestamp": pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC"),
        "time_of_day": tod_td,
        "interface": pd.Categorical(iface),
        "ifindex": nums("ifindex", "Int32"),
        "direction": pd.Categorical(direction, dtype=schema.COLUMNS["direction"]),
        "vlan": nums("vlan", "Int16"),
        "vlan_inner": nums("vlan2", "Int16"),
        "src": pd.Categorical(shost),
        "dst": pd.Categorical(dhost),
        "sport": ports(sport_s),
        "dport": ports(dport_s),
        "protocol": pd.Categorical.from_codes(proto, dtype=schema.COLUMNS["protocol"]),
        "ip_version": schema.masked(v_ip, ipv_known, "UInt8"),
        "ip_proto": schema.masked(ipproto, ipv_known & (ipproto > 0), "UInt8"),
        "wire_len": nums("flen", "UInt32"),
        "cap_len": pd.array([None] * m, dtype="UInt32"),
        "payload_len": nums("len", "UInt32"),
        "tcp_flags": pd.Categorical.from_codes(np.where(fb_np >= 0, fb_np, -1), dtype=schema.COLUMNS["tcp_flags"]),
        "tcp_flagbits": fbits,
        "seq": nums("seq", "UInt32"),
        "ack": ack,
        "window": nums("win", "UInt16"),
        "icmp_type": pd.array([None] * m, dtype="UInt8"),
        "icmp_code": pd.array([None] * m, dtype="UInt8"),
    }
    df = pd.DataFrame(d)
    df.attrs.update({"source": name, "format": "text", "unparsed": unparsed, "unparsed_count": len(unparsed_idx),
                     "date_known": bool(has_date.all() or has_ep.all()) if m else False})
    return df
