"""The state of a delta feed: what MiniCRM has confirmed, what the last build wrote, and the requests of the hour.

One SQLite file, shared by ``build --state``, ``push --state`` and ``sync``:

* ``build`` compares each project's digest with the one MiniCRM last *confirmed* for the same system and
  writes only projects that are new or changed; it records what it wrote as *pending*. A project set aside
  as invalid (``--on-invalid skip``) is counted as seen, not gone; a project that was gone and comes back is
  written again, as its card may have been removed in MiniCRM meanwhile.
* ``push`` marks the projects of every file MiniCRM accepted as confirmed, from the very bytes it sent, under
  the system they were sent to (a :class:`Target`: the system id and the base URL), so a trial push to a
  test system never hides a change from production. A push that fails leaves them unconfirmed, and the next
  build writes them again.
* ``push`` also counts its requests here, to keep to MiniCRM's hourly limit across runs.
* ``offer send`` keeps, per system, Project Id and Offer Id, the offer MiniCRM created (its ``Id``), digests of
  what was sent and the status MiniCRM last accepted; a create is recorded *before* it is sent, so one whose
  answer never came is known to be *unknown* and is never created blindly again (:class:`SentOffer`).

One run at a time holds a state file (an exclusive lock, waited for up to ``lock_wait`` seconds). A state
file that is busy, damaged, read-only or on a full disk is a :class:`StateError` with one clear line; a file
of the earlier layout (``xmlsync state 1``, whose confirmations name no system) is taken over, and its
confirmations are dropped: the next build writes every project once, a resend rather than a lost change.

The file holds Project and Offer Ids, offer numbers, statuses, SHA-256 digests, times and hashes of system ids
and URLs: no secret, and no customer's data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from xmlsync.config import DEFAULT_BASE_URL
from xmlsync.errors import InputError, Issue, XmlSyncError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own locking alone
    fcntl = None  # type: ignore[assignment]

Verdict = Literal["new", "changed", "unchanged"]
KIND = "xmlsync state 2"
_EARLIER = "xmlsync state 1"
_BLANKS = re.compile(rb">\s+<")
_SQLITE = b"SQLite format 3\x00"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS projects (id TEXT PRIMARY KEY, confirmed TEXT, pending TEXT, run INTEGER, name TEXT);"
    "CREATE TABLE IF NOT EXISTS confirmed (target TEXT, id TEXT, digest TEXT, PRIMARY KEY (target, id));"
    "CREATE TABLE IF NOT EXISTS requests (system TEXT, at REAL);"
    "CREATE TABLE IF NOT EXISTS offers (target TEXT, project TEXT, offer TEXT, minicrm TEXT, unknown INTEGER,"
    " parts TEXT, status TEXT, fields TEXT, number TEXT, sent REAL, PRIMARY KEY (target, project, offer));"
)


class StateError(XmlSyncError, OSError):
    """The state file is busy, damaged, not a file, or cannot be written; nothing in it was changed."""


def digest(project_xml: bytes) -> str:
    """Return the digest of a serialised ``<Project>``, the same for its pretty and its compact form."""
    return hashlib.sha256(_BLANKS.sub(b"><", project_xml.strip())).hexdigest()


@dataclass(frozen=True)
class Target:
    """The MiniCRM system a delta is for: its id and the address it is reached at.

    The same system id behind another base URL (a test system, a proxy) is another target, as the address
    decides which MiniCRM received the feed.
    """

    system_id: str
    base_url: str = DEFAULT_BASE_URL

    @property
    def key(self) -> str:
        """A hash of the system id and the base URL (scheme and host in lower case, no final ``/``)."""
        parts = urlsplit(self.base_url.strip())
        address = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
        return hashlib.sha256(f"minicrm\n{self.system_id.strip()}\n{address}".encode()).hexdigest()[:32]


def _reason(exc: BaseException) -> tuple[str, str]:
    """Return the code and the message for an error met in the state file."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return "state-busy", "is in use by another program; wait for it to end, or give another --state path"
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return (
            "state-unwritable",
            "cannot be created: its folder does not exist; create it or give another --state path",
        )
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return "state-unwritable", "cannot be written (read-only); make it writable for this user"
    if "full" in text or getattr(exc, "errno", None) == 28:
        return "state-unwritable", "cannot be written: the disk is full; free some space and run again"
    detail = " ".join(str(exc).split())[:120] or type(exc).__name__
    return (
        "state-damaged",
        f"is damaged ({detail}); move it away and run again: the next build then writes every project once"
        " (a resend; no change is lost); if offer send used it, restore it from a backup instead, as the offers"
        " it recorded would be created again",
    )


