"""CSV data rows for placeholders, kept compact, and which row a request uses (pure).

A run may send up to a million rows from every worker, so a table is the file's bytes
held once plus one int32 offset per field (numpy), and a field is sliced and decoded
only when a request needs it: memory is the file's size plus 4 bytes a field, where a
list of tuples of str would be about ten times the file.

Field k (row-major, 0-based) is `buffer[ends[k] + 1 : ends[k + 1]]`. For a file without
quotes the buffer is the file itself (CRLF turned into LF) and ends are its separators,
found with numpy a chunk at a time; a file with quotes goes through the csv module once
and its unquoted fields are written one after the other, each followed by a spare byte,
so the same formula holds.

Which row request i uses is a pure function of (i, seed), never a stateful generator,
so any worker computes it alone and two runs with one seed send the same rows.
"""
from __future__ import annotations

import csv
import io
import re
from array import array
from collections.abc import Callable
from enum import Enum

import numpy as np

from app.workload.errors import WorkloadError, check_text

# At least the million rows / 100 MB; a worker holds the whole table, so these
# bound its memory (about 1x the file plus 4 bytes per field) and its start-up parse.
MAX_DATA_ROWS = 1_000_000
MAX_DATA_BYTES = 100 * 2**20
COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# placeholders that are not columns: a column of these names could never be used
RESERVED_NAMES = frozenset({"i", "uuid", "rand"})
_SOURCE = "data"
_SCAN_CHUNK = 1 << 22            # bytes per numpy pass: bounds the scan's temporaries
_COMMA, _NEWLINE, _CR = 44, 10, 13
_SEPARATOR = 0                   # after each field of a quoted file's buffer: never in a field
_BOM = b"\xef\xbb\xbf"
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


class DataOrder(str, Enum):
    SEQUENCE = "sequence"        # request i uses row i mod rows
    RANDOM = "random"            # request i uses a seeded pseudo-random row


# --- seeded choice: SplitMix64, output i of the generator seeded with a stream key ---

_M64 = 2**64 - 1
_GOLDEN = 0x9E3779B97F4A7C15
_STREAM_STEP = 0xD1B54A32D192ED03
ROW_STREAM = 1                   # streams keep the row, target and placeholder draws apart
TARGET_STREAM = 2
PLACEHOLDER_STREAM = 16          # + the placeholder's position in its target


def mix64(x: int) -> int:
    """SplitMix64's finaliser: a 64-bit integer whose every bit depends on every bit of x."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _M64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _M64
    return x ^ (x >> 31)


def stream_key(seed: int, stream: int) -> int:
    """The key of one stream of draws of a run (computed once, not per request)."""
    return mix64((mix64(seed & _M64) + stream * _STREAM_STEP) & _M64)


def keyed_hash(key: int, i: int) -> int:
    """Draw i of a stream: SplitMix64's i-th output from state `key`, in O(1)."""
    return mix64((key + i * _GOLDEN) & _M64)


def row_index(i: int, rows: int, order: DataOrder, seed: int) -> int:
    """The 0-based row request i uses: the same in every worker and every run."""
    if order is DataOrder.SEQUENCE:
        return i % rows
    return keyed_hash(stream_key(seed, ROW_STREAM), i) % rows


def row_picker(rows: int, order: DataOrder, seed: int) -> Callable[[int], int]:
    """row_index with the stream key computed once (for the hot path)."""
    if order is DataOrder.SEQUENCE:
        return lambda i: i % rows
    key = stream_key(seed, ROW_STREAM)
    return lambda i: mix64((key + i * _GOLDEN) & _M64) % rows


