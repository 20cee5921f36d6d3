"""The New-run form's list mode as a browser without JavaScript posts it (multipart): files
as files, errors inline with the values kept, Run again of a run whose data is too big for
the page keeping it from the stored run."""
from __future__ import annotations

import html
import re

from aiohttp import FormData

from app.store import runs as store
from app.web.form import EDIT_MAX_BYTES
from app.web.keys import DB
from tests.conftest import wait_for_status

FINAL = {"finished", "stopped", "failed"}


def form(target_url: str, **fields) -> FormData:
    data = FormData()
    values = {"mode": "list", "targets_format": "vegeta", "order": "sequence", "seed": "1",
              "data_order": "sequence", "requests": "6", "concurrency": "2", "model": "closed",
              "engine": "aiohttp", "workers": "1", "timeout": "30s", "connect_timeout": "10s",
              "url": target_url + "{i}", "targets_text": "", "data_csv": ""}
    files = {k: fields.pop(k) for k in list(fields) if k.endswith("_file")}
    values.update(fields)
    for name, value in values.items():
        data.add_field(name, value)
    for name, (filename, content) in files.items():
        data.add_field(name, content, filename=filename, content_type="application/octet-stream")
    for name in ("targets_file", "data_file"):
        if name not in files:              # what a browser sends for an empty file input
            data.add_field(name, b"", filename="", content_type="application/octet-stream")
    return data


def run_id_of(response) -> int:
    assert response.status == 200 and re.search(r"/runs/\d+$", str(response.url)), response.status
    return int(str(response.url).rsplit("/", 1)[1])


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea id="f-{name}"[^>]*>\n?(.*?)</textarea>', page, re.S)
    return html.unescape(found.group(1))


async def test_files_posted_without_javascript_start_the_list(client, target_url):
    targets = f"GET {target_url}u/{{user}}?delay=0\n\nGET {target_url}v?delay=0\n".encode()
    response = await client.post("/runs", data=form(
        target_url, targets_file=("api.txt", targets), data_file=("users.csv", b"user\nann\nbob\n")))
    run_id = run_id_of(response)
    run = await wait_for_status(client, run_id, FINAL)
    assert run["status"] == "finished" and run["summary"]["requests"] == 6
    assert [t["url"] for t in run["spec"]["targets"]] == [f"{target_url}u/{{user}}?delay=0",
                                                          f"{target_url}v?delay=0"]
    assert set(run["summary"]["endpoints"]) == {"GET /u/{user}", "GET /v"}
    assert await store.get_run_data(client.app[DB], run_id) == "user\nann\nbob\n"
    # Run again: list mode, the targets as JSON lines, the data as it ran
    page = await (await client.get(f"/?from={run_id}")).text()
    assert 'value="list" id="mode-list" checked' in page
    assert '<option value="jsonl" selected>' in page
    assert f'"url": "{target_url}v?delay=0"' in textarea(page, "targets_text")
    assert textarea(page, "data_csv") == "user\nann\nbob\n"


async def test_a_bad_line_is_named_next_to_the_targets_and_the_values_are_kept(client, target_url):
    text = f"GET {target_url}a\n\n{target_url}b\n"
    response = await client.post("/runs", data=form(target_url, targets_text=text,
                                                    data_csv="user\nann\n", seed="7"))
    assert response.status == 400
    page = await response.text()
    error = re.search(r'<p class="field-error" id="targets_text-error"[^>]*>(.*?)</p>', page)
    assert error and "targets line 3" in html.unescape(error.group(1))
    assert textarea(page, "targets_text") == text and textarea(page, "data_csv") == "user\nann\n"
    assert 'value="7"' in page and 'value="list" id="mode-list" checked' in page
    assert (await (await client.get("/api/runs")).json())["total"] == 0


async def test_a_file_and_pasted_text_for_the_same_input_is_refused(client, target_url):
    response = await client.post("/runs", data=form(
        target_url, targets_text=f"GET {target_url}a\n",
        targets_file=("t.txt", f"GET {target_url}b\n".encode())))
    assert response.status == 400
    assert "keep one of them" in html.unescape(await response.text())


async def test_run_again_keeps_data_too_big_for_the_page_from_the_stored_run(client, target_url):
    csv = "user\n" + "".join(f"user{n:06d}\n" for n in range(EDIT_MAX_BYTES // 10))
    first = await (await client.post("/api/runs", json={
        "targets_text": f"GET {target_url}u/{{user}}?delay=0\n", "data_csv": csv,
        "requests": 4, "concurrency": 2})).json()
    await wait_for_status(client, first["id"], FINAL)
    page = await (await client.get(f"/?from={first['id']}")).text()
    assert textarea(page, "data_csv") == ""                     # not printed into the page
    assert f'name="data_from" value="{first["id"]}"' in page
    kept = re.search(r'name="data_from_text" value="([^"]*)"', page).group(1)
    assert "data rows" in kept and len(page) < EDIT_MAX_BYTES
    response = await client.post("/runs", data=form(
        target_url, targets_text=textarea(page, "targets_text"), targets_format="jsonl",
        data_from=str(first["id"]), data_from_text=html.unescape(kept), requests="4"))
    again = run_id_of(response)
    await wait_for_status(client, again, FINAL)
    assert await store.get_run_data(client.app[DB], again) == csv
    # the kept run deleted meanwhile: said next to the data, nothing started
    await client.delete(f"/api/runs/{first['id']}")
    response = await client.post("/runs", data=form(
        target_url, targets_text=f"GET {target_url}u/{{user}}\n", data_from=str(first["id"])))
    assert response.status == 400
    assert f"run #{first['id']}, whose data this form kept, no longer exists" in \
        html.unescape(await response.text())
