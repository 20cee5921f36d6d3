"""Request bytes for the fast engine, encoded once per run (pure).

A URL without `{i}` gives one constant bytes object; with `{i}` the request is
kept as the parts around each occurrence, so a request costs one `bytes.join`.
"""
from __future__ import annotations

import base64
from urllib.parse import quote, urlsplit

from app.spec import INDEX_PLACEHOLDER, RunSpec

USER_AGENT = "stampede-fast"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RequestTemplate:
    """The request bytes, encoded once; with `{i}`, the parts around each occurrence."""
    __slots__ = ("constant", "parts", "host", "port", "tls_hostname")

    def __init__(self, spec: RunSpec):
        parts = urlsplit(spec.url)
        if INDEX_PLACEHOLDER in parts.netloc:
            raise ValueError("the fast engine resolves the host once: "
                             "{i} is supported in the path and query only")
        self.host = parts.hostname or ""
        self.port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self.tls_hostname = self.host if parts.scheme == "https" else None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # non-ASCII to %XX as a browser would; reserved characters, escapes and {i} stay
        target = quote(target, safe="!#$%&'()*+,/:;=?@[]~{}")
        netloc = parts.netloc.rpartition("@")[2]
        given = {name.lower() for name, _ in spec.headers}
        lines = []
        if "host" not in given:
            lines.append(f"Host: {netloc}")
        if "user-agent" not in given:
            lines.append(f"User-Agent: {USER_AGENT}")
        if parts.username is not None and "authorization" not in given:
            user_pass = f"{parts.username}:{parts.password or ''}".encode()
            lines.append(f"Authorization: Basic {base64.b64encode(user_pass).decode()}")
        lines += [f"{name}: {value}" for name, value in spec.headers]
        body = spec.body.encode()
        if (body or spec.method in ("POST", "PUT", "PATCH")) and "content-length" not in given:
            lines.append(f"Content-Length: {len(body)}")
        if not spec.keepalive:
            lines.append("Connection: close")
        # as in the other engines, `{i}` is replaced in the URL only, not in headers or body
        self.parts = f"{spec.method} {target} HTTP/1.1\r\n".encode().split(
            INDEX_PLACEHOLDER.encode())
        self.parts[-1] += "".join(f"{line}\r\n" for line in lines).encode() + b"\r\n" + body
        self.constant = self.parts[0] if len(self.parts) == 1 else None

    def render(self, index: int) -> bytes:
        """The request for one index (the hot path inlines this)."""
        return self.constant if self.constant is not None else (b"%d" % index).join(self.parts)