class DataTable:
    """Rows of named text fields, immutable after parse_csv; compact (see the module doc)."""

    __slots__ = ("columns", "_buffer", "_ends", "_offsets", "_rows", "_plain", "_breaks")

    def __init__(self, columns: tuple[str, ...], buffer: bytes | bytearray, ends: np.ndarray,
                 *, plain: bool, breaks: dict[int, int]):
        self.columns = columns
        self._buffer = buffer
        self._ends = ends
        # a memoryview indexes to Python ints several times faster than the ndarray
        self._offsets = memoryview(ends)
        self._rows = (len(ends) - 1) // len(columns)
        self._plain = plain              # buffer after the header is the CSV itself
        self._breaks = breaks            # column -> first row with CR or LF in that column

    def __len__(self) -> int:
        return self._rows

    def __repr__(self) -> str:
        return f"DataTable(columns={self.columns!r}, rows={self._rows})"

    def __reduce__(self):
        return (_rebuild, (self.columns, bytes(self._buffer), self._ends, self._plain,
                           self._breaks))

    @property
    def nbytes(self) -> int:
        """Memory held by the table's data (buffer and offsets)."""
        return len(self._buffer) + self._ends.nbytes

    def field(self, r: int, c: int) -> str:
        if not (0 <= r < self._rows and 0 <= c < len(self.columns)):
            raise IndexError(f"no field ({r}, {c}) in {self._rows} rows x {len(self.columns)}")
        k = r * len(self.columns) + c
        return self._buffer[self._offsets[k] + 1:self._offsets[k + 1]].decode()

    def row(self, r: int) -> tuple[str, ...]:
        return tuple(self.field(r, c) for c in range(len(self.columns)))

    def reader(self, c: int) -> Callable[[int], str]:
        """A function of the row giving column c's field, for the hot path (no checks)."""
        buffer, offsets, width = self._buffer, self._offsets, len(self.columns)

        def read(r: int) -> str:
            k = r * width + c
            return buffer[offsets[k] + 1:offsets[k + 1]].decode()
        return read

    def layout(self) -> tuple[bytes | bytearray, memoryview, int]:
        """(buffer, ends, width) for generated code that slices fields as bytes in place:
        field c of row r is buffer[ends[k] + 1:ends[k + 1]] with k = r * width + c."""
        return self._buffer, self._offsets, len(self.columns)

    def only_bytes_in(self, allowed: bytes) -> bool:
        """Whether every field holds only these bytes (e.g. no value needs URL quoting);
        one numpy pass over the buffer, a chunk at a time."""
        outside = np.ones(256, dtype=bool)
        outside[np.frombuffer(allowed, dtype=np.uint8)] = False
        outside[_NEWLINE if self._plain else _SEPARATOR] = False   # between fields only
        view = np.frombuffer(self._buffer, dtype=np.uint8)
        start, end = self._offsets[0] + 1, self._offsets[len(self._offsets) - 1]
        return not any(outside[view[lo:min(lo + _SCAN_CHUNK, end)]].any()
                       for lo in range(start, end, _SCAN_CHUNK))

    def first_line_break(self, c: int) -> int | None:
        """The first row whose field in column c holds CR or LF (unfit for a header)."""
        return self._breaks.get(c)

    def to_csv(self) -> str:
        """An equivalent CSV (LF line ends) that parse_csv reads back to the same table."""
        header = ",".join(self.columns) + "\n"
        if self._plain and not self._breaks:     # the file itself, CRs aside, is that CSV
            start, end = self._offsets[0] + 1, self._offsets[len(self._offsets) - 1]
            return header + self._buffer[start:end].decode() + "\n"
        return header + "".join(_csv_line(self.row(r)) for r in range(self._rows))


def _csv_line(fields: tuple[str, ...]) -> str:
    # the csv module leaves a lone CR unquoted with LF line ends: it would not come back
    if fields == ("",):
        return '""\n'
    return ",".join(f'"{f.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(f) else f
                    for f in fields) + "\n"


def _rebuild(columns, buffer, ends, plain, breaks) -> DataTable:
    return DataTable(columns, buffer, ends, plain=plain, breaks=breaks)


