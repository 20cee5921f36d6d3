"""WorkloadError: bad targets, data or placeholders, located for the person who wrote them."""
from __future__ import annotations

import codecs


class WorkloadError(ValueError):
    """A refused targets file, data file or template, with where it went wrong.

    `source` is "targets" or "data"; `line` and `column` are 1-based. Errors found in
    parsed JSON (the API's target list, a HAR entry) have no line of their own and name
    the item instead through `field`, e.g. "targets[3].url": then str(exc) starts with
    that path. `message` is the bare reason, for callers that show it next to an input.
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 source: str = "", field: str = ""):
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        self.field = field
        super().__init__(f"{self.where}: {message}" if self.where else message)

    @property
    def where(self) -> str:
        """"targets line 4", "data line 7, column 3", "targets[3].url" or ""."""
        if self.field:
            return self.field
        where = self.source
        if self.line is not None:
            where = f"{where} line {self.line}".lstrip()
            if self.column is not None:
                where += f", column {self.column}"
        return where

    def located(self, *, line: int | None = None, column: int | None = None,
                source: str | None = None, field: str | None = None,
                prefix: str = "") -> WorkloadError:
        """A copy placed elsewhere (a parser adding the line a check had no way to know)."""
        return WorkloadError(prefix + self.message,
                             line=self.line if line is None else line,
                             column=self.column if column is None else column,
                             source=self.source if source is None else source,
                             field=self.field if field is None else field)


def locate(data: bytes, pos: int) -> tuple[int, int]:
    """1-based (line, column) of byte `pos` (the column counts bytes)."""
    line_start = data.rfind(b"\n", 0, pos) + 1
    return data.count(b"\n", 0, pos) + 1, pos - line_start + 1


_CHECK_CHUNK = 1 << 20


def check_text(data: bytes, source: str) -> None:
    """Refuse what is not UTF-8 text (NUL bytes, undecodable bytes), naming where.

    Decodes 1 MiB at a time and keeps nothing, so checking a 100 MB file costs no
    more than a chunk of memory; pure ASCII (the common case) is one C call.
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = locate(data, nul)
        raise WorkloadError("a NUL byte: this is binary data, not a text file",
                            line=line, column=column, source=source)
    if data.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), _CHECK_CHUNK):
        try:
            decoder.decode(data[start:start + _CHECK_CHUNK], final=start + _CHECK_CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            # the decoder keeps an unfinished sequence from the previous chunk: it starts
            # before this chunk when the error is at its very beginning
            pos = max(0, start + exc.start - len(decoder.getstate()[0]))
            line, column = locate(data, pos)
            raise WorkloadError("bytes that are not UTF-8 text (save the file as UTF-8)",
                                line=line, column=column, source=source) from None


def decode_text(data: str | bytes, source: str) -> str:
    """The text of a file given as str or bytes, after check_text; a BOM is dropped."""
    if isinstance(data, str):
        text = data
        nul = text.find("\x00")
        if nul >= 0:
            line = text.count("\n", 0, nul) + 1
            raise WorkloadError("a NUL byte: this is binary data, not a text file", line=line,
                                column=nul - text.rfind("\n", 0, nul), source=source)
    else:
        check_text(data, source)
        text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text