class State:
    """An open state file (created if missing); use it as a context manager or call :meth:`close`.

    Args:
        path: The file.
        lock_wait: How long to wait, in seconds, for another run holding the file to end.

    Raises:
        InputError: ``state-file`` if the file exists but is not a state file xmlsync wrote.
        StateError: ``state-busy``, ``state-damaged``, ``state-unwritable`` or ``not-a-file``.
    """

    def __init__(self, path: str | Path, *, lock_wait: float = 10.0) -> None:
        self.path = Path(path)
        self.run = 0
        self._lock: int | None = None
        self._db: sqlite3.Connection | None = None
        try:
            self._open(lock_wait)
        except BaseException:
            self.close()
            raise

    def _fail(self, code: str, message: str) -> StateError:
        return StateError([Issue(code, message, str(self.path))])

    def _open(self, lock_wait: float) -> None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise self._fail(*_reason(exc)) from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise self._fail("not-a-file", "is not a regular file; give the path of a state file")
        try:
            self._lock = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
            with open(self._lock, "rb", closefd=False) as head:
                start = head.read(len(_SQLITE))
        except OSError as exc:
            raise self._fail(*_reason(exc)) from None
        self._hold_lock(lock_wait)
        if start and start != _SQLITE:
            raise self._foreign()
        with self._guard():
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=lock_wait)
            if not start:
                self._db.executescript(_SCHEMA + f"INSERT INTO meta VALUES ('kind', '{KIND}'), ('run', '0');")
                return
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = self._db.execute("SELECT value FROM meta WHERE key = 'kind'").fetchone() if "meta" in tables else None
            if row is None or row[0] not in (KIND, _EARLIER):
                raise self._foreign()
            self._db.executescript(_SCHEMA)  # a file written before the offers table has it from now on
            if row[0] == _EARLIER:  # its confirmations name no system: drop them, so each project goes once more
                self._db.executescript(
                    "BEGIN IMMEDIATE;" + _SCHEMA + "ALTER TABLE projects ADD COLUMN name TEXT;"
                    "UPDATE projects SET confirmed = NULL;"
                    f"UPDATE meta SET value = '{KIND}' WHERE key = 'kind'; COMMIT;"
                )

    def _foreign(self) -> InputError:
        message = "is not a state file xmlsync wrote; give another --state path"
        return InputError([Issue("state-file", message, str(self.path))])

    def _hold_lock(self, wait: float) -> None:
        if fcntl is None or self._lock is None:  # pragma: no cover - Windows
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    message = (
                        f"is in use by another xmlsync run (waited {wait:g} s); let it finish and run again,"
                        " or give another --state path"
                    )
                    raise self._fail("state-busy", message) from None
                time.sleep(0.05)
            except OSError as exc:
                raise self._fail(*_reason(exc)) from None

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite's and the disk's errors into one :class:`StateError` line; roll back what was begun."""
        try:
            yield
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
            if isinstance(exc, XmlSyncError):
                raise
            if self._db is not None and self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise self._fail(*_reason(exc)) from None

    @property
    def _sql(self) -> sqlite3.Connection:
        assert self._db is not None, "the state file is closed"
        return self._db

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file and let other runs have it."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        if self._lock is not None:
            os.close(self._lock)  # the lock goes with it
            self._lock = None

    # -- build ----------------------------------------------------------------------------------------------

    def begin_build(self) -> None:
        """Start counting the projects of a new build (those not seen again are gone)."""
        with self._guard():
            self._sql.execute("BEGIN IMMEDIATE")
            self.run = int(self._sql.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()[0]) + 1
            self._sql.execute("UPDATE meta SET value = ? WHERE key = 'run'", (str(self.run),))

    def classify(self, target: str, project_id: str, project_digest: str, name: str | None = None) -> Verdict:
        """Return whether a project is new, changed or unchanged since ``target`` confirmed it; record it as built.

        A project that the last build did not see (it was gone, or set aside) is new again: its card may have
        been removed in MiniCRM meanwhile.
        """
        with self._guard():
            seen = self._sql.execute("SELECT run FROM projects WHERE id = ?", (project_id,)).fetchone()
            row = self._sql.execute(
                "SELECT digest FROM confirmed WHERE target = ? AND id = ?", (target, project_id)
            ).fetchone()
            self._sql.execute(
                "INSERT INTO projects VALUES (?, NULL, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET pending = ?, run = ?, name = ?",
                (project_id, project_digest, self.run, name, project_digest, self.run, name),
            )
        if row is None or seen is None or int(seen[0]) < self.run - 1:
            return "new"
        return "unchanged" if row[0] == project_digest else "changed"

    def set_aside(self, project_id: str) -> None:
        """Count a project this build set aside as invalid as seen (it is skipped, not gone)."""
        with self._guard():
            self._sql.execute(
                "INSERT INTO projects VALUES (?, NULL, NULL, ?, NULL) ON CONFLICT (id) DO UPDATE SET run = ?",
                (project_id, self.run, self.run),
            )

    def gone(self, target: str) -> list[tuple[str, str | None]]:
        """Return the Ids ``target`` confirmed that this build did not see (XML Sync cannot delete them), each
        with the Name it was last built with."""
        with self._guard():
            rows = self._sql.execute(
                "SELECT c.id, p.name FROM confirmed c LEFT JOIN projects p ON p.id = c.id"
                " WHERE c.target = ? AND (p.run IS NULL OR p.run < ?) ORDER BY c.id",
                (target, self.run),
            ).fetchall()
        return [(row[0], row[1] if isinstance(row[1], str) else None) for row in rows]

    def end_build(self, *, keep: bool) -> None:
        """Keep what the build recorded (it wrote its output), or forget it (it failed)."""
        with self._guard():
            if self._sql.in_transaction:
                self._sql.execute("COMMIT" if keep else "ROLLBACK")

    # -- push -----------------------------------------------------------------------------------------------

    def confirm(self, target: str, pushed: Iterable[tuple[str, str]]) -> int:
        """Mark ``(Id, digest)`` of the projects ``target`` accepted as confirmed there; return how many."""
        count = 0
        with self._guard():
            self._sql.execute("BEGIN IMMEDIATE")
            for project_id, project_digest in pushed:
                self._sql.execute(
                    "INSERT INTO confirmed VALUES (?, ?, ?) ON CONFLICT (target, id) DO UPDATE SET digest = ?",
                    (target, project_id, project_digest, project_digest),
                )
                count += 1
            self._sql.execute("COMMIT")
        return count

    def request_times(self, system: str, now: float) -> list[float]:
        """Return the times of the requests counted for a system (a hash of its id).

        A time after ``now`` (stamped before the clock was set back) is set to ``now``: it holds a slot for
        an hour from then, never longer.
        """
        with self._guard():
            self._sql.execute("UPDATE requests SET at = ? WHERE at > ?", (now, now))
            rows = self._sql.execute("SELECT at FROM requests WHERE system = ?", (system,)).fetchall()
        return [float(row[0]) for row in rows]

    def count_request(self, system: str, at: float, keep_after: float) -> None:
        """Count a request sent at ``at``; forget those before ``keep_after``."""
        with self._guard():
            self._sql.execute("DELETE FROM requests WHERE system = ? AND at < ?", (system, keep_after))
            self._sql.execute("INSERT INTO requests VALUES (?, ?)", (system, at))

    # -- offer send -----------------------------------------------------------------------------------------

    def offer(self, target: str, key: OfferKey) -> SentOffer | None:
        """Return what ``target`` was sent of an offer (by its Project Id and Offer Id), or ``None``."""
        with self._guard():  # a row that is not what this module wrote is a damaged state file, one line
            row = self._sql.execute(
                "SELECT minicrm, unknown, parts, status, fields, number, sent FROM offers"
                " WHERE target = ? AND project = ? AND offer = ?",
                (target, *key),
            ).fetchone()
            if row is None:
                return None
            try:
                parts, fields = json.loads(row[2]), json.loads(row[4])
                if not isinstance(parts, dict) or not isinstance(fields, dict):
                    raise ValueError("not a JSON object")
                return SentOffer(row[0], bool(row[1]), parts, row[3], fields, row[5], float(row[6]))
            except (ValueError, TypeError) as exc:
                message = (
                    f"holds a damaged record of offer {key[1]} of Project {key[0]} ({exc}); restore the file from a"
                    " backup: moved away, the offers it recorded would be created again"
                )
                raise self._fail("state-damaged", message) from None

    def offer_sending(self, target: str, key: OfferKey, sent: SentOffer) -> None:
        """Record, before it goes, that the create of an offer is being sent: if no answer is recorded after it
        (no answer, a crash), the offer is *unknown* and is never created blindly again."""
        self._put_offer(target, key, sent)

    def offer_answered(self, target: str, key: OfferKey, sent: SentOffer | None) -> None:
        """Record what MiniCRM accepted of an offer (its Id, and what it holds of the offer now), or, with ``None``,
        that MiniCRM refused its create (nothing was created: the next run creates it)."""
        if sent is None:
            with self._guard():
                self._sql.execute("DELETE FROM offers WHERE target = ? AND project = ? AND offer = ?", (target, *key))
        else:
            self._put_offer(target, key, sent)

    def unknown_offers(self, target: str) -> list[tuple[OfferKey, SentOffer]]:
        """Return the offers whose create was sent to ``target`` with no answer recorded, by Project and Offer Id."""
        with self._guard():
            rows = self._sql.execute(
                "SELECT project, offer FROM offers WHERE target = ? AND unknown = 1 ORDER BY project, offer", (target,)
            ).fetchall()
        found = [((str(p), str(o)), self.offer(target, (str(p), str(o)))) for p, o in rows]
        return [(key, sent) for key, sent in found if sent is not None]

    def _put_offer(self, target: str, key: OfferKey, sent: SentOffer) -> None:
        with self._guard():
            self._sql.execute(
                "INSERT OR REPLACE INTO offers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (target, *key, sent.minicrm_id, int(sent.unknown), json.dumps(sent.parts, sort_keys=True),
                 sent.status, json.dumps(sent.fields, sort_keys=True), sent.number, sent.sent_at),
            )  # fmt: skip


OfferKey = tuple[str, str]  # (Project Id, Offer Id)


@dataclass(frozen=True)
class SentOffer:
    """What MiniCRM was sent of one offer through the Offer JSON API, as the state file keeps it.

    ``parts`` and ``fields`` hold digests, not values (no customer data in the state file): per key of the create
    body, and per field of the offer's card, as MiniCRM accepted them.

    Attributes:
        minicrm_id: MiniCRM's offer ``Id`` (``None`` while the create's answer is unknown).
        unknown: The create was sent and no answer is recorded (no answer in time, a crash after sending).
        parts: Digest per key of the create body (``Items``, ``Customer``, ``CurrencyCode``...).
        status: The status MiniCRM last accepted by ``/Project`` (``None``: the first status).
        fields: Digest per field of the offer's card MiniCRM accepted.
        number: The ``Number`` sent, to find the offer in MiniCRM's list when the answer was lost.
        sent_at: When the create went (this machine's clock, seconds since the epoch).
    """

    minicrm_id: str | None
    unknown: bool
    parts: dict[str, str]
    status: str | None
    fields: dict[str, str]
    number: str | None
    sent_at: float
