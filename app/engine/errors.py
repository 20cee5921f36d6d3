"""Exception -> error class: the one table every engine uses."""
from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from enum import Enum

import aiohttp
from aiohttp import http_exceptions

SAMPLE_CHARS = 300


class ErrorClass(str, Enum):
    CONNECTION_REFUSED = "connection_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    REQUEST_TIMEOUT = "request_timeout"
    DISCONNECTED = "disconnected"             # reset by peer / server hung up mid-request
    TOO_MANY_OPEN_FILES = "too_many_open_files"   # EMFILE / ENFILE
    ADDRESS_NOT_AVAILABLE = "address_not_available"  # EADDRNOTAVAIL: ephemeral ports used up
    DNS_FAILURE = "dns_failure"
    TLS_FAILURE = "tls_failure"
    INVALID_HTTP = "invalid_http"
    OTHER = "other"


class ConnectTimeout(TimeoutError):
    """Raised by the fast engine when the TCP/TLS connect exceeds connect_timeout."""


class InvalidHTTP(Exception):
    """Raised by the fast engine when the response cannot be parsed."""


_ERRNO = {
    errno.ECONNREFUSED: ErrorClass.CONNECTION_REFUSED,
    errno.EMFILE: ErrorClass.TOO_MANY_OPEN_FILES,
    errno.ENFILE: ErrorClass.TOO_MANY_OPEN_FILES,
    errno.EADDRNOTAVAIL: ErrorClass.ADDRESS_NOT_AVAILABLE,
    errno.ECONNRESET: ErrorClass.DISCONNECTED,
    errno.EPIPE: ErrorClass.DISCONNECTED,
    errno.ECONNABORTED: ErrorClass.DISCONNECTED,
    errno.ETIMEDOUT: ErrorClass.CONNECT_TIMEOUT,
    errno.EHOSTUNREACH: ErrorClass.CONNECTION_REFUSED,
    errno.ENETUNREACH: ErrorClass.CONNECTION_REFUSED,
}

# checked in order, first match wins: specific types before their bases
_TYPES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], ErrorClass], ...] = (
    ((aiohttp.ClientSSLError, ssl.SSLError, ssl.CertificateError), ErrorClass.TLS_FAILURE),
    ((aiohttp.ClientConnectorDNSError, socket.gaierror), ErrorClass.DNS_FAILURE),
    ((aiohttp.ConnectionTimeoutError, ConnectTimeout), ErrorClass.CONNECT_TIMEOUT),
    ((asyncio.TimeoutError, TimeoutError), ErrorClass.REQUEST_TIMEOUT),
    ((http_exceptions.HttpProcessingError, InvalidHTTP), ErrorClass.INVALID_HTTP),
    ((aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
      asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError), ErrorClass.DISCONNECTED),
    (ConnectionRefusedError, ErrorClass.CONNECTION_REFUSED),
)


def classify(exc: BaseException) -> ErrorClass:
    """Walk the exception and its causes; the first recognisable one decides."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for types, cls in _TYPES:
            if isinstance(current, types):
                return cls
        code = getattr(current, "errno", None)
        if code in _ERRNO:
            return _ERRNO[code]
        inner = getattr(current, "os_error", None)  # aiohttp's ClientConnectorError
        current = inner or current.__cause__ or current.__context__
    return ErrorClass.OTHER


def describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"[:SAMPLE_CHARS]
