"""The run page in a real browser: ETA, a preset's following runs and Stop all, failed
responses apart from errors, export names, masked secrets.

The ETA logic is checked by calling the page's own function (RunProgress in
static/js/show.js) through page.evaluate, on series built here.
"""
from __future__ import annotations

import random
import re
import socket

import pytest
from playwright.sync_api import Page, expect

RUN_URL = re.compile(r"/runs/(\d+)(\?.*)?$")


def start(dashboard, **spec) -> dict:
    run = dashboard.api("/api/runs", "POST", {"concurrency": 5, **spec})
    dashboard.wait_for(run["id"], {"finished", "stopped", "failed"})
    return run


@pytest.fixture(scope="module")
def finished_run(dashboard) -> int:
    return start(dashboard, url=f"{dashboard.target_url}{{i}}?delay=0", requests=10)["id"]


# -- ETA -------------------------------------------------------------------------------------

def eta(page: Page, samples: list[dict], **limits) -> float | None:
    return page.evaluate("args => RunProgress.etaSeconds(args)", {"samples": samples, **limits})


def seconds(counts: list[int]) -> list[dict]:
    return [{"second": i + 1, "elapsed_s": 1.0, "completed": n} for i, n in enumerate(counts)]


def test_eta_is_the_time_left_or_the_requests_left_at_the_recent_rate(page: Page,
                                                                       finished_run):
    page.goto(f"/runs/{finished_run}")
    steady = seconds([10] * 30)
    # a duration: the time left, whatever the rate
    assert eta(page, steady, limitS=60, completed=300, elapsedS=30) == 30
    # a request count: what is left at the rate (10/s)
    assert eta(page, steady, requests=500, completed=300, elapsedS=30) == pytest.approx(20)
    # both: whichever comes first
    assert eta(page, steady, requests=500, limitS=40, completed=300,
               elapsedS=30) == pytest.approx(10)
    # nothing to go on yet: no ETA rather than a wild one
    assert eta(page, seconds([1, 0, 1]), requests=100, completed=2, elapsedS=3) is None
    assert eta(page, [], requests=100) is None
    # early on, the whole-run average: 6 answers in 4 s
    assert eta(page, seconds([3, 0, 1, 2]), requests=100, completed=6,
               elapsedS=4) == pytest.approx(94 / 1.5, rel=0.05)
    # later, the recent rate: it went from 10/s to 2/s a minute ago
    slowed = seconds([10] * 60 + [2] * 60)
    left = eta(page, slowed, requests=2000, completed=720, elapsedS=120)
    assert 1280 / 2.5 < left < 1280 / 2


def test_eta_of_a_one_at_a_time_run_moves_smoothly(page: Page, finished_run):
    """The sync preset: 100 requests one after another, each 0-3 s. The ETA should count
    down about a second a second, not jump by a minute when two answers share a second."""
    page.goto(f"/runs/{finished_run}")
    for seed in (1, 2, 3):
        rng, t, ends = random.Random(seed), 0.0, []
        for _ in range(100):
            t += rng.uniform(0, 3)
            ends.append(t)
        counts = [0] * (int(t) + 1)
        for end in ends:
            counts[int(end)] += 1
        etas = page.evaluate(
            """counts => counts.map((_, i) => {
                 const samples = counts.slice(0, i + 1).map(
                   (n, j) => ({second: j + 1, elapsed_s: 1, completed: n}));
                 const done = samples.reduce((a, s) => a + s.completed, 0);
                 return RunProgress.etaSeconds({samples, requests: 100, completed: done,
                                                elapsedS: i + 1});
               })""", counts)
        # from 15 s on: each second the ETA should fall by one; how far it moves instead
        moves = [abs(b - (a - 1)) for a, b in zip(etas[15:-1], etas[16:-1])]
        assert all(e is not None for e in etas[15:-1])
        assert sum(moves) / len(moves) < 6, (seed, moves)
        assert max(moves) < 45, (seed, moves)
        # and it is about right: off by under a third of what is left, past 15 s
        actual = [len(counts) - (i + 1) for i in range(len(counts))]
        off = [abs(e - a) / max(a, 1) for e, a in zip(etas[15:-10], actual[15:-10])]
        assert sum(off) / len(off) < 0.33, (seed, off)


# -- a preset's following runs -----------------------------------------------------------------

def start_preset(page: Page) -> tuple[int, int]:
    page.goto("/")
    page.click("button[data-preset=sync-vs-async]")
    page.wait_for_url(RUN_URL)
    first = int(RUN_URL.search(page.url).group(1))
    item = page.locator("#then-runs li")
    expect(item).to_have_count(1)
    second = int(item.get_attribute("data-run-id"))
    expect(item.locator(".badge")).to_have_text("queued")
    expect(item.locator("a")).to_have_attribute("href", f"/runs/{second}")
    expect(page.locator("#compare-link")).to_have_attribute("href",
                                                           f"/compare?ids={first},{second}")
    return first, second


