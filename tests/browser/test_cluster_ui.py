"""Where a run's load comes from, in a real browser against a real dashboard on the local
backend (issue #9): the form says runs go to this machine; a run's page lists its one node
live and over the run; a past Ray run's page (stored through the store API, as the dashboard
stores one) lists its two nodes with the bottleneck, its clock skew and its lost worker, all
as text, whatever the hosts and details say.
"""
from __future__ import annotations

import asyncio
import os
import threading

import pytest
from playwright.sync_api import Page, expect

from app.engine.snapshot import Summary
from app.spec import parse_spec
from app.status import RunStatus
from app.store import db as store_db
from app.store import runs as store

HEAD = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c"
WORKER = "ffee0011223344556677889900aabbccddeeff00112233445566778899"
# what other machines report reaches the page as text, never markup
WORKER_HOST = "ray-<b>worker</b>"
LOST_DETAIL = "the actor died: <img src=x> node removed"


def past_ray_summary() -> dict:
    """A finished Ray run's stored summary: two nodes of two workers each, the second
    saturated (190% over two workers: 95% of a core each), worker 3 lost in second 14."""
    return {**Summary().to_dict(), "requests": 1000, "ok": 1000, "duration_s": 20.0,
            "backend": "ray",
            "nodes": {HEAD: {"host": "ray-head", "workers": 2, "requests": 600,
                             "cpu_percent": 60.0, "peak_rss_mb": 80.5},
                      WORKER: {"host": WORKER_HOST, "workers": 2, "requests": 400,
                               "cpu_percent": 190.0, "peak_rss_mb": 91.0}},
            "lost_workers": [{"worker": 3, "node": WORKER, "host": WORKER_HOST, "second": 14,
                              "detail": LOST_DETAIL}],
            "clock_skew_ms": {"0": 0.0, "1": -1.5, "2": 3.25, "3": 2.0}}


async def _store_runs(db_path: str, target_url: str) -> tuple[int, int]:
    """A past Ray run, and one stored before per-node figures existed (none of the keys)."""
    spec = parse_spec({"url": target_url, "requests": 1000, "workers": 4}).to_dict(with_data=True)
    db = await store_db.open_db(db_path)
    try:
        ids = []
        for name, summary in (("past ray run", past_ray_summary()),
                              ("before nodes", Summary().to_dict())):
            run = await store.create_run(db, {**spec, "name": name}, status=RunStatus.RUNNING)
            await store.finish_run(db, run.id, RunStatus.FINISHED, summary)
            ids.append(run.id)
        return ids[0], ids[1]
    finally:
        await db.close()


def store_past_runs(db_path: str, target_url: str) -> tuple[int, int]:
    # a thread of its own: the sync Playwright API runs an event loop in this one
    out: dict = {}

    def work() -> None:
        try:
            out["ids"] = asyncio.run(_store_runs(db_path, target_url))
        except BaseException as exc:  # re-raised below, in the test
            out["error"] = exc
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["ids"]


def node_rows(page: Page):
    return page.locator("#node-table tbody tr")


def test_the_form_says_runs_go_to_this_machine(page: Page):
    page.goto("/")
    where = page.locator("#where")
    expect(where).to_contain_text("this machine")
    expect(where).to_contain_text(f"({os.cpu_count()} CPU")
    expect(where).not_to_have_class("where error")


