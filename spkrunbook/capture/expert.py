"""TCP expert analysis that flags the packets Wireshark's ``tcp.analysis.*`` flags.

Why: an engineer who lives in Wireshark reads "retransmission", "dup ACK" or
"previous segment not captured" with Wireshark's meaning.  The rules below are
those of tshark 4.0 (``tcp_analyze_sequence_number`` in ``packet-tcp.c``, default
preferences: relative sequence numbers, analysis on, fast retransmission before
out-of-order), checked packet for packet against ``tshark -Y tcp.analysis.<kind>``
on captures made by the real tcpdump (``tests/capture/test_expert.py``).

Vectorised: tshark walks packets one by one with per-direction state; here each
piece of that state is an array (running max of the next expected sequence
number, previous packet of the same direction, last packet of the other
direction, run length of duplicate ACKs, ...), so a million packets take about
a second.  Only two rare things walk in Python: the SYN packets (window-scale
negotiation) and the 4-tuples in which a new SYN reuses the ports of an earlier
connection (tshark starts a new stream there).

Where this differs from tshark, on purpose (also in :data:`DIFFERENCES`):

- tshark's "ACKed unseen segment" bookkeeping may reset a duplicate-ACK run to
  -1; here a run only restarts when the ACK number changes (this can only
  matter for a fast retransmission after a capture gap in the other direction).
- tshark keeps at most 10,000 unacknowledged segments per direction (then a
  SYN/FIN stops counting as one sequence number); here there is no limit.
- tshark treats a next sequence number of exactly 0 as "not seen yet"; here
  only the first packet of a direction has no next sequence number.
- TCP inside ICMP errors and IP fragments are not analysed (as in tshark), but
  tshark gives them stream numbers; ``stream`` here counts real connections.

tcpdump text: the same rules run on the numbers tcpdump printed.  Relative
sequence numbers (tcpdump's default) are turned back into absolute ones per
connection, replaying tcpdump's own bookkeeping (``-S`` text is used as
printed; which one a file is, is detected unless ``relative=`` says).  Text
cannot give everything, and the result says so:

- ``window_full`` is unavailable: the text reader does not keep the SYNs'
  window-scale option.
- A zero-length segment carries no printed sequence number; it is taken to sit
  at the next expected one.  The kinds that look at that number are therefore
  *inferred* in text (:attr:`TcpExpert.inferred`): duplicate_ack,
  window_update, lost_segment (on zero-length segments), zero_window_probe_ack,
  and keep_alive / keep_alive_ack, where, on purpose, a zero-length ACK after at
  least 1 s of silence on its connection is taken for a keep-alive (Linux sends
  none sooner).  On real captures these match tshark; tshark's keep-alives that
  are really old ACKs arriving late (reordering) cannot be seen in text.
- The other kinds (retransmissions, out-of-order, zero window, zero-window
  probe) are exact: they only look at segments that print their numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import columns, tables

__all__ = ["DIFFERENCES", "KINDS", "TcpExpert", "analyze", "expert_counts"]

M32 = (1 << 32) - 1
_HALF = 1 << 31
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

#: (kind, tshark display filter, what it means)
KINDS: tuple[tuple[str, str, str], ...] = (
    ("retransmission", "tcp.analysis.retransmission",
     "data, SYN or FIN that does not advance the sequence (tshark counts fast and spurious ones here too)"),
    ("fast_retransmission", "tcp.analysis.fast_retransmission",
     "a retransmission of the segment two or more duplicate ACKs asked for, within 20 ms of the last one"),
    ("spurious_retransmission", "tcp.analysis.spurious_retransmission",
     "data the receiver had already acknowledged"),
    ("out_of_order", "tcp.analysis.out_of_order",
     "an older segment arriving within the handshake RTT (3 ms without a handshake) of the newest one"),
    ("lost_segment", "tcp.analysis.lost_segment",
     "starts beyond the next expected sequence number: a previous segment was not captured"),
    ("duplicate_ack", "tcp.analysis.duplicate_ack",
     "a zero-length ACK repeating the previous ACK number, window and sequence of its direction"),
    ("zero_window", "tcp.analysis.zero_window", "advertises a window of 0 (not SYN/FIN/RST)"),
    ("zero_window_probe", "tcp.analysis.zero_window_probe",
     "1 byte at the next sequence number while the peer's window is 0"),
    ("zero_window_probe_ack", "tcp.analysis.zero_window_probe_ack", "the ACK of a zero-window probe"),
    ("window_full", "tcp.analysis.window_full",
     "data up to the very edge of the peer's advertised (scaled) window"),
    ("window_update", "tcp.analysis.window_update",
     "a zero-length ACK that only changes the window"),
    ("keep_alive", "tcp.analysis.keep_alive", "0 or 1 byte one below the next sequence number"),
    ("keep_alive_ack", "tcp.analysis.keep_alive_ack", "the ACK of a keep-alive"),
)
KIND_NAMES: tuple[str, ...] = tuple(k for k, _, _ in KINDS)

#: Deliberate differences from tshark 4.0 (see the module docstring).
DIFFERENCES: dict[str, str] = {
    "duplicate_ack": "a run of duplicate ACKs restarts only when the ACK number changes "
                     "(tshark may also restart it after an 'ACKed unseen segment')",
    "retransmission": "no 10,000-unacknowledged-segment cap; a next sequence number of 0 counts as seen",
    "stream": "stream numbers count connections only (tshark also numbers TCP headers inside ICMP errors)",
}

_TEXT_UNAVAILABLE: dict[str, str] = {
    "window_full": "the window-scale option of the SYNs is not read from text",
}
_ZERO_LEN = "text: a zero-length segment prints no sequence number; taken to be the next expected one"
_TEXT_INFERRED: dict[str, str] = {
    "duplicate_ack": _ZERO_LEN,
    "window_update": _ZERO_LEN,
    "lost_segment": _ZERO_LEN + " (exact on segments with data)",
    "zero_window_probe_ack": _ZERO_LEN,
    "keep_alive": "text: inferred, a zero-length ACK after >= 1 s of silence on its connection",
    "keep_alive_ack": "text: the ACK answering an inferred keep-alive",
}
#: seconds of silence before a zero-length ACK in text counts as a keep-alive
TEXT_KEEPALIVE_IDLE_NS = 1_000_000_000

# bits of the per-packet flag word (internal)
_B = {k: 1 << i for i, k in enumerate(KIND_NAMES)}


def _lt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tshark's LT_SEQ: ``(int32)(a - b) < 0`` on 32-bit sequence numbers."""
    return ((a - b) & M32) >= _HALF


