"""History text search against a real SQLite file: Unicode case-insensitive, literal."""
from __future__ import annotations

import pytest

from app.store.db import fold, open_db
from app.store.runs import create_run, list_runs

NAMES = ["Ünïcödé test", "STRASSE load", "plain ascii", "ΣΊΣΥΦΟΣ", "50% off", "x_y",
         "Cafe\u0301 decomposed"]


@pytest.fixture
async def db(tmp_path):
    conn = await open_db(tmp_path / "s.sqlite")
    for name in NAMES:
        await create_run(conn, {"name": name, "url": f"http://h.example/{name[:3]}",
                                "engine": "aiohttp", "model": "closed"})
    yield conn
    await conn.close()


async def names(db, text: str) -> list[str]:
    page, total = await list_runs(db, text=text, sort="name", descending=False)
    assert total == len(page)
    return [r.name for r in page]


@pytest.mark.parametrize("text, expected", [
    ("ünï", ["Ünïcödé test"]),          # the example: ASCII-only folding missed it
    ("ÜNÏCÖDÉ", ["Ünïcödé test"]),
    ("straße", ["STRASSE load"]),        # full case folding, not just lower()
    ("σίσυφος", ["ΣΊΣΥΦΟΣ"]),           # final sigma folds like any sigma
    ("café", ["Cafe\u0301 decomposed"]),   # composed query, decomposed name
    ("PLAIN", ["plain ascii"]),
    ("0% o", ["50% off"]),               # still literal: % and _ are not wildcards
    ("_", ["x_y"]),
    ("%", ["50% off"]),
    ("h.example/str", ["STRASSE load"]),   # the URL too
    ("nothing like it", []),
])
async def test_search_folds_unicode_case_and_matches_literally(db, text, expected):
    assert await names(db, text) == expected


def test_fold_is_none_safe_and_idempotent():
    assert fold(None) is None
    assert fold("Ünïcödé") == fold(fold("ÜNÏCÖDÉ")) == "ünïcödé"
