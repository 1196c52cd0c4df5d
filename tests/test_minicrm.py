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
    assert (synced.exit_code, synced.stderr.splitlines()) == (
        0,
        [
            f"skipped: {source}:[0]: /Projects/Project[1]/StatusId (Project 10001): 'Nincs ilyen' is not a status of"
            " category 39; it has Vásárolt (3101), Regisztrált (3099), Feliratkozott (3100) [unknown-value]"
        ],
    )  # the record is set aside as any invalid record is; the night has nothing else to send
    assert [r["path"] for r in system.received] == []


def test_build_writes_nothing_the_system_would_refuse(runner: CliRunner, tmp_path: Path) -> None:
    schema = str(GOLDEN / "minicrm" / "schema.json")
    records = json.loads((ROOT / "fixtures" / "offers.json").read_text(encoding="utf-8"))[:2]
    for record, status in zip(records, ["Nincs ilyen", "3099"], strict=True):  # else as the system holds it
        record.update(CategoryId=39, StatusId=status, UserId="Kovács Éva")
        record.pop("Fields", None)
        for offer in record["Offers"]:
            offer["Status"] = "Elfogadva"
            offer.pop("Project", None)
    source = tmp_path / "erp.json"
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "o.xml"
    refused = runner.invoke(cli, ["build", str(source), "--minicrm-schema", schema, "-o", str(out)])
    assert (refused.exit_code, refused.stderr.splitlines()) == (
        1,
        [
            f"{source}:[0]: /Projects/Project[1]/StatusId (Project 10001): 'Nincs ilyen' is not a status of category"
            " 39; it has Vásárolt (3101), Regisztrált (3099), Feliratkozott (3100) [unknown-value]",
            f"Error: 1 problem found; {out} was not written",
        ],
    )
    assert not out.exists()
    skipped = runner.invoke(
        cli, ["build", str(source), "--minicrm-schema", schema, "-o", str(out), "--on-invalid", "skip"]
    )
    assert skipped.exit_code == 0
    assert out.read_text(encoding="utf-8").count("<Project ") == 1
    [reject] = (tmp_path / "o.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(reject)["errors"][0]["code"] == "unknown-value"
    without = runner.invoke(cli, ["build", str(source), "-o", str(out)])
    assert (without.exit_code, out.read_text(encoding="utf-8").count("<Project ")) == (0, 2)


def test_a_profile_names_the_schema_file_and_the_flag_overrides_it(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "minicrm-schema.json").write_bytes((GOLDEN / "minicrm" / "schema.json").read_bytes())
    profile = tmp_path / "erp.toml"
    profile.write_text('[policy]\nminicrm_schema = "minicrm-schema.json"\n', encoding="utf-8")
    checked = runner.invoke(cli, ["validate", "--profile", str(profile), str(HERE / "feed.xml")])
    assert (checked.exit_code, checked.stdout.splitlines()[-1]) == (
        1,
        f"{HERE / 'feed.xml'}: not valid (10 errors, 1 warning)",
    )
    shown = runner.invoke(
        cli, ["-v", "build", str(ROOT / "fixtures" / "offers.json"), "--profile", str(profile), "-o", "-"]
    )
    assert (
        f"{profile}: policy: checked against the MiniCRM system's schema: {tmp_path / 'minicrm-schema.json'} (profile)"
        in shown.stderr.splitlines()
    )
    other = tmp_path / "other.json"
    other.write_text("{}", encoding="utf-8")
    overridden = runner.invoke(
        cli, ["validate", "--profile", str(profile), "--minicrm-schema", str(other), str(HERE / "feed.xml")]
    )
    assert (overridden.exit_code, overridden.stderr.splitlines()[-1]) == (
        1,
        "Error: 1 problem found; nothing was checked",
    )
    (tmp_path / "minicrm-schema.json").unlink()
    gone = runner.invoke(cli, ["validate", "--profile", str(profile), str(HERE / "feed.xml")])
    assert (gone.exit_code, gone.stderr) == (
        1,
        f"{tmp_path / 'minicrm-schema.json'}: cannot read the schema file: No such file or directory [minicrm-schema]\n"
        "Error: 1 problem found; nothing was checked\n",
    )


MAPPING = ROOT / "tests" / "fixtures" / "mapping"


def test_mapping_init_offers_the_systems_value_maps_and_fields(runner: CliRunner, tmp_path: Path, golden) -> None:
    schema = str(GOLDEN / "minicrm" / "schema.json")
    export = MAPPING / "hu-export.csv"
    result = runner.invoke(cli, ["mapping", "init", str(export), "--encoding", "cp1250", "--minicrm-schema", schema])
    assert result.exit_code == 0
    golden(result.stdout_bytes, GOLDEN / "minicrm" / "hu-export.toml")
    assert '"Project.CategoryId" = 39   # the card category of the schema file' in result.stdout
    assert '"Elküldve" = "2895"   # Elküldve' in result.stdout  # the export's status, by the system's label
    assert "File(10MB)" not in result.stdout  # XML Sync cannot upload files: not offered


def test_mapping_check_says_what_the_system_would_refuse_of_a_profile(runner: CliRunner, tmp_path: Path) -> None:
    schema = str(GOLDEN / "minicrm" / "schema.json")
    export = MAPPING / "hu-export.csv"
    made = runner.invoke(cli, ["mapping", "init", str(export), "--encoding", "cp1250", "--minicrm-schema", schema])
    profile = tmp_path / "erp.toml"
    text = made.stdout.replace('# "Product.FolderName" = "ERP products"', '"Product.FolderName" = "ERP"')
    text = text.replace('"Project.CategoryId" = 39', '"Project.CategoryId" = 39\n"Project.StatusId" = "Regisztrálva"')
    text = text.replace('"Elküldve" = "2895"', '"Elküldve" = "Elfogadott"')
    mapped = '"Offer.Id" = "Ajánlat sorszáma"\n"Customer.Name" = "Ügyfél neve"\n"Project.Fields.Enum195" = "Raktár"\n'
    text = text.replace('"Project.Id" = "Partnerkód"', mapped + '"Project.Id" = "Partnerkód"')
    profile.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["mapping", "check", str(profile), str(export), "--minicrm-schema", schema])
    assert result.exit_code == 1
    assert [line for line in result.stdout.splitlines() if "[unknown-" in line] == [
        f'{profile}: columns.Project.Fields.Enum195: Enum195 is not a field of category 39; did you mean "Enum1951"?'
        " [unknown-field]",
        f"{profile}: constants.Project.StatusId: 'Regisztrálva' is not a status of category 39; it has Regisztrált"
        " (3099), Feliratkozott (3100), Vásárolt (3101) [unknown-value]",
        f"{profile}: values.Offer.Status.\"Elküldve\": 'Elfogadott' is not a status of category 41; it has Elfogadva"
        " (2896), Elutasítva (2897), Elküldve (2895) [unknown-value]",
    ]
    assert result.stdout.splitlines()[-1] == f"{profile}: 3 errors ({export})"
    fitting = runner.invoke(cli, ["mapping", "check", str(profile), str(export)])  # without the schema
    assert fitting.stdout.splitlines()[-1] == f"{profile}: fits ({export})"
