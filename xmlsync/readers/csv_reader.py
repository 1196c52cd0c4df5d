"""CSV input: rows read lazily in the profile's encoding, delimiter and quote character."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO

from xmlsync.errors import InputError, Issue
from xmlsync.profile import Profile
from xmlsync.readers.base import STDIN_NAME, Row, Table


def _encoding_issue(name: str, line: int, exc: UnicodeDecodeError, encoding: str) -> Issue:
    shown = "UTF-8" if encoding.startswith("utf-8") else encoding
    hint = (
        'set [input] encoding = "cp1250" (or iso-8859-2) in the profile' if shown == "UTF-8" else "check the encoding"
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
        header = tuple(column.strip() for column in next(reader))
        duplicates = sorted({c for c in header if header.count(c) > 1})
        if duplicates:
            message = f"the header repeats {', '.join(duplicates)}; rename the columns"
            raise InputError([Issue("duplicate-column", message, source=f"{name}:1")])
    except StopIteration:
        close()
        raise InputError([Issue("empty-input", "the file is empty; it needs a header row", source=name)]) from None
    except UnicodeDecodeError as exc:
        close()
        raise InputError([_encoding_issue(name, 1, exc, profile.encoding)]) from None
    except csv.Error as exc:
        close()
        raise InputError([Issue("invalid-csv", f"the header is not valid CSV: {exc}", source=f"{name}:1")]) from None
    except InputError:
        close()
        raise
    return Table(header, _read(reader, header, name, profile.encoding), close)


def _read(reader: Iterator[list[str]], header: tuple[str, ...], name: str, encoding: str) -> Iterator[Row]:
    line = 1
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
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            issue = Issue(
                "row-length",
                f"the row has {len(values)} values but the header has {len(header)} columns;"
                " check the delimiter and quotes",
                source=f"{name}:{line}",
            )
            yield Row({}, f"{name}:{line}", (issue,))
            continue
        yield Row(dict(zip(header, values, strict=True)), f"{name}:{line}")
