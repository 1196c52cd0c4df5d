"""JSON input: a list of project records, nested like the XML tree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from xmlsync.errors import InputError, Issue
from xmlsync.readers.base import RawRecord


def decode_utf8(data: bytes, name: str) -> str:
    """Decode UTF-8 (a BOM is allowed), or raise an :class:`InputError` that says where it broke."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            [
                Issue(
                    "encoding",
                    f"byte 0x{data[exc.start]:02X} is not valid UTF-8; save the file as UTF-8",
                    source=name,
                    line=line,
                )
            ]
        ) from None


def read_json(stream: IO[bytes], name: str) -> Iterator[RawRecord]:
    """Yield the project records of a JSON file holding a list of projects.

    Numbers are read as :class:`~decimal.Decimal` so that prices keep every digit.

    Raises:
        InputError: ``invalid-json`` (with line and column) or ``wrong-type`` if the top level is not a list.
    """
    text = decode_utf8(stream.read(), name)
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(
            [Issue("invalid-json", f"not valid JSON: {exc.msg}", source=name, line=exc.lineno, column=exc.colno)]
        ) from None
    if not isinstance(data, list):
        raise InputError(
            [
                Issue(
                    "wrong-type",
                    'expected a JSON list of projects at the top level, e.g. [{"Id": 1, ...}]',
                    source=name,
                )
            ]
        )
    for index, item in enumerate(data):
        yield RawRecord(item, f"{name}:[{index}]")
