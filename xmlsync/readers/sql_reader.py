"""SQL input: SQLite with the standard library (the embedded default), any SQLAlchemy URL with the ``sql`` extra."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xmlsync.errors import InputError, Issue
from xmlsync.readers.base import Row, Table

_BATCH = 1000


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``, for messages (``postgresql://u:***@host/db``)."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def sqlite_path(url: str) -> str | None:
    """Return the file of an SQLite URL (``sqlite:///erp.db``) or path, else ``None``."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite://"):
        return None
    if "://" not in url and Path(url).suffix in (".sqlite", ".sqlite3", ".db"):
        return url
    return None


def _statement(table: str | None, query: str | None, quote: str = '"') -> str:
    if query:
        return query
    if not table:
        raise InputError([Issue("missing-query", 'give --query "SELECT ..." or --table NAME (or [input] query/table)')])
    return f"SELECT * FROM {quote}{table.replace(quote, quote * 2)}{quote}"


_REFUSED = "xmlsync only reads: give a SELECT query (ATTACH, PRAGMA and statements that write are refused)"
_NO_ROWS = "the statement returns no rows; give a SELECT query (or --table NAME)"
# What a SELECT needs; anything else (ATTACH, PRAGMA, writes) is refused: xmlsync only reads.
_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE})


def _read_only(action: int, *args: object) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def read_sql(url: str, *, table: str | None = None, query: str | None = None) -> Table:
    """Return the columns and a lazy iterator of rows of a query (or of a whole table).

    Row sources read ``<table or query>:<n>``, n counting from 1.

    Raises:
        InputError: If the database cannot be opened, the query fails, or SQLAlchemy is needed but missing.
    """
    label = table or "query"
    path = sqlite_path(url)
    if path is not None:
        if not Path(path).is_file():
            raise InputError([Issue("unreadable-input", "no such SQLite database file", source=path)])
        connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        connection.set_authorizer(_read_only)
        try:
            cursor = connection.execute(_statement(table, query))
            if cursor.description is None:
                raise InputError([Issue("sql-error", _NO_ROWS, source=path)])
        except (sqlite3.Error, InputError) as exc:
            connection.close()
            if isinstance(exc, InputError):
                raise
            reason = _REFUSED if str(exc) == "not authorized" else f"the query failed: {exc}"
            raise InputError([Issue("sql-error", reason, source=path)]) from None
        header = tuple(str(d[0]) for d in cursor.description)
        return Table(header, _rows(iter(lambda: cursor.fetchmany(_BATCH), []), header, label), connection.close)
    return _read_sqlalchemy(url, table, query, label)


def _read_sqlalchemy(url: str, table: str | None, query: str | None, label: str) -> Table:
    try:
        import sqlalchemy
    except ImportError:
        raise InputError(
            [Issue("missing-extra", "this database URL needs SQLAlchemy: pip install 'xmlsync[sql]'", source=label)]
        ) from None
    engine = None
    connection = None
    try:
        statement = _statement(table, query)
        engine = sqlalchemy.create_engine(url)
        # PostgreSQL reads in a read-only transaction: a query cannot write, even through a function.
        options = {"stream_results": True, "yield_per": _BATCH, "postgresql_readonly": True}
        connection = engine.connect().execution_options(**options)
        result = connection.execute(sqlalchemy.text(statement))
    except Exception as exc:  # SQLAlchemy and its drivers raise many kinds for a bad URL or query
        if connection is not None:
            connection.close()
        if engine is not None:
            engine.dispose()
        if isinstance(exc, InputError):
            raise
        reason = str(getattr(exc, "orig", None) or exc)  # the driver's words, without SQLAlchemy's wrapping
        message = " ".join((reason.strip().splitlines() or [type(exc).__name__])[0].split())
        raise InputError([Issue("sql-error", f"the query failed: {message}", source=label)]) from None
    if not result.returns_rows:
        result.close()
        connection.close()
        engine.dispose()
        raise InputError([Issue("sql-error", _NO_ROWS, source=label)])
    header = tuple(str(key) for key in result.keys())  # noqa: SIM118 - iterating a Result gives rows

    def close() -> None:
        result.close()  # a server-side cursor: closed before its connection
        connection.close()
        engine.dispose()

    return Table(header, _rows(result.partitions(_BATCH), header, label), close)


def _rows(batches: Iterator[Any], header: tuple[str, ...], label: str) -> Iterator[Row]:
    number = 0
    for batch in batches:
        for values in batch:
            number += 1
            yield Row(tuple(values), f"{label}:{number}", (), header)
