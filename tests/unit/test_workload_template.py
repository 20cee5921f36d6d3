"""Placeholders and the Workload: every kind, escapes, refusals that name what is wrong,
the orders' proportions, and the same requests from any worker and any run."""
from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from app.workload import (DataOrder, RequestContext, Target, TargetOrder, TargetsFormat,
                          Template, Workload, WorkloadError, parse_csv, parse_targets,
                          row_index)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workload"
SEQ, WEIGHTED = TargetOrder.SEQUENCE, TargetOrder.WEIGHTED
USERS = parse_csv(b"user,token\nann,t-1\nbob smith,t/2\nchlo\xc3\xa9,t-3\n")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def render(text: str, i: int = 0, row: int | None = None, data=None, seed: int = 1) -> str:
    template = Template.compile(text, data.columns if data else ())
    return template.render(RequestContext(index=i, row=row, data=data, seed=seed))


def test_every_kind_of_placeholder():
    assert render("/a/{i}/b/{i}", i=42) == "/a/42/b/42"
    assert render("{user}:{token}", row=1, data=USERS) == "bob smith:t/2"
    assert UUID4.fullmatch(render("{uuid}", i=3))
    assert uuid.UUID(render("{uuid}", i=3)).version == 4
    assert 1 <= int(render("{rand:1-6}", i=5)) <= 6
    assert render("{rand:-3--3}") == "-3"


def test_braces_escape_and_constants():
    assert render('{{"id": {i}, "x": {{}}}}', i=7) == '{"id": 7, "x": {}}'
    assert render("{{i}}") == "{i}" and render("{{{i}}}", i=1) == "{1}"
    t = Template.compile("/plain/{{x}}")
    assert t.constant and t.placeholders == frozenset()
    t = Template.compile("/u/{user}/{i}/{rand:1-2}", USERS.columns)
    assert not t.constant and t.placeholders == {"user", "i", "rand:1-2"}


def test_parts_are_literals_around_placeholders():
    literals, slots = Template.compile("/u/{user}?n={i}&{{x}}", USERS.columns).parts()
    assert literals == ("/u/", "?n=", "&{x}")
    assert [(s.kind.value, s.text, s.column) for s in slots] == [("column", "user", 0),
                                                                  ("i", "i", -1)]


QUOTED = parse_csv(b'user,token\n"a,1",x%d\n"b""2",%s%%\n')      # unquoted into a bytearray


@pytest.mark.parametrize("data", [USERS, QUOTED], ids=["plain", "quoted"])
@pytest.mark.parametrize("text", ["/u/{user}?n={i}&t={token}", "{i}", "{user}", "100% {i}%d",
                                  "é {uuid} {rand:1-9} {{x}} %s {token}{user}", "constant %"])
def test_bytes_are_the_text_encoded(text, data):
    """bind_bytes, the fast engine's form (a %-format over fields sliced as bytes), gives
    exactly the UTF-8 of what bind renders, with `%` in literals, fields and the suffix."""
    t = Template.compile(text, data.columns)
    as_text, as_bytes = t.bind(7, data), t.bind_bytes(7, data, b"\r\n%d\xff", "tag")
    for i in range(12):
        r = i % len(data)
        assert as_bytes(i, r) == (as_text(i, r).encode() + b"\r\n%d\xff", "tag")
        assert type(as_bytes(i, r)[0]) is bytes


@pytest.mark.parametrize("text, columns, words, column", [
    ("/u/{usr}", ("user", "token"), "unknown placeholder {usr}: the data file's columns are "
     "user, token; the built-ins are {i}, {uuid} and {rand:A-B}", 4),
    ("/u/{user}", (), "unknown placeholder {user}: there is no data file (CSV) with such a "
     "column", 4),
    ("/a/{rand:9-2}", (), "the range is empty (9 > 2)", 4),
    ("/a/{rand:1}", (), "{rand:1} is not a random range: write {rand:A-B}", 4),
    ("/a/{rand:1-x}", (), "is not a random range", 4),
    ('{"id": 1}', (), '{"id": 1} is not a placeholder', 1),
    ('{"a": {"b": 1}}', (), "a '{' that starts no placeholder", 1),
    ("/a/{i", (), "a '{' that starts no placeholder", 4),
    ("/a/i}", (), "a '}' without its '{'", 5),
    ("/a/{{i}", (), "a '}' without its '{'", 7),
    ("/a/{}", (), "{} is not a placeholder", 4),
    ("/a/{user name}", ("user",), "{user name} is not a placeholder", 4),
])
def test_refusals_name_the_placeholder(text, columns, words, column):
    with pytest.raises(WorkloadError) as caught:
        Template.compile(text, columns)
    assert words in str(caught.value) and caught.value.column == column


