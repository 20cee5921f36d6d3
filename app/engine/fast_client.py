"""The fast engine: HTTP/1.1 keep-alive on a bare asyncio.Protocol with httptools.

Raw-throughput mode, like wrk: no redirects, no cookies, no decompression, no
proxies; one request in flight per connection (no pipelining). A request costs a
few Python calls beyond its syscalls, because nothing per request is a coroutine,
a future or a timer:

- each connection is callback-driven: `on_message_complete` records the response
  and, in the closed model, writes the next request on the same transport at once;
- request bytes are encoded once; a URL with `{i}` is pre-split so a request is
  one `bytes.join` of the index;
- request timeouts come from one sweep over the connections every SWEEP_S (at
  most a tenth of the timeout), so a timeout fires up to one sweep late;
- the open model keeps one timer for the next due request and a list of idle
  connections. A request is a late start when its due time passed while every
  connection was busy (as in driver.py, where a user picks the index up late);
  libuv timers have 1 ms resolution and may fire early, so a timer that fires
  before the next request is due is armed again: no request leaves before it
  is due.

The host is resolved once, before second 0; the first address is used for the
whole run. If that fails, each connection attempt resolves again, as aiohttp
does per request, and a failure is one dns_failure per attempt, so the engines
count alike; attempts waiting together share one resolution (as aiohttp's
connector does), and a failed one takes at least DNS_RETRY_S, so a name that
fails without a query (one IDNA cannot encode) does not spin the loop. Once a
resolution succeeds, its address is used from then on. `{i}` is supported in
the path and query only (a per-request host would need per-request DNS).

Connections are opened lazily, on a slot's first request, and reopened when the
server closes one (`Connection: close`), when keep-alive is off (we send
`Connection: close`), or after a failure. HEAD responses end at their headers;
1xx responses are skipped. A response without a length ends when the server
closes the connection: a close after body bytes of a response the server will not
keep alive counts as its end. httptools exposes neither the expected length nor
(without a callback per response) the end of the headers, so a truncated
`Connection: close` response is counted as a response, and a length-less one
with an empty body as a disconnect.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from time import monotonic_ns

from httptools import HttpParserCallbackError, HttpParserError, HttpResponseParser


from .errors import ConnectTimeout, InvalidHTTP, RequestTimeout
from .plan import TIMER_RESOLUTION_NS, WorkerPlan
from .recorder import Recorder
from .request_bytes import RequestTemplate
from .schedule import Schedule

SWEEP_S = 0.1
MIN_SWEEP_S = 0.01
DNS_RETRY_S = 0.1   # the least a failed re-resolution takes: a bounded pace of failures


class _HeadersOnly(Exception):
    """Raised from on_headers_complete to end a HEAD response at its headers: httptools
    cannot tell llhttp that a response has no body, so the parser is replaced instead."""


def _ssl_context(verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class _Conn(asyncio.Protocol):
    """One TCP connection and the request on it; the unit of concurrency is a slot
    that a chain of these occupies, one after another."""
    __slots__ = ("engine", "transport", "parser", "alive", "busy", "due_ns", "sent_ns",
                 "nbytes", "request", "connecting", "name_id")

    def __init__(self, engine: _Engine):
        self.engine = engine
        self.transport: asyncio.Transport | None = None
        self.parser = HttpResponseParser(self)
        self.alive = False            # connected and reusable
        self.busy = False             # a request is in flight
        self.due_ns = self.sent_ns = 0
        self.nbytes = 0               # body bytes of the current response
        self.request = b""            # written once connected
        self.connecting: asyncio.Task | None = None
        self.name_id = 0              # the target of the request in flight (a workload's)

    # asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.connecting = None
        if not self.busy or self.engine.stopped:   # timed out while the connect finished
            transport.abort()
            return
        self.alive = True
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadersOnly):
                self.on_message_complete()   # reads the status from the old parser
                self.parser = HttpResponseParser(self)
            else:   # a bug of ours, not the server's: count it as "other", with its sample
                self.fail(cause or exc)
        except HttpParserError as exc:
            self.fail(InvalidHTTP(f"unparseable response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self.engine.conns.discard(self)
        if not self.busy:
            return
        # a body that ends at EOF; without an on_headers_complete call per response the
        # sign that the headers were complete is body bytes, so an empty one is a disconnect
        if self.nbytes and not self.parser.should_keep_alive():
            self.on_message_complete()
        else:
            self.fail(exc if exc is not None else ConnectionResetError("server disconnected"))

    # httptools callbacks: the hot path, a Python call each per response

    def on_body(self, body: bytes) -> None:
        self.nbytes += len(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if not self.busy or status < 200:
            return   # abandoned, failed or stray; or 1xx, which the real response follows
        end = monotonic_ns()
        engine = self.engine
        if not (engine.keepalive and parser.should_keep_alive()):
            self.alive = False
            self.transport.close()
        elif end < engine.closed_until:
            index = next(engine.indices, None)
            if index is not None:
                # closed model, the hot path: the next request at once on this connection,
                # with one recorder call; the slot stays busy
                engine.recorder.response_then_sent(status, self.nbytes, self.due_ns,
                                                   self.sent_ns, end, self.name_id)
                request = engine.constant
                if request is None:
                    parts = engine.parts
                    if parts is not None:
                        request = (b"%d" % index).join(parts)
                    else:
                        request, self.name_id = engine.encode(index)
                self.transport.write(request)
                self.nbytes = 0
                self.due_ns = self.sent_ns = end
                return
        self.busy = False
        engine.in_flight -= 1
        engine.recorder.response(status, self.nbytes, self.due_ns, self.sent_ns, end,
                                 self.name_id)
        engine.slot_free(self, end)

    # the slot's side

    def fail(self, exc: BaseException) -> None:
        """The request on this connection failed: record it once, drop the connection."""
        self.alive = False
        if self.transport is not None:
            self.transport.abort()
        engine = self.engine
        if self.connecting is not None:   # timed out while connecting
            self.connecting.cancel()
            self.connecting = None
            engine.conns.discard(self)
        if not self.busy or engine.stopped:
            return
        self.busy = False
        engine.in_flight -= 1
        engine.recorder.error(exc, self.name_id)
        engine.slot_free(self, monotonic_ns())


class _HeadConn(_Conn):
    """For HEAD: the response ends at its headers (the costlier callback is only here)."""
    __slots__ = ()

    def on_headers_complete(self) -> None:
        raise _HeadersOnly


class _Engine:
    def __init__(self, plan: WorkerPlan, recorder: Recorder, request: RequestTemplate,
                 address: tuple | None, ssl_ctx: ssl.SSLContext | None):
        spec = plan.spec
        self.loop = asyncio.get_running_loop()
        self.recorder = recorder
        self.request = request
        self.address = address                  # None: resolution failed, try per attempt
        self._resolving: asyncio.Task | None = None
        self.ssl_ctx = ssl_ctx
        self.keepalive = spec.keepalive
        # HEAD answers end at their headers; the spec keeps HEAD apart from other methods
        self.conn_class = (_HeadConn if spec.request_targets[0].method == "HEAD" else _Conn)
        self.constant = request.constant
        self.parts = request.parts
        self.encode = request.encode
        self.connect_timeout = spec.connect_timeout
        self.timeout_ns = int(spec.timeout * 1e9)
        self.sweep_s = max(min(SWEEP_S, spec.timeout / 10), MIN_SWEEP_S)
        self.concurrency = plan.concurrency
        self.schedule = schedule = Schedule(plan)
        self.indices = schedule.indices          # the closed model's hot path pulls directly
        self.deadline = schedule.deadline_ns
        # closed model: a response before this sends the next request at once (0: never,
        # as in the open model or once stopped; slot_free decides then)
        self.closed_until = 0 if schedule.open else (
            self.deadline if self.deadline is not None else 1 << 63)
        self.conns: set[_Conn] = set()          # every connection not yet lost
        self.in_flight = 0
        self.exhausted = False
        self.stopped = False
        self.done: asyncio.Future[None] = self.loop.create_future()
        self._timers: list[asyncio.TimerHandle] = []
        # open model: connections (None: not opened yet) waiting for a due request
        self._idle: list[_Conn | None] = []
        self._next_index = 0
        self._next_due = 0
        self._due_timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = self.loop
        self._timers.append(loop.call_later(self.sweep_s, self._sweep))
        if self.deadline is not None:
            self._timers.append(loop.call_later(
                max(0.0, (self.deadline - monotonic_ns()) / 1e9), self._finish))
        if not self.schedule.open:
            for _ in range(self.concurrency):
                self.slot_free(None, monotonic_ns())
        else:
            self._idle = [None] * self.concurrency
            self._advance()
            self._dispatch()

    def slot_free(self, conn: _Conn | None, now: int) -> None:
        """A slot has no request in flight: give it the next one, or retire it."""
        if self.stopped:
            return
        if self.schedule.open:
            self._slot_free_open(conn, now)
            return
        # closed model (a kept-alive connection's next request leaves from on_message_complete)
        index = next(self.indices, None) if not self.exhausted else None
        if index is None or self.schedule.expired(now):
            self._retire(conn)
            return
        self._send(conn, index, now, now)

    def _send(self, conn: _Conn | None, index: int, due: int, sent: int) -> None:
        """The request `index`, due at `due`, leaves now (on `conn` if it is still open)."""
        self.recorder.sent()
        self.in_flight += 1
        request, name_id = self.constant, 0
        if request is None:
            if self.parts is not None:
                request = (b"%d" % index).join(self.parts)
            else:
                request, name_id = self.encode(index)
        if conn is None or not conn.alive:
            conn = self._open(request)
        else:
            conn.transport.write(request)
        conn.name_id = name_id
        conn.busy = True
        conn.nbytes = 0
        conn.due_ns = due
        conn.sent_ns = sent

    def _open(self, request: bytes) -> _Conn:
        """A new connection for the slot; `request` is written once it is up."""
        conn = self.conn_class(self)
        conn.request = request
        self.conns.add(conn)
        conn.connecting = self.loop.create_task(self._connect(conn))
        return conn

    async def _connect(self, conn: _Conn) -> None:
        try:
            host, port = self.address or await self._resolve_again()
            async with asyncio.timeout(self.connect_timeout):
                await self.loop.create_connection(
                    lambda: conn, host, port, ssl=self.ssl_ctx,
                    server_hostname=self.request.tls_hostname)
        except TimeoutError:
            conn.connecting = None
            self.conns.discard(conn)
            conn.fail(ConnectTimeout(f"no connection within {self.connect_timeout:g} s"))
        except Exception as exc:   # refused, EMFILE, EADDRNOTAVAIL, TLS, ...
            conn.connecting = None
            self.conns.discard(conn)
            conn.fail(exc)

    async def _resolve_again(self) -> tuple:
        """The address, from the resolution in flight or a new one; shielded, because an
        attempt that times out must not cancel the others' resolution."""
        if self._resolving is None:
            self._resolving = self.loop.create_task(self._resolve_paced())
            self._resolving.add_done_callback(self._resolved)
        return await asyncio.shield(self._resolving)

    async def _resolve_paced(self) -> tuple:
        started = self.loop.time()
        try:
            self.address = await _resolve(self.loop, self.request)
        except Exception:
            await asyncio.sleep(DNS_RETRY_S - (self.loop.time() - started))
            raise
        return self.address

    def _resolved(self, task: asyncio.Task) -> None:
        if self._resolving is task:
            self._resolving = None
        if not task.cancelled():
            task.exception()   # retrieved: every waiter may have been cancelled meanwhile

    def _retire(self, conn: _Conn | None) -> None:
        self.exhausted = True
        if conn is not None and conn.alive:
            conn.alive = False
            conn.transport.close()
        if self.in_flight == 0:
            self._finish()

    # open model

    def _advance(self) -> None:
        """Move to the next index and its due time; none left: exhausted."""
        item = self.schedule.next_due()
        if item is None:
            self.exhausted = True
            return
        self._next_index, self._next_due = item

    def _slot_free_open(self, conn: _Conn | None, now: int) -> None:
        if self.exhausted:
            self._retire(conn)
            return
        due = self._next_due
        if due <= now:
            # a late start only if every slot was busy when it fell due; with a slot idle
            # the due timer merely has not run yet, which is no lack of connections
            if not self._idle and self.schedule.late(due, now):
                self.recorder.late_starts += 1
            self._send(conn, self._next_index, due, now)
            self._advance()
            return
        self._idle.append(conn)
        self._arm(now)

    def _dispatch(self) -> None:
        """Timer: hand every request due by now to an idle slot."""
        self._due_timer = None
        if self.stopped:
            return
        idle = self._idle
        now = monotonic_ns()
        while idle and not self.exhausted and self._next_due <= now:
            self._send(idle.pop(), self._next_index, self._next_due, now)
            self._advance()
        if self.exhausted:
            while idle:
                self._retire(idle.pop())
        else:
            self._arm(now)

    def _arm(self, now: int) -> None:
        if self._due_timer is None and self._idle and not self.exhausted:
            wait_ns = max(self._next_due - now, TIMER_RESOLUTION_NS)
            self._due_timer = self.loop.call_later(wait_ns / 1e9, self._dispatch)

    # the run's edges

    def _sweep(self) -> None:
        now = monotonic_ns()
        limit = self.timeout_ns
        expired = [c for c in self.conns if c.busy and now - c.sent_ns > limit]
        for conn in expired:
            conn.fail(RequestTimeout(f"no complete response within {limit / 1e9:g} s"))
        if not self.stopped:
            self._timers[0] = self.loop.call_later(self.sweep_s, self._sweep)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    async def close(self) -> None:
        """Abandon whatever is still in flight, as wrk does at its deadline."""
        self.stopped = True
        self.closed_until = 0
        for timer in self._timers:
            timer.cancel()
        if self._due_timer is not None:
            self._due_timer.cancel()
        resolving = self._resolving
        if resolving is not None:
            resolving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await resolving   # its failure was recorded by each attempt waiting on it
        tasks = []
        for conn in list(self.conns):
            if conn.connecting is not None:
                conn.connecting.cancel()
                tasks.append(conn.connecting)
            elif conn.transport is not None:
                conn.transport.abort()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _resolve(loop: asyncio.AbstractEventLoop, request: RequestTemplate) -> tuple:
    """The host's first address; socket.gaierror when it has none."""
    try:
        infos = await loop.getaddrinfo(request.host, request.port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:   # a name IDNA cannot encode: no such host either
        raise socket.gaierror(f"invalid host name {request.host!r}: {exc}") from None
    return infos[0][4][:2]


async def run(plan: WorkerPlan, recorder: Recorder, stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    spec = plan.spec
    request = RequestTemplate(spec)
    ssl_ctx = _ssl_context(spec.verify_tls) if request.tls_hostname is not None else None
    address: tuple | None = None
    try:   # before second 0, so resolving does not eat into the run
        address = await _resolve(loop, request)
    except OSError:   # socket.gaierror: each attempt resolves again and counts its failure
        pass
    delay = (plan.start_ns - monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)
    engine = _Engine(plan, recorder, request, address, ssl_ctx)
    stop_wait = asyncio.ensure_future(stopping.wait())
    try:
        engine.start()
        await asyncio.wait((engine.done, stop_wait), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
        await engine.close()
