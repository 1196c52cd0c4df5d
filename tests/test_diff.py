"""`xmlsync diff`: projects added, removed, changed and repeated, with the changed fields; exit 0, 1 or 2."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, SAMPLE_XML
from xmlsync import BuildConfig, build_file
from xmlsync.cli import cli
from xmlsync.diff import diff_feeds, flatten


def records() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))


def feed(tmp_path: Path, name: str, data: list[dict[str, Any]], *, pretty: bool = True) -> Path:
    source = tmp_path / f"{name}.json"
    source.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / f"{name}.xml"
    build_file(source, out, BuildConfig(pretty=pretty))
    return out


def changed_records() -> list[dict[str, Any]]:
    data = records()
    first = data[0]
    first["Name"] = "Changed Kft."
    first["Offers"][0]["Products"][0]["PriceNet"] = "47990.00"
    first["Business"]["Emails"].append("new@example.hu")
    del first["UserId"]
    added = copy.deepcopy(first)
    added["Id"] = 77777
    added["Offers"] = [dict(first["Offers"][0], Id=55555)]
    return [first, added]


def test_a_pretty_and_a_compact_feed_of_the_same_records_are_the_same(runner: CliRunner, tmp_path: Path) -> None:
    old, new = feed(tmp_path, "old", records()), feed(tmp_path, "new", records(), pretty=False)
    result = runner.invoke(cli, ["diff", str(old), str(new)], catch_exceptions=False)
    assert (result.exit_code, result.stdout) == (0, f"{old} -> {new}: the same (2 projects)\n")


def test_added_removed_and_changed_projects_with_their_fields(runner: CliRunner, tmp_path: Path) -> None:
    old, new = feed(tmp_path, "old", records()), feed(tmp_path, "new", changed_records())
    result = runner.invoke(cli, ["diff", str(old), str(new)])
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout.splitlines() == [
        f"~ Project 10001 ({old}:3 -> {new}:3): 4 changed",
        "    Name: 'Árvíztűrő Tükörfúrógép Kft.' -> 'Changed Kft.'",
        "    Business/Emails/Email[2]/Value: nothing -> 'new@example.hu'",
        "    Offers/Offer[Id=2024017]/Products/Product[Id=3001]/PriceNet: '48990' -> '47990'",
        "    UserId: 'Kovács Éva' -> nothing",
        f"+ Project 77777 ({new}:95): added",
        f"- Project 10002 ({old}:93): removed",
        f"{old} -> {new}: 3 projects differ: 1 added, 1 removed, 1 changed; 0 the same",
    ]


def test_the_json_report(runner: CliRunner, tmp_path: Path) -> None:
    old, new = feed(tmp_path, "old", records()), feed(tmp_path, "new", changed_records())
    result = runner.invoke(cli, ["diff", "--format", "json", str(old), str(new)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["format_version"] == 1 and (report["old"], report["new"]) == (str(old), str(new))
    assert [(p["id"], p["kind"], p["old_line"], p["new_line"], len(p["changes"])) for p in report["projects"]] == [
        ("10001", "changed", 3, 3, 4),
        ("77777", "added", None, 95, 0),
        ("10002", "removed", 93, None, 0),
    ]
    assert report["projects"][0]["changes"][3] == {"path": "UserId", "old": "Kovács Éva", "new": None}
    assert {key: report[key] for key in ("same", "added", "removed", "changed", "repeated", "unchanged")} == {
        "same": False, "added": 1, "removed": 1, "changed": 1, "repeated": 0, "unchanged": 0,
    }  # fmt: skip


def test_comments_whitespace_and_attribute_order_do_not_count(tmp_path: Path) -> None:
    text = SAMPLE_XML.read_text(encoding="utf-8")
    other = tmp_path / "other.xml"
    other.write_text(text.replace("<Name>Test Company</Name>", "<Name>  Test Company  </Name><!-- note -->", 1))
    result = diff_feeds(SAMPLE_XML, other)
    assert (list(result), result.same, result.counts["same"]) == ([], True, 1)


def test_an_id_used_twice_is_reported_in_either_feed(runner: CliRunner, tmp_path: Path) -> None:
    twice = records()
    twice[1]["Id"] = twice[0]["Id"]
    new = tmp_path / "new.xml"
    text = feed(tmp_path, "base", records()).read_text(encoding="utf-8")
    new.write_text(text.replace('<Project Id="10002">', '<Project Id="10001">'), encoding="utf-8")
    old = feed(tmp_path, "old", records())
    result = runner.invoke(cli, ["diff", str(old), str(new)])
    assert (result.exit_code, result.stdout.splitlines()) == (
        1,
        [
            f"! Project 10001 ({new}:93): its Id is used again in the same feed; not compared",
            f"- Project 10002 ({old}:93): removed",
            f"{old} -> {new}: 1 project differ: 0 added, 1 removed, 0 changed; 1 the same, 1 with a repeated Id",
        ],
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<Projects><Project Id='1'></Projects>", "x.xml:1:38: not well-formed XML: the end tag </Projects> does"
         " not close <Project> (line 1); write </Project>, or check the spelling of both [xml-syntax]"),
        ('<!DOCTYPE Projects [<!ENTITY a "b">]><Projects/>', "x.xml:1: the file declares a DOCTYPE, which XML Sync feeds"
         " never need and xmlsync does not process (no entity is expanded, no DTD loaded); remove the <!DOCTYPE ...>"
         " declaration [dtd-forbidden]"),
        ("<Offers/>", "x.xml:1: the root element is <Offers>; an XML Sync feed starts with <Projects> [wrong-root]"),
        ("  ", "x.xml:1: not well-formed XML: the file is empty [xml-syntax]"),
    ],
    ids=["syntax", "doctype", "wrong-root", "empty"],
)  # fmt: skip
def test_a_file_that_is_no_feed_is_trouble_exit_2(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.xml").write_text(content)
    for args in (["x.xml", str(SAMPLE_XML)], [str(SAMPLE_XML), "x.xml"]):
        result = runner.invoke(cli, ["diff", *args])
        assert (result.exit_code, result.stderr) == (2, f"{message}\n")


def test_usage_errors(runner: CliRunner, tmp_path: Path) -> None:
    both = runner.invoke(cli, ["diff", "-", "-"])
    assert (both.exit_code, both.stderr.splitlines()[-1]) == (2, "Error: only one of OLD and NEW can be - (stdin)")
    missing = runner.invoke(cli, ["diff", str(SAMPLE_XML), str(tmp_path / "none.xml")])
    assert (missing.exit_code, missing.stderr.splitlines()[-1]) == (
        2,
        f"Error: Invalid value for 'NEW': File '{tmp_path / 'none.xml'}' does not exist.",
    )


def test_stdin_as_the_new_feed(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["diff", str(SAMPLE_XML), "-"], input=SAMPLE_XML.read_bytes())
    assert (result.exit_code, result.stdout) == (0, f"{SAMPLE_XML} -> <stdin>: the same (1 projects)\n")


def test_flatten_names_repeated_elements_by_id_or_place() -> None:
    from lxml import etree

    project = etree.fromstring(
        b'<Project Id="1" X="y"><Name>N</Name><Contacts><Contact><FirstName>A</FirstName></Contact></Contacts>'
        b'<Offers><Offer Id="7"><Products><Product Id="3"><Name>P</Name></Product></Products></Offer>'
        b'<Offer Id="7"><Number>again</Number></Offer></Offers><Field>a</Field><Field>b</Field></Project>'
    )
    assert flatten(project) == {
        "@X": "y",
        "Name": "N",
        "Contacts/Contact[1]/FirstName": "A",
        "Offers/Offer[Id=7]/Products/Product[Id=3]/Name": "P",
        "Offers/Offer[Id=7]+/Number": "again",
        "Field[1]": "a",
        "Field[2]": "b",
    }


def test_siblings_that_share_an_id_are_compared_in_linear_time(tmp_path: Path) -> None:
    import time

    def feed(count: int, price: str) -> bytes:
        products = "".join(f'<Product Id="5"><PriceNet>{price}</PriceNet></Product>' for _ in range(count))
        return f'<Projects><Project Id="1"><Offers><Offer Id="1"><Products>{products}</Products></Offer></Offers></Project></Projects>'.encode()

    started = time.monotonic()
    [entry] = list(diff_feeds(feed(8000, "1"), feed(8000, "2")))
    assert time.monotonic() - started < 5  # 64 s before, cubic in the siblings
    assert (len(entry.changes), entry.changes[0].path, entry.changes[2].path) == (
        8000,
        "Offers/Offer[Id=1]/Products/Product[Id=5]/PriceNet",
        "Offers/Offer[Id=1]/Products/Product[Id=5]+2/PriceNet",
    )


def test_a_full_temporary_disk_is_trouble_exit_2_not_a_difference(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    import tempfile

    import xmlsync.diff

    connect = sqlite3.connect

    class Full:
        def __init__(self) -> None:
            self.real = connect(":memory:", isolation_level=None)

        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.real.execute(sql, *args)

        def close(self) -> None:
            self.real.close()

    monkeypatch.setattr(xmlsync.diff.sqlite3, "connect", lambda *args, **kwargs: Full())
    result = runner.invoke(cli, ["diff", str(SAMPLE_XML), str(SAMPLE_XML)])
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"{SAMPLE_XML}: cannot keep the old feed's projects in a temporary file in {tempfile.gettempdir()} (database"
        " or disk is full); free some space there, or point TMPDIR at a folder with room [diff-store]\n",
    )
