"""Builder output, byte for byte against golden files (rewrite them only with pytest --update-golden)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import FIXTURES, GOLDEN
from xmlsync import BuildConfig, build_file, build_project, project_from_dict, validate
from xmlsync.builder import format_date, format_decimal

CASES = {
    "sample": FIXTURES / "sample.json",
    "offers": FIXTURES / "offers.json",
    "webshop": FIXTURES / "webshop.json",  # the Orders variant, and a card with no offers
}


@pytest.mark.parametrize("pretty", [True, False], ids=["pretty", "compact"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_build_matches_golden_file(case: str, pretty: bool, golden) -> None:
    out = io.BytesIO()
    build_file(CASES[case], out, BuildConfig(pretty=pretty))
    data = out.getvalue()
    golden(data, GOLDEN / case / ("expected.xml" if pretty else "expected-compact.xml"))
    validate(etree.fromstring(data))


def test_compact_and_pretty_hold_the_same_tree() -> None:
    pretty, compact = io.BytesIO(), io.BytesIO()
    build_file(CASES["offers"], pretty, BuildConfig(pretty=True))
    build_file(CASES["offers"], compact, BuildConfig(pretty=False))
    parser = etree.XMLParser(remove_blank_text=True)
    assert etree.tostring(etree.fromstring(pretty.getvalue(), parser), method="c14n") == etree.tostring(
        etree.fromstring(compact.getvalue(), parser), method="c14n"
    )


def test_output_starts_with_the_documented_declaration() -> None:
    out = io.BytesIO()
    build_file(CASES["sample"], out)
    assert out.getvalue().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Projects>\n  <Project Id="99999">')


def test_empty_input_gives_an_empty_valid_feed(tmp_path: Path) -> None:
    source = tmp_path / "empty.json"
    source.write_text("[]")
    out = io.BytesIO()
    result = build_file(source, out)
    assert out.getvalue() == b'<?xml version="1.0" encoding="UTF-8"?>\n<Projects></Projects>\n'
    assert result.summary() == "0 projects, 0 offers, 0 products from 0 input rows, 0 rejected"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2021, 9, 30, 12, 15, 13), "2021-09-30 12:15:13"),
        (datetime(2024, 3, 5, 7, 0, 0), "2024-03-05 07:00:00"),
        (date(2024, 3, 5), "2024-03-05"),
        (datetime(999, 1, 2, 3, 4, 5), "0999-01-02 03:04:05"),
        (date(33, 1, 2), "0033-01-02"),
    ],
)
def test_dates_are_written_padded(value: date, text: str) -> None:
    assert format_date(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [("1250", "1250"), ("1250.50", "1250.50"), ("1E+3", "1000"), ("-0.5", "-0.5"), ("2.5E-3", "0.0025")],
)
def test_decimals_have_a_dot_and_no_exponent(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_custom_fields_follow_offers_and_fill_the_offer_project() -> None:
    record = {
        "Id": 1,
        "Name": "N",
        "CategoryId": 2,
        "StatusId": "S",
        "Contacts": [{"LastName": "L"}],
        "Offers": [
            {
                "Id": 3,
                "Number": "O",
                "CurrencyCode": "EUR",
                "Prompt": "2024-01-02",
                "Performance": "2024-01-02",
                "Issued": "2024-01-02",
                "Status": "Draft",
                "Customer": {"Name": "C", "CountryId": "Hungary", "PostalCode": "1", "City": "B", "Address": "A"},
                "Products": [
                    {"Id": 4, "Name": "P", "PriceNet": 1, "Quantity": 1, "Unit": "u", "VAT": "5.5%", "FolderName": "F"}
                ],
                "Project": {"String1616": "x", "UserId": "Kovács Éva"},
            }
        ],
        "Fields": {"Enum1951": "Gold"},
    }
    el = build_project(project_from_dict(record))
    assert [child.tag for child in el] == ["Name", "CategoryId", "StatusId", "Contacts", "Offers", "Enum1951"]
    assert etree.tostring(el.find("Offers/Offer/Project"), encoding="unicode") == (
        "<Project><String1616>x</String1616><UserId>Kovács Éva</UserId></Project>"
    )


def test_a_second_output_is_one_renderer_and_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch engine takes its output by name; the record is checked as XML Sync whatever it writes."""
    from xmlsync import builder
    from xmlsync.batch import build_batch
    from xmlsync.config import BuildConfig
    from xmlsync.readers import RawRecord
    from xmlsync.tree.fields import OFFER, PROJECT
    from xmlsync.walk import field_value

    def numbers(walked: Any, config: BuildConfig) -> bytes:  # the offer numbers of a card, reached by field
        offers = field_value(walked, PROJECT, "Offers")
        return ",".join(field_value(offer, OFFER, "Number") for offer in offers).encode()

    monkeypatch.setitem(builder.RENDERERS, "numbers", builder.Output(numbers, builder.RENDERERS["offer-json"].sink))
    records = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))
    broken = {**records[1], "Offers": [{**records[1]["Offers"][0], "CurrencyCode": "HUN"}]}
    built = build_batch([(RawRecord(records[0], "a"), 1), (RawRecord(broken, "b"), 2)], BuildConfig(), "numbers")
    assert [b.rendered for b in built] == [b"OF-2024/0017", f"{records[1]['Offers'][0]['Number']}".encode()]
    assert [[issue.code for issue in b.after] for b in built] == [[], ["unknown-currency"]]
    assert build_batch([(RawRecord(records[0], "a"), 1)], BuildConfig())[0].rendered.startswith(
        b'\n  <Project Id="10001">'
    )
