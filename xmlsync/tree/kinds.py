"""Value kinds: one class per kind of value in a feed, each the only place that knows its values.

A kind reads a raw value (from JSON, a typed record, or a flat row with the profile's locale) into the
canonical text written in the feed, raising :class:`Problem` with a code and message when it cannot; it
checks a text already written (what ``validate`` reads), returning a :class:`Verdict` when a rule is broken;
and it turns its canonical text back into a Python value for typed records.

Strict writing, tolerant reading: ``read`` (used by ``build``) refuses what ``check`` (used by ``build`` and
``validate`` alike, on the written text) only warns about. Where the two differ, it is said here, once:
a VAT code not allowed with ``--vat-code`` is ``invalid-vat`` when read and ``vat-code`` (a warning) when
checked.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from xmlsync.config import BuildConfig, Locale

INVALID_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_ID = 2**63 - 1
MAX_DIGITS = 20  # of a number written in a feed, before and after the decimal point each
TOO_MANY_DIGITS = (
    f"has more digits than a feed holds: at most {MAX_DIGITS} before and {MAX_DIGITS} after the decimal point"
)
# Active ISO 4217 codes that are money (test codes, funds units and precious metals left out).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
    PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND
    TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - a list of 170 codes reads better as text
)
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# A number as a source writes it (12.50, 3.000): canonical but for trailing zeros, which trim_decimal drops.
DECIMAL_TEXT = re.compile(rf"-?(0|[1-9][0-9]{{0,{MAX_DIGITS - 1}}})(\.[0-9]{{1,{MAX_DIGITS}}})?")
# The one text of a number that build writes, whatever the source gave (3, 3.000, Decimal('3.000') from a
# PostgreSQL numeric): no trailing zeros after the point, no point without digits after it, no -0.
CANONICAL_DECIMAL = re.compile(
    rf"(0|-?[1-9][0-9]{{0,{MAX_DIGITS - 1}}})(\.[0-9]{{0,{MAX_DIGITS - 1}}}[1-9])?|-0\.[0-9]{{0,{MAX_DIGITS - 1}}}[1-9]"
)
LIMIT = 10**MAX_DIGITS
_NUMERIC = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # a number, if not a whole one
_PERCENT = re.compile(r"([0-9]{1,3}(\.[0-9]{1,2})?)%?")
RATE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?%")  # a rate a feed may hold (27.00% is one)
CANONICAL_RATE = re.compile(r"(0|[1-9][0-9]{0,2})(\.[0-9]?[1-9])?%")  # the one build writes (27%, 5.5%)
_FRACTION = re.compile(r"0?\.[0-9]*[1-9][0-9]*")  # strictly between 0 and 1, without a % sign
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_LOOSE_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}))?")
_DATE_PARTS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?: ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?")
# The XSD's date pattern: a value that matches it but is no calendar date (2021-02-30) breaks a rule.
_DATE_SHAPE = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?"
)
_ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


# A timestamp with fractional seconds or a UTC offset, as databases write them (PostgreSQL timestamptz text:
# 2024-04-01 09:30:00.123+02), read into the local time of the profile's time zone.
_STAMP = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


@functools.cache
def zone(name: str) -> ZoneInfo:
    """Return a time zone by its IANA name (``Europe/Budapest``); ``tzdata`` serves where the OS has none."""
    return ZoneInfo(name)


class Odd(Exception):
    """A value that is not plainly right: the walk's first try gives the record to the full walk."""


class Problem(Exception):
    """A raw value that cannot be read; ``code`` and ``message`` become an issue where the value stands."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Key(Problem):
    """A cell that holds a key, no number, where an Id goes (``P-00123``), and the source's locale says to hash
    such keys: the reader makes its stable Id (:func:`xmlsync.readers.rows.stable_id`)."""

    def __init__(self, key: str) -> None:
        super().__init__("invalid-id", f"{key!r} is not a whole number; MiniCRM needs numeric Ids")
        self.key = key


class Verdict(NamedTuple):
    """A rule broken by a written value: its code, severity and message."""

    code: str
    severity: str
    message: str


def trim_decimal(text: str) -> str:
    """Return a number's text (:data:`DECIMAL_TEXT`) without trailing zeros: ``12.50`` -> ``12.5``, ``-0.0``
    -> ``0``."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def trim_rate(text: str) -> str:
    """Return a rate (:data:`RATE`) as build writes it: ``27.00%`` -> ``27%``, ``05.50%`` -> ``5.5%``."""
    whole, _, fraction = text[:-1].partition(".")
    return f"{trim_decimal(f'{int(whole)}.{fraction}' if fraction else str(int(whole)))}%"


