"""RunSpec and its validation: the one validator used by the CLI, the API and the form.

`parse_spec` takes loosely typed input (JSON values or form strings), checks
every field, and either returns a frozen RunSpec or raises SpecError carrying
one message per bad field, so callers can show them next to the inputs.
"""
from __future__ import annotations

import math
import os
import re
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field as dc_field, fields
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from app.analysis.thresholds import MAX_THRESHOLDS, Threshold, ThresholdError
from app.analysis.thresholds import parse_all as parse_thresholds
from app.workload import (DataOrder, DataTable, Target, TargetOrder, TargetsFormat, Workload,
                          WorkloadError, parse_csv, parse_targets, targets_from_json)

INDEX_PLACEHOLDER = "{i}"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_WORKERS = 64
# descriptors a worker needs beyond its connections: stdio, pipes, epoll, DNS, ...
FD_RESERVE = 64
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
# whole numbers given as text or float: far above any count, far below a costly int
_MAX_INT_DIGITS = 18
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class Engine(str, Enum):
    AIOHTTP = "aiohttp"
    FAST = "fast"
    SYNC = "sync"


class LoadModel(str, Enum):
    CLOSED = "closed"    # at most `concurrency` in flight, next starts when one ends
    OPEN = "open"        # requests are due at `rate`/s whatever the target does


@dataclass(frozen=True)
class Stage:
    duration: float      # seconds
    rate: float          # target rate at the end of the stage (linear ramp to it)


@dataclass(frozen=True)
class RunSpec:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    requests: int | None = None
    duration: float | None = None
    concurrency: int = 10
    rate: float | None = None
    stages: tuple[Stage, ...] = ()
    engine: Engine = Engine.AIOHTTP
    workers: int = 1
    timeout: float = 30.0
    connect_timeout: float = 10.0
    keepalive: bool = True
    verify_tls: bool = True
    name: str = ""
    # a workload: several requests (empty: the one request above), in which order, with
    # which data; `url` then shows the first target's, for lists and search
    targets: tuple[Target, ...] = ()
    order: TargetOrder = TargetOrder.SEQUENCE
    seed: int = 1
    data: DataTable | None = dc_field(default=None, compare=False, repr=False)
    data_order: DataOrder = DataOrder.SEQUENCE
    # pass/fail criteria (app/analysis/thresholds.py), as written; abort_on_fail stops the
    # run at the end of the first second whose running totals fail one
    thresholds: tuple[str, ...] = ()
    abort_on_fail: bool = False

    def criteria(self) -> tuple[Threshold, ...]:
        """The thresholds parsed (they were checked when the spec was made)."""
        return parse_thresholds(self.thresholds, self.workload().names)

    @property
    def request_targets(self) -> tuple[Target, ...]:
        """What the run sends. The one-request fields send headers and body exactly as
        typed (stored runs with JSON bodies stay byte for byte), and `{i}` in the URL."""
        if self.targets:
            return self.targets
        return (Target(self.method, _escape_braces(self.url, keep=INDEX_PLACEHOLDER),
                       tuple((k, _escape_braces(v)) for k, v in self.headers),
                       _escape_braces(self.body).encode()),)

    def workload(self) -> Workload:
        """Which target and data row request i uses, rendered. Compiled on first use and
        kept (validation, the engines and the preview share it): 10,000 targets take up
        to a second to compile."""
        cached = self.__dict__.get("_workload")
        if cached is None:
            cached = Workload(self.request_targets, order=self.order, seed=self.seed,
                              data=self.data, data_order=self.data_order)
            object.__setattr__(self, "_workload", cached)   # frozen: derived, not a field
        return cached

    @property
    def model(self) -> LoadModel:
        return LoadModel.OPEN if self.rate is not None or self.stages else LoadModel.CLOSED

    @property
    def run_seconds(self) -> float | None:
        """Wall-clock limit: the duration, else the end of the last stage."""
        if self.duration is not None:
            return self.duration
        return sum(s.duration for s in self.stages) if self.stages else None

    def to_dict(self, *, with_data: bool = False) -> dict[str, Any]:
        """JSON form that parse_spec accepts back unchanged ("Run again"). The data file is
        only described (rows, columns): it can be 100 MB, so it travels as `data_csv` only
        where asked for (to the workers, and into the store's own table)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["engine"] = self.engine.value
        d["headers"] = [f"{k}: {v}" for k, v in self.headers]
        d["stages"] = [[s.duration, s.rate] for s in self.stages]
        d["model"] = self.model.value
        d["targets"] = [t.to_dict() for t in self.targets]
        d["thresholds"] = list(self.thresholds)
        d["order"], d["data_order"] = self.order.value, self.data_order.value
        d["data"] = (None if self.data is None
                     else {"rows": len(self.data), "columns": list(self.data.columns)})
        if with_data and self.data is not None:
            d["data_csv"] = self.data.to_csv()
        return d


class SpecError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_duration(value: Any) -> float:
    """Seconds from 10, 2.5, "10s", "2m", "500ms", "1h"."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 10s or 2m")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 10s, 2m, 500ms)")
        seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be greater than 0")
    return seconds


