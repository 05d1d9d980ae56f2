"""The streaming pass over tcpdump text (see :mod:`spkrunbook.capture.streaming`).

The text reader already parses a file chunk by chunk; each chunk's frame is
reduced here by the same C loop as pcap chunks, with its per-chunk categories
turned into codes shared by the whole file, then dropped.  Text differs from
pcap in three ways the whole-file path decides on the whole frame, so the pass
decides them the same way at the end:

- the time axis: dates if every packet has one, else times of day (a file
  whose dates stop part-way is read again on the time-of-day axis);
- which reading of the sequence numbers is right (tcpdump's relative ones or
  ``-S`` absolute ones): both run side by side, the one with fewer jumps wins;
- the order of the address list (sorted when sources and destinations are the
  same addresses, else in order of appearance), which orders ties in tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from . import text
from .limits import TEXT_CHUNK, open_regular

if TYPE_CHECKING:
    from .streaming import CaptureStats, _Pass

_MIN = np.iinfo(np.int64).min


class _Undated(Exception):
    """A chunk without dates after chunks with them: the pass starts again on the time-of-day axis."""


class _Codes:
    """Names (addresses, interfaces) -> codes shared by every chunk, in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def of(self, col: pd.Series) -> np.ndarray:
        """The codes of a categorical column's rows (-1 for NA)."""
        cats = col.cat.categories
        m = np.array([self._code(str(c)) for c in cats] + [-1], np.int32)
        return m[np.asarray(col.cat.codes, np.int64)]  # code -1 picks the trailing -1

    def _code(self, name: str) -> int:
        c = self.index.get(name)
        if c is None:
            c = self.index[name] = len(self.names)
            self.names.append(name)
        return c


