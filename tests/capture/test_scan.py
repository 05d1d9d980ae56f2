"""The C line scanner (``_scan.c``) reads exactly what the full expression (LINE_RE) reads.

Three engines must agree on every line, frame for frame: the C scanner (with
LINE_RE in RE2 for the lines it hands back), LINE_RE alone in RE2 (pyarrow), and
LINE_RE in Python's ``re`` (the fallback without pyarrow).  Checked on every
text fixture, on the real tcpdump's rendering of the fixture captures in every
form the runbook meets, on edge lines and on thousands of mutated lines.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from spkrunbook.capture import _text_fast, read_pcap, read_tcpdump_text, text

from .test_text_more import EDGE

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
TEXTS = sorted(p for p in [*FIXTURES.glob("captures/*.txt"), *FIXTURES.glob("analysis/*.txt"),
                           *(ROOT / "spkrunbook" / "demo" / "captures").glob("*.txt")] if not p.name.endswith(".conv.txt"))
FORMS = {"nn": ["-nn"], "n": ["-n"], "e": ["-nn", "-e"], "tttt": ["-nn", "-tttt"], "ttttt": ["-nn", "-ttttt"],
         "ttt": ["-nn", "-ttt"], "tt": ["-nn", "-tt"], "t": ["-nn", "-t"], "v": ["-nn", "-v"], "vv": ["-nn", "-vv"],
         "ev": ["-nn", "-e", "-v"], "nano": ["-nn", "--nano", "-tttt"]}

pytestmark = pytest.mark.skipif(not text.HAVE_C_SCAN, reason="the C extension _scan is not built")


def _engines(read: object, monkeypatch: pytest.MonkeyPatch, *, python: bool = True) -> dict[str, pd.DataFrame]:
    """The same input read by the three engines (the Python one only holds numbers that fit their columns)."""
    out = {"c": read()}  # type: ignore[operator]
    with monkeypatch.context() as m:
        m.setattr(text, "_use_scan", False)
        m.setattr(_text_fast, "GATE_RE", r"^\x00never")  # no byte walk either: LINE_RE on every line
        out["re2"] = read()  # type: ignore[operator]
        if python:
            m.setattr(text, "pa", None)
            out["python"] = read()  # type: ignore[operator]
    return out


def _same(dfs: dict[str, pd.DataFrame], what: str, *, python: bool = True) -> None:
    c = dfs["c"]
    for k in ("re2", "python") if python else ("re2",):
        pd.testing.assert_frame_equal(c, dfs[k], obj=f"{what}: c vs {k}", check_categorical=k != "python")
        assert c.attrs == dfs[k].attrs, f"{what}: c vs {k}"


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: p.name)
def test_fixture_texts_read_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _same(_engines(lambda: read_tcpdump_text(path), monkeypatch), path.name)


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("capture", ["eth.pcap", "any_sll2.pcap", "vlan.pcap", "rawip.pcap"])
def test_every_tcpdump_form_reads_alike(capture: str, form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / f"{capture}.{form}.txt"
    with open(out, "wb") as f:
        subprocess.run(["tcpdump", *FORMS[form], "-r", str(FIXTURES / "captures" / capture)], stdout=f,
                       stderr=subprocess.DEVNULL, check=True)
    dfs = _engines(lambda: read_tcpdump_text(out), monkeypatch)
    _same(dfs, out.name)
    if not (capture == "rawip.pcap" and "-e" in FORMS[form]):  # raw IP with -e prints "ip: " (not read)
        assert len(dfs["c"]) >= len(read_pcap(FIXTURES / "captures" / capture)) * 0.95, "the form is understood"


def test_edge_lines_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    _same(_engines(lambda: read_tcpdump_text(EDGE), monkeypatch, python=False), "edge lines", python=False)


def _mutants(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    base = [ln for p in TEXTS[:12] for ln in p.read_text().splitlines()[:40]] + [ln for ln in EDGE if ln.isascii()]
    alphabet = " .:,>[]()-0123456789abcdefSRPFUEW" + "IPARPLLDPHBHfragvlanlengthseqackwinFlagsUDPICMP6ethertype" + "\t\x7f\x01é"
    out = []
    for _ in range(n):
        s = list(rng.choice(base))
        for _ in range(rng.randint(1, 4)):
            op, i = rng.random(), rng.randrange(len(s) + 1)
            if op < 0.4 and s:
                s[min(i, len(s) - 1)] = rng.choice(alphabet)
            elif op < 0.7:
                s[i:i] = rng.choice(alphabet) * rng.randint(1, 3)
            else:
                del s[i:i + rng.randint(1, 6)]
        out.append("".join(s))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_mutated_lines_read_alike(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines near the shapes the scanner knows: where it is unsure it must hand the line to LINE_RE."""
    lines = _mutants(seed, 1500)
    _same(_engines(lambda: read_tcpdump_text(lines), monkeypatch, python=False), f"mutants {seed}", python=False)


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
def test_v_records_carry_the_packet_fields(tmp_path: Path) -> None:
    """-v prints the IP header, then the packet under it: one record, the same fields as the one-line form."""
    cap = FIXTURES / "captures" / "eth.pcap"
    forms = {}
    for name, flags in (("nn", ["-nn"]), ("v", ["-nn", "-v"]), ("ev", ["-nn", "-e", "-v"])):
        p = tmp_path / f"{name}.txt"
        p.write_bytes(subprocess.run(["tcpdump", *flags, "-r", str(cap)], capture_output=True, check=True).stdout)
        forms[name] = read_tcpdump_text(p)
    cols = ["protocol", "src", "sport", "dst", "dport", "tcp_flags", "seq", "ack", "window", "time_of_day"]
    ref = forms["nn"]
    tcp_udp = ref["protocol"].isin(["TCP", "UDP"])
    for name in ("v", "ev"):
        df = forms[name]
        assert len(df) == len(ref), name
        got = df.loc[tcp_udp.to_numpy(), cols].astype(object).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, ref.loc[tcp_udp, cols].astype(object).reset_index(drop=True), obj=name)
        assert (df.loc[tcp_udp.to_numpy(), "payload_len"].to_numpy() == ref.loc[tcp_udp, "payload_len"].to_numpy()).all()


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
@pytest.mark.parametrize("form", ["ttt", "ttttt"])
def test_times_printed_after_a_space_are_read(form: str, tmp_path: Path) -> None:
    """-ttt and -ttttt print " 00:00:00.000123": every line is a packet, its time of day the printed delta."""
    p = tmp_path / f"{form}.txt"
    p.write_bytes(subprocess.run(["tcpdump", "-nn", f"-{form}", "-r", str(FIXTURES / "captures" / "eth.pcap")],
                                 capture_output=True, check=True).stdout)
    df = read_tcpdump_text(p)
    assert len(df) == 236 and df.attrs["unparsed_count"] == 0 and df["time_of_day"].notna().all()
    assert df["time_of_day"].iloc[0] == pd.Timedelta(0)


def test_a_chunk_of_arp_lines_alone() -> None:
    """A chunk with no src/dst tokens at all (it used to raise IndexError)."""
    df = read_tcpdump_text(["10:00:00.000000 ARP, Request who-has 10.1.1.2 tell 10.1.1.1, length 28"])
    assert list(df["src"].astype(str)) == ["10.1.1.1"] and list(df["protocol"].astype(str)) == ["ARP"]
