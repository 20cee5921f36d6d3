"""The API's answers to numbers that are out of range or spelled as floats, and to stages
that would send nothing: a 4xx naming the field with what is wrong, or the run."""
from __future__ import annotations

import pytest

from tests.conftest import wait_for_status


@pytest.mark.parametrize("params, field, message", [
    ({"limit": "-1"}, "limit", "must be from 1 to 200"),
    ({"limit": "0"}, "limit", "must be from 1 to 200"),
    ({"offset": "-1"}, "offset", "must be ≥ 0"),
    ({"limit": "1.5"}, "limit", "not a whole number"),
    ({"offset": "-"}, "offset", "not a whole number"),
])
async def test_list_limits_say_the_range(client, params, field, message):
    response = await client.get("/api/runs", params=params)
    assert response.status == 400
    assert message in (await response.json())["errors"][field]


async def test_a_whole_float_is_a_whole_number(client, target_url):
    response = await client.post("/api/runs", json={
        "url": target_url + "{i}", "requests": 10.0, "concurrency": 5.0})
    assert response.status == 201, await response.text()
    run = await response.json()
    assert (run["spec"]["requests"], run["spec"]["concurrency"]) == (10, 5)
    done = await wait_for_status(client, run["id"], {"finished", "failed", "stopped"})
    assert done["summary"]["requests"] == 10


@pytest.mark.parametrize("body, field", [
    ({"requests": 10.5}, "requests"), ({"requests": True}, "requests"),
    ({"requests": "ten"}, "requests"), ({"stages": [[2, 0]], "requests": None}, "stages"),
])
async def test_bad_numbers_and_empty_stages_are_named(client, target_url, body, field):
    response = await client.post("/api/runs", json={"url": target_url, "requests": 5, **body})
    assert response.status == 400
    assert field in (await response.json())["errors"]
    assert (await (await client.get("/api/runs")).json())["total"] == 0
