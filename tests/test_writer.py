"""Atomic output: a failed or interrupted build leaves the old file as it was and no partial file."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from xmlsync import build_file, write_feed
from xmlsync.readers import RawRecord, read_json
from xmlsync.writer import atomic_output


def test_atomic_output_replaces_the_file_on_success(tmp_path: Path) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with atomic_output(target) as out:
        out.write(b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["feed.xml"]


def test_a_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "feed.xml") as out:
            out.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "feed.xml").stat().st_mode & 0o777 == 0o644


def test_atomic_output_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "feed.xml"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_output(target) as out:
        out.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["feed.xml"]


def test_a_build_killed_after_some_projects_leaves_no_file(tmp_path: Path) -> None:
    records = list(read_json(io.BytesIO((FIXTURES / "offers.json").read_bytes()), "offers.json"))

    def interrupted() -> Iterator[RawRecord]:
        yield records[0]
        raise KeyboardInterrupt

    target = tmp_path / "feed.xml"
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as out:
        write_feed(interrupted(), out)
    assert os.listdir(tmp_path) == []


def test_build_file_writes_nothing_when_a_record_is_bad(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text('[{"Id": 1}]')
    target = tmp_path / "feed.xml"
    with pytest.raises(ValueError, match=r'missing required field "Name"'):
        build_file(source, target)
    assert sorted(os.listdir(tmp_path)) == ["in.json"]
