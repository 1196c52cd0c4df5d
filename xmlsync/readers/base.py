"""What every reader shares: the record type and opening a path or ``-`` (stdin)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from xmlsync.errors import InputError, Issue

STDIN_NAME = "<stdin>"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One project record as read, before mapping.

    Args:
        data: The record, keyed like the XML tree (``None`` if it could not be read).
        source: Where it came from, e.g. ``offers.json:[3]``, ``offers.jsonl:4`` or ``erp.csv:2-5``.
        issues: Problems found while reading it; a record with issues is not built.
        rows: How many input rows it was made of.
    """

    data: Any
    source: str
    issues: tuple[Issue, ...] = ()
    rows: int = 1


@dataclass(frozen=True, slots=True)
class Row:
    """One flat input row: column -> raw value (text from CSV, typed values from XLSX and SQL).

    Args:
        values: The row's values by column.
        source: Where it is, e.g. ``erp.csv:12`` or ``offers:3`` (table and row number).
        issues: Problems that make the row unusable (e.g. a wrong number of values).
    """

    values: Mapping[str, Any]
    source: str
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class Table:
    """A flat input opened for reading: its columns, its rows (lazy) and how to release it.

    The caller calls ``close()`` when done, also when it stops early or reads no row at all.
    """

    header: tuple[str, ...]
    rows: Iterator[Row]
    close: Callable[[], None]


def open_input(path: str | Path) -> tuple[IO[bytes], str]:
    """Open ``path`` (or ``-`` for stdin) for binary reading; return the stream and its display name.

    Raises:
        InputError: ``unreadable-input`` if the file cannot be opened.
    """
    if str(path) == "-":
        return sys.stdin.buffer, STDIN_NAME
    try:
        return open(path, "rb"), str(path)
    except OSError as exc:
        raise InputError(
            [Issue("unreadable-input", f"cannot open the file: {exc.strerror}", source=str(path))]
        ) from None
