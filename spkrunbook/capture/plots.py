"""Matplotlib figures for a capture: rates over time, top conversations, TCP flags.

Why binned: a million-point scatter is unreadable and slow; every time plot is
built from :func:`spkrunbook.capture.stats.per_interval`.  Figures are made with
the object API (``matplotlib.figure.Figure``), never ``pyplot``, so they work
headless (papermill, CI) and inline in Jupyter; nothing calls ``show()``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import stats

__all__ = ["rate_over_time", "save_png", "tcp_flags", "top_conversations"]


def _auto_interval(df: pd.DataFrame, max_bins: int = 300) -> str:
    t = stats._time_ns(df)
    t = t[t != np.iinfo(np.int64).min]
    if len(t) < 2:
        return "1s"
    span = (t.max() - t.min()) / 1e9
    for s in (0.001, 0.01, 0.1, 1, 5, 10, 30, 60, 300, 600, 3600):
        if span / s <= max_bins:
            return f"{s}s"
    return "1D"


def rate_over_time(df: pd.DataFrame, interval: str | None = None, by: str | None = "auto") -> Figure:
    """Packets/s and bits/s per time bin, one line per interface or direction when known."""
    interval = interval or _auto_interval(df)
    if by == "auto":
        by = "interface" if df["interface"].notna().any() and df["interface"].nunique() > 1 else (
            "direction" if df["direction"].notna().any() else None)
    pi = stats.per_interval(df, interval, by=by)
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    groups = [(None, pi)] if by is None else list(pi.groupby(by, dropna=False, sort=True))
    for key, g in groups:
        label = "all" if key is None else str(key)
        ax1.step(g["time"], g["packets_per_s"], where="post", label=label)
        ax2.step(g["time"], g["bits_per_s"], where="post", label=label)
    ax1.set_ylabel("packets/s")
    ax2.set_ylabel("bits/s")
    ax2.set_xlabel("time (UTC)" if df["timestamp"].notna().all() else "time of day")
    ax1.set_title(f"Capture rate ({interval} bins, bytes from {pi.attrs.get('bytes_source')})")
    if by is not None:
        ax1.legend(title=by, fontsize="small")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    return fig


def top_conversations(df: pd.DataFrame, n: int = 10) -> Figure:
    """Horizontal bars of the n conversations with the most bytes, split by direction."""
    conv = stats.conversations(df).head(n).iloc[::-1]
    labels = [f"{r.protocol} {r.a}:{r.a_port} ↔ {r.b}:{r.b_port}" for r in conv.itertuples()]
    fig = Figure(figsize=(10, 0.45 * max(len(conv), 2) + 1.2), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(conv))
    ax.barh(y, conv["bytes_ab"], label="A → B")
    ax.barh(y, conv["bytes_ba"], left=conv["bytes_ab"], label="B → A")
    ax.set_yticks(y, labels, fontsize="small")
    ax.set_xlabel(f"bytes ({conv.attrs.get('bytes_source', 'wire_len')})")
    ax.set_title(f"Top {len(conv)} conversations")
    ax.legend()
    return fig


def tcp_flags(df: pd.DataFrame) -> Figure:
    """Bar chart of TCP packets per flag combination (S, S., ., P., F., R, R. ...)."""
    fc = stats.tcp_flag_counts(df)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.bar(fc["flags"].astype(str), fc["packets"], color=["tab:red" if "R" in f else "tab:blue" for f in fc["flags"].astype(str)])
    ax.set_xlabel("TCP flags (tcpdump notation)")
    ax.set_ylabel("packets")
    ax.set_title("TCP flag breakdown")
    return fig


def save_png(fig: Figure, directory: str | os.PathLike[str], name: str, dpi: int = 110) -> Path:
    """Write ``fig`` as ``<directory>/<name>.png`` (for lab records) and return the path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    p = d / (name if name.endswith(".png") else f"{name}.png")
    fig.savefig(p, dpi=dpi, format="png")
    return p
