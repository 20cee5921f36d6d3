"""The one-file report (issue #10, part 3), downloaded from a real dashboard and written by
`bench --report`, opened in Chromium from file:// with every request that is not the
file itself aborted: its charts draw (uPlot canvases of non-zero size), hover, drag-zoom
and legend toggles work, nothing logs an error, and no request is even attempted. The
dashboard serves it as an attachment, and its CSP (its scripts' hashes, a sandbox) lets
it draw should a browser show it."""
from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect


ROOT = Path(__file__).resolve().parents[2]
EVIL = "</script><script>alert(1)</script> checkout"
SECRET = "r3port-secret"
TIME_CHARTS = ("#chart-rps", "#chart-latency", "#chart-status")


def download(url: str) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return dict(response.headers), response.read()


@pytest.fixture(scope="module")
def runs(dashboard) -> list[int]:
    """A 2-second run of two endpoints (a name that tries to close the script, a secret
    header), then a short run of one URL to compare it with."""
    first = dashboard.api("/api/runs", "POST", {
        "name": EVIL, "duration": "2s", "concurrency": 4,
        "headers": [f"Authorization: Bearer {SECRET}"],
        "targets": [{"method": "GET", "url": f"{dashboard.target_url}a?delay=0-0.01", "name": "GET /a"},
                    {"method": "POST", "url": f"{dashboard.target_url}b?delay=0-0.02", "name": "POST /b"}]})
    dashboard.wait_for(first["id"], {"finished"})
    second = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0-0.01", "requests": 300, "concurrency": 4})
    dashboard.wait_for(second["id"], {"finished"})
    return [first["id"], second["id"]]


