"""The New-run form's data: run-again round trips, checkboxes, the model radio, the requests
mode, files and text kept from a stored run (pure)."""
from __future__ import annotations

import base64
import json

import pytest
from multidict import MultiDict

from app.spec import LoadModel, SpecError, parse_spec
from app.web import form


def posted(values: dict) -> MultiDict:
    """What a browser posts for these form values (checkboxes after their hidden "false";
    the notes about kept text are shown, not posted)."""
    items = [(k, v) for k, v in values.items()
             if k not in form.BOOL_FIELDS and isinstance(v, str)]
    for name in form.BOOL_FIELDS:
        items.append((name, "false"))
        if values[name]:
            items.append((name, "true"))
    return MultiDict(items)


def submit(values: dict, files: dict | None = None):
    data, _, errors = form.read_form(posted(values), files)
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


# -- the requests mode: one request or a list --------------------------------------------------

TARGETS = "GET http://h/users/{i}?q=1\n\nPOST http://h/login\nContent-Type: application/json\n"


def list_values(**changes) -> dict:
    values = {**form.default_values("http://h/"), "mode": "list", "targets_text": TARGETS}
    values.update(changes)
    return values


LIST_SPECS = [
    {"targets_text": TARGETS, "requests": 10},
    {"targets": [{"name": "login", "method": "POST", "url": "http://h/login?u={user}",
                  "headers": [["Content-Type", "application/json"], ["X-Trace", "{uuid}"]],
                  "body": '{{"user": "{user}", "n": {rand:1-9}}}', "weight": 3},
                 {"method": "PUT", "url": "http://h/blob/{i}", "body_b64":
                  base64.b64encode(bytes(range(256))).decode()},
                 {"method": "GET", "url": "http://h/ünï/{i}", "name": "Ünïcödé"}],
     "order": "weighted", "seed": 42, "data_csv": 'user\nalice\n"b,ob"\n',
     "data_order": "random", "duration": "5s", "concurrency": 3},
]


@pytest.mark.parametrize("spec_input", LIST_SPECS)
def test_run_again_of_a_list_posts_back_the_same_spec_and_data(spec_input):
    spec = parse_spec(spec_input)
    csv = spec.data.to_csv() if spec.data is not None else None
    values = form.values_from_spec(spec.to_dict(), data_csv=csv, run_id=7)
    assert (values["mode"], values["targets_format"]) == ("list", "jsonl")
    assert not values["targets_from"] and not values["data_from"]      # small: in the page
    again = submit(values)
    assert again == spec
    assert (again.data.to_csv() if again.data is not None else None) == csv


def test_targets_jsonl_leaves_out_defaults_and_keeps_one_target_a_line():
    spec = parse_spec(LIST_SPECS[1])
    lines = form.targets_jsonl(spec.to_dict()["targets"]).splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["weight"] == 3 and first["headers"][1] == ["X-Trace", "{uuid}"]
    assert set(second) == {"method", "url", "body_b64"}          # no name, headers, body, weight
    assert third["name"] == "Ünïcödé" and "ü" in lines[2]        # readable, not \u escapes


def test_list_mode_ignores_the_one_request_fields_and_the_other_way_round():
    # a url left in the one-request input would clash with the list ("url or targets")
    spec = submit(list_values(url="http://elsewhere/", body="x"))
    assert [t.url for t in spec.targets] == ["http://h/users/{i}?q=1", "http://h/login"]
    one = submit({**list_values(), "mode": "one", "url": "http://h/one"})
    assert one.targets == () and one.url == "http://h/one"


def test_an_uploaded_file_stands_for_its_textarea_and_small_text_is_shown_again():
    csv = b"user\nalice\nbob\n"
    data, values, errors = form.read_form(posted(list_values()), {"data_csv": ("u.csv", csv)})
    assert not errors and data["data_csv"] == csv            # bytes: the parser names lines
    assert values["data_csv"] == csv.decode()
    assert len(parse_spec(data).data) == 2


def test_a_big_or_binary_file_is_not_printed_back_and_the_form_says_to_choose_it_again():
    big = b"user\n" + b"x" * form.EDIT_MAX_BYTES
    for content in (big, b"user\n\xff\xfe\n"):
        _, values, errors = form.read_form(posted(list_values()), {"data_csv": ("d.csv", content)})
        assert not errors and values["data_csv"] == ""
        assert "choose it again" in values["file_notes"]["data_csv"]


def test_a_file_and_pasted_text_for_one_input_is_an_error_naming_it():
    _, values, errors = form.read_form(posted(list_values(data_csv="a\n1\n")),
                                       {"data_csv": ("d.csv", b"b\n2\n")})
    assert "d.csv" in errors["data_csv"] and values["data_csv"] == "a\n1\n"


def test_text_too_big_for_the_page_is_kept_from_the_stored_run():
    rows = form.EDIT_MAX_BYTES // 4
    spec = parse_spec({"targets_text": TARGETS, "requests": 1,
                       "data_csv": "user\n" + "abc\n" * rows})
    values = form.values_from_spec(spec.to_dict(), data_csv=spec.data.to_csv(), run_id=12)
    assert values["data_from"] == "12" and values["data_csv"] == ""
    assert values["kept"]["data_csv"].startswith(f"{rows:,} data rows (")
    assert values["targets_text"] and not values["targets_from"]
    # posted back untouched: taken from run 12; once something is pasted, not any more
    page = {**values, "data_from_text": values["kept"]["data_csv"]}
    data, shown, errors = form.read_form(posted(page))
    assert not errors and form.kept_sources(data, shown) == {"data_csv": 12}
    assert shown["kept"]["data_csv"] == values["kept"]["data_csv"]
    data, shown, _ = form.read_form(posted({**page, "data_csv": "user\nz\n"}))
    assert form.kept_sources(data, shown) == {} and not shown["data_from"]


def test_kept_ids_are_only_whole_numbers_and_only_in_list_mode():
    values = {"mode": "list", "targets_from": "1 OR 1=1", "data_from": "3"}
    assert form.kept_sources({}, values) == {"data_csv": 3}
    assert form.kept_sources({}, {**values, "mode": "one"}) == {}


def test_the_lists_errors_are_shown_by_the_targets_textarea():
    with pytest.raises(SpecError) as exc:
        parse_spec(form.read_form(posted(list_values(targets_text="")))[0])
    assert form.field_errors(exc.value.errors, "list") == {
        "targets_text": "paste a list of targets or choose a file"}
    errors = {"targets": "targets[0].url: unknown placeholder", "seed": "bad"}
    assert form.field_errors(errors, "list") == {
        "targets_text": "targets[0].url: unknown placeholder", "seed": "bad"}
    assert form.field_errors({"url": "has no host"}, "one") == {"url": "has no host"}


def test_a_bad_targets_line_is_named_next_to_the_textarea():
    data, values, _ = form.read_form(posted(list_values(
        targets_text="GET http://h/\n\nhttp://h/two\n")))
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    placed = form.field_errors(exc.value.errors, values["mode"])
    assert placed["targets_text"].startswith("targets line 3:")


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                        (256 * 1024, "256.0 KiB"), (48 * 2**20 + 2**19, "48.5 MiB")])
def test_sizes_read_as_people_write_them(size, text):
    assert form.format_size(size) == text