def decimal_text(value: Decimal) -> str:
    """Return the canonical text of a finite number that :func:`fits`: ``Decimal('27.00')`` -> ``27``,
    ``Decimal('-0.50')`` -> ``-0.5``, ``Decimal('1.25E+5')`` -> ``125000``, ``Decimal('-0')`` -> ``0``."""
    return trim_decimal(format(value, "f"))  # exact: normalize() would round past 28 digits


def fits(value: Decimal) -> bool:
    """Return whether a finite number is written with at most :data:`MAX_DIGITS` digits before and after the point.

    Checked before a number is turned into text: ``1e99999999`` is a short literal and a 100 MB text.
    """
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -MAX_DIGITS and value.adjusted() < MAX_DIGITS


def show(value: object) -> str:
    """Return a short ``repr`` of a value for messages (long texts and huge numbers cut)."""
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() and fits(value) else str(value)
    elif isinstance(value, date):
        text = repr(format_date(value))
    elif isinstance(value, int) and value.bit_length() > 128:
        text = "a number of more than 38 digits"  # repr() of an int past 4300 digits fails
    elif isinstance(value, str) and len(value) > 40:
        return repr(f"{value[:37]}...")
    else:
        text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def describe(value: object) -> str:
    """Return what a JSON value is, in words (``a text``, ``a list``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def format_date(value: date) -> str:
    """Return ``YYYY-MM-DD HH:MM:SS`` for a datetime and ``YYYY-MM-DD`` for a date."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")  # strftime does not pad years before 1000
    return value.isoformat()


def format_decimal(value: Decimal) -> str:
    """Return the number with a dot and without exponent, as given otherwise (``1E+3`` -> ``1000``)."""
    return format(value, "f")


class Kind:
    """Text: any text XML 1.0 can hold; ``blank`` says whether an empty value is left out (else refused).

    Attributes:
        flat: What a flat input's cell holds, for the profile's field list (``text``, ``id``...).
    """

    flat = "text"
    facet: Callable[[str], object] | None = None
    plain = False  # whether its texts never hold a character to escape in XML (numbers, dates)

    def __init__(self, xsd: str, *, blank: bool = False, facet: Callable[[str], object] | None = None) -> None:
        self.xsd = xsd  # the simple type of the bundled XSD that its written texts have
        self.blank = blank
        if facet is not None:
            self.facet = facet

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        """Return the canonical text of a raw value, ``None`` to leave an optional element out.

        The value is a JSON or typed value; with ``locale``, a flat input's cell (a stripped text, or a typed
        value from XLSX and SQL) written the way the source's locale says (decimal comma, local dates...).
        Anything that cannot be read raises :class:`Problem`, saying what is wrong.
        """
        if locale is not None:
            value = as_text(value)
        text = value if type(value) is str else self._text_of(value, config)  # a text: the usual case, first
        bad = INVALID_XML_CHAR.search(text)
        if bad is not None:
            if not config.clean_text:
                raise Problem(
                    "xml-char",
                    f"contains U+{ord(bad.group()):04X} at position {bad.start() + 1}, which XML 1.0 cannot hold;"
                    " remove it from the source data or use --clean-text to drop such characters",
                )
            text = INVALID_XML_CHAR.sub("", text)
        if self.blank:
            return text if text.strip(" \t\n\r") else None  # white space alone is no value: left out
        if not text.strip():
            raise Problem("empty-value", "must not be empty; give a value or leave the record out")
        return text

    @staticmethod
    def _text_of(value: Any, config: BuildConfig) -> str:
        numbers = config.numbers_as_text
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and numbers != "none":
            return format(DECIMAL.number(value), "f")  # bounded like every number
        if isinstance(value, Decimal) and numbers == "all":
            return format(DECIMAL.number(value), "f")
        if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
            whole = "" if numbers == "none" else " with a fraction or an exponent"
            raise Problem(
                "wrong-type",
                f'expected a text, got a number{whole}; write it in quotes as it should read (e.g. "10.50"),'
                ' or set [input] numbers_as_text = "all" in the profile',
            )
        raise Problem("wrong-type", f"expected a text, got {describe(value)}")

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        """Return the rule a written text breaks, if any (the XSD checks its form)."""
        return None

    def form(self, text: str) -> bool:
        """Return whether a written text has the form of the XSD type :attr:`xsd` (what libxml2 checks)."""
        return bool(FORMS[self.xsd](text))

    @property
    def checked(self) -> bool:
        """Return whether a rule or a facet of the XSD reads written values of this kind (see :mod:`xmlsync.rules`)."""
        return type(self).check is not Kind.check or self.facet is not None

    def typed(self, text: str) -> Any:
        """Return the Python value of a canonical text, for typed records."""
        return text


