"""Secrets masked for every outward view of a run (pure).

A run's spec is stored as typed, secrets included, because "Run again" must send
them again. Everything that shows or exports a run (pages, API answers, JSON
export) goes through `run_view` first: header values and URL parts
that look like credentials become MASK, keeping at most an Authorization scheme
word ("Bearer ••••••") so a reader still sees how the run authenticated. Error
sample messages, which may quote the URL, are masked once where they are made
(engine.errors.describe, with `mask_text`).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import unquote_plus

MASK = "••••••"
R = TypeVar("R")    # a dataclass with `url` and `spec` (store.RunRecord; this stays pure)
# Header and query parameter names that carry credentials: a substring match, so
# X-API-Key, X-Auth-Token, access_token, client_secret, Set-Cookie, passwd all count
# ("author" does not). Masking a harmless value costs little; a shown secret is out.
_SECRET_NAME = re.compile(r"token|secret|key|pass|pwd|authori[sz]|auth(?!or)|cookie|session"
                          r"|credential|signature", re.IGNORECASE)
# "Bearer abc", "Basic dXNl…": the scheme word is kept, the credentials are not
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.-]*)\s+\S")
_SCHEME_HEADERS = frozenset({"authorization", "proxy-authorization"})
# in free text: "http://user:pass@", and name=value up to a separator or a quote
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.%-]+)=(?P<value>[^&;#\s'\"()<>,]+)")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def mask_header(name: str, value: str) -> str:
    """The value to show for one header."""
    if not is_secret_name(name):
        return value
    scheme = _SCHEME.match(value) if name.strip().lower() in _SCHEME_HEADERS else None
    return f"{scheme.group(1)} {MASK}" if scheme else MASK


def mask_url(url: str) -> str:
    """The URL with its userinfo password (or a lone user name: often a token) and the
    values of secret-named query parameters masked. The rest of the text is kept byte for
    byte (no re-encoding), so `{i}` and the other parameters read as typed."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    start = scheme_end + 3
    rest, fragment = _split_off(url[start:], "#")
    authority_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0),
                        default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        authority = f"{_mask_userinfo(userinfo)}@{host}"
    path, query = _split_off(tail, "?")
    if query is not None:
        query = "&".join(_mask_param(p) for p in query.split("&"))
        path = f"{path}?{query}"
    text = url[:start] + authority + path
    return text if fragment is None else f"{text}#{fragment}"


def mask_text(text: str) -> str:
    """Free text (an error's message, which may quote the URL it failed on) with the same
    secrets masked: userinfo in URLs, values of secret-named `name=value` pairs."""
    text = _URL_USERINFO.sub(lambda m: m["scheme"] + _mask_userinfo(m["userinfo"]) + "@", text)
    return _PAIR.sub(lambda m: f"{m['name']}={MASK}"
                     if is_secret_name(unquote_plus(m["name"])) else m[0], text)


def spec_view(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a stored spec (RunSpec.to_dict()) fit to show: url and headers masked."""
    view = dict(spec)
    if isinstance(view.get("url"), str):
        view["url"] = mask_url(view["url"])
    if "headers" in view and view["headers"]:
        view["headers"] = [_mask_header_item(h) for h in view["headers"]]
    if isinstance(view.get("targets"), list):      # a workload's requests, each likewise
        view["targets"] = [spec_view(t) if isinstance(t, Mapping) else t
                           for t in view["targets"]]
    return view


def run_view(run: R) -> R:
    """A copy of a run (store.RunRecord) fit to show or export: its url and spec masked.
    The pages render it and the API answers its to_dict()."""
    return dataclasses.replace(run, url=mask_url(run.url), spec=spec_view(run.spec))


def _mask_userinfo(userinfo: str) -> str:
    user, has_password, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if has_password else MASK


def _mask_header_item(item: Any) -> Any:
    if isinstance(item, str):                       # "Name: value", as stored
        name, colon, value = item.partition(":")
        if not colon:
            return item
        masked = mask_header(name, value.strip())
        return item if masked == value.strip() else f"{name}: {masked}"
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return [item[0], mask_header(str(item[0]), str(item[1]))]
    return item


def _mask_param(param: str) -> str:
    name, equals, value = param.partition("=")
    if equals and value and is_secret_name(unquote_plus(name)):
        return f"{name}={MASK}"
    return param


def _split_off(text: str, sep: str) -> tuple[str, str | None]:
    head, found, tail = text.partition(sep)
    return (head, tail) if found else (text, None)
