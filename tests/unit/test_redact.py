"""Secrets masked in every outward view of a run; the stored spec is left alone (pure)."""
from __future__ import annotations

import pytest

from app.redact import (MASK, is_secret_name, mask_header, mask_text, mask_url, run_view,
                        spec_view)
from app.spec import parse_spec
from app.status import RunStatus
from app.store.runs import RunRecord


@pytest.mark.parametrize("name, value, shown", [
    ("Authorization", "Bearer abc.def.ghi", f"Bearer {MASK}"),
    ("authorization", "Basic dXNlcjpwYXNz", f"Basic {MASK}"),
    ("Proxy-Authorization", "Digest username=x, response=y", f"Digest {MASK}"),
    ("Authorization", "rawtokenwithoutscheme", MASK),
    ("Cookie", "session=abc; theme=dark", MASK),
    ("Set-Cookie", "id=1", MASK),
    ("X-API-Key", "k-123", MASK),
    ("X-Auth-Token", "t-123", MASK),
    ("X-Client-Secret", "s", MASK),
    ("X-Password", "hunter2", MASK),
    ("Api_Key", "Bearer looks-like-a-scheme", MASK),   # only Authorization keeps a scheme word
    ("Accept", "text/plain", "text/plain"),
    ("X-Author", "Ann", "Ann"),
    ("User-Agent", "stampede", "stampede"),
    ("Keep-Alive", "timeout=5", "timeout=5"),
])
def test_header_values_with_secret_names_are_masked(name, value, shown):
    assert mask_header(name, value) == shown
    assert is_secret_name(name) == (shown != value)


@pytest.mark.parametrize("url, shown", [
    ("http://user:pass@host:8080/x", f"http://user:{MASK}@host:8080/x"),
    ("https://ghp_tokenasuser@github.com/", f"https://{MASK}@github.com/"),
    ("http://u:p%40ss@h/?a=1", f"http://u:{MASK}@h/?a=1"),
    ("http://h/{i}?token=abc&delay=0-1", f"http://h/{{i}}?token={MASK}&delay=0-1"),
    ("http://h/?api_key=1&Access-Token=2&x=3#frag",
     f"http://h/?api_key={MASK}&Access-Token={MASK}&x=3#frag"),
    ("http://h/?password=&author=me", "http://h/?password=&author=me"),   # nothing to hide
    ("http://h/path?q=a%20b&sig=zz", "http://h/path?q=a%20b&sig=zz"),     # sig: not a name we know
    ("http://h/path?client%5Fsecret=zz", f"http://h/path?client%5Fsecret={MASK}"),
    ("http://h:1/{i}?delay=0-3", "http://h:1/{i}?delay=0-3"),
    ("http://h?key=v", f"http://h?key={MASK}"),
])
def test_urls_lose_their_userinfo_password_and_secret_query_values(url, shown):
    assert mask_url(url) == shown


def test_a_run_view_masks_url_and_headers_and_leaves_the_record_alone():
    spec = parse_spec({"url": "http://u:pw@h/{i}?token=tt", "requests": 1,
                       "headers": ["Authorization: Bearer s3cret", "X-Api-Key: k3y",
                                   "Accept: */*"]}).to_dict()
    run = RunRecord(id=1, name="n", url=spec["url"], spec=spec, engine="aiohttp",
                    model="closed", status=RunStatus.FINISHED, created_at=0.0, started_at=None,
                    finished_at=None, summary=None, error_message=None)
    view = run_view(run)
    text = repr(view.to_dict())
    for secret in ("s3cret", "k3y", ":pw@", "=tt"):
        assert secret not in text
    assert view.spec["headers"] == [f"Authorization: Bearer {MASK}", f"X-Api-Key: {MASK}",
                                    "Accept: */*"]
    assert view.url == view.spec["url"] == f"http://u:{MASK}@h/{{i}}?token={MASK}"
    assert (view.id, view.name, view.status) == (1, "n", RunStatus.FINISHED)
    # the stored run is unchanged: "Run again" sends the secrets
    assert run.spec["headers"][0] == "Authorization: Bearer s3cret"
    assert run.url == "http://u:pw@h/{i}?token=tt"
    assert spec_view(spec) == view.spec


def test_a_spec_without_secrets_is_shown_as_is():
    spec = parse_spec({"url": "http://h/{i}", "requests": 1, "headers": ["A: 1"]}).to_dict()
    assert spec_view(spec) == spec


@pytest.mark.parametrize("text, shown", [
    ("Max retries exceeded with url: /x?token=abc&delay=1 (Caused by X('y'))",
     f"Max retries exceeded with url: /x?token={MASK}&delay=1 (Caused by X('y'))"),
    ("Cannot connect to http://bob:hunter2@h:1/?api_key=k1",
     f"Cannot connect to http://bob:{MASK}@h:1/?api_key={MASK}"),
    ("Read timed out. (read timeout=0.5)", "Read timed out. (read timeout=0.5)"),
    ("url='http://h/?password=p%20w'", f"url='http://h/?password={MASK}'"),
    ("no secrets here: port=8081", "no secrets here: port=8081"),
])
def test_free_text_loses_the_same_secrets(text, shown):
    assert mask_text(text) == shown


def test_the_targets_of_a_workload_are_masked_too():
    spec = {"url": "http://h/a?token=s3cret", "targets": [
        {"url": "http://u:pw@h/a?api_key=k3y", "headers": [["Authorization", "Bearer t0k"],
                                                           ["X-Plain", "visible"]]}]}
    view = spec_view(spec)
    text = repr(view)
    for secret in ("s3cret", "k3y", "pw@", "t0k"):
        assert secret not in text, secret
    assert "visible" in text and spec["targets"][0]["headers"][0][1] == "Bearer t0k"
