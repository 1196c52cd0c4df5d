"""`xmlsync minicrm`: a system's categories and card fields from a loopback stand-in of MiniCRM's REST API,
saved to a file, and `validate --minicrm-schema` against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import GOLDEN, KEY, ROOT, MiniCRM
from xmlsync.cli import cli

HERE = ROOT / "tests" / "fixtures" / "minicrm"


@pytest.fixture
def system(minicrm: MiniCRM) -> MiniCRM:
    minicrm.rest.update({
        "/Api/R3/Category": json.loads((HERE / "category.json").read_text(encoding="utf-8")),
        "/Api/R3/Schema/Project/39": json.loads((HERE / "schema-39.json").read_text(encoding="utf-8")),
        "/Api/R3/Schema/Project/41": json.loads((HERE / "schema-41.json").read_text(encoding="utf-8")),
    })  # fmt: skip
    return minicrm


def run(runner: CliRunner, system: MiniCRM, *args: str) -> Any:
    result = runner.invoke(cli, ["minicrm", *args, "--base-url", system.url])
    assert KEY not in result.output
    return result


def test_categories(runner: CliRunner, system: MiniCRM, env: None) -> None:
    result = run(runner, system, "categories")
    assert (result.exit_code, result.stdout) == (0, "23\tÉrtékesítés\n39\tWebshop\n41\tAjánlatok\n")
    assert [request["path"] for request in system.received] == ["/Api/R3/Category"]


def test_the_schema_file_holds_the_fields_of_each_category_and_no_secret(
    runner: CliRunner, system: MiniCRM, env: None, tmp_path: Path, golden
) -> None:
    out = tmp_path / "schema.json"
    result = run(runner, system, "schema", "39", "--offer-category", "41", "-o", str(out))
    assert (result.exit_code, result.stderr) == (0, f"{out}: written, the fields of categories 39, 41\n")
    golden(out.read_bytes(), GOLDEN / "minicrm" / "schema.json")
    assert KEY.encode() not in out.read_bytes()
    assert [request["path"] for request in system.received] == [
        "/Api/R3/Category", "/Api/R3/Schema/Project/39", "/Api/R3/Schema/Project/41",
    ]  # fmt: skip


def test_validate_against_the_system(runner: CliRunner, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    result = runner.invoke(cli, ["validate", "--minicrm-schema", str(GOLDEN / "minicrm" / "schema.json"), "feed.xml"])
    assert result.exit_code == 1
    golden(result.stdout_bytes, GOLDEN / "minicrm" / "feed.txt")
    plain = runner.invoke(cli, ["validate", "feed.xml"])
    assert (plain.exit_code, plain.stdout) == (0, "feed.xml: valid\n")  # without the file: as before


def test_what_goes_wrong_is_one_line(runner: CliRunner, system: MiniCRM, env: None, tmp_path: Path) -> None:
    system.answers.append((401, "Unauthorized", {}, 0.0))
    refused = run(runner, system, "categories")
    assert (refused.exit_code, refused.stderr) == (
        1,
        f"{system.url}/Api/R3/Category: MiniCRM refused the request (401: Unauthorized); check MINICRM_SYSTEM_ID and"
        " MINICRM_API_KEY [minicrm-request]\nError: 1 problem found; nothing was fetched\n",
    )
    system.answers.append((200, "<html>Sign in</html>", {"Content-Type": "text/html"}, 0.0))
    portal = run(runner, system, "schema", "39", "-o", str(tmp_path / "s.json"))
    assert (portal.exit_code, portal.stderr.splitlines()[0]) == (
        1,
        f"{system.url}/Api/R3/Category: the answer is not MiniCRM's (HTTP 200, text/html: <html>Sign in</html>);"
        " check --base-url and the network [minicrm-request]",
    )
    assert not (tmp_path / "s.json").exists()
    clear = runner.invoke(cli, ["minicrm", "categories", "--base-url", "http://r3.minicrm.hu"])
    assert clear.exit_code == 2
    other = tmp_path / "other.json"
    other.write_text('{"kind": "something else"}')
    foreign = runner.invoke(cli, ["validate", "--minicrm-schema", str(other), str(HERE / "feed.xml")])
    assert (foreign.exit_code, foreign.stderr) == (
        1,
        f"{other}: is not a schema file xmlsync wrote; fetch one with xmlsync minicrm schema CATEGORY_ID -o FILE"
        " [minicrm-schema]\nError: 1 problem found; nothing was checked\n",
    )


def test_a_gzip_feed_is_checked_against_the_system_too(runner: CliRunner, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "feed.xml.gz"
    packed.write_bytes(gzip.compress((HERE / "feed.xml").read_bytes()))
    result = runner.invoke(cli, ["validate", "--minicrm-schema", str(GOLDEN / "minicrm" / "schema.json"), str(packed)])
    assert (result.exit_code, result.stdout.splitlines()[-1]) == (1, f"{packed}: not valid (10 errors, 1 warning)")


def test_push_and_sync_send_nothing_the_system_would_refuse(
    runner: CliRunner, system: MiniCRM, env: None, tmp_path: Path
) -> None:
    schema = str(GOLDEN / "minicrm" / "schema.json")
    pushed = runner.invoke(cli, ["push", "--base-url", system.url, "--minicrm-schema", schema, str(HERE / "feed.xml")])
    assert (pushed.exit_code, pushed.stderr.splitlines()[-1]) == (1, "Error: 10 problems found; nothing was sent")
    assert (
        f"{HERE / 'feed.xml'}:7: /Projects/Project[1]/StatusId (Project 1): 'Regisztrálva' is not a status of"
        " category 39; it has Regisztrált (3099), Feliratkozott (3100), Vásárolt (3101) [unknown-value]"
    ) in pushed.stderr.splitlines()
    records = json.loads((ROOT / "fixtures" / "offers.json").read_text(encoding="utf-8"))
    records[0]["CategoryId"], records[0]["StatusId"] = 39, "Nincs ilyen"
    source = tmp_path / "erp.json"
    source.write_text(json.dumps(records[:1], ensure_ascii=False), encoding="utf-8")
    synced = runner.invoke(
        cli,
        ["sync", str(source), "--state", str(tmp_path / "s.db"), "--base-url", system.url, "--minicrm-schema", schema],
    )
    assert (synced.exit_code, synced.stderr.splitlines()[-1]) == (1, "Error: 5 problems found; nothing was sent")
    assert "'Nincs ilyen' is not a status of category 39" in synced.stderr
    assert [r["path"] for r in system.received] == []
