"""Targets: the request templates a run sends, and their parsers (pure).

A run carries a list of targets, each {name?, method, url, headers, body, weight?}, from:
- Vegeta's text format: a `METHOD URL` line, `Name: value` header lines, an optional
  `@path` body line, then a blank line; `#` starts a comment line;
- JSON lines: one object a line with the target's fields (`body_b64` for a binary body);
- a HAR 1.2 file as browsers' DevTools export it (har.py): recorded traffic is literal,
  so its braces are escaped rather than read as placeholders.
URL, header values and body may hold placeholders (template.py); a target is checked
when it is made (Target.__post_init__, the one validator), and a parser turns the
field an error names into the line it came from.
"""
from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from app.workload.errors import WorkloadError, decode_text
from app.workload.har import har_requests, host_matches

# Every worker compiles every target, and the run's stored spec lists them all.
MAX_TARGETS = 10_000
# Each distinct name is a row of per-name statistics, every second of the run, in every
# worker's frames, the store and the pages: names, unlike URLs, must stay few.
MAX_NAMES = 200
# A targets file with its @body files: every worker holds all of them in memory.
MAX_TARGETS_BYTES = 10 * 2**20
# DevTools exports embed the response bodies, which are skipped but must be read.
MAX_HAR_BYTES = 50 * 2**20
MAX_NAME_LENGTH = 200
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PLACEHOLDERS = re.compile(r"\{\{|\}\}|\{[^{}]*\}")
_NEW_TARGET = re.compile(r"[A-Za-z]+\s+https?://")
_HEADER = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:(?!//)")     # "Name:", not "http://"
_FIELDS = ("name", "method", "url", "headers", "body", "body_b64", "weight")
_SOURCE = "targets"


class TargetsFormat(str, Enum):
    VEGETA = "vegeta"
    JSONL = "jsonl"
    HAR = "har"


def format_for_path(path: str) -> TargetsFormat:
    """.har -> HAR, .jsonl/.ndjson -> JSON lines, anything else -> Vegeta's text."""
    lower = path.lower()
    if lower.endswith(".har"):
        return TargetsFormat.HAR
    if lower.endswith((".jsonl", ".ndjson")):
        return TargetsFormat.JSONL
    return TargetsFormat.VEGETA


def max_bytes(fmt: TargetsFormat) -> int:
    """The size limit of a targets file of this format (for uploads to check early)."""
    return MAX_HAR_BYTES if fmt is TargetsFormat.HAR else MAX_TARGETS_BYTES


@dataclass(frozen=True)
class Target:
    method: str                                  # upper case, a valid HTTP token
    url: str                                     # http(s) URL, may hold placeholders
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    name: str = ""                               # "" = derive (display_name)
    weight: float = 1.0                          # > 0; used by the weighted order

    def __post_init__(self) -> None:
        # normalise (frozen: through object.__setattr__), then refuse what cannot be sent;
        # errors name the field (`field`), which parsers turn into a line
        from app.workload.template import check_syntax   # template imports this module
        set_ = object.__setattr__
        if not isinstance(self.method, str) or not _TOKEN.fullmatch(self.method):
            raise WorkloadError(f"{self.method!r} is not an HTTP method", field="method")
        set_(self, "method", self.method.upper())
        if not isinstance(self.url, str):
            raise WorkloadError("must be text", field="url")
        _check_url(self.url)
        _checked(check_syntax, self.url, "url")
        if isinstance(self.headers, Mapping):
            set_(self, "headers", tuple(self.headers.items()))
        try:
            set_(self, "headers", tuple((str(k), str(v)) for k, v in self.headers))
        except (TypeError, ValueError):
            raise WorkloadError("must be (name, value) pairs", field="headers") from None
        for n, (key, value) in enumerate(self.headers):
            _check_header(key, value, f"headers[{n}]")
            _checked(check_syntax, value, f"headers[{n}]", f"header {key!r}: ")
        if isinstance(self.body, str):
            set_(self, "body", self.body.encode())
        if not isinstance(self.body, (bytes, bytearray)):
            raise WorkloadError("must be bytes or text", field="body")
        set_(self, "body", bytes(self.body))
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None                          # binary: sent as it is, no placeholders
        if text is not None:
            _checked(check_syntax, text, "body")
        set_(self, "name", _name(self.name))
        set_(self, "weight", _weight(self.weight))

    @property
    def display_name(self) -> str:
        """The name given, else "METHOD /path" (no query; placeholders kept)."""
        return self.name or f"{self.method} {urlsplit(self.url).path or '/'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; targets_from_json reads it back to an equal Target."""
        d: dict[str, Any] = {"name": self.name, "method": self.method, "url": self.url,
                             "headers": [[k, v] for k, v in self.headers]}
        try:
            d["body"] = self.body.decode("utf-8")
        except UnicodeDecodeError:
            d["body_b64"] = base64.b64encode(self.body).decode("ascii")
        d["weight"] = self.weight
        return d


def _checked(check: Callable[[str], None], text: str, field: str, prefix: str = "") -> None:
    try:
        check(text)
    except WorkloadError as exc:
        raise WorkloadError(prefix + exc.message, column=exc.column, field=field) from None


def _check_url(url: str) -> None:
    if any(c in url for c in " \t\r\n\x00"):
        raise WorkloadError("must not contain spaces or line breaks (write a space as %20)",
                            field="url")
    # placeholders stand for text a URL can hold: check the URL around them
    parts = urlsplit(_PLACEHOLDERS.sub(_sample_value, url))
    if parts.scheme not in ("http", "https"):
        raise WorkloadError(f"unknown scheme {parts.scheme or '(none)'!r} in {url!r}: use "
                            f"http:// or https://", field="url")
    if not parts.hostname:
        raise WorkloadError(f"{url!r} has no host", field="url")
    try:
        parts.port
    except ValueError:
        raise WorkloadError(f"{url!r} has an invalid port", field="url") from None


def _sample_value(m: re.Match) -> str:
    """What a placeholder could render to (a brace escape renders to its brace)."""
    return m.group()[0] if m.group() in ("{{", "}}") else "0"


def _check_header(key: str, value: str, field: str) -> None:
    if not _TOKEN.fullmatch(key):
        raise WorkloadError(f"{key!r} is not a valid header name", field=field)
    if any(c in value for c in "\r\n\x00"):
        raise WorkloadError(f"the value of header {key!r} contains a line break or NUL",
                            field=field)


def _name(raw: Any) -> str:
    if not isinstance(raw, str):
        raise WorkloadError("must be text", field="name")
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise WorkloadError(f"at most {MAX_NAME_LENGTH} characters", field="name")
    if any(ord(c) < 32 for c in name):
        raise WorkloadError("must not contain control characters", field="name")
    return name


def _weight(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise WorkloadError(f"{raw!r} is not a number", field="weight")
    weight = float(raw)
    if not math.isfinite(weight) or weight <= 0:
        raise WorkloadError("must be a number greater than 0", field="weight")
    return weight


def check_names(targets: Sequence[Target]) -> None:
    """Refuse more than MAX_NAMES distinct names, saying how to group them."""
    names = {t.display_name for t in targets}
    if len(names) > MAX_NAMES:
        raise WorkloadError(
            f"{len(names)} distinct request names, above the limit of {MAX_NAMES} (each name "
            f"is a row of statistics every second): give the targets a name that groups "
            f"them, e.g. \"name\": \"GET /users/:id\" in JSON lines, or put the varying part "
            f"of the path in a placeholder (/users/{{id}} is one name)", source=_SOURCE)


def parse_targets(text: str | bytes, fmt: TargetsFormat, *,
                  read_file: Callable[[str], bytes] | None = None,
                  only_host: str | None = None) -> list[Target]:
    """Targets from a file's content, or a WorkloadError naming the line and what is wrong.

    `read_file` resolves Vegeta `@path` body lines (the CLI reads them relative to the
    targets file); without it such a line is refused. `only_host` keeps the targets of
    one host ("api.example.com", or "host:port").
    """
    fmt = TargetsFormat(fmt)
    limit = max_bytes(fmt)
    if len(text) > limit:
        raise WorkloadError(f"the file is {len(text) / 2**20:.1f} MiB, above the limit of "
                            f"{limit // 2**20} MiB for a {fmt.value} targets file",
                            source=_SOURCE)
    content = decode_text(text, _SOURCE)
    if not content.strip():
        raise WorkloadError("the file is empty", source=_SOURCE)
    if fmt is TargetsFormat.HAR:
        targets = _from_har(content, only_host)
    else:
        targets = (_parse_vegeta(content, read_file) if fmt is TargetsFormat.VEGETA
                   else _parse_jsonl(content))
        if only_host:
            kept = [t for t in targets if host_matches(t.url, only_host)]
            if not kept:
                raise WorkloadError(f"no target has the host {only_host!r}", source=_SOURCE)
            targets = kept
    return targets


def targets_from_json(items: Any) -> list[Target]:
    """Targets from the API's `targets`: a list of objects with a JSON line's fields."""
    if not isinstance(items, list) or not items:
        raise WorkloadError("must be a non-empty list of objects with method, url, ...",
                            source=_SOURCE, field="targets")
    if len(items) > MAX_TARGETS:
        raise WorkloadError(f"{len(items):,} targets, above the limit of {MAX_TARGETS:,}",
                            source=_SOURCE, field="targets")
    targets = []
    for n, item in enumerate(items):
        try:
            targets.append(_target_from_item(item))
        except WorkloadError as exc:
            path = f"targets[{n}]" + (f".{exc.field}" if exc.field else "")
            raise WorkloadError(exc.message, line=n + 1, source=_SOURCE, field=path) from None
    return targets


def _target_from_item(item: Any) -> Target:
    """A target from a JSON object; errors name the field."""
    if not isinstance(item, dict):
        raise WorkloadError("must be an object with method, url, headers, body, ...")
    unknown = [k for k in item if k not in _FIELDS]
    if unknown:
        raise WorkloadError(f"unknown field {unknown[0]!r} (known: {', '.join(_FIELDS)})",
                            field=str(unknown[0]))
    if "url" not in item:
        raise WorkloadError("is required", field="url")
    if "body" in item and "body_b64" in item:
        raise WorkloadError("give body (text) or body_b64 (binary), not both", field="body_b64")
    for key in ("method", "url", "body", "body_b64"):
        if key in item and not isinstance(item[key], str):
            raise WorkloadError("must be a string", field=key)
    try:
        body = item.get("body", "").encode()
    except UnicodeEncodeError:
        raise WorkloadError("is not valid Unicode text", field="body") from None
    if "body_b64" in item:
        try:
            body = base64.b64decode(item["body_b64"], validate=True)
        except ValueError:
            raise WorkloadError("is not valid base64", field="body_b64") from None
    return Target(method=item.get("method", "GET"), url=item["url"],
                  headers=_headers(item.get("headers", ())), body=body,
                  name=item.get("name", ""), weight=item.get("weight", 1.0))


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    """From [[name, value], ...], ["Name: value", ...], "Name: value" lines or an object
    (a list value repeats the header)."""
    if isinstance(raw, Mapping):
        return tuple((str(k), str(v)) for k, vs in raw.items()
                     for v in (vs if isinstance(vs, list) else [vs]))
    if isinstance(raw, str):
        raw = [line for line in raw.splitlines() if line.strip()]
    if not isinstance(raw, (list, tuple)):
        raise WorkloadError("must be a list of [name, value] or an object", field="headers")
    pairs = []
    for n, entry in enumerate(raw):
        if isinstance(entry, (list, tuple)) and len(entry) == 2 \
                and all(isinstance(x, str) for x in entry):
            pairs.append((entry[0], entry[1]))
        elif isinstance(entry, str) and ":" in entry:
            key, value = entry.split(":", 1)
            pairs.append((key.strip(), value.strip()))
        else:
            raise WorkloadError(f"{entry!r} is neither [name, value] nor 'Name: value'",
                                field=f"headers[{n}]")
    return tuple(pairs)


def _parse_jsonl(text: str) -> list[Target]:
    targets = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise WorkloadError(f"not valid JSON: {exc.msg}", line=n, column=exc.colno,
                                source=_SOURCE) from None
        try:
            targets.append(_target_from_item(item))
        except WorkloadError as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise WorkloadError(where + exc.message, line=n, source=_SOURCE) from None
        _check_count(len(targets), n)
    return targets


def _check_count(count: int, line: int) -> None:
    if count > MAX_TARGETS:
        raise WorkloadError(f"more than {MAX_TARGETS:,} targets (each worker compiles all of "
                            f"them): use fewer, with placeholders for what varies",
                            line=line, source=_SOURCE)


def _parse_vegeta(text: str, read_file: Callable[[str], bytes] | None) -> list[Target]:
    lines = text.split("\n")
    bodies: dict[str, bytes] = {}
    targets: list[Target] = []
    n, after_body = 0, False
    while n < len(lines):
        line = lines[n].strip()
        n += 1
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if len(words) != 2 or _HEADER.match(line):
            raise WorkloadError(_not_a_target_line(line, words, after_body), line=n,
                                source=_SOURCE)
        # where each field starts (line, 0-based column), to place an error in it
        at = {"method": (n, lines[n - 1].find(words[0])), "url": (n, lines[n - 1].find(words[1]))}
        headers: list[tuple[str, str]] = []
        body = b""
        after_body = False
        while n < len(lines) and lines[n].strip():
            entry = lines[n].strip()
            n += 1
            if entry.startswith("#"):
                continue
            if entry.startswith("@"):
                body, at["body"], after_body = _body_file(entry[1:].strip(), read_file,
                                                          bodies, n), (n, None), True
                break
            if _NEW_TARGET.match(entry):
                raise WorkloadError(f"{entry!r} starts a new target: put a blank line before "
                                    f"it", line=n, source=_SOURCE)
            if ":" not in entry:
                raise WorkloadError(f"header {entry!r} has no ':'", line=n, source=_SOURCE)
            key, value = entry.split(":", 1)
            colon = lines[n - 1].index(":")
            at[f"headers[{len(headers)}]"] = (n, colon + 1 + len(value) - len(value.lstrip()))
            headers.append((key.strip(), value.strip()))
        try:
            targets.append(Target(method=words[0], url=words[1], headers=tuple(headers),
                                  body=body))
        except WorkloadError as exc:
            line_no, start = at.get(exc.field, at["url"])
            column = start + exc.column if exc.column is not None and start is not None \
                else None
            raise WorkloadError(exc.message, line=line_no, column=column,
                                source=_SOURCE) from None
        _check_count(len(targets), at["url"][0])
    if not targets:
        raise WorkloadError("no targets, only comments and blank lines", source=_SOURCE)
    return targets


def _not_a_target_line(line: str, words: list[str], after_body: bool) -> str:
    message = f"expected a target line 'METHOD URL', found {line!r}"
    if _HEADER.match(line):
        return message + (" (headers go before the @body line)" if after_body
                          else " (a header goes right under its target line)")
    if len(words) == 1 and "://" in line:
        return message + " (put the method first, e.g. GET)"
    if len(words) > 2:
        return message + " (a URL has no spaces: write them as %20)"
    return message


def _body_file(path: str, read_file: Callable[[str], bytes] | None, bodies: dict[str, bytes],
               line: int) -> bytes:
    if read_file is None:
        raise WorkloadError(f"the body file {path!r}: bodies from files (@path) need the "
                            f"command line, which reads them next to the targets file; paste "
                            f"the body into a JSON lines target (\"body\": ...) instead",
                            line=line, source=_SOURCE)
    if path not in bodies:                       # a file used by many targets is read once
        try:
            bodies[path] = read_file(path)
        except OSError as exc:
            raise WorkloadError(f"cannot read the body file {path!r}: "
                                f"{exc.strerror or exc}", line=line, source=_SOURCE) from None
        if sum(len(b) for b in bodies.values()) > MAX_TARGETS_BYTES:
            raise WorkloadError(f"the body files add up to more than "
                                f"{MAX_TARGETS_BYTES // 2**20} MiB (every worker holds them)",
                                line=line, source=_SOURCE)
    return bodies[path]


def _literal(text: str) -> str:
    """Recorded text as a template that renders to itself."""
    return text.replace("{", "{{").replace("}", "}}")


def _from_har(text: str, only_host: str | None) -> list[Target]:
    targets = []
    for request in har_requests(text, only_host, max_entries=MAX_TARGETS):
        try:
            targets.append(Target(
                method=request.method, url=_literal(request.url),
                headers=tuple((k, _literal(v)) for k, v in request.headers),
                body=_literal(request.body.decode()).encode() if request.text_body
                else request.body))
        except WorkloadError as exc:
            raise WorkloadError(f"{exc.field}: {exc.message}", source=_SOURCE,
                                field=f"log.entries[{request.entry}].request") from None
    return targets
