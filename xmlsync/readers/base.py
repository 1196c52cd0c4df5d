"""What every reader shares: the record type and opening a path or ``-`` (stdin)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from xmlsync.errors import InputError, Issue

STDIN_NAME = "<stdin>"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One project record as read, before mapping.

    Args:
        data: The record, keyed like the XML tree.
        source: Where it came from, e.g. ``offers.json:[3]`` or ``offers.jsonl:4``.
    """

    data: Any
    source: str


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