def check_data_size(size: int) -> None:
    """Refuse a data file of `size` bytes above the limit (also for callers that know the
    size before reading: an upload's Content-Length, a file's stat)."""
    if size > MAX_DATA_BYTES:
        raise WorkloadError(
            f"the file is {size / 2**20:.1f} MiB, above the limit of "
            f"{MAX_DATA_BYTES // 2**20} MiB (every worker holds the whole table): use fewer "
            f"rows or columns", source=_SOURCE)


def parse_csv(text: str | bytes | bytearray | memoryview) -> DataTable:
    """A DataTable from CSV text (RFC 4180), or a WorkloadError naming the line.

    A header row of unique names usable as placeholders, then at least one row, each with
    the header's number of fields. Bytes are kept as they are (no copy when there are no
    quotes and no CRs), so pass bytes rather than str when memory matters.
    """
    if isinstance(text, str):
        check_data_size(len(text))          # a char is at least a byte: refuse early
        try:
            data = text.encode()
        except UnicodeEncodeError as exc:
            line = text.count("\n", 0, exc.start) + 1
            raise WorkloadError("text that cannot be UTF-8 encoded", line=line,
                                column=exc.start - text.rfind("\n", 0, exc.start),
                                source=_SOURCE) from None
        check_data_size(len(data))          # non-ASCII text is longer in bytes
    else:
        check_data_size(len(text))          # before reading a byte of it
        data = text if isinstance(text, bytes) else bytes(text)
    check_text(data, _SOURCE)
    if b'"' in data:
        return _parse_quoted(data)
    return _parse_plain(data)


def _columns(names: list[str]) -> tuple[str, ...]:
    columns = tuple(name.strip() for name in names)
    seen: set[str] = set()
    for n, name in enumerate(columns, 1):
        if not name:
            raise WorkloadError("a column has no name in the header row", line=1, column=n,
                                source=_SOURCE)
        if not COLUMN_NAME.fullmatch(name):
            raise WorkloadError(
                f"column name {name!r} cannot be a placeholder: use letters, digits and _, "
                f"not starting with a digit", line=1, column=n, source=_SOURCE)
        if name in RESERVED_NAMES:
            raise WorkloadError(
                f"column name {name!r} is a built-in placeholder ({{{name}}}): rename the "
                f"column", line=1, column=n, source=_SOURCE)
        if name in seen:
            raise WorkloadError(f"column name {name!r} appears twice", line=1, column=n,
                                source=_SOURCE)
        seen.add(name)
    return columns


def _too_many_rows(rows: int) -> WorkloadError:
    return WorkloadError(f"{rows:,} rows, above the limit of {MAX_DATA_ROWS:,} (every worker "
                         f"holds the whole table): use fewer rows", source=_SOURCE)


