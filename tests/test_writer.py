"""Atomic output: a failed or interrupted build leaves the old file as it was and no partial file."""

from __future__ import annotations

import copy
import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from xmlsync import Split, build_file, write_feed, writer
from xmlsync.cli import cli
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


# -- split parts: only what this feed wrote is replaced or removed -----------------------------------------


def jsonl(path: Path, count: int) -> Path:
    records = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))
    lines = []
    for number in range(1, count + 1):
        record = copy.deepcopy(records[0])
        record["Id"] = number
        for offer_number, offer in enumerate(record["Offers"]):
            offer["Id"] = number * 10 + offer_number
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_files_named_like_parts_that_the_feed_did_not_write_are_kept(tmp_path: Path) -> None:
    many, few = jsonl(tmp_path / "many.jsonl", 5), jsonl(tmp_path / "few.jsonl", 2)
    out = tmp_path / "feed" / "offers.xml"
    out.parent.mkdir()
    for name in ("offers-2023.xml", "offers-12345.xml", "offers-0001.xml.bak", "offers.xml"):
        (out.parent / name).write_text(f"kept: {name}")
    first = build_file(many, out, split=Split(records=1))
    assert len(first.parts) == 5
    manifest = json.loads((out.parent / "offers.parts.json").read_text())
    assert [(p["file"], p["bytes"]) for p in manifest["parts"]] == [
        (Path(part).name, Path(part).stat().st_size) for part in first.parts
    ]
    (out.parent / "offers-0004.xml").write_text("edited by hand after the first run")
    build_file(few, out, split=Split(records=1))
    assert sorted(os.listdir(out.parent)) == [
        "offers-0001.xml",
        "offers-0001.xml.bak",
        "offers-0002.xml",
        "offers-0004.xml",  # listed, but changed since it was written: not ours to delete any more
        "offers-12345.xml",
        "offers-2023.xml",
        "offers.parts.json",
        "offers.xml",
    ]
    for name in ("offers-2023.xml", "offers-12345.xml", "offers-0001.xml.bak", "offers.xml"):
        assert (out.parent / name).read_text() == f"kept: {name}"


def test_a_part_name_taken_by_a_foreign_file_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    source = jsonl(tmp_path / "in.jsonl", 3)
    out = tmp_path / "offers.xml"
    (tmp_path / "offers-0002.xml").write_text("somebody else's file")
    result = runner.invoke(cli, ["build", str(source), "-o", str(out), "--split-records", "1"])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{tmp_path / 'offers-0002.xml'}: offers-0002.xml exists, but no earlier run of this feed wrote it (it is"
        " not listed in offers.parts.json); move it away, as xmlsync never overwrites a file it did not write"
        f" [foreign-file]\nError: 1 problem found; no part of {tmp_path}/offers-*.xml was written\n",
    )
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "offers-0002.xml"]
    assert (tmp_path / "offers-0002.xml").read_text() == "somebody else's file"


def test_a_foreign_file_where_the_part_list_goes_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    source = jsonl(tmp_path / "in.jsonl", 1)
    (tmp_path / "offers.parts.json").write_text('{"notes": "mine"}')
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "offers.xml"), "--split-bytes", "1MB"])
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        f"{tmp_path / 'offers.parts.json'}: offers.parts.json is where the list of this feed's parts goes, but"
        " xmlsync did not write it; move it away (xmlsync never overwrites a file it did not write) [foreign-file]",
    )
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "offers.parts.json"]


# -- outputs that would overwrite an input: usage errors before any work -------------------------------------


def usage_error(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    return result.stderr.splitlines()[-1]


def test_an_output_that_is_the_input_is_refused_before_any_work(runner: CliRunner, tmp_path: Path) -> None:
    source = jsonl(tmp_path / "in.jsonl", 1)
    before = source.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(source)
    assert usage_error(runner, ["build", str(source), "-o", str(source)]) == (
        f"Error: the output and the input are the same file ({source}); writing the output would destroy the"
        " input: choose another output"
    )
    assert usage_error(runner, ["build", str(source), "-o", str(tmp_path / "link.jsonl")]) == (
        f"Error: the output and the input are the same file ({tmp_path / 'link.jsonl'}); writing the output would"
        " destroy the input: choose another output"
    )
    assert usage_error(
        runner, ["build", str(source), "-o", str(tmp_path / "o.xml"), "--on-invalid", "skip", "--rejects", str(source)]
    ) == (
        f"Error: the rejects file and the input are the same file ({source}); writing the rejects file would destroy"
        " the input: choose another rejects file"
    )
    out = tmp_path / "o.xml"
    assert usage_error(
        runner, ["build", str(source), "-o", str(out), "--on-invalid", "skip", "--rejects", str(out)]
    ) == (
        f"Error: the rejects file and the output are the same file ({out}); writing the rejects file would destroy"
        " the output: choose another rejects file"
    )
    assert source.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "link.jsonl"]


