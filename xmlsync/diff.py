"""Compare two feeds card by card: Projects added, removed and changed (by Id), with the fields that changed.

Each ``<Project>`` is flattened to ``path -> text``: repeated elements with an ``Id`` are named by it
(``Offers/Offer[Id=2024017]/Products/Product[Id=3001]/PriceNet``), others by their place among siblings of the
same name (``Business/Emails/Email[2]/Value``, and ``Email[1]`` when it is alone, so that adding a second one
is one change); text is taken without surrounding whitespace, so a pretty and
a compact feed compare equal, and comments are ignored. Both files are streamed: the projects of the old
feed wait in a private temporary SQLite file (deleted at the end), so memory stays flat however large the
feeds are. Files are parsed as safely as :mod:`xmlsync.validate` parses them (no DTD, in any encoding).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from xmlsync.errors import Issue, OutputError
from xmlsync.feeds import Source, iter_compact_projects, safe_parser, source_name
from xmlsync.tree.paths import CONTAINERS

Kind = Literal["added", "removed", "changed", "repeated"]
_PARSER = safe_parser()  # for the projects kept in the store


@dataclass(frozen=True)
class Change:
    """One field that differs: ``None`` on a side where the field is not there."""

    path: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ProjectDiff:
    """A project that differs between the feeds, with its lines in each and, if changed, what changed."""

    id: str
    kind: Kind
    old_line: int | None = None
    new_line: int | None = None
    changes: tuple[Change, ...] = ()
    name: str | None = None  # the project's Name (the new one, for a changed project), as people know the card


@dataclass
class FeedDiff:
    """The comparison of two feeds: iterate it for the projects that differ, then read the counts.

    The old feed is read when iteration starts, the new one as it goes on; removed projects come last, in
    the order of the old feed.

    Raises:
        ValidationError: From iteration, if a file is not a readable ``<Projects>`` feed (one issue).
        UnreadableError: From iteration, if a file cannot be read.
    """

    old: Source
    new: Source
    old_name: str
    new_name: str
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("added", "removed", "changed", "repeated", "same"), 0)
    )

    @property
    def same(self) -> bool:
        """Return whether no project differs (known once iterated)."""
        return not any(self.counts[kind] for kind in ("added", "removed", "changed", "repeated"))

    def __iter__(self) -> Iterator[ProjectDiff]:
        store = sqlite3.connect("", isolation_level=None)  # "": a private temporary file, deleted on close
        try:
            store.execute("PRAGMA journal_mode=OFF")
            store.execute("PRAGMA synchronous=OFF")
            store.execute(
                "CREATE TABLE old (id TEXT PRIMARY KEY, position INTEGER, line INTEGER, xml BLOB, seen INTEGER)"
            )
            yield from self._load(store)
            yield from self._compare(store)
        except sqlite3.Error as exc:  # the temporary file: a full disk, most likely
            folder = tempfile.gettempdir()
            message = (
                f"cannot keep the old feed's projects in a temporary file in {folder} ({exc}); free some space"
                " there, or point TMPDIR at a folder with room"
            )
            raise OutputError([Issue("diff-store", message, source=self.old_name)]) from None
        finally:
            store.close()

    def _load(self, store: sqlite3.Connection) -> Iterator[ProjectDiff]:
        """Store the old feed's projects; yield those whose Id an earlier one of that feed already has."""
        store.execute("BEGIN")
        for position, (key, line, xml) in enumerate(_projects(self.old, self.old_name)):
            if not store.execute(
                "INSERT OR IGNORE INTO old VALUES (?, ?, ?, ?, 0)", (key, position, line, xml)
            ).rowcount:
                self.counts["repeated"] += 1
                yield ProjectDiff(key, "repeated", line, None)
        store.execute("COMMIT")

    def _compare(self, store: sqlite3.Connection) -> Iterator[ProjectDiff]:
        for key, line, xml in _projects(self.new, self.new_name):
            row = store.execute("SELECT line, xml, seen FROM old WHERE id = ?", (key,)).fetchone()
            if row is not None and row[2]:  # a second project with this Id in the new feed
                self.counts["repeated"] += 1
                yield ProjectDiff(key, "repeated", None, line)
                continue
            if row is None:
                store.execute("INSERT INTO old VALUES (?, NULL, NULL, NULL, 1)", (key,))  # so a repeat is seen
                self.counts["added"] += 1
                yield ProjectDiff(key, "added", None, line, name=_name(xml))
                continue
            store.execute("UPDATE old SET seen = 1 WHERE id = ?", (key,))
            # Equal bytes (blank text and comments dropped) are the same project; only others are walked.
            if row[1] == xml:
                self.counts["same"] += 1
                continue
            new_fields = _fields(xml)
            changes = _changes(_fields(row[1]), new_fields)
            if changes:
                self.counts["changed"] += 1
                yield ProjectDiff(key, "changed", row[0], line, changes, new_fields.get("Name"))
            else:
                self.counts["same"] += 1
        # Iterated, not fetched whole: memory stays flat even when every project is gone.
        for key, line, xml in store.execute("SELECT id, line, xml FROM old WHERE seen = 0 ORDER BY position"):
            self.counts["removed"] += 1
            yield ProjectDiff(key, "removed", line, None, name=_name(xml) if xml else None)


def diff_feeds(old: Source, new: Source, *, old_name: str | None = None, new_name: str | None = None) -> FeedDiff:
    """Return the comparison of two feeds (paths, bytes or binary streams); see :class:`FeedDiff`."""
    return FeedDiff(old, new, old_name or source_name(old), new_name or source_name(new))


