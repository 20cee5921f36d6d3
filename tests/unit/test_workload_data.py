"""CSV data: real files, every refusal with its line, the limits, a million rows in about
the file's memory, a round trip through to_csv, and the seeded row order."""
from __future__ import annotations

import csv
import io
import mmap
import pickle
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.workload import (MAX_DATA_BYTES, MAX_DATA_ROWS, DataOrder, WorkloadError,
                          check_data_size, parse_csv, row_index)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workload"


def refused(data: str | bytes) -> WorkloadError:
    with pytest.raises(WorkloadError) as caught:
        parse_csv(data)
    assert caught.value.source == "data"
    return caught.value


def rows(table) -> list[tuple[str, ...]]:
    return [table.row(r) for r in range(len(table))]


def test_plain_file():
    table = parse_csv((FIXTURES / "users.csv").read_bytes())
    assert table.columns == ("user", "token") and len(table) == 3
    assert rows(table) == [("ann", "t-1"), ("bob", "t-2"), ("chloé", "t-3")]
    assert table.field(2, 0) == "chloé" and table.field(0, 1) == "t-1"
    with pytest.raises(IndexError):
        table.field(3, 0)


def test_quoted_file_with_bom_crlf_commas_quotes_and_line_breaks():
    table = parse_csv((FIXTURES / "quoted.csv").read_bytes())
    assert table.columns == ("id", "comment", "city")
    assert rows(table) == [("1", 'Hello, "world"', "Paris"), ("2", "two\r\nlines", "Köln"),
                           ("3", "", "Rio")]
    assert table.first_line_break(1) == 1 and table.first_line_break(2) is None


def test_str_and_bytes_give_the_same_table_and_line_ends_do_not_matter():
    text = "a,b\r\n1,2\r\n3,\r\n\r\n\n"               # trailing blank lines are no rows
    assert rows(parse_csv(text)) == rows(parse_csv(text.encode())) == [("1", "2"), ("3", "")]
    assert rows(parse_csv("a\n1\n\n2")) == [("1",), ("",), ("2",)]   # one column: "" is a value
    assert parse_csv(" id , name \n1,x\n").columns == ("id", "name")


def test_table_pickles_for_the_workers():
    table = parse_csv((FIXTURES / "quoted.csv").read_bytes())
    again = pickle.loads(pickle.dumps(table))
    assert again.columns == table.columns and rows(again) == rows(table)


