"""A capture too large to hold is analysed by the debugging step in one streaming pass: the same tables and
pictures as the whole-file path, the same verdict, and a note that says so."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from spkrunbook import bundle, capture, cluster, params
from spkrunbook.capture import streaming
from spkrunbook.steps import debug
from spkrunbook.steps.debug.captures import CaptureResult, analyse_file

pytestmark = pytest.mark.skipif(not streaming.HAVE_C_ACCOUNT, reason="the C extension _account is not built")


@pytest.fixture(scope="module")
def lab() -> params.Lab:
    return params.load(bundle.demo_params())


def _pairs(lab: params.Lab) -> list[tuple[CaptureResult, CaptureResult]]:
    return [(analyse_file(p), analyse_file(p, streaming_bytes=0)) for p in lab.debug.analyse]


def test_large_files_give_the_same_tables(lab: params.Lab) -> None:
    for whole, big in _pairs(lab):
        assert whole.frame is not None and big.frame is None and big.analysis is not None, big.name
        assert big.packets == whole.packets and big.sha256 == whole.sha256 and big.size == whole.size
        for table in ("summary", "conversations", "tcp_flags", "resets", "anomalies", "expert_counts", "expert_events",
                      "per_second"):
            pd.testing.assert_frame_equal(getattr(whole, table)(), getattr(big, table)(), obj=f"{big.name} {table}")
        assert whole.tcp_counts() == big.tcp_counts()
        assert set(whole.figures()) == set(big.figures())


def test_a_large_file_says_so_and_is_not_copied(lab: params.Lab) -> None:
    _, big = _pairs(lab)[0]
    assert any("streaming pass" in n for n in big.notes)
    files = big.files()
    assert f"captures/{big.name}{big.suffix}" not in files and f"captures/{big.name}.conversations.csv" in files
    doc = json.loads(str(files[f"captures/{big.name}.json"]))
    assert doc["analysis"] == "streaming" and doc["sha256"] == big.sha256 and "streaming pass" in " ".join(doc["notes"])
    assert "streaming pass" in big._repr_html_()


def test_the_step_takes_the_streaming_path_for_large_files(lab: params.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict is the same either way, promiscuous mode included (MACs are counted in the pass)."""
    target = cluster.connect(lab)
    before = debug.run(lab, target)
    monkeypatch.setattr(capture, "STREAMING_BYTES", 1)
    after = debug.run(lab, target)
    assert all(c.analysis is not None for c in after.captures)
    rows = lambda r: [(x.check, x.subject, x.status, x.evidence) for x in r.findings]
    assert rows(before) == rows(after)
    assert [r.status for r in after.findings if r.check == "promiscuous works"] == ["pass", "pass"]
    for r in (before, after):  # the step draws in the background: wait for it here, not in a later test
        for c in r.captures:
            c.svgs()


def test_a_large_file_has_the_wireshark_tables_its_pass_can_give(lab: params.Lab) -> None:
    """Properties, hierarchy and UDP conversations as the whole file gives them; TCP conversations per address
    and port pair; Expert Information's analysis flags and resets with whole counts; the rest left out, saying why."""
    from spkrunbook.capture import wireshark

    for whole, big in _pairs(lab):
        w, b = whole.statistics(), big.statistics()
        assert "conversations-ipv4" in w and not any(k.startswith(("conversations-ipv", "endpoints-")) for k in b)
        assert set(b) >= {"properties", "hierarchy", "conversations-tcp", "expert", "flagged"}, big.name
        assert wireshark.STREAMING_LEFT_OUT in b["properties"].note
        same = [frame[~frame["Property"].isin(["File", "Analysis"])].reset_index(drop=True)  # (not copied: no path)
                for frame in (w["properties"].frame, b["properties"].frame)]
        pd.testing.assert_frame_equal(same[0], same[1], obj=big.name)
        pd.testing.assert_frame_equal(w["hierarchy"].frame, b["hierarchy"].frame)
        if "conversations-udp" in w:
            pd.testing.assert_frame_equal(w["conversations-udp"].frame, b["conversations-udp"].frame)
        per_filter = w["expert"].frame.groupby("Display filter")["Count"].sum()
        got = b["expert"].frame
        assert len(got) and all(int(per_filter[f]) == n for f, n in zip(got["Display filter"], got["Count"])), big.name
        assert wireshark.STREAMING_EXPERT in b["expert"].note
        assert len(b["flagged"].frame) == len(whole.expert_events()) and "streaming pass" in big._repr_html_()
