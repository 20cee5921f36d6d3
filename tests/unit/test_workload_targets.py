"""Targets from real files (Vegeta text, JSON lines, Chrome's and Firefox's HAR) and the
API's JSON list: what each gives, and the line and words of every refusal."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.workload import (MAX_NAMES, MAX_TARGETS, MAX_TARGETS_BYTES, Target, TargetOrder,
                          TargetsFormat, Workload, WorkloadError, check_names, format_for_path,
                          parse_targets, targets_from_json)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workload"
VEGETA, JSONL, HAR = TargetsFormat.VEGETA, TargetsFormat.JSONL, TargetsFormat.HAR


def read_beside(path: str) -> bytes:
    """What the CLI passes: @path bodies read relative to the targets file's folder."""
    return (FIXTURES / path).read_bytes()


def refused(text: str | bytes, fmt: TargetsFormat = VEGETA, **kwargs) -> WorkloadError:
    with pytest.raises(WorkloadError) as caught:
        parse_targets(text, fmt, **kwargs)
    assert caught.value.source == "targets"
    return caught.value


def test_format_follows_the_file_name():
    assert format_for_path("run/session.HAR") is HAR
    assert format_for_path("t.jsonl") is JSONL and format_for_path("t.ndjson") is JSONL
    assert format_for_path("targets.txt") is VEGETA and format_for_path("targets") is VEGETA


def test_vegeta_file_with_comments_headers_and_a_body_file():
    targets = parse_targets((FIXTURES / "vegeta.txt").read_bytes(), VEGETA,
                            read_file=read_beside)
    assert [(t.method, t.url) for t in targets] == [
        ("GET", "http://127.0.0.1:8081/users/{user}?page={i}"),
        ("POST", "http://127.0.0.1:8081/orders"),
        ("DELETE", "http://127.0.0.1:8081/orders/{rand:1-1000}")]
    assert targets[0].headers == (("X-Account-ID", "8675309"),
                                  ("Authorization", "Bearer {token}"))
    assert targets[1].headers == (("Content-Type", "application/json"),)
    assert targets[1].body == read_beside("body.json")
    assert targets[2].headers == (("Confirmation-Token", "{uuid}"),)
    assert [t.display_name for t in targets] == [
        "GET /users/{user}", "POST /orders", "DELETE /orders/{rand:1-1000}"]
    assert all(t.weight == 1.0 and t.name == "" for t in targets)


def test_vegeta_body_file_is_read_once_for_many_targets():
    reads = []

    def read(path: str) -> bytes:
        reads.append(path)
        return b"{{}}"
    text = "".join(f"POST http://h/{n}\n@same.json\n\n" for n in range(5))
    assert [t.body for t in parse_targets(text, VEGETA, read_file=read)] == [b"{{}}"] * 5
    assert reads == ["same.json"]


@pytest.mark.parametrize("text, line, column, words", [
    ("GET http://h/\nX-Foo\n", 2, None, "header 'X-Foo' has no ':'"),
    ("GET http://h/\nX Foo: 1\n", 2, None, "'X Foo' is not a valid header name"),
    ("\n\nGET http://h/\nX-A: 1\nGET http://h/b\n", 5, None, "starts a new target"),
    ("http://h/a\n", 1, None, "put the method first"),
    ("GET http://h/a extra\n", 1, None, "a URL has no spaces"),
    ("G(T http://h/\n", 1, None, "is not an HTTP method"),
    ("GET ftp://h/\n", 1, None, "unknown scheme 'ftp'"),
    ("GET http:///path\n", 1, None, "has no host"),
    ("GET http://h:99999/\n", 1, None, "invalid port"),
    ("# users\nGET http://h/{usr\n", 2, 14, "a '{' that starts no placeholder"),
    ("GET http://h/}\n", 1, 14, "a '}' without its '{'"),
    ("GET http://h/\nX-N:  {rand:9-1}\n", 2, 7, "the range is empty"),
    ("GET http://h/{rand:a-b}\n", 1, 14, "is not a random range"),
    ("GET http://h/{i-1}\n", 1, 14, "{i-1} is not a placeholder"),
    ("GET http://h/\n\nX-A: 1\n", 3, None, "a header goes right under its target line"),
    ("GET http://h/\nX-A: 1\n@body.json\nX-B: 2\n", 4, None,
     "headers go before the @body line"),
])
def test_vegeta_errors_name_the_line(text, line, column, words):
    error = refused(text, read_file=read_beside)
    assert (error.line, error.column) == (line, column)
    assert words in str(error)
    assert str(error).startswith(f"targets line {line}")


