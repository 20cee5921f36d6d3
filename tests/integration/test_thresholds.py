"""Thresholds end to end: bench's exit codes, --json, --junit and --abort-on-fail; the
API's stored result and the history filter. Real target, real SQLite, real processes."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tests.conftest import wait_for_status
from tests.integration.test_cli import bench


async def test_bench_exits_1_when_a_threshold_fails_and_writes_junit(target_url, tmp_path):
    url = target_url + "?delay=0.01-0.02"
    junit = tmp_path / "thresholds.xml"
    code, out, err = await bench(url, "-n", "60", "-c", "4", "--json", "--junit", str(junit),
                                 "--threshold", "p50 < 1ms", "--threshold", "p50 >= 10ms",
                                 "--threshold", "error_rate < 1%")
    assert code == 1, err
    result = json.loads(out)
    assert [(t["expr"], t["pass"]) for t in result["thresholds"]] == \
        [("p50 < 1ms", False), ("p50 >= 10ms", True), ("error_rate < 1%", True)]
    p50 = result["thresholds"][0]["value"]
    assert p50 == result["thresholds"][1]["value"] and 10 <= p50 <= 10_000
    assert result["thresholds_passed"] is False and result["outcome"] == "finished"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    (failed,) = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed.get("name") == "p50 < 1ms"
    assert f"{p50:g} ms" in failed.find("failure").get("message")


async def test_bench_exits_0_when_every_threshold_passes(target_url):
    code, out, err = await bench(target_url + "?delay=0", "-n", "20", "--threshold",
                                 "p99 < 30s", "--threshold", "requests >= 20")
    assert code == 0, err
    assert "PASS  p99 < 30s" in out and "PASS  requests >= 20" in out


async def test_a_bad_threshold_is_exit_2_naming_the_flag(target_url):
    code, _, err = await bench(target_url, "-n", "1", "--threshold", "p99 < 200%")
    assert code == 2
    assert "error: --threshold: line 1: p99 is a time: give ms or s, not %" in err
    code, _, err = await bench(target_url, "-n", "1", "--abort-on-fail")
    assert code == 2 and "--abort-on-fail: abort on fail needs at least one threshold" in err


async def test_abort_on_fail_stops_the_run_at_the_failing_second(target_url):
    code, out, err = await bench(target_url + "?delay=0.01-0.02", "-z", "60s", "-c", "2",
                                 "--threshold", "p50 < 1ms", "--abort-on-fail", "--json")
    assert code == 1, err
    result = json.loads(out)
    assert result["outcome"] == "stopped"
    assert result["aborted"]["threshold"] == "p50 < 1ms" and result["aborted"]["second"] >= 1
    # stopped at the end of that second, not after the minute
    assert result["duration_s"] < result["aborted"]["second"] + 5


async def test_the_api_stores_the_result_and_the_history_filters_on_it(client, target_url):
    created = []
    for thresholds in (["p99 < 30s"], ["p50 < 1us"], []):
        response = await client.post("/api/runs", json={
            "url": target_url + "?delay=0", "requests": 10, "concurrency": 2,
            "thresholds": thresholds})
        assert response.status == 201, await response.text()
        run = await response.json()
        created.append(run["id"])
        run = await wait_for_status(client, run["id"], {"finished", "failed", "stopped"})
        assert run["spec"]["thresholds"] == thresholds
    passed, failed, none = created
    runs = {r["id"]: r for r in (await (await client.get("/api/runs")).json())["runs"]}
    assert runs[passed]["summary"]["thresholds_passed"] is True
    assert runs[failed]["summary"]["thresholds"][0]["pass"] is False
    assert "thresholds" not in runs[none]["summary"]
    for verdict, ids in (("passed", [passed]), ("failed", [failed])):
        answer = await (await client.get(f"/api/runs?thresholds={verdict}")).json()
        assert [r["id"] for r in answer["runs"]] == ids and answer["total"] == 1
    bad = await client.get("/api/runs?thresholds=maybe")
    assert bad.status == 400 and "thresholds" in (await bad.json())["errors"]
    page = await (await client.get("/runs?thresholds=failed")).text()
    assert f'data-run-id="{failed}"' in page and f'data-run-id="{passed}"' not in page
    refused = await client.post("/api/runs", json={"url": target_url, "requests": 1,
                                                   "thresholds": ["p99{GET /x} < 1s"]})
    assert refused.status == 400
    assert "per-endpoint thresholds need a run of several named targets" in \
        (await refused.json())["errors"]["thresholds"]
