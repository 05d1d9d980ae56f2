"""The pages of a record: ``index.html`` per run and ``records/index.html``, after a real headless run.

Slow: two real demo runs through papermill. The record is held to what an archive
needs (small, each picture once, one-line text/plain, two runs that differ only in
their times). The browser half opens the pages from disk in Debian's chromium
(Playwright) and checks what a reader would: the verdict and its warnings first,
links resolve, every warning is on screen, nothing is wider than the window, no
table cell breaks inside a word or an address, and the capture tables show what
tshark's own statistics print for the same captures.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from spkrunbook import cli, runbook
from spkrunbook import record as records
from spkrunbook.record.diff import diff
from tests.support import tshark
from tests.support.pages import broken_words, table_rows
from tests.support.paths import DEMO_PARAMS

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots kept for a reader (git-ignored)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if tag == "img" and a.get("src"):
            self.images.append(str(a["src"]))


#: What an archived demo record may weigh (issue 25: it was 21 MB).
MAX_RECORD_BYTES = 5_000_000
CAPTURES = DEMO_PARAMS.parent / "captures"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("records")
    first = runbook.run(DEMO_PARAMS, records_root=root)
    second = runbook.run(DEMO_PARAMS, records_root=root)
    return root, [first.record, second.record]


def _browser(pw: object) -> object:
    from tests.widgets.test_browser import CHROMIUM_ARGS, ensure_chromium

    return pw.chromium.launch(executable_path=str(ensure_chromium()), headless=True, args=CHROMIUM_ARGS)  # type: ignore[attr-defined]


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_every_run_has_an_index_page_whose_links_resolve(two_runs: tuple[Path, list[Path]]) -> None:
    _root, (record, _) = two_runs
    page = record / "index.html"
    html = page.read_text(encoding="utf-8")
    links = _parse(page)
    local = [h for h in links.hrefs if not h.startswith(("http://", "https://", "#"))]
    assert local and all((record / h).exists() for h in local), [h for h in local if not (record / h).exists()]
    for nb in ("01-prerequisites.html", "02-network-attachments.html", "03-spk-install.html", "04-debugging.html"):
        assert nb in local
    assert links.images and all((record / i).is_file() for i in links.images)
    assert all(i.endswith((".png", ".svg")) for i in links.images)
    # every WARN and FAIL the steps recorded is visible on the page, with what to do
    run = records.read(record)
    loud = [r for s in run.steps() for r in s.rows() if r.status in ("warn", "fail")]
    assert loud, "the demo has warnings (platform hint, cniVersion, values overrides)"
    text = re.sub(r"\s+", " ", html)
    for r in loud:
        from spkrunbook.display import esc
        assert esc(r.evidence[:60]) in text, r
    assert "NaN" not in text and "NaT" not in text and "0 days" not in text


def test_records_index_lists_every_run_newest_first(two_runs: tuple[Path, list[Path]]) -> None:
    root, (first, second) = two_runs
    page = root / "index.html"
    links = [h for h in _parse(page).hrefs if h.endswith("/index.html")]
    assert links == [f"{second.name}/index.html", f"{first.name}/index.html"]
    html = page.read_text(encoding="utf-8")
    assert "2 run(s)" in html
    run = json.loads((first / "run.json").read_text())
    assert run["status"] == "passed"
    # each run with its verdict and its loudest finding, not a bare PASS
    assert html.count(run["verdict"].upper()) == 2 and "WARNING" in run["verdict"].upper()
    assert re.sub(r"\s+", " ", run["worst"][0]["evidence"])[:50] in re.sub(r"<[^>]+>", "", html)


def test_the_demo_record_is_small_and_keeps_each_picture_once(two_runs: tuple[Path, list[Path]]) -> None:
    _root, (record, _) = two_runs
    sizes: dict[str, int] = {}
    for p in record.rglob("*"):
        if p.is_file():
            sizes[p.suffix] = sizes.get(p.suffix, 0) + p.stat().st_size
    assert sum(sizes.values()) <= MAX_RECORD_BYTES, f"{sum(sizes.values()):,} bytes: {sizes}"
    svgs = sorted(str(p.relative_to(record)) for p in record.rglob("*.svg"))
    assert svgs and not list(record.rglob("*.png")), "one format: SVG"
    nb = (record / "04-debugging.ipynb").read_text(encoding="utf-8")
    assert "image/png" not in nb and "image/svg+xml" not in nb and "data:image" not in nb, "pictures stored once"
    linked = re.findall(r'<img src=\\"([^"\\]+)\\"', nb)
    assert sorted(linked) == svgs, "the notebook links to each picture the record keeps, and to no other"
    for svg in svgs:
        text = (record / svg).read_text(encoding="utf-8")
        assert "<text" in text and "<dc:date>" not in text, f"{svg}: text as text, no date"


def test_every_displayed_result_has_a_one_line_text_plain(two_runs: tuple[Path, list[Path]]) -> None:
    import nbformat

    _root, (record, _) = two_runs
    seen = 0
    for ipynb in sorted(record.glob("*.ipynb")):
        nb = nbformat.read(ipynb, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                text = out.get("data", {}).get("text/plain")
                if text is None:
                    continue
                seen += 1
                assert len(text) <= 200 and "\n" not in text.strip(), f"{ipynb.name}: {text[:300]!r}"
    assert seen >= 25  # every displayed result of the four notebooks


def test_two_demo_runs_differ_only_in_times_and_durations(two_runs: tuple[Path, list[Path]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    root, (first, second) = two_runs
    d = diff(first, second)
    assert d.rows == [], d.rows
    assert "04-debugging.ipynb" in d.times_only and "run.json" in d.times_only
    assert cli.main(["records", "--records", str(root), "diff", first.name, second.name]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "agree on params, steps, findings and files" in said and "differ only in times and durations" in said


@pytest.mark.browser
def test_run_page_reads_in_a_browser_without_a_server(two_runs: tuple[Path, list[Path]], tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.widgets.test_browser import CHROMIUM_ARGS, ensure_chromium

    chromium = ensure_chromium()
    _root, (record, _) = two_runs
    run = json.loads((record / "run.json").read_text())
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((record / "index.html").as_uri())
            assert page.title().startswith(f"demo · {run['verdict']}")
            # the verdict with its warnings heads the page, and the loudest findings come before the steps
            assert page.locator("h1").inner_text().endswith(run["verdict"].upper())
            first_screen = page.evaluate("document.body.innerText.slice(0, 1500)")
            assert "What to look at first" in first_screen and run["worst"][0]["check"] in first_screen
            height = page.evaluate("document.documentElement.scrollHeight")
            assert height < 8000, f"the run page is {height} px tall: the pictures belong in a gallery"
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"the page is wider than the window: {widths}"
            warn = page.locator("text=cannot be seen from inside the cluster").first
            assert warn.is_visible(), "the platform hint is on screen without a click"
            broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
            assert broken == 0
            page.locator("summary", has_text="passed, noted or skipped").first.click()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "record-index.png"), full_page=True)
            assert (ARTIFACTS / "record-index.png").stat().st_size > 10_000
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("step", ["prerequisites", "network-attachments", "spk-install", "debugging"])
def test_each_notebook_page_reads_without_raw_reprs_and_shows_every_warning(
        two_runs: tuple[Path, list[Path]], step: str) -> None:
    """The executed notebook as a reader opens it: no pandas reprs, every WARN/FAIL on screen, images drawn."""
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.widgets.test_browser import CHROMIUM_ARGS, ensure_chromium

    chromium = ensure_chromium()
    _root, (record, _) = two_runs
    run = records.read(record)
    assert run.run is not None
    outcome = next(s for s in run.run["steps"] if s["step"] == step)
    stepped = run.step(step)
    assert stepped is not None
    loud = [r for r in stepped.rows() if r.status in ("warn", "fail")]
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((record / outcome["html"]).as_uri())
            page.wait_for_load_state("load")
            text = page.evaluate("document.body.innerText")
            for raw in ("NaT", "NaN", "Timedelta(", "0 days ", "<NA>", "dtype:"):
                assert raw not in text, f"{step}: {raw!r} on the page"
            flat = " ".join(text.split())
            for r in loud:
                assert " ".join(r.evidence.split())[:50] in flat, f"{step}: the {r.status} {r.check!r} is not visible"
            broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
            assert broken == 0
            if step == "debugging":
                pictures = len(list((record / "debugging").rglob("*.svg")))
                assert page.evaluate("document.images.length") == pictures >= 12, "each capture's pictures"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"record-{step}.png"), full_page=True)
        finally:
            browser.close()


def _as_int(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.browser
@pytest.mark.parametrize("capture", ["cni0", "net1", "net2"])
def test_capture_tables_on_the_page_are_what_tshark_prints(two_runs: tuple[Path, list[Path]], capture: str) -> None:
    """The notebook page as a reader sees it, held against tshark -z conv,tcp / conv,ip / endpoints,ip /
    io,phs / expert for the same capture."""
    playwright = pytest.importorskip("playwright.sync_api")
    pcap = CAPTURES / f"{capture}.pcap"
    tshark.need_tshark()
    _root, (record, _) = two_runs
    with playwright.sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
            page.goto((record / "04-debugging.html").as_uri())
            conv = tshark.conversations(pcap, "tcp")
            rows = table_rows(page, f"{capture}:conversations-tcp")
            assert 0 < len(rows) <= 10
            for r in rows:
                t = conv[(f"{r['Address A']}:{r['Port A']}", f"{r['Address B']}:{r['Port B']}", float(r["Rel Start"]))]
                assert (_as_int(r["Packets A→B"]), _as_int(r["Packets B→A"]), _as_int(r["Packets"])) == \
                    (t.packets_ab, t.packets_ba, t.packets)
                assert [r[c].replace(",", "") for c in ("Bytes A→B", "Bytes B→A", "Bytes")] == \
                    [t.bytes_ab, t.bytes_ba, t.bytes]
                assert r["Duration"] == f"{t.duration:.4f}" and r["Bits/s A→B"].endswith("bit/s")
            ip = tshark.conversations(pcap, "ip")
            for r in table_rows(page, f"{capture}:conversations-ipv4"):
                t = ip[(r["Address A"], r["Address B"], float(r["Rel Start"]))]
                assert (_as_int(r["Packets A→B"]), _as_int(r["Packets B→A"]), r["Bytes"].replace(",", "")) == \
                    (t.packets_ab, t.packets_ba, t.bytes)
            ends = tshark.endpoints(pcap)
            shown = {r["Address"]: (_as_int(r["Packets"]), _as_int(r["Tx Packets"]), _as_int(r["Rx Packets"]))
                     for r in table_rows(page, f"{capture}:endpoints-ipv4")}
            assert shown == {a: (v[0], v[2], v[4]) for a, v in ends.items()}
            phs = tshark.hierarchy(pcap)
            levels: list[str] = []
            for r in table_rows(page, f"{capture}:hierarchy"):
                depth = (len(r["Protocol"]) - len(r["Protocol"].lstrip("\u00a0 "))) // 2
                levels = levels[:depth] + [r["Protocol"].strip()]
                frames, _ = phs[":".join(levels)]
                assert _as_int(r["Packets"]) == frames, levels
            expert = {k: n for k, n in tshark.expert(pcap).items() if k[2] == "TCP" and k[1] != "Malformed"
                      and k[3] != "D-SACK Sequence"}
            shown_expert: dict[tuple[str, str, str, str], int] = {}
            severity = ""
            for r in table_rows(page, f"{capture}:expert"):
                if "group" in r:
                    severity = r["group"].split()[0]
                    continue
                shown_expert[(severity, r["Group"], r["Protocol"], r["Summary"])] = _as_int(r["Count"])
            assert shown_expert == expert
        finally:
            browser.close()  # type: ignore[attr-defined]


@pytest.mark.browser
def test_no_table_cell_breaks_inside_a_word_on_any_page(two_runs: tuple[Path, list[Path]]) -> None:
    """Measured in the page: every word of every cell (an address, a port, a MAC, a pod name, a header)
    sits on one line, on the records index, the run page and each notebook page; screenshots kept."""
    playwright = pytest.importorskip("playwright.sync_api")
    root, (record, _) = two_runs
    pages = [root / "index.html", record / "index.html", *sorted(record.glob("*.html"))]
    broken: dict[str, list[dict[str, object]]] = {}
    with playwright.sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
            for p in dict.fromkeys(pages):
                page.goto(p.as_uri())
                page.wait_for_load_state("load")
                found = broken_words(page)
                if found:
                    broken[str(p.relative_to(root))] = found[:5]
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"words-{p.parent.name[-8:]}-{p.stem}.png"), full_page=False)
        finally:
            browser.close()  # type: ignore[attr-defined]
    assert broken == {}, broken


@pytest.mark.browser
def test_the_word_measure_sees_a_broken_address(tmp_path: Path) -> None:
    """The measure above can fail: the table style the record had before (overflow-wrap:anywhere in a
    narrow cell) breaks addresses mid-octet, and it says so."""
    playwright = pytest.importorskip("playwright.sync_api")
    old = "border:1px solid #ccc;white-space:normal;overflow-wrap:anywhere;max-width:3em"
    html = (f"<table><tr><td style='{old}'>10.1.10.22</td><td style='{old}'>protocol</td></tr></table>")
    (tmp_path / "old.html").write_text(f"<!DOCTYPE html><html><body>{html}</body></html>", encoding="utf-8")
    with playwright.sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 400})  # type: ignore[attr-defined]
            page.goto((tmp_path / "old.html").as_uri())
            words = {b["word"] for b in broken_words(page)}
        finally:
            browser.close()  # type: ignore[attr-defined]
    assert words == {"10.1.10.22", "protocol"}
