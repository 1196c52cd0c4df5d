"""CSV input: rows read lazily in the profile's encoding, delimiter and quote character."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO

from xmlsync.errors import InputError, Issue
from xmlsync.profiles import Profile
from xmlsync.readers.base import STDIN_NAME, Numbered, Row, Table, header_and_rows


def _encoding_issue(name: str, line: int, exc: UnicodeDecodeError, encoding: str) -> Issue:
    shown = "UTF-8" if encoding.startswith("utf-8") else encoding
    hint = (
        'set [input] encoding = "cp1250" (or iso-8859-2) in the profile, or give mapping init --encoding cp1250'
        if shown == "UTF-8"
        else "check the encoding"
    )
    return Issue(
        "encoding",
        f"byte 0x{exc.object[exc.start]:02X} is not valid {shown}; {hint}",
        source=f"{name}:{line}",
    )


def read_csv(stream: IO[bytes], name: str, profile: Profile) -> Table:
    """Open a CSV stream as a :class:`Table` (row sources ``name:line``); the table closes the stream.

    Raises:
        InputError: If the header cannot be read (empty file, duplicate columns, wrong encoding).
    """
    text = io.TextIOWrapper(stream, encoding=profile.encoding, newline="")

    def close() -> None:
        if name == STDIN_NAME:
            text.detach()
        else:
            text.close()

    reader = csv.reader(text, delimiter=profile.delimiter, quotechar=profile.quotechar, strict=True)
    try:
        number, cells, rows = header_and_rows(_lines(reader, name, profile.encoding), profile, name)
        header = tuple(str(column).strip() for column in cells)
        duplicates = sorted({c for c in header if c and header.count(c) > 1})
        if duplicates:
            message = f"the header repeats {', '.join(duplicates)}; rename the columns"
            raise InputError([Issue("duplicate-column", message, source=f"{name}:{number}")])
    except InputError:
        close()
        raise
    return Table(header, _read(rows, header, name), close)


def _lines(reader: Iterator[list[str]], name: str, encoding: str) -> Numbered:
    """Yield ``(line, values)`` of each CSV row; a row that cannot be read is one error naming its line."""
    line = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise InputError([_encoding_issue(name, line + 1, exc, encoding)]) from None
        except csv.Error as exc:
            raise InputError([Issue("invalid-csv", f"not valid CSV: {exc}", source=f"{name}:{line + 1}")]) from None
        line = reader.line_num  # type: ignore[attr-defined]
        yield line, values


def _read(rows: Numbered, header: tuple[str, ...], name: str) -> Iterator[Row]:
    for line, values in rows:
        if len(values) != len(header):
            issue = Issue(
                "row-length",
                f"the row has {len(values)} values but the header has {len(header)} columns;"
                " check the delimiter and quotes",
                source=f"{name}:{line}",
            )
            yield Row((), f"{name}:{line}", (issue,))
            continue
        yield Row(values, f"{name}:{line}", (), header)