def _parse_plain(data: bytes) -> DataTable:
    """A file without quotes: the bytes are the table, numpy finds the separators."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    start = len(_BOM) if data.startswith(_BOM) else 0
    end = len(data)
    while end > start and data[end - 1] == _NEWLINE:   # trailing blank lines are no rows
        end -= 1
    if end == start:
        raise WorkloadError("the file is empty: give a header row and at least one row",
                            source=_SOURCE)
    header_end = data.find(b"\n", start, end)
    if header_end < 0:
        raise WorkloadError("the file has a header row but no data rows", source=_SOURCE)
    columns = _columns(data[start:header_end].decode().split(","))
    width = len(columns)
    rows = data.count(b"\n", header_end + 1, end) + 1
    if rows > MAX_DATA_ROWS:
        raise _too_many_rows(rows)
    ends = np.empty(data.count(b",", header_end + 1, end) + rows + 1, dtype=np.int32)
    ends[0] = header_end
    ends[-1] = end
    view = np.frombuffer(data, dtype=np.uint8)
    filled = 1
    for lo in range(header_end + 1, end, _SCAN_CHUNK):
        chunk = view[lo:min(lo + _SCAN_CHUNK, end)]
        found = np.flatnonzero((chunk == _COMMA) | (chunk == _NEWLINE))
        ends[filled:filled + len(found)] = found + lo
        filled += len(found)
    # with as many separators as fields, the rows are right if each ends on a newline
    if len(ends) - 1 != rows * width or not np.all(view[ends[width:-1:width]] == _NEWLINE):
        _raise_field_count(view, ends, width)
    breaks: dict[int, int] = {}
    if b"\r" in data:                      # a CR not before LF stays in its field
        found = np.flatnonzero(view[header_end + 1:end] == _CR) + header_end + 1
        for k in np.searchsorted(ends, found) - 1:
            breaks.setdefault(int(k) % width, int(k) // width)
    return DataTable(columns, data, ends, plain=True, breaks=breaks)


def _raise_field_count(view: np.ndarray, ends: np.ndarray, width: int) -> None:
    """Name the first line whose field count differs from the header's (error path)."""
    is_newline = np.append(view[ends[1:-1]] == _NEWLINE, True)
    row_ends = np.flatnonzero(is_newline)
    counts = np.diff(row_ends, prepend=-1)
    r = int(np.flatnonzero(counts != width)[0])
    line = r + 2
    if counts[r] == 1 and ends[row_ends[r] + 1] == ends[row_ends[r]] + 1:
        raise WorkloadError(f"the line is empty (the header has {width} fields)", line=line,
                            source=_SOURCE)
    raise WorkloadError(f"{_fields(int(counts[r]))}, the header has {width}", line=line,
                        source=_SOURCE)


def _fields(n: int) -> str:
    return "1 field" if n == 1 else f"{n} fields"


def _parse_quoted(data: bytes) -> DataTable:
    """A file with quotes: the csv module unquotes, fields are packed into one buffer."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream, strict=True)
    buffer, ends = bytearray(), array("i", [-1])
    breaks: dict[int, int] = {}
    header: list[str] | None = None
    rows = pending_empty = 0
    line = 1
    try:
        for record in reader:
            if header is None:
                header = record
                columns = _columns(header) if record else ()
                if not record:
                    raise WorkloadError("the header row is empty", line=line, source=_SOURCE)
                width = len(columns)
                line = reader.line_num + 1
                continue
            if not record:                 # a blank line: a row only if more rows follow
                pending_empty += 1
                line = reader.line_num + 1
                continue
            if pending_empty:
                if width != 1:
                    raise WorkloadError(f"the line is empty (the header has {width} fields)",
                                        line=line - pending_empty, source=_SOURCE)
                for _ in range(pending_empty):
                    ends.append(len(buffer))
                    buffer.append(_SEPARATOR)
                rows += pending_empty
                pending_empty = 0
            if len(record) != width:
                raise WorkloadError(f"{_fields(len(record))}, the header has {width}",
                                    line=line, source=_SOURCE)
            rows += 1
            if rows > MAX_DATA_ROWS:
                raise _too_many_rows(rows)
            for c, value in enumerate(record):
                buffer += value.encode()
                ends.append(len(buffer))
                buffer.append(_SEPARATOR)
                if ("\n" in value or "\r" in value) and c not in breaks:
                    breaks[c] = rows - 1
            line = reader.line_num + 1
    except csv.Error as exc:
        raise WorkloadError(_csv_problem(str(exc)), line=line, source=_SOURCE) from None
    if header is None:
        raise WorkloadError("the file is empty: give a header row and at least one row",
                            source=_SOURCE)
    if rows == 0:
        raise WorkloadError("the file has a header row but no data rows", source=_SOURCE)
    return DataTable(columns, buffer, np.frombuffer(ends, dtype=np.int32), plain=False,
                     breaks=breaks)


def _csv_problem(message: str) -> str:
    """The csv module's words, said for a person editing the file."""
    if "unexpected end of data" in message or "EOF" in message:
        return "a quoted field is never closed (a \" without its closing \")"
    if "expected after" in message:
        return ("a quoted field goes on after its closing quote: inside quotes write a "
                "quote as \"\"")
    if "field larger than field limit" in message:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not valid CSV ({message})"

