"""Big feeds: split output, skipping invalid records, progress, determinism, interrupted runs."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from tests.conftest import FIXTURES
from xmlsync import (
    BuildConfig,
    InputError,
    OptionsError,
    OutputError,
    build_file,
    check_file,
    idstore,
    pipeline,
    rules,
    write_feed,
    writer,
)
from xmlsync.cli import ByteSize, ProgressLine, cli
from xmlsync.pipeline import Progress, Split, write_projects
from xmlsync.profiles import load_profile
from xmlsync.readers import RawRecord
from xmlsync.validate import BATCH
from xmlsync.writer import SplitFeed

NAMES = ["Árvíztűrő Tükörfúrógép Kft.", "Kovács & Társa Bt.", "Mihăilă Ioana PFA", "Țăranu <Ștefan>"]


def record(number: int) -> dict[str, Any]:
    """A valid project record; its size depends on ``number`` only through its digits."""
    name = NAMES[number % len(NAMES)]
    return {
        "Id": number,
        "Name": name,
        "CategoryId": 39,
        "StatusId": "Regisztrált",
        "Business": {"Name": name, "Emails": [f"iroda{number}@example.hu"]},
        "Offers": [
            {
                "Id": 9000 + number,
                "Number": f"OF-{number}",
                "CurrencyCode": "HUF",
                "Prompt": "2024-04-15 16:00:00",
                "Performance": "2024-04-05",
                "Issued": "2024-04-01 09:30:00",
                "Subject": 'Ajánlat "akció"',
                "Status": "Accepted",
                "Customer": {
                    "Name": name,
                    "CountryId": "Magyarország",
                    "PostalCode": "1042",
                    "City": "Budapest",
                    "Address": "Árpád út 5.",
                },
                "Products": [
                    {
                        "Id": line,
                        "Name": f"Termék {line} \u2013 ütvefúró",
                        "PriceNet": f"{1000 + line}.50",
                        "Quantity": "2",
                        "Unit": "darab",
                        "VAT": "27%",
                        "FolderName": "ERP termékek",
                    }
                    for line in (1, 2)
                ],
            }
        ],
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def project_ids(data: bytes) -> list[str]:
    report = check_file(data, name="part.xml")
    assert report.valid, [str(issue) for issue in report.issues]
    return [str(el.get("Id")) for el in etree.fromstring(data)]


@pytest.mark.parametrize("pretty", [True, False])
def test_split_by_records_gives_valid_parts_holding_every_project_once(tmp_path: Path, pretty: bool) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(n) for n in range(1, 12)])
    (tmp_path / "out").mkdir()
    result = build_file(source, tmp_path / "out" / "offers.xml", BuildConfig(pretty=pretty), split=Split(records=4))
    names = ["offers-0001.xml", "offers-0002.xml", "offers-0003.xml"]
    assert sorted(os.listdir(tmp_path / "out")) == [*names, "offers.parts.json"]
    assert result.parts == tuple(str(tmp_path / "out" / name) for name in names)
    ids = [project_ids((tmp_path / "out" / name).read_bytes()) for name in names]
    assert ids == [["1", "2", "3", "4"], ["5", "6", "7", "8"], ["9", "10", "11"]]
    assert result.summary() == (
        "11 projects, 11 offers, 22 products from 11 input rows, 0 rejected,"
        " in 3 files (offers-0001.xml to offers-0003.xml)"
    )


def test_split_by_bytes_keeps_each_part_under_the_limit(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(n) for n in range(1, 21)])
    (tmp_path / "out").mkdir()
    whole = build_file(source, tmp_path / "whole.xml")
    result = build_file(source, tmp_path / "out" / "offers.xml", split=Split(size=8000))
    sizes = [os.path.getsize(part) for part in result.parts]
    assert all(size <= 8000 for size in sizes)
    assert len(result.parts) == 4  # each project is about 2 KB: three fit in 8000 bytes, with the wrapper
    ids = [i for part in result.parts for i in project_ids(Path(part).read_bytes())]
    assert ids == [str(n) for n in range(1, 21)]
    assert whole.projects == result.projects == 20


def test_split_parts_are_deterministic_and_stale_parts_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "offers.xml"
    many = write_jsonl(tmp_path / "many.jsonl", [record(n) for n in range(1, 10)])
    few = write_jsonl(tmp_path / "few.jsonl", [record(n) for n in range(1, 4)])
    (tmp_path / "offers-notes.xml").write_text("not a part")
    first = build_file(many, out, split=Split(records=2))
    first_bytes = [Path(p).read_bytes() for p in first.parts]
    again = build_file(many, out, split=Split(records=2))
    assert [Path(p).read_bytes() for p in again.parts] == first_bytes
    assert len(first.parts) == 5
    build_file(few, out, split=Split(records=2))
    assert sorted(os.listdir(tmp_path)) == [
        "few.jsonl",
        "many.jsonl",
        "offers-0001.xml",
        "offers-0002.xml",
        "offers-notes.xml",
        "offers.parts.json",
    ]


def test_identical_input_gives_byte_identical_files(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(n) for n in range(1, 6)])
    build_file(source, tmp_path / "a.xml")
    build_file(source, tmp_path / "b.xml")
    assert (tmp_path / "a.xml").read_bytes() == (tmp_path / "b.xml").read_bytes()


def test_an_empty_feed_split_is_one_empty_part(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [])
    result = build_file(source, tmp_path / "offers.xml", split=Split(records=2))
    assert [Path(p).read_bytes() for p in result.parts] == [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Projects></Projects>\n'
    ]


@pytest.mark.parametrize("pretty", [True, False])
def test_a_project_larger_than_the_part_limit_is_an_error(tmp_path: Path, pretty: bool) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    whole = io.BytesIO()
    build_file(source, whole, BuildConfig(pretty=pretty))
    size = len(whole.getvalue())  # the part would be exactly the unsplit feed
    assert 1000 < size < 3000
    with pytest.raises(OutputError) as caught:
        build_file(source, tmp_path / "offers.xml", BuildConfig(pretty=pretty), split=Split(size=1000))
    assert [str(issue) for issue in caught.value.issues] == [
        f"{source}:1 (Project 1): this project alone makes a part of {size} bytes, more than the limit of 1000;"
        " raise --split-bytes [project-too-large]"
    ]
    assert os.listdir(tmp_path) == ["in.jsonl"]
    exact = build_file(source, tmp_path / "offers.xml", BuildConfig(pretty=pretty), split=Split(size=size))
    assert Path(exact.parts[0]).read_bytes() == whole.getvalue()


def interrupted(count: int) -> Iterator[RawRecord]:
    """Yield ``count`` valid records, then fail as a crash or a kill in the middle of a run would."""
    for number in range(1, count + 1):
        yield RawRecord(record(number), f"gen:{number}")
    raise RuntimeError("killed")


def test_a_split_build_killed_after_some_projects_leaves_the_old_parts(tmp_path: Path) -> None:
    old = tmp_path / "offers-0001.xml"
    old.write_bytes(b"old part")
    with pytest.raises(RuntimeError, match="killed"), SplitFeed(tmp_path / "offers.xml", max_projects=2) as parts:
        write_projects(interrupted(5), parts)
    assert os.listdir(tmp_path) == ["offers-0001.xml"]
    assert old.read_bytes() == b"old part"


def test_a_build_killed_after_some_projects_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "offers.xml"
    target.write_bytes(b"old feed")
    monkeypatch.setattr(pipeline, "read_records", lambda spec, profile, **options: interrupted(3))
    with pytest.raises(RuntimeError, match="killed"):
        build_file("unused.jsonl", target, on_invalid="skip")
    assert os.listdir(tmp_path) == ["offers.xml"]
    assert target.read_bytes() == b"old feed"


def test_skip_writes_the_valid_projects_and_rejects_with_their_errors(tmp_path: Path) -> None:
    bad_date = record(2)
    bad_date["Offers"][0]["Issued"] = "30/09/2021"
    duplicate = record(3)
    duplicate["Id"] = 1
    source = write_jsonl(tmp_path / "in.jsonl", [record(1), bad_date, duplicate, record(4)])
    result = build_file(source, tmp_path / "offers.xml", on_invalid="skip")
    assert project_ids((tmp_path / "offers.xml").read_bytes()) == ["1", "4"]
    assert result.rejects == str(tmp_path / "offers.rejects.jsonl")
    assert result.summary() == (
        f"2 projects, 2 offers, 4 products from 4 input rows, 2 rejected; skipped 2 invalid records,"
        f" listed in {tmp_path / 'offers.rejects.jsonl'}"
    )
    lines = [json.loads(line) for line in (tmp_path / "offers.rejects.jsonl").read_text("utf-8").splitlines()]
    assert [(line["source"], line["rows"], line["record"]) for line in lines] == [
        (f"{source}:2", 1, bad_date),
        (f"{source}:3", 1, duplicate),
    ]
    assert [[(e["code"], e["path"], e["message"]) for e in line["errors"]] for line in lines] == [
        [
            (
                "invalid-date",
                "Offers[1].Issued",
                "'30/09/2021' is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13",
            )
        ],
        [
            (
                "duplicate-project-id",
                "/Projects/Project[3]/@Id",
                f"Project Id 1 is used again; first at {source}:1: /Projects/Project[1]. MiniCRM upserts cards by"
                " Id, so the later one would overwrite the earlier: give each card its own Id",
            )
        ],
    ]


def test_skip_with_nothing_invalid_still_replaces_the_rejects_file(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    (tmp_path / "rejects.jsonl").write_text("stale\n")
    result = build_file(source, tmp_path / "offers.xml", on_invalid="skip", rejects=tmp_path / "rejects.jsonl")
    assert (tmp_path / "rejects.jsonl").read_bytes() == b""
    assert result.skipped == 0


def test_progress_tells_the_share_of_a_jsonl_or_csv_file_read(tmp_path: Path) -> None:
    count = BATCH * 2 + 3
    source = write_jsonl(tmp_path / "in.jsonl", [record(n) for n in range(1, count + 1)])
    lines = source.read_bytes().splitlines(keepends=True)
    size = source.stat().st_size
    seen: list[Progress] = []
    build_file(source, tmp_path / "offers.xml", progress=seen.append)
    assert [p.fraction for p in seen] == [
        sum(map(len, lines[:BATCH])) / size,
        sum(map(len, lines[: 2 * BATCH])) / size,
        1.0,
        1.0,
    ]
    erp = FIXTURES / "erp"
    header, row = list(csv.reader(io.StringIO((erp / "offers-cp1250.csv").read_text(encoding="cp1250"))))[:2]
    table = io.StringIO()
    for n in range(1, count + 1):  # one project of one offer per row
        ids = {"Partnerkód": str(n), "Ajánlatszám": f"OF-{n}"}
        csv.writer(table).writerow([ids.get(column, value) for column, value in zip(header, row, strict=True)])
    source = tmp_path / "in.csv"
    source.write_text(",".join(header) + "\n" + table.getvalue(), encoding="cp1250")
    seen.clear()
    build_file(source, tmp_path / "offers.xml", profile=load_profile(erp / "erp.toml"), progress=seen.append)
    fractions = [p.fraction for p in seen]
    assert len(fractions) == 4 and fractions[-2:] == [1.0, 1.0]
    assert 0 < fractions[0] < fractions[1] <= 1.0  # a text reader reads ahead by a block: near, not exact
    listed = tmp_path / "in.json"
    listed.write_text(json.dumps([record(n) for n in range(1, count + 1)], default=str))
    seen.clear()
    build_file(listed, tmp_path / "offers.xml", progress=seen.append)
    assert [p.fraction for p in seen] == [None] * 4  # a JSON list is read whole before its first record


def test_skip_to_a_stream_needs_a_rejects_path(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    with pytest.raises(OptionsError) as skipped:  # decided by the library; the CLI shows it as a usage error
        build_file(source, io.BytesIO(), on_invalid="skip")
    assert str(skipped.value) == "--on-invalid skip with -o - needs --rejects PATH [options]"
    with pytest.raises(OptionsError) as split:
        build_file(source, io.BytesIO(), split=Split(records=1))
    assert str(split.value) == "--split-records and --split-bytes write files: give -o PATH, not -o - [options]"
    with pytest.raises(OptionsError) as full:
        build_file(source, tmp_path / "o.xml", full=True)
    assert str(full.value) == "--full is for a delta build with --state [options]"
    assert not (tmp_path / "o.xml").exists()


def test_progress_is_reported_while_building_and_at_the_end(tmp_path: Path) -> None:
    count = BATCH * 2 + 3
    seen: list[Progress] = []
    sink = io.BytesIO()
    result = write_feed((RawRecord(record(n), f"gen:{n}") for n in range(1, count + 1)), sink, progress=seen.append)
    assert result.projects == count
    assert [(p.records, p.projects, p.done) for p in seen] == [
        (BATCH, BATCH, False),
        (2 * BATCH, 2 * BATCH, False),
        (count, count, False),
        (count, count, True),
    ]


def test_the_progress_line_waits_a_second_then_shows_rate_and_elapsed() -> None:
    out = io.StringIO()
    line = ProgressLine(out)
    line(Progress(records=500, projects=500, skipped=0, elapsed=0.5))
    assert out.getvalue() == ""
    line(Progress(records=3000, projects=2990, skipped=10, elapsed=1.5))
    line(Progress(records=3100, projects=3090, skipped=10, elapsed=1.6))  # within 0.2 s: not redrawn
    line(Progress(records=150000, projects=150000, skipped=0, elapsed=75.0, done=True))
    assert out.getvalue() == (
        "\r3,000 records, 2,000/s, 0:01 elapsed (2,990 projects written, 10 skipped)\x1b[K"
        "\r150,000 records, 2,000/s, 1:15 elapsed (150,000 projects written)\x1b[K\n"
    )


def test_the_progress_line_draws_a_bar_and_the_time_left_when_the_share_read_is_known() -> None:
    out = io.StringIO()
    line = ProgressLine(out)
    line(Progress(records=3000, projects=2990, skipped=10, elapsed=2.0, fraction=0.25))
    line(Progress(records=9000, projects=9000, skipped=0, elapsed=4000.0, fraction=0.5))
    line(Progress(records=150000, projects=150000, skipped=0, elapsed=8000.0, done=True, fraction=1.0))
    assert out.getvalue().split("\r") == [
        "",
        "[#####...............]  25%  3,000 records, 1,500/s, 0:02 elapsed, about 0:06 left, 10 skipped\x1b[K",
        "[##########..........]  50%  9,000 records, 2/s, 1:06:40 elapsed, about 1:06:40 left\x1b[K",
        "[####################] 100%  150,000 records, 19/s, 2:13:20 elapsed\x1b[K\n",
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [("8000", 8000), ("500k", 500_000), ("50MB", 50_000_000), ("1GiB", 2**30), ("2 mib", 2 * 2**20)],
)
def test_sizes(text: str, size: int) -> None:
    assert ByteSize().convert(text, None, None) == size


def test_cli_split_skip_and_quiet(runner: CliRunner, tmp_path: Path) -> None:
    bad = record(2)
    bad["Offers"][0]["Products"][0]["PriceNet"] = "12,50"
    source = write_jsonl(tmp_path / "in.jsonl", [record(1), bad, record(3), record(4)])
    out = tmp_path / "offers.xml"
    result = runner.invoke(
        cli, ["build", str(source), "-o", str(out), "--split-records", "2", "--on-invalid", "skip", "--compact"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"{out}: wrote 3 projects, 3 offers, 6 products from 4 input rows, 1 rejected, in 2 files (offers-0001.xml"
        f" to offers-0002.xml); skipped 1 invalid record, listed in {tmp_path / 'offers.rejects.jsonl'}\n"
    )
    assert sorted(os.listdir(tmp_path)) == [
        "in.jsonl",
        "offers-0001.xml",
        "offers-0002.xml",
        "offers.parts.json",
        "offers.rejects.jsonl",
    ]
    quiet = runner.invoke(cli, ["build", str(source), "-o", str(out), "--on-invalid", "skip", "--quiet"])
    assert (quiet.exit_code, quiet.stderr) == (0, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "-", "--split-records", "2"], "--split-records and --split-bytes write files: give -o PATH, not -o -"),
        (["-o", "x.xml", "--rejects", "r.jsonl"], "--rejects is for the records skipped by --on-invalid skip"),
        (["-o", "-", "--on-invalid", "skip"], "--on-invalid skip with -o - needs --rejects PATH"),
        (
            ["-o", "x.xml", "--split-bytes", "12x"],
            "Invalid value for '--split-bytes': '12x' is not a size; use e.g. 50MB, 500k or 1GiB",
        ),
        (["-o", "x.xml", "--split-records", "0"], "Invalid value for '--split-records': 0 is not in the range x>=1."),
    ],
)
def test_cli_scale_usage_errors(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["build", str(source), *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert sorted(os.listdir(".")) == ["in.jsonl"]


def test_cli_split_too_small_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    out = tmp_path / "feed" / "offers.xml"
    out.parent.mkdir()
    result = runner.invoke(cli, ["build", str(source), "-o", str(out), "--split-bytes", "1k"])
    assert result.exit_code == 1
    size = len(runner.invoke(cli, ["build", str(source), "-o", "-"]).stdout_bytes)
    assert result.stderr == (
        f"{source}:1 (Project 1): this project alone makes a part of {size} bytes, more than the limit of 1000;"
        f" raise --split-bytes [project-too-large]\n"
        f"Error: 1 problem found; no part of {out.parent}/offers-*.xml was written\n"
    )
    assert os.listdir(out.parent) == []


def _peak_python_memory(count: int, tmp_path: Path) -> int:
    import tracemalloc

    def records() -> Iterator[RawRecord]:
        for number in range(1, count + 1):
            data = record(number)
            if number % 2:  # a date the fast path leaves to the usual way
                data["Offers"][0]["Prompt"] = "2024-04-15T16:00:00"
            yield RawRecord(data, f"gen:{number}")

    tracemalloc.start()
    try:
        with (tmp_path / f"out-{count}.xml").open("wb") as out:
            write_feed(records(), out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What may grow is bounded on purpose: Ids in memory before they move to SQLite, values known good.
    monkeypatch.setattr(idstore, "MEMORY_KEYS", 100)
    monkeypatch.setattr(rules, "_GOOD_VALUES", 500)
    small, large = _peak_python_memory(300, tmp_path), _peak_python_memory(3000, tmp_path)
    # A record takes about 2 KB as XML and several as objects: keeping it, or its tree, would show here
    # (a leak found this way kept 6.5 KB a record); bounded caches and allocator noise stay far below.
    assert (large - small) / 2700 < 500, (small, large)


def test_a_duplicate_past_the_in_memory_ids_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idstore, "MEMORY_KEYS", 50)  # the Ids move to SQLite after 25 projects
    records = [record(n) for n in range(1, 301)]
    records[250]["Id"] = 7
    source = write_jsonl(tmp_path / "in.jsonl", records)
    with pytest.raises(InputError) as caught:
        build_file(source, tmp_path / "offers.xml")
    assert [str(issue) for issue in caught.value.issues] == [
        f"{source}:251: /Projects/Project[251]/@Id (Project 7): Project Id 7 is used again; first at {source}:7:"
        " /Projects/Project[7]. MiniCRM upserts cards by Id, so the later one would overwrite the earlier: give"
        " each card its own Id [duplicate-project-id]"
    ]


def test_several_jobs_write_the_same_bytes_and_rejects(tmp_path: Path) -> None:
    records = [record(n) for n in range(1, 251)]
    records[10]["Offers"][0]["Issued"] = "30/09/2021"  # invalid: skipped
    records[120]["Id"] = 3  # a duplicate found across batches: skipped
    records[200]["Offers"][0]["Prompt"] = "2024-04-15T16:00:00"  # valid, takes the usual way
    source = write_jsonl(tmp_path / "in.jsonl", records)
    results = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}" / "offers.xml"
        out.parent.mkdir()
        result = build_file(source, out, on_invalid="skip", split=Split(records=100), jobs=jobs)
        parts = [Path(part).read_bytes() for part in result.parts]
        rejects = (out.parent / "offers.rejects.jsonl").read_bytes()
        results.append((replace(result, rejects=None, parts=()), parts, rejects))
    assert results[0] == results[1]
    assert results[0][0].projects == 248
    assert [json.loads(line)["source"] for line in results[0][2].splitlines()] == [f"{source}:11", f"{source}:121"]


def test_cli_jobs(runner: CliRunner, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [record(n) for n in range(1, 4)])
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "o.xml"), "--jobs", "auto", "-q"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert project_ids((tmp_path / "o.xml").read_bytes()) == ["1", "2", "3"]
    for jobs in ("0", "\u00b2"):  # "²".isdigit() is true, but it is no number
        wrong = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "o.xml"), "--jobs", jobs])
        assert wrong.exit_code == 2
        assert wrong.stderr.splitlines()[-1] == (
            f"Error: Invalid value for '-j' / '--jobs': {jobs!r} is not a number of processes; use e.g. 4, or auto for"
            " one per CPU"
        )


def _descendants(pid: int) -> set[int]:
    found, pending = set(), [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found.update(int(child) for child in children)
        pending.extend(int(child) for child in children)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait(condition: Any, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _running_build(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, set[int]]:
    """Start ``xmlsync build - -j 2`` on a pipe that stays open; return it once it writes its temporary file."""
    out = tmp_path / "offers.xml"
    out.write_bytes(b"old feed")
    xmlsync = Path(sys.executable).parent / "xmlsync"
    process = subprocess.Popen(
        [str(xmlsync), "build", "-", "--format", "jsonl", "-o", str(out), "-j", "2", "-q"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write("".join(json.dumps(record(n)) + "\n" for n in range(1, 1001)).encode())
    process.stdin.flush()  # and kept open: the build waits for more records
    assert _wait(lambda: len([n for n in os.listdir(tmp_path) if n.endswith(".tmp")]) == 1)
    assert _wait(lambda: len(_descendants(process.pid)) >= 3)  # the forkserver and two workers at least
    return process, out, _descendants(process.pid)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_removes_the_temporary_file_keeps_the_old_output_and_ends_the_workers(
    tmp_path: Path, stop: signal.Signals
) -> None:
    process, out, children = _running_build(tmp_path)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=30)
    message = f"Error: stopped by {stop.name}; no output was written or changed\n".encode()
    assert (process.returncode, stderr) == (128 + stop, message)
    assert os.listdir(tmp_path) == ["offers.xml"]
    assert out.read_bytes() == b"old feed"
    assert _wait(lambda: not _alive(children)), _alive(children)


def test_sigkill_of_the_main_process_ends_the_workers_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    process, out, children = _running_build(tmp_path)
    process.kill()
    process.communicate(timeout=30)
    assert _wait(lambda: not _alive(children), 10.0), _alive(children)
    [temporary] = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert temporary.startswith(f".offers.xml.{writer._HOST}.{process.pid}.")
    assert out.read_bytes() == b"old feed"
    source = write_jsonl(tmp_path / "in.jsonl", [record(1)])
    build_file(source, out)
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "offers.xml"]
