"""The dashboard in a real browser: form, live run, finished run, history, compare.

Runs are real load tests against the dashboard's own demo target, kept short
(a few hundred requests with sub-second delays).
"""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.web import display

XSS_NAME = "<script>alert(1)</script> & <b>bold</b>"
RUN_URL = re.compile(r"/runs/(\d+)(\?.*)?$")
FINISH_TIMEOUT_MS = 30_000


def start_from_form(page: Page, dashboard, *, requests: int, concurrency: int, delay: str,
                    name: str = "", **fields: str) -> int:
    """Fill the New run form, submit it, and return the id of the run page it leads to."""
    page.goto("/")
    page.fill("#f-url", f"{dashboard.target_url}{{i}}?delay={delay}")
    page.fill("#f-requests", str(requests))
    page.fill("#f-concurrency", str(concurrency))
    page.fill("#f-name", name)
    for field, value in fields.items():
        page.fill(f"#f-{field}", value)
    page.click("#start")
    page.wait_for_url(RUN_URL)
    return int(RUN_URL.search(page.url).group(1))


def wait_until_finished(page: Page) -> None:
    expect(page.locator("#status")).to_have_text("finished", timeout=FINISH_TIMEOUT_MS)


def completed(page: Page) -> int:
    text = page.locator("#completed").inner_text()
    return int(text.replace(",", "")) if text != "—" else 0


def test_new_run_form_has_every_field_and_the_presets(page: Page, dashboard, screenshot):
    page.goto("/")
    expect(page).to_have_title(re.compile("New run"))
    for name in ("url", "method", "headers", "body", "requests", "duration", "concurrency",
                 "rate", "stages", "engine", "workers", "timeout", "connect_timeout",
                 "keepalive", "verify_tls", "name"):
        assert page.locator(f"#f-{name}").count() == 1, name
    assert page.locator("input[name=model]").count() == 2
    expect(page.locator("#f-url")).to_have_value(f"{dashboard.target_url}{{i}}?delay=0-1")
    # the open model's inputs appear only with the open model
    expect(page.locator("#f-rate")).to_be_hidden()
    page.check("input[name=model][value=open]")
    expect(page.locator("#f-rate")).to_be_visible()
    expect(page.locator("#f-stages")).to_be_visible()
    page.check("input[name=model][value=closed]")
    expect(page.locator("#presets button[data-preset]")).to_have_count(6)
    expect(page.locator("#presets")).to_contain_text("Sync vs async")
    screenshot(page, "new-run")


def test_invalid_input_shows_inline_errors_and_keeps_the_values(page: Page, watch, screenshot):
    watch.allow("status of 400")       # the form page answers 400, as it should
    page.goto("/")
    page.fill("#f-url", "ftp://x")
    page.fill("#f-concurrency", "0")
    page.fill("#f-name", "kept name")
    page.uncheck("#f-keepalive")
    page.click("#start")
    expect(page.locator("#form-errors")).to_contain_text("url")
    expect(page.locator("#form-errors")).to_contain_text("concurrency")
    expect(page.locator("#url-error")).to_contain_text("ftp")
    expect(page.locator("#concurrency-error")).to_contain_text("greater than 0")
    expect(page.locator("[data-field=url]")).to_have_class(re.compile("invalid"))
    expect(page.locator("#f-url")).to_have_value("ftp://x")
    expect(page.locator("#f-concurrency")).to_have_value("0")
    expect(page.locator("#f-name")).to_have_value("kept name")
    expect(page.locator("#f-keepalive")).not_to_be_checked()
    expect(page.locator("#f-verify_tls")).to_be_checked()
    screenshot(page, "new-run-errors")


