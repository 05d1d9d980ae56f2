"""Mutated real captures never crash the readers nor make them loop: they return
a DataFrame (maybe with a truncation warning) or raise CaptureError."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spkrunbook.capture import read_pcap, read_tcpdump_text
from spkrunbook.capture.schema import COLUMNS
from spkrunbook.errors import CaptureError

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
SEEDS = [(DATA / n).read_bytes()[:6000] for n in ("eth.pcap", "any_sll2.pcap", "be.pcap", "eth.pcapng", "multi.pcapng", "snap96.pcap", "vlan.pcap", "rawip.pcap")]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 32))]
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_binary_captures(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df = read_pcap(data)
        except CaptureError:
            return
    assert list(df.columns) == list(COLUMNS)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=20))
def test_arbitrary_text_never_crashes(lines: list[str]) -> None:
    df = read_tcpdump_text([ln.replace("\n", " ").replace("\r", " ") for ln in lines])
    assert len(df) + df.attrs["unparsed_count"] == len(lines)
    assert isinstance(df, pd.DataFrame)
