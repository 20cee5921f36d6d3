"""The pages of list runs against the real app: the run page's endpoint table and spec,
the compare page's endpoint rows, no target secret anywhere in their HTML, and the Mixed
API preset refused while a run is active refilling the form in list mode."""
from __future__ import annotations

import html

from tests.conftest import wait_for_status

FINAL = {"finished", "stopped", "failed"}
SECRETS = ("s3cret-bearer", "t0ken-in-query", "pa55word")


def list_run(target_url: str, delay: str) -> dict:
    host = target_url.split("//", 1)[1]
    return {"targets": [
        {"method": "GET", "url": f"{target_url}a?token=t0ken-in-query&delay={delay}",
         "headers": [["Authorization", "Bearer s3cret-bearer"]]},
        {"method": "POST", "url": f"http://user:pa55word@{host}b?delay={delay}", "name": "login",
         "body": "{{}}"}], "requests": 20, "concurrency": 2}


async def finished(client, spec: dict) -> int:
    run = await (await client.post("/api/runs", json=spec)).json()
    done = await wait_for_status(client, run["id"], FINAL)
    assert done["status"] == "finished", done
    return run["id"]


async def test_list_runs_pages_show_endpoints_and_no_target_secret(client, target_url):
    ids = [await finished(client, list_run(target_url, delay)) for delay in ("0", "0.01")]
    page = await (await client.get(f"/runs/{ids[0]}")).text()
    assert 'id="endpoint-table"' in page and '"endpoints": ["GET /a", "login"]' in page
    assert 'id="chart-rps-scope">all endpoints<' in page
    assert "2 targets (2 endpoints), the first" in page
    text = html.unescape(page)
    assert "Authorization: Bearer ••••••" in text and "token=••••••" in text
    assert "user:••••••@" in text
    compare = await (await client.get(f"/compare?ids={ids[0]},{ids[1]}")).text()
    assert compare.count("<tbody data-endpoint=") == 2
    for secret in SECRETS:
        assert secret not in page and secret not in compare, secret


async def test_a_one_url_run_has_no_endpoint_table(client, target_url):
    run_id = await finished(client, {"url": target_url + "{i}", "requests": 5})
    page = await (await client.get(f"/runs/{run_id}")).text()
    assert 'id="endpoint-table"' not in page and "chart-scope" not in page


async def test_the_mixed_api_preset_refused_refills_the_form_in_list_mode(client, target_url):
    busy = await (await client.post("/api/runs", json={
        "url": target_url, "duration": "30s"})).json()
    response = await client.post("/presets/mixed-api", data={})
    assert response.status == 409
    page = html.unescape(await response.text())
    assert 'value="list" id="mode-list" checked' in page
    assert '"name": "GET /search"' in page and "alice,shoes" in page
    assert '<option value="weighted" selected>' in page
    await client.post(f"/api/runs/{busy['id']}/stop")
    await wait_for_status(client, busy["id"], FINAL)