def test_a_run_started_from_the_form_goes_live_then_shows_its_exact_summary(
        page: Page, dashboard, browser, screenshot):
    run_id = start_from_form(page, dashboard, requests=400, concurrency=20, delay="0-0.4",
                             name=XSS_NAME)
    # live: the counter moves between two reads a second apart
    expect(page.locator("#completed")).not_to_have_text("—", timeout=10_000)
    first = completed(page)
    page.wait_for_function(
        f"() => Number(document.getElementById('completed').textContent.replace(/,/g, '')) > {first}",
        timeout=5_000)
    expect(page.locator("#status")).to_have_text("running")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#active-run")).to_contain_text(XSS_NAME)
    expect(page.locator("#chart-rps canvas")).to_have_count(1)
    expect(page.locator("#chart-latency .u-legend")).to_contain_text("p99")

    # a second tab opened mid-run gets the whole series so far
    other = browser.new_page()
    other.goto(page.url)
    expect(other.locator("#chart-rps canvas")).to_have_count(1, timeout=5_000)
    other.wait_for_function(
        "() => Number(document.getElementById('completed').textContent.replace(/,/g, '')) > 0")
    screenshot(page, "run-live")

    wait_until_finished(page)
    wait_until_finished(other)
    other.close()
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#progress-text")).to_contain_text("done")
    expect(page.locator("#summary")).to_be_visible()

    run = dashboard.api(f"/api/runs/{run_id}")
    summary = run["summary"]
    assert summary["requests"] == 400
    shown = {key: page.locator(f'#summary [data-summary="{key}"]').inner_text()
             for key in ("requests", "ok", "rps", "latency_ms.p50", "latency_ms.p99",
                         "latency_ms.max", "error_rate")}
    assert shown == {
        "requests": display.fmt_int(summary["requests"]), "ok": display.fmt_int(summary["ok"]),
        "rps": display.fmt_num(summary["rps"]),
        "latency_ms.p50": display.fmt_ms(summary["latency_ms"]["p50"]),
        "latency_ms.p99": display.fmt_ms(summary["latency_ms"]["p99"]),
        "latency_ms.max": display.fmt_ms(summary["latency_ms"]["max"]),
        "error_rate": display.fmt_percent(summary["error_rate"]),
    }
    expect(page.locator("#completed")).to_have_text("400")
    expect(page.locator("#status-table")).to_contain_text("200")
    expect(page.locator("#chart-curve canvas")).to_have_count(1)
    # what the person typed is text, everywhere
    expect(page.locator("#run-name")).to_have_text(XSS_NAME)
    assert page.title().startswith(XSS_NAME)
    expect(page.locator("#export-json")).to_have_attribute("href", f"/api/runs/{run_id}/series")
    expect(page.locator("#export-csv")).to_have_attribute(
        "href", f"/api/runs/{run_id}/series?format=csv")
    screenshot(page, "run-finished")

    # a finished run's page, opened afresh, draws the same charts from the stored series
    page.reload()
    expect(page.locator("#chart-rps canvas")).to_have_count(1)
    expect(page.locator('#summary [data-summary="requests"]')).to_have_text("400")
    expect(page.locator("#active-run")).to_have_count(0)


def test_run_again_prefills_every_field(page: Page, dashboard):
    spec = {"url": f"{dashboard.target_url}{{i}}?delay=0-0.05", "method": "POST",
            "headers": ["X-Test: 1", "Accept: text/plain"], "body": "hello", "requests": 20,
            "duration": 90, "concurrency": 5, "engine": "aiohttp", "workers": 1,
            "timeout": 2.5, "connect_timeout": 0.5, "keepalive": False, "verify_tls": False,
            "name": "again <please>"}
    run = dashboard.api("/api/runs", "POST", spec)
    page.goto(f"/runs/{run['id']}")
    wait_until_finished(page)
    page.click("#run-again")
    expect(page).to_have_url(re.compile(rf"/\?from={run['id']}$"))
    expected = {"url": spec["url"], "method": "POST", "headers": "X-Test: 1\nAccept: text/plain",
                "body": "hello", "requests": "20", "duration": "90s", "concurrency": "5",
                "engine": "aiohttp", "workers": "1", "timeout": "2.5s",
                "connect_timeout": "500ms", "name": "again <please>"}
    for name, value in expected.items():
        expect(page.locator(f"#f-{name}")).to_have_value(value)
    expect(page.locator("#f-keepalive")).not_to_be_checked()
    expect(page.locator("#f-verify_tls")).not_to_be_checked()
    expect(page.locator("input[name=model][value=closed]")).to_be_checked()


