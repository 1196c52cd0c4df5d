"""Real ERP inputs: every reader builds the same golden feed; bad rows get exact, located messages."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, GOLDEN
from xmlsync import InputError
from xmlsync.cli import cli
from xmlsync.profiles import load_profile
from xmlsync.readers.rows import HASH_OFFSET, stable_id

ERP = FIXTURES / "erp"
PROFILE = ERP / "erp.toml"
SEMICOLON = ERP / "erp-semicolon.toml"
EXPECTED = GOLDEN / "erp" / "expected.xml"
CASES = {
    "cp1250-csv": [str(ERP / "offers-cp1250.csv"), "--profile", str(PROFILE)],
    "semicolon-csv": [str(ERP / "offers-semicolon.csv"), "--profile", str(SEMICOLON)],
    "jsonl": [str(ERP / "offers.jsonl")],
    "sqlite-file": [str(ERP / "offers.sqlite"), "--profile", str(PROFILE)],
    "sqlite-url": [
        "--from-sql",
        f"sqlite:///{ERP / 'offers.sqlite'}",
        "--query",
        'SELECT * FROM offers ORDER BY "Partnerkód"',
        "--profile",
        str(PROFILE),
    ],
    "xlsx": [str(ERP / "offers.xlsx"), "--profile", str(PROFILE)],
}


def build(runner: CliRunner, out: Path, *args: str):
    return runner.invoke(cli, ["build", *args, "-o", str(out)])


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_reader_builds_the_same_feed(runner: CliRunner, tmp_path: Path, case: str, golden) -> None:
    out = tmp_path / "offers.xml"
    result = build(runner, out, *CASES[case])
    rows = 3 if case == "jsonl" else 7
    assert (result.exit_code, result.stderr) == (
        0,
        f"{out}: wrote 3 projects, 4 offers, 7 products from {rows} input rows, 0 rejected\n",
    )
    golden(out.read_bytes(), EXPECTED)


def test_postgresql_builds_the_same_feed(runner: CliRunner, tmp_path: Path, postgres_url: str, golden) -> None:
    import sqlalchemy

    with sqlite3.connect(ERP / "offers.sqlite") as source:
        cursor = source.execute("SELECT * FROM offers")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    types = {"Partnerkód": "integer", "Termékkód": "integer", "Nettó egységár": "numeric", "Mennyiség": "numeric",
             "Kelt": "timestamp", "Teljesítés": "timestamp", "Érvényes": "timestamp"}  # fmt: skip
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS offers"))
        connection.execute(sqlalchemy.text(
            "CREATE TABLE offers (" + ", ".join(f'"{c}" {types.get(c, "text")}' for c in columns) + ")"
        ))  # fmt: skip
        insert = sqlalchemy.text(
            "INSERT INTO offers VALUES ("
            + ", ".join(f"CAST(:p{i} AS {types.get(c, 'text')})" for i, c in enumerate(columns))
            + ")"
        )
        connection.execute(
            insert, [{f"p{i}": (str(v) if v is not None else None) for i, v in enumerate(row)} for row in rows]
        )
    engine.dispose()
    out = tmp_path / "offers.xml"
    query = 'SELECT * FROM offers ORDER BY "Partnerkód", "Kelt", "Termékkód"'
    result = build(runner, out, "--from-sql", postgres_url, "--query", query, "--profile", str(PROFILE))
    assert (result.exit_code, result.stderr) == (
        0,
        f"{out}: wrote 3 projects, 4 offers, 7 products from 7 input rows, 0 rejected\n",
    )
    golden(out.read_bytes(), EXPECTED)


def test_stable_ids_do_not_change() -> None:
    assert stable_id("Offer", "OF-2024/0017") == 298825675830811
    assert stable_id("Offer", "OF-2024/0017", "63-bit") == 4766210813292982  # the Ids of releases before 0.2
    assert stable_id("Project", "OF-2024/0017") != stable_id("Offer", "OF-2024/0017")
    assert all(HASH_OFFSET <= stable_id("Offer", str(key)) < 2**53 - 2**52 for key in range(1000))


# -- bad input, each with its exact message ------------------------------------------------------------


def semicolon_csv(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    text = (ERP / "offers-semicolon.csv").read_text(encoding="utf-8-sig")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "erp.csv"
    path.write_text(text, encoding="utf-8")
    return path


def profile_with(tmp_path: Path, *changes: tuple[str, str], base: Path = SEMICOLON) -> Path:
    text = base.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "erp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def failing(runner: CliRunner, tmp_path: Path, source: Path, profile: Path) -> list[str]:
    out = tmp_path / "offers.xml"
    result = build(runner, out, str(source), "--profile", str(profile))
    assert result.exit_code == 1, result.stderr
    assert not out.exists()
    assert result.stderr.splitlines()[-1].endswith(f"found; {out} was not written")
    return result.stderr.splitlines()[:-1]


def test_a_missing_required_column(runner: CliRunner, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, ('"Product.PriceNet" = "Nettó egységár"', '"Product.PriceNet" = "Ár"'))
    source = ERP / "offers-semicolon.csv"
    assert failing(runner, tmp_path, source, profile) == [
        f"{profile}: columns.Product.PriceNet: Product.PriceNet is mapped to column 'Ár', which {source} does not have;"
        " its columns are: Partnerkód, Partner neve, Adószám, Partner e-mail, Vezetéknév, Keresztnév, Kapcsolat e-mail,"
        " Ajánlatszám, Pénznem, Kelt, Teljesítés, Érvényes, Megjegyzés, Állapot, Ország, Irsz, Város, Cím, Termékkód,"
        " Megnevezés, EAN, Nettó egységár, Mennyiség, Egység, ÁFA [missing-column]"
    ]


def test_an_unmapped_required_field(runner: CliRunner, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, ('"Product.Unit" = "Egység"\n', ""))
    assert failing(runner, tmp_path, ERP / "offers-semicolon.csv", profile) == [
        f"{profile}: columns.Product.Unit: required field Product.Unit is not mapped; add it under [columns] (or"
        " [constants]) [unmapped-field]"
    ]


def test_a_malformed_number(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";7 490,5;", ";7 490,5,0;"))
    assert failing(runner, tmp_path, source, SEMICOLON) == [
        f"{source}:3: Nettó egységár -> Product.PriceNet (Project 1001 > Offer OF-2024/0017): '7 490,5,0' is not a number in the profile's"
        " format, e.g."
        " 1 250,50 [invalid-number]"
    ]


def test_a_dot_where_the_profile_says_decimal_comma(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";2,5;", ";2.5;"))
    assert failing(runner, tmp_path, source, SEMICOLON) == [
        f"{source}:3: Mennyiség -> Product.Quantity (Project 1001 > Offer OF-2024/0017): '2.5' has a '.', but the profile's decimal"
        " separator is ','"
        " [invalid-number]"
    ]


def test_a_date_without_a_format_is_not_guessed(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";2024.04.01 09:30;", ";03/04/2024;"))
    profile = profile_with(tmp_path, ('date_formats = ["%Y.%m.%d %H:%M"]\n', ""))
    lines = failing(runner, tmp_path, source, profile)
    assert lines[0] == (
        f"{source}:2: Kelt -> Offer.Issued (Project 1001 > Offer OF-2024/0017): '03/04/2024' is not a date in a known format; use"
        " YYYY-MM-DD or set"
        ' [locale] date_formats, e.g. ["%d.%m.%Y"] [invalid-date]'
    )


def test_an_ambiguous_date(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";2024.04.01 09:30;", ";03/04/2024 09:30;"))
    profile = profile_with(
        tmp_path,
        ('date_formats = ["%Y.%m.%d %H:%M"]', 'date_formats = ["%Y.%m.%d %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"]'),
    )
    assert failing(runner, tmp_path, source, profile) == [
        f"{source}:2: Kelt -> Offer.Issued (Project 1001 > Offer OF-2024/0017): '03/04/2024 09:30' reads differently with %d/%m/%Y %H:%M"
        " and %m/%d/%Y"
        " %H:%M; keep one date format [ambiguous-date]"
    ]


def test_cp1250_bytes_read_as_utf8(runner: CliRunner, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, ('encoding = "cp1250"\n', ""), base=PROFILE)
    source = ERP / "offers-cp1250.csv"
    assert failing(runner, tmp_path, source, profile) == [
        f'{source}:1: byte 0xF3 is not valid UTF-8; set [input] encoding = "cp1250" (or iso-8859-2) in the profile,'
        " or give mapping init --encoding cp1250 [encoding]"
    ]


def test_a_row_whose_offer_conflicts_with_earlier_rows(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(
        tmp_path,
        (";OF-2024/0017;HUF;2024.04.01 09:30;", ";OF-2024/0017;EUR;2024.04.01 09:30;"),
    )
    assert failing(runner, tmp_path, source, SEMICOLON) == [
        f"{source}:3: Pénznem -> Offer.CurrencyCode (Project 1001 > Offer OF-2024/0017): Offer.CurrencyCode is 'HUF' here but 'EUR'"
        f" at {source}:2 for the same Offer {stable_id('Offer', 'OF-2024/0017')}; rows of one record must agree [conflicting-rows]"
    ]


def test_an_unknown_country_code(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";RO;", ";XX;"))
    assert failing(runner, tmp_path, source, SEMICOLON) == [
        f"{source}:7: Ország -> Customer.CountryId (Project 2001 > Offer OF-2024/0030): 'XX' is not a known ISO"
        " country code; use a code such as HU or RO,"
        ' or map it under [values."...CountryId"] [unknown-country]'
    ]


def test_a_duplicate_product_id_names_both_rows(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";3002;Fúrószár", ";3001;Fúrószár"))
    offer = stable_id("Offer", "OF-2024/0017")
    assert failing(runner, tmp_path, source, SEMICOLON) == [
        f"{source}:3: /Projects/Project[1]/Offers/Offer[1]/Products/Product[2]/@Id (Project 1001 > Offer OF-2024/0017"
        f" (Id {offer}) > Product 3001): Product Id 3001 appears twice in this offer (also {source}:2); merge the lines"
        " (add up Quantity) or give them different Ids [duplicate-product-id]"
    ]


def test_a_duplicate_offer_id_across_projects_names_both_rows(runner: CliRunner, tmp_path: Path) -> None:
    source = semicolon_csv(tmp_path, (";OF-2024/0021;", ";OF-2024/0017;"), (";OF-2024/0021;", ";OF-2024/0017;"))
    offer = stable_id("Offer", "OF-2024/0017")
    lines = failing(runner, tmp_path, source, SEMICOLON)
    assert lines[0] == (
        f"{source}:5: /Projects/Project[2]/Offers/Offer[1]/@Id (Project 1002 > Offer OF-2024/0017 (Id {offer})):"
        f" Offer Id {offer} is used again; first at {source}:2-4: /Projects/Project[1]/Offers/Offer[1]. Give each"
        " offer its own Id [duplicate-offer-id]"
    )


def test_rows_of_a_project_must_be_together(runner: CliRunner, tmp_path: Path) -> None:
    text = (ERP / "offers-semicolon.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    text[2], text[5] = text[5], text[2]  # a row of project 1002 between rows of 1001
    source = tmp_path / "erp.csv"
    source.write_text("".join(text), encoding="utf-8")
    lines = failing(runner, tmp_path, source, SEMICOLON)
    assert lines[0] == (
        f"{source}:4: /Projects/Project[3]/@Id (Project 1001): Project Id 1001 is used again; first at {source}:2:"
        " /Projects/Project[1]. MiniCRM upserts cards by Id, so the later one would overwrite the earlier: give each"
        " card its own Id; if these are rows of one project, sort the export by project and offer key"
        " [duplicate-project-id]"
    )


def test_non_numeric_keys_can_be_refused(runner: CliRunner, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, ('non_numeric = "hash"', 'non_numeric = "error"'))
    lines = failing(runner, tmp_path, ERP / "offers-semicolon.csv", profile)
    assert lines[0] == (
        f"{ERP / 'offers-semicolon.csv'}:2: Ajánlatszám -> Offer.Id (Project 1001 > Offer OF-2024/0017): 'OF-2024/0017' is not a whole"
        " number; MiniCRM needs"
        " numeric Ids [invalid-id]"
    )


def test_a_row_with_too_few_values(runner: CliRunner, tmp_path: Path) -> None:
    text = (ERP / "offers-semicolon.csv").read_text(encoding="utf-8-sig")
    source = tmp_path / "erp.csv"
    source.write_text(text + "1003;Rövid sor\n", encoding="utf-8")
    assert failing(runner, tmp_path, source, SEMICOLON) == [
        f"{source}:9: the row has 2 values but the header has 25 columns; check the delimiter and quotes [row-length]"
    ]


# -- profiles ---------------------------------------------------------------------------------------------


def test_a_bad_profile_is_reported_key_by_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[input]\nencodng = "cp1250"\n[locale]\ndecimal_separator = ";"\n[columns]\n"Offer.Numbr" = "x"\n[colours]\n'
    )
    with pytest.raises(InputError) as info:
        load_profile(path)
    assert [str(issue) for issue in info.value.issues] == [
        f'{path}: input.encodng: unknown key; did you mean "encoding"? [invalid-profile]',
        f'{path}: colours: unknown section [colours]; did you mean "columns"? [invalid-profile]',
        f'{path}: locale.decimal_separator: must be "." or ",", not \';\' [invalid-profile]',
        f'{path}: columns.Offer.Numbr: unknown field; did you mean "Offer.Number"? [unknown-field]',
    ]


def test_profile_values_are_read() -> None:
    profile = load_profile(SEMICOLON)
    assert (profile.encoding, profile.delimiter, profile.locale.decimal_separator, profile.locale.thousands_separator) == (
        "utf-8-sig", ";", ",", " ",
    )  # fmt: skip
    assert profile.constants["Project.CategoryId"] == 39
    assert profile.values["Offer.Status"] == {"E": "Accepted", "V": "Draft"}
    assert (profile.country_fields, profile.country_language) == (("Customer.CountryId",), "hu")


def test_mapping_init_writes_a_template(runner: CliRunner, tmp_path: Path, golden) -> None:
    out = tmp_path / "erp.toml"
    result = runner.invoke(
        cli,
        ["mapping", "init", str(ERP / "offers-cp1250.csv"), "--encoding", "cp1250", "-o", str(out)],
        catch_exceptions=False,
    )
    assert (result.exit_code, result.stderr) == (
        0,
        f"{out}: written; fill in the TODO fields, then run xmlsync mapping check\n",
    )
    golden(out.read_bytes(), GOLDEN / "erp" / "mapping-init.toml")
    load_profile(out)


def test_mapping_init_matches_columns_named_like_fields(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "flat.csv"
    source.write_text("project_id,Offer Id,PriceNet,Colour\n1,2,3,red\n")
    result = runner.invoke(cli, ["mapping", "init", str(source)], catch_exceptions=False)
    assert '"Project.Id" = "project_id"   # required' in result.stdout
    assert '"Offer.Id" = "Offer Id"   # required' in result.stdout
    assert '"Product.PriceNet" = "PriceNet"   # required' in result.stdout
    assert '#   "Colour"' in result.stdout


DEFAULT_POLICY = [
    "PROFILE: policy: VAT codes accepted besides percentages: none (default)",
    "PROFILE: policy: offer statuses accepted: any (default)",
    "PROFILE: policy: warnings are errors: no (default)",
    "PROFILE: policy: on an invalid record: fail (default)",
    "PROFILE: policy: checked against the MiniCRM system's schema: none (default)",
    "PROFILE: locale: a VAT value between 0 and 1 is an error (default)",
]


def test_mapping_check_passes_a_fitting_profile(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["mapping", "check", str(PROFILE), str(ERP / "offers-cp1250.csv")])
    assert (result.exit_code, result.stdout.splitlines()) == (
        0,
        [
            *(line.replace("PROFILE", str(PROFILE)) for line in DEFAULT_POLICY),
            f"{PROFILE}: fits ({ERP / 'offers-cp1250.csv'})",
        ],
    )


POLICY = """
[policy]
vat_codes = ["AAM", "KBAUK"]
statuses = ["Accepted", "Sent"]
strict = true
on_invalid = "skip"
"""


def test_mapping_check_shows_the_policy_of_the_profile(runner: CliRunner, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.read_text(encoding="utf-8") + POLICY + "\n[locale]\nvat_fractions = true\n")
    result = runner.invoke(cli, ["mapping", "check", str(profile), str(ERP / "offers-cp1250.csv")])
    assert result.stdout.splitlines()[:6] == [
        f"{profile}: policy: VAT codes accepted besides percentages: AAM, KBAUK (profile)",
        f"{profile}: policy: offer statuses accepted: Accepted, Sent (profile)",
        f"{profile}: policy: warnings are errors: yes (profile)",
        f"{profile}: policy: on an invalid record: skip (profile)",
        f"{profile}: policy: checked against the MiniCRM system's schema: none (default)",
        f"{profile}: locale: a VAT value between 0 and 1 is a fraction, 0.27 is 27% (profile)",
    ]


def test_the_profile_policy_applies_and_flags_override_it(runner: CliRunner, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.read_text(encoding="utf-8") + POLICY)
    source = ERP / "offers-cp1250.csv"
    out = tmp_path / "o.xml"
    # The profile maps the ERP's status codes to Accepted and Draft; its policy accepts only Accepted and Sent,
    # and skips the records it refuses instead of failing.
    result = runner.invoke(cli, ["build", str(source), "--profile", str(profile), "-o", str(out), "--quiet"])
    rejects = tmp_path / "o.rejects.jsonl"
    assert (result.exit_code, out.is_file(), rejects.is_file()) == (0, True, True)
    skipped = [json.loads(line)["errors"][0]["code"] for line in rejects.read_text().splitlines()]
    assert skipped == ["unknown-status", "unknown-status"]
    rejects.unlink()
    flagged = runner.invoke(
        cli,
        [
            "build",
            str(source),
            "--profile",
            str(profile),
            "-o",
            str(out),
            "--quiet",
            "--on-invalid",
            "fail",
            "--status",
            "Accepted",
            "--status",
            "Draft",
            "--no-strict",
        ],
    )
    assert (flagged.exit_code, flagged.stderr, rejects.exists()) == (0, "", False)


def test_mapping_check_reports_unmapped_fields_and_unknown_columns(runner: CliRunner, tmp_path: Path) -> None:
    profile = profile_with(
        tmp_path, ('"Offer.Status" = "Állapot"\n', ""), ('"Product.EAN" = "EAN"', '"Product.EAN" = "GTIN"')
    )
    source = ERP / "offers-semicolon.csv"
    result = runner.invoke(cli, ["mapping", "check", str(profile), str(source)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        f"{profile}: columns.Product.EAN: Product.EAN is mapped to column 'GTIN', which {source} does not have;"
    )
    assert lines[1:] == [
        f"{profile}: columns.Offer.Status: required field Offer.Status is not mapped; add it under [columns] (or [constants]) [unmapped-field]",
        f"{profile}: columns: warning: column 'Állapot' of {source} is not mapped to any field [unused-column]",
        f"{profile}: columns: warning: column 'EAN' of {source} is not mapped to any field [unused-column]",
        *(line.replace("PROFILE", str(profile)) for line in DEFAULT_POLICY),
        f"{profile}: 2 errors ({source})",
    ]


def test_sql_errors_are_one_line(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{ERP / 'offers.sqlite'}"
    result = runner.invoke(
        cli,
        [
            "build",
            "--from-sql",
            url,
            "--query",
            "SELECT nope FROM offers",
            "--profile",
            str(PROFILE),
            "-o",
            str(tmp_path / "o.xml"),
        ],
    )
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[0] == f"{ERP / 'offers.sqlite'}: the query failed: no such column: nope [sql-error]"
    )
    both = runner.invoke(cli, ["build", str(ERP / "offers.jsonl"), "--from-sql", url, "-o", str(tmp_path / "o.xml")])
    assert (both.exit_code, both.stderr.splitlines()[-1]) == (2, "Error: give either INPUT or --from-sql URL")


def test_decimals_from_every_reader_keep_their_digits() -> None:
    from xmlsync.config import BuildConfig, Locale
    from xmlsync.tree.kinds import DECIMAL

    locale, config = Locale(decimal_separator=",", thousands_separator=" "), BuildConfig()
    assert DECIMAL.read("1 250,50", config, locale) == "1250.5"  # a cell, read as its locale says
    assert DECIMAL.read("1\u00a0250,5", config, locale) == "1250.5"
    assert DECIMAL.read(7490.5, config, locale) == "7490.5"  # an XLSX number: its shortest repr
    assert DECIMAL.read(Decimal("48990.000"), config, locale) == "48990"  # a PostgreSQL numeric
    assert DECIMAL.read("1250.5", config) == "1250.5"  # a JSON value: no locale


# -- hostile and malformed values: one located line each, never a traceback ---------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (";3001;Ütvefúró", ";-5;Ütvefúró", 2,
         "Termékkód -> Product.Id (Project 1001 > Offer OF-2024/0017): '-5' is a number but not a valid Id (a whole number from 0 to 9223372036854775807);"
         " fix the key in the source (hashing it would make a new Id) [invalid-id]"),
        (";3001;Ütvefúró", ";30.5;Ütvefúró", 2,
         "Termékkód -> Product.Id (Project 1001 > Offer OF-2024/0017): '30.5' is a number but not a valid Id (a whole number from 0 to"
         " 9223372036854775807); fix the key in the source (hashing it would make a new Id) [invalid-id]"),
        (";3001;Ütvefúró", ";" + "9" * 5000 + ";Ütvefúró", 2,
         "Termékkód -> Product.Id (Project 1001 > Offer OF-2024/0017): '9999999999999999999999999999999999999...' is out of range; an Id must be"
         " between 0 and 9223372036854775807 [invalid-id]"),
        (";48 990;", ";" + "1" * 21 + ";", 2,
         "Nettó egységár -> Product.PriceNet (Project 1001 > Offer OF-2024/0017): '111111111111111111111' has more digits than a feed holds: at most 20"
         " before and 20 after the decimal point [invalid-number]"),
    ],
    ids=["negative-id", "fractional-id", "5000-digit-id", "21-digit-price"],
)  # fmt: skip
def test_numbers_in_flat_rows_are_bounded_and_never_hashed(
    runner: CliRunner, tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    source = semicolon_csv(tmp_path, (old, new))
    assert failing(runner, tmp_path, source, SEMICOLON) == [f"{source}:{line}: {message}"]


def sqlite_copy(tmp_path: Path, statement: str, *params: object) -> Path:
    database = tmp_path / "erp.sqlite"
    database.write_bytes((ERP / "offers.sqlite").read_bytes())
    with sqlite3.connect(database) as connection:
        connection.execute(statement, params)
    return database


def test_a_blob_or_a_negative_id_from_sqlite_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    database = sqlite_copy(
        tmp_path, 'UPDATE offers SET "Megnevezés" = ?, "Termékkód" = -3001 WHERE rowid = 1', b"\x00\xff"
    )
    out = tmp_path / "o.xml"
    result = build(runner, out, "--from-sql", f"sqlite:///{database}", "--table", "offers", "--profile", str(PROFILE))
    assert (result.exit_code, result.stderr.splitlines()) == (
        1,
        [
            "offers:1: Termékkód -> Product.Id (Project 1001 > Offer OF-2024/0017): -3001 is not a valid Id; MiniCRM"
            " needs a whole number from 0 to 9223372036854775807 [invalid-id]",
            "offers:1: Megnevezés -> Product.Name (Project 1001 > Offer OF-2024/0017): is binary data (a BLOB), which a feed cannot hold; CAST the"
            " column to text in the query [wrong-type]",
            f"Error: 2 problems found; {out} was not written",
        ],
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"ATTACH '{'{new}'}' AS other", "xmlsync only reads: give a SELECT query (ATTACH, PRAGMA and statements that"
         " write are refused)"),
        ("DELETE FROM offers", "xmlsync only reads: give a SELECT query (ATTACH, PRAGMA and statements that write are"
         " refused)"),
        ("-- nothing but a comment", "the statement returns no rows; give a SELECT query (or --table NAME)"),
    ],
    ids=["attach", "delete", "no-result-set"],
)  # fmt: skip
def test_sql_that_is_not_a_select_is_refused(runner: CliRunner, tmp_path: Path, query: str, message: str) -> None:
    database = tmp_path / "erp.sqlite"
    database.write_bytes((ERP / "offers.sqlite").read_bytes())
    query = query.replace("{new}", str(tmp_path / "new.sqlite"))
    result = build(runner, tmp_path / "o.xml", "--from-sql", f"sqlite:///{database}", "--query", query,
                   "--profile", str(PROFILE))  # fmt: skip
    assert (result.exit_code, result.stderr.splitlines()[0]) == (1, f"{database}: {message} [sql-error]")
    assert sorted(os.listdir(tmp_path)) == ["erp.sqlite"]
    assert database.read_bytes() == (ERP / "offers.sqlite").read_bytes()


def test_a_statement_with_no_result_set_through_sqlalchemy(runner: CliRunner, tmp_path: Path) -> None:
    result = build(runner, tmp_path / "o.xml", "--from-sql", "sqlite://", "--query", "CREATE TEMP TABLE t (x INTEGER)",
                   "--profile", str(PROFILE))  # fmt: skip
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        "query: the statement returns no rows; give a SELECT query (or --table NAME) [sql-error]",
    )


def test_wrongly_typed_profile_keys_are_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "[input]\ndelimiter = 1\nquotechar = ''\nsheet = 2\ntable = 5\nnumbers_as_text = \"some\"\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_profile(path)
    assert [str(issue) for issue in info.value.issues] == [
        f"{path}: input.delimiter: must be a text [invalid-profile]",
        f"{path}: input.quotechar: must be one character other than a line break, e.g. \";\", not '' [invalid-profile]",
        f"{path}: input.sheet: must be a text [invalid-profile]",
        f"{path}: input.table: must be a text [invalid-profile]",
        f'{path}: input.numbers_as_text: must be "integers", "all" or "none", not \'some\' [invalid-profile]',
    ]


def test_a_two_character_delimiter_and_table_with_query_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[input]\ndelimiter = ";;"\ntable = "offers"\nquery = "SELECT 1"\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_profile(path)
    assert [str(issue) for issue in info.value.issues] == [
        f"{path}: input.delimiter: must be one character other than a line break, e.g. \";\", not ';;'"
        " [invalid-profile]",
        f"{path}: input.query: give either table or query, not both [invalid-profile]",
    ]


def test_the_profile_decides_which_numbers_a_text_field_takes(runner: CliRunner, tmp_path: Path) -> None:
    record = json.loads((FIXTURES / "sample.json").read_text())[0]
    record["Offers"][0]["Customer"]["PostalCode"] = 10.5
    source = tmp_path / "in.json"
    source.write_text(json.dumps([record]))
    profile = tmp_path / "p.toml"
    profile.write_text('[input]\nnumbers_as_text = "all"\n')
    refused = build(runner, tmp_path / "o.xml", str(source))
    assert refused.stderr.splitlines()[0] == (
        f"{source}:[0]: Offers[1].Customer.PostalCode (Project 99999): expected a text, got a number with a fraction or"
        ' an exponent; write it in quotes as it should read (e.g. "10.50"), or set [input] numbers_as_text = "all" in'
        " the profile [wrong-type]"
    )
    taken = build(runner, tmp_path / "o.xml", str(source), "--profile", str(profile))
    assert taken.exit_code == 0, taken.stderr
    assert b"<PostalCode>10.5</PostalCode>" in (tmp_path / "o.xml").read_bytes()


def patched_xlsx(tmp_path: Path, member: str, old: bytes, new: bytes) -> Path:
    """Return the bundled workbook with one part changed, as a hostile or broken export would be."""
    target = tmp_path / "offers.xlsx"
    with zipfile.ZipFile(ERP / "offers.xlsx") as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == member:
                assert old in data
                data = data.replace(old, new, 1)
            out.writestr(info, data)
    return target


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"<t>Partner neve</t>", b"<t>" + b"a" * 300_000 + b"</t>",
         "xl/worksheets/sheet1.xml holds a text of more than 262,144 bytes, where Excel keeps at most 32,767"
         " characters in a cell"),
        (b'<c r="B1"', b'<c r="ZZZZ1"', "xl/worksheets/sheet1.xml names a cell outside the sheet Excel has (past"
         " column XFD or row 1,048,576)"),
        (b'<row r="2">', b'<row r="99999999">', "xl/worksheets/sheet1.xml names a cell outside the sheet Excel has"
         " (past column XFD or row 1,048,576)"),
        (b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "b">]><worksheet', "xl/worksheets/sheet1.xml declares a DOCTYPE,"
         " which no workbook Excel writes does"),
    ],
    ids=["huge-cell", "wide", "far-row", "doctype"],
)  # fmt: skip
def test_a_workbook_that_would_inflate_is_refused_before_it_is_read(
    runner: CliRunner, tmp_path: Path, old: bytes, new: bytes, reason: str
) -> None:
    source = patched_xlsx(tmp_path, "xl/worksheets/sheet1.xml", old, new)
    assert failing(runner, tmp_path, source, PROFILE) == [
        f"{source}: not a workbook xmlsync reads: {reason} [xlsx-too-large]"
    ]


def test_shared_strings_past_the_limit_are_refused(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmlsync.readers import xlsx_reader

    source = tmp_path / "shared.xlsx"
    with zipfile.ZipFile(ERP / "offers.xlsx") as original, zipfile.ZipFile(source, "w") as out:
        for info in original.infolist():
            out.writestr(info, original.read(info))
        out.writestr("xl/sharedStrings.xml", b"<sst><si><t>" + b"x" * 5000 + b"</t></si></sst>")
    monkeypatch.setattr(xlsx_reader, "MAX_SHARED_STRINGS", 4096)
    assert failing(runner, tmp_path, source, PROFILE) == [
        f"{source}: not a workbook xmlsync reads: its shared strings take 5,027 bytes unpacked, more than 4,096; save"
        " the sheet as CSV [xlsx-too-large]"
    ]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--delimiter", ";;", "Invalid value for --delimiter: ';;' is not one character"),
        ("--encoding", "latin9", "Invalid value for --encoding: 'latin9' is not supported; use utf-8, cp1250 or"
         " iso-8859-2"),
    ],
)  # fmt: skip
def test_mapping_init_refuses_a_delimiter_or_encoding_it_cannot_use(
    runner: CliRunner, option: str, value: str, message: str
) -> None:
    result = runner.invoke(cli, ["mapping", "init", str(ERP / "offers-cp1250.csv"), option, value])
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (2, f"Error: {message}")


def test_postgresql_is_read_in_a_read_only_transaction(runner: CliRunner, tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE SEQUENCE IF NOT EXISTS xmlsync_counter"))
    engine.dispose()
    result = build(runner, tmp_path / "o.xml", "--from-sql", postgres_url, "--query",
                   "SELECT nextval('xmlsync_counter') AS x", "--profile", str(PROFILE))  # fmt: skip
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        "query: the query failed: cannot execute nextval() in a read-only transaction [sql-error]",
    )


def test_a_database_password_never_reaches_a_message(runner: CliRunner, tmp_path: Path, postgres_url: str) -> None:
    secret_url = postgres_url.replace("postgres@", "postgres:s3cret-pw@", 1)  # trust: any password is taken
    masked = postgres_url.replace("postgres@", "postgres:***@", 1)
    result = build(runner, tmp_path / "o.xml", "--from-sql", secret_url, "--query", "SELECT 1 AS x",
                   "--profile", str(PROFILE))  # fmt: skip
    assert result.exit_code == 1
    assert "s3cret-pw" not in result.output
    assert result.stderr.splitlines()[0] == (
        f"{PROFILE}: columns.Project.Id: Project.Id is mapped to column 'Partnerkód', which {masked} does not have;"
        " its columns are: x [missing-column]"
    )
