"""Workloads in a real browser (issue #7): the form's list mode with a pasted Vegeta list and
a CSV, files loaded into it, the preview, the live endpoint table and charts filtered to one
endpoint, a bad targets line named inline, Run again in list mode, the Mixed API preset;
axe-core on the form in list mode and on a run page with endpoints."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from app.web import display

RUN_URL = re.compile(r"/runs/(\d+)$")
USERS = "user,term\nann,shoes\nbob,red hats\ncy,lamps\n"


def vegeta(target: str) -> str:
    """Two endpoints: a quick one by user, a slower search by term (about 2 s at 10 in flight)."""
    return (f"GET {target}users/{{user}}?n={{i}}&delay=0.01-0.03\n"
            "Accept: application/json\n\n"
            f"GET {target}search?q={{term}}&delay=0.05-0.1\n")


def fill_list(page: Page, dashboard, *, requests: str = "40") -> None:
    page.goto("/")
    page.check("#mode-list")
    page.fill("#f-targets_text", vegeta(dashboard.target_url))
    page.fill("#f-data_csv", USERS)
    page.fill("#f-requests", requests)
    page.fill("#f-concurrency", "10")
    page.fill("#f-name", "two endpoints")


def run_id(page: Page) -> int:
    expect(page).to_have_url(RUN_URL)
    return int(RUN_URL.search(page.url).group(1))


def cell(page: Page, name: str, column: str):
    return page.locator(f'#endpoint-table tr[data-endpoint="{name}"] td[data-col="{column}"]')


def number(text: str) -> float:
    return float(text.replace(",", "").replace(" ms", ""))


# -- the form ---------------------------------------------------------------------------------

def test_list_mode_previews_the_first_requests_then_runs_with_a_live_endpoint_table(
        page: Page, dashboard, screenshot, axe):
    fill_list(page, dashboard, requests="1200")      # about 6 s: several live seconds
    expect(page.locator("#f-url")).to_be_hidden()            # one request's inputs step aside
    page.click("#preview-button")
    total = page.locator("#preview-total")
    expect(total).to_have_text("1,200 requests in total · 2 targets · 2 endpoint names · "
                               "3 data rows.")
    items = page.locator("#preview .preview-request")
    expect(items).to_have_count(5)
    target = dashboard.target_url
    # placeholders filled: request i uses target i mod 2 and row i mod 3 (sequence orders)
    expect(items.nth(0).locator("pre")).to_have_text(
        f"GET {target}users/ann?n=0&delay=0.01-0.03\nAccept: application/json")
    expect(items.nth(1).locator("pre")).to_have_text(f"GET {target}search?q=red%20hats&delay=0.05-0.1")
    expect(items.nth(3).locator("pre")).to_have_text(f"GET {target}search?q=shoes&delay=0.05-0.1")
    expect(items.nth(4)).to_contain_text("GET /users/{user}")
    expect(items.nth(4).locator("pre")).to_contain_text("users/bob?n=4&")
    screenshot(page, "form-list-preview")
    axe(page, "the new run form in list mode, with a preview")

    page.click("#start")
    rid = run_id(page)
    names = ["GET /search", "GET /users/{user}"]
    expect(page.locator("#endpoint-table tbody.endpoint-rows tr")).to_have_count(2)
    # live: the totals grow second by second while the run goes on
    first = cell(page, "GET /users/{user}", "requests")
    expect(first).not_to_have_text("—")
    seen = first.text_content()
    expect(first).not_to_have_text(seen, timeout=10_000)
    screenshot(page, "run-endpoints-live")

    # choosing an endpoint filters the req/s and latency charts to it, and says so
    page.get_by_label("GET /search", exact=True).check()
    expect(page.locator("#chart-rps-scope")).to_have_text("endpoint: GET /search")
    expect(page.locator("#chart-latency-scope")).to_have_text("endpoint: GET /search")
    expect(page.locator("#chart-status-scope")).to_have_text("all endpoints")

    run = dashboard.wait_for(rid, {"finished"})
    endpoints = run["summary"]["endpoints"]
    assert sorted(endpoints) == names
    assert sum(e["requests"] for e in endpoints.values()) == 1200
    expect(page.locator("#status")).to_have_text("finished")
    # the finished table: the stored summary's numbers
    for name in names:
        expect(cell(page, name, "requests")).to_have_text(display.fmt_int(endpoints[name]["requests"]))
        expect(cell(page, name, "p99")).to_have_text(display.fmt_ms(endpoints[name]["latency_ms"]["p99"]))
    expect(page.locator('#endpoint-table th[data-sort="rps"]')).to_have_text("req/s (mean)")
    axe(page, "a finished run with endpoints, one chosen")

    # the charts' tables show the chosen endpoint's share of each second
    samples = dashboard.api(f"/api/runs/{rid}/series")["samples"]
    page.locator("#chart-rps + .chart-table-toggle").click()
    expect(page.locator("#chart-rps-table caption")).to_contain_text("endpoint: GET /search")
    shown = page.locator("#chart-rps-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert len(shown) == len(samples)
    for row, sample in zip(shown, samples):
        expected = sample["endpoints"].get("GET /search", {"rps": 0})["rps"]
        assert number(row[1]) == pytest.approx(expected, abs=0.5 if expected >= 100 else 0.006)
    assert any(number(row[1]) != pytest.approx(s["rps"], abs=0.5) for row, s in zip(shown, samples))
    page.locator("#chart-latency + .chart-table-toggle").click()
    latency = page.locator("#chart-latency-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    for row, sample in zip(latency, samples):
        search = sample["endpoints"].get("GET /search")
        assert row[3] == (display.fmt_ms(search["latency_ms"]["p99"]) if search else "—")
    screenshot(page, "run-endpoints-filtered")

    # back to all: the whole run's numbers again
    page.get_by_label("All endpoints").check()
    expect(page.locator("#chart-rps-scope")).to_have_text("all endpoints")
    first_rps = page.locator("#chart-rps-table tbody tr").first.locator("td").first
    expect(first_rps).to_have_text(re.compile(r"^[\d,.]+$"))
    assert number(first_rps.text_content()) == pytest.approx(samples[0]["rps"], abs=0.5)


def test_the_endpoint_table_sorts_by_any_column(page: Page, dashboard):
    run = dashboard.api("/api/runs", "POST", {
        "targets": [{"method": "GET", "url": f"{dashboard.target_url}fast?delay=0", "name": "b fast"},
                    {"method": "GET", "url": f"{dashboard.target_url}slow?delay=0.05", "name": "a slow"},
                    {"method": "GET", "url": f"{dashboard.target_url}mid?delay=0.02", "name": "c mid",
                     "weight": 2}],
        "order": "weighted", "requests": 120, "concurrency": 6})
    dashboard.wait_for(run["id"], {"finished"})
    page.goto(f"/runs/{run['id']}")
    rows = page.locator("#endpoint-table tbody.endpoint-rows tr")
    expect(rows).to_have_count(3)
    order = lambda: rows.evaluate_all("rows => rows.map(r => r.dataset.endpoint)")  # noqa: E731
    name = page.locator('#endpoint-table th[data-sort="name"]')
    expect(name).to_have_attribute("aria-sort", "ascending")
    assert order() == ["a slow", "b fast", "c mid"]
    p99 = page.locator('#endpoint-table th[data-sort="p99"]')
    p99.get_by_role("button").click()
    expect(p99).to_have_attribute("aria-sort", "descending")
    expect(name).not_to_have_attribute("aria-sort", re.compile(".*"))
    assert order() == ["a slow", "c mid", "b fast"]          # slowest first
    p99.get_by_role("button").click()
    expect(p99).to_have_attribute("aria-sort", "ascending")
    assert order() == ["b fast", "c mid", "a slow"]
    total = page.locator('#endpoint-table th[data-sort="requests"]')
    total.get_by_role("button").click()
    summary = dashboard.api(f"/api/runs/{run['id']}")["summary"]["endpoints"]
    assert order() == sorted(summary, key=lambda n: (-summary[n]["requests"], n))


def test_a_bad_targets_line_is_shown_inline_naming_the_line(page: Page, dashboard, watch):
    watch.allow("status of 400")
    fill_list(page, dashboard)
    bad = f"GET {dashboard.target_url}a\n\n{dashboard.target_url}b\n"
    page.fill("#f-targets_text", bad)
    # the preview says so first, next to the textarea
    page.click("#preview-button")
    error = page.locator("#targets_text-error")
    expect(error).to_contain_text("targets line 3: expected a target line 'METHOD URL'")
    expect(error).to_contain_text("put the method first")
    expect(page.locator("#preview-errors")).to_contain_text("targets_text")
    # and the server, on Start, with every value kept
    page.click("#start")
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#targets_text-error")).to_contain_text("targets line 3")
    expect(page.locator("#f-targets_text")).to_have_value(bad)
    expect(page.locator("#f-targets_text")).to_be_focused()
    expect(page.locator("#f-data_csv")).to_have_value(USERS)
    expect(page.locator("#mode-list")).to_be_checked()
    expect(page.locator("#f-name")).to_have_value("two endpoints")


def test_run_again_refills_list_mode(page: Page, dashboard):
    fill_list(page, dashboard)
    page.select_option("#f-order", "weighted")
    page.fill("#f-seed", "42")
    page.select_option("#f-data_order", "random")
    page.click("#start")
    first = run_id(page)
    dashboard.wait_for(first, {"finished"})
    page.click("#run-again")
    expect(page.locator("#mode-list")).to_be_checked()
    expect(page.locator("#f-targets_format")).to_have_value("jsonl")
    lines = [json.loads(line) for line in page.locator("#f-targets_text").input_value().splitlines()]
    assert [t["url"] for t in lines] == [
        f"{dashboard.target_url}users/{{user}}?n={{i}}&delay=0.01-0.03",
        f"{dashboard.target_url}search?q={{term}}&delay=0.05-0.1"]
    assert lines[0]["headers"] == [["Accept", "application/json"]]
    expect(page.locator("#f-data_csv")).to_have_value(USERS)
    expect(page.locator("#f-order")).to_have_value("weighted")
    expect(page.locator("#f-seed")).to_have_value("42")
    expect(page.locator("#f-data_order")).to_have_value("random")
    page.click("#start")
    again = run_id(page)
    assert again != first
    dashboard.wait_for(again, {"finished"})
    specs = [dashboard.api(f"/api/runs/{i}")["spec"] for i in (first, again)]
    assert specs[0] == specs[1]


def test_files_load_into_the_textareas_and_a_big_one_is_sent_as_the_file(page: Page, dashboard,
                                                                        tmp_path, screenshot):
    lines = tmp_path / "api.jsonl"
    lines.write_text(json.dumps({"method": "GET", "url": f"{dashboard.target_url}u/{{user}}?delay=0",
                                 "name": "user"}) + "\n")
    users = tmp_path / "users.csv"          # above the 256 KiB a textarea is given
    users.write_text("user\n" + "".join(f"u{n:07d}\n" for n in range(40_000)))
    page.goto("/")
    page.check("#mode-list")
    page.set_input_files("#f-targets_file", str(lines))
    expect(page.locator("#f-targets_text")).to_have_value(lines.read_text())
    expect(page.locator("#f-targets_format")).to_have_value("jsonl")      # from the extension
    expect(page.locator("#targets_text-file-status")).to_have_text(re.compile(r"Loaded api\.jsonl"))
    page.set_input_files("#f-data_file", str(users))
    expect(page.locator("#data_csv-file-status")).to_contain_text("will be sent as the file")
    expect(page.locator("#f-data_csv")).to_be_disabled()
    page.fill("#f-requests", "6")
    page.click("#preview-button")
    expect(page.locator("#preview-total")).to_contain_text("40,000 data rows")
    expect(page.locator("#preview .preview-request pre").nth(2)).to_have_text(
        f"GET {dashboard.target_url}u/u0000002?delay=0")
    screenshot(page, "form-list-files")
    page.click("#start")
    rid = run_id(page)
    run = dashboard.wait_for(rid, {"finished"})
    assert run["spec"]["data"] == {"rows": 40_000, "columns": ["user"]}
    # Run again: too big for the page, so kept from the stored run
    page.goto(f"/?from={rid}")
    expect(page.locator("#data_csv-kept")).to_contain_text("40,000 data rows")
    expect(page.locator("#f-data_csv")).to_have_value("")
    page.click("#preview-button")
    expect(page.locator("#preview")).to_contain_text("cannot be previewed")
    page.click("#start")
    again = run_id(page)
    assert dashboard.wait_for(again, {"finished"})["spec"]["data"]["rows"] == 40_000


def test_list_mode_works_without_javascript(browser, dashboard, tmp_path):
    """The stylesheet switches the modes and the file input posts the file."""
    context = browser.new_context(base_url=dashboard.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#f-targets_text")).to_be_hidden()
        expect(page.locator("#preview-button")).to_be_hidden()      # it needs the script
        page.check("#mode-list")
        expect(page.locator("#f-targets_text")).to_be_visible()
        expect(page.locator("#f-url")).to_be_hidden()
        targets = tmp_path / "api.txt"
        targets.write_text(vegeta(dashboard.target_url))
        page.set_input_files("#f-targets_file", str(targets))
        page.fill("#f-data_csv", USERS)
        page.fill("#f-requests", "8")
        page.click("#start")
        rid = run_id(page)
        run = dashboard.wait_for(rid, {"finished"})
        assert sorted(run["summary"]["endpoints"]) == ["GET /search", "GET /users/{user}"]
    finally:
        context.close()


def test_a_file_above_its_limit_is_refused_when_chosen(page: Page, dashboard, tmp_path):
    har = tmp_path / "big.har"
    with open(har, "wb") as f:                # sparse: 51 MiB without writing them
        f.truncate(51 * 2**20)
    page.goto("/")
    page.check("#mode-list")
    page.set_input_files("#f-targets_file", str(har))
    expect(page.locator("#targets_text-error")).to_have_text(
        "the file big.har is 51.0 MiB, above the limit of 50.0 MiB for a har targets file")
    expect(page.locator("#f-targets_format")).to_have_value("har")
    assert page.locator("#f-targets_file").input_value() == ""       # not posted


# -- the preset ---------------------------------------------------------------------------------

def test_the_mixed_api_preset_shows_the_endpoint_table(page: Page, dashboard, screenshot, axe):
    page.goto("/")
    page.click("button[data-preset=mixed-api]")
    rid = run_id(page)
    rows = page.locator("#endpoint-table tbody.endpoint-rows tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#endpoint-table")).to_contain_text("POST /login")
    expect(cell(page, "GET /search", "rps")).to_have_text(re.compile(r"^\d"), timeout=10_000)
    expect(page.locator("#run-url")).to_contain_text("4 targets (4 endpoints)")
    axe(page, "a live run with endpoints")
    screenshot(page, "run-mixed-api-live")
    run = dashboard.wait_for(rid, {"finished"}, timeout_s=60)
    endpoints = run["summary"]["endpoints"]
    assert len(endpoints) == 4 and sum(e["requests"] for e in endpoints.values()) == 3000
    assert all(e["failed"] == 0 and e["errors"] == 0 for e in endpoints.values())
    # the slower search is the slowest endpoint
    slowest = max(endpoints, key=lambda n: endpoints[n]["latency_ms"]["p50"])
    assert slowest == "GET /search"
    expect(cell(page, "POST /login", "requests")).to_have_text(
        display.fmt_int(endpoints["POST /login"]["requests"]))
    screenshot(page, "run-mixed-api-finished")


def test_compare_shows_the_shared_endpoints(page: Page, dashboard, axe):
    ids = []
    for delay in ("0", "0.01"):
        run = dashboard.api("/api/runs", "POST", {
            "targets": [{"method": "GET", "url": f"{dashboard.target_url}a?delay={delay}"},
                        {"method": "POST", "url": f"{dashboard.target_url}b?delay={delay}"}],
            "requests": 40, "concurrency": 4})
        dashboard.wait_for(run["id"], {"finished"})
        ids.append(run["id"])
    page.goto(f"/compare?ids={ids[0]},{ids[1]}")
    table = page.locator("#endpoint-compare")
    expect(table.locator("tbody[data-endpoint]")).to_have_count(2)
    group = table.locator('tbody[data-endpoint="GET /a"]')
    requests = group.locator("tr").filter(has_text="Requests").locator("td")
    expect(requests).to_have_text(["20", "20 ±0.0%"])           # 40 over 2 targets, each
    axe(page, "compare with endpoints")


# -- the scripts' pure helpers ------------------------------------------------------------------

def test_the_forms_pure_helpers(page: Page):
    page.goto("/")
    formats = page.evaluate("names => names.map(NewRunForm.formatForName)",
                            ["a.HAR", "b.jsonl", "c.ndjson", "d.txt", "e", "f.har.txt"])
    assert formats == ["har", "jsonl", "jsonl", "vegeta", "vegeta", "vegeta"]
    sizes = page.evaluate("xs => xs.map(NewRunForm.size)", [0, 1023, 1024, 262144, 50 * 2**20])
    assert sizes == ["0 B", "1023 B", "1.0 KiB", "256.0 KiB", "50.0 MiB"]     # as form.format_size
    placed = page.evaluate("""() => [
        NewRunForm.placeErrors({url: "is required", seed: "bad"}, "list"),
        NewRunForm.placeErrors({targets: "targets[0].url: x", targets_text: "line 2"}, "list"),
        NewRunForm.placeErrors({url: "has no host"}, "one")]""")
    assert placed == [{"targets_text": "paste a list of targets or choose a file", "seed": "bad"},
                      {"targets_text": "targets[0].url: x"}, {"url": "has no host"}]


def test_the_endpoint_tables_pure_helpers(page: Page, dashboard):
    run = dashboard.api("/api/runs", "POST", {"url": f"{dashboard.target_url}x", "requests": 1})
    dashboard.wait_for(run["id"], {"finished"})
    page.goto(f"/runs/{run['id']}")              # every run page loads endpoints.js
    rows = [{"name": "b", "p99": 5}, {"name": "a", "p99": None}, {"name": "c", "p99": 5},
            {"name": "d", "p99": 9}]
    order = page.evaluate("""rows => [true, false].map(d =>
        Endpoints.sortRows(rows, "p99", d).map(r => r.name))""", rows)
    assert order == [["d", "b", "c", "a"], ["b", "c", "d", "a"]]     # "—" last, ties by name
    assert page.evaluate("rows => Endpoints.sortRows(rows, 'name', true).map(r => r.name)",
                         rows) == ["d", "c", "b", "a"]
    shown = page.evaluate("""() => {
        const stats = (n, rps) => ({requests: n, ok: n, failed: 0, errors: 0, rps,
                                    latency_ms: {p50: 1, p90: 2, p99: 3, max: 4}});
        const totals = {...stats(30, 15), endpoints: {a: stats(20, 10), b: stats(10, 5)}};
        const last = {rps: 7, endpoints: {a: {rps: 7}}};
        return [Endpoints.rowsFrom({names: ["a", "b", "c"], totals, last, live: true}),
                Endpoints.rowsFrom({names: ["a"], totals, last: undefined, live: true}),
                Endpoints.rowsFrom({names: ["a", "b"], totals, last, live: false})];
    }""")
    live, before, done = shown
    # no answer this second: 0/s; none yet: 0 requests, and no latency ("—", not 0)
    assert [(r["name"], r["rps"], r["requests"]) for r in live["rows"]] == [
        ("a", 7, 20), ("b", 0, 10), ("c", 0, 0)]
    assert live["rows"][2]["p99"] is None and live["all"]["rps"] == 7
    assert [r["name"] for r in before["rows"]] == ["a", "b"] and before["rows"][0]["rps"] is None
    empty = page.evaluate("Endpoints.rowsFrom({names: ['a'], totals: null, last: undefined, live: true})")
    assert empty["rows"][0]["requests"] is None and empty["all"]["requests"] is None
    assert [r["rps"] for r in done["rows"]] == [10, 5] and done["all"]["rps"] == 15