def _name(xml: bytes) -> str | None:
    """Return a project's own ``<Name>``."""
    return etree.fromstring(xml, _PARSER).findtext("Name")


def _fields(xml: bytes) -> dict[str, str]:
    return flatten(etree.fromstring(xml, _PARSER))


def _changes(old: dict[str, str], new: dict[str, str]) -> tuple[Change, ...]:
    changes = [Change(path, old.get(path), text) for path, text in new.items() if old.get(path) != text]
    changes.extend(Change(path, text, None) for path, text in old.items() if path not in new)
    return tuple(changes)


def flatten(project: etree._Element) -> dict[str, str]:
    """Return ``path -> text`` of every leaf element and attribute of a project, in document order."""
    found: dict[str, str] = {}

    def walk(element: etree._Element, path: str) -> None:
        for name, value in element.attrib.items():
            attribute = str(name)
            if attribute != "Id" or not path:
                found[f"{path}/@{attribute}" if path else f"@{attribute}"] = str(value)
        children = [child for child in element if isinstance(child.tag, str)]
        if not children:
            if path:
                found[path] = (element.text or "").strip()
            return
        totals: dict[str, int] = {}
        for child in children:
            totals[str(child.tag)] = totals.get(str(child.tag), 0) + 1
        places: dict[str, int] = {}
        repeats: dict[str, int] = {}
        taken: set[str] = set()
        for child in children:
            tag = str(child.tag)
            ident = child.get("Id")
            places[tag] = places.get(tag, 0) + 1
            step = tag
            if ident is not None:
                step = f"{tag}[Id={ident}]"
            elif totals[tag] > 1 or element.tag in CONTAINERS:  # Email[1] even alone: the second is Email[2]
                step = f"{tag}[{places[tag]}]"
            again = repeats.get(step, 0)  # the same Id among siblings: Offer[Id=7]+, Offer[Id=7]+2... (linear)
            repeats[step] = again + 1
            if again:
                step = f"{step}+" if again == 1 else f"{step}+{again}"
            while step in taken:  # only an Id that itself ends like one of those names
                step += "+"
            taken.add(step)
            walk(child, f"{path}/{step}" if path else step)

    walk(project, "")
    found.pop("@Id", None)
    return found


def _projects(source: Source, name: str) -> Iterator[tuple[str, int | None, bytes]]:
    """Yield ``(Id, line, XML)`` of each ``<Project>`` of a feed, compact; a project without an Id is keyed ``#3``."""
    for position, (ident, line, xml) in enumerate(iter_compact_projects(source, name), start=1):
        yield ident or f"#{position}", line, xml


def _where(name: str, line: int | None) -> str:
    return f"{name}:{line}" if line is not None else name


def _quoted(text: str | None) -> str:
    return "nothing" if text is None else repr(text if len(text) <= 80 else f"{text[:77]}...")


def iter_text(result: FeedDiff) -> Iterator[str]:
    """Yield the comparison as lines for people: one per project that differs, one per changed field, a summary."""
    for entry in result:
        if entry.kind == "added":
            yield f"+ Project {entry.id} ({_where(result.new_name, entry.new_line)}): added"
        elif entry.kind == "removed":
            yield f"- Project {entry.id} ({_where(result.old_name, entry.old_line)}): removed"
        elif entry.kind == "repeated":
            name, line = (
                (result.old_name, entry.old_line) if entry.new_line is None else (result.new_name, entry.new_line)
            )
            yield f"! Project {entry.id} ({_where(name, line)}): its Id is used again in the same feed; not compared"
        else:
            old, new = _where(result.old_name, entry.old_line), _where(result.new_name, entry.new_line)
            yield f"~ Project {entry.id} ({old} -> {new}): {len(entry.changes)} changed"
            for change in entry.changes:
                yield f"    {change.path}: {_quoted(change.old)} -> {_quoted(change.new)}"
    counts = result.counts
    if result.same:
        yield f"{result.old_name} -> {result.new_name}: the same ({counts['same']:,} projects)"
        return
    differ = counts["added"] + counts["removed"] + counts["changed"]
    repeated = f", {counts['repeated']:,} with a repeated Id" if counts["repeated"] else ""
    yield (
        f"{result.old_name} -> {result.new_name}: {differ:,} project{'' if differ == 1 else 's'} differ:"
        f" {counts['added']:,} added, {counts['removed']:,} removed, {counts['changed']:,} changed;"
        f" {counts['same']:,} the same{repeated}"
    )


def iter_json(result: FeedDiff) -> Iterator[str]:
    """Yield the comparison as one JSON object, a line at a time (``format_version`` 1)."""
    head = {"format_version": 1, "old": result.old_name, "new": result.new_name}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "projects": ['
    first = True
    for entry in result:
        item = {
            "id": entry.id,
            "kind": entry.kind,
            "old_line": entry.old_line,
            "new_line": entry.new_line,
            "changes": [{"path": c.path, "old": c.old, "new": c.new} for c in entry.changes],
        }
        yield ("" if first else ",") + json.dumps(item, ensure_ascii=False)
        first = False
    summary = {"same": result.same, **{key: result.counts[key] for key in ("added", "removed", "changed", "repeated")}}
    summary["unchanged"] = result.counts["same"]
    yield "], " + json.dumps(summary)[1:]
