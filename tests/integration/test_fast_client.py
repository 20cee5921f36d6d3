"""The fast engine end to end: app.engine.start(spec) against small servers on 127.0.0.1.

Each server is a plain asyncio stream server whose behaviour is picked per test,
so every error class can be provoked on purpose; timings are only sanity bounds.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any


from app.engine import Outcome, start
from app.spec import parse_spec

Respond = Callable[[str, str, asyncio.StreamWriter], Awaitable[bool]]   # -> keep the connection


class Server:
    """Reads HTTP/1.1 requests; `respond(method, target, writer)` writes each answer."""

    def __init__(self, respond: Respond):
        self.respond = respond
        self.targets: list[str] = []
        self.methods: list[str] = []
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request_line, *lines = head.split("\r\n")
                method, target, _ = request_line.split(" ")
                headers = {k.strip().lower(): v.strip()
                           for k, v in (line.split(":", 1) for line in lines if line)}
                await reader.readexactly(int(headers.get("content-length", 0)))
                self.targets.append(target)
                self.methods.append(method)
                if not await self.respond(method, target, writer):
                    break
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()


@contextlib.asynccontextmanager
async def serving(respond: Respond) -> AsyncIterator[tuple[Server, str]]:
    server = Server(respond)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.close_all()
        listener.close()
        await listener.wait_closed()


async def bench(url: str, **fields: Any) -> tuple[dict[str, Any], float]:
    """Run a spec with the fast engine to the end; (summary dict, wall seconds)."""
    spec = parse_spec({"url": url, "engine": "fast", "concurrency": 4, **fields})
    t0 = time.monotonic()
    run = await start(spec)
    async for _ in run:
        pass
    assert run.outcome is Outcome.FINISHED, run.error
    return run.summary.to_dict(), time.monotonic() - t0


def response(status: int = 200, body: bytes = b"hello", *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return (b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra)) + body


async def ok(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
    if target.startswith("/fail"):
        writer.write(response(500, b"oops"))
    elif target.startswith("/chunked"):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
    elif method == "HEAD":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    else:
        writer.write(response(200, b"x" * 100))
    return True


# Starting a run costs a worker process (~1 s of imports here), so runs that need no
# timing of their own are started together with asyncio.gather.


async def test_counts_statuses_indices_and_body_framings() -> None:
    async def closing(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
        if target.startswith("/eof"):   # no length: the body ends when the server closes
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 50)
        else:
            writer.write(response(200, b"bye", close=True))
        return False

    async with serving(ok) as (server, base), serving(closing) as (closer, closing_base):
        (r, _), (r500, _), (chunked, _), (head, _), (close, _), (eof, _), (no_ka, _) = \
            await asyncio.gather(
                bench(base + "/item/{i}?n={i}", requests=300, concurrency=8),
                bench(base + "/fail", requests=25),
                bench(base + "/chunked", requests=40),
                bench(base + "/", requests=40, method="HEAD"),
                bench(closing_base + "/", requests=60),
                bench(closing_base + "/eof", requests=20),
                bench(base + "/post", requests=30, keepalive=False, method="POST", body="abc"))
    assert (r["requests"], r["started"], r["ok"], r["errors"]) == (300, 300, 300, 0)
    assert r["status_codes"] == {"200": 300}
    assert r["bytes"] == 300 * 100
    item_targets = [t for t in server.targets if t.startswith("/item/")]
    assert sorted(item_targets) == sorted(f"/item/{i}?n={i}" for i in range(300))
    assert (r500["requests"], r500["failed"], r500["status_codes"]) == (25, 25, {"500": 25})
    assert (chunked["ok"], chunked["bytes"]) == (40, 40 * len(b"hello, world"))
    # HEAD: the announced 1000 bytes never come, and the connection is reused
    assert (head["ok"], head["bytes"], head["errors"]) == (40, 0, 0)
    assert server.methods.count("HEAD") == 40
    assert (close["ok"], close["errors"], close["bytes"]) == (60, 0, 60 * 3)
    assert (eof["ok"], eof["errors"], eof["bytes"]) == (20, 0, 20 * 50)
    assert closer.connections == 80                  # one per request: each was closed
    assert (no_ka["ok"], no_ka["errors"]) == (30, 0)
    assert server.methods.count("POST") == 30
    # keep-alive: one connection per slot (8 + 4 + 4 + 4), keep-alive off: one per request
    assert server.connections <= 20 + 30


async def test_error_classes() -> None:
    async def silent(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return False

    async def hang_up(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        await writer.drain()
        return False

    async def garbage(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SMTP READY\r\n\r\n")
        return True

    with socket.socket() as sock:   # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        refused_url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    async with serving(silent) as (_, silent_base), serving(hang_up) as (_, hang_up_base), \
            serving(garbage) as (_, garbage_base):
        t0 = time.monotonic()
        (refused, _), (timeout, timeout_wall), (disconnected, _), (invalid, _) = \
            await asyncio.gather(
                bench(refused_url, requests=10),
                bench(silent_base + "/", requests=4, timeout="0.5s"),
                bench(hang_up_base + "/", requests=12),
                bench(garbage_base + "/", requests=8))
    assert (refused["requests"], refused["error_classes"]) == (10, {"connection_refused": 10})
    assert (timeout["requests"], timeout["error_classes"]) == (4, {"request_timeout": 4})
    assert timeout_wall < 10
    assert disconnected["error_classes"] == {"disconnected": 12}
    assert invalid["error_classes"] == {"invalid_http": 8}
    assert "InvalidHTTP" in invalid["error_samples"]["invalid_http"]


async def test_open_model_rate() -> None:
    async with serving(ok) as (_, base):
        r, wall = await bench(base + "/", duration="2s", rate=200, concurrency=20)
    assert 300 <= r["requests"] <= 420
    assert r["errors"] == 0 and r["ok"] == r["requests"]
    assert r["late_starts"] < r["requests"] // 4
    assert wall < 8


async def test_duration_stops_a_slow_run() -> None:
    async def slow(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.4)
        writer.write(response())
        return True

    async with serving(slow) as (_, base):
        r, wall = await bench(base + "/", duration="1s", concurrency=3)
    # three slots, 0.4 s each: two rounds finish within the second, the third is abandoned
    assert 3 <= r["requests"] <= 9 and r["errors"] == 0
    assert r["started"] >= r["requests"]
    assert 0.9 <= r["duration_s"] <= 1.5
    assert wall < 6
