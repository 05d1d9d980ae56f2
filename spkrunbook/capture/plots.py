"""Matplotlib figures for a capture: I/O graph, top conversations and talkers, TCP flags.

Why binned: a million-point scatter is unreadable and slow; the I/O graph is
built from :func:`spkrunbook.capture.stats.per_interval` with an interval chosen
from the capture's length (like Wireshark's I/O graph).  Its time axis is
seconds since the first packet (Wireshark's default), with the wall-clock start
in the axis label, so a pcap, a dated tcpdump text and an undated one read the
same.  Figures use the object API (``matplotlib.figure.Figure``), never
``pyplot``, so they work headless (papermill, CI) and inline in Jupyter; in
JupyterLab, ``%matplotlib widget`` (ipympl) makes them zoomable.  The per-TCP
conversation pictures (flow diagram, stream graph, RTTs) are in
:mod:`spkrunbook.capture.flows`.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from . import stats
from .tables import Analysis

__all__ = ["SVG_RC", "choose_interval", "io_graph", "rate_over_time", "save", "save_png", "save_svg", "svg_text",
           "tcp_flags", "top_conversations", "top_talkers"]

#: How an SVG is written: text stays text (searchable, and rewritable in a copy for a vendor), ids come
#: from a fixed salt and no date is written, so the same data always gives the same file; each text
#: names one font and its generic family, not matplotlib's fallback list of eleven.
SVG_RC: dict[str, Any] = {"svg.fonttype": "none", "svg.hashsalt": "spkrunbook",
                          "font.sans-serif": ["DejaVu Sans"], "font.monospace": ["DejaVu Sans Mono"]}
#: A line or collection with more points than this is drawn as pixels inside the SVG (its axes,
#: labels and text stay vector and text): a thousand markers as vectors weigh ~100 kB.
SVG_DENSE = 250
_SVG_LOCK = threading.Lock()

_STEPS_S = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def _valid_times(df: pd.DataFrame | Analysis) -> np.ndarray:
    if not isinstance(df, pd.DataFrame):  # the streaming pass keeps the first and last time
        span = df.time_span()
        return np.array(span if span is not None else [], np.int64)
    t = stats._time_ns(df)
    return t[t != np.iinfo(np.int64).min]


def choose_interval(df: pd.DataFrame | Analysis, target_bins: int = 120) -> str:
    """An interval giving about ``target_bins`` bins over the capture (1-2-5 steps, 100 µs .. 1 day)."""
    t = _valid_times(df)
    span = (int(t.max()) - int(t.min())) / 1e9 if len(t) > 1 else 0.0
    for s in _STEPS_S:
        if span / s <= target_bins:
            return _fmt_interval(s)
    return "1D"


def _fmt_interval(s: float) -> str:
    if s < 0.001:
        return f"{round(s * 1e6)}us"
    if s < 1:
        return f"{round(s * 1e3)}ms"
    return f"{int(s)}s"


def _human(x: float, _pos: object = None) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def _start_text(df: pd.DataFrame | Analysis, t0: int) -> str:
    if df.dated if not isinstance(df, pd.DataFrame) else len(df) and df["timestamp"].notna().all():
        return pd.Timestamp(t0, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    td = pd.Timedelta(int(t0), unit="ns")
    tot = int(td.total_seconds())
    return f"{tot // 3600:02d}:{tot % 3600 // 60:02d}:{tot % 60:02d}.{td.microseconds:06d} (time of day, no date)"


def _series_key(df: pd.DataFrame | Analysis, by: str | None) -> str | None:
    if by != "auto":
        return by
    if not isinstance(df, pd.DataFrame):
        return "interface" if len(df.interfaces()) > 1 else "direction" if len(df.directions()) > 1 else None
    if df["interface"].notna().any() and df["interface"].nunique() > 1:
        return "interface"
    if df["direction"].notna().any() and df["direction"].nunique() > 1:
        return "direction"
    return None


def io_graph(df: pd.DataFrame | Analysis, interval: str | None = None, by: str | None = "auto") -> Figure:
    """Wireshark's I/O graph: packets and bytes per interval, one line per interface or direction when there are several.

    ``interval`` (e.g. ``"100ms"``) defaults to :func:`choose_interval`.  The x axis
    is seconds since the first packet; the start time is in the axis label.
    """
    interval = interval or choose_interval(df)
    by = _series_key(df, by)
    pi = stats.per_interval(df, interval, by=by)
    t = _valid_times(df)
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if len(t) == 0:
        ax1.text(0.5, 0.5, "no packets with a time", ha="center", va="center", transform=ax1.transAxes)
        return fig
    t0 = int(t.min())
    step = pd.Timedelta(interval).value / 1e9
    tvals = pi["time"]
    base = tvals.dt.tz_localize(None).to_numpy().astype("M8[ns]").view("i8") if isinstance(tvals.dtype, pd.DatetimeTZDtype) \
        else tvals.to_numpy().astype("m8[ns]").view("i8")
    pi = pi.assign(x=(base - (t0 // int(step * 1e9)) * int(step * 1e9)) / 1e9)
    groups = [(None, pi)] if by is None else list(pi.groupby(by, dropna=False, sort=True))
    for key, g in groups:
        label = "all packets" if key is None else str(key)
        # every bin of the span, empty ones as 0 (a gap in traffic must show as a drop, not a straight line)
        xs = np.arange(0, pi["x"].max() + step / 2, step)
        k = np.rint(g["x"].to_numpy() / step).astype(np.int64)
        pk, by_ = np.zeros(len(xs)), np.zeros(len(xs))
        ok = (k >= 0) & (k < len(xs))
        np.add.at(pk, k[ok], g["packets"].to_numpy()[ok])
        np.add.at(by_, k[ok], g["bytes"].to_numpy()[ok])
        ax1.step(xs, pk, where="post", label=label, lw=1.2)
        ax2.step(xs, by_, where="post", label=label, lw=1.2)
    ax1.set_ylabel(f"packets / {interval}")
    ax2.set_ylabel(f"bytes / {interval}")
    ax2.yaxis.set_major_formatter(FuncFormatter(_human))
    ax1.yaxis.set_major_formatter(FuncFormatter(_human))
    ax2.set_xlabel(f"seconds since the first packet, {_start_text(df, t0)}")
    src = pi.attrs.get("bytes_source", "wire_len")
    ax1.set_title(f"I/O graph: {len(df):,} packets over {(int(t.max()) - t0) / 1e9:.3f} s, {interval} intervals"
                  f" (bytes: {'frame length' if src == 'wire_len' else src})", fontsize=10, loc="left")
    if by is not None:
        ax1.legend(title=by, fontsize="small")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    ax2.set_xlim(left=0)
    return fig


def rate_over_time(df: pd.DataFrame | Analysis, interval: str | None = None, by: str | None = "auto") -> Figure:
    """The I/O graph (:func:`io_graph`), under the name earlier notebooks used."""
    return io_graph(df, interval, by)


def top_conversations(df: pd.DataFrame | Analysis, n: int = 10) -> Figure:
    """Horizontal bars of the n conversations with the most bytes, split by direction."""
    conv = stats.conversations(df).head(n).iloc[::-1]
    labels = [f"{r.protocol} {r.a}:{r.a_port} ↔ {r.b}:{r.b_port}" for r in conv.itertuples()]
    fig = Figure(figsize=(10, 0.45 * max(len(conv), 2) + 1.2), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(conv))
    ax.barh(y, conv["bytes_ab"], label="A → B")
    ax.barh(y, conv["bytes_ba"], left=conv["bytes_ab"], label="B → A")
    for yi, (b, p) in enumerate(zip(conv["bytes"], conv["packets"])):
        ax.text(b, yi, f" {_human(b)}B, {p:,} pkts", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize="small")
    ax.xaxis.set_major_formatter(FuncFormatter(_human))
    ax.set_xlabel(f"bytes ({conv.attrs.get('bytes_source', 'wire_len')})")
    ax.set_title(f"Top {len(conv)} conversations by bytes", fontsize=10, loc="left")
    ax.margins(x=0.15)
    ax.legend(fontsize="small")
    return fig


def top_talkers(df: pd.DataFrame | Analysis, n: int = 10) -> Figure:
    """Horizontal bars of the n addresses with the most bytes, sent and received."""
    tt = stats.top_talkers(df, n).iloc[::-1]
    fig = Figure(figsize=(9, 0.45 * max(len(tt), 2) + 1.2), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(tt))
    ax.barh(y, tt["bytes_sent"], label="sent")
    ax.barh(y, tt["bytes_received"], left=tt["bytes_sent"], label="received")
    for yi, (b, p) in enumerate(zip(tt["bytes"], tt["packets"])):
        ax.text(b, yi, f" {_human(b)}B, {p:,} pkts", va="center", fontsize=8)
    ax.set_yticks(y, [str(a) for a in tt["address"]], fontsize="small")
    ax.xaxis.set_major_formatter(FuncFormatter(_human))
    ax.set_xlabel("bytes")
    ax.set_title(f"Top {len(tt)} talkers by bytes", fontsize=10, loc="left")
    ax.margins(x=0.15)
    ax.legend(fontsize="small")
    return fig


def tcp_flags(df: pd.DataFrame | Analysis) -> Figure:
    """Bar chart of TCP packets per flag combination (S, S., ., P., F., R, R. ...)."""
    fc = stats.tcp_flag_counts(df)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.bar(fc["flags"].astype(str), fc["packets"], color=["tab:red" if "R" in f else "tab:blue" for f in fc["flags"].astype(str)])
    ax.set_xlabel("TCP flags (tcpdump notation)")
    ax.set_ylabel("packets")
    ax.set_title("TCP flag breakdown")
    return fig


def _dense(fig: Figure) -> list[Any]:
    """The point clouds of ``fig``: in each axes whose markers and collection items add up to more than
    :data:`SVG_DENSE`, those markers and collections (lines without markers stay one vector path)."""
    out = []
    for ax in fig.axes:
        markers = [ln for ln in ax.lines if ln.get_marker() not in (None, "", "None", " ") and not ln.get_rasterized()]
        items = [c for c in ax.collections if not c.get_rasterized()]
        n = 0
        for ln in markers:
            n += int(np.size(np.asarray(ln.get_xdata())))
        for c in items:
            n += max(len(c.get_paths()), int(np.shape(np.asarray(c.get_offsets()))[0]))
        if n > SVG_DENSE:
            out += [*markers, *items]
    return out


def svg_text(fig: Figure) -> str:
    """``fig`` as SVG text: its words as text, stable ids, no date (:data:`SVG_RC`), dense point clouds
    as pixels; rc settings and rasterization only for this call (the figure is left as it was)."""
    import matplotlib

    dense = _dense(fig)
    buf = io.StringIO()
    # rcParams are one dict for the process and rc_context puts back, on leaving, all of it as it found it:
    # two threads inside at once (the debugging step draws on a thread where it cannot fork) undo each
    # other's salt, and the ids then change from run to run. One SVG is written at a time.
    with _SVG_LOCK:
        for artist in dense:
            artist.set_rasterized(True)
        try:
            with matplotlib.rc_context(SVG_RC):  # type: ignore[arg-type]  # the stubs list rc keys as literals
                # the figures lay themselves out (layout="constrained"); a tight bounding box would draw each twice
                fig.savefig(buf, format="svg", metadata={"Date": None})
        finally:
            for artist in dense:
                artist.set_rasterized(False)
    return buf.getvalue()


def save(fig: Figure, directory: str | os.PathLike[str], name: str, formats: tuple[str, ...] = ("png",),
         dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``<directory>/<name>.<fmt>`` for each format (SVG as :func:`svg_text` writes it) and return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    stem = name.rsplit(".", 1)[0] if name.endswith((".png", ".svg")) else name
    out = []
    for fmt in formats:
        p = d / f"{stem}.{fmt}"
        if fmt == "svg":
            p.write_text(svg_text(fig), encoding="utf-8")
        else:
            fig.savefig(p, dpi=dpi, format=fmt)
        out.append(p)
    return out


def save_png(fig: Figure, directory: str | os.PathLike[str], name: str, dpi: int = 110) -> Path:
    """Write ``fig`` as ``<directory>/<name>.png`` (for lab records) and return the path."""
    return save(fig, directory, name, ("png",), dpi)[0]


def save_svg(fig: Figure, directory: str | os.PathLike[str], name: str) -> Path:
    """Write ``fig`` as ``<directory>/<name>.svg`` (vector: the flow diagram stays sharp when zoomed)."""
    return save(fig, directory, name, ("svg",))[0]
