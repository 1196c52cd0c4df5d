"""Read: input files -> plain records, each with the place it came from.

A reader yields :class:`RawRecord` items lazily; mapping them to typed records is the next step
(:mod:`xmlsync.walk`).
"""

from __future__ import annotations

from xmlsync.readers.base import RawRecord, Row, open_input
from xmlsync.readers.json_reader import read_json
from xmlsync.readers.jsonl_reader import read_jsonl

__all__ = ["RawRecord", "Row", "open_input", "read_json", "read_jsonl"]
