"""Ids seen so far in a feed, with the place each was first used, in memory that does not grow with the feed.

The first keys are kept in a dict (fast); past :data:`MEMORY_KEYS` they move to a private, temporary SQLite
file (deleted when closed) with a small page cache, so checking a feed of a million projects for duplicate
Ids costs a few microseconds per Id and a bounded amount of RAM.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple


class Place(NamedTuple):
    """Where a key was first seen."""

    path: str
    line: int | None
    source: str | None


MEMORY_KEYS = 10_000
_IN_SIZE = 64
_KNOWN_ANY = f"SELECT 1 FROM seen WHERE kind = ? AND key IN ({', '.join('?' * _IN_SIZE)}) LIMIT 1"


class SeenIds:
    """First places of keys, by kind (``project``, ``offer``...).

    Args:
        memory_keys: How many keys to keep in memory before moving them all to the SQLite file (default
            :data:`MEMORY_KEYS`).
    """

    def __init__(self, memory_keys: int | None = None) -> None:
        self._db: sqlite3.Connection | None = None
        self._memory: dict[tuple[str, str], Place] | None = {}
        self._memory_keys = MEMORY_KEYS if memory_keys is None else memory_keys

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect("", isolation_level=None)  # "" = a private temporary file, deleted on close
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-2048")  # 2 MiB of page cache
        db.execute(
            "CREATE TABLE seen (kind TEXT, key TEXT, path TEXT, line INTEGER, source TEXT, PRIMARY KEY (kind, key))"
            " WITHOUT ROWID"
        )
        db.execute("BEGIN")
        return db

    def first(self, kind: str, key: str, place: Place) -> Place | None:
        """Record ``place`` for a new key and return ``None``; for a known key return its first place."""
        memory = self._memory
        if memory is not None:
            first = memory.setdefault((kind, key), place)
            if first is not place:
                return first
            if len(memory) > self._memory_keys:
                self._spill(memory)
            return None
        db = self._db or self._connect()
        self._db = db
        cursor = db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", (kind, key, *place))
        if cursor.rowcount:
            return None
        row = db.execute("SELECT path, line, source FROM seen WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return Place(*row)

    def get(self, kind: str, key: str) -> Place | None:
        """Return the first place of a key, or ``None`` if it was not seen."""
        if self._memory is not None:
            return self._memory.get((kind, key))
        if self._db is None:
            return None
        row = self._db.execute("SELECT path, line, source FROM seen WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return Place(*row) if row else None

    def add_new(self, entries: list[tuple[str, str, Place]]) -> bool:
        """Record every ``(kind, key, place)`` and return ``True`` if none of the keys was seen before.

        Otherwise record nothing and return ``False`` (then ask :meth:`first` key by key). This checks a
        batch of projects at once: in the SQLite file, one statement for all keys.
        """
        keys = [(kind, key) for kind, key, _ in entries]
        memory = self._memory
        if memory is not None:
            if len(set(keys)) != len(keys) or not memory.keys().isdisjoint(keys):
                return False
            memory.update(zip(keys, (place for _, _, place in entries), strict=True))
            if len(memory) > self._memory_keys:
                self._spill(memory)
            return True
        if not keys:
            return True
        if len(set(keys)) != len(keys):
            return False
        db = self._db or self._connect()
        self._db = db
        by_kind: dict[str, list[str]] = {}
        for kind, key in keys:
            by_kind.setdefault(kind, []).append(key)
        for kind, names in by_kind.items():  # kind = ? AND key IN (...): lookups in the primary key
            for start in range(0, len(names), _IN_SIZE):
                chunk = names[start : start + _IN_SIZE]
                chunk += chunk[:1] * (_IN_SIZE - len(chunk))  # always the same statement, prepared once
                if db.execute(_KNOWN_ANY, [kind, *chunk]).fetchone():
                    return False
        db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", ((*key, *place) for *key, place in entries))
        return True

    def _spill(self, memory: dict[tuple[str, str], Place]) -> None:
        db = self._db or self._connect()
        self._db = db
        db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?)", ((*k, *v) for k, v in memory.items()))
        self._memory = None

    def close(self) -> None:
        """Drop the table and its file."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._memory = {}