# Names and signs of currencies whose meaning is certain, as ERPs print them: read as their ISO 4217 code.
# A profile's value map for Offer.CurrencyCode is applied before, so it can say otherwise.
CURRENCY_NAMES = {
    "ft": "HUF",
    "ft.": "HUF",
    "forint": "HUF",
    "lei": "RON",
    "leu": "RON",
    "€": "EUR",
    "euro": "EUR",
    "kč": "CZK",
    "zł": "PLN",
}


class Currency(Kind):
    """A three-letter ISO 4217 code; an upper-case code that is no currency breaks ``unknown-currency``.

    Reading takes the names in :data:`CURRENCY_NAMES` (``Ft`` is HUF) and a code in lower case (``huf``).
    """

    facet = re.compile("[A-Z]{3}").fullmatch

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        text = super().read(value, config, locale)
        if text is None or self.facet(text):
            return text
        key = text.strip().casefold()
        if key in CURRENCY_NAMES:
            return CURRENCY_NAMES[key]
        return key.upper() if key.upper() in ISO_4217 else text

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        if len(text) == 3 and text.isupper() and text not in ISO_4217:
            return Verdict(
                "unknown-currency",
                "error",
                f"CurrencyCode {text!r} is not an ISO 4217 currency; use a code such as HUF, EUR or RON",
            )
        return None


class Status(Kind):
    """An offer status: any non-empty text, or one of ``config.statuses`` when the user lists them."""

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        status = super().read(value, config, locale)
        allowed = config.statuses
        if allowed is not None and status not in allowed:
            raise Problem(
                "unknown-status",
                f"{show(status)} is not an allowed offer status; allowed: {', '.join(sorted(allowed))}",
            )
        return status


class Ean(Kind):
    """An EAN/GTIN code; a wrong check digit is a warning (``ean-check-digit``)."""

    facet = re.compile("([0-9]{8}|[0-9]{12,14})?").fullmatch

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        if is_gtin(text) and not ean_check_digit_ok(text):
            return Verdict(
                "ean-check-digit", "warning", f"EAN {text} has a wrong check digit; check the code (or leave EAN out)"
            )
        return None


class Email(Kind):
    """An e-mail address; one that does not look like ``name@domain.tld`` is a warning (``invalid-email``)."""

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        value = text.strip()
        if value and not _EMAIL.fullmatch(value):
            return Verdict(
                "invalid-email", "warning", f"{value!r} does not look like an e-mail address (name@domain.tld)"
            )
        return None


