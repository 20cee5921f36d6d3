"""History page details (pages past the end, the count after a delete, Unicode search)
and the form's guard against a count that cuts an open run's schedule short."""
from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

RUN_URL = re.compile(r"/runs/(\d+)$")
FINISH_TIMEOUT_S = 30.0


def wait_until(dashboard, run_id: int, statuses: set[str]) -> dict:
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    while (run := dashboard.api(f"/api/runs/{run_id}"))["status"] not in statuses:
        assert time.monotonic() < deadline, run["status"]
        time.sleep(0.1)
    return run


def quick_run(dashboard, name: str) -> int:
    run = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0", "requests": 5, "concurrency": 5,
        "name": name})
    wait_until(dashboard, run["id"], {"finished"})
    return run["id"]


def total(dashboard, q: str = "") -> int:
    return dashboard.api(f"/api/runs?q={q}")["total"]


def test_a_page_past_the_last_says_so_and_links_back(page: Page, dashboard):
    quick_run(dashboard, "past the end")
    count = total(dashboard)
    page.goto("/runs?page=99&sort=name&order=asc")
    expect(page.locator("#run-count")).to_have_text(f"{count} run{'s' if count != 1 else ''}")
    empty = page.locator("#runs tr.empty")
    expect(empty).to_contain_text("No runs on page 99: there is 1 page.")
    expect(empty).not_to_contain_text("yet")
    page.click("#last-page")
    expect(page).to_have_url(re.compile(r"/runs\?sort=name&order=asc$"))
    expect(page.locator("#runs tbody tr[data-run-id]")).to_have_count(count)


def test_the_count_follows_a_delete(page: Page, dashboard, watch):
    ids = [quick_run(dashboard, f"count me {n}") for n in range(2)]
    watch.accept_confirms = True
    page.goto("/runs")
    count = total(dashboard)
    expect(page.locator("#run-count")).to_have_text(f"{count} runs")
    page.locator(f'tr[data-run-id="{ids[0]}"] button.delete').click()
    expect(page.locator(f'tr[data-run-id="{ids[0]}"]')).to_have_count(0)
    expect(page.locator("#run-count")).to_have_text(f"{count - 1} run{'s' if count != 2 else ''}")
    assert total(dashboard) == count - 1

    # under a filter: "1 run matching", then "0 runs matching" and a row that says so
    page.goto("/runs?q=count+me+1")
    expect(page.locator("#run-count")).to_have_text("1 run matching")
    page.locator(f'tr[data-run-id="{ids[1]}"] button.delete').click()
    expect(page.locator("#run-count")).to_have_text("0 runs matching")
    expect(page.locator("#runs tr.empty")).to_have_text("No runs left.")


def test_search_is_unicode_case_insensitive(page: Page, dashboard):
    run_id = quick_run(dashboard, "Ünïcödé Straße")
    page.goto("/runs")
    page.fill("input[name=q]", "ünï")
    page.click("#filters button[type=submit]")
    expect(page.locator("#runs tbody tr[data-run-id]")).to_have_count(1)
    expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_be_visible()
    page.goto("/runs?q=STRASSE")
    expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_be_visible()


def test_the_open_model_does_not_keep_the_closed_models_count(page: Page):
    page.goto("/")
    expect(page.locator("#f-requests")).to_have_value("1000")
    page.check("input[name=model][value=open]")
    expect(page.locator("#f-requests")).to_have_value("")
    page.check("input[name=model][value=closed]")
    expect(page.locator("#f-requests")).to_have_value("1000")
    # a count the person typed stays whatever the model
    page.fill("#f-requests", "250")
    page.check("input[name=model][value=open]")
    expect(page.locator("#f-requests")).to_have_value("250")


def fill_staged_run(page: Page, dashboard, requests: str) -> None:
    page.goto("/")
    page.fill("#f-url", f"{dashboard.target_url}{{i}}?delay=0")
    page.fill("#f-name", "staged")
    page.check("input[name=model][value=open]")
    page.fill("#f-rate", "50")
    page.fill("#f-stages", "10s:100, 10s:500")
    page.fill("#f-requests", requests)


def test_a_count_that_cuts_the_stages_short_is_asked_about_first(page: Page, dashboard):
    before = total(dashboard)
    fill_staged_run(page, dashboard, "1000")
    page.click("#start")
    warning = page.locator("#schedule-warning")
    expect(warning).to_contain_text("1,000 requests end this run after about 11.8 s")
    expect(warning).to_contain_text("stages end at 20 s")
    assert total(dashboard) == before                        # nothing started
    expect(page.locator("#f-requests")).to_have_value("1000")          # kept as typed
    expect(page.locator("#f-stages")).to_have_value("10s:100, 10s:500")
    expect(page.locator("input[name=model][value=open]")).to_be_checked()

    page.click("#start-anyway")                              # the person's call
    page.wait_for_url(RUN_URL)
    run_id = int(RUN_URL.search(page.url).group(1))
    try:
        run = dashboard.api(f"/api/runs/{run_id}")
        assert run["spec"]["requests"] == 1000 and run["spec"]["rate"] == 50
    finally:
        dashboard.api(f"/api/runs/{run_id}/stop", "POST")
        wait_until(dashboard, run_id, {"stopped", "finished"})


def test_changed_values_are_asked_about_again(page: Page, dashboard):
    before = total(dashboard)
    fill_staged_run(page, dashboard, "1000")
    page.click("#start")
    expect(page.locator("#schedule-warning")).to_contain_text("1,000 requests")
    page.fill("#f-requests", "2000")                 # a different count, a different answer
    page.click("#start-anyway")
    expect(page.locator("#schedule-warning")).to_contain_text("2,000 requests")
    assert total(dashboard) == before


def test_without_a_count_the_stages_run_without_a_question(page: Page, dashboard):
    fill_staged_run(page, dashboard, "")
    page.click("#start")
    page.wait_for_url(RUN_URL)
    run_id = int(RUN_URL.search(page.url).group(1))
    try:
        assert dashboard.api(f"/api/runs/{run_id}")["spec"]["requests"] is None
    finally:
        dashboard.api(f"/api/runs/{run_id}/stop", "POST")
        wait_until(dashboard, run_id, {"stopped", "finished"})


def test_history_and_compare_mask_secrets_in_urls(page: Page, dashboard):
    secret = "sekrit-7f3a9"
    run = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0&token={secret}", "requests": 5,
        "concurrency": 5, "name": "with a token", "headers": [f"Authorization: Bearer {secret}"]})
    wait_until(dashboard, run["id"], {"finished"})
    other = quick_run(dashboard, "no token")
    for path in ("/runs", f"/compare?ids={run['id']},{other}"):
        page.goto(path)
        expect(page.locator(f'[data-run-id="{run["id"]}"]').first).to_be_visible()
        assert secret not in page.content(), path
