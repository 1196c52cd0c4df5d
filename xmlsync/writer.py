"""Write: serialise built elements to a feed, and replace output files atomically.

An output file is written to a temporary file in the same folder and renamed over the target only
when everything succeeded; on any error the old file stays as it was and no partial file remains. A feed
split into parts (``offers-0001.xml``, ``offers-0002.xml``...) is staged the same way, part by part, and
the parts are renamed only once the last one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from lxml import etree

from xmlsync.errors import Issue, OutputError
from xmlsync.paths import ROOT_TAG

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "  "


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class _Staged:
    """A temporary file beside ``target``: :meth:`commit` renames it over the target, :meth:`discard` removes it."""

    def __init__(self, target: Path) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:  # name the file the user asked for, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        self.target = target
        self.tmp = Path(name)
        self.handle: IO[bytes] = os.fdopen(fd, "wb")

    def close(self) -> None:
        """Flush the data to disk and close the file (keeping it staged)."""
        if not self.handle.closed:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()

    def commit(self) -> None:
        self.close()
        mode = self.target.stat().st_mode & 0o7777 if self.target.exists() else _new_file_mode()
        self.tmp.chmod(mode)
        self.tmp.replace(self.target)

    def discard(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces ``path`` when the block ends without an exception.

    The data is flushed to disk before the rename; an existing file keeps its permissions.
    """
    staged = _Staged(Path(path))
    try:
        yield staged.handle
        staged.commit()
    except BaseException:
        staged.discard()
        raise


def serialise(project: etree._Element, *, pretty: bool) -> bytes:
    """Return one ``<Project>`` as it stands in a feed: indented at level 1, or compact (its tail is dropped)."""
    project.tail = None
    if pretty:
        etree.indent(project, space=INDENT, level=1)
        return b"\n" + INDENT.encode() + etree.tostring(project, encoding="UTF-8")
    return etree.tostring(project, encoding="UTF-8")


_OPENING = XML_DECLARATION + f"<{ROOT_TAG}>".encode()


def _closing(pretty: bool, count: int) -> bytes:
    closing = f"</{ROOT_TAG}>\n".encode()
    return b"\n" + closing if pretty and count else closing


class ProjectSink(Protocol):
    """Where a build puts its projects: one stream (:class:`FeedWriter`) or numbered parts (:class:`SplitFeed`)."""

    def write_serialised(self, data: bytes, record: str | None) -> None:
        """Write one ``<Project>`` as :func:`serialise` returned it; ``record`` names it in messages."""


class FeedWriter:
    """Streams ``<Project>`` elements into a ``<Projects>`` document, one at a time.

    Args:
        out: A binary file.
        pretty: Indent with two spaces per level; otherwise no whitespace between elements.
    """

    def __init__(self, out: IO[bytes], *, pretty: bool = True) -> None:
        self._out = out
        self._pretty = pretty
        self.count = 0

    def __enter__(self) -> FeedWriter:
        self._out.write(_OPENING)
        return self

    def write(self, project: etree._Element) -> None:
        """Serialise one ``<Project>`` element (its tail is ignored)."""
        self.write_serialised(serialise(project, pretty=self._pretty), None)

    def write_serialised(self, data: bytes, record: str | None) -> None:
        """Write one ``<Project>`` as :func:`serialise` returned it."""
        self._out.write(data)
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._out.write(_closing(self._pretty, self.count))


def part_path(target: str | Path, number: int) -> Path:
    """Return the path of part ``number`` of a split feed: ``offers.xml`` -> ``offers-0001.xml``."""
    path = Path(target)
    return path.with_name(f"{path.stem}-{number:04d}{path.suffix}")


class SplitFeed:
    """Writes a feed as numbered parts beside ``target``, each a complete ``<Projects>`` document.

    A new part starts when the current one holds ``max_projects`` projects, or when the next project
    would take it past ``max_bytes`` (declaration and closing tag included); a project never spans two
    parts. The parts are staged as temporary files and renamed together when the block ends without an
    exception; parts of an earlier, longer run with higher numbers are then removed, so the folder holds
    exactly this feed. On an exception every staged part is removed and the old parts stay as they were.

    Raises:
        OutputError: From :meth:`write`, if one project alone is larger than ``max_bytes``.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        pretty: bool = True,
        max_projects: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.target = Path(target)
        self._pretty = pretty
        self._max_projects = max_projects
        self._max_bytes = max_bytes
        self._parts: list[_Staged] = []
        self._size = 0
        self._count = 0
        self.paths: list[Path] = []

    def __enter__(self) -> SplitFeed:
        return self

    def _start_part(self) -> None:
        self._end_part()
        staged = _Staged(part_path(self.target, len(self._parts) + 1))
        self._parts.append(staged)
        staged.handle.write(_OPENING)
        self._size = len(_OPENING)
        self._count = 0

    def _end_part(self) -> None:
        if self._parts:
            current = self._parts[-1]
            current.handle.write(_closing(self._pretty, self._count))
            current.close()

    def write(self, project: etree._Element) -> None:
        """Serialise one ``<Project>`` into the current part, starting a new part first if it is full."""
        self.write_serialised(serialise(project, pretty=self._pretty), f"Project {project.get('Id')}")

    def write_serialised(self, data: bytes, record: str | None) -> None:
        """Write one serialised ``<Project>`` into the current part, starting a new part first if it is full."""
        needed = len(data) + len(_closing(self._pretty, 1))
        full = self._count > 0 and (
            (self._max_projects is not None and self._count >= self._max_projects)
            or (self._max_bytes is not None and self._size + needed > self._max_bytes)
        )
        if not self._parts or full:
            self._start_part()
        if self._max_bytes is not None and self._size + needed > self._max_bytes:
            size = len(_OPENING) + needed
            message = (
                f"this project alone makes a part of {size} bytes, more than the limit of {self._max_bytes};"
                " raise --split-bytes"
            )
            raise OutputError([Issue("project-too-large", message, record=record)])
        self._parts[-1].handle.write(data)
        self._size += len(data)
        self._count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            if not self._parts:
                self._start_part()  # an empty feed is still one (empty) part
            self._end_part()
            for staged in self._parts:
                staged.commit()
        except BaseException:
            self._discard()
            raise
        self.paths = [staged.target for staged in self._parts]
        _remove_stale_parts(self.target, len(self._parts))

    def _discard(self) -> None:
        for staged in self._parts:
            staged.discard()


def _remove_stale_parts(target: Path, count: int) -> None:
    pattern = re.compile(rf"{re.escape(target.stem)}-([0-9]{{4,}}){re.escape(target.suffix)}")
    for path in target.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and int(match.group(1)) > count:
            path.unlink(missing_ok=True)


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def write_reject(out: IO[bytes], source: str, rows: int, issues: list[Issue], record: Any) -> None:
    """Write one rejected record as a JSON line: where it came from, its errors and its data as read.

    Decimals are written as strings, so that no digit is lost, and dates in ISO 8601.
    """
    line = {"source": source, "rows": rows, "errors": [issue.to_dict() for issue in issues], "record": record}
    out.write(json.dumps(line, ensure_ascii=False, default=_json_default).encode() + b"\n")
