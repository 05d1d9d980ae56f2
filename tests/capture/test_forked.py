"""Figures drawn in a forked child: the same SVG text as drawn in-process, and a child that fails or hangs
costs a fallback, never a lost picture, a hung step or a zombie."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from matplotlib.figure import Figure

from spkrunbook import bundle
from spkrunbook.capture import forked
from spkrunbook.steps.debug.captures import analyse_file

pytestmark = pytest.mark.skipif(not forked.available(), reason="figures are drawn in a child only on Linux")

NET2 = bundle.demo_params().parent / "captures" / "net2.pcap"


def children() -> set[int]:
    """This process's children, zombies included (a child not reaped would show here)."""
    me = str(os.getpid())
    out = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                out.add(int(entry.name))
    return out


def test_a_childs_svgs_are_the_ones_drawn_here(monkeypatch: pytest.MonkeyPatch) -> None:
    before = children()
    there = analyse_file(NET2)
    there.draw_elsewhere()
    drawn = there.svgs()
    monkeypatch.setenv(forked.NO_FORK_ENV, "1")
    here = analyse_file(NET2).svgs()
    assert drawn == here and len(here) == 4
    assert children() <= before, "the child was reaped"


def test_a_child_that_fails_answers_none_and_the_figures_are_drawn_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("cannot draw")

    assert forked.svgs(broken).result(timeout=60) is None
    c = analyse_file(NET2)
    monkeypatch.setattr(type(c), "figures", lambda self: broken())
    c.draw_elsewhere()  # the child fails: svgs() below draws them itself
    monkeypatch.undo()
    assert len(c.svgs()) == 4


def test_a_child_that_hangs_is_killed_at_the_deadline_and_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "DEADLINE_S", 1.0)
    before = children()

    def stuck() -> dict[str, Any]:
        time.sleep(120)
        return {"never": Figure()}

    t0 = time.monotonic()
    assert forked.svgs(stuck).result(timeout=60) is None
    assert time.monotonic() - t0 < 30
    assert children() <= before


def test_what_a_child_draws_arrives_whole_however_large() -> None:
    def many() -> dict[str, Any]:
        figs = {}
        for i in range(6):
            fig = Figure()
            ax = fig.add_subplot()
            for j in range(200):
                ax.text(0.0, j / 200, f"label {i}.{j} " * 8)
            figs[f"f{i}"] = fig
        return figs

    got = forked.svgs(many).result(timeout=120)
    assert got is not None and sorted(got) == [f"f{i}" for i in range(6)]
    assert sum(len(v) for v in got.values()) > 4 * 65536, "several times what a pipe holds at once"
    assert all(v.rstrip().endswith("</svg>") for v in got.values())
