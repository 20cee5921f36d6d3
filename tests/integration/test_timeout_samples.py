"""The aiohttp engine's timeout samples name the limit that ran out and its value from the
spec (aiohttp's own say only "TimeoutError()"). Real sockets, the real engine."""
from __future__ import annotations

import asyncio

import pytest

from app.engine import start
from app.spec import parse_spec


async def summary_of(spec_data: dict) -> dict:
    run = await start(parse_spec(spec_data))
    async for _ in run:
        pass
    return run.summary.to_dict()


@pytest.mark.parametrize("engine", ["aiohttp", "fast"])
async def test_a_response_that_never_comes_is_a_request_timeout_naming_its_limit(engine):
    async def stall(reader, writer):
        await asyncio.sleep(30)

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        summary = await summary_of({"url": f"http://127.0.0.1:{port}/", "requests": 2,
                                    "concurrency": 2, "timeout": "0.5s", "engine": engine})
    assert summary["error_classes"] == {"request_timeout": 2}
    assert summary["error_samples"] == {
        "request_timeout": "request timeout: no complete response within 0.5 s"}


async def test_a_body_that_stops_halfway_is_a_request_timeout_too():
    async def half_body(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        await asyncio.sleep(30)

    server = await asyncio.start_server(half_body, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        summary = await summary_of({"url": f"http://127.0.0.1:{port}/", "requests": 1,
                                    "concurrency": 1, "timeout": "0.6s"})
    assert summary["error_samples"] == {
        "request_timeout": "request timeout: no complete response within 0.6 s"}