def test_vegeta_body_files_need_a_reader_and_must_exist():
    error = refused("GET http://h/\n\nPOST http://h/\n@body.json\n")
    assert error.line == 4 and "need the command line" in str(error)
    assert "JSON lines" in str(error)
    error = refused("POST http://h/\n@missing.json\n", read_file=read_beside)
    assert error.line == 2 and "cannot read the body file 'missing.json'" in str(error)


def test_vegeta_body_file_placeholders_are_checked_on_the_at_line():
    error = refused("POST http://h/\n@j\n", read_file=lambda _: b'{"id": {i}}')
    assert error.line == 2 and "a '{' that starts no placeholder" in str(error)
    assert 'a JSON body as {{"id": {i}}}' in str(error)           # how to write a JSON body


def test_binary_body_files_are_kept_without_placeholders():
    png = b"\x89PNG\r\n\x1a\n{oops}\x00"
    (target,) = parse_targets("PUT http://h/a\n@a.png\n", VEGETA, read_file=lambda _: png)
    assert target.body == png


@pytest.mark.parametrize("data, line, column, words", [
    (b"", None, None, "the file is empty"),
    (b"  \n\n", None, None, "the file is empty"),
    (b"# only\n# comments\n", None, None, "no targets, only comments"),
    (b"GET http://h/\nX-A: \x00\x01\n", 2, 6, "a NUL byte"),
    (b"GET http://h/\nX-A: caf\xe9\n", 2, 9, "not UTF-8 text"),
    (b"\x7fELF\x02\x01\x01\x00\x00", 1, 8, "binary data"),
])
def test_empty_and_binary_files_are_refused(data, line, column, words):
    error = refused(data)
    assert (error.line, error.column) == (line, column) and words in str(error)


def test_over_the_limits():
    big = b"GET http://h/\n" + b"#" * MAX_TARGETS_BYTES
    assert "above the limit of 10 MiB" in str(refused(big))
    many = "".join(f"GET http://h/{n}\n\n" for n in range(MAX_TARGETS + 1))
    error = refused(many)
    assert error.line == 2 * MAX_TARGETS + 1 and "more than 10,000 targets" in str(error)
    assert len(parse_targets(many[:many.index(f"GET http://h/{MAX_TARGETS}\n")], VEGETA)) \
        == MAX_TARGETS


def test_json_lines_file():
    targets = parse_targets((FIXTURES / "targets.jsonl").read_text(), JSONL)
    assert [(t.name, t.method, t.weight) for t in targets] == [
        ("list users", "GET", 3.0), ("", "POST", 1.0), ("", "PUT", 1.0)]
    assert targets[0].headers == (("Accept", "application/json"),)
    assert targets[1].headers == (("Content-Type", "application/json"),)
    assert targets[1].body == b'{{"name": "{user}"}}'
    assert targets[2].headers == (("Content-Type", "image/png"),)
    assert targets[2].body == b"\x89PNG\r\n\x1a\n{i}\x00\xff"
    assert targets[0].display_name == "list users" and targets[1].display_name == "POST /users"