def test_history_lists_runs_and_compares_two(page: Page, dashboard, screenshot):
    first = start_from_form(page, dashboard, requests=200, concurrency=50, delay="0-0.1",
                            name="compare baseline")
    wait_until_finished(page)
    second = start_from_form(page, dashboard, requests=300, concurrency=100, delay="0-0.05",
                             name=f"compare {XSS_NAME}")
    wait_until_finished(page)

    page.goto("/runs")
    rows = page.locator("#runs tbody tr")
    expect(page.locator(f'tr[data-run-id="{first}"]')).to_contain_text("compare baseline")
    expect(page.locator(f'tr[data-run-id="{second}"] td.name')).to_have_text(
        f"compare {XSS_NAME}")
    expect(page.locator(f'tr[data-run-id="{second}"]')).to_contain_text("finished")
    assert rows.count() >= 2
    compare = page.locator("#compare")
    expect(compare).to_be_disabled()
    page.check(f'tr[data-run-id="{first}"] input.pick')
    expect(compare).to_be_disabled()
    page.check(f'tr[data-run-id="{second}"] input.pick')
    expect(compare).to_be_enabled()
    screenshot(page, "history")

    # sorting and filtering are plain links and GET forms
    page.click("a.sort:text('Requests')")
    expect(page).to_have_url(re.compile(r"sort=requests"))
    page.fill("input[name=q]", "baseline")
    page.click("#filters button[type=submit]")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    expect(page.locator("#runs tbody tr")).to_contain_text("compare baseline")

    page.goto(f"/compare?ids={first},{second}")
    table = page.locator("#compare-table")
    expect(table).to_contain_text("compare baseline")
    expect(table.locator("th.run-col").nth(1)).to_contain_text(f"compare {XSS_NAME}")
    expect(table).to_contain_text("baseline")
    expect(table.locator(".delta").first).to_have_text(re.compile(r"^[+−±]\d+(\.\d+)?%$"))
    # runs of under a second: too few seconds to tell them apart, so no delta is coloured
    expect(table.locator(".delta.better, .delta.worse")).to_have_count(0)
    expect(table.locator("tr:has(th:text-is('p50')) .delta")).to_have_attribute(
        "title", re.compile("too few seconds to tell"))
    for chart in ("#chart-rps", "#chart-p99", "#chart-curve"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    expect(page.locator("#chart-curve .u-legend")).to_contain_text("compare baseline")
    screenshot(page, "compare")


def test_compare_button_goes_to_the_compare_page(page: Page, dashboard):
    runs = dashboard.api("/api/runs?limit=2")["runs"]
    if len(runs) < 2:
        for _ in range(2 - len(runs)):
            start_from_form(page, dashboard, requests=50, concurrency=50, delay="0-0.05")
            wait_until_finished(page)
        runs = dashboard.api("/api/runs?limit=2")["runs"]
    page.goto("/runs")
    for run in runs:
        page.check(f'tr[data-run-id="{run["id"]}"] input.pick')
    page.click("#compare")
    expect(page).to_have_url(re.compile(rf"/compare\?ids={runs[0]['id']},{runs[1]['id']}$"))
    expect(page.locator("#compare-table th.run-col")).to_have_count(2)


def test_delete_asks_first_then_removes_the_row(page: Page, dashboard, watch):
    run = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0", "requests": 10, "concurrency": 5,
        "name": "to delete"})
    page.goto(f"/runs/{run['id']}")
    wait_until_finished(page)
    page.goto("/runs")
    row = page.locator(f'tr[data-run-id="{run["id"]}"]')
    row.locator("button.delete").click()          # dismissed: nothing happens
    expect(row).to_be_visible()
    watch.accept_confirms = True
    row.locator("button.delete").click()
    expect(row).to_have_count(0)
    assert [d for d in watch.dialogs if d.startswith("confirm:")] == [
        "confirm: Delete to delete and all its samples? This cannot be undone."] * 2
    assert dashboard.api("/api/runs?q=to%20delete")["total"] == 0


