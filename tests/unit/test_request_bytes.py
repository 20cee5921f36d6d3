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
