"""A real dashboard (run.py, with its demo target) and Debian's Chromium driven by Playwright.

The dashboard runs as a subprocess exactly as a person starts it; every page a test
opens fails the test if it logs a console error or an uncaught exception, or opens a
dialog the test did not ask for.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("STAMPEDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 30.0

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Dashboard:
    url: str            # http://127.0.0.1:PORT (no trailing slash)
    target_url: str     # the demo target's base URL, with a trailing slash

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_for(self, run_id: int, statuses: set[str], timeout_s: float = 30.0) -> dict:
        """The run once its status is one of `statuses` (polled through the API)."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.api(f"/api/runs/{run_id}")
            if run["status"] in statuses:
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    port, target_port = free_port(), free_port()
    db = tmp_path_factory.mktemp("dashboard") / "s.sqlite"
    log = open(db.with_name("dashboard.log"), "w+b")   # noqa: SIM115 (read back on failure)
    process = subprocess.Popen(
        [sys.executable, "run.py", "--port", str(port), "--target-port", str(target_port),
         "--db", str(db)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, log)
        yield Dashboard(base, f"http://127.0.0.1:{target_port}/")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _wait_healthy(base: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the dashboard exited with {process.returncode}:\n"
                               + log.read().decode(errors="replace"))
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{base}/healthz did not answer within {START_TIMEOUT_S} s")


# module scope, not session: the sync Playwright API keeps an event loop running
# while it is open, and pytest-asyncio refuses to start async tests under it
@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What a page said that a person would notice: console errors, crashes, dialogs."""
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)
    accept_confirms: bool = False

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern` (e.g. a page deliberately answered 400)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self.allowed):
            self.problems.append(f"console error: {message.text} ({message.location})")

    def on_dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type == "confirm" and self.accept_confirms:
            dialog.accept()
        else:
            dialog.dismiss()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser, dashboard: Dashboard, watch: Watch) -> Iterator:
    context = browser.new_context(base_url=dashboard.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", lambda exc: watch.problems.append(f"uncaught exception: {exc}"))
    page.on("dialog", watch.on_dialog)
    yield page
    context.close()
    unexpected = [d for d in watch.dialogs if not d.startswith("confirm:")]
    assert not unexpected, f"dialogs opened: {unexpected}"
    assert not watch.problems, "\n".join(watch.problems)


@pytest.fixture(scope="module")
def screenshot() -> callable:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take


AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0/2.1 A and AA, as the issue asks; "serious" and "critical" fail a test
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` (scripts/test.sh does)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture
def axe(axe_source: str) -> callable:
    """check(page, name) runs axe-core on the page as it is now and fails on any serious or
    critical violation. page.evaluate goes through the DevTools protocol, which the page's
    CSP (no inline script, no eval) does not govern, so the pages are checked under their
    real CSP."""
    def check(page, name: str) -> list[dict]:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(axe_source)
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: "
            "['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, "
            "help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + "
            "n.failureSummary)})))", AXE_TAGS)
        bad = [v for v in result if v["impact"] in AXE_FAILING_IMPACTS]
        report = "\n".join(f"{v['impact']} {v['id']} ({v['help']}):\n    "
                           + "\n    ".join(v["nodes"]) for v in bad)
        assert not bad, f"axe-core on {name} ({page.url}):\n{report}"
        return result
    return check