class Id(Kind):
    """A whole number from 0 to 2^63-1 (MiniCRM upserts by Ids). ``flat`` ``id`` Ids may be hashed from keys."""

    plain = True

    def __init__(self, flat: str = "id") -> None:
        super().__init__("IdType")
        self.flat = flat

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        """Return an Id's digits. A cell (``locale``) may hold a key that is no number (``P-00123``): with
        ``non_numeric_ids = "hash"`` that is :class:`Key`, for the reader to make its stable Id."""
        if locale is not None:
            value = self._cell(value, locale)
        if type(value) is int and 0 <= value <= MAX_ID:
            return str(value)
        return str(self.number(value))

    @staticmethod
    def number(value: Any) -> int:
        """Return the Id of a JSON or typed value (a whole number, also as text or Decimal)."""
        if isinstance(value, bool):
            raise Problem("wrong-type", "expected a whole number Id, got a boolean")
        # Sizes are checked before int(): int() of 1e99999999 takes minutes, str() of a 5000-digit int fails.
        if isinstance(value, int):
            number = value
        elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            number = int(value) if value.adjusted() < MAX_DIGITS else MAX_ID + 1
        elif isinstance(value, str) and _DIGITS.fullmatch(value):
            number = int(value) if len(value.lstrip("0")) < MAX_DIGITS else MAX_ID + 1
        else:
            raise Problem("invalid-id", f"{show(value)} is not a valid Id; MiniCRM needs a non-negative whole number")
        if not 0 <= number <= MAX_ID:
            raise Problem("invalid-id", f"{show(value)} is out of range; an Id must be between 0 and {MAX_ID}")
        return number

    def typed(self, text: str) -> int:
        return int(text)

    def _cell(self, value: Any, locale: Locale) -> int:
        """Return the Id of a cell; raise :class:`Key` for a key to hash (no number at all)."""
        if self.flat == "number":
            return self._whole(value)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            exact = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
            if exact.is_finite() and exact == exact.to_integral_value() and 0 <= exact <= MAX_ID:
                return int(exact)
            raise Problem(
                "invalid-id", f"{show(value)} is not a valid Id; MiniCRM needs a whole number from 0 to {MAX_ID}"
            )
        text = str(value).strip()
        if _DIGITS.fullmatch(text):
            if len(text.lstrip("0")) < 20 and int(text) <= MAX_ID:
                return int(text)
            raise Problem("invalid-id", f"{show(text)} is out of range; an Id must be between 0 and {MAX_ID}")
        if _NUMERIC.fullmatch(text):
            raise Problem(
                "invalid-id",
                f"{show(text)} is a number but not a valid Id (a whole number from 0 to {MAX_ID}); fix the key"
                " in the source (hashing it would make a new Id)",
            )
        if locale.non_numeric_ids != "hash":
            raise Problem("invalid-id", f"{text!r} is not a whole number; MiniCRM needs numeric Ids")
        raise Key(text)

    @staticmethod
    def _whole(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_ID:
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_ID:
            return int(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value.lstrip("0")) < 20:
            return int(value)
        raise Problem("invalid-number", f"{show(value)} is not a whole number up to {MAX_ID}")


class Number(Kind):
    """A decimal number with a dot, at most :data:`MAX_DIGITS` digits before and after it (``PriceNet``)."""

    flat = "decimal"
    plain = True

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        if locale is not None and (
            locale.decimal_separator != "." or not (type(value) is str and CANONICAL_DECIMAL.fullmatch(value))
        ):  # with a decimal comma, 2.5 is no number
            value = self._cell(value, locale)
        if type(value) is str and CANONICAL_DECIMAL.fullmatch(value):
            return value  # the usual case: written as it is
        if type(value) is str and DECIMAL_TEXT.fullmatch(value):
            return trim_decimal(value)
        return decimal_text(self.number(value))

    @staticmethod
    def number(value: Any) -> Decimal:
        """Return the number of a JSON or typed value."""
        if isinstance(value, bool):
            raise Problem("wrong-type", "expected a number, got a boolean")
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, Decimal) and value.is_finite():
            number = value
        elif isinstance(value, float):
            raise Problem("wrong-type", 'expected an exact number; pass a Decimal or a string such as "1250.50"')
        elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            number = Decimal(value.strip())
        else:
            raise Problem(
                "invalid-number",
                f"{show(value)} is not a number; use a dot as decimal separator and no thousands separator,"
                " e.g. 1250.50",
            )
        if not fits(number):
            raise Problem("invalid-number", f"{show(value)} {TOO_MANY_DIGITS}")
        return number

    def typed(self, text: str) -> Decimal:
        return Decimal(text)

    def _cell(self, value: Any, locale: Locale) -> Decimal:
        """Return the number of a cell, written with the locale's separators."""
        if isinstance(value, bool):
            raise Problem("invalid-number", f"{value!r} is not a number")
        if isinstance(value, int | Decimal | float):
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            if not number.is_finite():
                raise Problem("invalid-number", f"{show(value)} is not a number")
            if not fits(number):
                raise Problem("invalid-number", f"{show(value)} {TOO_MANY_DIGITS}")
            return number
        text = str(value)
        cleaned = text
        thousands = locale.thousands_separator
        if thousands:
            separators = (thousands, "\u00a0", "\u202f") if thousands == " " else (thousands,)
            for sep in separators:
                cleaned = cleaned.replace(sep, "")
        if locale.decimal_separator == ",":
            if "." in cleaned:
                raise Problem("invalid-number", f"{text!r} has a '.', but the profile's decimal separator is ','")
            cleaned = cleaned.replace(",", ".")
        if not _DECIMAL.fullmatch(cleaned):
            expected = "1 250,50" if locale.decimal_separator == "," else "1250.50"
            raise Problem("invalid-number", f"{text!r} is not a number in the profile's format, e.g. {expected}")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:  # pragma: no cover - the pattern excludes it
            raise Problem("invalid-number", f"{text!r} is not a number") from None
        if not fits(number):
            raise Problem("invalid-number", f"{show(text)} {TOO_MANY_DIGITS}")
        return number


