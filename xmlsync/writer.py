"""Write: serialise built elements to a feed, and replace output files atomically.

An output file is written to a temporary file in the same folder and renamed over the target only
when everything succeeded; on any error the old file stays as it was and no partial file remains.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from lxml import etree

from xmlsync.paths import ROOT_TAG

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "  "


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces ``path`` when the block ends without an exception.

    The data is flushed to disk before the rename; an existing file keeps its permissions.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        mode = target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode()
        tmp.chmod(mode)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
        self._out.write(XML_DECLARATION)
        self._out.write(f"<{ROOT_TAG}>".encode())
        return self

    def write(self, project: etree._Element) -> None:
        """Serialise one ``<Project>`` element (its tail is ignored)."""
        project.tail = None
        if self._pretty:
            etree.indent(project, space=INDENT, level=1)
            self._out.write(b"\n" + INDENT.encode())
        self._out.write(etree.tostring(project, encoding="UTF-8"))
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            closing = f"</{ROOT_TAG}>\n".encode()
            self._out.write(b"\n" + closing if self._pretty and self.count else closing)
