"""Fuzzing every operation of /api/openapi.json against the real dashboard (schemathesis).

A real `run.py serve` on loopback with a temp SQLite file and the demo target. Each
operation gets CASES_PER_OPERATION generated requests, schema-valid and schema-violating
mixed; every answer must be no 5xx, a documented status code, a documented content type,
and a body matching its schema. Failures are collected (not shrunk) and reported together
with a curl command each, so one run names every bad operation.

Runs started by the fuzzer stay on loopback and small (see `LoopbackRuns`):
- a valid spec for POST /api/runs or the form (POST /runs) is sent as the app's own
  validator normalised it, with every target's scheme and host set to the demo target's,
  at most 10 requests, 1 s, 2 connections, 1 worker; then the run is stopped at once
  (with the runs queued after it). Invalid specs are sent as generated (the server's
  validator, the same one, refuses them: no run).
- POST /presets/{key} with a real preset's key is sent with an unknown key instead: a
  preset starts the article's runs (up to 1,000,000 requests, 10,000 in flight), too much
  for a test; test_api covers presets.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from multidict import MultiDict
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from app.presets import PRESETS
from app.spec import SpecError, parse_spec
from app.web import form
from tests.conftest import free_port, start_process, stop_process, wait_for_port, wait_for_status

# shared by the operations that take parameters or a body (those without take one case),
# so the test's time stays about the same as operations are added (1,200: ~35 s here)
TOTAL_CASES = 1_200
MIN_CASES_PER_OPERATION = 30
MIN_CASES = 1_000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# the fuzzer deletes runs: it goes last, so the other operations meet existing ones
LAST = ("DELETE",)
REQUEST_TIMEOUT_S = 15
PRESET_KEYS = {p.key for p in PRESETS}
STARTS_RUNS = ("api_create_run", "create_run", "start_preset")


HUGE = str(2**63)          # one past SQLite's largest integer: was an OverflowError, a 500


async def test_ids_out_of_range_are_404(client, target_url):
    """The 500s the issue lists (and the other routes taking an id): now 404s."""
    run = await (await client.post("/api/runs", json={"url": target_url, "requests": 3,
                                                      "concurrency": 1})).json()
    await wait_for_status(client, run["id"], {"finished", "stopped", "failed"})
    for method, path in [("GET", f"/runs/{HUGE}"), ("GET", f"/api/runs/{HUGE}"),
                         ("GET", f"/api/runs/{HUGE}/series"), ("POST", f"/api/runs/{HUGE}/stop"),
                         ("DELETE", f"/api/runs/{HUGE}"), ("GET", f"/?from={HUGE}"),
                         ("GET", f"/api/runs/{HUGE}/window"), ("GET", f"/api/runs/{HUGE}/endpoints"),
                         ("GET", f"/api/runs/{HUGE}/ws"), ("GET", f"/runs/{HUGE}/report.html"),
                         ("GET", "/api/runs/" + "9" * 5000), ("GET", "/runs/" + "9" * 5000)]:
        response = await client.request(method, path)
        assert response.status == 404, (method, path[:40], response.status)
        if path.startswith("/api/"):
            assert "not found" in (await response.json())["error"]
    assert (await client.get(f"/api/runs/000{run['id']}")).status == 200


async def test_pages_refuse_bad_ids_and_queries_with_a_4xx(client, target_url):
    run = await (await client.post("/api/runs", json={"url": target_url, "requests": 3,
                                                      "concurrency": 1})).json()
    await wait_for_status(client, run["id"], {"finished", "stopped", "failed"})
    for path in ["/?from=-1", "/?from=abc", "/?from=\u0663", "/?from=" + "9" * 5000,
                 f"/compare?ids={run['id']},{HUGE}", f"/compare?ids={run['id']},\u00b2",
                 f"/compare?ids={run['id']}," + "9" * 5000, f"/runs/{run['id']}?from=-1",
                 f"/runs/{run['id']}?to={HUGE}", "/runs?page=-1", "/runs?page=" + HUGE]:
        response = await client.get(path)
        assert 400 <= response.status < 500, (path[:40], response.status)
        assert response.content_type == "text/html"
    # ?then= only names the runs a page follows: ids that are not runs are left out
    assert (await client.get(f"/runs/{run['id']}?then={HUGE},x")).status == 200


async def test_a_multipart_form_with_a_bad_part_header_is_a_400(client):
    body = (b"--b\r\nContent-Disposition: form-data; name=\"\x1f\"\r\n\r\nx\r\n"
            b"--b\r\n[]--b--\r\n")
    response = await client.post("/runs", data=body,
                                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status == 400 and "Unreadable form" in await response.text()


@pytest.fixture
def dashboard(tmp_path, target_url):
    """A real dashboard process: its own event loop, apart from the fuzzer's CPU."""
    port = free_port()
    target_port = urlsplit(target_url).port
    process = start_process("serve", "--host", "127.0.0.1", "--port", str(port),
                            "--db", str(tmp_path / "fuzz.sqlite"), "--no-target",
                            "--target-port", str(target_port))
    try:
        wait_for_port(port, timeout=30, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)
    assert process.returncode in (0, -15), f"the dashboard exited with {process.returncode}"


