import pytest

from app.engine.request_bytes import RequestTemplate
from app.spec import parse_spec


def template(**fields):
    return RequestTemplate(parse_spec({"requests": 1, **fields}))


def test_constant_request_is_encoded_once():
    t = template(url="http://127.0.0.1:8081/a?b=1", headers=["X-Trace: 7"])
    assert t.constant is not None and t.render(5) is t.constant
    head, _, body = t.constant.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"GET /a?b=1 HTTP/1.1"
    assert b"Host: 127.0.0.1:8081" in lines and b"X-Trace: 7" in lines
    assert b"User-Agent: stampede-fast" in lines and body == b""
    assert (t.host, t.port, t.tls_hostname) == ("127.0.0.1", 8081, None)


def test_index_is_placed_at_every_occurrence():
    t = template(url="http://h/{i}/x?id={i}")
    assert t.constant is None
    assert t.render(42).startswith(b"GET /42/x?id=42 HTTP/1.1\r\n")
    assert t.render(0).startswith(b"GET /0/x?id=0 HTTP/1.1\r\n")


def test_body_length_keepalive_and_credentials():
    t = template(url="https://user:pw@example.test/", method="POST", body="héllo",
                 keepalive=False)
    head, _, body = t.render(0).partition(b"\r\n\r\n")
    assert body == "héllo".encode()
    assert b"Content-Length: 6" in head and b"Connection: close" in head
    assert b"Authorization: Basic dXNlcjpwdw==" in head and b"Host: example.test" in head
    assert (t.port, t.tls_hostname) == (443, "example.test")


def test_given_host_header_wins_and_index_in_host_is_refused():
    t = template(url="http://127.0.0.1/", headers=["Host: virtual.test"])
    assert t.render(0).count(b"Host:") == 1 and b"Host: virtual.test" in t.render(0)
    with pytest.raises(ValueError, match="path and query only"):
        template(url="http://h{i}.test/")


def test_a_workload_is_encoded_as_the_workload_renders_it():
    """The fast engine's pre-split bytes carry exactly what Workload.render gives, with
    the Content-Length of the rendered body; also the whole-render path (data to quote)."""
    targets = [
        {"url": "http://h:81/a/{i}?r={rand:1-9}&u={user}", "headers": [["X-U", "{user}"]]},
        {"method": "POST", "url": "http://h:81/b", "body": '{{"id": "{uuid}", "u": "{user}"}}'},
        {"method": "PUT", "url": "http://h:81", "body_b64": "AAEC/w=="},
    ]
    for users in ("ann\nbob", "ann\nbob smith"):     # the second needs URL quoting
        spec = parse_spec({"targets": targets, "requests": 9, "engine": "fast",
                           "data_csv": "user\n" + users + "\n"})
        t, workload = RequestTemplate(spec), spec.workload()
        for i in range(9):
            data, name_id = t.encode(i)
            r = workload.render(i)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            path = r.url.removeprefix("http://h:81") or "/"
            assert lines[0] == f"{r.method} {path} HTTP/1.1" and body == r.body
            assert "Host: h:81" in lines and name_id == r.name_id
            assert [f"{k}: {v}" for k, v in r.headers] == [
                line for line in lines if line.startswith("X-")]
            if r.method != "GET":
                assert f"Content-Length: {len(r.body)}" in lines
