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


def index_of(target: str) -> int:
    """The request index in targets of the form /kind/{i}."""
    return int(target.rsplit("/", 1)[1].split("?")[0])


# Starting a run costs a worker process (~1 s of imports), so the server picks its behaviour
# from the request index (every framing or failure in one run) and runs that need no timing
# of their own are started together with asyncio.gather.

MIXED = 300     # index % 10: 0 -> 500, 1 -> chunked, 2 -> Connection: close, 3 -> body to EOF,
#                 4 -> 103 Early Hints first, others -> 100 bytes with a Content-Length
MIXED_BYTES = 30 * 4 + 30 * 12 + 30 * 3 + 30 * 50 + 180 * 100


async def mixed(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
    if method == "HEAD":     # announces a body it does not send, as HEAD answers do
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        return True
    kind = index_of(target) % 10
    if kind == 0:
        writer.write(response(500, b"oops"))
    elif kind == 1:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
    elif kind == 2:
        writer.write(response(200, b"bye", close=True))
        return False
    elif kind == 3:          # no length: the body ends when the server closes
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 50)
        return False
    elif kind == 4:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
                     + response(200, b"x" * 100))
    else:
        writer.write(response(200, b"x" * 100))
    return True


async def test_counts_statuses_indices_and_body_framings() -> None:
    async with serving(mixed) as (server, base), serving(mixed) as (head_server, head_base), \
            serving(mixed) as (post_server, post_base):
        (r, _), (head, _), (no_ka, _) = await asyncio.gather(
            bench(base + "/item/{i}?n={i}", requests=MIXED, concurrency=8),
            bench(head_base + "/item/{i}", requests=40, method="HEAD", timeout="3s"),
            bench(post_base + "/item/{i}", requests=30, keepalive=False, method="POST",
                  body="abc"))
    assert (r["requests"], r["started"], r["errors"]) == (MIXED, MIXED, 0)
    assert r["status_codes"] == {"200": 270, "500": 30}
    assert r["bytes"] == MIXED_BYTES
    assert sorted(server.targets) == sorted(f"/item/{i}?n={i}" for i in range(MIXED))
    # keep-alive: a connection per slot, plus one after each of the 60 that the server closed
    assert 60 <= server.connections <= 8 + 60
    # HEAD: the announced 1000 bytes never come, and the connection is reused
    assert (head["ok"], head["bytes"], head["errors"]) == (40, 0, 0)
    assert head_server.methods == ["HEAD"] * 40 and head_server.connections <= 4 + 4 * 2
    # keep-alive off: a connection per request
    assert (no_ka["requests"], no_ka["errors"]) == (30, 0)
    assert post_server.methods == ["POST"] * 30 and post_server.connections == 30


async def test_error_classes() -> None:
    async def failing(method: str, target: str, writer: asyncio.StreamWriter) -> bool:
        kind = index_of(target) % 3
        if kind == 0:        # never answers
            await asyncio.sleep(30)
        elif kind == 1:      # hangs up mid-response
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            await writer.drain()
        else:
            writer.write(b"SMTP READY\r\n\r\n")
        return False

    with socket.socket() as sock:   # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        refused_url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with contextlib.ExitStack() as stack:
        # a listener that never accepts, its queue filled: Linux drops further SYNs
        full = stack.enter_context(socket.socket())
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        for _ in range(3):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex(full.getsockname())
        async with serving(failing) as (_, base):
            (refused, _), (unaccepted, _), (r, wall) = await asyncio.gather(
                bench(refused_url, requests=10),
                bench(f"http://127.0.0.1:{full.getsockname()[1]}/", requests=4,
                      connect_timeout="0.5s"),
                bench(base + "/x/{i}", requests=12, timeout="0.5s"))
    assert (refused["requests"], refused["error_classes"]) == (10, {"connection_refused": 10})
    assert (unaccepted["requests"], unaccepted["error_classes"]) == (4, {"connect_timeout": 4})
    assert r["requests"] == 12
    assert r["error_classes"] == {"request_timeout": 4, "disconnected": 4, "invalid_http": 4}
    assert "InvalidHTTP" in r["error_samples"]["invalid_http"]
    assert wall < 15


async def test_open_model_rate() -> None:
    async with serving(mixed) as (_, base):
        r, wall = await bench(base + "/x/{i}", duration="2s", rate=200, concurrency=20)
    assert 300 <= r["requests"] <= 420
    assert r["errors"] == 0 and r["ok"] + r["failed"] == r["requests"]
    assert r["late_starts"] < r["requests"] // 4
    assert wall < 10


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
    assert wall < 8


# Names that fail before any query leaves the machine: IDNA refuses an empty label and one over
# 63 characters while encoding, so the test is hermetic (no resolver, no /etc/hosts involved).
UNRESOLVABLE = ["http://a..b/", "http://" + "x" * 64 + ".example/"]


async def test_a_dns_failure_counts_once_per_attempt_like_the_other_engines() -> None:
    (counted, _), (long_label, _), (closed, closed_wall), (opened, _) = await asyncio.gather(
        bench(UNRESOLVABLE[0], requests=4, concurrency=2),
        bench(UNRESOLVABLE[1] + "{i}", requests=4),
        bench(UNRESOLVABLE[0], duration="1s", concurrency=2),
        bench(UNRESOLVABLE[1], duration="1s", rate=20, concurrency=4))
    for r in (counted, long_label):
        assert (r["requests"], r["started"], r["error_classes"]) == (4, 4, {"dns_failure": 4})
        assert "invalid host name" in r["error_samples"]["dns_failure"]
    # a duration keeps trying, an attempt at a time per slot, until it ends (not at the first)
    for r in (closed, opened):
        assert r["requests"] > 1 and r["errors"] == r["requests"]
        assert set(r["error_classes"]) == {"dns_failure"}
        assert 0.9 <= r["duration_s"] <= 1.5
    assert closed_wall < 15