class When(Kind):
    """A date ``YYYY-MM-DD`` or local date and time ``YYYY-MM-DD HH:MM:SS``; no calendar date is an error."""

    flat = "date"
    plain = True

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        if type(value) is str and parse_date(value) is not None:
            return value  # the usual case: written as it is
        if locale is not None:
            value = self._cell(value, locale)
        if isinstance(value, str) and (stamp := _STAMP.fullmatch(value.strip())) is not None:
            day, clock, offset = stamp.groups()
            if offset is not None:
                offset = "+00:00" if offset == "Z" else offset if len(offset) > 3 else f"{offset}:00"
                offset = offset if ":" in offset else f"{offset[:3]}:{offset[3:]}"
            with contextlib.suppress(ValueError):  # no calendar date: said below
                value = datetime.fromisoformat(f"{day} {clock}{offset or ''}")
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(zone(config.timezone)).replace(tzinfo=None)
            return format_date(value.replace(microsecond=0))
        if isinstance(value, date):
            return format_date(value)
        loose = canonical_date(value) if isinstance(value, str) else None
        if loose is not None:
            return loose
        raise Problem(
            "invalid-date",
            f"{show(value)} is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13",
        )

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        if text[8:10] < "29":
            return None  # a day before the 29th is in every month (and another text has no date's form)
        if parse_date(text) is None and _DATE_SHAPE.fullmatch(text):
            return Verdict("invalid-date", "error", f"<{tag}> {text!r} is not a calendar date; check the day and month")
        return None

    def typed(self, text: str) -> date:
        return datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)

    def _cell(self, value: Any, locale: Locale) -> Any:
        """Return the date of a cell: a typed one, an ISO or database text, or one of the locale's formats."""
        if isinstance(value, datetime):
            return value  # read turns an aware one into the local time of the profile's zone
        if isinstance(value, date):
            return value
        text = str(value)
        if _STAMP.fullmatch(text.strip()):
            return text  # a database timestamp: read takes its offset
        for fmt in _ISO_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return parsed if "%H" in fmt else parsed.date()
        found: dict[datetime, str] = {}
        for fmt in locale.date_formats:
            try:
                found.setdefault(datetime.strptime(text, fmt), fmt)
            except ValueError:
                continue
        if len(found) > 1:
            formats = " and ".join(sorted(found.values()))
            raise Problem("ambiguous-date", f"{text!r} reads differently with {formats}; keep one date format")
        if found:
            (parsed, fmt), *_ = found.items()
            return parsed if any(code in fmt for code in ("%H", "%I", "%M")) else parsed.date()
        hint = (
            f"the profile's formats are {', '.join(locale.date_formats)}"
            if locale.date_formats
            else 'use YYYY-MM-DD or set [locale] date_formats, e.g. ["%d.%m.%Y"]'
        )
        raise Problem("invalid-date", f"{text!r} is not a date in a known format; {hint}")


