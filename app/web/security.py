"""Token, Host and Origin checks, and the security headers of every response.

- Token (when Settings.token is set, required off loopback): every request but
  /healthz needs it, as `?token=` (once: it sets an HttpOnly SameSite=Strict cookie),
  the cookie, or `Authorization: Bearer`. Missing or wrong: 401 (JSON under /api/).
- Host: without a token the dashboard answers only to the names it is served on
  (loopback names, the --host), so a DNS-rebinding page cannot read it.
- Origin: state-changing requests and the WebSocket handshake, when they carry an
  Origin, must come from the dashboard's own origin, else 403 (no cross-site forms,
  fetches or sockets, token or not).
"""
from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import hdrs, web

from .keys import SETTINGS
from .settings import Settings

COOKIE = "stampede_token"
COOKIE_MAX_AGE = 30 * 24 * 3600
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/healthz"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # 'self' in connect-src covers ws:// to the same host and port (CSP level 3; checked
    # with Chromium 156: the live page's WebSocket connects, no violation reported)
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_security(app: web.Application) -> None:
    app.middlewares.append(security_middleware)
    app.on_response_prepare.append(_add_headers)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    if settings.token is None and not _known_host(request, settings):
        return _refuse(request, 403, "unknown Host: open the dashboard by its own address")
    if _needs_origin_check(request) and not _same_origin(request):
        return _refuse(request, 403, "cross-origin request refused")
    if settings.token is None or request.path in PUBLIC_PATHS:
        return await handler(request)
    from_query = request.query.get("token")
    if from_query is not None:
        if not _matches(from_query, settings.token):
            return _refuse(request, 401, "wrong token")
        if request.method == "GET" and not _is_api(request) and not _is_websocket(request):
            # a page: set the cookie and drop the token from the address bar and history
            params = [(k, v) for k, v in request.query.items() if k != "token"]
            path = "/" + request.path.lstrip("/")     # never "//host": not an open redirect
            location = path + ("?" + urlencode(params) if params else "")
            response: web.StreamResponse = web.Response(status=303, headers={"Location": location})
        else:
            response = await handler(request)
        _set_cookie(response, settings.token, request.secure)
        return response
    if _matches(request.cookies.get(COOKIE), settings.token) or _matches(_bearer(request),
                                                                         settings.token):
        return await handler(request)
    return _refuse(request, 401, "a token is required: open the URL printed at start-up "
                                 "(…?token=…) or send Authorization: Bearer <token>")


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _set_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True,
                        samesite="Strict", secure=secure)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in PUBLIC_PATHS


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def _needs_origin_check(request: web.Request) -> bool:
    return request.method in STATE_CHANGING or _is_websocket(request)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:        # not a browser (curl, scripts): nothing to forge
        return True
    # the Host header itself: request.host would fall back to a (blocking) getfqdn()
    return origin.lower() == f"{request.scheme}://{request.headers.get(hdrs.HOST, '')}".lower()


def _known_host(request: web.Request, settings: Settings) -> bool:
    host = request.headers.get(hdrs.HOST)
    if host is None:          # HTTP/1.0 tools; every browser (so every rebinding page) sends it
        return True
    host = host.lower()
    if host.startswith("["):                       # [::1]:8080
        name = host[1:host.find("]")] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name in LOOPBACK_NAMES or name == settings.host.lower()


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": message}, status=status)
    reason = "Unauthorized" if status == 401 else "Forbidden"
    body = (f"<!doctype html><meta charset=utf-8><title>{status} {reason} · Stampede</title>"
            f"<h1>{status} {reason}</h1><p>{_escape(message)}</p>")
    if status == 401:
        body += ('<form method="get"><label>Token <input name="token" type="password" '
                 'autocomplete="current-password" required></label> <button>Open</button></form>')
    return web.Response(status=status, text=body, content_type="text/html")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
