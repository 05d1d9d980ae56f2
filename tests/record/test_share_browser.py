"""What a vendor sees of a shared copy (issue 25 item 2), looked at in Chromium and read back by OCR.

The demo runs, ``spkrunbook records share`` makes the copy, and Debian's chromium opens
every page of it from disk (the run's ``index.html`` and each notebook's HTML) and each
SVG figure. What a person can read there is collected two ways: the text layer (the
page's ``innerText``, an SVG's ``textContent``), and the pixels: a screenshot of every
distinct picture on the pages, read by Debian's ``tesseract``. Neither may hold an
original address, MAC or node name; no image may be broken. The same OCR finds the
originals in the original record's flow diagram (rendered by the same Chromium), so it can
see what it must not find.
Screenshots go to ``test-artifacts/share/``.

Why per picture and not whole pages: the pages' text is read exactly from the text
layer, and OCR of whole pages is slow (about ten minutes for two long pages here).
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from spkrunbook import cli, runbook
from spkrunbook.capture import read_pcap
from tests.support.paths import DEMO_PARAMS, ROOT
from tests.widgets.test_browser import CHROMIUM_ARGS, ensure_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1200)]
ARTIFACTS = ROOT / "test-artifacts" / "share"
NODES = [f"worker-{i}" for i in range(3)] + [f"master-{i}" for i in range(3)]


def ocr(png: Path) -> str:
    done = subprocess.run(["tesseract", str(png), "stdout"], capture_output=True, text=True, timeout=120,
                          env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"})
    return done.stdout


def originals(record: Path) -> dict[str, list[str]]:
    """What must not be seen: every address and MAC in the demo's captures and in the original record's text files
    (those the share replaces: not loopback, link-local, multicast, OVN's join and transit subnets), and the nodes."""
    from spkrunbook.capture.anonymize import _KEEP_V4, _MAC, _V4

    addrs: set[str] = set()
    for name in ("cni0.pcap", "net1.pcap", "net2.pcap"):
        df = read_pcap(record / "debugging" / "captures" / name)
        for col in ("src", "dst"):
            addrs |= {str(a) for a in df[col].dropna().astype(str)}
    macs: set[str] = set()
    for f in record.rglob("*"):
        if f.suffix in (".txt", ".json", ".yaml", ".csv"):
            text = f.read_text(errors="replace")
            addrs |= set(_V4.findall(text))
            macs |= {m.group().lower() for m in _MAC.finditer(text)}
    keep = []
    for a in addrs:
        ip = ipaddress.ip_address(a)
        if ip.is_multicast or ip.is_link_local or ip.is_loopback or (ip.version == 4 and any(ip in n for n in _KEEP_V4)):
            continue
        keep.append(a)
    v4 = sorted(a for a in keep if "." in a)
    macs = {m for m in macs if int(m[:2], 16) & 1 == 0 and m not in ("00:00:00:00:00:00",)}
    return {"address": v4 + sorted({a.rsplit(".", 1)[0] + "." for a in v4}) + sorted(a for a in keep if ":" in a),
            "node": NODES, "MAC": sorted(macs | {m.upper() for m in macs})}


def found(text: str, needles: dict[str, list[str]]) -> list[str]:
    flat = re.sub(r"\s+", "", text)  # OCR may split a token over spaces
    return [f"{kind} {n}" for kind, ns in needles.items() for n in ns if n in text or n in flat]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ensure_chromium()
    if shutil.which("tesseract") is None:
        pytest.skip("the OCR test needs Debian's tesseract-ocr (scripts/bootstrap.sh test installs it)")
    res = runbook.run(DEMO_PARAMS, records_root=tmp_path_factory.mktemp("records"))
    assert res.exit_code == 0
    out = tmp_path_factory.mktemp("vendor") / "shared"
    assert cli.main(["records", "share", str(res.record), "--out", str(out)]) == 0
    return res.record, out


def look(page: Any, url: str, shots: Path, seen: dict[str, Path]) -> tuple[str, int, list[Path]]:
    """Open a page: its text layer, how many images are broken, and a screenshot of each picture not seen before."""
    page.goto(url)
    text = page.evaluate("document.body ? document.body.innerText : document.documentElement.textContent")
    broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
    new = []
    for n, img in enumerate(page.query_selector_all("img")):
        key = img.get_attribute("src") or ""
        key = key if len(key) < 300 else str(hash(key))
        if key in seen:
            continue
        img.scroll_into_view_if_needed()
        path = shots / f"{Path(url).stem}-img{n:02d}.png"
        img.screenshot(path=str(path))
        seen[key] = path
        new.append(path)
    return text, broken, new


def test_no_original_is_seen_in_any_page_or_picture_of_the_shared_copy(shared: tuple[Path, Path]) -> None:
    from playwright.sync_api import sync_playwright

    record, out = shared
    needles = originals(record)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = [out / "index.html", *sorted(out.glob("0*.html"))]
    svgs = sorted(out.rglob("*.svg"))
    assert len(pages) == 5 and svgs
    seen: dict[str, Path] = {}
    leaks: list[str] = []
    pictures: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(ensure_chromium()), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1.5)
        page.set_default_timeout(180_000)  # a loaded 2-core machine renders a 28,000-pixel page slowly
        for p in pages:
            text, broken, new = look(page, p.as_uri(), ARTIFACTS, seen)
            assert broken == 0, f"{p.name}: {broken} broken image(s)"
            leaks += [f"{p.name} text: {x}" for x in found(text, needles)]
            pictures += new
        for svg in svgs:
            page.goto(svg.as_uri())
            text = page.evaluate("document.documentElement.textContent")
            # its words are text (svg.fonttype none), so they can be read, searched and were rewritten
            assert re.search(r"[A-Za-z]{4,}", text.replace("Matplotlib", "")), f"{svg.name}: no word in its text layer"
            if svg.stem.endswith("-flow"):
                assert re.search(r"\d+\.\d+\.\d+\.\d+:\d+", text), f"{svg.name}: the endpoints are text"
            shot = ARTIFACTS / f"{svg.stem}.png"
            page.locator("svg").first.screenshot(path=str(shot))  # a full-page shot of an SVG document never ends
            leaks += [f"{svg.name} text: {x}" for x in found(text, needles)]
            pictures.append(shot)
        browser.close()
    read = 0
    for shot in pictures:
        text = ocr(shot)
        read += len(text)
        leaks += [f"{shot.name} OCR: {x}" for x in found(text, needles)]
    print(f"{len(pages)} pages and {len(svgs)} SVG figures opened; {len(pictures)} pictures OCR'd ({read:,} characters); "
          f"{sum(len(v) for v in needles.values())} originals looked for")
    assert len(pictures) >= len(svgs) >= 12, "every figure (four per capture) and every picture on the pages was read"
    assert not leaks, "\n".join(leaks[:30])


def test_the_same_ocr_sees_the_originals_in_the_original_flow_diagram(shared: tuple[Path, Path]) -> None:
    """The control: OCR of the original record's ladder diagram reads its addresses; so its silence above means
    something."""
    from playwright.sync_api import sync_playwright

    record, _ = shared
    svg = next((record / "debugging" / "captures").glob("cni0.stream-*-flow.svg"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / f"original-{svg.stem}.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(ensure_chromium()), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1.5)
        page.goto(svg.as_uri())
        page.locator("svg").first.screenshot(path=str(png))
        browser.close()
    text = ocr(png)
    assert found(text, {"address": ["10.1.10.22", "10.1.10.100"]}), text[:2000]
