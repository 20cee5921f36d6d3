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
from app.workload import DataTable, Target, Template, Workload
from app.workload.template import URL_BYTES

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
        fixed = [f"Host: {netloc}", f"User-Agent: {USER_AGENT}"]
        if first.username is not None:
            user_pass = f"{first.username}:{first.password or ''}".encode()
            fixed.append(f"Authorization: Basic {base64.b64encode(user_pass).decode()}")
        closing = "" if spec.keepalive else "Connection: close\r\n"
        origin = len(f"{first.scheme}://{first.netloc}")
        data = workload.data
        if data is not None and not data.only_bytes_in(URL_BYTES):
            # a value that needs percent-encoding in the URL but not in a header: render
            # the request whole, then encode it
            self.encode = _encode_rendered(workload, origin, fixed, closing)
            return
        ids = {name: n for n, name in enumerate(workload.names)}
        columns = data.columns if data is not None else ()
        makers = [_target_bytes(t, ids[t.display_name], origin, fixed, closing, columns,
                                workload.seed, data) for t in workload.targets]
        self.encode = workload.dispatch(makers)

    def render(self, index: int) -> bytes:
        """The request for one index (the hot path inlines this)."""
        if self.encode is not None:
            return self.encode(index)[0]
        return self.constant if self.constant is not None else (b"%d" % index).join(self.parts)


def _head_lines(target: Target, fixed: list[str]) -> list[str]:
    """Host, User-Agent and credentials unless the target sets them, then its headers."""
    given = {k.lower() for k, _ in target.headers}
    lines = [line for line in fixed if line.split(":", 1)[0].lower() not in given]
    return [_escape(line) for line in lines] + [f"{k}: {v}" for k, v in target.headers]


def _target_bytes(target: Target, name_id: int, origin: int, fixed: list[str], closing: str,
                  columns: tuple[str, ...], seed: int, data: DataTable | None
                  ) -> Callable[[int, int | None], tuple[bytes, int]]:
    """Request bytes of one target as pre-split parts: its request line and headers are one
    compiled template (placeholders numbered as the Workload numbers them: URL, headers,
    body); a constant body and its Content-Length are encoded once."""
    path = quote(target.url[origin:] or "/", safe=_QUOTE_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    method = target.method
    head = "".join(f"{line}\r\n" for line in
                   [f"{method} {path} HTTP/1.1", *_head_lines(target, fixed)])
    given = {k.lower() for k, _ in target.headers}
    sized = (bool(target.body) or method in ("POST", "PUT", "PATCH")) \
        and "content-length" not in given
    head_t = Template.compile(head + (closing if not sized else ""), columns)
    try:
        body_t = Template.compile(target.body.decode(), columns,
                                  first_position=head_t.next_position)
    except UnicodeDecodeError:
        body_t = None                       # binary: sent as it is
    if body_t is None or body_t.constant:
        body = target.body if body_t is None else body_t.bind(seed, data)(0, 0).encode()
        tail = ((f"Content-Length: {len(body)}\r\n{closing}" if sized else "")
                + "\r\n").encode() + body
        # the common case, one generated function straight to bytes
        return head_t.bind_bytes(seed, data, tail, name_id)
    render_head = head_t.bind(seed, data)
    render_body = body_t.bind(seed, data)
    end = f"{closing}\r\n"

    def make(i: int, r: int | None) -> tuple[bytes, int]:
        payload = render_body(i, r).encode()
        return (f"{render_head(i, r)}Content-Length: {len(payload)}\r\n{end}".encode()
                + payload, name_id)
    return make


def _encode_rendered(workload: Workload, origin: int, fixed: list[str], closing: str
                     ) -> Callable[[int], tuple[bytes, int]]:
    """Render request i whole, then encode it (when data values need URL quoting)."""
    render = workload.render

    def encode(index: int) -> tuple[bytes, int]:
        method, url, headers, body, name_id = render(index)
        target = url[origin:] or "/"
        if not target.isascii():
            target = quote(target, safe=_QUOTE_SAFE)
        given = {k.lower() for k, _ in headers}
        lines = [f"{method} {target} HTTP/1.1\r\n"]
        lines += [f"{line}\r\n" for line in fixed if line.split(":", 1)[0].lower() not in given]
        lines += [f"{k}: {v}\r\n" for k, v in headers]
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in given:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append(closing)
        lines.append("\r\n")
        return "".join(lines).encode() + body, name_id

    return encode


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")
