"""XLSX input (optional extra ``xlsx``): openpyxl in read-only mode, rows streamed, cell values typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from xmlsync.errors import InputError, Issue
from xmlsync.profile import Profile
from xmlsync.readers.base import Row, Table


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
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
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
    rows = sheet.iter_rows(values_only=True)
    first = next(rows, None)
    if first is None:
        close()
        raise InputError([Issue("empty-input", "the sheet is empty; it needs a header row", source=name)])
    header = tuple("" if cell is None else str(cell).strip() for cell in first)
    return Table(header, _rows(rows, header, name), close)


def _rows(rows: Iterator[tuple[Any, ...]], header: tuple[str, ...], name: str) -> Iterator[Row]:
    for number, cells in enumerate(rows, start=2):
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells):
            continue
        values = {column: cells[i] if i < len(cells) else None for i, column in enumerate(header) if column}
        yield Row(values, f"{name}:{number}")
