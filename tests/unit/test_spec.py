import pytest

from app.spec import Engine, LoadModel, RunSpec, SpecError, Stage, parse_spec

URL = "http://127.0.0.1:8081/{i}"


def errors_of(data, **kw):
    with pytest.raises(SpecError) as info:
        parse_spec(data, **kw)
    return info.value.errors


def test_defaults_and_types():
    spec = parse_spec({"url": URL, "requests": "1,000", "concurrency": "50"})
    assert spec == RunSpec(url=URL, requests=1000, concurrency=50)
    assert spec.model is LoadModel.CLOSED and spec.engine is Engine.AIOHTTP


def test_open_model_with_stages_and_durations():
    spec = parse_spec({"url": URL, "rate": "100", "stages": "30s:200, 1m:0", "workers": "2",
                       "engine": "fast", "timeout": "500ms", "keepalive": "off"})
    assert spec.model is LoadModel.OPEN
    assert spec.stages == (Stage(30.0, 200.0), Stage(60.0, 0.0))
    assert spec.run_seconds == 90.0
    assert spec.timeout == 0.5 and spec.keepalive is False and spec.workers == 2


def test_round_trip_through_to_dict():
    spec = parse_spec({"url": URL, "duration": "2m", "rate": 5, "stages": [[10, 20]],
                       "headers": ["X-A: 1", "X-B: two: parts"], "body": "{}", "method": "post",
                       "name": "<b>n</b>", "verify_tls": False})
    assert parse_spec(spec.to_dict()) == spec
    assert spec.headers == (("X-A", "1"), ("X-B", "two: parts"))


@pytest.mark.parametrize("data, field, words", [
    ({"url": "ftp://x/", "requests": 1}, "url", "scheme"),
    ({"url": "http:///path", "requests": 1}, "url", "no host"),
    ({"url": "", "requests": 1}, "url", "required"),
    ({"url": URL, "requests": 0}, "requests", "greater than 0"),
    ({"url": URL, "requests": -5}, "requests", "greater than 0"),
    ({"url": URL, "requests": "ten"}, "requests", "whole number"),
    ({"url": URL, "requests": 1, "concurrency": 0}, "concurrency", "greater than 0"),
    ({"url": URL, "duration": "-1s"}, "duration", "duration"),
    ({"url": URL, "duration": 0}, "duration", "greater than 0"),
    ({"url": URL, "requests": 1, "rate": 0}, "rate", "greater than 0"),
    ({"url": URL, "requests": 1, "rate": -3}, "rate", "greater than 0"),
    ({"url": URL, "requests": 1, "headers": "no colon here"}, "headers", "Name: value"),
    ({"url": URL, "requests": 1, "headers": ["Bad Name: v"]}, "headers", "not a valid header name"),
    ({"url": URL, "requests": 1, "headers": {"X": "a\r\nInjected: 1"}}, "headers", "line break"),
    ({"url": URL}, "requests", "number of requests and/or a duration"),
    ({"url": URL, "stages": "30s"}, "stages", "duration:rate"),
    ({"url": URL, "stages": "abc:100"}, "stages", "stage 1"),
    ({"url": URL, "stages": [[10, -1]]}, "stages", "negative"),
    ({"url": URL, "requests": 1, "engine": "curl"}, "engine", "aiohttp, fast, sync"),
    ({"url": URL, "requests": 1, "workers": 0}, "workers", "greater than 0"),
    ({"url": URL, "requests": 1, "method": "BREW"}, "method", "one of"),
    ({"url": URL, "requests": 1, "keepalive": "maybe"}, "keepalive", "true or false"),
    ({"url": URL, "requests": 1, "name": "x" * 201}, "name", "200"),
])
def test_bad_input_names_the_field(data, field, words):
    errors = errors_of(data)
    assert field in errors, errors
    assert words in errors[field]


def test_every_bad_field_is_reported_at_once():
    errors = errors_of({"url": "gopher://x", "requests": 0, "rate": -1, "engine": "x"})
    assert set(errors) == {"url", "requests", "rate", "engine"}


def test_open_file_limit_says_the_limit_and_how_to_raise_it():
    errors = errors_of({"url": URL, "requests": 10, "concurrency": 5000}, fd_limit=1024)
    assert "1024" in errors["concurrency"] and "ulimit" in errors["concurrency"]
    # the same load spread over enough workers fits
    assert parse_spec({"url": URL, "requests": 10, "concurrency": 5000, "workers": 8},
                      fd_limit=1024).workers == 8


def test_workers_auto_is_the_core_count():
    import os
    assert parse_spec({"url": URL, "requests": 10, "workers": "auto"}).workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("field, value", [("headers", 5), ("stages", 3), ("body", {"a": 1})])
def test_wrong_json_types_get_a_message_not_a_python_error(field, value):
    errors = errors_of({"url": URL, "requests": 1, field: value})
    assert "object is not" not in errors[field] and "must be" in errors[field]


@pytest.mark.parametrize("raw, expected", [
    (10.0, 10), ("10.0", 10), (10, 10), ("1,000", 1000), ("1_000", 1000), (" 7 ", 7),
    ("1e3", 1000),
])
def test_whole_numbers_are_accepted_in_any_spelling(raw, expected):
    spec = parse_spec({"url": URL, "requests": raw, "concurrency": raw, "workers": 1})
    assert (spec.requests, spec.concurrency) == (expected, expected)
    assert type(spec.requests) is int and type(spec.concurrency) is int


@pytest.mark.parametrize("raw, words", [
    (10.5, "not a whole number"), ("10.5", "not a whole number"), (True, "whole number"),
    (False, "whole number"), ("ten", "not a whole number"), ("inf", "whole"),
    (float("nan"), "whole"), ("0x10", "whole"), ([10], "whole"), ("1e999999999", "too large"),
    (1e300, "too large"), (0.0, "greater than 0"), (-2.0, "greater than 0"),
])
def test_integer_fields_refuse_what_is_not_a_whole_number(raw, words):
    errors = errors_of({"url": URL, "duration": 5, "concurrency": raw})
    assert words in errors["concurrency"], errors


@pytest.mark.parametrize("stages", [[[2, 0]], "2s:0", [[1, 0], [5, 0]], "10s:0, 1m:0"])
def test_stages_that_send_nothing_are_refused_on_the_stages_field(stages):
    errors = errors_of({"url": URL, "stages": stages})
    assert set(errors) == {"stages"}
    assert "rate 0" in errors["stages"] and "nothing" in errors["stages"]


@pytest.mark.parametrize("data", [
    {"url": URL, "stages": [[2, 0], [2, 10]]},              # a later stage sends
    {"url": URL, "rate": 50, "stages": [[2, 0]]},           # ramps down from the base rate
    {"url": URL, "stages": "10s:100, 10s:0"},
])
def test_stages_that_send_something_are_accepted(data):
    assert parse_spec(data).stages


@pytest.mark.parametrize("text", [1.5, 5, True, ["GET http://127.0.0.1:1/"], {"a": 1}])
def test_targets_text_that_is_not_text_is_refused_naming_it(text):
    # found by the API fuzzer: a number here reached len() and was a 500
    with pytest.raises(SpecError) as bad:
        parse_spec({"targets_text": text, "requests": 1})
    assert bad.value.errors["targets_text"] == "must be the targets file's text"