def test_outputs_that_are_the_profile_or_the_database_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    erp = FIXTURES / "erp"
    profile = tmp_path / "erp.toml"
    profile.write_bytes((erp / "erp.toml").read_bytes())
    database = tmp_path / "offers.sqlite"
    database.write_bytes((erp / "offers.sqlite").read_bytes())
    csv_input = str(erp / "offers-cp1250.csv")
    assert usage_error(runner, ["build", csv_input, "--profile", str(profile), "-o", str(profile)]) == (
        f"Error: the output and the profile are the same file ({profile}); writing the output would destroy the"
        " profile: choose another output"
    )
    assert usage_error(
        runner, ["build", "--from-sql", f"sqlite:///{database}", "--table", "offers", "--profile", str(profile),
                 "-o", str(database)]
    ) == (
        f"Error: the output and the input are the same file ({database}); writing the output would destroy the"
        " input: choose another output"
    )  # fmt: skip
    assert usage_error(runner, ["mapping", "init", csv_input, "-o", csv_input]) == (
        f"Error: the output and the input are the same file ({csv_input}); writing the output would destroy the"
        " input: choose another output"
    )
    assert profile.read_bytes() == (erp / "erp.toml").read_bytes()
    assert database.read_bytes() == (erp / "offers.sqlite").read_bytes()


def test_an_input_named_like_a_part_of_the_split_feed_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    source = jsonl(tmp_path / "offers-0001.xml", 1)
    assert usage_error(
        runner, ["build", str(source), "--format", "jsonl", "-o", str(tmp_path / "offers.xml"), "--split-records", "5"]
    ) == (
        f"Error: the input {source} is named like a part of the split feed {tmp_path / 'offers.xml'}, which the build"
        " may overwrite: rename it or choose another output"
    )


def test_query_and_table_together_are_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{FIXTURES / 'erp' / 'offers.sqlite'}"
    args = ["build", "--from-sql", url, "--table", "offers", "--query", "SELECT 1", "-o", str(tmp_path / "o.xml")]
    assert usage_error(runner, args) == "Error: give either --query or --table, not both"


# -- temporary files go away: on a full disk, on SIGTERM, and after a kill --------------------------------------


def test_a_full_disk_leaves_no_temporary_file_and_the_old_output(tmp_path: Path) -> None:
    # A real full disk: a 64 KiB tmpfs in a private mount namespace (unshare -rm works without root).
    source = jsonl(tmp_path / "in.jsonl", 200)
    xmlsync = Path(sys.executable).parent / "xmlsync"
    script = (
        'set -e; mkdir -p "$DISK"; mount -t tmpfs -o size=64k tmpfs "$DISK"; echo old > "$DISK/offers.xml"; '
        'set +e; "$XMLSYNC" build "$SOURCE" -o "$DISK/offers.xml" -q; echo "exit=$?"; '
        'ls -a "$DISK"; cat "$DISK/offers.xml"'
    )
    env = {**os.environ, "DISK": str(tmp_path / "disk"), "XMLSYNC": str(xmlsync), "SOURCE": str(source)}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["exit=1", ".", "..", "offers.xml", "old"]
    assert done.stderr == (
        f"{tmp_path / 'disk' / 'offers.xml'}: cannot write the file: No space left on device [unwritable-output]\n"
        f"Error: 1 problem found; {tmp_path / 'disk' / 'offers.xml'} was not written\n"
    )


