"""Exception -> error class and sample message (pure)."""
from __future__ import annotations

import asyncio

import aiohttp

from app.engine.errors import (ConnectTimeout, ErrorClass, RequestTimeout, aiohttp_timeout,
                               classify, describe)


def test_aiohttp_timeouts_become_ours_with_the_spec_values():
    total = aiohttp_timeout(asyncio.TimeoutError(), 30.0, 10.0)
    assert isinstance(total, RequestTimeout)
    assert classify(total) is ErrorClass.REQUEST_TIMEOUT
    assert describe(total) == "request timeout: no complete response within 30 s"

    connect = aiohttp_timeout(aiohttp.ConnectionTimeoutError("Connection timeout to host x"),
                              30.0, 2.5)
    assert isinstance(connect, ConnectTimeout)
    assert classify(connect) is ErrorClass.CONNECT_TIMEOUT
    assert describe(connect) == "connect timeout: no connection within 2.5 s"


def test_a_socket_read_timeout_is_left_as_aiohttp_raised_it():
    exc = aiohttp.SocketTimeoutError("Timeout on reading data from socket")
    assert aiohttp_timeout(exc, 30.0, 10.0) is exc
    assert classify(exc) is ErrorClass.REQUEST_TIMEOUT


def test_other_exceptions_are_described_by_type_and_text():
    assert describe(ConnectionRefusedError(111, "Connection refused")) == \
        "ConnectionRefusedError: [Errno 111] Connection refused"
    assert describe(ValueError()) == "ValueError: ValueError()"
    assert len(describe(ValueError("x" * 1000))) == 300


def test_a_sample_quoting_the_url_does_not_show_its_secrets():
    # what requests (the sync engine) says when a connect fails
    exc = ConnectionError("HTTPConnectionPool(host='h', port=1): Max retries exceeded with "
                          "url: /5?access_token=s3cret&delay=0-3 (Caused by ...)")
    sample = describe(exc)
    assert "s3cret" not in sample and "access_token=••••••&delay=0-3" in sample