class Vat(Kind):
    """A VAT rate ``N%`` (numbers are written ``N%``), or a code allowed with ``--vat-code``.

    Reading refuses any other code (``invalid-vat``): XML Sync documents only percentages. Checking a
    written feed only warns (``vat-code``), as MiniCRM may know codes this tool does not.
    """

    flat = "vat"
    facet = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?%|[A-Z][A-Z0-9_]{0,31}").fullmatch

    def read(self, value: Any, config: BuildConfig, locale: Locale | None = None) -> str | None:
        if type(value) is str and value[-1:] == "%" and CANONICAL_RATE.fullmatch(value):
            return value  # the usual case
        if locale is not None:
            value = value.replace(",", ".") if isinstance(value, str) and locale.decimal_separator == "," else value
            value = value if isinstance(value, str) else DECIMAL._cell(value, locale)
        if type(value) is str and value[-1:] == "%" and RATE.fullmatch(value):
            return trim_rate(value)
        if isinstance(value, int | Decimal) and not isinstance(value, bool) and fits(Decimal(value)):
            value = decimal_text(Decimal(value))
        if isinstance(value, str):
            text: str = value
            if _FRACTION.fullmatch(text.strip()):  # 0.27 with no % sign: a fraction of one, or a rate below 1%?
                if not config.vat_fractions:
                    raise Problem(
                        "vat-fraction",
                        f"{show(text)} is a rate between 0 and 1; write 27% for 27% (or 0.5% for half a percent),"
                        " or set [locale] vat_fractions = true in the profile if the column holds fractions"
                        " (0.27 for 27%)",
                    )
                text = decimal_text(Decimal(text.strip()).scaleb(2))
            match = _PERCENT.fullmatch(text.strip())
            if match:
                return f"{decimal_text(Decimal(match.group(1)))}%"
            if text in config.vat_codes:
                return text
        raise Problem(
            "invalid-vat",
            f"{show(value)} is not a VAT rate; use a percentage such as 27% (or allow the code with --vat-code)",
        )

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        if text[:2] == "0." and RATE.fullmatch(text) and text.strip("0.%"):
            return Verdict(
                "vat-fraction",
                "warning",
                f"VAT {text} is below 1%; was a fraction (0.27 for 27%) written as a percentage? Check the source",
            )
        if text and not RATE.fullmatch(text) and text not in config.vat_codes:
            return Verdict(
                "vat-code",
                "warning",
                f"VAT {text!r} is not a percentage; MiniCRM documents only values like 27% for XML Sync"
                " (accept the code with --vat-code)",
            )
        return None


class Choice(Kind):
    """An optional text with values known from MiniCRM's own plugin; another value is a warning (``code``)."""

    def __init__(self, values: tuple[str, ...], code: str, what: str) -> None:
        super().__init__("OptionalString", blank=True)
        self.values = values
        self.code = code
        self.what = what

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        if text and text not in self.values:
            known = ", ".join(self.values)
            return Verdict(self.code, "warning", f"<{tag}> {text!r} is not a known {self.what}; MiniCRM writes {known}")
        return None


def field_name_ok(name: str) -> bool:
    """Return whether a custom card field's name can be an element name (internal names such as String1616)."""
    return bool(_XML_NAME.fullmatch(name)) and not name.lower().startswith("xml")


def custom_fields(value: Any, reserved: frozenset[str], config: BuildConfig) -> list[tuple[str, str]]:
    """Return the ``(name, text)`` pairs of custom card fields (an object of internal names and values)."""
    if not isinstance(value, Mapping):
        raise Problem("wrong-type", f"expected an object of custom field names and values, got {describe(value)}")
    pairs: list[tuple[str, str]] = []
    for name, raw in value.items():
        if not field_name_ok(name):
            raise Problem(
                "invalid-field-name", f'"{name}" is not a usable field name; use the internal name, e.g. String1616'
            )
        if name in reserved:
            raise Problem(
                "reserved-field-name", f'"{name}" is a documented element; set it with its own key, not in "Fields"'
            )
        try:
            pairs.append((name, OPTIONAL.read(raw, config) or ""))
        except Problem as problem:
            raise Problem(problem.code, f'field "{name}" {problem.message}') from None
    return pairs


