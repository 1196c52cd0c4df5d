"""The value kinds (xmlsync/tree/kinds.py): each reads a JSON value and a flat cell alike into the canonical text."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from xmlsync.config import BuildConfig, Locale
from xmlsync.tree.kinds import (
    CATEGORY,
    CURRENCY,
    DATE,
    DECIMAL,
    EAN,
    EMAIL,
    ID,
    OPTIONAL,
    STATUS,
    TEXT,
    VAT,
    Key,
    Kind,
    Problem,
    show,
)

CONFIG = BuildConfig()
HU = Locale(decimal_separator=",", thousands_separator=" ", date_formats=("%Y.%m.%d.",))


@pytest.mark.parametrize(
    ("kind", "raw", "locale", "text"),
    [
        (TEXT, "Árvíztűrő", None, "Árvíztűrő"),
        (TEXT, 1042, None, "1042"),  # a whole number is its digits (numbers_as_text = "integers")
        (TEXT, 1042, HU, "1042"),  # a cell from SQL or XLSX
        (OPTIONAL, "  ", None, None),  # white space alone is no value: left out
        (ID, 99999, None, "99999"),
        (ID, "00042", None, "42"),
        (ID, 7.0, HU, "7"),  # an XLSX number
        (CATEGORY, "39", HU, "39"),
        (DECIMAL, "48990.00", None, "48990"),  # one text per number: no trailing zeros
        (DECIMAL, Decimal("-0.50"), None, "-0.5"),
        (DECIMAL, 3, None, "3"),
        (DECIMAL, "1 250,50", HU, "1250.5"),
        (DECIMAL, "1\u00a0250,5", HU, "1250.5"),
        (DECIMAL, 7490.5, HU, "7490.5"),  # an XLSX float: its shortest repr
        (DATE, "2021-09-30 12:15:13", None, "2021-09-30 12:15:13"),
        (DATE, "2024-3-5", None, "2024-03-05"),  # a producer's unpadded date
        (DATE, date(2024, 3, 5), None, "2024-03-05"),
        (DATE, datetime(2024, 4, 1, 7, 30, tzinfo=timezone.utc), None, "2024-04-01 09:30:00"),  # Budapest time
        (DATE, "2024.05.17.", HU, "2024-05-17"),  # the locale's format
        (VAT, "27%", None, "27%"),
        (VAT, 27, None, "27%"),
        (VAT, "27.00%", None, "27%"),
        (VAT, "5,5", HU, "5.5%"),
        (CURRENCY, "Ft", None, "HUF"),
        (CURRENCY, "huf", None, "HUF"),
        (EAN, "", None, None),
    ],
)
def test_read_gives_the_canonical_text(kind: Kind, raw: Any, locale: Locale | None, text: str | None) -> None:
    assert kind.read(raw, CONFIG, locale) == text


@pytest.mark.parametrize(
    ("kind", "raw", "locale", "code", "message"),
    [
        (TEXT, "", None, "empty-value", "must not be empty; give a value or leave the record out"),
        (TEXT, "a\x0bb", None, "xml-char", "contains U+000B at position 2, which XML 1.0 cannot hold; remove it"
         " from the source data or use --clean-text to drop such characters"),
        (ID, -1, None, "invalid-id", "-1 is out of range; an Id must be between 0 and 9223372036854775807"),
        (ID, "12.5", HU, "invalid-id", "'12.5' is a number but not a valid Id (a whole number from 0 to"
         " 9223372036854775807); fix the key in the source (hashing it would make a new Id)"),
        (DECIMAL, 1.5, None, "wrong-type", 'expected an exact number; pass a Decimal or a string such as "1250.50"'),
        (DECIMAL, "2.5", HU, "invalid-number", "'2.5' has a '.', but the profile's decimal separator is ','"),
        (DECIMAL, "1e99999999", None, "invalid-number", "'1e99999999' is not a number; use a dot as decimal"
         " separator and no thousands separator, e.g. 1250.50"),
        (DATE, "2021-02-30", None, "invalid-date", "'2021-02-30' is not a date; use YYYY-MM-DD or YYYY-MM-DD"
         " HH:MM:SS, e.g. 2021-09-30 12:15:13"),
        (VAT, "0.27", None, "vat-fraction", "'0.27' is a rate between 0 and 1; write 27% for 27% (or 0.5% for"
         " half a percent), or set [locale] vat_fractions = true in the profile if the column holds fractions"
         " (0.27 for 27%)"),
        (VAT, "KBAUK", None, "invalid-vat", "'KBAUK' is not a VAT rate; use a percentage such as 27% (or allow"
         " the code with --vat-code)"),
        (STATUS, "Sent", None, "unknown-status", "'Sent' is not an allowed offer status; allowed: Accepted"),
    ],
)  # fmt: skip
def test_read_says_what_is_wrong(kind: Kind, raw: Any, locale: Locale | None, code: str, message: str) -> None:
    config = BuildConfig(statuses=frozenset({"Accepted"}))
    with pytest.raises(Problem) as caught:
        kind.read(raw, config, locale)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_a_key_where_an_id_goes_is_hashed_by_the_reader_or_refused() -> None:
    with pytest.raises(Key) as caught:
        ID.read("P-00123", CONFIG, HU)
    assert caught.value.key == "P-00123"
    with pytest.raises(Problem) as refused:
        ID.read("P-00123", CONFIG, Locale(non_numeric_ids="error"))
    assert refused.value.message == "'P-00123' is not a whole number; MiniCRM needs numeric Ids"
    with pytest.raises(Problem) as json_key:  # a JSON record has no locale: an Id is a number
        ID.read("P-00123", CONFIG)
    assert json_key.value.code == "invalid-id" and not isinstance(json_key.value, Key)


@pytest.mark.parametrize(
    ("kind", "tag", "text", "verdict"),
    [
        (CURRENCY, "CurrencyCode", "HUN", ("unknown-currency", "error")),
        (CURRENCY, "CurrencyCode", "HUF", None),
        (DATE, "Issued", "2021-02-30", ("invalid-date", "error")),
        (EAN, "EAN", "5901234123458", ("ean-check-digit", "warning")),
        (EAN, "EAN", "5901234123457", None),
        (VAT, "VAT", "KBAUK", ("vat-code", "warning")),
        (VAT, "VAT", "0.27%", ("vat-fraction", "warning")),
        (EMAIL, "Value", "jambor.timea(at)minicrm.hu", ("invalid-email", "warning")),
    ],
)
def test_check_judges_a_written_text(kind: Kind, tag: str, text: str, verdict: tuple[str, str] | None) -> None:
    found = kind.check(tag, text, CONFIG)
    assert ((found.code, found.severity) if found else None) == verdict


def test_typed_values_and_the_xsd_form() -> None:
    assert (ID.typed("42"), DECIMAL.typed("1250.5"), DATE.typed("2024-03-05")) == (
        42,
        Decimal("1250.5"),
        date(2024, 3, 5),
    )
    assert DATE.typed("2021-09-30 12:15:13") == datetime(2021, 9, 30, 12, 15, 13)
    assert (ID.form("9223372036854775807"), ID.form("9223372036854775808"), DECIMAL.form(" 1.5 ")) == (
        True,
        False,
        True,
    )


def test_show_cuts_long_values_alike_for_every_source() -> None:
    assert show("9" * 50) == "'" + "9" * 37 + "...'"
    assert (show(Decimal("1.50")), show(date(2024, 3, 5)), show(2**200)) == (
        "1.50",
        "'2024-03-05'",
        "a number of more than 38 digits",
    )
