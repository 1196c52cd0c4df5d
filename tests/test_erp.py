"""ERP exports as they really come: spreadsheet layouts, percent cells, locales, time zones (fixtures/erp/)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, GOLDEN
from xmlsync import InputError
from xmlsync.cli import cli
from xmlsync.profiles import Profile, load_profile
from xmlsync.readers.inputs import InputSpec, open_table

ERP = FIXTURES / "erp"
EXPECTED = GOLDEN / "erp" / "expected.xml"


def build(runner: CliRunner, tmp_path: Path, *args: str) -> tuple[int, str, bytes]:
    out = tmp_path / "offers.xml"
    result = runner.invoke(cli, ["build", *args, "-o", str(out), "--quiet"])
    return result.exit_code, result.stderr, out.read_bytes() if out.exists() else b""


@pytest.mark.parametrize(
    "args",
    [
        # A title row, merged group captions above the header, VAT as 0.27 in a 0% column, a totals footer.
        [str(ERP / "offers-layout.xlsx"), "--profile", str(ERP / "offers-layout.toml")],
        # A pg_dump replayed into SQLite: timestamptz text in UTC, written in Budapest time.
        [
            "--from-sql",
            f"sqlite:///{ERP / 'offers-pg.sqlite'}",
            "--table",
            "offers",
            "--profile",
            str(ERP / "erp.toml"),
        ],
    ],
    ids=["layout-xlsx", "timestamptz-sqlite"],
)
def test_the_same_records_in_another_layout_build_the_same_feed(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    assert build(runner, tmp_path, *args) == (0, "", EXPECTED.read_bytes())


def test_a_romanian_export_with_counties(runner: CliRunner, tmp_path: Path, golden) -> None:
    code, stderr, data = build(runner, tmp_path, str(ERP / "offers-ro.csv"), "--profile", str(ERP / "offers-ro.toml"))
    assert (code, stderr) == (0, "")
    golden(data, GOLDEN / "erp" / "expected-ro.xml")
    assert b"<County>Br\xc4\x83ila</County>" in data


CHOICES = {
    "Project.Id": "Partnerkód",
    "Project.Name": "Partner neve",
    "Business.Name": "Partner neve",
    "Business.VatNumber": "Adószám",
    "Contact.LastName": "Vezetéknév",
    "Contact.FirstName": "Keresztnév",
    "Offer.Id": "Ajánlatszám",
    "Offer.Number": "Ajánlatszám",
    "Offer.CurrencyCode": "Pénznem",
    "Offer.Issued": "Kelt",
    "Offer.Performance": "Teljesítés",
    "Offer.Prompt": "Érvényes",
    "Offer.Status": "Állapot",
    "Customer.Name": "Partner neve",
    "Customer.CountryId": "Ország",
    "Customer.PostalCode": "Irsz",
    "Customer.City": "Város",
    "Customer.Address": "Cím",
    "Product.Id": "Termékkód",
    "Product.Name": "Megnevezés",
    "Product.PriceNet": "Nettó egységár",
    "Product.Quantity": "Mennyiség",
    "Product.Unit": "Egység",
    "Product.VAT": "ÁFA",
}
CONSTANTS = '"Project.CategoryId" = 39\n"Project.StatusId" = "Regisztrált"\n"Product.FolderName" = "ERP termékek"\n'


def test_a_hungarian_cp1250_export_needs_only_the_column_choices(runner: CliRunner, tmp_path: Path, golden) -> None:
    """cp1250, ";", 48 990,00, 2024.05.17 and 2024.05.20. dates, Ft and lei, VAT 27, partner codes P-01001."""
    source = ERP / "offers-hu-cp1250.csv"
    template = runner.invoke(cli, ["mapping", "init", str(source), "--encoding", "cp1250"])
    assert template.exit_code == 0, template.stderr
    golden(template.stdout_bytes, GOLDEN / "erp" / "mapping-init-hu.toml")
    profile = filled_profile(runner, tmp_path)  # the same template, with what a person chooses and nothing else
    code, stderr, data = build(runner, tmp_path, str(source), "--profile", str(profile))
    assert (code, stderr) == (0, "")
    golden(data, GOLDEN / "erp" / "expected-hu.xml")
    assert data.count(b"<CurrencyCode>HUF</CurrencyCode>") == 3 and b"<VAT>27%</VAT>" in data


def test_a_title_where_the_header_should_be_names_the_header_row(runner: CliRunner, tmp_path: Path) -> None:
    source = ERP / "offers-layout.xlsx"
    code, stderr, data = build(runner, tmp_path, str(source), "--profile", str(ERP / "erp.toml"))
    assert (code, data) == (1, b"")
    assert stderr.splitlines()[0] == (
        f"{source}:1: row 1 holds only 'Árajánlatok, 2024. április-május', a title, not the column names; the column"
        " names seem to be on row 3: set [input] header_row = 3 (or --header-row with mapping init) [no-header]"
    )
    init = runner.invoke(cli, ["mapping", "init", str(source)])
    assert (init.exit_code, init.stdout) == (1, "")
    laid = runner.invoke(cli, ["mapping", "init", str(source), "--header-row", "3", "--footer", "Összesen|Total"])
    assert laid.exit_code == 0
    assert laid.stdout.splitlines()[4:7] == [
        'format = "xlsx"',
        "header_row = 3   # the row of the column names",
        'footer = "Összesen|Total"   # the data ends before a row starting with this',
    ]
    assert '"Offer.Number" = "Ajánlatszám"   # required' in laid.stdout  # the usual Hungarian names are known


def test_cells_are_read_as_excel_shows_them(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["VAT", "Valid", "Issued", "Discount"])
    sheet.append([0.27, datetime(2024, 5, 20), datetime(2024, 5, 17, 9, 30), 0.055])
    for cell, fmt in zip(sheet[2], ["0%", "yyyy.mm.dd", "yyyy-mm-dd hh:mm", "0.0%"], strict=True):
        cell.number_format = fmt
    path = tmp_path / "cells.xlsx"
    book.save(path)
    table = open_table(InputSpec(path=str(path)), Profile())
    try:
        [row] = list(table.rows)
    finally:
        table.close()
    assert dict(row.values) == {
        "VAT": "27%",
        "Valid": date(2024, 5, 20),
        "Issued": datetime(2024, 5, 17, 9, 30),
        "Discount": "5.5%",
    }


def record(vat: object = "27%", prompt: object = "2021-09-30 12:15:13") -> list[dict[str, object]]:
    data = json.loads((FIXTURES / "sample.json").read_text(encoding="utf-8"))
    data[0]["Offers"][0]["Products"][0]["VAT"] = vat
    data[0]["Offers"][0]["Prompt"] = prompt
    return data


def test_a_vat_fraction_is_an_error_unless_the_profile_says_so(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(record(vat="0.27")))
    code, stderr, _ = build(runner, tmp_path, str(source))
    assert (code, stderr.splitlines()[0]) == (
        1,
        f"{source}:[0]: Offers[1].Products[1].VAT (Project 99999): '0.27' is a rate between 0 and 1; write 27% for 27%"
        " (or 0.5% for half a percent), or set [locale] vat_fractions = true in the profile if the column holds"
        " fractions (0.27 for 27%) [vat-fraction]",
    )
    profile = tmp_path / "p.toml"
    profile.write_text("[locale]\nvat_fractions = true\n")
    code, stderr, data = build(runner, tmp_path, str(source), "--profile", str(profile))
    assert (code, stderr, b"<VAT>27%</VAT>" in data) == (0, "", True)


def test_validate_warns_of_a_rate_below_one_percent(runner: CliRunner, tmp_path: Path) -> None:
    feed = tmp_path / "f.xml"
    feed.write_bytes(EXPECTED.read_bytes().replace(b"<VAT>21%</VAT>", b"<VAT>0.21%</VAT>", 1))
    result = runner.invoke(cli, ["validate", str(feed)])
    assert (result.exit_code, result.stdout.splitlines()[0].split(": warning: ")[1]) == (
        0,
        "VAT 0.21% is below 1%; was a fraction (0.27 for 27%) written as a percentage? Check the source [vat-fraction]",
    )


@pytest.mark.parametrize(
    ("prompt", "zone", "written"),
    [
        ("2024-07-01 07:30:00+00", None, "2024-07-01 09:30:00"),  # summer: Budapest is UTC+2
        ("2024-01-15T07:30:00Z", None, "2024-01-15 08:30:00"),  # winter: UTC+1
        ("2024-01-15 09:30:00.123456+02:00", "Europe/Bucharest", "2024-01-15 09:30:00"),
        ("2024-01-15 09:30:00", "Europe/Bucharest", "2024-01-15 09:30:00"),  # no offset: already local
    ],
)
def test_timestamps_with_offsets_are_written_in_local_time(
    runner: CliRunner, tmp_path: Path, prompt: str, zone: str | None, written: str
) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(record(prompt=prompt)))
    args = [str(source)]
    if zone is not None:
        profile = tmp_path / "p.toml"
        profile.write_text(f'[locale]\ntimezone = "{zone}"\n')
        args += ["--profile", str(profile)]
    code, stderr, data = build(runner, tmp_path, *args)
    assert (code, stderr) == (0, "")
    assert f"<Prompt>{written}</Prompt>".encode() in data


def test_an_unknown_time_zone_is_a_profile_error(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('[locale]\ntimezone = "Europe/Atlantis"\n')
    with pytest.raises(Exception) as caught:
        load_profile(profile)
    assert [str(issue) for issue in caught.value.issues] == [  # type: ignore[attr-defined]
        f"{profile}: locale.timezone: unknown time zone 'Europe/Atlantis'; use an IANA name such as Europe/Budapest"
        " [invalid-profile]"
    ]


def test_an_id_offset_keeps_two_sources_apart_and_the_old_scheme_keeps_old_ids(
    runner: CliRunner, tmp_path: Path
) -> None:
    base = (ERP / "erp.toml").read_text(encoding="utf-8")
    source = str(ERP / "offers-cp1250.csv")
    second = tmp_path / "shop2.toml"
    second.write_text(base.replace("[ids]\n", "[ids]\nid_offset = 200000000\n", 1), encoding="utf-8")
    code, stderr, data = build(runner, tmp_path, source, "--profile", str(second))
    assert (code, stderr) == (0, "")
    assert b'<Project Id="200001001">' in data and b'<Offer Id="298825875830811">' in data
    assert b'<Product Id="200003001">' in data
    old = tmp_path / "old.toml"
    old.write_text(base.replace("[ids]\n", '[ids]\nscheme = "63-bit"\n', 1), encoding="utf-8")
    code, stderr, data = build(runner, tmp_path, source, "--profile", str(old))
    assert (code, b'<Offer Id="4766210813292982">' in data, b'<Offer Id="42725736979800716">' in data) == (
        0,
        True,
        True,
    )
    far = tmp_path / "far.toml"
    far.write_text(base.replace("[ids]\n", f"[ids]\nid_offset = {2**52}\n", 1), encoding="utf-8")
    large = tmp_path / "large.csv"  # a partner code past 2^52: with the offset, past what JSON keeps exact
    large.write_bytes((ERP / "offers-cp1250.csv").read_bytes().replace(b"\r\n2001,", b"\r\n4503599627370497,"))
    code, stderr, _ = build(runner, tmp_path, str(large), "--profile", str(far))
    assert code == 1
    assert stderr.splitlines()[0].endswith(
        "4503599627370497 + id_offset 4503599627370496 is past 2^53 - 1, which JSON and JavaScript consumers cannot"
        " hold; use a smaller id_offset [invalid-id]"
    )


def test_build_records_takes_dicts_and_typed_projects_with_the_feed_rules(tmp_path: Path) -> None:
    from xmlsync import InputError, build_records, project_from_dict

    records = json.loads((FIXTURES / "webshop.json").read_text(encoding="utf-8"))
    out = tmp_path / "feed.xml"
    result = build_records([records[0], project_from_dict(records[1], source="erp:7001")], out)
    assert (result.projects, out.read_bytes()) == (2, (GOLDEN / "webshop" / "expected.xml").read_bytes())
    again = tmp_path / "again.xml"
    with pytest.raises(InputError) as caught:
        build_records([records[1], {**records[1], "Name": ""}, records[1]], again)
    assert [str(issue) for issue in caught.value.issues] == [
        "records[1]: Name (Project 7001): must not be empty; give a value or leave the record out [empty-value]",
        "records[2]: /Projects/Project[3]/@Id (Project 7001): Project Id 7001 is used again; first at records[0]:"
        " /Projects/Project[1]. MiniCRM upserts cards by Id, so the later one would overwrite the earlier: give each"
        " card its own Id [duplicate-project-id]",
    ]
    assert not again.exists()


def filled_profile(runner: CliRunner, tmp_path: Path) -> Path:
    profile = tmp_path / "hu.toml"
    source = str(ERP / "offers-hu-cp1250.csv")
    assert runner.invoke(cli, ["mapping", "init", source, "--encoding", "cp1250", "-o", str(profile)]).exit_code == 0
    text = profile.read_text(encoding="utf-8")
    for name, column in CHOICES.items():
        text = re.sub(rf'# "{re.escape(name)}" = ""   # (required|optional): TODO', f'"{name}" = "{column}"', text)
    profile.write_text(text.replace("[constants]\n", f"[constants]\n{CONSTANTS}", 1), encoding="utf-8")
    return profile


def hungarian_with(tmp_path: Path, line: int, old: bytes, new: bytes) -> Path:
    lines = (ERP / "offers-hu-cp1250.csv").read_bytes().split(b"\r\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path = tmp_path / "export.csv"
    path.write_bytes(b"\r\n".join(lines))
    return path


def test_errors_name_the_erp_keys_the_exact_row_and_1_based_paths(runner: CliRunner, tmp_path: Path) -> None:
    profile = filled_profile(runner, tmp_path)
    # A VAT code on the second product line of the first offer (line 3), found when its cell is read.
    source = hungarian_with(tmp_path, 3, b";27", b";AAM")
    code, stderr, _ = build(runner, tmp_path, str(source), "--profile", str(profile))
    assert (code, stderr.splitlines()[0]) == (
        1,
        f"{source}:3: ÁFA -> Product.VAT (Project P-01001 > Offer OF-2024/0017): 'AAM' is not a VAT rate;"
        " use a percentage such as 27% (or allow the code with --vat-code) [invalid-vat]",
    )
    # A value of the second offer of a project (rows 2 to 4; the offer is on line 4), found by the tree check.
    source = hungarian_with(tmp_path, 4, b";Ft;", b";HUN;")
    code, stderr, _ = build(runner, tmp_path, str(source), "--profile", str(profile))
    assert (code, stderr.splitlines()[0]) == (
        1,
        f"{source}:4: /Projects/Project[1]/Offers/Offer[2]/CurrencyCode (Project P-01001 (Id 2962584582889106) >"
        " Offer OF-2024/0018 (Id 2671296061237544)): CurrencyCode 'HUN' is not an ISO 4217 currency; use a code such"
        " as HUF, EUR or RON [unknown-currency]",
    )
    # A value read wrong in one row: the row, its column, and the keys as the ERP writes them.
    source = hungarian_with(tmp_path, 5, b";2024.04.03;", b";2024.04.33;")
    code, stderr, _ = build(runner, tmp_path, str(source), "--profile", str(profile))
    assert (code, stderr.splitlines()[0]) == (
        1,
        f"{source}:5: Kelt -> Offer.Issued (Project P-01002 > Offer OF-2024/0021): '2024.04.33' is not a date in a"
        " known format; the profile's formats are %Y.%m.%d., %Y.%m.%d [invalid-date]",
    )


MAPPING = Path(__file__).resolve().parent / "fixtures" / "mapping"


@pytest.mark.parametrize(
    ("export", "args"),
    [("hu-export.csv", ["--encoding", "cp1250"]), ("ro-export.csv", [])],
    ids=["hungarian", "romanian"],
)
def test_mapping_init_names_the_usual_hungarian_and_romanian_columns(
    runner: CliRunner, golden, export: str, args: list[str]
) -> None:
    """Every column whose name says its field with certainty is filled; the others stay a TODO or unmapped."""
    result = runner.invoke(cli, ["mapping", "init", str(MAPPING / export), *args], catch_exceptions=False)
    assert result.exit_code == 0
    golden(result.stdout_bytes, GOLDEN / "mapping" / export.replace(".csv", ".toml"))


def test_a_profiles_names_extend_the_usual_column_names(runner: CliRunner, tmp_path: Path) -> None:
    profile = tmp_path / "names.toml"
    profile.write_text('[input]\ndelimiter = ";"\n\n[names]\n"Product.FolderName" = ["Raktár"]\n', encoding="utf-8")
    hu = runner.invoke(
        cli, ["mapping", "init", str(MAPPING / "hu-export.csv"), "--encoding", "cp1250", "--profile", str(profile)]
    )
    assert '"Product.FolderName" = "Raktár"   # required' in hu.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[names]\n"Product.Nam" = ["x"]\n"Offer.Id" = "x"\n', encoding="utf-8")
    refused = runner.invoke(cli, ["mapping", "init", str(MAPPING / "ro-export.csv"), "--profile", str(bad)])
    assert (refused.exit_code, refused.stderr.splitlines()[:2]) == (
        1,
        [
            f'{bad}: names.Product.Nam: unknown field; did you mean "Product.Name"? [unknown-field]',
            f'{bad}: names.Offer.Id: must list column names, e.g. ["Cikk neve", "Termék"] [invalid-profile]',
        ],
    )


def test_no_usual_column_name_is_given_to_two_fields() -> None:
    from xmlsync.profiles.template import COLUMN_NAMES, _key

    owners: dict[str, set[str]] = {}
    for name, columns in COLUMN_NAMES.items():
        for column in columns:
            owners.setdefault(_key(column), set()).add(name)
    assert {key: fields for key, fields in owners.items() if len(fields) > 1} == {}


def test_a_flat_export_without_a_profile_says_to_start_one(runner: CliRunner, tmp_path: Path) -> None:
    source = MAPPING / "ro-export.csv"
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "offers.xml")])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{source}: its columns are not named like the fields, and no --profile says which is which: start one with"
        f" `xmlsync mapping init {source} -o erp.toml`, fill in its TODO fields, then build with --profile erp.toml"
        f" [no-profile]\nError: 1 problem found; {tmp_path / 'offers.xml'} was not written\n",
    )
    assert not (tmp_path / "offers.xml").exists()


def test_a_totals_row_below_the_data_names_the_footer_setting(runner: CliRunner, tmp_path: Path) -> None:
    source = ERP / "offers-layout.xlsx"
    profile = tmp_path / "layout.toml"
    text = (ERP / "offers-layout.toml").read_text(encoding="utf-8")
    profile.write_text("\n".join(line for line in text.splitlines() if not line.startswith("footer")), encoding="utf-8")
    code, stderr, data = build(runner, tmp_path, str(source), "--profile", str(profile))
    assert (code, stderr, data) == (
        1,
        f"{source}:11: row 11 looks like a totals row ('Összesen'), not an offer line: set [input] footer ="
        ' "Összesen" in the profile (or --footer with mapping init), so that the data ends before it [totals-row]\n'
        f"Error: 1 problem found; {tmp_path / 'offers.xml'} was not written\n",
        b"",
    )
    init = runner.invoke(cli, ["mapping", "init", str(source), "--header-row", "3"])
    assert (init.exit_code, init.stderr.splitlines()[0]) == (
        1,
        f"{source}:11: row 11 looks like a totals row ('Összesen'), not an offer line: set [input] footer ="
        ' "Összesen" in the profile (or --footer with mapping init), so that the data ends before it [totals-row]',
    )


def test_mapping_init_and_check_read_a_database(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{ERP / 'offers.sqlite'}"
    init = runner.invoke(cli, ["mapping", "init", "--from-sql", url, "--table", "offers"], catch_exceptions=False)
    assert init.exit_code == 0
    assert init.stdout.splitlines()[3:6] == ["[input]", 'format = "sql"', 'table = "offers"']
    assert '"Project.Id" = "Partnerkód"   # required' in init.stdout
    query = tmp_path / "query.toml"
    query.write_text('[input]\nquery = "SELECT * FROM offers ORDER BY 1"\n', encoding="utf-8")
    kept = runner.invoke(cli, ["mapping", "init", "--from-sql", url, "--profile", str(query)], catch_exceptions=False)
    assert kept.stdout.splitlines()[3:6] == ["[input]", 'format = "sql"', 'query = "SELECT * FROM offers ORDER BY 1"']
    checked = runner.invoke(cli, ["mapping", "check", str(ERP / "erp.toml"), "--from-sql", url], catch_exceptions=False)
    assert (checked.exit_code, checked.stdout.splitlines()[-1]) == (0, f"{ERP / 'erp.toml'}: fits ({url})")
    neither = runner.invoke(cli, ["mapping", "init"])
    assert (neither.exit_code, neither.stderr.splitlines()[-1]) == (2, "Error: give either INPUT or --from-sql URL")


def test_build_records_with_a_profile_makes_the_ids_the_cli_makes(tmp_path: Path) -> None:
    import io

    from lxml import etree

    from xmlsync import build_records, load_profile

    golden_feed = etree.parse(str(GOLDEN / "erp" / "expected-hu.xml")).getroot()
    cli_ids = (golden_feed[0].get("Id"), golden_feed[0].find("Offers/Offer").get("Id"))
    record = {
        "Id": "P-01001", "Name": "Árvíztűrő Tükörfúrógép Kft.", "CategoryId": 39, "StatusId": "Regisztrált",
        "Business": {"Name": "Árvíztűrő Tükörfúrógép Kft."},
        "Offers": [{
            "Id": "OF-2024/0017", "Number": "OF-2024/0017", "CurrencyCode": "HUF", "Prompt": "2024-04-15",
            "Performance": "2024-04-05", "Issued": "2024-04-01", "Status": "E",
            "Customer": {"Name": "Á", "CountryId": "Hungary", "PostalCode": "1042", "City": "Budapest", "Address": "Árpád út 5."},
            "Products": [{"Id": 3001, "Name": "Ütvefúró", "PriceNet": "48990", "Quantity": 3, "Unit": "darab", "VAT": "27%",
                          "FolderName": "ERP termékek"}],
        }],
    }  # fmt: skip
    profile = load_profile(filled_profile(CliRunner(), tmp_path))
    out = io.BytesIO()
    build_records([record], out, profile=profile)
    built = etree.fromstring(out.getvalue())
    assert (built[0].get("Id"), built[0].find("Offers/Offer").get("Id")) == cli_ids
    with pytest.raises(InputError) as caught:
        build_records([dict(record, Id="P-01001", CategoryId="x")], io.BytesIO(), profile=profile)
    assert [str(issue) for issue in caught.value.issues] == [
        f"records[0]: CategoryId (Project P-01001 (Id {cli_ids[0]})): 'x' is not a valid Id; MiniCRM needs a"
        " non-negative whole number [invalid-id]"
    ]
    with pytest.raises(InputError) as refused:
        build_records([record], io.BytesIO())  # without a profile, a key is not an Id
    assert refused.value.issues[0].code == "invalid-id"
