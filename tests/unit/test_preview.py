"""The preview of a run (app/web/preview.py): the first requests exactly as the engines
render them, secrets masked, and how many requests the run sends (pure)."""
from __future__ import annotations

import base64
import json

import pytest

from app.redact import MASK
from app.spec import parse_spec
from app.web.preview import BODY_CHARS, PREVIEW_REQUESTS, preview, request_count


def spec(**fields):
    return parse_spec({"requests": 100, **fields})


def test_the_first_requests_are_those_the_workload_renders_with_data_filled():
    s = spec(targets=[{"method": "GET", "url": "http://h/users/{user}?page={i}"},
                      {"method": "POST", "url": "http://h/login", "name": "login",
                       "body": '{{"user": "{user}"}}'}],
             data_csv="user\nalice\nbob\ncarol\n")
    answer = preview(s)
    assert (answer["count"], answer["targets"], answer["rows"]) == (100, 2, 3)
    assert answer["names"] == ["GET /users/{user}", "login"]
    shown = answer["requests"]
    assert [r["index"] for r in shown] == list(range(PREVIEW_REQUESTS))
    assert [r["url"] for r in shown[::2]] == ["http://h/users/alice?page=0",
                                              "http://h/users/carol?page=2",
                                              "http://h/users/bob?page=4"]
    assert shown[1]["name"] == "login" and json.loads(shown[1]["body"]) == {"user": "bob"}
    workload = s.workload()
    for r in shown:        # exactly what the engines send
        sent = workload.render(r["index"])
        assert (r["method"], r["url"], r["body"].encode()) == (sent.method, sent.url, sent.body)
        assert r["headers"] == [list(h) for h in sent.headers]
    assert json.dumps(answer)       # JSON as it is


def test_secrets_are_masked_as_in_every_view_of_a_run():
    s = spec(targets=[{"method": "GET", "url": "http://u:pw@h/x?api_key=k{i}&q=1",
                       "headers": [["Authorization", "Bearer t0p"], ["X-Session", "s"],
                                   ["Accept", "*/*"]]}])
    r = preview(s)["requests"][0]
    assert r["url"] == f"http://u:{MASK}@h/x?api_key={MASK}&q=1"
    assert r["headers"] == [["Authorization", f"Bearer {MASK}"], ["X-Session", MASK],
                            ["Accept", "*/*"]]
    assert "t0p" not in json.dumps(preview(s))


def test_the_one_request_form_is_previewed_too():
    r = preview(spec(url="http://h/{i}?delay=0-1", method="POST", body='{"a": 1}',
                     headers="Content-Type: application/json"))
    assert r["targets"] == 1 and r["rows"] is None
    assert [x["url"] for x in r["requests"]][:2] == ["http://h/0?delay=0-1", "http://h/1?delay=0-1"]
    assert r["requests"][0]["body"] == '{"a": 1}'        # sent as typed, braces and all


def test_a_binary_body_is_base64_and_a_long_one_is_cut_and_says_so():
    binary = bytes(range(256)) * 40
    r = preview(spec(targets=[{"method": "PUT", "url": "http://h/b",
                               "body_b64": base64.b64encode(binary).decode()}]))["requests"][0]
    assert "body" not in r and r["body_bytes"] == len(binary) and r["body_truncated"]
    assert base64.b64decode(r["body_b64"]) == binary[:BODY_CHARS]
    long = "é" * (BODY_CHARS + 1)
    r = preview(spec(targets=[{"method": "POST", "url": "http://h/", "body": long}]))
    first = r["requests"][0]
    assert first["body"] == long[:BODY_CHARS] and first["body_truncated"]
    assert first["body_bytes"] == len(long.encode())


def test_a_run_of_fewer_requests_previews_only_those():
    assert len(preview(spec(requests=2, url="http://h/"))["requests"]) == 2


@pytest.mark.parametrize("fields, count", [
    ({"requests": 1000}, 1000),
    ({"requests": 1000, "duration": "10s"}, 1000),           # at most: the closed model
    ({"requests": None, "duration": "10s"}, None),           # as many as the target answers
    ({"requests": None, "rate": 50, "duration": "10s"}, 500),  # the open schedule
    ({"requests": 100, "rate": 50, "duration": "10s"}, 100),   # whichever ends first
    ({"requests": None, "stages": "10s:100"}, 500),           # a ramp 0 -> 100/s over 10 s
])
def test_the_count_is_what_the_run_sends(fields, count):
    s = parse_spec({"url": "http://h/", **fields})
    assert request_count(s) == count
    assert preview(s)["count"] == count
