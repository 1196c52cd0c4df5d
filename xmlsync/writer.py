"""Write: serialise built elements to a feed, and replace output files atomically.

An output file is written to a temporary file in the same folder and renamed over the target only
when everything succeeded; on any error the old file stays as it was and no partial file remains. A feed
split into parts (``offers-0001.xml``, ``offers-0002.xml``...) is staged the same way, part by part, and
the parts are renamed only once the last one is complete.

Only regular files are ever replaced (:func:`output_target`): an output given as a symlink replaces the
file the link points to, and the link stays; a character device (``/dev/null``, a terminal) or a FIFO gets
the complete content written through to it at the end, and nothing if the run fails; a folder, a socket or a
block device is refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, cast

from xmlsync.errors import Issue, OptionsError, OutputError
from xmlsync.tree.kinds import fits
from xmlsync.tree.paths import ROOT_TAG

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_SPOOL_BYTES = 16 * 1024 * 1024  # what a stream output keeps in memory before it spools to a temporary file


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_TEMP = re.compile(rf"\.(?P<name>.+)\.{re.escape(_HOST)}\.(?P<pid>[0-9]+)\.[^.]+\.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def remove_stale_temps(folder: Path, name_matches: Callable[[str], bool]) -> list[Path]:
    """Remove the temporary files that an xmlsync run on this host left in ``folder`` when it was killed.

    Only files named like :class:`_Staged` names them (``.<name>.<host>.<pid>.<random>.tmp``), for this
    host, whose process is gone, regular files (not links) of this user, and whose ``<name>`` satisfies
    ``name_matches`` are removed: a temporary file of a run still going on, here or on another host
    sharing the folder, is never touched. Returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.fullmatch(entry.name)
        if match is None or not name_matches(match.group("name")):
            continue
        pid = int(match.group("pid"))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