def hard_fd_limit() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def parse_spec(data: Mapping[str, Any], *, fd_limit: int | None = None,
               cpus: int | None = None) -> RunSpec:
    """Validate loosely typed input; raise SpecError naming every bad field.

    `cpus`: the CPUs the run's workers can use (a Ray cluster's), if not this machine's:
    what `workers: auto` means, and a limit on workers above MAX_WORKERS."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def field(name: str, parse, default=None):
        raw = data.get(name)
        if raw is None or (isinstance(raw, (str, list, tuple)) and not str(raw).strip("[]() ")):
            values[name] = default
            return
        try:
            values[name] = parse(raw)
        except (ValueError, TypeError) as exc:
            errors[name] = str(exc)

    field("url", _url)
    _workload_fields(data, values, errors)
    if not errors.keys() & {"url", "targets"} and values["targets"]:
        first = values["targets"][0].url
        if values["url"] is not None and values["url"] not in (first, _normal_url(first)):
            errors["url"] = "give either url (one request) or targets (a list), not both"
        values["url"] = first
    if "url" not in errors and values["url"] is None:
        errors["url"] = "is required (or a list of targets)"
    field("method", _method, "GET")
    field("headers", _headers, ())
    field("body", _body, "")
    field("requests", _positive_int, None)
    field("duration", parse_duration, None)
    field("concurrency", _positive_int, 10)
    field("rate", _rate, None)
    field("stages", _stages, ())
    field("engine", _engine, Engine.AIOHTTP)
    field("workers", lambda raw: _workers(raw, cpus), 1)
    field("timeout", parse_duration, 30.0)
    field("connect_timeout", parse_duration, 10.0)
    field("keepalive", _bool, True)
    field("verify_tls", _bool, True)
    field("name", _name, "")
    field("thresholds", _threshold_lines, ())
    field("abort_on_fail", _bool, False)
    if values.get("abort_on_fail") and not values.get("thresholds") and "thresholds" not in errors:
        errors["abort_on_fail"] = "abort on fail needs at least one threshold"

    if not errors.keys() & {"requests", "duration", "stages"} and values["requests"] is None \
            and values["duration"] is None and not values["stages"]:
        errors["requests"] = "give a number of requests and/or a duration"
    if not errors.keys() & {"rate", "stages"} and values["stages"] and values["rate"] is None \
            and not any(stage.rate > 0 for stage in values["stages"]):
        # every stage at 0 with no base rate: nothing is ever due, the run would "finish" at once
        errors["stages"] = ("every stage has rate 0 and there is no base rate, so nothing would "
                            "be sent: give a stage a rate above 0, or a rate")
    if not errors.keys() & {"concurrency", "workers"}:
        workers, concurrency = values["workers"], values["concurrency"]
        if concurrency < workers:
            errors["workers"] = f"{workers} workers need a concurrency of at least {workers}"
        else:
            per_worker = math.ceil(concurrency / workers)
            limit = fd_limit if fd_limit is not None else hard_fd_limit()
            if per_worker + FD_RESERVE > limit:
                errors["concurrency"] = (
                    f"{concurrency} connections over {workers} worker(s) need about "
                    f"{per_worker + FD_RESERVE} open files per process, above the open-file "
                    f"hard limit of {limit} (RLIMIT_NOFILE); raise it with `ulimit -Hn` / "
                    f"LimitNOFILE= or /etc/security/limits.conf, or use more workers")
    if errors:
        raise SpecError(errors)
    spec = RunSpec(**values)
    _check_workload(spec, errors)     # compiles the workload once: the spec keeps it
    if errors:
        raise SpecError(errors)
    return spec


def _workload_fields(data: Mapping[str, Any], values: dict[str, Any],
                     errors: dict[str, str]) -> None:
    """targets (JSON) or targets_text + targets_format (+ targets_host: keep one host's);
    order, seed; data_csv, data_order."""
    values.update(targets=(), order=TargetOrder.SEQUENCE, seed=1, data=None,
                  data_order=DataOrder.SEQUENCE)
    for name, enum in (("order", TargetOrder), ("data_order", DataOrder)):
        raw = data.get(name)
        if raw not in (None, ""):
            try:
                values[name] = enum(str(raw).strip().lower())
            except ValueError:
                errors[name] = f"must be one of {', '.join(e.value for e in enum)}"
    if data.get("seed") not in (None, ""):
        try:
            values["seed"] = _seed(data["seed"])
        except (ValueError, TypeError) as exc:
            errors["seed"] = str(exc)
    csv_text = data.get("data_csv")
    if csv_text not in (None, ""):
        if not isinstance(csv_text, (str, bytes)):
            errors["data_csv"] = "must be the CSV file's text"
        else:
            try:
                values["data"] = parse_csv(csv_text)
            except WorkloadError as exc:
                errors["data_csv"] = str(exc)
    raw_targets, text = data.get("targets"), data.get("targets_text")
    try:
        if raw_targets not in (None, "", []):
            if text not in (None, ""):
                errors["targets"] = "give targets (JSON) or targets_text, not both"
                return
            values["targets"] = tuple(targets_from_json(raw_targets))
        elif text not in (None, ""):
            if not isinstance(text, (str, bytes)):
                errors["targets_text"] = "must be the targets file's text"
                return
            try:
                fmt = TargetsFormat(str(data.get("targets_format") or "vegeta").strip().lower())
            except ValueError:
                errors["targets_format"] = (
                    f"must be one of {', '.join(f.value for f in TargetsFormat)}")
                return
            host = str(data.get("targets_host") or "").strip() or None
            values["targets"] = tuple(parse_targets(text, fmt, only_host=host))
    except WorkloadError as exc:
        errors["targets" if raw_targets not in (None, "", []) else "targets_text"] = str(exc)


def _check_workload(spec: RunSpec, errors: dict[str, str]) -> None:
    """The workload compiles against the data's columns, the engine can send it, and the
    thresholds name its endpoints."""
    spec_field = "targets" if spec.targets else "url"
    try:
        spec.workload()
    except WorkloadError as exc:
        errors[spec_field] = str(exc)
        return
    try:
        spec.criteria()
    except ThresholdError as exc:
        errors["thresholds"] = str(exc)
    if spec.engine is Engine.FAST:
        origins = {urlsplit(t.url)[:2] for t in spec.request_targets}
        if len(origins) > 1:
            errors["engine"] = (f"the fast engine sends to one origin (scheme, host and port); "
                                f"these targets use {len(origins)}: use the aiohttp or sync "
                                f"engine for several")
        elif len({t.method == "HEAD" for t in spec.request_targets}) > 1:
            errors["engine"] = ("the fast engine cannot mix HEAD with other methods (a HEAD "
                                "answer has no body): use the aiohttp or sync engine")
        elif any("{" in urlsplit(t.url).netloc for t in spec.request_targets):
            errors[spec_field] = ("the fast engine resolves the host once: placeholders go in "
                                  "the path and query only")


def _normal_url(url: str) -> str:
    """The URL as the url field's parser gives it back (what to_dict wrote), else as is."""
    try:
        return _url(url)
    except ValueError:
        return url


def _escape_braces(text: str, keep: str = "") -> str:
    """Text sent as typed through the placeholder syntax: braces doubled, but `keep`."""
    escaped = text.replace("{", "{{").replace("}", "}}")
    return escaped.replace("{{i}}", keep) if keep else escaped


def _seed(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be a whole number")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise ValueError("must be from 0 to 2^63 - 1")
    return value


def _url(raw: Any) -> str:
    # a URL copied from a browser bar has the placeholder percent-encoded
    url = re.sub(r"%7Bi%7D", INDEX_PLACEHOLDER, str(raw).strip(), flags=re.IGNORECASE)
    parts = urlsplit(url.replace(INDEX_PLACEHOLDER, "0"))
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unknown scheme {parts.scheme or '(none)'!r}: use http:// or https://")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if any(c in url for c in " \r\n\t"):
        raise ValueError("must not contain spaces or line breaks")
    return url


def _method(raw: Any) -> str:
    method = str(raw).strip().upper()
    if method not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return method


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, Mapping):
        items = [(str(k), str(v)) for k, v in raw.items()]
    elif not isinstance(raw, (str, list, tuple)):
        raise ValueError("must be 'Name: value' lines, a list of them, or an object")
    else:
        lines = raw.splitlines() if isinstance(raw, str) else list(raw)
        items = []
        for line in lines:
            if isinstance(line, (list, tuple)) and len(line) == 2:
                items.append((str(line[0]), str(line[1])))
                continue
            line = str(line)
            if not line.strip():
                continue
            if ":" not in line:
                raise ValueError(f"{line!r} is not of the form 'Name: value'")
            k, v = line.split(":", 1)
            items.append((k.strip(), v.strip()))
    for k, v in items:
        if not _TOKEN.match(k):
            raise ValueError(f"{k!r} is not a valid header name")
        if "\r" in v or "\n" in v:
            raise ValueError(f"the value of {k!r} contains a line break")
    return tuple(items)


def _body(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be text (send JSON bodies as a string)")
    return raw


def _positive_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be a whole number")
    if isinstance(raw, int):
        value = raw
    else:
        # Decimal, not float, so no digit is rounded away: "10.0" and JSON's 10.0 are whole,
        # 10.5 is not; "1,000" and "1_000" are how people write thousands
        text = str(raw).replace("_", "").replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(f"{raw!r} is not a whole number")
        if number.adjusted() > _MAX_INT_DIGITS:     # "1e999999999" would be a huge int
            raise ValueError(f"{raw!r} is too large")
        value = int(number)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    try:
        value = float(raw)
    except (ValueError, TypeError):
        raise ValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _rate(raw: Any) -> float:
    value = _number(raw)
    if value <= 0:
        raise ValueError("must be greater than 0 requests/s")
    return value


def _stages(raw: Any) -> tuple[Stage, ...]:
    """[[duration, rate], ...] or text "30s:100, 1m:500" (ramp to each rate)."""
    if not isinstance(raw, (str, list, tuple)):
        raise ValueError("must be 'duration:rate' pairs or a list of [duration, rate]")
    if isinstance(raw, str):
        pairs = [p.split(":", 1) for p in re.split(r"[,\n]", raw) if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("use 'duration:rate' pairs separated by commas, e.g. 30s:100, 1m:500")
    else:
        pairs = list(raw)
    stages = []
    for n, pair in enumerate(pairs, 1):
        try:
            if isinstance(pair, Mapping):
                duration, rate = pair["duration"], pair["rate"]
            else:
                duration, rate = pair
            stage = Stage(parse_duration(duration), _number(rate))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"stage {n}: {exc or 'must be (duration, rate)'}") from None
        if stage.rate < 0:
            raise ValueError(f"stage {n}: rate must not be negative")
        stages.append(stage)
    if not stages:
        raise ValueError("no stage given")
    return tuple(stages)


def _engine(raw: Any) -> Engine:
    try:
        return Engine(str(raw).strip().lower())
    except ValueError:
        raise ValueError(f"must be one of {', '.join(e.value for e in Engine)}") from None


def _workers(raw: Any, cpus: int | None) -> int:
    if str(raw).strip().lower() == "auto":
        return cpus or os.cpu_count() or 1
    value = _positive_int(raw)
    limit = max(MAX_WORKERS, cpus or 0)
    if value > limit:
        raise ValueError(f"at most {limit}" + (" (the cluster's CPUs)" if limit > MAX_WORKERS else ""))
    return value


def _threshold_lines(raw: Any) -> tuple[str, ...]:
    """A list of expressions, or text with one a line (the form's); each checked alone
    here (endpoint names once the workload is known: _check_workload)."""
    if isinstance(raw, str):
        lines = raw.splitlines()
    elif isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
        lines = list(raw)
    else:
        raise ValueError("must be a list of expressions such as \"p99 < 200ms\"")
    if len(lines) > 2 * MAX_THRESHOLDS:
        raise ValueError(f"at most {MAX_THRESHOLDS} thresholds")
    try:
        # every name is accepted here: the endpoints are checked against the workload
        parse_thresholds(lines, None)
    except ThresholdError as exc:
        raise ValueError(str(exc)) from None
    return tuple(line.strip() for line in lines if line.strip())


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError("must be true or false")


def _name(raw: Any) -> str:
    name = str(raw).strip()
    if len(name) > 200:
        raise ValueError("at most 200 characters")
    return name
