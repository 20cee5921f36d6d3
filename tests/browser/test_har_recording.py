"""A real HAR: Chromium records one (Playwright's record_har_path) while loading a small
local page with a script, images on two host names and a fetch POST of JSON; the
targets parsed from it are those requests, ready to send again."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from app.workload import TargetOrder, TargetsFormat, Workload, WorkloadError, parse_targets
from app.workload.har import CLIENT_COMPUTED, HOP_BY_HOP

# a 1x1 transparent PNG
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4e80000"
                      "000049454e44ae426082")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop</title>
<link rel="icon" href="data:,"><script src="/app.js"></script></head>
<body><img src="/pixel.png" alt=""><img src="http://localhost:{port}/other.png" alt=""></body>
</html>"""
APP_JS = """
fetch("/api/items", {method: "POST",
                     headers: {"Content-Type": "application/json", "X-Test": "har"},
                     body: JSON.stringify({name: "widget", tags: {size: 3}})})
  .then(response => response.json())
  .then(() => { document.title = "done"; });
"""


@dataclass
class Site:
    port: int
    posted: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The page's aiohttp server on 127.0.0.1, in a thread with its own event loop (the
    sync Playwright API holds the main thread's)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    site = Site(sock.getsockname()[1])

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE.format(port=site.port), content_type="text/html")

    async def script(_request: web.Request) -> web.Response:
        return web.Response(text=APP_JS, content_type="text/javascript")

    async def pixel(_request: web.Request) -> web.Response:
        return web.Response(body=PIXEL, content_type="image/png")

    async def items(request: web.Request) -> web.Response:
        site.posted.append(await request.read())
        return web.json_response({"id": 1}, status=201)

    app = web.Application()
    app.add_routes([web.get("/", page), web.get("/app.js", script),
                    web.get("/pixel.png", pixel), web.get("/other.png", pixel),
                    web.post("/api/items", items)])
    runner = web.AppRunner(app)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10), "the page's server did not start"
    try:
        yield site
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def record(browser, site: Site, path, content: str) -> bytes:
    context = browser.new_context(record_har_path=str(path), record_har_content=content)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(site.url + "/")
    page.wait_for_function("document.title === 'done'")
    page.wait_for_function("[...document.images].every(img => img.complete)")
    context.close()                                  # writes the HAR
    return path.read_bytes()


@pytest.fixture(scope="module")
def har(browser, site: Site, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """With content, as a DevTools export has it (Playwright omits request bodies too
    with record_har_content="omit")."""
    return record(browser, site, tmp_path_factory.mktemp("har") / "session.har", "embed")


def key(target) -> tuple[str, str, str]:
    parts = urlsplit(target.url)
    return target.method, parts.netloc, parts.path


def test_recorded_requests_become_targets(har: bytes, site: Site):
    targets = parse_targets(har, TargetsFormat.HAR)
    here, other = f"127.0.0.1:{site.port}", f"localhost:{site.port}"
    assert {("GET", here, "/"), ("GET", here, "/app.js"), ("GET", here, "/pixel.png"),
            ("POST", here, "/api/items"), ("GET", other, "/other.png")} <= set(map(key, targets))
    assert all(t.url.startswith("http://") for t in targets)        # no data: URLs
    # what the browser sent for its connection is not replayed; what it said is
    recorded = {h["name"].lower() for entry in json.loads(har)["log"]["entries"]
                for h in entry["request"]["headers"]}
    assert "host" in recorded                        # so the filter below had work to do
    for target in targets:
        names = {name.lower() for name, _ in target.headers}
        assert not any(name.startswith(":") for name in names)
        assert not names & (HOP_BY_HOP | CLIENT_COMPUTED), target
        assert "user-agent" in names
    post = next(t for t in targets if key(t) == ("POST", here, "/api/items"))
    headers = {name.lower(): value for name, value in post.headers}
    assert headers["content-type"] == "application/json" and headers["x-test"] == "har"
    assert headers["origin"] == site.url


def test_replayed_post_body_is_the_one_the_server_received(har: bytes, site: Site):
    targets = parse_targets(har, TargetsFormat.HAR)
    workload = Workload(targets, order=TargetOrder.SEQUENCE)
    n = next(n for n, t in enumerate(targets) if t.method == "POST")
    sent = workload.render(n)
    assert site.posted and sent.body == site.posted[0]
    assert json.loads(sent.body) == {"name": "widget", "tags": {"size": 3}}


def test_only_one_host(har: bytes, site: Site):
    only = parse_targets(har, TargetsFormat.HAR, only_host="localhost")
    assert [key(t) for t in only] == [("GET", f"localhost:{site.port}", "/other.png")]
    here = parse_targets(har, TargetsFormat.HAR, only_host=f"127.0.0.1:{site.port}")
    assert {key(t)[1] for t in here} == {f"127.0.0.1:{site.port}"} and len(here) >= 4


def test_a_har_without_the_bodies_is_refused_not_replayed_empty(browser, site: Site,
                                                                 tmp_path):
    har = record(browser, site, tmp_path / "omitted.har", "omit")
    with pytest.raises(WorkloadError) as caught:
        parse_targets(har, TargetsFormat.HAR)
    message = str(caught.value)
    assert message.startswith("log.entries[")
    assert ".request.postData: the request had a body" in message
    assert "35 bytes that the HAR does not hold" in message and "embed" in message
    # the other host has no POST: its requests are fine
    assert len(parse_targets(har, TargetsFormat.HAR, only_host="localhost")) == 1