_STREAMS = {stat.S_IFCHR: "a character device", stat.S_IFIFO: "a FIFO"}
_REFUSED = {stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket", stat.S_IFBLK: "a block device"}


def output_target(path: str | Path) -> tuple[Path, bool]:
    """Return where an output named ``path`` goes, and whether it is written through rather than replaced.

    A regular file, or none yet, is replaced: the path returned is the file itself, or the final target of a
    symlink (so the link stays a link). A character device or a FIFO is written through (``True``).

    Raises:
        OutputError: ``not-a-file`` for a folder, a socket or a block device.
    """
    try:
        mode = os.stat(path).st_mode  # follows symlinks, /proc's magic ones included
    except FileNotFoundError:
        return Path(os.path.realpath(path)), False
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFREG:
        return Path(os.path.realpath(path)), False
    if kind in _STREAMS:
        return Path(path), True
    what = _REFUSED.get(kind, "not a regular file")
    message = f"is {what}, which xmlsync never replaces; give the path of a file to write"
    raise OutputError([Issue("not-a-file", message, source=str(path))])


def _write_through(path: Path, content: IO[bytes]) -> None:
    """Write ``content`` to a character device or a FIFO; a FIFO nobody reads is an error, not a hang."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            message = "is a FIFO that nobody reads; start its reader first, then run xmlsync again"
            raise OutputError([Issue("unwritable-output", message, source=str(path))]) from None
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as out:
        content.seek(0)
        shutil.copyfileobj(content, out)


class _Staged:
    """A temporary file beside ``target``: :meth:`commit` renames it over the target, :meth:`discard` removes it.

    Its name holds this host and process id, so that a later run can remove it if this one is killed
    (:func:`remove_stale_temps`, called here for ``target``'s own stale temporary files unless ``clean`` is
    off, for a caller that removes them itself).
    """

    def __init__(self, target: Path, *, clean: bool = True) -> None:
        target, through = output_target(target)
        if through:
            raise OutputError([Issue("not-a-file", "is a device or a FIFO; give a file path", source=str(target))])
        if clean:
            remove_stale_temps(target.parent, target.name.__eq__)
        try:
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.{_HOST}.{os.getpid()}.", suffix=".tmp", dir=target.parent
            )
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

    def rename(self) -> None:
        """Give the closed file the target's permissions (or the usual ones) and rename it over the target."""
        mode = self.target.stat().st_mode & 0o7777 if self.target.exists() else _new_file_mode()
        self.tmp.chmod(mode)
        self.tmp.replace(self.target)

    def commit(self) -> None:
        self.close()
        self.rename()

    def discard(self) -> None:
        """Remove the temporary file, also when closing it fails (a full disk fails the flush again)."""
        try:
            self.handle.close()
        except OSError:
            pass
        finally:
            self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces ``path`` when the block ends without an exception.

    The data is flushed to disk before the rename; an existing file keeps its permissions. A character
    device or a FIFO gets the content written through at the end instead (:func:`output_target`).
    """
    if output_target(path)[1]:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            yield cast(IO[bytes], spool)
            _write_through(Path(path), cast(IO[bytes], spool))
        return
    staged = _Staged(Path(path))
    try:
        yield staged.handle
        staged.commit()
    except BaseException:
        staged.discard()
        raise


@contextlib.contextmanager
def complete_output(target: str | Path | IO[bytes]) -> Iterator[IO[bytes]]:
    """Yield a binary file whose content reaches ``target`` only if the block ends without an exception.

    A path is replaced atomically (:func:`atomic_output`); a stream (stdout) gets the content at the end,
    from a spool kept in memory up to 16 MB and in a temporary file beyond.
    """
    if isinstance(target, str | Path):
        with atomic_output(target) as out:
            yield out
        return
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        yield cast(IO[bytes], spool)
        spool.seek(0)
        shutil.copyfileobj(spool, target)
        target.flush()


_OPENING = XML_DECLARATION + f"<{ROOT_TAG}>".encode()


def _closing(pretty: bool, count: int) -> bytes:
    closing = f"</{ROOT_TAG}>\n".encode()
    return b"\n" + closing if pretty and count else closing


class ProjectSink(Protocol):
    """Where a build puts its projects: one stream (:class:`FeedWriter`) or numbered parts (:class:`SplitFeed`)."""

    def write_serialised(self, data: bytes, record: str | None) -> None:
        """Write one ``<Project>`` as :func:`~xmlsync.builder.project_text` wrote it; ``record`` names it."""


class FeedWriter:
    """Streams written ``<Project>`` elements into a ``<Projects>`` document, one at a time.

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

    def write_serialised(self, data: bytes, record: str | None) -> None:
        """Write one ``<Project>`` as :func:`~xmlsync.builder.project_text` wrote it (encoded)."""
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


class LinesWriter:
    """Streams rendered records that are lines of their own (JSON Lines): each written as it is."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.count = 0

    def __enter__(self) -> LinesWriter:
        return self

    def write_serialised(self, data: bytes, record: str | None) -> None:
        """Write one record's lines."""
        self._out.write(data)
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        return None


def part_path(target: str | Path, number: int) -> Path:
    """Return the path of part ``number`` of a split feed: ``offers.xml`` -> ``offers-0001.xml``."""
    path = Path(target)
    return path.with_name(f"{path.stem}-{number:04d}{path.suffix}")


def is_part_name(target: str | Path, name: str) -> bool:
    """Return whether ``name`` is named like a part of the split feed ``target`` (``offers-0001.xml``)."""
    path = Path(target)
    return re.fullmatch(rf"{re.escape(path.stem)}-[0-9]{{4,}}{re.escape(path.suffix)}", name) is not None


def manifest_path(target: str | Path) -> Path:
    """Return the part list of a split feed: ``offers.xml`` -> ``offers.parts.json``."""
    path = Path(target)
    return path.with_name(f"{path.stem}.parts.json")


MANIFEST_KIND = "xmlsync split feed"
_MANIFEST_BYTES = 16 * 1024 * 1024  # a part list is a few lines a part; anything larger is not ours


def parse_part_list(raw: bytes) -> dict[str, tuple[int, str]] | None:
    """Return the parts a part list names, in order: file name -> (bytes, SHA-256); ``None`` if xmlsync did
    not write it (not its JSON, too large, or a name that is not a plain file name)."""
    try:
        data = json.loads(raw) if len(raw) <= _MANIFEST_BYTES else None
        if isinstance(data, dict) and data.get("kind") == MANIFEST_KIND:
            parts = {str(p["file"]): (int(p["bytes"]), str(p["sha256"])) for p in data["parts"]}
            if all(name and Path(name).name == name for name in parts):
                return parts
    except (ValueError, TypeError, KeyError, RecursionError):
        pass
    return None


def read_manifest(target: str | Path) -> dict[str, tuple[int, str]]:
    """Return the parts listed by the part list of ``target``'s split feed: name -> (bytes, SHA-256).

    No part list gives ``{}``.

    Raises:
        OutputError: ``foreign-file`` if a file stands where the part list goes but xmlsync did not write it.
    """
    path = manifest_path(target)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise OutputError(
            [Issue("unwritable-output", f"cannot read the part list: {exc.strerror}", str(path))]
        ) from None
    parts = parse_part_list(raw)
    if parts is not None:
        return parts
    message = (
        f"{path.name} is where the list of this feed's parts goes, but xmlsync did not write it; move it away"
        " (xmlsync never overwrites a file it did not write)"
    )
    raise OutputError([Issue("foreign-file", message, str(path))])


def _manifest(target: Path, parts: list[tuple[str, int, str]]) -> bytes:
    data = {
        "kind": MANIFEST_KIND,
        "version": 1,
        "feed": target.name,
        "parts": [{"file": name, "bytes": size, "sha256": digest} for name, size, digest in parts],
    }
    return json.dumps(data, indent=2).encode() + b"\n"


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


class SplitFeed:
    """Writes a feed as numbered parts beside ``target``, each a complete ``<Projects>`` document.

    A new part starts when the current one holds ``max_projects`` projects, or when the next project
    would take it past ``max_bytes`` (declaration and closing tag included); a project never spans two
    parts. The parts are staged as temporary files and renamed together when the block ends without an
    exception, and listed, with their size and SHA-256, in ``offers.parts.json`` beside them
    (:func:`manifest_path`). Parts of an earlier, longer run that the old list names and that are
    unchanged since are then removed, so the folder holds exactly this feed; no other file is touched, and
    a part name taken by a file that no earlier run of this feed wrote is an error. On an exception every
    staged part is removed and the old parts stay as they were.

    Raises:
        OutputError: ``foreign-file`` (from the constructor or :meth:`write`) for a file in the way that
            xmlsync did not write; ``project-too-large`` from :meth:`write` if one project alone is larger
            than ``max_bytes``.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        pretty: bool = True,
        max_projects: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if output_target(target)[1]:
            message = "is a device or a FIFO; a split feed's parts are files beside the output: give a file path"
            raise OutputError([Issue("not-a-file", message, source=str(target))])
        self.target = Path(target)
        self._pretty = pretty
        self._max_projects = max_projects
        self._max_bytes = max_bytes
        self._listed = read_manifest(self.target)
        self._parts: list[tuple[_Staged, hashlib._Hash]] = []  # with the SHA-256 of what was written so far
        self._size = 0
        self._count = 0
        self.paths: list[Path] = []

    def __enter__(self) -> SplitFeed:
        return self

    def _start_part(self) -> None:
        self._end_part()
        path = part_path(self.target, len(self._parts) + 1)
        if path.name not in self._listed and os.path.lexists(path):
            message = (
                f"{path.name} exists, but no earlier run of this feed wrote it (it is not listed in"
                f" {manifest_path(self.target).name}); move it away, as xmlsync never overwrites a file it did not"
                " write"
            )
            raise OutputError([Issue("foreign-file", message, str(path))])
        staged = _Staged(path, clean=False)  # stale temporary parts are removed at the end
        self._parts.append((staged, hashlib.sha256()))
        self._write(_OPENING)
        self._size = len(_OPENING)
        self._count = 0

    def _write(self, data: bytes) -> None:
        staged, digest = self._parts[-1]
        staged.handle.write(data)
        digest.update(data)

    def _end_part(self) -> None:
        if self._parts:
            self._write(_closing(self._pretty, self._count))
            self._parts[-1][0].close()

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
        self._write(data)
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
            for staged, _ in self._parts:
                staged.close()  # every part on disk before any is renamed: a full disk fails here
        except BaseException:
            self._discard()
            raise
        for staged, _ in self._parts:
            staged.rename()
        written = [
            (staged.target.name, staged.target.stat().st_size, digest.hexdigest()) for staged, digest in self._parts
        ]
        with atomic_output(manifest_path(self.target)) as out:
            out.write(_manifest(self.target, written))
        self.paths = [staged.target for staged, _ in self._parts]
        self._remove_stale_parts({name for name, _, _ in written})

    def _discard(self) -> None:
        for staged, _ in self._parts:
            staged.discard()

    def _remove_stale_parts(self, current: set[str]) -> None:
        """Remove the parts the old list names that this run did not write, if they are as written then."""
        folder = self.target.parent
        for name, (size, digest) in self._listed.items():
            if name in current or not is_part_name(self.target, name):
                continue
            path = folder / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_size == size and _sha256(path) == digest:
                path.unlink(missing_ok=True)
        remove_stale_temps(folder, lambda name: is_part_name(self.target, name))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # links and hard links included
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def refuse_overlaps(
    inputs: Sequence[tuple[str, Path]], outputs: Sequence[tuple[str, Path]], *, split: Path | None = None
) -> None:
    """Refuse, before any work, outputs that would overwrite an input or each other.

    ``inputs`` and ``outputs`` are ``(role, path)`` pairs (``("input", ...)``, ``("rejects file", ...)``);
    ``split`` is the target of a split feed, whose part names no input or other output may take.

    Raises:
        OptionsError: ``same-file``, one issue for each clash.
    """
    issues: list[Issue] = []
    for index, (role, path) in enumerate(outputs):
        for other_role, other in [*inputs, *outputs[:index]]:
            if _same_file(path, other):
                message = (
                    f"the {role} and the {other_role} are the same file ({path}); writing the {role} would destroy"
                    f" the {other_role}: choose another {role}"
                )
                issues.append(Issue("same-file", message, source=str(path)))
    if split is not None:
        for role, path in [*inputs, *outputs]:
            if is_part_name(split, path.name) and _same_file(path.parent, split.parent):
                message = (
                    f"the {role} {path} is named like a part of the split feed {split}, which the build may"
                    f" overwrite: rename it or choose another output"
                )
                issues.append(Issue("same-file", message, source=str(path)))
    if issues:
        raise OptionsError(issues)


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):  # written out, unless that would be long (1E-99999999 stays as it is)
        return format(value, "f") if value.is_finite() and fits(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def write_reject(out: IO[bytes], source: str, rows: int, issues: list[Issue], record: Any) -> None:
    """Write one rejected record as a JSON line: where it came from, its errors and its data as read.

    Decimals are written as strings, so that no digit is lost, and dates in ISO 8601. A record nested too
    deeply to write again is written as ``null``; ``source`` still says where it is. Text that UTF-8 cannot hold
    (a lone surrogate) is written as ``\\u`` escapes, so the line stays valid JSON and keeps the value.
    """
    line = {"source": source, "rows": rows, "errors": [issue.to_dict() for issue in issues], "record": record}
    try:
        text = json.dumps(line, ensure_ascii=False, default=_json_default)
    except RecursionError:
        line["record"] = None
        text = json.dumps(line, ensure_ascii=False, default=_json_default)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON input): UTF-8 cannot hold it, \u escapes can
        data = json.dumps(line, ensure_ascii=True, default=_json_default).encode()
    out.write(data + b"\n")