@pytest.mark.parametrize("item, column, words", [
    ('{"url": "http://h/"', 20, "not valid JSON"),
    ('["http://h/"]', None, "must be an object"),
    ('{"url": "http://h/", "header": {"A": "1"}}', None, "unknown field 'header'"),
    ('{"method": "GET"}', None, "url: is required"),
    ('{"url": "http://h/", "weight": 0}', None, "weight: must be a number greater than 0"),
    ('{"url": "http://h/", "weight": "3"}', None, "weight: '3' is not a number"),
    ('{"url": "http://h/", "body": "a", "body_b64": "YQ=="}', None, "not both"),
    ('{"url": "http://h/", "body_b64": "not base64!"}', None, "not valid base64"),
    ('{"url": "http://h/", "headers": [["A"]]}', None, "headers[0]"),
    ('{"url": "http://h/", "headers": [["A", "1\\r\\nX: y"]]}', None, "line break"),
    ('{"url": "http://h/", "name": "' + "n" * 201 + '"}', None, "at most 200"),
])
def test_json_lines_errors_name_the_line(item, column, words):
    text = '{"url": "http://h/ok"}\n\n' + item + "\n"
    error = refused(text, JSONL)
    assert error.line == 3 and error.column == column and words in str(error)


def test_api_targets_errors_name_the_item():
    good = {"url": "http://h/", "method": "GET"}
    with pytest.raises(WorkloadError) as caught:
        targets_from_json([good, good, good, {"url": "gopher://h/"}])
    error = caught.value
    assert str(error).startswith("targets[3].url: unknown scheme 'gopher'")
    assert error.line == 4 and error.source == "targets"
    with pytest.raises(WorkloadError, match=r"^targets\[0\]: must be an object"):
        targets_from_json(["http://h/"])
    with pytest.raises(WorkloadError, match="non-empty list"):
        targets_from_json({"url": "http://h/"})
    with pytest.raises(WorkloadError, match="above the limit of 10,000"):
        targets_from_json([good] * (MAX_TARGETS + 1))


def test_to_dict_round_trips_text_and_binary_bodies():
    targets = [Target("POST", "http://h/{i}", (("A", "1"), ("A", "2")), '{{"x": "é"}}'.encode(),
                      name="create", weight=2.5),
               Target("PUT", "http://h/bin", (), b"\xff\x00{i}")]
    dicts = [t.to_dict() for t in targets]
    assert dicts[0]["body"] == '{{"x": "é"}}' and "body_b64" in dicts[1]
    assert targets_from_json(json.loads(json.dumps(dicts))) == targets
    jsonl = "\n".join(json.dumps(d) for d in dicts)
    assert parse_targets(jsonl, JSONL) == targets


def test_target_normalises_and_derives_its_name():
    t = Target("get", "http://h:8080/a/{id}/b?q={i}#frag", {"X-A": "1"}, "text")
    assert t.method == "GET" and t.headers == (("X-A", "1"),) and t.body == b"text"
    assert t.display_name == "GET /a/{id}/b"
    assert Target("GET", "http://h").display_name == "GET /"
    assert Target("GET", "http://h/", name="  home ").display_name == "home"


def test_names_are_bounded_with_a_way_out():
    distinct = [Target("GET", f"http://h/item/{n}") for n in range(MAX_NAMES + 1)]
    with pytest.raises(WorkloadError) as caught:
        check_names(distinct)
    assert "201 distinct request names" in str(caught.value)
    assert '"name"' in str(caught.value) and "/users/{id}" in str(caught.value)
    with pytest.raises(WorkloadError, match="distinct request names"):
        Workload(distinct, order=TargetOrder.SEQUENCE)
    check_names(distinct[:MAX_NAMES])
    named = [Target("GET", f"http://h/item/{n}", name="GET /item/:n") for n in range(500)]
    check_names(named)
    assert Workload(named, order=TargetOrder.SEQUENCE).names == ("GET /item/:n",)


