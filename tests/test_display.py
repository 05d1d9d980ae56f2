"""The one table renderer: numbers with their units and separators, ids plain, marks for booleans,
lists as lists, no index, no word or address broken, and one-line text/plain for every result shape."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from spkrunbook import display
from spkrunbook.capture import units


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


@pytest.mark.parametrize(("n", "text"), [(0, "0 bytes"), (9_820, "9,820 bytes"), (10_384, "10 kB"),
                                         (222_766, "222 kB"), (1_534_699, "1,534 kB"), (12_345_678, "12 MB")])
def test_bytes_read_as_wiresharks_format_size(n: int, text: str) -> None:
    assert units.size(n) == text


@pytest.mark.parametrize(("bps", "text"), [(271.5, "272 bit/s"), (3_525.7, "3.53 kbit/s"), (7_150_220.5, "7.15 Mbit/s"),
                                           (999_700, "1.00 Mbit/s"), (16_523.9, "16.5 kbit/s")])
def test_bit_rates_keep_three_digits_and_a_prefix(bps: float, text: str) -> None:
    assert units.bit_rate(bps) == text


def test_a_frame_reads_like_wireshark() -> None:
    df = pd.DataFrame({"Address A": ["10.1.10.22"], "Port A": [56114], "Packets": [3581], "Bytes": [233150],
                       "Bits/s": [7150220.5], "up": [True], "flags": [["BROADCAST", "UP"]], "ips": [[]],
                       "ratio": [0.0663], "missing": [None]})
    html = display.frame_html(df, status_column=None, kinds={"Bytes": "bytes", "Bits/s": "bits/s", "ratio": "ratio"})
    assert cells(html) == ["10.1.10.22", "56114", "3,581", "233 kB", "7.15 Mbit/s", "✓", "BROADCAST, UP", "—",
                           "6.6%", "—"]
    assert 'title="233,150 bytes"' in html, "the exact count is one hover away"
    assert "<th" in html and ">0<" not in html and "index" not in html
    assert "overflow-wrap:anywhere" not in html and "word-break:break-all" not in html


def test_single_tokens_and_hyphenated_names_never_wrap_but_sentences_do() -> None:
    df = pd.DataFrame({"subject": ["f5-tmm-7d9c6b5f4d-x2k8q default/macvlan-internal"],
                       "mac": ["7e:12:9c:4a:01:b1"], "evidence": ["a sentence that may wrap at its spaces"]})
    html = display.frame_html(df, status_column=None)
    assert re.search(r'<td style="text-align:left;white-space:nowrap">7e:12:9c:4a:01:b1</td>', html)
    assert '<span style="white-space:nowrap">f5-tmm-7d9c6b5f4d-x2k8q</span>' in html
    assert '<span style="white-space:nowrap">default/macvlan-internal</span>' in html
    assert re.search(r'<td style="text-align:left">a sentence that may wrap at its spaces</td>', html)


def test_long_text_folds_at_a_space_and_keeps_every_word_once() -> None:
    text = ", ".join(str(n) for n in range(1000, 1100))
    html = display.fold(text, 60)
    summary = re.search(r"<summary>(.*?) …</summary>", html).group(1)  # type: ignore[union-attr]
    rest = re.search(r"<div[^>]*>(.*?)</div>", html).group(1)  # type: ignore[union-attr]
    assert summary.endswith(",") and (summary + " " + rest).replace(" ", "") == text.replace(" ", "")


def test_ids_are_plain_numbers_by_kind_or_by_name() -> None:
    df = pd.DataFrame({"frame": [117], "sport": [8080], "packets": [1514], "No.": [1202]})
    assert cells(display.frame_html(df, status_column=None, kinds={"No.": "id"})) == ["117", "8080", "1,514", "1202"]
    assert display.kind_text([117, 1202, 3581], "id")[0] == "117, 1202, 3581"


def test_groups_read_like_wiresharks_expert_information() -> None:
    df = pd.DataFrame({"Severity": ["Warning", "Warning", "Note"], "Summary": ["a", "b", "c"], "Count": [3, 4, 5]})
    html = display.frame_html(df, status_column=None, group_column="Severity", group_total="Count",
                              badges={"Warning": "warn", "Note": "note"})
    heads = re.findall(r"<th[^>]*colspan='2'>(.*?)</th>", html)
    assert [re.sub(r"<[^>]+>", "", h) for h in heads] == ["Warning 7", "Note 5"]
    assert ">Severity<" not in html


def test_every_result_shape_has_a_one_line_text_plain() -> None:
    from dataclasses import dataclass

    from spkrunbook.results import Findings

    big = pd.DataFrame({"x": range(100_000)})
    for obj in (display.Table(big, "big"), display.HTML("<p>" + "x" * 100_000 + "</p>", "big"),
                display.Gallery([("cap", [("a.svg", "caption", lambda: "<svg/>")])], None, "pictures")):
        text = repr(obj)
        assert "\n" not in text and len(text) < 120, text

    @dataclass(repr=False)
    class Result(display.Brief):
        frame: pd.DataFrame

        @property
        def findings(self) -> Findings:
            f = Findings("t")
            f.add("c", "warn", "e")
            return f

    assert repr(Result(big)) == "<Result: passed, 1 warning>"
    assert "x" in str(display.Table(big.head(2), "small")), "str() still prints the rows for a terminal"
