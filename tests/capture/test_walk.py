"""The C record-header walk (spkrunbook/capture/_walk.c, an optional extension)
and the pure-Python fallback give identical results: on every test capture, in
odd stream pieces, and on mutated captures (same DataFrame or same error)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spkrunbook.capture import pcap as pcapmod
from spkrunbook.capture import read_pcap, read_pcap_stream
from spkrunbook.errors import CaptureError

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
ALL = sorted(p.name for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))
DEMO = sorted((Path(__file__).parent.parent / "demo").rglob("*.pcap*"))

needs_c = pytest.mark.skipif(not pcapmod.HAVE_C_WALK,
                             reason="the optional C walk is not built (pip install -e . needs gcc and Python headers)")


def read_both(read, *args, **kw):
    """(C result, Python result) of ``read``; each a DataFrame+warnings or the CaptureError text."""
    out = []
    for c in (True, False):
        prev = pcapmod.use_c_walk(c)
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                # a socket an earlier test left to the garbage collector is not this reader's warning
                warnings.simplefilter("ignore", ResourceWarning)
                try:
                    res = read(*args, **kw)
                except CaptureError as exc:
                    res = f"CaptureError: {exc}"
            out.append((res, [str(x.message) for x in w]))
        finally:
            pcapmod.use_c_walk(prev)
    return out


def assert_same(a, b) -> None:
    (ra, wa), (rb, wb) = a, b
    assert wa == wb
    if isinstance(ra, str) or isinstance(rb, str):
        assert ra == rb
        return
    pd.testing.assert_frame_equal(ra, rb)
    assert ra.attrs == rb.attrs


def test_c_walk_is_built_here() -> None:
    """Informational on machines without a compiler; where gcc is there it must be built."""
    import shutil
    import sysconfig

    if shutil.which("gcc") is None or not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        pytest.skip("no gcc or Python headers: the pure-Python walk is used")
    assert pcapmod.HAVE_C_WALK, "gcc and Python.h exist but spkrunbook.capture._walk is not built: run 'pip install -e .'"


@needs_c
@pytest.mark.parametrize("name", ALL + [str(p) for p in DEMO])
def test_c_and_python_walk_agree_on_every_capture(name: str) -> None:
    path = DATA / name if "/" not in name else Path(name)
    c, py = read_both(read_pcap, path)
    assert_same(c, py)
    assert not isinstance(c[0], str) and len(c[0]) > 0
    raw = path.read_bytes()
    assert_same(*read_both(read_pcap, raw, chunk_size=777))
    assert_same(*read_both(lambda: read_pcap_stream(raw[i:i + 501] for i in range(0, len(raw), 501))))
    cut = raw[: len(raw) * 2 // 3]
    assert_same(*read_both(read_pcap, cut))


@needs_c
def test_walk_primitives_agree_and_stay_in_bounds() -> None:
    c_pcap, c_ng = pcapmod._c_walk_pcap, pcapmod._c_walk_ng
    assert c_pcap is not None and c_ng is not None  # (needs_c)
    raw = (DATA / "eth.pcap").read_bytes()
    for end in (24, 40, 100, len(raw) // 2, len(raw)):
        a = c_pcap(raw, 24, end, False, 0x40000, 1000)
        b = pcapmod._py_walk_pcap(raw, 24, end, False, 0x40000, 1000)
        assert a == b
    ng = (DATA / "multi.pcapng").read_bytes()
    shb = int.from_bytes(ng[4:8], "little")
    for end in (shb, shb + 50, len(ng) // 2, len(ng)):
        assert c_ng(ng, shb, end, False, 65535) == pcapmod._py_walk_ng(ng, shb, end, False, 65535)
    for f in (c_pcap, pcapmod._py_walk_pcap):
        with pytest.raises(ValueError):
            f(raw, 0, len(raw) + 1, False, 0x40000, 1000)
    with pytest.raises(ValueError):
        c_ng(ng, 0, len(ng) + 16, False, 0)
    # a record claiming more than the snaplen stops the walk with status 1 at that record
    c = c_pcap(raw, 24, len(raw), False, 10, 1000)
    assert c[:3] == (0, 24, 1) and c == pcapmod._py_walk_pcap(raw, 24, len(raw), False, 10, 1000)
    ts = np.frombuffer(c_pcap(raw, 24, len(raw), False, 0x40000, 1000)[4], np.int64)
    assert (np.diff(ts) >= 0).all() and ts[0] > 1_600_000_000 * 10**9


SEEDS = [(DATA / n).read_bytes()[:5000] for n in ("eth.pcap", "be.pcap", "eth.pcapng", "multi.pcapng", "any_sll2.pcap")]


@needs_c
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 4999), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 5000))
def test_c_and_python_walk_agree_on_mutations(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for pos, val in edits:
        if pos < len(data):
            data[pos] = val
    assert_same(*read_both(read_pcap, bytes(data[: max(cut, 24)])))