@pytest.fixture
def offline(browser, watch):
    """open(path) -> a page showing that file, in a context where any request but the
    file's own is aborted; `attempted` lists every request the page made."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    attempted: list[str] = []
    context.on("request", lambda request: attempted.append(request.url))
    context.route(re.compile(r"^(?!file://).*"), lambda route: route.abort())

    def open_file(path: Path) -> Page:
        page = context.new_page()
        page.on("console", watch.on_console)
        page.on("pageerror", lambda exc: watch.problems.append(f"uncaught exception: {exc}"))
        page.on("dialog", watch.on_dialog)          # alert(1) would be a dialog
        page.goto(path.as_uri())
        return page
    yield open_file
    context.close()
    assert not watch.dialogs, watch.dialogs
    assert not watch.problems, "\n".join(watch.problems)
    assert all(url.startswith("file://") for url in attempted), attempted


def expect_drawn(page: Page, charts: tuple[str, ...]) -> None:
    for chart in charts:
        canvas = page.locator(f"{chart} canvas")
        expect(canvas).to_have_count(1)
        size = canvas.evaluate("c => [c.width, c.height, c.getBoundingClientRect().width]")
        assert min(size) > 0, (chart, size)


def test_a_run_report_downloads_and_works_offline(page: Page, dashboard, runs, offline,
                                                  tmp_path):
    run_id = runs[0]
    page.goto(f"/runs/{run_id}")
    with page.expect_download() as got:
        page.click("#download-report")
    assert got.value.suggested_filename == f"stampede-run-{run_id}.html"
    headers, body = download(f"{dashboard.url}/runs/{run_id}/report.html")
    assert headers["Content-Disposition"] == f'attachment; filename="stampede-run-{run_id}.html"'
    assert headers["Content-Security-Policy"].startswith("sandbox allow-scripts; default-src 'none'")
    html = body.decode()
    assert SECRET not in html and "<script>alert(1)" not in html
    path = tmp_path / "report.html"
    path.write_bytes(body)

    report = offline(path)
    expect(report.locator("#run-name")).to_have_text(EVIL)
    expect_drawn(report, (*TIME_CHARTS, "#chart-curve"))
    expect(report.locator("#endpoint-table tbody tr")).to_have_count(2)
    expect(report.locator("#spec-table")).to_contain_text("Bearer ••••••")

    # hover: the legend shows the values under the cursor
    rps = report.locator("#chart-rps .u-over")
    box = rps.bounding_box()
    rps.hover(position={"x": box["width"] * 0.6, "y": box["height"] / 2})
    value = report.locator("#chart-rps .u-legend .u-series").nth(1).locator(".u-value")
    expect(value).to_have_text(re.compile(r"\d"))
    # drag: every time chart zooms to the seconds dragged across, until "Whole run"
    ticks = lambda: report.evaluate(      # noqa: E731
        "() => Charts.axisLabels(document.querySelector('#chart-latency')).map(l => l.text)")
    whole = ticks()
    report.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + 20)
    report.mouse.down()
    report.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + 20, steps=5)
    report.mouse.up()
    expect(report.locator("#zoom-reset")).to_be_visible()
    expect(report.locator("#zoom-text")).to_have_text(re.compile(r"^Seconds \d+–\d+"))
    assert ticks() != whole
    report.click("#zoom-reset")
    expect(report.locator("#zoom-reset")).to_be_hidden()
    # a legend entry clicked hides its line
    p99 = report.locator("#chart-latency .u-legend .u-series").nth(3)
    expect(p99).to_contain_text("p99")
    p99.click()
    expect(p99).to_have_class(re.compile(r"\bu-off\b"))
    # an endpoint chosen filters req/s and latency
    report.select_option("#endpoint", "POST /b")
    expect(report.locator("#chart-rps-scope")).to_have_text("endpoint: POST /b")
    expect_drawn(report, ("#chart-rps", "#chart-latency"))


def test_served_by_the_dashboard_its_csp_lets_only_its_own_scripts_run(browser, dashboard, runs,
                                                                       watch):
    """Shown rather than saved (a browser ignoring the attachment), the report runs under
    the CSP it is served with: its inline scripts by hash, in a sandbox."""
    headers, body = download(f"{dashboard.url}/runs/{runs[0]}/report.html")
    context = browser.new_context()
    page = context.new_page()
    page.on("console", watch.on_console)
    page.route("http://report.test/", lambda route: route.fulfill(
        status=200, body=body, content_type="text/html",
        headers={"Content-Security-Policy": headers["Content-Security-Policy"]}))
    page.goto("http://report.test/")
    expect_drawn(page, TIME_CHARTS)
    assert page.evaluate("() => { try { return document.cookie, 'readable' } "
                         "catch (e) { return 'sandboxed' } }") == "sandboxed"
    context.close()
    assert not watch.problems, "\n".join(watch.problems)


def test_a_compare_report_works_offline(page: Page, dashboard, runs, offline, tmp_path):
    ids = ",".join(map(str, runs))
    page.goto(f"/compare?ids={ids}&from=2")
    link = page.locator("#download-report")
    expect(link).to_have_attribute("href", f"/compare/report.html?ids={ids}&from=2")
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == f"stampede-compare-{ids.replace(',', '-')}.html"
    headers, body = download(f"{dashboard.url}/compare/report.html?ids={ids}")
    assert headers["Content-Disposition"].startswith("attachment;")
    path = tmp_path / "compare.html"
    path.write_bytes(body)
    report = offline(path)
    expect(report.locator("#compare-table th.run-col")).to_have_count(2)
    expect_drawn(report, ("#chart-rps", "#chart-p99", "#chart-p50", "#chart-curve"))
    expect(report.locator("#chart-rps .u-legend .u-series")).to_have_count(3)   # x + 2 runs


def test_bench_writes_the_same_report(dashboard, offline, tmp_path):
    path = tmp_path / "bench.html"
    done = subprocess.run(
        [sys.executable, "run.py", "bench", f"{dashboard.target_url}{{i}}?delay=0-0.01",
         "-n", "300", "-c", "4", "-H", f"X-Api-Key: {SECRET}", "--report", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert SECRET not in path.read_text()
    report = offline(path)
    expect_drawn(report, (*TIME_CHARTS, "#chart-curve"))
    expect(report.locator("#summary")).to_contain_text("300")


@pytest.mark.parametrize("path, status", [("/runs/999999/report.html", 404),
                                          ("/compare/report.html?ids=1", 400),
                                          ("/compare/report.html?ids=1,999999", 404)])
def test_a_report_of_no_run_is_the_error_page(dashboard, path, status):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(dashboard.url + path, timeout=10)
    assert refused.value.code == status
    assert "text/html" in refused.value.headers["Content-Type"]
    assert "Content-Disposition" not in refused.value.headers
