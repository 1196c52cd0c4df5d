"""JSON Lines input: one project record per line, nested like the XML tree, read lazily."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from xmlsync.errors import Issue
from xmlsync.readers.base import RawRecord
from xmlsync.readers.json_reader import decode_json


def read_jsonl(stream: IO[bytes], name: str) -> Iterator[RawRecord]:
    """Yield one record per non-blank line; a bad line gives a record with its issue, and reading goes on."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            issue = Issue(
                "encoding",
                f"byte 0x{raw[exc.start]:02X} is not valid UTF-8; save the file as UTF-8",
                source=f"{name}:{number}",
            )
            yield RawRecord(None, f"{name}:{number}", (issue,))
            continue
        try:
            data = decode_json(text)
        except json.JSONDecodeError as exc:
            issue = Issue("invalid-json", f"not valid JSON at column {exc.colno}: {exc.msg}", source=f"{name}:{number}")
            yield RawRecord(None, f"{name}:{number}", (issue,))
            continue
        except ValueError as exc:
            issue = Issue("invalid-json", f"not valid JSON: {exc}", source=f"{name}:{number}")
            yield RawRecord(None, f"{name}:{number}", (issue,))
            continue
        yield RawRecord(data, f"{name}:{number}")
