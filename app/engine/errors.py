"""Exception -> error class: the one table every engine uses."""
from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from enum import Enum

import aiohttp
from aiohttp import http_exceptions
from urllib3.exceptions import LocationParseError

from app.redact import mask_text

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


class Timeout(TimeoutError):
    """A timeout that says which limit of the spec ran out, and its value."""
    label = "timeout"


class ConnectTimeout(Timeout):
    """The TCP/TLS connect exceeded connect_timeout."""
    label = "connect timeout"


class RequestTimeout(Timeout):
    """No complete response (headers and body) within the total timeout."""
    label = "request timeout"


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
    # a host name IDNA cannot encode never reaches a resolver: aiohttp raises the codec's
    # UnicodeError, requests (urllib3) a LocationParseError; the fast engine a gaierror
    ((aiohttp.ClientConnectorDNSError, socket.gaierror, UnicodeError, LocationParseError),
     ErrorClass.DNS_FAILURE),
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
    """The sample message: ours say which limit ran out, others their type and text. Secrets
    in it are masked here, once (requests quotes the URL with its query: `?token=…`), so no
    view of the sample (page, API, export, WebSocket) can show them."""
    text = str(exc) or repr(exc)
    label = exc.label if isinstance(exc, Timeout) else type(exc).__name__
    return mask_text(f"{label}: {text}"[:4 * SAMPLE_CHARS])[:SAMPLE_CHARS]


def aiohttp_timeout(exc: asyncio.TimeoutError, timeout: float,
                    connect_timeout: float) -> BaseException:
    """aiohttp's timeouts do not name their limit (the total one is a bare TimeoutError()):
    the same failure as one of ours, carrying the spec's value. aiohttp raises
    ConnectionTimeoutError for sock_connect and a plain TimeoutError for total; a
    SocketTimeoutError (sock_read, which the engine does not set) is left as it is."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeout(f"no connection within {connect_timeout:g} s")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return exc
    return RequestTimeout(f"no complete response within {timeout:g} s")