def test_discard_removes_the_file_even_when_closing_fails_again(tmp_path: Path) -> None:
    staged = writer._Staged(tmp_path / "feed.xml")

    class FullDisk(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    staged.handle.close()
    staged.handle = io.BufferedWriter(FullDisk())
    staged.handle.write(b"x" * 100)  # buffered: the flush in close() fails
    staged.discard()
    assert os.listdir(tmp_path) == []


def test_a_later_run_removes_only_its_own_stale_temporary_files(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = writer._HOST
    stale = tmp_path / f".feed.xml.{host}.{dead_pid}.abc123.tmp"
    running = tmp_path / f".feed.xml.{host}.{os.getppid()}.def456.tmp"  # a process that is alive
    other_host = tmp_path / f".feed.xml.otherhost.{dead_pid}.ghi789.tmp"
    other_feed = tmp_path / f".other.xml.{host}.{dead_pid}.jkl012.tmp"
    for path in (stale, running, other_host, other_feed):
        path.write_text("partial")
    with atomic_output(tmp_path / "feed.xml") as out:
        out.write(b"new")
    assert sorted(os.listdir(tmp_path)) == sorted([running.name, other_host.name, other_feed.name, "feed.xml"])


def test_a_reject_nested_too_deeply_to_write_again_is_written_as_null() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    out = io.BytesIO()
    writer.write_reject(out, "in.jsonl:3", 1, [], {"Id": 1, "X": deep})
    assert out.getvalue() == b'{"source": "in.jsonl:3", "rows": 1, "errors": [], "record": null}\n'


def test_a_reject_with_a_lone_surrogate_stays_valid_json() -> None:
    out = io.BytesIO()
    writer.write_reject(out, "in.json:[0]", 1, [], {"Name": "Kft.\ud800", "City": "Győr"})
    assert out.getvalue() == (
        b'{"source": "in.json:[0]", "rows": 1, "errors": [], "record": {"Name": "Kft.\\ud800", "City": "Gy\\u0151r"}}\n'
    )
    assert json.loads(out.getvalue())["record"]["Name"] == "Kft.\ud800"


def test_a_reject_keeps_huge_numbers_short() -> None:
    out = io.BytesIO()
    record = {"PriceNet": Decimal("1E-99999999"), "Quantity": Decimal("1250.50"), "VAT": Decimal("NaN")}
    writer.write_reject(out, "in.json:[0]", 1, [], record)
    assert out.getvalue() == (
        b'{"source": "in.json:[0]", "rows": 1, "errors": [], "record": {"PriceNet": "1E-99999999", "Quantity":'
        b' "1250.50", "VAT": "NaN"}}\n'
    )


# -- only regular files are ever replaced ---------------------------------------------------------------------

OFFERS = str(FIXTURES / "offers.json")


def test_build_onto_dev_null_writes_through_and_leaves_the_device(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["build", OFFERS, "-o", os.devnull], catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (
        0,
        f"{os.devnull}: wrote 2 projects, 3 offers, 5 products from 2 input rows, 0 rejected\n",
    )
    assert Path(os.devnull).is_char_device()


def test_export_onto_dev_null_leaves_the_device(runner: CliRunner, tmp_path: Path) -> None:
    feed = tmp_path / "offers.xml"
    runner.invoke(cli, ["build", OFFERS, "-o", str(feed)], catch_exceptions=False)
    result = runner.invoke(cli, ["export", str(feed), "-o", os.devnull], catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (0, f"{os.devnull}: wrote 2 records\n")
    assert Path(os.devnull).is_char_device()


def test_a_fifo_with_a_reader_gets_the_whole_feed_and_stays_a_fifo(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there; the feed fits the pipe's buffer
    try:
        result = runner.invoke(cli, ["build", OFFERS, "-o", str(fifo)], catch_exceptions=False)
        got = os.read(reader, 1 << 20)
        assert os.read(reader, 1) == b""  # the writer closed it: the reader sees the end
    finally:
        os.close(reader)
    expected = runner.invoke(cli, ["build", OFFERS, "-o", "-"], catch_exceptions=False).stdout_bytes
    assert (result.exit_code, got, fifo.is_fifo()) == (0, expected, True)


def test_a_fifo_nobody_reads_is_an_error_not_a_hang(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)
    result = runner.invoke(cli, ["build", OFFERS, "-o", str(fifo)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{fifo}: is a FIFO that nobody reads; start its reader first, then run xmlsync again [unwritable-output]\n"
        f"Error: 1 problem found; {fifo} was not written\n",
    )
    assert fifo.is_fifo()


def test_a_symlinked_output_replaces_its_target_and_stays_a_link(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "real.xml").write_bytes(b"old")
    (tmp_path / "real.xml").chmod(0o640)
    (tmp_path / "current.xml").symlink_to("real.xml")
    result = runner.invoke(cli, ["build", OFFERS, "-o", str(tmp_path / "current.xml")], catch_exceptions=False)
    assert result.exit_code == 0
    assert os.readlink(tmp_path / "current.xml") == "real.xml"
    assert (tmp_path / "real.xml").read_bytes().startswith(b"<?xml")
    assert (tmp_path / "real.xml").stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["current.xml", "real.xml"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    (tmp_path / "current.xml").symlink_to("real.xml")
    with atomic_output(tmp_path / "current.xml") as out:
        out.write(b"new")
    assert ((tmp_path / "current.xml").is_symlink(), (tmp_path / "real.xml").read_bytes()) == (True, b"new")


def test_a_split_feed_or_default_rejects_onto_a_device_are_refused(runner: CliRunner) -> None:
    split = runner.invoke(cli, ["build", OFFERS, "-o", os.devnull, "--split-records", "1"])
    assert (split.exit_code, split.stderr) == (
        1,
        f"{os.devnull}: is a device or a FIFO; a split feed's parts are files beside the output: give a file path"
        f" [not-a-file]\nError: 1 problem found; no part of {os.devnull}-* was written\n",
    )
    skip = runner.invoke(cli, ["build", OFFERS, "-o", os.devnull, "--on-invalid", "skip"])
    assert (skip.exit_code, skip.stderr.splitlines()[-1]) == (
        2,
        "Error: skipped records need a file: give --rejects PATH when the output is a device or a FIFO",
    )


def test_a_socket_or_a_folder_is_never_replaced(tmp_path: Path) -> None:
    import socket

    from xmlsync.errors import OutputError

    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        for target, what in ((path, "a socket"), (tmp_path, "a folder")):
            with pytest.raises(OutputError) as caught, atomic_output(target) as out:
                out.write(b"x")
            assert [str(issue) for issue in caught.value.issues] == [
                f"{target}: is {what}, which xmlsync never replaces; give the path of a file to write [not-a-file]"
            ]
        assert path.is_socket()