def test_preset_queues_its_second_run_and_links_to_compare(page: Page, dashboard, watch,
                                                          screenshot):
    page.goto("/")
    page.click("button[data-preset=sync-vs-async]")
    page.wait_for_url(RUN_URL)
    first = int(RUN_URL.search(page.url).group(1))
    note = page.locator("#then")
    expect(note).to_contain_text("queued")
    second = int(re.search(r"ids=\d+,(\d+)", note.locator("#compare-link")
                           .get_attribute("href")).group(1))
    expect(page.locator("#run-name")).to_have_text("article: sync, 100 requests")
    expect(page.locator("#completed")).not_to_have_text("—", timeout=10_000)
    screenshot(page, "run-preset")

    # one run at a time: the form says which run is in the way and keeps what was typed
    watch.allow("status of 409")
    run_page = page.url
    page.goto("/")
    page.fill("#f-name", "while busy")
    page.click("#start")
    expect(page.locator("#conflict")).to_contain_text("already in progress")
    expect(page.locator(f"#conflict a[href='/runs/{first}']")).to_have_text(
        "article: sync, 100 requests")
    expect(page.locator("#f-name")).to_have_value("while busy")
    page.goto(run_page)
    # the sync run takes minutes: stop it, the queued async run starts, both stay comparable
    page.click("#stop")
    expect(page.locator("#status")).to_have_text("stopped", timeout=15_000)
    expect(page.locator("#run-message")).to_contain_text("stopped")
    page.click(f"#then a[href='/runs/{second}']")
    expect(page.locator("#run-name")).to_have_text("article: async, 100 requests")
    wait_until_finished(page)
    page.goto(f"/compare?ids={first},{second}")
    expect(page.locator("#compare-table th.run-col")).to_have_count(2)
    expect(page.locator("#compare-table")).to_contain_text("stopped")


def test_missing_runs_and_bad_compare_ids_get_clear_error_pages(page: Page, watch, screenshot):
    watch.allow(r"status of 40[04]")
    response = page.goto("/runs/999999")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Run not found")
    response = page.goto("/compare?ids=1")
    assert response.status == 400
    expect(page.locator(".error-page")).to_contain_text("ids parameter")
    screenshot(page, "compare-bad-ids")
    response = page.goto("/compare?ids=1,x")
    assert response.status == 400
    response = page.goto("/compare?ids=999998,999999")
    assert response.status == 404
    expect(page.locator(".error-page")).to_contain_text("999998, 999999")


def test_the_live_page_reconnects_and_replays_when_its_socket_drops(page: Page, dashboard):
    connections = []

    def route(ws) -> None:
        server = ws.connect_to_server()
        connections.append(ws)
        if len(connections) > 1:
            return                                  # later connections pass through untouched
        forwarded = []

        def forward(message) -> None:               # the first one drops after two messages
            forwarded.append(message)
            ws.send(message)
            if len(forwarded) == 2:
                ws.close(code=1011, reason="test drop")
                server.close()
        server.on_message(forward)

    page.route_web_socket(re.compile(r"/api/runs/\d+/ws$"), route)
    run_id = start_from_form(page, dashboard, requests=300, concurrency=20, delay="0-0.3",
                             name="reconnect")
    wait_until_finished(page)
    assert len(connections) >= 2
    summary = dashboard.api(f"/api/runs/{run_id}")["summary"]
    expect(page.locator("#completed")).to_have_text(display.fmt_int(summary["requests"]))
    expect(page.locator('#summary [data-summary="latency_ms.p99"]')).to_have_text(
        display.fmt_ms(summary["latency_ms"]["p99"]))
    expect(page.locator("#chart-rps canvas")).to_have_count(1)