def seed_runs(base: str, session: requests.Session, target_url: str) -> list[int]:
    """Two ended runs (one request; a two-target workload): their ids."""
    specs = [{"url": target_url + "{i}", "requests": 20, "concurrency": 2, "name": "one"},
             {"targets": [{"name": "a", "url": target_url + "a"},
                          {"name": "b", "method": "POST", "url": target_url + "b", "body": "x"}],
              "requests": 20, "concurrency": 2}]
    ids = []
    for spec in specs:
        run = session.post(f"{base}/api/runs", json=spec, timeout=REQUEST_TIMEOUT_S).json()
        deadline = time.monotonic() + 30
        while session.get(f"{base}/api/runs/{run['id']}").json()["status"] in ("queued",
                                                                              "running"):
            assert time.monotonic() < deadline, f"seed run {run['id']} did not end"
            time.sleep(0.05)
        ids.append(run["id"])
    return ids


class LoopbackRuns:
    """Keeps the runs the fuzzer starts on the demo target, small, and short."""

    def __init__(self, base: str, target_url: str, session: requests.Session):
        self.base, self.session = base, session
        self.netloc = urlsplit(target_url).netloc
        self.started = self.rewritten = 0

    def prepare(self, case: schemathesis.Case) -> None:
        name = case.operation.definition.raw.get("operationId")
        if name == "start_preset" and case.path_parameters.get("key") in PRESET_KEYS:
            case.path_parameters["key"] = "not-a-preset"
        elif name == "api_create_run" and isinstance(case.body, dict):
            safe = self._safe(case.body)
            if safe is not None:
                case.body = safe
        elif name == "create_run" and isinstance(case.body, dict):
            safe = self._safe_form(case.body)
            if safe is not None:
                case.body = safe

    def _safe(self, body: dict) -> dict | None:
        """The spec as the app normalises it, on loopback and small; None if invalid."""
        spec = self._valid(body)
        if spec is None:
            return None
        self.rewritten += 1
        safe = spec.to_dict(with_data=True)
        if spec.targets:
            safe["targets"] = [{**t.to_dict(), "url": self._here(t.url)} for t in spec.targets]
        safe["url"] = self._here(spec.url)
        safe.update(requests=min(spec.requests or 10, 10), concurrency=2, workers=1,
                    timeout=2, connect_timeout=2,
                    duration=None if spec.duration is None else min(spec.duration, 1.0),
                    rate=None if spec.rate is None else min(spec.rate, 20.0),
                    stages=[[min(s.duration, 0.5), min(s.rate, 20.0)] for s in spec.stages])
        checked = self._valid(safe)
        if checked is not None and not all(urlsplit(t.url).netloc == self.netloc
                                           for t in checked.request_targets):
            raise AssertionError(f"a fuzzed run would leave loopback: {safe}")
        return safe

    def _safe_form(self, body: dict) -> dict | None:
        if not all(isinstance(v, str) for v in body.values()):
            return None
        data, _values, errors = form.read_form(MultiDict(body))
        if errors or self._valid(data) is None:
            return None
        safe = self._safe({k: v for k, v in data.items() if v is not None})
        if safe is None:
            return None
        values = form.values_from_spec(safe)
        return {k: ("true" if v else "false") if isinstance(v, bool) else str(v)
                for k, v in values.items() if not isinstance(v, dict)}

    @staticmethod
    def _valid(data: dict):
        try:
            return parse_spec(data)
        except SpecError:
            return None
        except Exception:          # a bug in the validator: the server shows it (a 500)
            return None

    def _here(self, url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit(("http", self.netloc, parts.path, parts.query, ""))

    def stop_started(self, case: schemathesis.Case, response: requests.Response) -> None:
        """After a call that may start runs: stop the active one at once, with those
        queued after it (whatever the answer said)."""
        if case.operation.definition.raw.get("operationId") not in STARTS_RUNS:
            return
        self.started += response.status_code in (201, 303)
        health = self.session.get(f"{self.base}/healthz", timeout=REQUEST_TIMEOUT_S).json()
        if health["active_run"] is not None:
            self.session.post(f"{self.base}/api/runs/{health['active_run']}/stop",
                              params={"queued": "1"}, timeout=REQUEST_TIMEOUT_S)


def operations(schema):
    ops = [result.ok() for result in schema.get_all_operations()]
    return sorted(ops, key=lambda op: op.method.upper() in LAST)


def takes_input(operation) -> bool:
    return bool(operation.definition.raw.get("parameters")
                or "requestBody" in operation.definition.raw)


def strategy_of(operation, run_ids: list[int], target_url: str):
    """Schema-valid and schema-violating cases, and valid ones aimed at what exists: the
    seeded runs' ids (a random id finds none), or a spec with a valid url and count."""
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    definition = operation.definition.raw
    if not takes_input(operation):
        return positive          # one case: nothing to vary
    variants = [positive, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    names = {p["name"] for p in definition.get("parameters", [])}
    if "{id}" in operation.path:
        variants += [operation.as_strategy(path_parameters={"id": i}) for i in run_ids]
    if "ids" in names:
        variants.append(operation.as_strategy(query={"ids": ",".join(map(str, run_ids))}))
    name = definition.get("operationId")
    if name in ("api_create_run", "api_preview", "create_run"):
        one = {"url": target_url + "{i}", "requests": "5" if name == "create_run" else 5}

        def with_valid_url_and_count(case):
            if isinstance(case.body, dict):
                case.body = {**{k: v for k, v in case.body.items()
                                if k not in ("targets", "targets_text", "mode")}, **one}
            return case
        variants.append(positive.map(with_valid_url_and_count))
    return st.one_of(variants)


def test_fuzz_every_operation(dashboard, target_url):
    session = requests.Session()
    run_ids = seed_runs(dashboard, session, target_url)
    schema = schemathesis.openapi.from_url(f"{dashboard}/api/openapi.json")
    runs = LoopbackRuns(dashboard, target_url, session)
    counts: Counter[str] = Counter()
    failures: dict[str, list[str]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    fuzzed = operations(schema)
    varying = sum(1 for op in fuzzed if takes_input(op))
    per_operation = max(MIN_CASES_PER_OPERATION, -(-TOTAL_CASES // max(varying, 1)))

    for operation in fuzzed:
        label = operation.label
        operation_started = time.monotonic()

        @settings(max_examples=per_operation, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy_of(operation, run_ids, target_url))
        def fuzz(case):
            runs.prepare(case)
            counts[label] += 1
            try:
                response = case.call(base_url=dashboard, session=session,
                                     timeout=REQUEST_TIMEOUT_S, allow_redirects=False)
            except requests.RequestException as exc:
                failures[label].append(f"{exc!r}\n  {case.as_curl_command(base_url=dashboard)}")
                return
            statuses[label][response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:    # FailureGroup: what, and why
                if len(failures[label]) < 3:
                    failures[label].append(str(exc))      # says how to reproduce
            runs.stop_started(case, response)

        fuzz()
        seconds[label] = time.monotonic() - operation_started

    elapsed = time.monotonic() - started
    total = sum(counts.values())
    print(f"\nfuzzed {total} cases over {len(counts)} operations in {elapsed:.1f} s; "
          f"{runs.rewritten} valid specs put on loopback, {runs.started} runs started and "
          f"stopped")
    for label, by_status in statuses.items():
        print(f"  {label}: {counts[label]} cases in {seconds[label]:.1f} s, "
              f"{dict(sorted(by_status.items()))}")
    assert not failures, "\n\n".join(f"{label}:\n" + "\n".join(found)
                                     for label, found in failures.items())
    assert total >= MIN_CASES, f"only {total} cases generated"