def _masked(col: pd.Series, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    arr = col.array
    ok = ~np.asarray(arr.isna())
    return arr.to_numpy(dtype=dtype, na_value=0), ok


@dataclass
class Reduced:
    """What a pass over a text file leaves for :func:`streaming._finish`: the pass itself, the kept rows, the
    address names in first-seen order and their category order, the interfaces, and the time axis."""

    acc: _Pass
    kept: pd.DataFrame
    names: list[str]
    order: np.ndarray
    ifaces: tuple[list[str], list[str], np.ndarray]
    attrs: dict[str, Any]
    dated: bool
    dated_valid: bool
    opts: dict[str, Any]


def analyze_text(p: str, new_pass: Callable[[], _Pass], *, tz: str, max_packets: int | None,
                 chunk_size: int = TEXT_CHUNK) -> Reduced:
    """One pass over a tcpdump text file into ``new_pass()``; a second one only when its dates stop part-way."""
    try:
        return _pass(p, new_pass(), tz, max_packets, chunk_size, dated=None)
    except _Undated:
        return _pass(p, new_pass(), tz, max_packets, chunk_size, dated=False)


def _pass(p: str, acc: _Pass, tz: str, max_packets: int | None, chunk_size: int, dated: bool | None) -> Reduced:
    addrs, ifaces = _Codes(), _Codes()
    src_seen: set[str] = set()
    dst_seen: set[str] = set()
    kept: list[pd.DataFrame] = []
    valid = valid_dated = 0
    with open_regular(p, "tcpdump text") as f:
        chunks = text._TextChunks(f, p, tz, max_packets, chunk_size, offsets=True)
        for df, starts in chunks:
            n = len(df)
            if not n:
                continue
            assert starts is not None
            has_ts = df["timestamp"].notna().to_numpy()
            if dated is None:
                dated = bool(has_ts.all())
            elif dated and not has_ts.all():
                raise _Undated
            if dated:
                t = df["timestamp"].dt.tz_localize(None).to_numpy().astype("M8[ns]").view("i8")
            else:
                t = df["time_of_day"].to_numpy().astype("m8[ns]").view("i8")
            ok_t = t != _MIN
            valid += int(ok_t.sum())
            valid_dated += int((ok_t & has_ts).sum())
            src_seen.update(str(x) for x in df["src"].cat.categories[np.unique(df["src"].cat.codes[df["src"].cat.codes >= 0])])
            dst_seen.update(str(x) for x in df["dst"].cat.categories[np.unique(df["dst"].cat.codes[df["dst"].cat.codes >= 0])])
            frame = df["frame"].to_numpy(np.int64)
            line = frame - chunks.line_base - 1
            off = starts[line]
            nxt = np.append(starts[1:], starts[-1] + (1 << 20))[line]
            flags, tcp_ok = _masked(df["tcp_flagbits"], np.uint8)
            seq, seq_ok = _masked(df["seq"], np.uint32)
            ack, ack_ok = _masked(df["ack"], np.uint32)
            win, win_ok = _masked(df["window"], np.uint16)
            wire, wire_ok = _masked(df["wire_len"], np.uint32)
            payload, payload_ok = _masked(df["payload_len"], np.uint32)
            sport, _ = _masked(df["sport"], np.uint16)
            dport, _ = _masked(df["dport"], np.uint16)
            dcode = np.asarray(df["direction"].cat.codes, np.int16)
            a = {"t": t, "wire": wire, "wire_ok": wire_ok, "payload": payload, "payload_ok": payload_ok,
                 "src": addrs.of(df["src"]), "dst": addrs.of(df["dst"]), "sport": sport, "dport": dport,
                 "proto": np.asarray(df["protocol"].cat.codes, np.int8), "flags": flags, "tcp_ok": tcp_ok,
                 "iface": ifaces.of(df["interface"]), "pkttype": np.maximum(dcode, 0).astype(np.uint8),
                 "pkttype_ok": dcode >= 0, "link": np.full(n, -1, np.int8),
                 "ipv": df["ip_version"].to_numpy(np.uint8, na_value=0), "seq": seq, "seq_ok": seq_ok, "ack": ack,
                 "ack_ok": ack_ok, "win": win, "win_ok": win_ok, "frame": frame, "offset": off, "end": nxt}
            idx = acc.feed(n, a)
            if len(idx) or not kept:
                kept.append(df.iloc[idx])
        frame_attrs = chunks.attrs()
        attrs = {k: v for k, v in frame_attrs.items() if k in ("unparsed_count", "unparsed", "limit_reached")}
        packets = acc.ordinal
        chunks.warn(packets)
    tally = acc.tally.tables()
    first_src = np.frombuffer(tally["first_src"], np.int64)
    first_dst = np.frombuffer(tally["first_dst"], np.int64)
    names = addrs.names
    if src_seen == dst_seen:  # columns.addr_codes: the categories, sorted
        order = np.argsort(np.array(names, dtype=str), kind="stable") if names else np.zeros(0, np.int64)
    else:  # else factorize(src rows, then dst rows): order of first appearance
        key = np.where(first_src >= 0, first_src, packets + first_dst)
        order = np.argsort(key, kind="stable")
    kept_df = _kept_frame(kept, p, sorted(src_seen), sorted(dst_seen), sorted(ifaces.names))
    kept_df.attrs.update(frame_attrs)  # what the whole file's frame carries (tables built from it keep them)
    icats = sorted(set(ifaces.names))
    cat_of = np.array([icats.index(x) for x in ifaces.names], np.int64)
    return Reduced(acc, kept_df, names, order, (icats, list(ifaces.names), cat_of), attrs, bool(dated and packets),
                   bool(valid and valid == valid_dated),
                   {"tz": tz, "src": sorted(src_seen), "dst": sorted(dst_seen), "ifaces": icats})


def _categories(col: pd.Series, names: list[str]) -> pd.Series:
    """``col`` with the categories the whole file's frame gives it (every name the column holds, sorted)."""
    return col.cat.set_categories(pd.Index(names, dtype="str"))


def _kept_frame(parts: list[pd.DataFrame], p: str, src: list[str], dst: list[str], ifaces: list[str]) -> pd.DataFrame:
    parts = [x.reset_index(drop=True) for x in parts]
    if len(parts) > 1:
        cols: dict[str, Any] = {}
        for c in parts[0].columns:
            pieces = [x[c] for x in parts]
            if isinstance(pieces[0].dtype, pd.CategoricalDtype) and any(x.dtype != pieces[0].dtype for x in pieces):
                cols[c] = pd.Series(union_categoricals(pieces, sort_categories=True))
            else:
                cols[c] = pd.concat(pieces, ignore_index=True)
        out = pd.DataFrame(cols)
    elif parts:
        out = parts[0]
    else:
        out = text._read_python([], p, "UTC")
    out = out.reset_index(drop=True)
    for c, names in (("src", src), ("dst", dst), ("interface", ifaces)):
        out[c] = _categories(out[c], names)
    out.attrs = {"source": p, "format": "text"}
    return out


def read_stream(cs: CaptureStats, stream: int) -> pd.DataFrame:
    """One stream's packets read again from the text file (the lines between its first and last packet)."""
    s = cs._x["streams"].loc[stream]
    names = cs._t["names"]
    a, b = str(names[int(s["a"])]), str(names[int(s["b"])])
    pa_, pb = int(s["a_port"]), int(s["b_port"])
    first, last = int(s["first_frame"]), int(s["last_frame"])
    with open_regular(cs.source, "tcpdump text") as f:
        f.seek(int(s["first_off"]))
        raw = f.read(max(int(s["last_end"]) - int(s["first_off"]), 0))
    cut = raw.rfind(b"\n") + 1 if not raw.endswith(b"\n") and b"\n" in raw else len(raw)
    df = text._read_raw(raw[:cut] if cut else raw, cs.source, cs._opts["tz"])
    df["frame"] = df["frame"] + (first - 1)
    fr = df["frame"].to_numpy(np.int64)
    src, dst = df["src"].astype(object).to_numpy(), df["dst"].astype(object).to_numpy()
    sp, dp = df["sport"].to_numpy(np.int64, na_value=-1), df["dport"].to_numpy(np.int64, na_value=-1)
    hit = (df["protocol"].astype(object).to_numpy() == "TCP") & (fr >= first) & (fr <= last) & (
        ((src == a) & (dst == b) & (sp == pa_) & (dp == pb)) | ((src == b) & (dst == a) & (sp == pb) & (dp == pa_)))
    out = df[hit].reset_index(drop=True)
    for c, key in (("src", "src"), ("dst", "dst"), ("interface", "ifaces")):
        out[c] = _categories(out[c], cs._opts[key])
    out.attrs = {"source": cs.source, "format": "text", "stream": stream}
    return out
