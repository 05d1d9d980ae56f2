"""The runbook in a real browser: JupyterLab on loopback, driven by headless Chromium.

Starts ``jupyter lab`` on 127.0.0.1 (free port, random token, no browser) in a
lab folder made as a user makes one (``spkrunbook init``) whose params file is
the bundled demo lab's, opens
``02-network-attachments.ipynb`` in Debian's chromium through Playwright, runs
all cells, types a bad interface name (``ens 224``) into the NAD form and
expects the validation message beside the field, then fixes it, clicks Render
and expects the checks table below the form. Screenshots go to
``test-artifacts/`` (git-ignored).

The notebook runs on the bundled demo params (the demo snapshot), found as the
one ``params/*.yaml`` beside it, so the form's ``master`` field is a Combobox
offering the NICs on every TMM node; typed text still reaches the kernel and is
validated there. Chromium comes from
apt (``scripts/bootstrap.sh test`` installs it; this test tries ``apt-get
install chromium`` as root); Playwright's own browser download is never used.
Run it alone with ``.venv/bin/python -m pytest -m browser``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from spkrunbook import cli
from tests.support import paths
from tests.support.paths import DEMO_PARAMS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

REPO = paths.ROOT
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
NOTEBOOK = "02-network-attachments.ipynb"
BAD, GOOD = "ens 224", "ens224"
NICS = ["br-ex", "ens192", "ens224", "ens256", "ovn-k8s-mp0"]  # on every worker of the demo snapshot
WAIT_MS = 60_000


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt when missing and we are root; skip with the reason otherwise."""
    if CHROMIUM.exists():
        return CHROMIUM
    why = "not root, cannot apt-get install chromium"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True, timeout=180)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                           env=env, check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            why = f"apt-get install chromium failed: {exc}"
        if CHROMIUM.exists():
            return CHROMIUM
    pytest.skip(f"browser test needs Debian's chromium at {CHROMIUM}: {why}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_workdir(root: Path) -> Path:
    """A lab folder from `spkrunbook init`, its params file replaced by the demo lab's (absolute paths)."""
    assert cli.main(["init", "browserlab", "--folder", str(root)]) == 0
    demo = DEMO_PARAMS.read_text().replace("./", f"{DEMO_PARAMS.parent}/")
    (root / "params" / "browserlab.yaml").write_text(demo)
    nb = nbformat.read(root / NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'params_file = ""' in cell.source  # the params file beside the notebook, as a person opens it
    return root


@dataclass
class Lab:
    base: str
    token: str

    @property
    def notebook_url(self) -> str:
        return f"{self.base}/lab/tree/{NOTEBOOK}?token={self.token}"

    def kernel_state(self) -> str | None:
        """The execution state of the kernel of the notebook's session (None before there is one)."""
        with urllib.request.urlopen(f"{self.base}/api/sessions?token={self.token}", timeout=5) as r:
            sessions = json.load(r)
        for s in sessions:
            if s.get("path", "").endswith(NOTEBOOK) and s.get("kernel"):
                return s["kernel"].get("execution_state")
        return None

    def wait_for_idle_kernel(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while self.kernel_state() != "idle":
            if time.time() > deadline:
                raise AssertionError(f"the notebook's kernel is not idle after {timeout:.0f} s")
            time.sleep(0.3)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A running JupyterLab over the work dir, on 127.0.0.1 with a token."""
    work = make_workdir(tmp_path / "work")
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "SPKRUNBOOK_HEADLESS"}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")  # no user config leaks in
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = (tmp_path / "jupyter.log").open("w")
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.token={token}", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={work}", f"--LabApp.user_settings_dir={tmp_path / 'lab-settings'}",
        f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
    ]
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("jupyter lab did not answer within 60 s")
            time.sleep(0.3)
        yield Lab(base, token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_nad_form_in_jupyterlab(lab):
    chromium = ensure_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is a test extra: scripts/bootstrap.sh test")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            run_the_form(page, sync_api.expect, lab)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-02-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def run_the_form(page, expect, lab: Lab) -> None:
    page.set_default_timeout(WAIT_MS)
    page.goto(lab.notebook_url)
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for()
    # Lab may ask which kernel to start; the notebook names python3, which it preselects.
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:
        select.first.wait_for(timeout=3000)
        select.first.click()
    except Exception:
        pass
    lab.wait_for_idle_kernel()
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    # The NAD form: two columns of fields; the internal column comes first.
    # master is a Combobox: an input with a datalist of the NICs on every TMM node of the demo snapshot.
    master = page.locator(".widget-inline-hbox", has=page.locator("label", has_text="master NIC")).filter(
        has=page.locator("input")).first
    master.scroll_into_view_if_needed()
    expect(master).to_be_visible()
    field = master.locator("input")
    expect(field).to_have_value(GOOD)
    options = master.locator("datalist option")
    expect(options).to_have_count(len(NICS))
    assert sorted(options.evaluate_all("els => els.map(e => e.value)")) == NICS
    message = master.locator("xpath=following-sibling::*[1]")  # the HTML widget right below the field

    field.fill(BAD)
    expect(message).to_contain_text(f"'{BAD}' is not a valid interface name")
    expect(page.locator(".widget-html", has_text="error(s)").first).to_be_visible()
    master.screenshot(path=str(ARTIFACTS / "browser-02-field.png"))
    page.screenshot(path=str(ARTIFACTS / "browser-02-validation.png"))

    field.fill(GOOD)
    expect(message).not_to_contain_text("not a valid interface name")
    render = page.locator(".jupyter-widgets button", has_text="Render").first
    render.scroll_into_view_if_needed()
    form = page.locator(".widget-vbox", has=render).last  # the innermost box holding the buttons and the output
    expect(form.locator("table")).to_have_count(0)
    render.click()
    table = form.locator("table").first
    expect(table).to_be_visible()
    expect(table).to_contain_text("master interface name")
    expect(table).to_contain_text(GOOD)
    expect(form).to_contain_text("kind: NetworkAttachmentDefinition")
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "browser-02-render.png"))
    # the same tables JupyterLab shows as the record does: no address, name or word broken across lines
    from tests.support.pages import broken_words

    assert page.locator(".jp-OutputArea table.spk-table").count() >= 3
    assert broken_words(page, ".jp-OutputArea") == []