@pytest.mark.parametrize("data, line, column, words", [
    (b"", None, None, "the file is empty"),
    (b"\n\n", None, None, "the file is empty"),
    (b"user,token\n", None, None, "a header row but no data rows"),
    (b"user,token\r\n\r\n", None, None, "a header row but no data rows"),
    (b"a,b\n1,2\n3\n4,5\n", 3, None, "1 field, the header has 2"),
    (b"a,b\n1,2\n3,4,5\n", 3, None, "3 fields, the header has 2"),
    (b"a,b\n1,2\n\n3,4\n", 3, None, "the line is empty (the header has 2 fields)"),
    (b'a,b\n"1",2\n\n3,4\n', 3, None, "the line is empty (the header has 2 fields)"),
    (b'a,b\n1,"2\n3"\n5,6,7\n', 4, None, "3 fields, the header has 2"),
    (b'a,b\n1,"2\n3,4\n', 2, None, "a quoted field is never closed"),
    (b'a,b\n1,"2"x\n', 2, None, "goes on after its closing quote"),
    (b"user,2nd\n1,2\n", 1, 2, "column name '2nd' cannot be a placeholder"),
    (b"user,first name\n1,2\n", 1, 2, "column name 'first name' cannot be a placeholder"),
    (b"user,,x\n1,2,3\n", 1, 2, "a column has no name"),
    (b"user,user\n1,2\n", 1, 2, "column name 'user' appears twice"),
    (b"id,uuid\n1,2\n", 1, 2, "'uuid' is a built-in placeholder"),
    (b"a,b\n1,2\n3,\x00\n", 3, 3, "a NUL byte"),
    (b"a,b\n1,2\n3,caf\xe9\n", 3, 6, "not UTF-8 text"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", 3, 1, "binary data"),
])
def test_errors_name_the_line_and_column(data, line, column, words):
    error = refused(data)
    assert (error.line, error.column) == (line, column)
    assert words in str(error)
    if line is not None:
        assert str(error).startswith(f"data line {line}")


def test_invalid_utf8_far_into_a_large_file_is_located():
    data = b"a,b\n" + b"x,y\n" * 600_000 + b"1,\xc3\n"      # past the first 1 MiB chunk
    error = refused(data)
    assert (error.line, error.column) == (600_002, 3)


def test_utf8_split_across_check_chunks_is_text():
    chunk = 2**20                                # check_text decodes a MiB at a time
    for at in range(chunk - 4, chunk + 1):
        table = parse_csv(b"a\n" + b"x" * (at - 2) + "é€😀".encode() + b"\n")
        assert table.field(0, 0).endswith("é€😀")
    error = refused(b"a\n" + b"x" * (chunk - 3) + b"\xe2\x82\n")
    assert (error.line, error.column) == (2, chunk - 2)


def test_row_limit_is_real():
    assert len(parse_csv(b"n\n" + b"1\n" * MAX_DATA_ROWS)) == MAX_DATA_ROWS
    error = refused(b"n\n" + b"1\n" * (MAX_DATA_ROWS + 1))
    assert "1,000,001 rows, above the limit of 1,000,000" in str(error)
    error = refused(b'n\n"1"\n' + b"1\n" * MAX_DATA_ROWS)           # the quoted path too
    assert "above the limit of 1,000,000" in str(error)


def test_size_limit_is_checked_before_reading(tmp_path):
    # a sparse file one byte over the limit, mapped: its pages are never read (or paid for)
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.truncate(MAX_DATA_BYTES + 1)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        with memoryview(mapped) as view:
            error = refused(view)
    assert "above the limit of 100 MiB" in str(error)
    check_data_size(MAX_DATA_BYTES)
    with pytest.raises(WorkloadError, match="100.0 MiB, above the limit"):
        check_data_size(MAX_DATA_BYTES + 1)


def _parse_traced(data):
    """parse_csv(data), with the memory it kept (grown) and its peak, as tracemalloc saw."""
    tracemalloc.start()
    try:
        table = parse_csv(data)
        grown, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return table, grown, peak


def test_a_million_rows_cost_about_the_file_size():
    n = 1_000_000
    data = b"user,token,city\n" + b"".join(
        b"user%07d,%012x,city%03d\n" % (r, r * 2654435761 % 2**48, r % 997) for r in range(n))
    assert 25 * 2**20 < len(data) < 40 * 2**20
    table, grown, peak = _parse_traced(data)
    # held: the file's bytes once (shared with the caller) plus 4 bytes a field
    assert len(table) == n and grown <= 0.5 * len(data) and peak <= len(data)
    assert table.row(n - 1) == ("user0999999", f"{(n - 1) * 2654435761 % 2**48:012x}",
                                f"city{(n - 1) % 997:03d}")
    del table
    text = data.decode()                  # from str, the encoded copy is the table's own
    table, grown, peak = _parse_traced(text)
    assert len(table) == n and grown <= 2 * len(data) and peak <= 2 * len(data)


def test_quoted_rows_are_packed_as_compactly():
    n = 100_000
    data = b"id,comment\n" + b"".join(b'%d,"say ""hi"", %d"\n' % (r, r) for r in range(n))
    table, grown, peak = _parse_traced(data)
    assert table.row(n - 1) == (str(n - 1), f'say "hi", {n - 1}')
    assert grown <= 1.5 * len(data) and peak <= 2 * len(data)


def test_to_csv_re_emits_an_equivalent_file():
    for name in ("users.csv", "quoted.csv"):
        table = parse_csv((FIXTURES / name).read_bytes())
        again = parse_csv(table.to_csv())
        assert again.columns == table.columns and rows(again) == rows(table)
    lone_cr = parse_csv(b"a,b\n1,x\r\r\n2,\ry\n")          # CRs that are no line end
    assert rows(lone_cr) == [("1", "x\r"), ("2", "\ry")]
    assert rows(parse_csv(lone_cr.to_csv())) == rows(lone_cr)


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in ("i", "uuid", "rand"))
_TRICKY = st.text(st.sampled_from(list('ab ,"\n\r\té😀')), max_size=6)
_ANY = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=8)


@st.composite
def tables(draw):
    columns = draw(st.lists(_NAMES, min_size=1, max_size=4, unique=True))
    body = draw(st.lists(st.tuples(*[st.one_of(_TRICKY, _ANY) for _ in columns]),
                         min_size=1, max_size=12))
    return columns, body


def _write(columns, body, quote_all: bool, line_end: str) -> str:
    """RFC 4180 as another program would write it (not the code under test)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end,
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in body:
        # a lone CR must be quoted with LF line ends, which QUOTE_MINIMAL does not do
        if any("\r" in field for field in row) and not quote_all:
            out.write(",".join('"' + f.replace('"', '""') + '"' for f in row) + line_end)
        else:
            writer.writerow(row)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(tables(), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_csv_round_trip(table_data, quote_all, line_end):
    columns, body = table_data
    table = parse_csv(_write(columns, body, quote_all, line_end).encode())
    assert table.columns == tuple(columns) and rows(table) == [tuple(r) for r in body]
    again = parse_csv(table.to_csv())
    assert again.columns == table.columns and rows(again) == rows(table)


def test_sequence_row_order():
    assert [row_index(i, 3, DataOrder.SEQUENCE, 1) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_random_row_order_is_seeded_pure_and_even():
    order = [row_index(i, 10, DataOrder.RANDOM, 7) for i in range(20_000)]
    assert order == [row_index(i, 10, DataOrder.RANDOM, 7) for i in range(20_000)]
    assert order[:50] != [row_index(i, 10, DataOrder.RANDOM, 8) for i in range(50)]
    # any worker computes request i's row alone, in any order
    assert [row_index(i, 10, DataOrder.RANDOM, 7) for i in reversed(range(20_000))] \
        == order[::-1]
    counts = Counter(order)
    assert set(counts) == set(range(10))
    assert all(abs(c - 2_000) < 200 for c in counts.values())     # ~4.5 sigma
    assert order[:30] != sorted(order[:30])
