"""TCP conversations as a network engineer draws them: flow (ladder) diagram, stream graph, handshake RTTs.

Why: a table of retransmissions says *that* a connection suffered; Wireshark's
flow graph and the tcptrace/Stevens sequence graph show *how*.  These build
the same pictures from the capture schema and the expert flags
(:mod:`spkrunbook.capture.expert`), as matplotlib ``Figure`` objects (object API,
no pyplot: headless in papermill, inline in Jupyter).  The debugging notebook
draws them for :func:`problem_conversations`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import columns, stats, tables
from . import expert as _expert
from .tables import Analysis

__all__ = ["flow_diagram", "handshake_rtts", "problem_conversations", "problem_figures", "rtt_plot", "save_figures",
           "stream_graph", "stream_packets"]

_SYN, _FIN, _RST, _ACK = 2, 1, 4, 16
_WARN_KINDS = tables.WARN_KINDS


def _analysis(df: pd.DataFrame, ex: _expert.TcpExpert | None) -> _expert.TcpExpert:
    return ex if ex is not None else _expert.analyze(df)


def stream_packets(df: pd.DataFrame, stream: int, ex: _expert.TcpExpert | None = None) -> pd.DataFrame:
    """The packets of one TCP stream with their expert flags and relative numbers, in capture order.

    Columns: the expert packet columns (stream, direction, seq_rel, ack_rel,
    next_seq_rel, payload_len, one bool per kind) plus t (seconds since the
    stream's first packet), src, sport, dst, dport, tcp_flags, tcp_flagbits, window.
    """
    p = _analysis(df, ex).packets
    s = p[p["stream"].to_numpy() == stream]
    if s.empty:
        raise ValueError(f"no TCP stream {stream} in this capture")
    rows = s["row"].to_numpy()
    t = stats._time_ns(df)[rows]
    out = s.reset_index(drop=True).copy()
    out.insert(1, "t", (t - t.min()) / 1e9)
    for c in ("src", "sport", "dst", "dport", "tcp_flags", "tcp_flagbits", "window"):
        out[c] = df[c].array[rows]
    out.attrs["start_ns"] = int(t.min())
    return out


def problem_conversations(df: pd.DataFrame | Analysis, ex: _expert.TcpExpert | None = None, *,
                          n: int | None = None) -> pd.DataFrame:
    """TCP streams with resets or retransmissions (and their other warnings), worst first.

    Columns: stream, a, a_port, b, b_port (A sent the first packet), packets,
    start (first packet), duration (s), resets, and one count per warning kind
    (retransmission, lost_segment, duplicate_ack, out_of_order, zero_window,
    window_full).  Worst first: resets + retransmissions, then the other warnings.
    """
    if not isinstance(df, pd.DataFrame):
        return df.problem_conversations(n)
    e = _analysis(df, ex)
    p = e.packets
    if p.empty:
        return pd.DataFrame({c: [] for c in tables.PROBLEM_COLUMNS})
    rows = p["row"].to_numpy()
    bits = stats._int(df, "tcp_flagbits")[rows]
    t = stats._time_ns(df)[rows]
    g = pd.DataFrame({"stream": p["stream"].to_numpy(), "resets": (bits & _RST) != 0, "t": t,
                      **{k: p[k].to_numpy() for k in _WARN_KINDS if k in p}})
    agg = g.groupby("stream", sort=True).agg(packets=("t", "size"), t0=("t", "min"), t1=("t", "max"), resets=("resets", "sum"),
                                             **{k: (k, "sum") for k in _WARN_KINDS})
    first = pd.Series(rows).groupby(p["stream"].to_numpy()).min().loc[agg.index].to_numpy()
    firsts = pd.DataFrame({"a": df["src"].astype(object).to_numpy()[first], "a_port": df["sport"].array[first],
                           "b": df["dst"].astype(object).to_numpy()[first], "b_port": df["dport"].array[first]},
                          index=agg.index)
    return tables.problem_table(agg, firsts, columns.dated(df), n)


def _label(r: pd.Series) -> str:
    f = str(r["tcp_flags"])
    names = [nm for bit, nm in ((_SYN, "SYN"), (_FIN, "FIN"), (_RST, "RST"), (8, "PSH"), (_ACK, "ACK")) if int(r["tcp_flagbits"]) & bit]
    parts = [", ".join(names) or f]
    if r["seq_rel"] >= 0:
        parts.append(f"Seq={int(r['seq_rel'])}")
    if int(r["payload_len"]) > 0:
        parts.append(f"Len={int(r['payload_len'])}")
    if int(r["tcp_flagbits"]) & _ACK and r["ack_rel"] >= 0:
        parts.append(f"Ack={int(r['ack_rel'])}")
    return " ".join(parts)


def _marks(r: pd.Series) -> list[str]:
    out = []
    for k, text in (("fast_retransmission", "Fast Retransmission"), ("spurious_retransmission", "Spurious Retransmission"),
                    ("out_of_order", "Out-Of-Order"), ("lost_segment", "Previous segment not captured"),
                    ("duplicate_ack", "Dup ACK"), ("zero_window", "ZeroWindow"), ("window_full", "Window Full"),
                    ("keep_alive", "Keep-Alive"), ("zero_window_probe", "ZeroWindowProbe")):
        if bool(r.get(k, False)):
            out.append(text)
    if bool(r.get("retransmission", False)) and not (r.get("fast_retransmission") or r.get("spurious_retransmission")):
        out.insert(0, "Retransmission")
    return out


def flow_diagram(df: pd.DataFrame, stream: int, *, ex: _expert.TcpExpert | None = None, max_packets: int = 60,
                 start: int | None = None) -> Figure:
    """Wireshark's flow graph of one TCP stream: two hosts, one arrow per packet, time down the left.

    Arrow labels are Wireshark's (flags, relative Seq/Len/Ack); SYN/FIN arrows
    are green, RST red, retransmissions and other expert warnings drawn in red
    or orange with the warning written beside them.  Rows are evenly spaced (as
    in Wireshark), ``max_packets`` from packet ``start`` of the stream (default:
    the start, or a few packets before the first warning when the stream is longer).
    """
    s = stream_packets(df, stream, ex)
    total = len(s)
    if start is None:
        warn = np.nonzero(s[list(_WARN_KINDS)].any(axis=1).to_numpy() | ((s["tcp_flagbits"].astype(int).to_numpy() & _RST) != 0))[0]
        start = 0 if total <= max_packets or not len(warn) else int(max(0, min(warn[0] - 5, total - max_packets)))
    a_host = f"{s['src'].iloc[0]}:{s['sport'].iloc[0]}"  # the stream's first sender on the left
    b_host = f"{s['dst'].iloc[0]}:{s['dport'].iloc[0]}"
    d0 = int(s["direction"].iloc[0])
    s = s.iloc[start:start + max_packets]
    rows = len(s)
    fig = Figure(figsize=(11, 1.2 + 0.32 * max(rows, 4)), layout="constrained")
    ax = fig.subplots()
    xa, xb = 0.28, 0.72
    for x, name in ((xa, a_host), (xb, b_host)):
        ax.plot([x, x], [-0.6, rows - 0.4], color="0.45", lw=1.2)
        ax.text(x, -0.9, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for i, (_, r) in enumerate(s.iterrows()):
        fwd = int(r["direction"]) == d0
        x0, x1 = (xa, xb) if fwd else (xb, xa)
        bits = int(r["tcp_flagbits"])
        marks = _marks(r)
        color = "tab:red" if (bits & _RST) or bool(r.get("retransmission", False)) or bool(r.get("lost_segment", False)) \
            else "tab:orange" if marks else "tab:green" if bits & (_SYN | _FIN) else "tab:blue"
        # A row's arrow, label and frame lie inside the axes (its limits are set below): the layout need not
        # measure them, which was most of this figure's drawing time. The expert marks may reach past it.
        for artist in (
            ax.annotate("", xy=(x1, i), xytext=(x0, i), arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.3}),
            ax.text((xa + xb) / 2, i - 0.12, _label(r), ha="center", va="bottom", fontsize=7.5, color=color),
            ax.text(0.0, i, f"{int(r['frame']):>7} {r['t']:10.6f}", ha="left", va="center", fontsize=7.5,
                    family="monospace", color="0.3"),
        ):
            artist.set_in_layout(False)
        if marks:
            ax.text(0.76, i, "[" + "] [".join(marks) + "]", ha="left", va="center", fontsize=7.5, color=color)
    ax.set_xlim(0, 1.12)
    ax.set_ylim(rows - 0.3, -1.4)
    ax.axis("off")
    more = f" (packets {start + 1}-{start + rows} of {total})" if total > rows or start else ""
    ax.set_title(f"TCP stream {stream}: {a_host} ↔ {b_host}{more}; frame, seconds since the stream's first packet",
                 fontsize=10, loc="left")
    return fig


def stream_graph(df: pd.DataFrame, stream: int, *, ex: _expert.TcpExpert | None = None, direction: int | None = None) -> Figure:
    """tcptrace/Stevens graph of one stream: sequence number over time for the direction carrying the data.

    Each data segment is a vertical bar from Seq to Seq+Len; the peer's ACK
    number is the step line below it and ACK + window the line above
    (window as sent, unscaled when the scale is unknown); retransmissions are red
    bars, out-of-order orange, duplicate ACKs black crosses and zero windows red
    squares on the ACK line, "window full" gold triangles at the segment's end,
    "previous segment not captured" purple triangles.
    """
    s = stream_packets(df, stream, ex)
    if direction is None:
        by = s.groupby("direction")["payload_len"].sum()
        direction = int(by.index[int(np.argmax(by.to_numpy()))]) if len(by) else 0
    data = s[(s["direction"] == direction) & (s["seq_rel"] >= 0)]
    acks = s[(s["direction"] != direction) & (s["ack_rel"] >= 0)]
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.subplots()
    seg = data[data["payload_len"] > 0]
    normal = seg[~(seg["retransmission"] | seg["out_of_order"])]
    ax.vlines(normal["t"], normal["seq_rel"], normal["next_seq_rel"], color="tab:blue", lw=1.5, label="data segment")
    for k, color, label in (("retransmission", "tab:red", "retransmission"), ("out_of_order", "tab:orange", "out-of-order")):
        m = seg[seg[k]]
        if len(m):
            ax.vlines(m["t"], m["seq_rel"], m["next_seq_rel"], color=color, lw=2.5)
            ax.plot(m["t"], m["seq_rel"], "o", color=color, ms=4, mfc="none", label=f"{label} ({len(m)})")
    if len(acks):
        ax.step(acks["t"], acks["ack_rel"], where="post", color="tab:green", lw=1, label="ACK from the receiver")
        win = acks["window"].astype("float64").to_numpy()
        scale = _window_scale(df, s, 1 - direction)
        synwin = (acks["tcp_flagbits"].astype(int).to_numpy() & _SYN) != 0  # a SYN's window is never scaled
        edge = acks["ack_rel"].to_numpy() + np.where(synwin, win, win * (2 ** scale))
        ax.step(acks["t"], edge, where="post", color="0.6", lw=0.8, label=f"ACK + receive window (×{2 ** scale})")
        dup = acks[acks["duplicate_ack"]]
        if len(dup):
            ax.plot(dup["t"], dup["ack_rel"], "x", color="black", ms=6, label=f"duplicate ACK ({len(dup)})")
        zw = acks[acks["zero_window"]]
        if len(zw):
            ax.plot(zw["t"], zw["ack_rel"], "s", color="tab:red", ms=4, mfc="none", label=f"zero window ({len(zw)})")
    full = seg[seg["window_full"]]
    if len(full):
        ax.plot(full["t"], full["next_seq_rel"], "^", color="goldenrod", ms=5, label=f"window full ({len(full)})")
    lost = data[data["lost_segment"]]
    if len(lost):
        ax.plot(lost["t"], lost["seq_rel"], "v", color="tab:purple", ms=6, label=f"previous segment not captured ({len(lost)})")
    top = max(float(seg["next_seq_rel"].max()) if len(seg) else 1.0, float(acks["ack_rel"].max()) if len(acks) else 1.0)
    ax.set_ylim(-0.02 * top, top * 1.6)
    r0 = s[s["direction"] == direction].iloc[0] if (s["direction"] == direction).any() else s.iloc[0]
    ax.set_title(f"TCP stream {stream}: {r0['src']}:{r0['sport']} → {r0['dst']}:{r0['dport']} (sequence numbers, tcptrace style)",
                 fontsize=10, loc="left")
    ax.set_xlabel("seconds since the stream's first packet")
    ax.set_ylabel("relative sequence number (bytes)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    return fig


def _window_scale(df: pd.DataFrame, s: pd.DataFrame, direction: int) -> int:
    """The window-scale shift ``direction`` announced in its SYN, if both SYNs carried the option; else 0."""
    if "tcp_wscale" not in df.columns:
        return 0
    syn = s[(s["tcp_flagbits"].astype(int) & _SYN) != 0]
    if syn.empty:
        return 0
    ws = df["tcp_wscale"].to_numpy(np.int64, na_value=-1)[s.loc[syn.index, "row"].to_numpy()]
    mine = ws[syn["direction"].to_numpy() == direction]
    theirs = ws[syn["direction"].to_numpy() != direction]
    if len(mine) and len(theirs) and (mine >= 0).all() and (theirs >= 0).all():
        return int(min(mine[-1], 14))
    return 0


def handshake_rtts(df: pd.DataFrame | Analysis, ex: _expert.TcpExpert | None = None) -> pd.DataFrame:
    """Round-trip times from each TCP three-way handshake, as seen where the capture was taken.

    Columns: stream, client, client_port, server, server_port, start (the SYN),
    syn_to_synack_ms (to the server and back, seen from here), synack_to_ack_ms
    (to the client and back), rtt_ms (their sum: Wireshark's iRTT).  The final ACK
    is the earliest pure ACK from the client written after the first SYN and the
    first SYN-ACK, no earlier than the SYN-ACK.  Streams whose SYN, SYN-ACK or
    final ACK was not captured are left out.
    """
    if not isinstance(df, pd.DataFrame):
        return df.handshake_rtts()
    e = _analysis(df, ex)
    p = e.packets
    if p.empty:
        z = np.zeros(0, np.int64)
        return tables.rtt_table(z, z, z, z, z, z, z, z, False)
    rows = p["row"].to_numpy()
    bits = stats._int(df, "tcp_flagbits")[rows]
    t = stats._time_ns(df)[rows]
    st = p["stream"].to_numpy()
    d = p["direction"].to_numpy()
    syn = (bits & (_SYN | _ACK)) == _SYN
    synack = (bits & (_SYN | _ACK)) == (_SYN | _ACK)
    g = pd.DataFrame({"stream": st, "t": t, "d": d, "row": rows})
    s1 = g[syn].groupby("stream").agg(t_syn=("t", "first"), d_syn=("d", "first"), row=("row", "first"))
    s2 = g[synack].groupby("stream").agg(t_synack=("t", "first"), row_synack=("row", "first"))
    m = s1.join(s2, how="inner")
    m = m[m["t_synack"] >= m["t_syn"]]
    # the ACK that completes it: after both in the file, no earlier than the SYN-ACK, from the SYN's side
    m["after"] = np.maximum(m["row"], m["row_synack"])
    ack = g[((bits & (_SYN | _ACK)) == _ACK)].merge(m[["t_synack", "d_syn", "after"]], left_on="stream", right_index=True)
    ack = ack[(ack["t"] >= ack["t_synack"]) & (ack["d"] == ack["d_syn"]) & (ack["row"] > ack["after"])]
    m = m.join(ack.groupby("stream")["t"].min().rename("t_ack"), how="inner")
    r = m["row"].to_numpy()
    return tables.rtt_table(m.index.to_numpy(), df["src"].astype(object).to_numpy()[r], df["sport"].array[r],
                            df["dst"].astype(object).to_numpy()[r], df["dport"].array[r], m["t_syn"].to_numpy(),
                            m["t_synack"].to_numpy(), m["t_ack"].to_numpy(), bool(df["timestamp"].notna().all()))


def rtt_plot(df: pd.DataFrame | Analysis, ex: _expert.TcpExpert | None = None) -> Figure:
    """Handshake RTTs over time (one dot per connection, split into its two halves) and their distribution."""
    r = handshake_rtts(df, ex)
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax, hx = fig.subplots(1, 2, width_ratios=[3, 1])
    if r.empty:
        ax.text(0.5, 0.5, "no complete TCP handshake in this capture", ha="center", va="center", transform=ax.transAxes)
        hx.axis("off")
        return fig
    t0 = r["start"].min()
    x = (r["start"] - t0).dt.total_seconds()
    ax.plot(x, r["rtt_ms"], "o", ms=4, label="iRTT (SYN → ACK)")
    ax.plot(x, r["syn_to_synack_ms"], ".", ms=3, alpha=0.7, label="SYN → SYN-ACK (server side)")
    ax.plot(x, r["synack_to_ack_ms"], ".", ms=3, alpha=0.7, label="SYN-ACK → ACK (client side)")
    ax.set_xlabel(f"seconds since the first handshake ({t0})")
    ax.set_ylabel("ms")
    ax.set_title(f"Handshake round-trip times, {len(r)} connections", fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    hx.hist(r["rtt_ms"], bins=min(30, max(5, len(r) // 3)), orientation="horizontal", color="tab:blue")
    hx.set_xlabel("connections")
    hx.set_ylim(ax.get_ylim())
    hx.set_title(f"median {r['rtt_ms'].median():.3f} ms", fontsize=9)
    return fig


def problem_figures(df: pd.DataFrame | Analysis, n: int = 3, ex: _expert.TcpExpert | None = None) -> dict[str, Figure]:
    """Flow diagram and stream graph of the ``n`` worst :func:`problem_conversations`, named for the record.

    Keys: ``stream-<id>-flow`` and ``stream-<id>-sequence``; empty when no stream had a reset or retransmission.
    """
    if not isinstance(df, pd.DataFrame):
        return df.problem_figures(n)
    e = _analysis(df, ex)
    out: dict[str, Figure] = {}
    for st in problem_conversations(df, e, n=n)["stream"].astype(int):
        out[f"stream-{st}-flow"] = flow_diagram(df, st, ex=e)
        out[f"stream-{st}-sequence"] = stream_graph(df, st, ex=e)
    return out


def save_figures(figures: dict[str, Figure], directory: str | os.PathLike[str], formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Save each figure under its key (PNG for the record page, SVG to zoom into a long ladder); returns the paths."""
    from .plots import save

    paths: list[Path] = []
    for name, fig in figures.items():
        paths += save(fig, directory, name, formats)
    return paths
