"""The pages of a record: ``index.html`` per run and ``records/index.html``, after a real headless run.

Slow: two real demo runs through papermill. The browser half opens the page from
disk in Debian's chromium (Playwright) and checks what a reader would: links
resolve, every warning is on screen, nothing is wider than the window.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from spkrunbook import record as records
from spkrunbook import runbook
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


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("records")
    first = runbook.run(DEMO_PARAMS, records_root=root)
    second = runbook.run(DEMO_PARAMS, records_root=root, steps=["prerequisites"])
    return root, [first.record, second.record]


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
    assert json.loads((first / "run.json").read_text())["status"] == "passed"


@pytest.mark.browser
def test_run_page_reads_in_a_browser_without_a_server(two_runs: tuple[Path, list[Path]], tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.widgets.test_browser import CHROMIUM_ARGS, ensure_chromium

    chromium = ensure_chromium()
    _root, (record, _) = two_runs
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((record / "index.html").as_uri())
            assert page.title().startswith("demo · passed")
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"the page is wider than the window: {widths}"
            warn = page.locator("text=cannot be seen from inside the cluster").first
            assert warn.is_visible(), "the platform hint is on screen without a click"
            broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
            assert broken == 0
            page.locator("summary", has_text="passed or skipped").first.click()
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
    outcome = next(s for s in run.run["steps"] if s["step"] == step)
    loud = [r for r in run.step(step).rows() if r.status in ("warn", "fail")]
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
                assert page.evaluate("document.images.length") >= 20, "the capture pictures are in the page"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"record-{step}.png"), full_page=True)
        finally:
            browser.close()
