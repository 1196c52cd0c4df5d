"""Business rules: the same checks in validate and build; exit codes never carry an error count."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, ROOT, SAMPLE_XML
from xmlsync import UnreadableError
from xmlsync.cli import cli
from xmlsync.rules import ean_check_digit_ok
from xmlsync.validate import check_file

RULES_FILE = ROOT / "tests" / "fixtures" / "validate" / "rules-2_errors-5_warnings.xml"
SAMPLE_RECORD = json.loads((FIXTURES / "sample.json").read_text(), parse_float=Decimal)[0]


def record(project_id: int, offer_id: int, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE_RECORD)
    data["Id"] = project_id
    data["Offers"][0]["Id"] = offer_id
    data["Offers"][0]["Products"][0].update(changes)
    return data


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records, default=str))
    return path


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("5901234123457", True),
        ("5901234123458", False),
        ("96385074", True),
        ("96385075", False),
        ("036000291452", True),
        ("10614141000415", True),
        ("10614141000416", False),
    ],
)
def test_ean_check_digit(code: str, ok: bool) -> None:
    assert ean_check_digit_ok(code) is ok


@pytest.mark.parametrize("ean", ["\u00b2" * 8, "\u0663" * 13])
def test_an_ean_of_other_digits_is_a_schema_error_not_a_crash(runner: CliRunner, tmp_path: Path, ean: str) -> None:
    # str.isdigit() takes superscripts and Arabic-Indic digits, which int() or a check digit cannot use.
    feed = tmp_path / "ean.xml"
    feed.write_text(SAMPLE_XML.read_text(encoding="utf-8").replace("<EAN>1865489756485</EAN>", f"<EAN>{ean}</EAN>"))
    result = runner.invoke(cli, ["validate", str(feed)])
    assert (result.exit_code, result.stderr, result.stdout.splitlines()[-2:]) == (
        1,
        "",
        [
            f"{feed}:74: /Projects/Project[1]/Offers/Offer[1]/Products/Product[1]/EAN (Project 99999 > Offer 99999 >"
            f" Product 11144): <EAN> is {ean!r}; expected an EAN/GTIN code of 8, 12, 13 or 14 digits, e.g."
            " 5901234123457 [invalid-value]",
            f"{feed}: not valid (1 error)",
        ],
    )


def test_a_feed_with_300_errors_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    project = SAMPLE_XML.read_text(encoding="utf-8").split("<Projects>", 1)[1].rsplit("</Projects>", 1)[0]
    projects = [
        project.replace('Id="99999"', f'Id="{i}"').replace('Id="11144"', f'Id="{i}"').replace(">HUF<", ">huf<")
        for i in range(1, 301)
    ]
    feed = tmp_path / "big.xml"
    feed.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<Projects>{"".join(projects)}</Projects>\n')
    result = runner.invoke(cli, ["-v", "validate", str(feed)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 301
    assert lines[-1] == f"{feed}: not valid (300 errors)"
    grouped = runner.invoke(cli, ["validate", str(feed)])
    assert (grouped.exit_code, grouped.stdout.splitlines()) == (
        1,
        [
            f"{feed}: invalid-value x300 in <Offer>, first at line 41 (--verbose lists each): <CurrencyCode> is"
            " 'huf'; expected a three-letter upper-case ISO 4217 currency code, e.g. HUF [invalid-value]",
            f"{feed}: not valid (300 errors)",
        ],
    )
    limited = runner.invoke(cli, ["validate", "--max-errors", "10", str(feed)])
    assert limited.exit_code == 1
    assert limited.stdout.splitlines()[-1] == (
        f"{feed}: not valid (10 errors); stopped at the error limit (--max-errors), more may follow"
    )


def test_warnings_alone_keep_a_file_valid_unless_strict(runner: CliRunner, tmp_path: Path) -> None:
    text = RULES_FILE.read_text(encoding="utf-8").replace(">HUN<", ">HUF<")
    text = text.replace('<Product Id="11144">\n<Name>Second', '<Product Id="11145">\n<Name>Second')
    feed = tmp_path / "warnings.xml"
    feed.write_text(text, encoding="utf-8")
    relaxed = runner.invoke(cli, ["validate", str(feed)])
    assert (relaxed.exit_code, relaxed.stdout.splitlines()[-1]) == (0, f"{feed}: valid (5 warnings)")
    strict = runner.invoke(cli, ["validate", "--strict", str(feed)])
    assert (strict.exit_code, strict.stdout.splitlines()[-1]) == (1, f"{feed}: not valid (5 errors)")
    allowed = runner.invoke(cli, ["validate", "--strict", "--vat-code", "KBAUK", str(feed)])
    assert (allowed.exit_code, allowed.stdout.splitlines()[-1]) == (1, f"{feed}: not valid (4 errors)")


def test_a_folder_without_feeds_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {tmp_path}: holds no .xml or .xml.gz file (folders are searched for feeds below them) [no-feeds]\n",
    )
    with pytest.raises(UnreadableError) as info:
        check_file(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot read the file: Is a directory [unreadable-input]"


def test_a_file_that_fails_to_read_exits_1_in_validate_as_in_build(runner: CliRunner, tmp_path: Path) -> None:
    unreadable = "/proc/self/mem"  # it exists, and reading it from its start fails (EIO), even as root
    checked = runner.invoke(cli, ["validate", unreadable])
    assert (checked.exit_code, checked.stderr) == (
        1,
        f"Error: {unreadable}: cannot read the file: Input/output error [unreadable-input]\n",
    )
    out = tmp_path / "o.xml"
    built = runner.invoke(cli, ["build", unreadable, "--format", "jsonl", "-o", str(out)])
    assert (built.exit_code, built.stderr.splitlines()) == (
        1,
        [
            f"{unreadable}: cannot read the file: Input/output error [unreadable-input]",
            f"Error: 1 problem found; {out} was not written",
        ],
    )


def test_build_refuses_duplicate_ids_naming_both_records(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [record(1, 10), record(2, 20), record(1, 10)])
    out = tmp_path / "out.xml"
    result = runner.invoke(cli, ["build", str(source), "-o", str(out)])
    assert (result.exit_code, result.stderr.splitlines()) == (
        1,
        [
            f"{source}:[2]: /Projects/Project[3]/@Id (Project 1): Project Id 1 is used again; first at {source}:[0]:"
            " /Projects/Project[1]. MiniCRM upserts cards by Id, so the later one would overwrite the earlier: give"
            " each card its own Id [duplicate-project-id]",
            f"{source}:[2]: /Projects/Project[3]/Offers/Offer[1]/@Id (Project 1 > Offer 10): Offer Id 10 is used"
            f" again; first at {source}:[0]: /Projects/Project[1]/Offers/Offer[1]. Give each offer its own Id"
            " [duplicate-offer-id]",
            f"Error: 2 problems found; {out} was not written",
        ],
    )
    assert not out.exists()


def test_build_prints_warnings_and_strict_makes_them_fatal(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [record(1, 10, EAN="5901234123458")])
    out = tmp_path / "out.xml"
    warning = (
        f"{source}:[0]: /Projects/Project[1]/Offers/Offer[1]/Products/Product[1]/EAN (Project 1 > Offer 10 > Product"
        " 11144): warning: EAN 5901234123458 has a wrong check digit; check the code (or leave EAN out)"
        " [ean-check-digit]"
    )
    result = runner.invoke(cli, ["build", str(source), "-o", str(out)], catch_exceptions=False)
    assert (result.exit_code, result.stderr.splitlines()) == (
        0,
        [warning, f"{out}: wrote 1 project, 1 offer, 1 product from 1 input row, 0 rejected"],
    )
    out.unlink()
    strict = runner.invoke(cli, ["build", str(source), "-o", str(out), "--strict"])
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[0] == warning.replace("warning: ", "")
    assert not out.exists()


def test_a_built_feed_passes_validate_with_the_same_options(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "in.json", [record(1, 10, VAT="KBAUK")])
    out = tmp_path / "out.xml"
    built = runner.invoke(cli, ["build", str(source), "-o", str(out), "--vat-code", "KBAUK", "--strict"])
    assert built.exit_code == 0
    checked = runner.invoke(cli, ["validate", str(out), "--vat-code", "KBAUK", "--strict"])
    assert (checked.exit_code, checked.stdout) == (0, f"{out}: valid\n")


@pytest.mark.parametrize("tag", ["Business", "Contacts", "Name"])
def test_a_documented_element_again_after_offers_is_repeated(runner: CliRunner, tmp_path: Path, tag: str) -> None:
    # After <Offers> the XSD takes any element as a custom card field; MiniCRM reads children by name.
    text = SAMPLE_XML.read_text(encoding="utf-8")
    late = {
        "Business": "<Business><Name>Late</Name></Business>",
        "Contacts": "<Contacts/>",
        "Name": "<Name>Late</Name>",
    }
    first = {"Business": 14, "Contacts": 23, "Name": 6}
    feed = tmp_path / "late.xml"
    feed.write_text(text.replace("</Offers>", f"</Offers>{late[tag]}", 1), encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(feed)])
    assert (result.exit_code, result.stdout.splitlines()) == (
        1,
        [
            f"{feed}:88: /Projects/Project[1]/{tag} (Project 99999): <{tag}> appears twice in <Project> (also line"
            f" {first[tag]}); MiniCRM reads one of them: keep one [repeated-element]",
            f"{feed}: not valid (1 error)",
        ],
    )


def test_a_documented_element_moved_after_offers_is_read_with_a_warning(runner: CliRunner, tmp_path: Path) -> None:
    text = SAMPLE_XML.read_text(encoding="utf-8")
    moved = text.replace("<UserId>102970</UserId>", "", 1).replace("</Offers>", "</Offers><UserId>102970</UserId>", 1)
    feed = tmp_path / "moved.xml"
    feed.write_text(moved, encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(feed)])
    assert (result.exit_code, result.stdout.splitlines()) == (
        0,
        [
            f"{feed}:88: /Projects/Project[1]/UserId (Project 99999): warning: <UserId> is present but after"
            " <Offers>; MiniCRM reads it, the canonical place is before <Offers> [element-order]",
            f"{feed}: valid (1 warning)",
        ],
    )
    strict = runner.invoke(cli, ["validate", "--strict", str(feed)])
    assert strict.exit_code == 1


@pytest.mark.parametrize("lines", [3, 100])
def test_a_product_id_twice_in_a_short_or_long_offer(lines: int) -> None:
    # Short lists are compared by libxml2, long ones (over 64 lines) in Python: both must find the twin.
    sample = SAMPLE_XML.read_bytes()
    product = sample.split(b"<Products>")[1].split(b"</Products>")[0]
    ids = [*range(1, lines), 1]
    body = b"".join(product.replace(b'Id="11144"', f'Id="{n}"'.encode()) for n in ids)
    report = check_file(sample.replace(product, body), name="twin.xml")
    assert [(issue.code, issue.path) for issue in report.issues] == [
        ("duplicate-product-id", f"/Projects/Project[1]/Offers/Offer[1]/Products/Product[{lines}]/@Id")
    ]


def test_performance_before_issued_is_a_warning_in_build_and_validate(runner: CliRunner, tmp_path: Path) -> None:
    records = json.loads((ROOT / "fixtures" / "offers.json").read_text(encoding="utf-8"))[:1]
    offer = records[0]["Offers"][0]
    offer["Issued"], offer["Performance"], offer["Prompt"] = "2024-04-10 09:30:00", "2024-04-05", "2024-04-15"
    source = tmp_path / "erp.json"
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "o.xml"
    built = runner.invoke(cli, ["build", str(source), "-o", str(out), "-q"])
    message = (
        "warning: <Issued> (2024-04-10 09:30:00) is after <Performance> (2024-04-05); the work is normally done"
        " after the offer is made: check both dates [performance-before-issued]"
    )
    assert (built.exit_code, built.stderr) == (
        0,
        f"{source}:[0]: /Projects/Project[1]/Offers/Offer[1]/Performance (Project 10001 > Offer 2024017): {message}\n",
    )
    checked = runner.invoke(cli, ["validate", str(out)])
    line = out.read_text(encoding="utf-8").splitlines().index("        <Performance>2024-04-05</Performance>") + 1
    assert checked.stdout.splitlines() == [
        f"{out}:{line}: /Projects/Project[1]/Offers/Offer[1]/Performance (Project 10001 > Offer 2024017): {message}",
        f"{out}: valid (1 warning)",
    ]
    offer["Performance"] = "2024-04-10"  # the day it was issued, before its time of day: no warning
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    same_day = runner.invoke(cli, ["build", str(source), "-o", str(out), "-q"])
    assert (same_day.exit_code, same_day.stderr) == (0, "")
    assert runner.invoke(cli, ["validate", str(out)]).stdout == f"{out}: valid\n"
