"""The requests of a HAR 1.2 file as Chrome's or Firefox's DevTools export it (pure).

Only what the client would send again is kept: each entry's method, URL (no fragment),
headers and body. Headers that belong to one connection (hop-by-hop, and any the
Connection header lists), HTTP/2 pseudo-headers (`:authority`, ...) and the ones every
client computes itself (Content-Length, Host) are dropped. Entries that are not
http(s) (data:, blob:, ws:, extension pages) are skipped: they are not HTTP requests.
"""
from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from app.workload.errors import WorkloadError

# RFC 9110 7.6.1 (and Proxy-Connection, which old clients still send)
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "trailers",
                        "transfer-encoding", "upgrade"})
CLIENT_COMPUTED = frozenset({"content-length", "host"})
_SOURCE = "targets"


@dataclass(frozen=True)
class HarRequest:
    entry: int                                   # index in log.entries
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    text_body: bool                              # recorded as text (not base64)


def host_matches(url: str, only_host: str) -> bool:
    """Whether url's host is `only_host` ("example.com", "example.com:8080" or a URL)."""
    want = only_host.strip().lower()
    if "://" in want:
        want = urlsplit(want).netloc
    parts = urlsplit(url)
    host = parts.hostname or ""
    return want in (parts.netloc.rpartition("@")[2].lower(), host, f"[{host}]")


def har_requests(text: str, only_host: str | None, *, max_entries: int) -> list[HarRequest]:
    """The http(s) requests of a HAR file, in file order, or a WorkloadError saying why not."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkloadError(f"not a HAR file: not valid JSON ({exc.msg})", line=exc.lineno,
                            column=exc.colno, source=_SOURCE) from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise WorkloadError("not a HAR file: it has no log.entries list (export one from the "
                            "browser's DevTools: Network panel, Save all as HAR)",
                            source=_SOURCE)
    if not entries:
        raise WorkloadError("the HAR file has no entries (record with the Network panel open, "
                            "then export)", source=_SOURCE)
    requests, hosts, skipped = [], Counter(), Counter()
    for k, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        method, url = _field(request, "method", k), _field(request, "url", k)
        url = url.partition("#")[0]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            skipped[parts.scheme or "(none)"] += 1
            continue
        hosts[parts.netloc.rpartition("@")[2]] += 1
        if only_host and not host_matches(url, only_host):
            continue
        body, text_body = _body(request, k)
        requests.append(HarRequest(k, method, url, _headers(request.get("headers", []), k),
                                   body, text_body))
        if len(requests) > max_entries:
            raise WorkloadError(f"more than {max_entries:,} requests: keep one host "
                                f"(only_host) or record less", source=_SOURCE)
    if not requests:
        if only_host and hosts:
            found = ", ".join(f"{h} ({n})" for h, n in hosts.most_common(10))
            raise WorkloadError(f"no entry has the host {only_host!r}; the file's hosts: "
                                f"{found}", source=_SOURCE)
        found = ", ".join(f"{s}: {n}" for s, n in skipped.most_common())
        raise WorkloadError(f"the HAR file has no http(s) requests (skipped {found})",
                            source=_SOURCE)
    return requests


def _field(request: Any, key: str, k: int) -> str:
    if not isinstance(request, dict):
        raise WorkloadError("is missing or not an object", source=_SOURCE,
                            field=f"log.entries[{k}].request")
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise WorkloadError("is missing or not text", source=_SOURCE,
                            field=f"log.entries[{k}].request.{key}")
    return value


def _headers(raw: Any, k: int) -> tuple[tuple[str, str], ...]:
    field = f"log.entries[{k}].request.headers"
    if not isinstance(raw, list) or not all(
            isinstance(h, dict) and isinstance(h.get("name"), str)
            and isinstance(h.get("value"), str) for h in raw):
        raise WorkloadError("must be a list of {name, value} objects", source=_SOURCE,
                            field=field)
    pairs = [(h["name"], h["value"]) for h in raw]
    # a Connection header names more headers that belong to this connection only
    listed = {token.strip().lower() for name, value in pairs if name.lower() == "connection"
              for token in value.split(",")}
    drop = HOP_BY_HOP | CLIENT_COMPUTED | listed
    return tuple((name, value) for name, value in pairs
                 if not name.startswith(":") and name.lower() not in drop)


def _body(request: dict, k: int) -> tuple[bytes, bool]:
    """(body, recorded as text): postData.text, else its params URL-encoded."""
    post = request.get("postData")
    if not isinstance(post, dict):
        return b"", True
    text = post.get("text")
    if isinstance(text, str) and text:
        if post.get("encoding") == "base64":       # not in HAR 1.2, but some tools write it
            try:
                return base64.b64decode(text, validate=True), False
            except ValueError:
                raise WorkloadError("is not valid base64", source=_SOURCE,
                                    field=f"log.entries[{k}].request.postData.text") from None
        return text.encode(), True
    params = post.get("params")
    if not params:
        size = request.get("bodySize")
        if isinstance(size, int) and size > 0:
            # sending it empty would load the server with other requests than recorded
            raise WorkloadError(
                f"the request had a body of {size} bytes that the HAR does not hold (its "
                f"postData.text is empty): record with content (Playwright: "
                f"record_har_content=\"embed\"), or leave this request out (only_host)",
                source=_SOURCE, field=f"log.entries[{k}].request.postData")
        return b"", True
    if str(post.get("mimeType", "")).lower().startswith("multipart/"):
        raise WorkloadError("a multipart/form-data body recorded as params only cannot be "
                            "rebuilt (its files are not in the HAR): leave this request out "
                            "(only_host) or send it from a JSON lines target", source=_SOURCE,
                            field=f"log.entries[{k}].request.postData")
    if not isinstance(params, list) or not all(
            isinstance(p, dict) and isinstance(p.get("name"), str) for p in params):
        raise WorkloadError("must be a list of {name, value} objects", source=_SOURCE,
                            field=f"log.entries[{k}].request.postData.params")
    return urlencode([(p["name"], str(p.get("value", ""))) for p in params]).encode(), True