def ean_check_digit_ok(code: str) -> bool:
    """Return whether an EAN-8/13 (or GTIN-12/14) code of ASCII digits has a correct check digit."""
    digits = code.encode("ascii")
    # From the right, after the check digit: weights 3, 1, 3, 1... (a digit's byte is 48 + its value)
    threes, ones = digits[-2::-2], digits[-3::-2]
    total = 3 * (sum(threes) - 48 * len(threes)) + sum(ones) - 48 * len(ones)
    return (10 - total % 10) % 10 == digits[-1] - 48


def is_gtin(code: str) -> bool:
    """Return whether a code has the form of a GTIN (8, 12, 13 or 14 ASCII digits)."""
    # isdigit() alone also takes other scripts' digits and signs such as "²", which are no GTIN.
    return len(code) in (8, 12, 13, 14) and code.isascii() and code.isdigit()


def parse_date(text: str) -> date | None:
    """Return the calendar date of a ``YYYY-MM-DD[ HH:MM:SS]`` value, or ``None`` if there is none."""
    match = _DATE_PARTS.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def as_text(value: Any) -> str:
    """Return the text of a flat input's cell (XLSX and SQL give numbers and dates)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_WS = " \t\n\r"
_ID_FORM = re.compile("[0-9]{1,19}")
_DECIMAL_FORM = re.compile(r"[+\-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})")
# The simple types of the bundled XSD as predicates on a written text: what libxml2 checks, for the reading
# walk (:mod:`xmlsync.rules`) to say which value is wrong. xs:token and numbers collapse white space.
FORMS: dict[str, Callable[[str], object]] = {
    "IdType": lambda text: _ID_FORM.fullmatch(text.strip(_WS)) and int(text) <= MAX_ID,
    "RequiredString": lambda text: text.strip(_WS),
    "OptionalString": lambda text: text.strip(_WS),  # the walk reads an empty one before its form
    "DateTimeType": _DATE_SHAPE.fullmatch,
    "CurrencyCodeType": Currency.facet,
    "DecimalType": lambda text: _DECIMAL_FORM.fullmatch(text.strip(_WS)),
    "VatType": Vat.facet,
    "EanType": re.compile("[0-9]{8}|[0-9]{12,14}").fullmatch,
}


def canonical_date(text: str) -> str | None:
    """Return the canonical form of a date written without its leading zeros (``2024-3-5``), if it is one."""
    match = _LOOSE_DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        if hour is None:
            return format_date(date(int(year), int(month), int(day)))
        return format_date(datetime(int(year), int(month), int(day), int(hour), int(minute), int(second)))
    except ValueError:
        return None


class Country(Kind):
    """A country by name, as MiniCRM's plugin writes it (``Hungary``, ``Magyarország``, ``Ungaria``); another
    text is a warning (``unknown-country``): MiniCRM matches the name, and may not know it."""

    def check(self, tag: str, text: str, config: BuildConfig) -> Verdict | None:
        from xmlsync.tree.countries import COUNTRY_NAMES

        if text in COUNTRY_NAMES:
            return None
        return Verdict(
            "unknown-country",
            "warning",
            f"<{tag}> {text!r} is no country name MiniCRM's plugin writes (in English, Hungarian or Romanian, e.g."
            " Hungary, Magyarország, Ungaria); MiniCRM may not match it: write the name",
        )


TEXT = Kind("RequiredString")
OPTIONAL = Kind("OptionalString", blank=True)
COUNTRY = Country("RequiredString")
OPTIONAL_COUNTRY = Country("OptionalString", blank=True)
NAME = Kind("RequiredString", blank=True, facet=lambda text: text.strip(" \t\n\r"))  # optional, never blank
ID = Id()
CATEGORY = Id(flat="number")
CONTACT_ID = CATEGORY  # a MiniCRM contact id: a whole number, never made from a key
DECIMAL = Number("DecimalType")
DATE = When("DateTimeType")
VAT = Vat("VatType")
CURRENCY = Currency("CurrencyCodeType")
STATUS = Status("RequiredString")
EAN = Ean("EanType", blank=True)
EMAIL = Email("RequiredString")
LANGUAGE = Choice(("_HU", "_EN", "_RO"), "unknown-language", "language")
PAYMENT = Choice(
    ("WiredTransfer", "Card", "Check", "Cash", "CashOnDelivery", "Other"), "unknown-payment-method", "payment method"
)
