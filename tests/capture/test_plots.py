"""The pictures a network engineer expects: readable I/O graph, talkers, flow diagram, stream graph, RTTs.

Figures are checked for what a reader sees (axis labels, tick text, titles,
what is drawn), not pixels.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spkrunbook.capture import (
    expert,
    flows,
    plots,
    read_capture,
    read_pcap,
    read_tcpdump_text,
)

ROOT = Path(__file__).resolve().parents[2]
ANALYSIS = ROOT / "tests" / "fixtures" / "analysis"
CAPTURES = ROOT / "tests" / "fixtures" / "captures"


def tick_texts(fig: Figure, axis: int = -1) -> list[str]:
    FigureCanvasAgg(fig).draw()
    return [t.get_text() for t in fig.axes[axis].get_xticklabels() if t.get_text()]


@pytest.mark.parametrize("path", [ANALYSIS / "reorder.rx.pcap", ANALYSIS / "reorder.rx.nn.txt", CAPTURES / "eth.tttt.txt",
                                  CAPTURES / "any_sll2.nn.txt"])
def test_io_graph_time_axis_is_readable(path: Path) -> None:
    """Seconds since the first packet, short tick labels, the wall-clock start in the label (dated or not)."""
    df = read_capture(path)
    fig = plots.io_graph(df)
    ticks = tick_texts(fig)
    assert ticks and all(len(t) <= 6 for t in ticks), ticks  # no '58:16.00000058:16.500000', no 1e9 offsets
    xs = [float(t.replace("−", "-")) for t in ticks]
    assert xs == sorted(xs) and xs[0] >= 0
    label = fig.axes[-1].get_xlabel()
    assert label.startswith("seconds since the first packet")
    assert ("UTC" in label) == bool(df["timestamp"].notna().all())
    assert fig.axes[-1].xaxis.get_offset_text().get_text() == ""
    total = sum(np.asarray(line.get_ydata()).sum() for line in fig.axes[0].get_lines())
    assert total == len(df)  # every packet is in some bin


def test_io_graph_legend_names_the_series() -> None:
    one = plots.io_graph(read_pcap(ANALYSIS / "loss.rx.pcap"))
    assert one.axes[0].get_legend() is None and [ln.get_label() for ln in one.axes[0].get_lines()] == ["all packets"]
    many = plots.io_graph(read_tcpdump_text(CAPTURES / "any_sll2.nn.txt"))
    leg = many.axes[0].get_legend()
    assert leg is not None and leg.get_title().get_text() == "direction"
    assert {t.get_text() for t in leg.get_texts()} <= {"In", "Out", "B", "M", "P"} and len(leg.get_texts()) >= 2


@pytest.mark.parametrize("span_s,expected", [(0.2, "2ms"), (2.0, "20ms"), (60.0, "500ms"), (3600.0, "30s")])
def test_interval_follows_the_capture_length(span_s: float, expected: str) -> None:
    df = read_pcap(ANALYSIS / "loss.rx.pcap").iloc[:2].copy()
    df["timestamp"] = pd.to_datetime([0, int(span_s * 1e9)], unit="ns", utc=True)
    assert plots.choose_interval(df) == expected


def test_top_talkers_and_conversations() -> None:
    df = read_pcap(ANALYSIS / "reorder.rx.pcap")
    t = plots.top_talkers(df, 5)
    assert {x.get_text() for x in t.axes[0].get_yticklabels()} == {"10.77.0.1", "10.77.0.2"}
    c = plots.top_conversations(df, 3)
    assert len(c.axes[0].get_yticklabels()) == 3 and "10.77.0.1" in c.axes[0].get_yticklabels()[-1].get_text()


def test_problem_conversations_pick_resets_and_retransmissions() -> None:
    df = read_pcap(ANALYSIS / "reorder.rx.pcap")
    e = expert.analyze(df)
    pc = flows.problem_conversations(df, e)
    assert len(pc) >= 1 and ((pc["resets"] > 0) | (pc["retransmission"] > 0)).all()
    worst = pc.iloc[0]
    p = e.packets[e.packets["stream"] == worst["stream"]]
    assert worst["retransmission"] == p["retransmission"].sum() and worst["packets"] == len(p)
    assert int(worst["b_port"]) == 5001  # the bulk transfer is the worst one
    clean = flows.problem_conversations(read_pcap(ANALYSIS / "delay.rx.pcap"))
    assert clean.empty


def test_flow_diagram_draws_the_handshake_and_marks_retransmissions(tmp_path: Path) -> None:
    df = read_pcap(ANALYSIS / "loss.rx.pcap")
    pc = flows.problem_conversations(df)
    st = int(pc["stream"].iloc[0])
    head = flows.flow_diagram(df, st, start=0, max_packets=12)
    texts = [t.get_text() for t in head.axes[0].texts]
    assert texts[:2] == ["10.77.0.1:" + str(pc["a_port"].iloc[0]), "10.77.0.2:5001"]
    assert "SYN Seq=0" in texts and "SYN, ACK Seq=0 Ack=1" in texts and "ACK Seq=1 Ack=1" in texts
    warn = flows.flow_diagram(df, st, max_packets=30)  # starts near the first warning
    wt = " ".join(t.get_text() for t in warn.axes[0].texts)
    assert "[Previous segment not captured]" in wt and "[Dup ACK]" in wt
    from matplotlib.text import Annotation

    assert len([c for c in warn.axes[0].get_children() if isinstance(c, Annotation)]) == 30  # one arrow per packet
    png, svg = plots.save(warn, tmp_path, "flow", ("png", "svg"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in svg.read_bytes()[:400]


def test_flow_diagram_of_a_reset_connection() -> None:
    df = read_pcap(ANALYSIS / "keepalive.rx.pcap")
    pc = flows.problem_conversations(df)
    assert (pc["resets"] > 0).any()
    st = int(pc.loc[pc["resets"] > 0, "stream"].iloc[0])
    texts = " ".join(t.get_text() for t in flows.flow_diagram(df, st).axes[0].texts)
    assert "RST" in texts


def test_stream_graph_marks_retransmissions_and_dup_acks() -> None:
    df = read_pcap(ANALYSIS / "reorder.rx.pcap")
    e = expert.analyze(df)
    st = int(flows.problem_conversations(df, e)["stream"].iloc[0])
    fig = flows.stream_graph(df, st, ex=e)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    p = e.packets[e.packets["stream"] == st]
    assert f"retransmission ({int((p['retransmission'] & (p['payload_len'] > 0)).sum())})" in labels
    assert f"duplicate ACK ({int(p['duplicate_ack'].sum())})" in labels
    assert any(lb.startswith("ACK + receive window") for lb in labels)
    lo, hi = fig.axes[0].get_ylim()
    assert hi > p["next_seq_rel"].max() and lo <= 0


def test_handshake_rtts() -> None:
    """delay.rx was captured on B with A->B delayed 30 ms: B sees the SYN-ACK -> ACK half take the 30 ms."""
    df = read_pcap(ANALYSIS / "delay.rx.pcap")
    r = flows.handshake_rtts(df)
    assert len(r) == 7 and (r["client"] == "10.77.0.1").all()
    assert (r["syn_to_synack_ms"] < 5).all() and (r["synack_to_ack_ms"] > 29).all()
    if shutil.which("tshark"):  # Wireshark's iRTT is the same SYN -> ACK interval
        out = subprocess.run(["tshark", "-r", str(ANALYSIS / "delay.rx.pcap"), "-Y", "tcp.analysis.initial_rtt", "-T", "fields",
                              "-e", "tcp.stream", "-e", "tcp.analysis.initial_rtt"], capture_output=True, text=True, check=True).stdout
        irtt = {int(a): float(b) * 1000 for a, b in (ln.split("\t") for ln in out.splitlines())}
        np.testing.assert_allclose(r["rtt_ms"], [irtt[s] for s in r["stream"]], atol=0.001)
    np.testing.assert_allclose(r["rtt_ms"], r["syn_to_synack_ms"] + r["synack_to_ack_ms"])
    fig = flows.rtt_plot(df)
    assert "7 connections" in fig.axes[0].get_title(loc="left") and fig.axes[0].get_lines()


def test_stream_packets_rejects_unknown_stream() -> None:
    with pytest.raises(ValueError, match="no TCP stream 99"):
        flows.stream_packets(read_pcap(ANALYSIS / "loss.rx.pcap"), 99)


def test_problem_figures_are_saved_for_the_record(tmp_path: Path) -> None:
    df = read_pcap(ANALYSIS / "reorder.rx.pcap")
    figs = flows.problem_figures(df, n=2)
    streams = flows.problem_conversations(df, n=2)["stream"].astype(int).tolist()
    assert list(figs) == [f"stream-{s}-{k}" for s in streams for k in ("flow", "sequence")]
    paths = flows.save_figures(figs, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{k}.{x}" for k in figs for x in ("png", "svg"))
    assert flows.problem_figures(read_pcap(ANALYSIS / "delay.rx.pcap")) == {}


def test_stream_graph_marks_zero_window_and_window_full() -> None:
    df = read_pcap(ANALYSIS / "window.rx.pcap")
    e = expert.analyze(df)
    legend = flows.stream_graph(df, 0, ex=e).axes[0].get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert f"zero window ({len(e.frames('zero_window'))})" in labels
    assert f"window full ({len(e.frames('window_full'))})" in labels
