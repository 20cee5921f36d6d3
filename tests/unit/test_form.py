"""The New-run form's data: run-again round trips, checkboxes, the model radio (pure)."""
from __future__ import annotations

import pytest
from multidict import MultiDict

from app.spec import LoadModel, SpecError, parse_spec
from app.web import form


def posted(values: dict) -> MultiDict:
    """What a browser posts for these form values (checkboxes after their hidden "false")."""
    items = [(k, v) for k, v in values.items() if k not in form.BOOL_FIELDS]
    for name in form.BOOL_FIELDS:
        items.append((name, "false"))
        if values[name]:
            items.append((name, "true"))
    return MultiDict(items)


def submit(values: dict):
    data, _, errors = form.read_form(posted(values))
    assert not errors
    return parse_spec(data)


@pytest.mark.parametrize("spec_input", [
    {"url": "http://h/{i}?delay=0-1", "requests": 1000, "concurrency": 100},
    {"url": "https://h:8443/x", "method": "POST", "headers": ["A: 1", "B-C: two words"],
     "body": "{\"k\": 1}", "duration": 90, "concurrency": 3, "engine": "sync", "workers": 2,
     "timeout": 2.5, "connect_timeout": 0.25, "keepalive": False, "verify_tls": False,
     "name": "all <fields>"},
    {"url": "http://h/", "rate": 250.5, "duration": 3600, "concurrency": 50},
    {"url": "http://h/", "stages": [[30, 100], [60, 500], [0.5, 0]], "concurrency": 10},
])
def test_run_again_posts_back_the_same_spec(spec_input):
    spec = parse_spec(spec_input)
    values = form.values_from_spec(spec.to_dict())
    assert values["model"] == spec.model.value
    assert submit(values) == spec


def test_defaults_are_a_valid_closed_run_against_the_target():
    spec = submit(form.default_values("http://127.0.0.1:8081/"))
    assert spec.url == "http://127.0.0.1:8081/{i}?delay=0-1"
    assert (spec.requests, spec.concurrency, spec.model) == (1000, 100, LoadModel.CLOSED)
    assert spec.keepalive and spec.verify_tls


def test_an_unticked_checkbox_posts_false_and_a_ticked_one_true():
    values = form.default_values("http://t/")
    values.update(keepalive=False, verify_tls=True)
    data, shown, _ = form.read_form(posted(values))
    assert (data["keepalive"], data["verify_tls"]) == ("false", "true")
    assert (shown["keepalive"], shown["verify_tls"]) == (False, True)
    assert parse_spec(data).keepalive is False


def test_the_closed_model_ignores_rate_and_stages_left_in_the_hidden_inputs():
    values = {**form.default_values("http://t/"), "rate": "50", "stages": "10s:5"}
    assert submit(values).model is LoadModel.CLOSED
    values["model"] = "open"
    assert submit(values).model is LoadModel.OPEN


def test_the_open_model_without_rate_or_stages_is_a_field_error():
    values = {**form.default_values("http://t/"), "model": "open"}
    _, shown, errors = form.read_form(posted(values))
    assert "rate" in errors and shown["model"] == "open"


def test_bad_values_are_kept_as_typed():
    values = {**form.default_values("http://t/"), "url": "ftp://x", "concurrency": "0"}
    data, shown, _ = form.read_form(posted(values))
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    assert set(exc.value.errors) == {"url", "concurrency"}
    assert (shown["url"], shown["concurrency"]) == ("ftp://x", "0")


@pytest.mark.parametrize("seconds, text", [
    (3600, "1h"), (7200, "2h"), (60, "1m"), (90, "90s"), (10, "10s"), (2.5, "2.5s"),
    (0.5, "500ms"), (0.001, "1ms"), (0.0005, "0.0005s"), (86400, "24h"),
])
def test_durations_print_as_parse_duration_reads_them(seconds, text):
    from app.spec import parse_duration
    assert form.format_seconds(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def open_spec(**fields):
    return parse_spec({"url": "http://h/", "concurrency": 10, **fields})


def test_a_count_that_cuts_the_stages_short_is_warned_about():
    # the run: 1,000 left in from the closed model stop it after ~11.8 s of 20
    warning = form.schedule_warning(open_spec(rate=50, stages="10s:100, 10s:500", requests=1000))
    assert warning is not None
    assert "1,000 requests" in warning and "11.8 s" in warning
    assert "stages end at 20 s" in warning and "3,750 requests" in warning


def test_a_count_that_cuts_the_duration_short_is_warned_about():
    warning = form.schedule_warning(open_spec(rate=100, duration="10s", requests=200))
    assert warning is not None and "2.0 s" in warning and "duration ends at 10 s" in warning


@pytest.mark.parametrize("fields", [
    {"rate": 50, "stages": "10s:100, 10s:500"},                       # no count: the schedule
    {"rate": 50, "stages": "10s:100, 10s:500", "requests": 3750},     # exactly the schedule
    {"rate": 50, "stages": "10s:100, 10s:500", "requests": 3740},     # < 1 s short
    {"rate": 50, "stages": "10s:100, 10s:500", "requests": 10**6},    # more than scheduled
    {"rate": 50, "requests": 1000},                                  # the count is the only end
    {"requests": 1000, "duration": "1s"},                            # closed: whichever first
    {"stages": "10s:100, 10s:0", "duration": "1h", "requests": 10**6},   # rate falls to 0
])
def test_no_warning_when_the_count_does_not_cut_the_schedule_short(fields):
    assert form.schedule_warning(open_spec(**fields)) is None
