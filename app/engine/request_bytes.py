"""Request bytes for the fast engine, encoded once per run where they can be (pure).

The one-request form: a URL without `{i}` gives one constant bytes object; with `{i}`
the request is kept as the parts around each occurrence, so a request costs one
`bytes.join`. A workload (several targets, data, placeholders in headers or body) is
rendered per request and encoded by `encode(index) -> (bytes, name id)`: its
Content-Length follows the rendered body.
"""
from __future__ import annotations

import base64
from urllib.parse import quote, urlsplit

from collections.abc import Callable

from app.spec import INDEX_PLACEHOLDER, RunSpec
from app.workload import Workload

USER_AGENT = "stampede-fast"
_DEFAULT_PORTS = {"http": 80, "https": 443}


_QUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~{}"     # reserved characters, escapes and {i} stay


class RequestTemplate:
    """The request bytes, encoded once; with `{i}`, the parts around each occurrence; for
    a workload, `encode`. Every target shares one origin (the spec makes sure)."""
    __slots__ = ("constant", "parts", "encode", "host", "port", "tls_hostname")

    def __init__(self, spec: RunSpec):
        self.encode: Callable[[int], tuple[bytes, int]] | None = None
        if spec.targets or spec.data is not None:
            self._for_workload(spec)
            return
        parts = urlsplit(spec.url)
        if INDEX_PLACEHOLDER in parts.netloc:
            raise ValueError("the fast engine resolves the host once: "
                             "{i} is supported in the path and query only")
        self.host = parts.hostname or ""
        self.port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self.tls_hostname = self.host if parts.scheme == "https" else None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # non-ASCII to %XX as a browser would; reserved characters, escapes and {i} stay
        target = quote(target, safe=_QUOTE_SAFE)
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

    def _for_workload(self, spec: RunSpec) -> None:
        workload: Workload = spec.workload()
        first = urlsplit(spec.request_targets[0].url)
        self.host = first.hostname or ""
        self.port = first.port or _DEFAULT_PORTS[first.scheme]
        self.tls_hostname = self.host if first.scheme == "https" else None
        self.constant = self.parts = None
        netloc = first.netloc.rpartition("@")[2]
        auth = ""
        if first.username is not None:
            user_pass = f"{first.username}:{first.password or ''}".encode()
            auth = f"Authorization: Basic {base64.b64encode(user_pass).decode()}\r\n"
        origin_len = len(f"{first.scheme}://{first.netloc}")
        closing = "" if spec.keepalive else "Connection: close\r\n"
        render = workload.render

        def encode(index: int) -> tuple[bytes, int]:
            method, url, headers, body, name_id = render(index)
            target = url[origin_len:] or "/"
            if not target.isascii():
                target = quote(target, safe=_QUOTE_SAFE)
            given = {k.lower() for k, _ in headers}
            lines = [f"{method} {target} HTTP/1.1\r\n"]
            if "host" not in given:
                lines.append(f"Host: {netloc}\r\n")
            if "user-agent" not in given:
                lines.append(f"User-Agent: {USER_AGENT}\r\n")
            if auth and "authorization" not in given:
                lines.append(auth)
            lines += [f"{k}: {v}\r\n" for k, v in headers]
            if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in given:
                lines.append(f"Content-Length: {len(body)}\r\n")
            lines.append(closing)
            lines.append("\r\n")
            return "".join(lines).encode() + body, name_id

        self.encode = encode

    def render(self, index: int) -> bytes:
        """The request for one index (the hot path inlines this)."""
        if self.encode is not None:
            return self.encode(index)[0]
        return self.constant if self.constant is not None else (b"%d" % index).join(self.parts)