def test_the_following_run_shows_its_real_status_live(page: Page, dashboard):
    first, second = start_preset(page)
    expect(page.locator("#stop-all")).to_be_visible()
    page.click("#stop")         # only this one: the next starts
    expect(page.locator("#status")).to_have_text("stopped", timeout=15_000)
    expect(page.locator("#stop-all")).to_be_hidden()
    badge = page.locator(f'#then-runs li[data-run-id="{second}"] .badge')
    expect(badge).to_have_text("finished", timeout=20_000)      # no reload: from the API
    expect(badge).to_have_class(re.compile("status-finished"))
    expect(page.locator("#then-runs")).not_to_contain_text("queued")
    assert dashboard.api(f"/api/runs/{second}")["status"] == "finished"
    page.reload()
    expect(page.locator(f'#then-runs li[data-run-id="{second}"] .badge')).to_have_text(
        "finished")


def test_stop_all_stops_the_run_and_the_queued_one(page: Page, dashboard, screenshot):
    first, second = start_preset(page)
    screenshot(page, "run-preset-stop-all")
    page.click("#stop-all")
    expect(page.locator("#status")).to_have_text("stopped", timeout=15_000)
    expect(page.locator(f'#then-runs li[data-run-id="{second}"] .badge')).to_have_text(
        "stopped")
    expect(page.locator("#stop-all")).to_be_hidden()
    dashboard.wait_for(first, {"stopped"})
    run = dashboard.api(f"/api/runs/{second}")
    assert (run["status"], run["started_at"], run["summary"]) == ("stopped", None, None)
    assert dashboard.api("/healthz")["active_run"] is None


def test_a_following_run_that_does_not_exist_is_not_announced(page: Page, finished_run):
    page.goto(f"/runs/{finished_run}?then=999999")
    expect(page.locator("#status")).to_have_text("finished")
    expect(page.locator("#then")).to_have_count(0)


# -- failed responses, errors, no latency -------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failed_responses_and_errors_are_counted_and_listed_apart(page: Page, dashboard):
    failing = start(dashboard, url=f"{dashboard.target_url}{{i}}?delay=0&status=500",
                    requests=20)
    page.goto(f"/runs/{failing['id']}")
    expect(page.locator("#status")).to_have_text("finished")
    expect(page.locator("#failed")).to_have_text("20")
    expect(page.locator("#errors")).to_have_text("0")
    expect(page.locator("#failed-table tbody tr")).to_have_count(1)
    expect(page.locator("#failed-table tbody tr td").nth(0)).to_have_text("500")
    expect(page.locator("#failed-table tbody tr td").nth(1)).to_have_text("20")
    expect(page.locator("#error-table tbody")).to_have_text("No errors.")

    refused = start(dashboard, url=f"http://127.0.0.1:{closed_port()}/", requests=6)
    page.goto(f"/runs/{refused['id']}")
    expect(page.locator("#status")).to_have_text("finished")
    expect(page.locator("#errors")).to_have_text("6")
    expect(page.locator("#failed")).to_have_text("0")
    expect(page.locator("#failed-table tbody")).to_have_text("No failed responses.")
    row = page.locator("#error-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("connection_refused")
    expect(row.locator("td").nth(1)).to_have_text("6")
    expect(row.locator("td").nth(2)).to_contain_text("127.0.0.1")
    # no response, no latency: a dash, never "0.00 ms"
    for key in ("latency_ms.mean", "latency_ms.p50", "latency_ms.p99", "latency_ms.max"):
        expect(page.locator(f'#summary [data-summary="{key}"]')).to_have_text("—")
    expect(page.locator("#summary")).not_to_contain_text("0.00 ms")


# -- exports and secrets -------------------------------------------------------------------------

def test_exports_are_named_by_the_server(page: Page, finished_run):
    page.goto(f"/runs/{finished_run}")
    for link, name in (("#export-json", f"stampede-run-{finished_run}.json"),
                       ("#export-csv", f"stampede-run-{finished_run}.csv")):
        with page.expect_download() as download:
            page.click(link)
        assert download.value.suggested_filename == name


def test_the_run_page_masks_secrets_and_run_again_keeps_them(page: Page, dashboard):
    run = start(dashboard, url=f"{dashboard.target_url}{{i}}?delay=0&api_key=qu3ry-key",
                requests=5, headers=["Authorization: Bearer br0wser-secret",
                                     "X-Auth-Token: h3ader-token"])
    assert dashboard.api(f"/api/runs/{run['id']}")["summary"]["ok"] == 5
    page.goto(f"/runs/{run['id']}")
    expect(page.locator("#status")).to_have_text("finished")
    html = page.content()
    for secret in ("br0wser-secret", "h3ader-token", "qu3ry-key"):
        assert secret not in html
    expect(page.locator("#spec-table")).to_contain_text("Authorization: Bearer ••••••")
    expect(page.locator("#run-url")).to_contain_text("api_key=••••••")
    page.click("#run-again")
    expect(page.locator("#f-headers")).to_have_value(
        "Authorization: Bearer br0wser-secret\nX-Auth-Token: h3ader-token")
    expect(page.locator("#f-url")).to_have_value(re.compile("api_key=qu3ry-key"))
