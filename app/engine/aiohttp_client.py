"""The aiohttp engine: one shared ClientSession per worker process."""
from __future__ import annotations

import asyncio

import aiohttp

from app.workload import RenderedRequest

from .driver import drive
from .errors import aiohttp_timeout
from .plan import WorkerPlan
from .recorder import Recorder


async def run(plan: WorkerPlan, recorder: Recorder, stopping: asyncio.Event) -> None:
    spec = plan.spec
    connector = aiohttp.TCPConnector(
        limit=plan.concurrency,        # the default of 100 would silently cap concurrency
        limit_per_host=0,
        ttl_dns_cache=None,            # resolve once, keep for the whole run
        force_close=not spec.keepalive,  # keepalive off: a fresh connection per request
        ssl=None if spec.verify_tls else False,
    )
    timeout = aiohttp.ClientTimeout(total=spec.timeout, sock_connect=spec.connect_timeout)
    limit_s, connect_limit_s = spec.timeout, spec.connect_timeout
    async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False) as session:
        request = session.request

        async def send(req: RenderedRequest) -> tuple[int, int]:
            try:        # costs nothing until a timeout: the sample then names the limit
                async with request(req.method, req.url, headers=req.headers,
                                   data=req.body or None) as response:
                    data = await response.read()   # read fully: a load test must drain bodies
                    return response.status, len(data)
            except asyncio.TimeoutError as exc:
                raise aiohttp_timeout(exc, limit_s, connect_limit_s) from exc

        await drive(plan, recorder, stopping, send)
