"""The debugging step's capture results: the pictures a Wireshark user expects, and TCP counts that are
tshark's (checked against the real tshark on the demo captures)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from typing import Any

import pytest

from spkrunbook import bundle, cluster, params
from spkrunbook.steps import debug


@pytest.fixture(scope="module")
def result() -> debug.DebugResult:
    lab = params.load(bundle.demo_params())
    return debug.run(lab, cluster.connect(lab))


def test_each_capture_has_the_wireshark_pictures_once_as_svg(result: debug.DebugResult) -> None:
    for c in result.captures:
        names = c.figure_files()  # known before anything is drawn: what the gallery links to
        svgs = c.svgs()
        assert set(svgs) >= {"io", "rtt"}, c.name
        flows = [k for k in svgs if k.endswith("-flow")]
        assert len(flows) == 1 and flows[0].replace("-flow", "-sequence") in svgs
        files = c.files()
        pictures = sorted(k for k in files if not k.endswith((".pcap", ".json", ".csv")))
        assert pictures == sorted(names) == sorted(f"captures/{c.name}.{k}.svg" for k in svgs), "each once, one format"
        assert f"captures/{c.name}.expert.csv" in files


def test_each_figure_is_drawn_once_for_the_notebook_and_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    from spkrunbook.capture import plots
    from spkrunbook.steps.debug.captures import analyse_file

    drawn: list[object] = []
    real = plots.svg_text
    here = threading.current_thread()

    def counted(fig: Any) -> str:
        # only this capture's drawing: a debugging step run by an earlier test may still be drawing on its thread
        if threading.current_thread() is here:
            drawn.append(fig)
        return real(fig)

    monkeypatch.setattr(plots, "svg_text", counted)
    c = analyse_file(bundle.demo_params().parent / "captures" / "net2.pcap")
    first = c.svgs()
    c.files()
    c.figure_files()
    assert c.svgs() == first and len(drawn) == len(first) == 4


def test_svgs_keep_their_text_and_are_the_same_every_time(result: debug.DebugResult) -> None:
    """Text as text (a vendor copy can rewrite it, a search finds it), no date, ids that do not change."""
    import re

    from spkrunbook.steps.debug.captures import analyse_file

    c = result.captures[0]
    first = c.svgs()
    again = analyse_file(c.source.removeprefix("file "), name=c.name).svgs()
    assert again == first
    for key, svg in first.items():
        assert "<dc:date>" not in svg, key
        texts = re.findall(r"<text[^>]*>([^<]+)</text>", svg)
        assert texts, f"{key}: no <text> element: its words were drawn as glyph paths"
    flow = next(v for k, v in first.items() if k.endswith("-flow"))
    assert re.search(r"<text[^>]*>10\.1\.10\.\d+:\d+</text>", flow), "the endpoints are text in the flow graph"


def test_the_io_graph_axis_reads_as_time_not_nanoseconds(result: debug.DebugResult) -> None:
    for c in result.captures:  # three pcaps and one tcpdump text rendering
        ax = c.figures()["io"].axes[-1]
        assert "s" in ax.get_xlabel().lower(), c.name
        assert max(abs(t) for t in ax.get_xlim()) < 1e6, f"{c.name}: seconds since the first packet, not nanoseconds"


def test_capture_tables_render_without_raw_reprs(result: debug.DebugResult) -> None:
    html = "".join(c._repr_html_() for c in result.captures)
    assert "Expert Information" in html and "tcp.analysis.retransmission" in html
    for raw in ("NaN", "NaT", "0 days", "<NA>"):
        assert raw not in html, raw


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (bootstrap.sh test installs it)")
def test_retransmissions_and_duplicate_acks_are_tsharks(result: debug.DebugResult) -> None:
    for c in result.captures:
        path = c.source.removeprefix("file ")
        if not path.endswith(".pcap"):
            continue
        t = c.tcp_counts()
        for kind, key in (("retransmission", "retransmissions"), ("duplicate_ack", "duplicate_acks")):
            out = subprocess.run(["tshark", "-r", path, "-Y", f"tcp.analysis.{kind}", "-T", "fields", "-e",
                                  "frame.number"], capture_output=True, text=True, check=True).stdout
            assert t[key] == len(out.split()), (c.name, kind)


def test_promiscuous_mode_is_verified_from_the_frames_to_the_macvlan_mac(result: debug.DebugResult) -> None:
    rows = [r for r in result.findings if r.check == "promiscuous works"]
    assert [(r.status, r.subject.split()[1]) for r in rows] == [("pass", "net1"), ("pass", "net2")]
    assert "7e:12:9c:4a:01:b1" in rows[0].evidence and "ens224" in rows[0].evidence


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed (bootstrap.sh test installs it)")
def test_frames_only_from_the_macvlan_mac_fail_with_the_port_group_settings(result: debug.DebugResult, tmp_path) -> None:
    """A capture where TMM sends but nothing comes back to its MAC: what a port group without
    promiscuous mode / forged transmits does."""
    from spkrunbook.steps.debug.captures import analyse_file

    src = next(c for c in result.captures if c.interface == "net1").source.removeprefix("file ")
    out = tmp_path / "one-way.pcap"
    subprocess.run(["tcpdump", "-r", src, "-w", str(out), "ether", "src", "7e:12:9c:4a:01:b1"], check=True,
                   capture_output=True)
    cap = analyse_file(out, interface="net1")
    lab = params.load(bundle.demo_params())
    (row,) = list(debug.verdict.promiscuous_rows(lab, result.attachments, [cap]))
    assert row.status == "fail" and "none came back" in row.evidence
    assert "forged transmits" in row.action and "ens224" in row.action