def test_a_finished_runs_page_lists_its_one_node_and_its_requests(page: Page, dashboard):
    run = dashboard.api("/api/runs", "POST", {"url": f"{dashboard.target_url}{{i}}?delay=0",
                                              "requests": 20, "concurrency": 5, "workers": 1})
    stored = dashboard.wait_for(run["id"], {"finished", "failed", "stopped"})
    assert stored["status"] == "finished", stored
    page.goto(f"/runs/{run['id']}")
    expect(page.locator("#nodes")).to_be_visible()
    expect(node_rows(page)).to_have_count(1)
    row = node_rows(page).first
    expect(row.locator("th")).to_contain_text("(this machine)")
    expect(page.locator("#node-table thead")).to_contain_text("Requests")
    expect(row.locator("td").nth(0)).to_have_text("1")          # workers
    expect(row.locator("td").nth(1)).to_have_text("20")         # requests
    # one machine: the health verdict above says all; no node verdict, no skew, no losses
    expect(page.locator("#nodes-verdict")).to_be_hidden()
    expect(page.locator("#clock-skew")).to_be_hidden()
    expect(page.locator("#lost-workers")).to_be_hidden()


def test_a_live_run_lists_its_node_each_second_then_over_the_run(page: Page, dashboard):
    run = dashboard.api("/api/runs", "POST", {"url": f"{dashboard.target_url}{{i}}?delay=0",
                                              "duration": "60s", "concurrency": 2,
                                              "workers": 1})
    page.goto(f"/runs/{run['id']}")
    head = page.locator("#node-table thead")
    expect(head).to_contain_text("req/s")                       # live: its last second
    expect(head).to_contain_text("Loop lag")
    expect(node_rows(page)).to_have_count(1)
    page.locator("#stop").click()
    expect(page.locator("#status")).to_have_text("stopped")
    expect(head).to_contain_text("Requests")                    # ended: over the run
    summary = dashboard.api(f"/api/runs/{run['id']}")["summary"]
    assert summary["nodes"]["local"]["requests"] == summary["requests"] > 0
    expect(node_rows(page).first.locator("td").nth(1)).to_have_text(f"{summary['requests']:,}")


def test_a_past_ray_run_shows_its_nodes_bottleneck_skew_and_lost_worker(page: Page, dashboard):
    page.goto("/runs")
    db_path = page.locator("#db-size code").inner_text()         # where the dashboard keeps runs
    ray_run, old_run = store_past_runs(db_path, dashboard.target_url)

    page.goto(f"/runs/{ray_run}")
    lost = page.locator("#lost-list li")
    expect(lost).to_have_count(1)
    expect(lost).to_have_text(f"Worker 3 on host {WORKER_HOST} (node {WORKER[:8]}) lost in "
                              f"second 14: {LOST_DETAIL}")
    assert page.locator("#lost-workers b, #lost-workers img").count() == 0   # text, not markup

    expect(node_rows(page)).to_have_count(2)
    bottleneck = page.locator(f'#node-table tr[data-node="{WORKER}"]')
    expect(bottleneck.locator("th")).to_contain_text(f"{WORKER_HOST} (node {WORKER[:8]})")
    expect(bottleneck.locator("th .badge")).to_have_text("bottleneck")
    expect(bottleneck.locator("td").nth(1)).to_have_text("400")
    expect(page.locator(f'#node-table tr[data-node="{HEAD}"] td').nth(1)).to_have_text("600")
    expect(page.locator("#nodes-verdict")).to_have_text(
        f"Bottleneck: {WORKER_HOST} (node {WORKER[:8]}) was saturated (95% of a core per "
        "worker on average over the run): it limited the load, so the numbers understate "
        "the target.")
    expect(page.locator("#clock-skew")).to_contain_text(
        "Clock skew at start: -1.50 ms to +3.25 ms across 4 workers")

    # a run stored before per-node figures: no empty table, no empty list
    page.goto(f"/runs/{old_run}")
    expect(page.locator("#summary")).to_be_visible()
    expect(page.locator("#nodes")).to_be_hidden()
    expect(page.locator("#lost-workers")).to_be_hidden()


@pytest.fixture(autouse=True)
def _no_run_left(dashboard):
    """Each test starts with no run in the way (the live test stops its own)."""
    yield
    active = dashboard.api("/healthz")["active_run"]
    if active is not None:
        dashboard.api(f"/api/runs/{active}/stop", "POST")
        dashboard.wait_for(active, {"finished", "stopped", "failed"})
