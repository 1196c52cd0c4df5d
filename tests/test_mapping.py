"""Input records -> typed records: strict types, one exact issue per bad field, documented leniency."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import FIXTURES
from xmlsync import BuildConfig, InputError, project_from_dict
from xmlsync.tree.records import Email, Product


def sample_record() -> dict[str, Any]:
    return json.loads((FIXTURES / "sample.json").read_text(), parse_float=Decimal)[0]


def issues(record: Any, config: BuildConfig | None = None) -> list[str]:
    with pytest.raises(InputError) as info:
        project_from_dict(record, source="in.json:[0]", config=config)
    return [str(issue) for issue in info.value.issues]


def with_change(path: str, value: Any) -> dict[str, Any]:
    """Return the sample record with the value at a dotted path (``Offers.0.Status``) replaced or removed."""
    record = copy.deepcopy(sample_record())
    *parents, last = path.split(".")
    node: Any = record
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return record


def test_the_sample_record_maps_to_typed_values() -> None:
    project = project_from_dict(sample_record())
    offer = project.offers[0]
    assert project.business is not None and project.business.emails == (Email("jambor.timea+ceg@minicrm.hu"),)
    assert offer.issued == datetime(2021, 9, 22, 12, 15, 13)
    assert offer.products[0] == Product(
        id=11144,
        name="First product",
        sku="ET-1234",
        ean="1865489756485",
        price_net=Decimal(1250),
        quantity=Decimal(5),
        unit="piece",
        vat="27%",
        folder_name="Default products",
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "Name",
            ...,
            'in.json:[0]: Name (Project 99999): missing required field "Name"; add it to the record [missing-field]',
        ),
        (
            "CategoryId",
            "thirty-nine",
            "in.json:[0]: CategoryId (Project 99999): 'thirty-nine' is not a valid Id; MiniCRM needs a non-negative"
            " whole number [invalid-id]",
        ),
        (
            "Offers.0.Products.0.Quantity",
            True,
            "in.json:[0]: Offers[1].Products[1].Quantity (Project 99999): expected a number, got a boolean [wrong-type]",
        ),
        (
            "Offers.0.Products.0.PriceNet",
            "1 250,50",
            "in.json:[0]: Offers[1].Products[1].PriceNet (Project 99999): '1 250,50' is not a number; use a dot as"
            " decimal separator and no thousands separator, e.g. 1250.50 [invalid-number]",
        ),
        (
            "Offers.0.Products.0.PriceNet",
            1250.5,
            "in.json:[0]: Offers[1].Products[1].PriceNet (Project 99999): expected an exact number; pass a Decimal or"
            ' a string such as "1250.50" [wrong-type]',
        ),
        (
            "Offers.0.Issued",
            "03/04/2024",
            "in.json:[0]: Offers[1].Issued (Project 99999): '03/04/2024' is not a date; use YYYY-MM-DD or"
            " YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13 [invalid-date]",
        ),
        (
            "Offers.0.Customer",
            "Test Example",
            "in.json:[0]: Offers[1].Customer (Project 99999): expected an object, got a text [wrong-type]",
        ),
        (
            "Offers.0.Customer.City",
            " ",
            "in.json:[0]: Offers[1].Customer.City (Project 99999): must not be empty; give a value or leave the"
            " record out [empty-value]",
        ),
        (
            "Offers.0.Products",
            [],
            'in.json:[0]: Offers[1].Products (Project 99999): "Products" must hold at least one item [empty-list]',
        ),
        (
            "Offers.0.Products.0.VAT",
            "AAM",
            "in.json:[0]: Offers[1].Products[1].VAT (Project 99999): 'AAM' is not a VAT rate; use a percentage such"
            " as 27% (or allow the code with --vat-code) [invalid-vat]",
        ),
        (
            "Offers.0.Prompt",
            "2021-09-30T12:15:13+25:00",
            "in.json:[0]: Offers[1].Prompt (Project 99999): '2021-09-30T12:15:13+25:00' is not a date; use"
            " YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13 [invalid-date]",
        ),
        (
            "Offers.0.Products.0.Colour",
            "red",
            'in.json:[0]: Offers[1].Products[1].Colour (Project 99999): unknown field "Colour"; known fields: Id, Name,'
            " SKU, EAN, Description, PriceNet, Quantity, Unit, VAT, FolderName [unknown-field]",
        ),
        (
            "Offers.0.Numbr",
            "x",
            'in.json:[0]: Offers[1].Numbr (Project 99999): unknown field "Numbr"; did you mean "Number"? [unknown-field]',
        ),
        (
            "Contacts.0",
            {"Emails": ["a@b.example"]},
            "in.json:[0]: Contacts[1] (Project 99999): a contact needs a FirstName or a LastName; add one"
            " [missing-element]",
        ),
        (
            "Fields",
            {"StatusId": "x"},
            'in.json:[0]: Fields (Project 99999): "StatusId" is a documented element; set it with its own key, not in'
            ' "Fields" [reserved-field-name]',
        ),
        (
            "Fields",
            {"1st field": "x"},
            'in.json:[0]: Fields (Project 99999): "1st field" is not a usable field name; use the internal name, e.g.'
            " String1616 [invalid-field-name]",
        ),
        (
            "Id",
            -1,
            "in.json:[0]: Id: -1 is out of range; an Id must be between 0 and 9223372036854775807 [invalid-id]",
        ),
    ],
)
def test_a_bad_field_gives_one_exact_issue(path: str, value: Any, expected: str) -> None:
    assert issues(with_change(path, value)) == [expected]


def test_every_problem_of_a_record_is_reported() -> None:
    record = with_change("Offers.0.Status", ...)
    record["Offers"][0]["CurrencyCode"] = 978
    del record["Business"]
    del record["Contacts"]
    assert issues(record) == [  # the record's fields first, then the rules on several of them
        'in.json:[0]: Offers[1].Status (Project 99999): missing required field "Status"; add it to the record'
        " [missing-field]",
        "in.json:[0] (Project 99999): a project needs a Business (company) or at least one Contact (person);"
        " MiniCRM requires one of them [company-or-person-required]",
    ]


def test_a_record_that_is_not_an_object() -> None:
    assert issues(["Id", 1]) == ["in.json:[0]: expected an object, got a list [wrong-type]"]


@pytest.mark.parametrize(
    ("text", "char"),
    [("Kft.\x0b", "U+000B"), ("a\x00b", "U+0000"), ("x\ud800", "U+D800"), ("\ufffe", "U+FFFE")],
)
def test_text_xml_cannot_hold_is_an_error_naming_the_field(text: str, char: str) -> None:
    position = len(text) - text[::-1].index(next(c for c in text if c in "\x0b\x00\ud800\ufffe"))
    assert issues(with_change("Offers.0.Customer.Name", text)) == [
        f"in.json:[0]: Offers[1].Customer.Name (Project 99999): contains {char} at position {position}, which XML"
        " 1.0 cannot hold; remove it from the source data or use --clean-text to drop such characters [xml-char]"
    ]


def test_clean_text_drops_what_xml_cannot_hold() -> None:
    record = with_change("Offers.0.Customer.Name", "Test\x0b Exam\ud800ple\x1f")
    project = project_from_dict(record, config=BuildConfig(clean_text=True))
    assert project.offers[0].customer.name == "Test Example"


@pytest.mark.parametrize(
    ("vat", "written"), [(27, "27%"), ("27", "27%"), ("27%", "27%"), (Decimal("5.5"), "5.5%"), ("0%", "0%")]
)
def test_vat_rates_are_written_as_percentages(vat: Any, written: str) -> None:
    project = project_from_dict(with_change("Offers.0.Products.0.VAT", vat))
    assert project.offers[0].products[0].vat == written


def test_vat_codes_are_accepted_only_when_allowed() -> None:
    record = with_change("Offers.0.Products.0.VAT", "KBAUK")
    project = project_from_dict(record, config=BuildConfig(vat_codes=frozenset({"KBAUK"})))
    assert project.offers[0].products[0].vat == "KBAUK"


def test_statuses_can_be_restricted() -> None:
    config = BuildConfig(statuses=frozenset({"Draft", "Issued"}))
    assert issues(sample_record(), config) == [
        "in.json:[0]: Offers[1].Status (Project 99999): 'Accepted' is not an allowed offer status; allowed: Draft,"
        " Issued [unknown-status]"
    ]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("2021-09-30", date(2021, 9, 30)),
        ("2021-09-30 12:15:13", datetime(2021, 9, 30, 12, 15, 13)),
        ("2021-09-30T12:15:13", datetime(2021, 9, 30, 12, 15, 13)),
        (date(2024, 1, 2), date(2024, 1, 2)),
        (datetime(2024, 1, 2, 3, 4, 5, 678), datetime(2024, 1, 2, 3, 4, 5)),
    ],
)
def test_dates_are_parsed_strictly(raw: Any, value: date) -> None:
    assert project_from_dict(with_change("Offers.0.Prompt", raw)).offers[0].prompt == value


@pytest.mark.parametrize(
    ("raw", "value", "numbers"),
    [(1042, "1042", "integers"), ("1042", "1042", "integers"), (Decimal("10.5"), "10.5", "all"), (7, "7", "all")],
)
def test_numbers_are_accepted_as_text(raw: Any, value: str, numbers: Any) -> None:
    record = with_change("Offers.0.Customer.PostalCode", raw)
    project = project_from_dict(record, config=BuildConfig(numbers_as_text=numbers))
    assert project.offers[0].customer.postal_code == value


@pytest.mark.parametrize(
    ("raw", "numbers", "kind"),
    [
        (Decimal("10.5"), "integers", " with a fraction or an exponent"),
        (Decimal("1E+99999999"), "integers", " with a fraction or an exponent"),
        (1042, "none", ""),
    ],
)
def test_other_numbers_for_a_text_field_are_refused(raw: Any, numbers: Any, kind: str) -> None:
    assert issues(with_change("Name", raw), BuildConfig(numbers_as_text=numbers)) == [
        f"in.json:[0]: Name (Project 99999): expected a text, got a number{kind}; write it in quotes as it should"
        ' read (e.g. "10.50"), or set [input] numbers_as_text = "all" in the profile [wrong-type]'
    ]


@pytest.mark.parametrize(
    ("path", "raw", "expected"),
    [
        (
            "Offers.0.Products.0.PriceNet",
            Decimal("1E+99999999"),
            "Offers[1].Products[1].PriceNet (Project 99999): 1E+99999999 has more digits than a feed holds: at most"
            " 20 before and 20 after the decimal point [invalid-number]",
        ),
        (
            "Offers.0.Products.0.Quantity",
            Decimal("1E-99999999"),
            "Offers[1].Products[1].Quantity (Project 99999): 1E-99999999 has more digits than a feed holds: at most"
            " 20 before and 20 after the decimal point [invalid-number]",
        ),
        (
            "Offers.0.Products.0.PriceNet",
            "1" * 21,
            "Offers[1].Products[1].PriceNet (Project 99999): '111111111111111111111' has more"
            " digits than a feed holds: at most 20 before and 20 after the decimal point [invalid-number]",
        ),
        (
            "Name",
            Decimal("1E+99999999"),
            "Name (Project 99999): 1E+99999999 has more digits than a feed holds: at most 20 before and 20 after"
            " the decimal point [invalid-number]",
        ),
        (
            "Offers.0.Products.0.VAT",
            Decimal("1E+99999999"),
            "Offers[1].Products[1].VAT (Project 99999): 1E+99999999 is not a VAT rate; use a percentage such as 27%"
            " (or allow the code with --vat-code) [invalid-vat]",
        ),
        (
            "Offers.0.Id",
            Decimal("1E+5000"),
            "Offers[1].Id (Project 99999): 1E+5000 is out of range; an Id must be between 0 and 9223372036854775807"
            " [invalid-id]",
        ),
        (
            "Offers.0.Id",
            10**5000,
            "Offers[1].Id (Project 99999): a number of more than 38 digits is out of range; an Id must be between 0"
            " and 9223372036854775807 [invalid-id]",
        ),
        (
            "Offers.0.Id",
            "9" * 5000,
            "Offers[1].Id (Project 99999): '9999999999999999999999999999999999999...' is out of range; an Id must be"
            " between 0 and 9223372036854775807 [invalid-id]",
        ),
    ],
    ids=["price-1e99999999", "quantity-1e-99999999", "price-21-digits", "name", "vat", "id-1e5000", "id-int", "id-str"],
)
def test_huge_numbers_are_refused_without_being_written_out(path: str, raw: Any, expected: str) -> None:
    config = BuildConfig(numbers_as_text="all")
    assert issues(with_change(path, raw), config) == [f"in.json:[0]: {expected}"]


@pytest.mark.parametrize(("raw", "value"), [("007", 7), (Decimal("12"), 12), (2**63 - 1, 2**63 - 1)])
def test_ids_accept_whole_numbers(raw: Any, value: int) -> None:
    assert project_from_dict(with_change("Id", raw)).id == value


def test_empty_optional_values_are_left_out() -> None:
    record = with_change("Offers.0.Subject", "")
    record["UserId"] = None
    project = project_from_dict(record)
    assert (project.user_id, project.offers[0].subject) == (None, None)


def test_the_walk_stops_at_the_first_problem_when_asked() -> None:
    from xmlsync.walk import walk

    record = with_change("Offers.0.Status", ...)
    record["Offers"][0]["CurrencyCode"] = True
    every = walk(record, source="in.json:[0]")
    first = walk(record, source="in.json:[0]", first_only=True)
    assert (every[0], first[0]) == (None, None)
    assert (
        [str(issue) for issue in first[1]]
        == [str(every[1][0])]
        == ["in.json:[0]: Offers[1].CurrencyCode (Project 99999): expected a text, got a boolean [wrong-type]"]
    )
    assert len(every[1]) == 2


def test_a_typed_record_takes_the_same_walk() -> None:
    from dataclasses import replace

    from xmlsync import build_project

    project = project_from_dict(sample_record())
    assert build_project(project).findtext("Offers/Offer/Products/Product/PriceNet") == "1250"
    broken = replace(project, name="Árvíz\x0btűrő", source="erp:7")
    with pytest.raises(InputError) as info:
        build_project(broken)
    assert [str(issue) for issue in info.value.issues] == [
        "erp:7: Name (Project 99999): contains U+000B at position 6, which XML 1.0 cannot hold; remove it from the"
        " source data or use --clean-text to drop such characters [xml-char]"
    ]
