"""POST /api/preview against the real app: the first requests exactly as the run would
send them (placeholders filled from the data), the totals, secrets masked; bad input a
400 naming the field; nothing stored either way. And posts above the upload limit: a 413
that says the limit, JSON under /api/, a page for the form."""
from __future__ import annotations

import json

import pytest

from app.spec import parse_spec
from app.web import app as web_app
from app.workload import MAX_DATA_BYTES, MAX_HAR_BYTES

TARGETS = """GET {base}users/{{user}}?page={{i}}&delay=0
Accept: application/json

POST {base}login?delay=0
Content-Type: application/json
"""


async def total_runs(client) -> int:
    return (await (await client.get("/api/runs")).json())["total"]


async def preview(client, body: dict):
    response = await client.post("/api/preview", json=body)
    return response.status, await response.json()


async def test_a_list_with_data_previews_its_first_requests_and_totals(client, target_url):
    body = {"targets_text": TARGETS.format(base=target_url), "data_csv": "user\nann\nbob\ncy\n",
            "requests": 1000, "concurrency": 10}
    status, answer = await preview(client, body)
    assert status == 200, answer
    assert (answer["count"], answer["targets"], answer["rows"]) == (1000, 2, 3)
    assert answer["names"] == ["GET /users/{user}", "POST /login"]
    shown = answer["requests"]
    assert [(r["index"], r["method"], r["name"]) for r in shown] == [
        (0, "GET", "GET /users/{user}"), (1, "POST", "POST /login"),
        (2, "GET", "GET /users/{user}"), (3, "POST", "POST /login"),
        (4, "GET", "GET /users/{user}")]
    assert [r["url"] for r in shown[::2]] == [
        f"{target_url}users/ann?page=0&delay=0", f"{target_url}users/cy?page=2&delay=0",
        f"{target_url}users/bob?page=4&delay=0"]
    assert shown[0]["headers"] == [["Accept", "application/json"]] and shown[0]["body"] == ""
    # exactly what the engines render for the same spec
    workload = parse_spec(body).workload()
    assert [workload.render(i).url for i in range(5)] == [r["url"] for r in shown]
    assert await total_runs(client) == 0           # a preview starts and stores nothing


async def test_json_targets_a_binary_body_and_an_open_schedule(client, target_url):
    status, answer = await preview(client, {
        "targets": [{"method": "PUT", "url": target_url + "blob", "body_b64": "AAEC/w=="}],
        "rate": 20, "duration": "3s", "concurrency": 5})
    assert status == 200, answer
    assert answer["count"] == 60 and answer["rows"] is None and answer["names"] == ["PUT /blob"]
    first = answer["requests"][0]
    assert first["body_b64"] == "AAEC/w==" and first["body_bytes"] == 4 and "body" not in first


async def test_a_closed_run_limited_by_time_has_no_count(client, target_url):
    status, answer = await preview(client, {"url": target_url + "{i}", "duration": "5s"})
    assert status == 200 and answer["count"] is None and len(answer["requests"]) == 5
    assert answer["requests"][3]["url"] == target_url + "3"


async def test_secrets_are_masked_in_the_preview(client, target_url):
    host = target_url.split("//", 1)[1]
    status, answer = await preview(client, {
        "targets": [{"method": "GET", "url": f"http://u:pa55word@{host}a?access_token=t0ken&q=1",
                     "headers": [["Authorization", "Bearer s3cret"], ["X-API-Key", "k3y"],
                                 ["Accept", "text/plain"]]},
                    {"method": "GET", "url": f"{target_url}b", "headers": [["Cookie", "sid=c00kie"]]}],
        "requests": 10})
    assert status == 200, answer
    text = json.dumps(answer, ensure_ascii=False)
    for secret in ("pa55word", "t0ken", "s3cret", "k3y", "c00kie"):
        assert secret not in text
    first, second = answer["requests"][:2]
    assert first["url"] == f"http://u:••••••@{host}a?access_token=••••••&q=1"
    assert first["headers"] == [["Authorization", "Bearer ••••••"], ["X-API-Key", "••••••"],
                                ["Accept", "text/plain"]]
    assert second["headers"] == [["Cookie", "••••••"]]


@pytest.mark.parametrize("fields, field, words", [
    ({"targets_text": "GET http://127.0.0.1:9/a\n\nhttp://127.0.0.1:9/b\n"}, "targets_text",
     "line 3"),
    ({"targets_text": "GET http://127.0.0.1:9/{user}\n", "data_csv": "user,x\nann\n"},
     "data_csv", "line 2"),
    ({"targets_text": "GET http://127.0.0.1:9/{nope}\n"}, "targets", "{nope}"),
    ({"url": "http://127.0.0.1:9/", "seed": "-1"}, "seed", "0 to"),
    ({"url": "http://127.0.0.1:9/", "concurrency": 0}, "concurrency", "greater than 0"),
    ({"url": "http://127.0.0.1:9/", "colour": "red"}, "colour", "unknown field"),
    ({}, "url", "required"),
])
async def test_bad_input_is_a_400_naming_the_field(client, fields, field, words):
    response = await client.post("/api/preview", json={"requests": 1, **fields})
    assert response.status == 400, await response.text()
    errors = (await response.json())["errors"]
    assert words in errors[field], errors
    assert await total_runs(client) == 0


@pytest.mark.parametrize("raw", [b"[1, 2]", b"{not json", "\"ünï\"".encode("latin-1")])
async def test_a_body_that_is_not_a_json_object_is_named(client, raw):
    response = await client.post("/api/preview", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "body" in (await response.json())["errors"]


def test_the_upload_limit_holds_the_largest_workload_and_its_encoding():
    assert web_app.MAX_REQUEST_BYTES >= MAX_HAR_BYTES + MAX_DATA_BYTES
    assert web_app.MAX_REQUEST_BYTES >= (MAX_HAR_BYTES + MAX_DATA_BYTES) * 1.2


@pytest.fixture
async def small_client(aiohttp_client, settings, monkeypatch):
    """The app with a 1 MiB post limit, so a post above it is cheap to send."""
    monkeypatch.setattr(web_app, "MAX_REQUEST_BYTES", 2**20)
    return await aiohttp_client(web_app.create_app(settings))


async def test_a_post_above_the_limit_is_a_413_saying_the_limit(small_client):
    body = {"url": "http://127.0.0.1:9/", "requests": 1, "data_csv": "a\n" + "x\n" * 2**20}
    response = await small_client.post("/api/preview", json=body)
    assert response.status == 413
    assert (await response.json())["error"] == "the request body is above the limit of 1 MiB"


async def test_a_form_post_above_the_limit_is_a_413_page_not_a_500(small_client):
    response = await small_client.post("/runs", data={
        "mode": "list", "targets_text": "GET http://127.0.0.1:9/\n", "requests": "1",
        "data_csv": "a\n" + "x\n" * 2**20})
    assert response.status == 413
    page = await response.text()
    assert "<h1>Too large</h1>" in page and "limit of 1 MiB" in page
    assert "100 MiB" in page                       # and says what each file may weigh
    assert await total_runs(small_client) == 0