def _gt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a - b) & M32
    return (d != 0) & (d < _HALF)


def _le(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a - b) & M32
    return (d == 0) | (d >= _HALF)


def _idx(n: int) -> np.ndarray:
    """0..n-1 as the narrowest index type (int32 below 2**31 rows: half the memory of int64)."""
    return np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)


def _seg_ffill(valid: np.ndarray, start: np.ndarray) -> np.ndarray:
    """For each row the latest row ``<=`` it with ``valid`` and ``>= start`` of its group, else -1."""
    idx = np.where(valid, _idx(len(valid)), -1)
    last = np.maximum.accumulate(idx) if len(idx) else idx
    return np.where(last >= start, last, -1)


def _shift_in_group(idx: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``idx`` of the previous row (``i - 1`` semantics applied to a per-row index array)."""
    out = np.r_[-1, idx[:-1]].astype(idx.dtype, copy=False) if len(idx) else idx
    return np.where(_idx(len(idx)) > start, out, -1)


def _seg_cummax(v: np.ndarray, gid: np.ndarray) -> np.ndarray:
    """Running max of non-negative ``v`` within consecutive groups ``gid`` (sorted)."""
    if len(v) == 0:
        return v
    span = int(v.max()) + 1
    ng = int(gid[-1]) + 1
    if span < (1 << 62) // max(ng, 1):
        lift = gid * span
        return np.maximum.accumulate(v + lift) - lift
    return pd.Series(v).groupby(gid).cummax().to_numpy()  # pragma: no cover - astronomically long flows


@dataclass
class TcpExpert:
    """The expert flags of every analysed TCP packet, plus what the source could not give.

    ``packets`` has one row per TCP packet with a TCP header, in capture order:
    frame, stream, direction (0/1 within the stream), seq_rel, next_seq_rel,
    ack_rel (relative to each direction's first sequence number, like
    Wireshark), payload_len, dupack_num, and one bool column per kind in
    :data:`KINDS`.
    """

    packets: pd.DataFrame
    source_format: str = "pcap"
    relative_text: bool | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    inferred: dict[str, str] = field(default_factory=dict)

    def counts(self) -> pd.DataFrame:
        """One row per kind: tshark filter, packets flagged, whether this source gives it (exactly), notes."""
        return tables.expert_count_table(KINDS, {k: int(self.packets[k].sum()) for k in KIND_NAMES}, self.unavailable,
                                         self.inferred, DIFFERENCES)

    to_frame = counts

    def frames(self, kind: str) -> list[int]:
        """Frame numbers flagged with ``kind`` (what ``tshark -Y tcp.analysis.<kind>`` lists)."""
        if kind not in KIND_NAMES:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KIND_NAMES)}")
        p = self.packets
        return p.loc[p[kind].to_numpy(), "frame"].astype(np.int64).tolist()

    def events(self, df: pd.DataFrame, kinds: Iterable[str] | None = None) -> pd.DataFrame:
        """Long table, one row per (packet, kind) flagged: kind, frame, time, endpoints, seq, ack, length."""
        kinds = [k for k in (kinds or KIND_NAMES) if k not in self.unavailable]
        p = self.packets
        hit = np.zeros(len(p), bool)
        for k in kinds:
            hit |= p[k].to_numpy()
        return tables.event_table(df.iloc[p["row"].to_numpy()[hit]].reset_index(drop=True),
                                  {k: p[k].to_numpy()[hit] for k in kinds}, p["stream"].to_numpy()[hit])


# ----------------------------------------------------------------------------- preparation
def _text_absolute(order: np.ndarray, tstart: np.ndarray, d: np.ndarray, flags: np.ndarray,
                   seq: np.ndarray, ack: np.ndarray, seq_known: np.ndarray, ack_known: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """tcpdump's relative numbers back to absolute, in 4-tuple order (``order``; ``tstart`` group starts).

    tcpdump (print-tcp.c): an ACK packet that is the first ACK of its 4-tuple, or
    a SYN+ACK, is printed absolute and records seq / ack-1 as the two bases;
    later ACK packets print seq - base(own) and ack - base(other); packets
    without ACK are printed absolute.  A base that was not printed (a pure ACK's
    seq) is taken as 0, which keeps that direction consistent but relative.
    """
    fo, do_ = flags[order], d[order]
    so, ao = seq[order], ack[order]
    has_ack = (fo & ACK) != 0
    first_ack = _seg_ffill(has_ack, tstart)  # the latest ACK row (itself included)
    prev_ack = _shift_in_group(first_ack, tstart)
    # first ACK row of the tuple: no ACK row before it
    anchor = has_ack & ((prev_ack < 0) | ((fo & SYN) != 0))
    a = _seg_ffill(anchor, tstart)
    ok = has_ack & ~anchor & (a >= 0)
    ai = np.where(a >= 0, a, 0)
    a_seq = np.where(seq_known[order][ai], so[ai], 0)
    a_ack1 = (ao[ai] - 1) & M32
    same = do_ == do_[ai]
    base_own = np.where(same, a_seq, a_ack1)
    base_oth = np.where(same, a_ack1, a_seq)
    s2, a2 = so.copy(), ao.copy()
    s2[ok] = (so[ok] + base_own[ok]) & M32
    a2[ok] = (ao[ok] + base_oth[ok]) & M32
    out_s, out_a = seq.copy(), ack.copy()
    out_s[order] = np.where(seq_known[order], s2, seq[order])
    out_a[order] = np.where(ack_known[order], a2, ack[order])
    return out_s, out_a


def _jumps(order: np.ndarray, key: np.ndarray, v: np.ndarray, known: np.ndarray) -> int:
    """How many times a value jumps by more than 2**26 between known rows of the same key (in ``order``)."""
    o = order[known[order]]
    k, x = key[o], v[o]
    s = np.argsort(k, kind="stable")
    k, x = k[s], x[s]
    same = np.r_[False, k[1:] == k[:-1]]
    dlt = (x - np.r_[0, x[:-1]]) & M32
    dlt = np.minimum(dlt, (1 << 32) - dlt)
    return int((same & (dlt > (1 << 26))).sum())


def _split_reused(tid: np.ndarray, d: np.ndarray, flags: np.ndarray, seq: np.ndarray, ack: np.ndarray,
                  seq_known: np.ndarray) -> np.ndarray:
    """Segment number within each 4-tuple: tshark starts a new stream at a SYN whose seq differs from the base."""
    seg = np.zeros(len(tid), np.int64)
    pure_syn = (flags & (SYN | ACK)) == SYN
    if not pure_syn.any():
        return seg
    first = np.zeros(int(tid.max()) + 1, np.int64) + len(tid)
    np.minimum.at(first, tid, np.arange(len(tid), dtype=np.int64))
    nsyn = np.bincount(tid[pure_syn], minlength=len(first))
    late = np.bincount(tid[pure_syn & (np.arange(len(tid)) != first[tid])], minlength=len(first))
    cand = np.nonzero((late > 0) | (nsyn > 1))[0]
    if len(cand) == 0:
        return seg
    rows = np.nonzero(np.isin(tid, cand))[0]
    rows = rows[np.argsort(tid[rows], kind="stable")]
    cur_t, s = -1, 0
    base: list[int | None] = [None, None]
    for i in rows.tolist():
        t = int(tid[i])
        if t != cur_t:
            cur_t, s, base = t, 0, [None, None]
        dd, f = int(d[i]), int(flags[i])
        sq = int(seq[i]) if seq_known[i] else -1
        if (f & (SYN | ACK)) == SYN and base[dd] is not None and sq != base[dd]:
            s, base = s + 1, [None, None]
        elif (f & (SYN | ACK)) == (SYN | ACK) and base[dd] is not None and sq != base[dd]:
            base[dd] = sq
        if base[dd] is None:
            base[dd] = sq if f & SYN else ((sq - 1) & M32 if sq >= 0 else -2)
        if base[1 - dd] is None and f & ACK:
            base[1 - dd] = (int(ack[i]) - 1) & M32
        seg[i] = s
    return seg


def _window_scales(c_flags: np.ndarray, c_d: np.ndarray, c_ws: np.ndarray | None, sstart: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each direction's window scale after every row (tshark: -1 unknown, -2 none, else the shift)."""
    n = len(c_flags)
    syn_rows = np.nonzero((c_flags & SYN) != 0)[0]
    after0 = np.full(len(syn_rows), -1, np.int64)
    after1 = np.full(len(syn_rows), -1, np.int64)
    st = [-1, -1]
    cur = -1
    for k, i in enumerate(syn_rows.tolist()):
        if int(sstart[i]) != cur:
            cur, st = int(sstart[i]), [-1, -1]
        dd = int(c_d[i])
        if c_ws is not None and c_ws[i] >= 0:
            st[dd] = min(int(c_ws[i]), 14)
        if st[dd] == -1:
            st = [-2, -2]
        elif (int(c_flags[i]) & ACK) and st[1 - dd] == -2:
            st[dd] = -2
        after0[k], after1[k] = st
    is_syn = np.zeros(n, bool)
    is_syn[syn_rows] = True
    last = _seg_ffill(is_syn, sstart)
    rank = np.cumsum(is_syn) - 1
    ws0 = np.where(last >= 0, after0[np.maximum(rank, 0)] if len(syn_rows) else -1, -1)
    ws1 = np.where(last >= 0, after1[np.maximum(rank, 0)] if len(syn_rows) else -1, -1)
    return ws0.astype(np.int64), ws1.astype(np.int64)


# ----------------------------------------------------------------------------- the analysis
def analyze(df: pd.DataFrame, *, relative: bool | None = None) -> TcpExpert:
    """tshark's TCP expert flags for every TCP packet of ``df`` (any source in the capture schema).

    ``relative`` only matters for tcpdump text: True if the text has tcpdump's
    default relative sequence numbers, False for ``-S``, None to detect it.
    """
    fmt = str(df.attrs.get("format", "pcap"))
    is_text = fmt == "text"
    tcpmask = columns.proto_mask(df, ("TCP",)) & df["tcp_flagbits"].notna().to_numpy()
    pos = np.nonzero(tcpmask & df["src"].notna().to_numpy() & df["dst"].notna().to_numpy())[0]
    n = len(pos)
    unavailable: dict[str, str] = dict(_TEXT_UNAVAILABLE) if is_text else {}
    has_ws = "tcp_wscale" in df.columns
    if not is_text and not has_ws:
        unavailable["window_full"] = "this frame has no tcp_wscale column (the reader does not decode TCP options)"

    sc_all, dc_all, _ = columns.addr_codes(df)
    sc, dc = sc_all[pos], dc_all[pos]
    sp, dp = columns.int_column(df, "sport")[pos], columns.int_column(df, "dport")[pos]
    flags = columns.int_column(df, "tcp_flagbits")[pos]
    seq_raw = columns.int_column(df, "seq", -1)[pos]
    ack_raw = columns.int_column(df, "ack", -1)[pos]
    seq_known = seq_raw >= 0
    ack_known = ack_raw >= 0
    seq = np.where(seq_known, seq_raw, 0)
    ack = np.where(ack_known, ack_raw, 0)  # tshark: the raw field (0 on Linux when ACK is not set)
    win = columns.int_column(df, "window", -1)[pos]
    plen = columns.int_column(df, "payload_len")[pos]
    t = columns.time_ns(df)[pos]
    ws_opt = columns.int_column(df, "tcp_wscale", -1)[pos] if has_ws else None

    ea, eb = sc * 65536 + sp, dc * 65536 + dp
    d = (ea > eb).astype(np.int64)
    tid, _ = columns.group_ids([np.minimum(ea, eb), np.maximum(ea, eb)]) if n else (np.zeros(0, np.int64), 0)

    # rows of each 4-tuple together, in capture order
    t_order = np.argsort(tid, kind="stable")
    t_sorted = tid[t_order]
    t_first = np.r_[True, t_sorted[1:] != t_sorted[:-1]] if n else np.zeros(0, bool)
    t_start = np.maximum.accumulate(np.where(t_first, np.arange(n), 0)) if n else np.zeros(0, np.int64)

    rel_used: bool | None = None
    if is_text and n:
        if relative is None:
            s_rel, a_rel = _text_absolute(t_order, t_start, d, flags, seq, ack, seq_known, ack_known)
            key = tid * 2 + d
            j_rel = _jumps(t_order, key, s_rel, seq_known) + _jumps(t_order, key, a_rel, ack_known)
            j_abs = _jumps(t_order, key, seq, seq_known) + _jumps(t_order, key, ack, ack_known)
            relative = j_rel <= j_abs
        if relative:
            seq, ack = _text_absolute(t_order, t_start, d, flags, seq, ack, seq_known, ack_known)
        rel_used = bool(relative)

    seg = _split_reused(tid, d, flags, seq, ack, seq_known) if n else np.zeros(0, np.int64)
    stream, _ = columns.group_ids([tid, seg]) if n else (np.zeros(0, np.int64), 0)

    # ---- stream order ("c"): rows of a stream together, capture order within
    co = np.argsort(stream, kind="stable")
    c_stream = stream[co]
    c_first = np.r_[True, c_stream[1:] != c_stream[:-1]] if n else np.zeros(0, bool)
    cpos = _idx(n)
    sstart = np.maximum.accumulate(np.where(c_first, cpos, 0)) if n else np.zeros(0, np.int64)
    cd, cf, cs, ca, cw, cl, ct = d[co], flags[co], seq[co], ack[co], win[co], plen[co], t[co]
    cks = seq_known[co]
    cws = ws_opt[co] if ws_opt is not None else None
    ack_known_c = ack_known[co]
    # capture-order copies no longer needed: a million rows hold ~8 MB per int64 column
    del sc_all, dc_all, sc, dc, sp, dp, seq_raw, ack_raw, seq, ack, win, t, ea, eb, tid, seg, ws_opt
    del t_order, t_sorted, t_first, t_start, seq_known, ack_known

    # ---- direction order ("g"): rows of each direction of a stream together
    gkey = c_stream * 2 + cd
    go = np.argsort(gkey, kind="stable")  # indexes into c-space
    g_key = gkey[go]
    g_first = np.r_[True, g_key[1:] != g_key[:-1]] if n else np.zeros(0, bool)
    gstart = np.maximum.accumulate(np.where(g_first, cpos, 0)) if n else np.zeros(0, np.int64)
    g_gid = np.cumsum(g_first) - 1

    # previous packet of the same direction (as a c-space index)
    prev_c = np.full(n, -1, np.int64)
    if n:
        pg = np.r_[-1, go[:-1]]
        pg[g_first] = -1
        prev_c[go] = pg
    # last packet of the other direction before each row (c-space)
    last0 = _seg_ffill(cd == 0, sstart)
    last1 = _seg_ffill(cd == 1, sstart)
    rev_c = np.where(cd == 0, last1, last0)

    synfin = ((cf & (SYN | FIN)) != 0).astype(np.int64)
    no_sfr = (cf & (SYN | FIN | RST)) == 0

    # unwrapped sequence numbers per direction (known rows only)
    gs, gk = cs[go], cks[go]
    g_cf, g_ct, g_plen = cf[go], ct[go], cl[go]
    last_known = _seg_ffill(gk, gstart)
    prev_known = _shift_in_group(last_known, gstart)
    delta = np.where(gk & (prev_known >= 0), ((gs - gs[np.maximum(prev_known, 0)] + _HALF) & M32) - _HALF, 0)
    first_known = gk & (prev_known < 0)
    csum = np.cumsum(delta)
    fk = _seg_ffill(first_known, gstart)
    fki = np.maximum(fk, 0)
    g_seq_u = gs[fki] + csum - csum[fki]
    g_nseq_u = g_seq_u + g_plen + ((g_cf & (SYN | FIN)) != 0)
    g_base = np.zeros(n, np.int64)
    if n:
        lo = np.full(int(g_gid[-1]) + 1, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(lo, g_gid[gk], g_nseq_u[gk])
        g_base = np.where(lo[g_gid] == np.iinfo(np.int64).max, 0, lo[g_gid]) - 1

    rev_win = np.where(rev_c >= 0, cw[np.maximum(rev_c, 0)], M32)
    g_rev_win = rev_win[go]

    # a zero-window probe does not advance the next expected sequence number, which decides whether
    # the packets after it are probes: iterate to the fixpoint (each pass settles at least the next
    # probe of a chain, so a chain of k probes takes k + 1 passes; tshark's one sequential pass agrees)
    zwp_g = np.zeros(n, bool)
    while True:
        incl = gk & ~zwp_g
        v = np.where(incl, g_nseq_u - g_base, 0)
        cm = _seg_cummax(v, g_gid)
        before = np.r_[0, cm[:-1]] if n else cm
        before = np.where(g_first, 0, before)
        ns_set_g = before > 0
        ns_g = (before + g_base) & M32
        new_zwp = (g_plen == 1) & gk & ns_set_g & (gs == ns_g) & (g_rev_win == 0)
        if np.array_equal(new_zwp, zwp_g):
            break
        zwp_g = new_zwp
    setter = incl & (v > before)
    g_setter_last = _shift_in_group(_seg_ffill(setter, gstart), gstart)
    del v, cm, before, incl, setter, new_zwp

    # back to c-space
    ns_set = np.zeros(n, bool)
    ns = np.zeros(n, np.int64)
    zwp = np.zeros(n, bool)
    ns_time = np.zeros(n, np.int64)
    seq_rel = np.zeros(n, np.int64)
    ns_set[go], ns[go], zwp[go] = ns_set_g, ns_g, zwp_g
    ns_time[go] = np.where(g_setter_last >= 0, g_ct[np.maximum(g_setter_last, 0)], np.iinfo(np.int64).min // 2)
    first_seq_g = g_seq_u[fki] - ((g_cf[fki] & SYN) == 0)
    seq_rel[go] = np.where(gk, g_seq_u - first_seq_g, -1)
    # text: a pure ACK without a printed seq is taken to sit at the next expected sequence number
    seq_ok = cks | ns_set
    seq_e = np.where(cks, cs, ns)

    fwd_ack = np.where(prev_c >= 0, ca[np.maximum(prev_c, 0)], 0)
    fwd_win = np.where(prev_c >= 0, cw[np.maximum(prev_c, 0)], M32)
    rev_ok = rev_c >= 0
    ri = np.maximum(rev_c, 0)
    rev_ack = np.where(rev_ok, ca[ri], 0)

    at_next = seq_ok & ns_set & (seq_e == ns)
    zero_window = (cw == 0) & no_sfr & ~zwp
    lost = cks & ns_set & _gt(cs, ns) & ((cf & RST) == 0) & ~zwp
    keep_alive = (cl <= 1) & cks & ns_set & (cs == ((ns - 1) & M32)) & no_sfr & ~zwp
    if is_text:  # a zero-length segment has no printed seq: infer keep-alives from the silence before them
        prev_row = _shift_in_group(cpos, sstart)
        gap = np.where(prev_row >= 0, ct - ct[np.maximum(prev_row, 0)], 0)
        keep_alive |= ~cks & (cl == 0) & no_sfr & ns_set & (gap >= TEXT_KEEPALIVE_IDLE_NS)
        at_next &= ~keep_alive
    same_ack = at_next & (ca == fwd_ack) & (cl == 0) & no_sfr & ~zwp
    window_update = same_ack & (cw != 0) & (cw != fwd_win)

    # window scale and "first ACK" state of the other direction
    ws0, ws1 = _window_scales(cf, cd, cws, sstart)
    prev_row = _shift_in_group(cpos, sstart)
    pri = np.maximum(prev_row, 0)
    rev_ws = np.where(prev_row >= 0, np.where(cd == 0, ws1[pri], ws0[pri]), -1)
    # tshark's is_first_ack: set by a SYN, cleared by the first non-SYN ACK of the direction
    ifa_event = ((cf & SYN) != 0) | ((cf & (SYN | ACK)) == ACK)
    g_ifa_ev = ifa_event[go]
    g_ifa_last = _seg_ffill(g_ifa_ev, gstart)
    g_ifa = np.where(g_ifa_last >= 0, (g_cf[np.maximum(g_ifa_last, 0)] & SYN) != 0, False)
    ifa_after = np.zeros(n, bool)
    ifa_after[go] = g_ifa
    rev_ifa = np.where(rev_ok, ifa_after[ri], False)
    shift = np.where(rev_ifa | (rev_ws < 0), 0, rev_ws)
    edge = (rev_ack + ((rev_win << shift) & M32)) & M32
    window_full = (cl > 0) & (rev_ws != -1) & cks & (((cs + cl) & M32) == edge) & no_sfr & ~zwp
    if "window_full" in unavailable:
        window_full[:] = False

    rev_ka = np.where(rev_ok, keep_alive[ri], False)
    rev_zwp = np.where(rev_ok, zwp[ri], False)
    keep_alive_ack = same_ack & (cw != 0) & (cw == fwd_win) & rev_ka
    zwp_ack = same_ack & (cw == 0) & (cw == fwd_win) & rev_zwp & ~keep_alive_ack
    dup = same_ack & (cw != 0) & (cw == fwd_win) & ~keep_alive_ack & ~zwp_ack

    # duplicate-ACK runs per direction: restart when the ACK number changes
    g_ack, g_dup = ca[go], dup[go]
    g_fwd_ack = fwd_ack[go]
    run_start = g_first | (g_ack != g_fwd_ack)
    cdup = np.cumsum(g_dup)
    rs = _seg_ffill(run_start, gstart)
    rsi = np.maximum(rs, 0)
    g_dupnum = cdup - (cdup[rsi] - g_dup[rsi])  # a direction's first row always starts a run
    dupnum = np.zeros(n, np.int64)
    dupnum[go] = g_dupnum

    # handshake RTT of each stream: first non-SYN ACK after a pure SYN (tshark's ts_first_rtt)
    pure_syn = (cf & (SYN | ACK)) == SYN
    mru = _seg_ffill(pure_syn, sstart)
    rtt_delta = np.where(mru >= 0, ct - ct[np.maximum(mru, 0)], 0)
    rtt_row = ((cf & (SYN | ACK)) == ACK) & (mru >= 0) & (rtt_delta != 0)
    first_rtt_row = np.full(n, -1, np.int64)
    if n:
        fr = np.full(int(c_stream[-1]) + 1, n, np.int64)
        np.minimum.at(fr, c_stream[rtt_row], cpos[rtt_row])
        first_rtt_row = np.where(fr[c_stream] < n, fr[c_stream], -1)
    thres = np.where((first_rtt_row >= 0) & (cpos > first_rtt_row), rtt_delta[np.maximum(first_rtt_row, 0)], 3_000_000)

    # retransmission / fast retransmission / spurious / out-of-order
    cand = ((cl > 0) | (synfin > 0)) & cks & ~keep_alive
    sna = ns_set & _lt(cs, ns)
    sna &= ~((cl > 1) & (((ns - 1) & M32) == cs))
    spurious = cand & (cl > 0) & (rev_ack != 0) & _le((cs + cl) & M32, rev_ack)
    rev_dup = np.where(rev_ok, dupnum[ri], 0)
    rev_t = np.where(rev_ok, ct[ri], np.iinfo(np.int64).min // 2)
    since_ack, since_next = ct - rev_t, ct - ns_time  # tshark: unsigned, so a negative gap never matches
    fast = cand & ~spurious & sna & (rev_dup >= 2) & (rev_ack == cs) & (since_ack >= 0) & (since_ack < 20_000_000)
    ooo = (cand & ~spurious & ~fast & sna & (since_next >= 0) & (since_next < thres)
           & (ns != ((cs + cl + synfin) & M32)))
    retrans = cand & ~spurious & ~fast & ~ooo & sna

    cols: dict[str, np.ndarray] = {
        "retransmission": retrans | fast | spurious,
        "fast_retransmission": fast, "spurious_retransmission": spurious, "out_of_order": ooo,
        "lost_segment": lost, "duplicate_ack": dup, "zero_window": zero_window,
        "zero_window_probe": zwp, "zero_window_probe_ack": zwp_ack, "window_full": window_full,
        "window_update": window_update, "keep_alive": keep_alive, "keep_alive_ack": keep_alive_ack,
    }
    # relative numbers for the pictures
    rev_first = np.zeros(n, np.int64)
    if n:
        fs = np.full((int(c_stream[-1]) + 1) * 2, 0, np.int64)
        fs[g_key[first_known]] = first_seq_g[first_known] & M32
        rev_first = fs[c_stream * 2 + (1 - cd)]
    ack_rel = np.where(ack_known_c, (ca - rev_first) & M32, -1)

    inv = np.empty(n, np.int64)
    inv[co] = cpos  # capture order -> c-space
    out = {
        "row": pos,
        "frame": df["frame"].to_numpy(np.int64, na_value=0)[pos],
        "stream": stream,
        "direction": d,
        "seq_rel": seq_rel[inv],
        "next_seq_rel": np.where(seq_rel[inv] >= 0, seq_rel[inv] + plen + ((flags & (SYN | FIN)) != 0), -1),
        "ack_rel": ack_rel[inv],
        "payload_len": plen,
        "dupack_num": np.where(dup, dupnum, 0)[inv],
    }
    out.update({k: v[inv] for k, v in cols.items()})
    packets = pd.DataFrame(out, copy=False)  # no consolidation copy of 20 columns
    return TcpExpert(packets=packets, source_format=fmt, relative_text=rel_used, unavailable=unavailable,
                     inferred=dict(_TEXT_INFERRED) if is_text else {})


def expert_counts(dfs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Counts of several captures side by side (columns = ``df.attrs['source']``)."""
    cols: dict[str, pd.Series] = {}
    for df in dfs:
        c = analyze(df).counts().set_index("kind")["packets"]
        cols[str(df.attrs.get("source", len(cols)))] = c
    return pd.DataFrame(cols)
