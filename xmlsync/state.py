"""The state of a delta feed: what MiniCRM has confirmed, what the last build wrote, and the requests of the hour.

One SQLite file, shared by ``build --state`` and ``push --state``:

* ``build`` compares each project's digest with the one MiniCRM last *confirmed* and writes only projects
  that are new or changed; it records what it wrote as *pending*.
* ``push`` marks the projects of every file MiniCRM accepted as confirmed, so a push that fails leaves them
  pending, and the next build writes them again.
* ``push`` also counts its requests here, to keep to MiniCRM's hourly limit across runs.

The file holds Project Ids, SHA-256 digests, times and a hash of the system id: no secret.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from xmlsync.errors import InputError, Issue

Verdict = Literal["new", "changed", "unchanged"]
KIND = "xmlsync state 1"
_BLANKS = re.compile(rb">\s+<")


def digest(project_xml: bytes) -> str:
    """Return the digest of a serialised ``<Project>``, the same for its pretty and its compact form."""
    return hashlib.sha256(_BLANKS.sub(b"><", project_xml.strip())).hexdigest()


class State:
    """An open state file (created if missing); use it as a context manager or call :meth:`close`.

    Raises:
        InputError: ``state-file`` if the file exists but is not a state file xmlsync wrote.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        existed = self.path.exists()
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            if existed:
                row = self._db.execute("SELECT value FROM meta WHERE key = 'kind'").fetchone()
                if row is None or row[0] != KIND:
                    raise sqlite3.DatabaseError("not ours")
            else:
                self._db.executescript(
                    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                    "CREATE TABLE projects (id TEXT PRIMARY KEY, confirmed TEXT, pending TEXT, run INTEGER);"
                    "CREATE TABLE requests (system TEXT, at REAL);"
                    f"INSERT INTO meta VALUES ('kind', '{KIND}'), ('run', '0');"
                )
        except sqlite3.DatabaseError:
            message = "is not a state file xmlsync wrote; give another --state path"
            raise InputError([Issue("state-file", message, str(path))]) from None
        self.run = 0

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    # -- build ----------------------------------------------------------------------------------------------

    def begin_build(self) -> None:
        """Start counting the projects of a new build (those not seen again are gone)."""
        self._db.execute("BEGIN IMMEDIATE")
        self.run = int(self._db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()[0]) + 1
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'run'", (str(self.run),))

    def classify(self, project_id: str, project_digest: str) -> Verdict:
        """Return whether a project is new, changed or unchanged since MiniCRM confirmed it; record it as built."""
        row = self._db.execute("SELECT confirmed FROM projects WHERE id = ?", (project_id,)).fetchone()
        confirmed = row[0] if row else None
        self._db.execute(
            "INSERT INTO projects VALUES (?, NULL, ?, ?) ON CONFLICT (id) DO UPDATE SET pending = ?, run = ?",
            (project_id, project_digest, self.run, project_digest, self.run),
        )
        if confirmed is None:
            return "new"
        return "unchanged" if confirmed == project_digest else "changed"

    def gone(self) -> list[str]:
        """Return the Ids MiniCRM has that this build did not see (XML Sync cannot delete them)."""
        rows = self._db.execute(
            "SELECT id FROM projects WHERE confirmed IS NOT NULL AND run < ? ORDER BY id", (self.run,)
        )
        return [row[0] for row in rows]

    def end_build(self, *, keep: bool) -> None:
        """Keep what the build recorded (it wrote its output), or forget it (it failed)."""
        self._db.execute("COMMIT" if keep else "ROLLBACK")

    # -- push -----------------------------------------------------------------------------------------------

    def confirm(self, pushed: Iterable[tuple[str, str]]) -> int:
        """Mark ``(Id, digest)`` of the projects of a file MiniCRM accepted as confirmed; return how many."""
        count = 0
        self._db.execute("BEGIN IMMEDIATE")
        for project_id, project_digest in pushed:
            self._db.execute(
                "INSERT INTO projects VALUES (?, ?, NULL, 0) ON CONFLICT (id) DO UPDATE SET confirmed = ?",
                (project_id, project_digest, project_digest),
            )
            count += 1
        self._db.execute("COMMIT")
        return count

    def request_times(self, system: str) -> list[float]:
        """Return the times of the requests counted for a system (a hash of its id)."""
        return [row[0] for row in self._db.execute("SELECT at FROM requests WHERE system = ?", (system,))]

    def count_request(self, system: str, at: float, keep_after: float) -> None:
        """Count a request sent at ``at``; forget those before ``keep_after``."""
        self._db.execute("DELETE FROM requests WHERE at < ?", (keep_after,))
        self._db.execute("INSERT INTO requests VALUES (?, ?)", (system, at))
