"""JSON input: a list of project records, nested like the XML tree; and the JSON decoding all JSON inputs share."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from xmlsync.errors import InputError, Issue
from xmlsync.readers.base import RawRecord


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object, refusing a key given twice (plain json keeps the last value, silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


# Numbers with a fraction or an exponent become Decimal, so that prices keep every digit.
_DECODER = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_object)


def decode_json(text: str) -> Any:
    """Decode one JSON text as every JSON input is read.

    Raises:
        ValueError: With a message for users: not valid JSON (``json.JSONDecodeError``, with its position),
            a key given twice in one object, nesting deeper than Python can follow, or an integer of more
            than 4300 digits.
    """
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except _DuplicateKey as exc:
        raise ValueError(f'the key "{exc.key}" appears twice in one object; give each key once') from None
    except RecursionError:
        raise ValueError("the data is nested too deeply; a project record is a few levels deep") from None
    except ValueError:  # Python's limit on the digits of an integer
        raise ValueError("a number has more than 4300 digits; no value of a feed is that long") from None


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
        InputError: ``invalid-json`` (with line and column where known) or ``wrong-type`` if the top level is
            not a list.
    """
    text = decode_utf8(stream.read(), name)
    try:
        data = decode_json(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            [Issue("invalid-json", f"not valid JSON: {exc.msg}", source=name, line=exc.lineno, column=exc.colno)]
        ) from None
    except ValueError as exc:
        raise InputError([Issue("invalid-json", f"not valid JSON: {exc}", source=name)]) from None
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
