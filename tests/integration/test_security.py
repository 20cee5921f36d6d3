"""Token, Host and Origin checks and the security headers, on the real app."""
from __future__ import annotations

import dataclasses

import aiohttp
import pytest

from app.web.app import create_app
from app.web.security import COOKIE

TOKEN = "s3cret-token"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'")


@pytest.fixture
async def guarded(aiohttp_client, settings):
    return await aiohttp_client(create_app(dataclasses.replace(settings, token=TOKEN)))


def origin(client) -> str:
    return f"http://{client.host}:{client.port}"


async def test_without_the_token_everything_is_401(guarded):
    for path in ("/api/runs", "/api/runs/1", "/api/presets", "/static/js/common.js"):
        response = await guarded.get(path)
        assert response.status == 401, path
    api = await guarded.get("/api/runs")
    assert "token" in (await api.json())["error"]
    page = await guarded.get("/")
    assert page.status == 401 and page.content_type == "text/html"
    assert 'name="token"' in await page.text()
    posted = await guarded.post("/api/runs", json={"url": "http://127.0.0.1:1/", "requests": 1})
    assert posted.status == 401
    assert (await guarded.get("/healthz")).status == 200       # liveness probes stay open


async def test_a_wrong_token_is_401_everywhere(guarded):
    assert (await guarded.get("/api/runs", params={"token": "nope"})).status == 401
    assert (await guarded.get("/", params={"token": TOKEN + "x"})).status == 401
    assert (await guarded.get("/api/runs",
                              headers={"Authorization": "Bearer nope"})).status == 401
    guarded.session.cookie_jar.update_cookies({COOKIE: "nope"})
    assert (await guarded.get("/api/runs")).status == 401


async def test_token_once_in_the_url_then_the_cookie(guarded):
    first = await guarded.get("/", params={"token": TOKEN, "x": "1"}, allow_redirects=False)
    assert first.status == 303
    assert first.headers["Location"] == "/?x=1"           # the token leaves the address bar
    cookie = first.headers["Set-Cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    # from now on the cookie alone is enough, for pages, the API and the WebSocket
    assert (await guarded.get("/")).status == 200
    assert (await guarded.get("/runs")).status == 200
    assert (await guarded.get("/api/runs")).status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await guarded.ws_connect("/api/runs/999/ws")
    assert info.value.status == 404                        # got past the token check


async def test_token_in_an_api_url_answers_and_sets_the_cookie(guarded):
    response = await guarded.get("/api/runs", params={"token": TOKEN})
    assert response.status == 200 and (await response.json())["total"] == 0
    assert COOKIE in response.cookies
    assert (await guarded.get("/api/runs")).status == 200


async def test_bearer_token(guarded):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert (await guarded.get("/api/runs", headers=headers)).status == 200
    response = await guarded.post("/api/runs", json={"url": "ftp://x/"}, headers=headers)
    assert response.status == 400                          # authorised, then validated
    assert (await guarded.get("/api/runs")).status == 401  # a header sets no cookie


async def test_websocket_needs_the_token(guarded, target_url):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await guarded.ws_connect("/api/runs/1/ws")
    assert info.value.status == 401
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = await guarded.post("/api/runs", headers=headers,
                                  json={"url": target_url + "{i}", "requests": 5})
    run = await response.json()
    async with guarded.ws_connect(f"/api/runs/{run['id']}/ws", headers=headers) as ws:
        message = await ws.receive_json(timeout=10)
        assert message["run_id"] == run["id"]


# -- Origin ------------------------------------------------------------------------------------

@pytest.mark.parametrize("foreign", ["http://evil.example", "null", "https://127.0.0.1:1"])
async def test_state_changing_requests_from_another_origin_are_403(client, target_url, foreign):
    body = {"url": target_url + "{i}", "requests": 5}
    response = await client.post("/api/runs", json=body, headers={"Origin": foreign})
    assert response.status == 403
    assert "origin" in (await response.json())["error"]
    for method, path in (("DELETE", "/api/runs/1"), ("POST", "/api/runs/1/stop"),
                         ("POST", "/runs"), ("POST", "/presets/async-1000")):
        response = await client.request(method, path, headers={"Origin": foreign})
        assert response.status == 403, (method, path)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/api/runs/1/ws", origin=foreign)
    assert info.value.status == 403
    assert (await (await client.get("/api/runs")).json())["total"] == 0


async def test_same_origin_is_accepted(client, target_url):
    response = await client.post("/api/runs", json={"url": target_url + "{i}", "requests": 5},
                                 headers={"Origin": origin(client)})
    assert response.status == 201
    run = await response.json()
    async with client.ws_connect(f"/api/runs/{run['id']}/ws", origin=origin(client)) as ws:
        assert (await ws.receive_json(timeout=10))["run_id"] == run["id"]


async def test_token_does_not_replace_the_origin_check(guarded):
    response = await guarded.post("/api/runs", json={}, headers={
        "Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"})
    assert response.status == 403


async def test_foreign_host_names_are_refused_without_a_token(client):
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends Host: evil.example."""
    response = await client.get("/api/runs", headers={"Host": f"evil.example:{client.port}"})
    assert response.status == 403
    for host in (f"localhost:{client.port}", f"127.0.0.1:{client.port}"):
        assert (await client.get("/api/runs", headers={"Host": host})).status == 200


# -- headers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/api/runs", "/healthz", "/api/runs/999", "/nowhere",
                                  "/static/js/common.js"])
async def test_security_headers_on_every_response(client, path):
    response = await client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"].startswith(CSP)


async def test_security_headers_on_refusals(guarded):
    response = await guarded.get("/api/runs")
    assert response.status == 401
    assert response.headers["Content-Security-Policy"].startswith(CSP)
    assert response.headers["X-Frame-Options"] == "DENY"
