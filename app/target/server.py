"""The demo target: answers any request after a seeded delay (0-3 s by default).

It is the test server of the "aiohttp sends 1,000,000 requests" experiment, rebuilt to hold ~10k
keep-alive connections on one core: a bare asyncio.Protocol with httptools on uvloop, one timer
handle per request (no task), and responses pre-encoded except for the Delay value.

Per-request overrides in the query string: delay=MIN-MAX or delay=X (seconds), status=NNN,
size=N (body bytes). A request's delay is a pure function of the seed and its request target
(delays.py), so every run, worker and arrival order gives `/17?delay=0-3` the same delay.
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httptools
import uvloop

from app.target.delays import DelayHash
from app.target.lifeline import die_with_parent, inherited_fd, parent_gone
from app.target.responses import (
    BAD_HTTP,
    TAIL_CLOSE,
    TAIL_KEEP_ALIVE_10,
    TAIL_OPEN,
    Plan,
    encode_plan,
    parse_delay,
    pattern_body,
    plan_from_query,
)
from app.target.workers import STOP_SIGNALS, run_workers

__all__ = ["TargetConfig", "parse_delay", "serve", "start_target"]

MAX_URL = 64 * 1024  # httptools has no URL limit of its own
MAX_QUEUED = 256  # pipelined responses waiting on one connection before we stop reading it
PLAN_CACHE_LIMIT = 1024  # distinct query strings remembered; presets reuse a handful
CACHED_BODY_LIMIT = 1024 * 1024
BACKLOG = 65535  # the kernel caps it at somaxconn; a 10k-connection burst overflows the default 100


@dataclass(frozen=True)
class TargetConfig:
    host: str = "127.0.0.1"
    port: int = 8081
    delay_min: float = 0.0
    delay_max: float = 3.0
    seed: int = 1
    body_size: int = 1000
    body_file: str | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port}: must be 0-65535")
        if not (math.isfinite(self.delay_min) and math.isfinite(self.delay_max)):
            raise ValueError("delay: must be finite")
        if not 0 <= self.delay_min <= self.delay_max:
            raise ValueError(f"delay {self.delay_min:g}-{self.delay_max:g}: need 0 <= min <= max")
        if self.body_size < 0:
            raise ValueError(f"body size {self.body_size}: must not be negative")
        if self.workers < 1:
            raise ValueError(f"workers {self.workers}: must be at least 1")


class _Target:
    """One server's state, shared by its connections: the delay hash, encoded plans, transports."""

    def __init__(self, config: TargetConfig, body: bytes, content_type: str):
        self.delay_hash = DelayHash(config.seed)
        self.config = config
        self.body = body
        self.content_type = content_type
        self.default_plan = encode_plan(config.delay_min, config.delay_max, 200, body, content_type)
        self.plans: dict[bytes, Plan] = {}
        self.transports: set[asyncio.BaseTransport] = set()

    def plan_for(self, url: bytes) -> Plan:
        mark = url.find(b"?")
        if mark < 0:
            return self.default_plan
        query = url[mark + 1 :]
        plan = self.plans.get(query)
        if plan is None:
            config = self.config
            plan = plan_from_query(query, config.delay_min, config.delay_max, self.body, self.content_type)
            if len(plan.body) <= CACHED_BODY_LIMIT:
                if len(self.plans) >= PLAN_CACHE_LIMIT:
                    self.plans.clear()
                self.plans[query] = plan
        return plan

    def abort_connections(self) -> None:
        for transport in list(self.transports):
            transport.abort()  # type: ignore[attr-defined]


class _Pending:
    """A response formatted at arrival, waiting for its timer and for the responses before it."""

    __slots__ = ("chunks", "close", "handle", "ready")

    def __init__(self, chunks: tuple[bytes, ...], close: bool):
        self.chunks = chunks
        self.close = close
        self.handle: asyncio.TimerHandle | None = None
        self.ready = False


