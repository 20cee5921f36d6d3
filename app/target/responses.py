"""What the target answers: delay ranges, query overrides and pre-encoded responses (pure).

A Plan is everything about a response except its delay, encoded once; per request the server
only formats the Delay value and picks the connection tail.
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus

SERVER_NAME = "stampede-target"
BODY_PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
MAX_SIZE = 16 * 1024 * 1024  # size= cap: a typo must not allocate gigabytes per request

# A tail ends the last header line (Delay, or Content-Length for a rejection) and the header block.
TAIL_OPEN = b"\r\n\r\n"
TAIL_CLOSE = b"\r\nConnection: close\r\n\r\n"
TAIL_KEEP_ALIVE_10 = b"\r\nConnection: keep-alive\r\n\r\n"  # HTTP/1.0 clients need it echoed


def parse_delay(text: str) -> tuple[float, float]:
    """Parse "MIN-MAX" or "X" (seconds) into (min, max); ValueError says what is wrong."""
    low_text, high_text = _split_range(text.strip())
    low, high = _seconds(low_text, text), _seconds(high_text, text)
    if low > high:
        raise ValueError(f"delay {text!r}: min {low:g} is greater than max {high:g}")
    return low, high


def _split_range(text: str) -> tuple[str, str]:
    # A "-" right after an exponent marker belongs to the number (1e-3), not to the range.
    for index in range(1, len(text)):
        if text[index] == "-" and text[index - 1] not in "eE":
            return text[:index], text[index + 1 :]
    return text, text


def _seconds(part: str, text: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise ValueError(
            f"delay {text!r}: {part.strip()!r} is not a number of seconds (use MIN-MAX or X, e.g. 0-3)"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"delay {text!r}: must be finite")
    if value < 0:
        raise ValueError(f"delay {text!r}: must not be negative")
    return value


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything about a response except its delay, encoded once and reused per request."""

    low: float
    span: float
    head: bytes  # status line and fixed headers; ends with "Delay: " unless rejected
    body: bytes
    rejected: bool = False  # a 400 for a bad override: sent at once, draws no delay


def pattern_body(size: int) -> bytes:
    return (BODY_PATTERN * (size // len(BODY_PATTERN) + 1))[:size]


def encode_plan(low: float, high: float, status: int, body: bytes, content_type: str) -> Plan:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""  # an empty reason phrase is valid HTTP/1.1
    lines = [f"HTTP/1.1 {status} {reason}", f"Server: {SERVER_NAME}", f"Content-Type: {content_type}"]
    if status in (204, 304):
        body = b""  # these never carry a body, and 204 must not send Content-Length
    else:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\nDelay: ").encode("latin-1")
    return Plan(low, high - low, head, body)


def rejection(message: str) -> Plan:
    body = (message + "\n").encode()
    head = (
        f"HTTP/1.1 400 Bad Request\r\nServer: {SERVER_NAME}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}"
    ).encode("latin-1")
    return Plan(0.0, 0.0, head, body, rejected=True)


BAD_HTTP = rejection("bad request: invalid HTTP")


def plan_from_query(query: bytes, low: float, high: float, body: bytes, content_type: str) -> Plan:
    """Apply delay=, status=, size= to the configured defaults; unknown parameters are ignored."""
    status = 200
    for name, value in urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name == "delay":
            try:
                low, high = parse_delay(value)
            except ValueError as error:
                return rejection(f"bad {error}")  # parse_delay's message starts with "delay"
        elif name == "status":
            parsed = _int_in(value, 200, 599)
            if parsed is None:
                return rejection(f"bad status {value!r}: expected an integer 200-599")
            status = parsed
        elif name == "size":
            size = _int_in(value, 0, MAX_SIZE)
            if size is None:
                return rejection(f"bad size {value!r}: expected an integer 0-{MAX_SIZE}")
            body, content_type = pattern_body(size), "text/plain"
    return encode_plan(low, high, status, body, content_type)


def _int_in(text: str, low: int, high: int) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None
