"""XLSX input (optional extra ``xlsx``): openpyxl in read-only mode, rows streamed, cell values typed."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from xmlsync.errors import InputError, Issue
from xmlsync.profiles import Profile
from xmlsync.readers.base import Row, Table, header_and_rows

# Bounds that keep memory flat whatever a small file inflates to (see _check_inflation).
MAX_SHARED_STRINGS = 64 * 1024 * 1024  # openpyxl holds the shared strings in memory, several times their size
MAX_CELL_BYTES = 256 * 1024  # Excel holds at most 32,767 characters in a cell
_CHUNK = 1024 * 1024
# A cell or row outside Excel's sheet: past column XFD (four letters) or past row 1,048,576 (from 2,000,000 on).
_OUTSIDE = re.compile(rb'\b(?:r|ref)="(?:[A-Z]{1,3}[0-9]+:)?(?:[A-Z]{4,}|[A-Z]{0,3}(?:[2-9][0-9]{6}|[1-9][0-9]{7,})\b)')


def _check_inflation(stream: IO[bytes], name: str) -> None:
    """Refuse a workbook whose sheets would take unbounded memory, before openpyxl reads it.

    A 300 KB file can inflate to a 300 MB cell or shared string, or name a cell millions of columns to the
    right (openpyxl then builds rows that wide). Each sheet and the shared strings are read once, in chunks.

    Raises:
        InputError: ``xlsx-too-large`` with what was found.
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        stream.seek(0)
        return  # not a zip: openpyxl says so in its words
    with archive:
        for info in archive.infolist():
            member = info.filename
            if member == "xl/sharedStrings.xml" and info.file_size > MAX_SHARED_STRINGS:
                _too_large(name, f"its shared strings take {info.file_size:,} bytes unpacked, more than"
                           f" {MAX_SHARED_STRINGS:,}; save the sheet as CSV")  # fmt: skip
            if member == "xl/sharedStrings.xml" or member.startswith("xl/worksheets/"):
                with archive.open(info) as part:
                    _scan_part(part, name, member)
    stream.seek(0)


def _scan_part(part: IO[bytes], name: str, member: str) -> None:
    tail = b""
    while chunk := part.read(_CHUNK):
        data = tail + chunk
        cut = data.rfind(b"<")
        body, tail = (data[:cut], data[cut:]) if cut >= 0 else (b"", data)
        if len(tail) > MAX_CELL_BYTES or (body and max(map(len, body.split(b"<"))) > MAX_CELL_BYTES):
            _too_large(name, f"{member} holds a text of more than {MAX_CELL_BYTES:,} bytes, where Excel keeps at"
                       " most 32,767 characters in a cell")  # fmt: skip
        if _OUTSIDE.search(data):
            _too_large(name, f"{member} names a cell outside the sheet Excel has (past column XFD or row 1,048,576)")
        if b"<!DOCTYPE" in data:
            _too_large(name, f"{member} declares a DOCTYPE, which no workbook Excel writes does")


def _too_large(name: str, reason: str) -> None:
    raise InputError([Issue("xlsx-too-large", f"not a workbook xmlsync reads: {reason}", source=name)])


def read_xlsx(stream: IO[bytes], name: str, profile: Profile) -> Table:
    """Open a workbook as a :class:`Table`: the first row is the header, row sources are ``name:row``.

    Raises:
        InputError: If openpyxl is missing, the file is not a workbook, or the sheet does not exist.
    """
    try:
        import openpyxl
    except ImportError:
        stream.close()
        raise InputError(
            [Issue("missing-extra", "reading XLSX needs openpyxl: pip install 'xmlsync[xlsx]'", source=name)]
        ) from None
    try:
        _check_inflation(stream, name)
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except InputError:
        stream.close()
        raise
    except Exception as exc:  # openpyxl raises many kinds (zipfile, KeyError, ValueError) for a bad file
        stream.close()
        raise InputError([Issue("invalid-xlsx", f"not a readable XLSX workbook: {exc}", source=name)]) from None

    def close() -> None:
        book.close()
        stream.close()

    if profile.sheet is not None and profile.sheet not in book.sheetnames:
        close()
        sheets = ", ".join(book.sheetnames)
        raise InputError([Issue("missing-sheet", f"no sheet {profile.sheet!r}; the sheets are {sheets}", source=name)])
    sheet = book[profile.sheet] if profile.sheet else book.worksheets[0]
    try:
        _, cells, rows = header_and_rows(enumerate(_values(sheet), start=1), profile, name, "sheet")
    except InputError:
        close()
        raise
    header = tuple("" if cell is None else str(cell).strip() for cell in cells)
    return Table(header, _rows(rows, header, name), close)


# Excel number format codes of a time of day: hours and seconds (an "m" alone may be a month).
_TIME_CODES = re.compile(r"[hHsS]|AM/PM")
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _values(sheet: Any) -> Iterator[tuple[Any, ...]]:
    """Yield each row's values as Excel shows them: a percent cell as ``27%``, a date cell without a time as a date."""
    for row in sheet.iter_rows():
        yield tuple(_shown(cell) for cell in row)


def _shown(cell: Any) -> Any:
    value = cell.value
    if value is None or isinstance(value, str | bool):
        return value
    fmt = getattr(cell, "number_format", None) or "General"
    if isinstance(value, int | float) and "%" in _QUOTED.sub("", fmt):
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return f"{format(exact.scaleb(2).normalize(), 'f')}%"  # 0.27 shown as 27%: a rate, not a fraction
    if isinstance(value, datetime) and getattr(cell, "is_date", False) and not _TIME_CODES.search(_QUOTED.sub("", fmt)):
        return value.date()  # a date cell shows no time: none is invented
    return value


def _rows(rows: Iterator[tuple[int, Sequence[Any]]], header: tuple[str, ...], name: str) -> Iterator[Row]:
    for number, cells in rows:
        short = len(header) - len(cells)
        yield Row((*cells, *(None,) * short) if short > 0 else cells, f"{name}:{number}", (), header)