class _TargetProtocol(asyncio.Protocol):
    def __init__(self, target: _Target, loop: asyncio.AbstractEventLoop):
        self._target = target
        self._loop = loop
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport = None  # type: ignore[assignment]  # set in connection_made
        self._url = b""
        # Responses in request order; only the head may be written (pipelining).
        self._queue: collections.deque[_Pending] = collections.deque()
        self._closing = False  # no more requests will be answered on this connection
        self._writing_paused = False
        self._reading_paused = False

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._target.transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        for pending in self._queue:
            if pending.handle is not None:
                pending.handle.cancel()
        self._queue.clear()
        self._target.transports.discard(self._transport)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close_after_pending()  # we never switch protocols: answer and hang up
        except httptools.HttpParserError:
            if not self._closing:  # else: bytes after "Connection: close", not worth an answer
                self._closing = True
                self._respond((BAD_HTTP.head, TAIL_CLOSE, BAD_HTTP.body), 0.0, True)
        self._update_reading()

    def eof_received(self) -> None:
        # Load generators close, they do not half-close: EOF means the client is gone, so let the
        # transport close (returning None) and connection_lost cancel the pending timers, rather
        # than holding thousands of dead sockets open for up to delay_max.
        return None

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()

    # httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL:
            raise ValueError("URL too long")  # surfaces as HttpParserCallbackError -> 400

    def on_message_complete(self) -> None:
        if self._closing:
            return
        parser = self._parser
        url = self._url
        plan = self._target.plan_for(url)
        self._url = b""
        close = not parser.should_keep_alive()
        if close:
            tail = TAIL_CLOSE
            self._closing = True
        elif parser.get_http_version() == "1.0":
            tail = TAIL_KEEP_ALIVE_10
        else:
            tail = TAIL_OPEN
        body = b"" if parser.get_method() == b"HEAD" else plan.body
        if plan.rejected:
            self._respond((plan.head, tail, body), 0.0, close)
            return
        delay = plan.low + self._target.delay_hash.fraction(url) * plan.span
        self._respond((plan.head, b"%.3f" % delay, tail, body), delay, close)

    # response ordering

    def _respond(self, chunks: tuple[bytes, ...], delay: float, close: bool) -> None:
        if delay <= 0.0 and not self._queue:
            self._write(chunks, close)
            return
        pending = _Pending(chunks, close)
        self._queue.append(pending)
        if delay > 0.0:
            pending.handle = self._loop.call_later(delay, self._on_timer, pending)
        else:
            pending.ready = True  # waits only for the responses queued before it

    def _on_timer(self, pending: _Pending) -> None:
        pending.handle = None
        pending.ready = True
        if self._queue[0] is pending:
            self._flush()

    def _flush(self) -> None:
        queue = self._queue
        while queue and queue[0].ready:
            pending = queue.popleft()
            self._write(pending.chunks, pending.close)
            if pending.close:
                return
        self._update_reading()

    def _write(self, chunks: tuple[bytes, ...], close: bool) -> None:
        self._transport.writelines(chunks)
        if close:
            self._transport.close()

    def _close_after_pending(self) -> None:
        self._closing = True
        if self._queue:
            self._queue[-1].close = True
        else:
            self._transport.close()

    def _update_reading(self) -> None:
        # Backpressure: a client that pipelines without reading must not grow our buffers.
        if self._transport.is_closing():
            return
        pause = self._writing_paused or len(self._queue) >= MAX_QUEUED
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()


async def _start(config: TargetConfig) -> tuple[asyncio.Server, _Target]:
    if config.body_file is None:
        body, content_type = pattern_body(config.body_size), "text/plain"
    else:
        body, content_type = Path(config.body_file).read_bytes(), "text/html"
    target = _Target(config, body, content_type)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _TargetProtocol(target, loop),
        config.host,
        config.port,
        reuse_port=config.workers > 1,
        backlog=BACKLOG,
    )
    return server, target


async def start_target(config: TargetConfig) -> asyncio.Server:
    """Bind and serve in the running loop.

    Under uvloop the result is a uvloop Server, which has the same interface (sockets, close,
    wait_closed). With port 0, read the port from server.sockets[0].getsockname()[1].
    """
    server, _ = await _start(config)
    return server


def serve(config: TargetConfig) -> None:
    """Serve until SIGINT/SIGTERM, on uvloop, in `workers` processes when more than one.

    Prints one "target listening on ..." line once every worker is bound. Raises OSError when
    the port cannot be bound or body_file cannot be read. Call it from a plain process (no
    running loop, no threads): extra workers are forked.

    Started with a lifeline in the environment (lifeline.ENV_FD, as the dashboard does), it also
    stops when the process that started it is gone, even if that one was killed with SIGKILL.
    """
    _raise_fd_limit()
    parent_fd = inherited_fd(os.environ)
    if parent_fd is not None:
        die_with_parent()

    def run_worker(index: int, port: int, on_listening: Callable[[int], None], lifeline_fd: int | None) -> None:
        # Every worker serves the same delays: they depend on the request, not on the worker.
        uvloop.run(_serve_until_signalled(replace(config, port=port), on_listening, lifeline_fd))

    def announce(port: int) -> None:
        host = f"[{config.host}]" if ":" in config.host else config.host
        print(
            f"target listening on http://{host}:{port} "
            f"(delay {config.delay_min:g}-{config.delay_max:g} s, seed {config.seed})",
            flush=True,
        )

    if config.workers == 1:
        run_worker(0, config.port, announce, parent_fd)
    else:
        run_workers(config.workers, config.host, config.port, run_worker, announce, parent_fd)


def _raise_fd_limit() -> None:
    # Every connection is a file descriptor; the usual soft limit of 1024 is far below 10k.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # keep the soft limit; the server still runs, just with fewer connections


async def _serve_until_signalled(
    config: TargetConfig, on_listening: Callable[[int], None], lifeline_fd: int | None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    if lifeline_fd is not None:

        def on_lifeline() -> None:
            if parent_gone(lifeline_fd):
                loop.remove_reader(lifeline_fd)
                stop.set()

        loop.add_reader(lifeline_fd, on_lifeline)
    server, target = await _start(config)
    try:
        on_listening(server.sockets[0].getsockname()[1])
        await stop.wait()
    finally:
        server.close()
        target.abort_connections()  # pending responses are dropped: a stopped target is gone
        await server.wait_closed()