def test_chrome_har():
    targets = parse_targets((FIXTURES / "chrome.har").read_bytes(), HAR)
    page, cart, search = targets                     # the data: URL is no HTTP request
    assert (page.method, page.url) == ("GET", "https://shop.example.com/?ref=mail")
    assert page.headers == (
        ("accept", "text/html,application/xhtml+xml"), ("accept-encoding", "gzip, deflate, br"),
        ("cookie", "session=abc123"), ("upgrade-insecure-requests", "1"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"))
    assert (cart.method, cart.url) == ("POST", "https://api.example.com/v1/cart")
    names = [k for k, _ in cart.headers]
    assert names == ["content-type", "origin", "x-request-id"]   # no :pseudo, no length
    # recorded traffic is literal: braces come back as sent, never as placeholders
    request = Workload(targets, order=TargetOrder.SEQUENCE).render(1)
    assert request.body == b'{"sku": "A-1", "qty": {"n": 2}}'
    assert dict(request.headers)["x-request-id"] == "{not-a-placeholder}"
    assert search.body == b"q=red+shoes&size=42%2643"             # params only: urlencoded
    assert [t.display_name for t in targets] == ["GET /", "POST /v1/cart", "POST /search"]


def test_firefox_har():
    script, login = parse_targets((FIXTURES / "firefox.har").read_text(), HAR)  # no wss:
    assert script.url == "http://localhost:8081/static/app.js?v=3"
    # Host, Connection, Keep-Alive and what Connection lists are the connection's own
    assert [k for k, _ in script.headers] == ["User-Agent", "Accept", "Referer",
                                              "Sec-Fetch-Dest"]
    assert login.body == b"user=ann&pass=s3cret&remember=1"       # text wins over params
    assert [k for k, _ in login.headers] == ["Content-Type", "Origin",
                                             "Upgrade-Insecure-Requests"]


def test_har_only_host():
    text = (FIXTURES / "chrome.har").read_bytes()
    api = parse_targets(text, HAR, only_host="api.example.com")
    assert [t.url for t in api] == ["https://api.example.com/v1/cart"]
    assert len(parse_targets(text, HAR, only_host="https://shop.example.com/")) == 2
    error = refused(text, HAR, only_host="cdn.example.com")
    assert "no entry has the host 'cdn.example.com'" in str(error)
    assert "shop.example.com (2)" in str(error) and "api.example.com (1)" in str(error)


@pytest.mark.parametrize("text, line, words", [
    ('{"log": {"entries": [}}', 1, "not a HAR file: not valid JSON"),
    ("GET http://h/\n", 1, "not valid JSON"),
    ('{"log": {"version": "1.2"}}', None, "no log.entries list"),
    ('[1, 2]', None, "no log.entries list"),
    ('{"log": {"entries": []}}', None, "has no entries"),
    ('{"log": {"entries": [{"request": {"method": "GET", "url": "data:,x"}}]}}', None,
     "no http(s) requests (skipped data: 1)"),
    ('{"log": {"entries": [{"request": {"method": "GET"}}]}}', None,
     "log.entries[0].request.url: is missing"),
    ('{"log": {"entries": [{"request": {"method": "GET", "url": "http://h/", "headers": '
     '[{"name": "X-A"}]}}]}}', None, "log.entries[0].request.headers"),
    ('{"log": {"entries": [{"request": {"method": "POST", "url": "http://h/", "postData": '
     '{"mimeType": "multipart/form-data; boundary=x", "params": [{"name": "f", '
     '"fileName": "a.png"}]}}}]}}', None, "multipart/form-data body"),
    ('{"log": {"entries": [{"request": {"method": "POST", "url": "http://h/", "bodySize": 9, '
     '"postData": {"mimeType": "text/plain", "text": ""}}}]}}', None,
     "log.entries[0].request.postData: the request had a body of 9 bytes that the HAR does "
     "not hold"),
])
def test_har_errors(text, line, words):
    error = refused(text, HAR)
    assert error.line == line and words in str(error)


def test_har_over_the_limit():
    entry = {"request": {"method": "GET", "url": "http://h/", "headers": []}}
    text = json.dumps({"log": {"entries": [entry] * (MAX_TARGETS + 1)}})
    assert "more than 10,000 requests" in str(refused(text, HAR))


def test_only_host_filters_other_formats_too():
    text = "GET http://a.test/\n\nGET http://b.test:8080/\n"
    assert [t.url for t in parse_targets(text, VEGETA, only_host="b.test")] == \
        ["http://b.test:8080/"]
    assert "no target has the host 'c.test'" in str(refused(text, only_host="c.test"))