def test_random_values_are_pure_functions_of_seed_index_and_position():
    t = Template.compile("{uuid} {uuid} {rand:1-1000000}")
    first = [t.render(RequestContext(i, None, None, 5)) for i in range(100)]
    assert first == [t.render(RequestContext(i, None, None, 5)) for i in range(100)]
    assert first != [t.render(RequestContext(i, None, None, 6)) for i in range(100)]
    a, b, _ = first[0].split()
    assert a != b                                    # two {uuid} in one target differ
    assert len({line.split()[0] for line in first}) == 100


def test_rand_covers_its_range_evenly():
    t = Template.compile("{rand:1-6}").bind(1, None)
    counts = Counter(int(t(i, -1)) for i in range(60_000))
    assert set(counts) == set(range(1, 7))
    assert all(abs(c - 10_000) < 500 for c in counts.values())


def test_sequence_order_and_names():
    targets = [Target("GET", "http://h/a"), Target("POST", "http://h/b", name="make b"),
               Target("GET", "http://h/a?x=1")]
    w = Workload(targets, order=SEQ)
    assert w.names == ("GET /a", "make b")
    assert [w.target_index(i) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert [w.render(i).name_id for i in range(3)] == [0, 1, 0]
    assert [w.render(i).url for i in range(3)] == ["http://h/a", "http://h/b", "http://h/a?x=1"]


def test_weighted_order_follows_the_weights():
    w = Workload([Target("GET", "http://h/light", weight=1),
                  Target("GET", "http://h/heavy", weight=3)], order=WEIGHTED, seed=1)
    picks = [w.target_index(i) for i in range(40_000)]
    assert abs(picks.count(1) / 40_000 - 0.75) <= 0.02
    assert abs(picks.count(0) / 40_000 - 0.25) <= 0.02
    assert picks[:20] != sorted(picks[:20])             # drawn, not blocks of targets


def test_weighted_order_is_seeded():
    targets = [Target("GET", f"http://h/{n}", weight=n + 1) for n in range(5)]
    one = [Workload(targets, order=WEIGHTED, seed=1).target_index(i) for i in range(1000)]
    assert one == [Workload(targets, order=WEIGHTED, seed=1).target_index(i)
                   for i in range(1000)]
    assert one != [Workload(targets, order=WEIGHTED, seed=2).target_index(i)
                   for i in range(1000)]
    default = Workload(targets, order=WEIGHTED)         # seed 1 unless told
    assert [default.target_index(i) for i in range(1000)] == one


def test_workers_render_the_same_requests_in_any_order():
    targets = parse_targets((FIXTURES / "vegeta.txt").read_bytes(), TargetsFormat.VEGETA,
                            read_file=lambda path: (FIXTURES / path).read_bytes())
    kwargs = dict(order=WEIGHTED, seed=11, data=USERS, data_order=DataOrder.RANDOM)
    one, two = Workload(targets, **kwargs), Workload(targets, **kwargs)
    forward = [one.render(i) for i in range(300)]
    assert [two.render(i) for i in reversed(range(300))] == forward[::-1]
    other_seed = Workload(targets, **{**kwargs, "seed": 12})
    assert [other_seed.render(i) for i in range(300)] != forward


def test_rendered_requests_from_data():
    targets = parse_targets((FIXTURES / "vegeta.txt").read_bytes(), TargetsFormat.VEGETA,
                            read_file=lambda path: (FIXTURES / path).read_bytes())
    w = Workload(targets, order=SEQ, data=USERS)
    get, post, delete = w.render(0), w.render(1), w.render(2)
    assert get.method == "GET" and get.url == "http://127.0.0.1:8081/users/ann?page=0"
    assert get.headers == (("X-Account-ID", "8675309"), ("Authorization", "Bearer t-1"))
    assert post.body == '{"user": "bob smith", "request": 1, "note": "café"}\n'.encode()
    assert post.headers == (("Content-Type", "application/json"),)
    number = int(delete.url.rsplit("/", 1)[1])
    assert 1 <= number <= 1000 and UUID4.fullmatch(dict(delete.headers)["Confirmation-Token"])
    assert [w.row_index(i) for i in range(5)] == [0, 1, 2, 0, 1]
    # a data value a URL cannot hold as it is is percent-encoded; URL syntax is kept
    users = Workload(targets[:1], order=SEQ, data=USERS)
    assert users.render(1).url == "http://127.0.0.1:8081/users/bob%20smith?page=1"
    assert users.render(2).url == "http://127.0.0.1:8081/users/chlo%C3%A9?page=2"
    assert dict(users.render(1).headers)["Authorization"] == "Bearer t/2"


def test_random_data_order_uses_row_index():
    w = Workload([Target("GET", "http://h/{user}")], order=SEQ, data=USERS,
                 data_order=DataOrder.RANDOM, seed=3)
    for i in range(50):
        r = row_index(i, len(USERS), DataOrder.RANDOM, 3)
        assert w.row_index(i) == r
        assert w.render(i).url == "http://h/" + USERS.field(r, 0).replace(" ", "%20") \
            .replace("é", "%C3%A9")


def test_plain_data_values_are_not_quoted():
    ids = parse_csv(b"id\nA-1\nb.2\n")
    w = Workload([Target("GET", "http://h/{id}")], order=SEQ, data=ids)
    assert [w.render(i).url for i in range(2)] == ["http://h/A-1", "http://h/b.2"]


def test_a_constant_target_is_one_shared_request():
    w = Workload([Target("POST", "http://h/x", (("A", "{{1}}"),), b'{{"a": 1}}')], order=SEQ)
    first = w.render(0)
    assert first.body == b'{"a": 1}' and first.headers == (("A", "{1}"),)
    assert all(w.render(i) is first for i in range(100))
    many = Workload([Target("GET", "http://h/a"), Target("GET", "http://h/b")], order=SEQ)
    assert many.render(0) is many.render(2) and many.render(1) is many.render(3)


def test_binary_bodies_are_sent_as_they_are():
    png = b"\x89PNG\r\n\x1a\n{i}\x00\xff"
    w = Workload([Target("PUT", "http://h/{i}", body=png)], order=SEQ)
    assert w.render(5).body == png and w.render(5).url == "http://h/5"


def test_text_bodies_render_to_utf8():
    w = Workload([Target("POST", "http://h/", body='{{"n": {i}, "who": "{user}"}}')],
                 order=SEQ, data=USERS)
    assert w.render(2).body == '{"n": 2, "who": "chloé"}'.encode()


def test_unknown_placeholders_name_the_target_and_field():
    targets = [Target("GET", "http://h/"), Target("GET", "http://h/", (("X-User", "{usr}"),))]
    with pytest.raises(WorkloadError) as caught:
        Workload(targets, order=SEQ, data=USERS)
    message = str(caught.value)
    assert message.startswith("targets[1].headers.X-User: unknown placeholder {usr}")
    assert "columns are user, token" in message and caught.value.line == 2
    with pytest.raises(WorkloadError, match=r"targets\[0\]\.url: unknown placeholder {user}: "
                                            r"there is no data file"):
        Workload([Target("GET", "http://h/{user}")], order=SEQ)
    with pytest.raises(WorkloadError, match=r"targets\[0\]\.body: unknown placeholder {x}"):
        Workload([Target("POST", "http://h/", body="{x}")], order=SEQ, data=USERS)


def test_a_column_with_line_breaks_cannot_go_into_a_header():
    notes = parse_csv(b'id,note\n1,fine\n2,"two\nlines"\n')
    ok = Workload([Target("POST", "http://h/{note}", (("X-Id", "{id}"),), "{note}")],
                  order=SEQ, data=notes)
    assert ok.render(1).body == b"two\nlines" and ok.render(1).url == "http://h/two%0Alines"
    with pytest.raises(WorkloadError, match=r"targets\[0\]\.headers\.X-Note: column 'note' "
                                            r"has a line break in data row 2"):
        Workload([Target("GET", "http://h/", (("X-Note", "{note}"),))], order=SEQ, data=notes)


def test_many_placeholders_in_one_value():
    w = Workload([Target("GET", "http://h/{user}/{token}/{i}/{i}/{user}?a={rand:5-5}")],
                 order=SEQ, data=USERS)
    assert w.render(1).url == "http://h/bob%20smith/t/2/1/1/bob%20smith?a=5"


def test_no_targets():
    with pytest.raises(WorkloadError, match="there is no target"):
        Workload([], order=SEQ)
