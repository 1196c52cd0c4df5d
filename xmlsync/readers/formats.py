"""The input formats, one entry each: an input format is one reader module plus one entry here.

A reader is named by ``module:function`` and imported when it is used, so that a format whose extra is not
installed (``xmlsync[xlsx]``, ``xmlsync[sql]``) costs nothing until an input of it is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Format:
    """One input format.

    Args:
        name: What ``--format`` and a profile's ``[input] format`` call it.
        reader: ``module:function`` of its reader: for a nested format ``(stream, name) -> records``, for a
            flat file ``(stream, name, profile) -> Table``, for a database ``(url, table=, query=) -> Table``.
        extensions: The file name endings that say it.
        shape: ``nested`` (records keyed like the tree), ``flat`` (a table of rows, read through a profile)
            or ``database`` (a table read by URL).
        metered: The file is read from start to end, so the share read can be told (a progress report).
    """

    name: str
    reader: str
    extensions: tuple[str, ...] = ()
    shape: Literal["nested", "flat", "database"] = "flat"
    metered: bool = False

    def load(self) -> Callable[..., Any]:
        """Return the reader function."""
        module, _, function = self.reader.partition(":")
        read: Callable[..., Any] = getattr(importlib.import_module(module), function)
        return read


FORMATS: dict[str, Format] = {
    entry.name: entry
    for entry in (
        Format("csv", "xmlsync.readers.csv_reader:read_csv", (".csv", ".txt", ".tsv"), metered=True),
        Format("xlsx", "xmlsync.readers.xlsx_reader:read_xlsx", (".xlsx",)),
        Format("sql", "xmlsync.readers.sql_reader:read_sql", (".sqlite", ".sqlite3", ".db"), shape="database"),
        Format("json", "xmlsync.readers.json_reader:read_json", (".json",), shape="nested"),
        Format("jsonl", "xmlsync.readers.jsonl_reader:read_jsonl", (".jsonl", ".ndjson"), "nested", metered=True),
    )
}
EXTENSIONS = {extension: entry.name for entry in FORMATS.values() for extension in entry.extensions}
