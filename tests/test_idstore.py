"""The Id store: the same answers in memory and after it moved to its SQLite file."""

from __future__ import annotations

import pytest

from xmlsync.idstore import Place, SeenIds


@pytest.mark.parametrize("memory_keys", [1000, 2])
def test_first_get_and_add_new(memory_keys: int) -> None:
    a, b, c = Place("/P[1]", 3, "x.xml"), Place("/P[2]", None, "y.jsonl:2"), Place("/P[3]", 9, None)
    seen = SeenIds(memory_keys=memory_keys)
    try:
        assert seen.first("project", "1", a) is None
        assert seen.add_new([("project", "2", b), ("offer", "1", b), ("offer", "5", c)]) is True
        assert seen.first("project", "1", c) == a
        assert seen.get("offer", "5") == c
        assert seen.get("offer", "6") is None
        # a batch with a known key, or with one key twice, records nothing
        assert seen.add_new([("offer", "7", a), ("project", "2", c)]) is False
        assert seen.add_new([("offer", "8", a), ("offer", "8", b)]) is False
        assert seen.get("offer", "7") is None
        assert seen.get("offer", "8") is None
        assert seen.first("project", "2", a) == b
    finally:
        seen.close()
