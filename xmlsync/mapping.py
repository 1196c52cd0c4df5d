"""Map and normalise: plain records (dicts, as read from JSON) -> typed domain records.

Keys are the element names of the MiniCRM tree (``Id``, ``Name``, ``CategoryId``, ``Offers``...), so an
input record reads like the XML it becomes. Every problem of a record is collected, then raised together
as one :class:`~xmlsync.errors.InputError`, each naming the record and the field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue
from xmlsync.records import (
    Address,
    Business,
    Contact,
    Customer,
    DateValue,
    Email,
    Fields,
    Offer,
    Phone,
    Product,
    Project,
)

T = TypeVar("T")

INVALID_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")
_PERCENT = re.compile(r"([0-9]{1,3}(\.[0-9]{1,2})?)%?")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}))?")
MAX_ID = 2**63 - 1
MAX_DIGITS = 20  # of a number written in a feed, before and after the decimal point each
TOO_MANY_DIGITS = (
    f"has more digits than a feed holds: at most {MAX_DIGITS} before and {MAX_DIGITS} after the decimal point"
)


def fits(value: Decimal) -> bool:
    """Return whether a finite number is written with at most :data:`MAX_DIGITS` digits before and after the point.

    Checked before a number is turned into text: ``1e99999999`` is a short literal and a 100 MB text.
    """
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -MAX_DIGITS and value.adjusted() < MAX_DIGITS


PROJECT_KEYS = ("Id", "Name", "CategoryId", "StatusId", "UserId", "Business", "Contacts", "Offers", "Fields")
BUSINESS_KEYS = ("Name", "VatNumber", "Emails", "Phones", "Addresses")
CONTACT_KEYS = ("Id", "FirstName", "LastName", "Emails", "Phones")
ADDRESS_KEYS = ("CountryId", "PostalCode", "City", "Address")
OFFER_KEYS = (
    "Id", "Number", "CurrencyCode", "Prompt", "Performance", "Issued", "Subject", "Status",
    "Customer", "Products", "Project",
)  # fmt: skip
CUSTOMER_KEYS = ("Name", "CountryId", "PostalCode", "City", "Address")
PRODUCT_KEYS = ("Id", "Name", "SKU", "EAN", "PriceNet", "Quantity", "Unit", "VAT", "FolderName")
# Names a custom card field may not take, because the documented elements use them.
RESERVED_PROJECT_FIELDS = frozenset(PROJECT_KEYS) - {"Fields"}
_KEY_SETS: dict[tuple[str, ...], frozenset[str]] = {
    keys: frozenset(keys)
    for keys in (PROJECT_KEYS, BUSINESS_KEYS, CONTACT_KEYS, ADDRESS_KEYS, OFFER_KEYS, CUSTOMER_KEYS, PRODUCT_KEYS)
}


# -- the fast path ------------------------------------------------------------------------------------
#
# Most records of a feed are clean. For them, one plain loop per record converts every field; it gives up
# (returns None) at the first value that is not plainly right, and the detailed mapper below then converts
# the record again, reporting each problem. A property test checks that both agree wherever the fast path
# answers. Kinds: required text, optional text, Id, number, date, VAT.
_TEXT, _OPTIONAL, _ID, _NUMBER, _WHEN, _VAT = range(6)
_PRODUCT_SPEC = (
    ("Id", _ID), ("Name", _TEXT), ("SKU", _OPTIONAL), ("EAN", _OPTIONAL), ("PriceNet", _NUMBER),
    ("Quantity", _NUMBER), ("Unit", _TEXT), ("VAT", _VAT), ("FolderName", _TEXT),
)  # fmt: skip
_CUSTOMER_SPEC = tuple((key, _TEXT) for key in CUSTOMER_KEYS)
_OFFER_SPEC = (
    ("Id", _ID), ("Number", _TEXT), ("CurrencyCode", _TEXT), ("Prompt", _WHEN), ("Performance", _WHEN),
    ("Issued", _WHEN), ("Subject", _OPTIONAL), ("Status", _TEXT),
)  # fmt: skip
_PROJECT_SPEC = (("Id", _ID), ("Name", _TEXT), ("CategoryId", _ID), ("StatusId", _TEXT), ("UserId", _OPTIONAL))
_BUSINESS_SPEC = (("Name", _TEXT), ("VatNumber", _OPTIONAL))


def _fast_values(obj: Any, keys: frozenset[str], spec: tuple[tuple[str, int], ...]) -> list[Any] | None:
    """Return the converted values of ``spec``'s fields if every one is plainly right, else ``None``."""
    if type(obj) is not dict or not keys.issuperset(obj):
        return None
    values: list[Any] = []
    texts: list[str] = []
    for key, kind in spec:
        value = obj.get(key)
        if kind == _TEXT:
            if type(value) is not str or not value.strip():
                return None
            texts.append(value)
        elif kind == _OPTIONAL:
            if value == "":
                value = None
            elif value is not None:
                if type(value) is not str:
                    return None
                texts.append(value)
        elif kind == _ID:
            if type(value) is not int or not 0 <= value <= MAX_ID:
                return None
        elif kind == _NUMBER:
            if (type(value) is str and _DECIMAL.fullmatch(value)) or type(value) is int:
                value = Decimal(value)
            elif type(value) is not Decimal or not value.is_finite():
                return None
            if not fits(value):
                return None
        elif kind == _WHEN:
            match = _DATE.fullmatch(value) if type(value) is str else None
            if match is None:
                return None
            year, month, day, hour, minute, second = match.groups()
            try:
                if hour is None:
                    value = date(int(year), int(month), int(day))
                else:
                    value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
            except ValueError:
                return None
        elif type(value) is not str or value[-1:] != "%" or not _PERCENT.fullmatch(value):  # _VAT
            return None
        values.append(value)
    if INVALID_XML_CHAR.search("".join(texts)) is not None:
        return None
    return values


def _describe(value: object) -> str:
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


class _Problem(Exception):
    """A single field value could not be converted; the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _RecordMapper:
    """Converts one project dict, collecting an issue for every bad field."""

    def __init__(self, source: str | None, config: BuildConfig) -> None:
        self.source = source
        self.config = config
        self.record: str | None = None
        self.issues: list[Issue] = []

    # -- reporting -----------------------------------------------------------------------------

    def report(self, path: str, code: str, message: str) -> None:
        self.issues.append(Issue(code=code, message=message, source=self.source, record=self.record, path=path))

    def _join(self, path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def check_keys(self, obj: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        if _KEY_SETS[allowed].issuperset(obj):
            return
        for key in obj:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else f"; known fields: {', '.join(allowed)}"
                self.report(self._join(path, str(key)), "unknown-field", f'unknown field "{key}"{hint}')

    # -- generic field access ------------------------------------------------------------------

    def field(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        convert: Callable[[Any], T],
        *,
        required: bool = True,
    ) -> T | None:
        value = obj.get(key)
        if value is None:
            if required:
                where = self._join(path, key)
                self.report(where, "missing-field", f'missing required field "{key}"; add it to the record')
            return None
        try:
            return convert(value)
        except _Problem as problem:
            self.report(self._join(path, key), problem.code, problem.message)
            return None

    def obj(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.report(path, "wrong-type", f"expected an object, got {_describe(value)}")
        return None

    def items(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> list[Any]:
        where = self._join(path, key)
        value = obj.get(key)
        if value is None:
            if required:
                self.report(
                    where, "missing-field", f'missing required field "{key}"; add a list with at least one item'
                )
            return []
        if not isinstance(value, list | tuple):
            self.report(where, "wrong-type", f"expected a list, got {_describe(value)}")
            return []
        if required and not value:
            self.report(where, "empty-list", f'"{key}" must hold at least one item')
        return list(value)

    # -- value converters ----------------------------------------------------------------------

    def text(self, value: Any) -> str:
        numbers = self.config.numbers_as_text
        if isinstance(value, str):
            text = value
        elif isinstance(value, int) and not isinstance(value, bool) and numbers != "none":
            text = format(self.decimal(value), "f")  # bounded like every number
        elif isinstance(value, Decimal) and numbers == "all":
            text = format(self.decimal(value), "f")
        elif isinstance(value, int | Decimal | float) and not isinstance(value, bool):
            whole = "" if numbers == "none" else " with a fraction or an exponent"
            raise _Problem(
                "wrong-type",
                f'expected a text, got a number{whole}; write it in quotes as it should read (e.g. "10.50"),'
                ' or set [input] numbers_as_text = "all" in the profile',
            )
        else:
            raise _Problem("wrong-type", f"expected a text, got {_describe(value)}")
        bad = INVALID_XML_CHAR.search(text)
        if bad is not None:
            if self.config.clean_text:
                return INVALID_XML_CHAR.sub("", text)
            raise _Problem(
                "xml-char",
                f"contains U+{ord(bad.group()):04X} at position {bad.start() + 1}, which XML 1.0 cannot hold;"
                " remove it from the source data or use --clean-text to drop such characters",
            )
        return text

    def required_text(self, value: Any) -> str:
        text = self.text(value)
        if not text.strip():
            raise _Problem("empty-value", "must not be empty; give a value or leave the record out")
        return text

    def optional_text(self, value: Any) -> str | None:
        text = self.text(value)
        return text if text else None

    def ident(self, value: Any) -> int:
        if isinstance(value, bool):
            raise _Problem("wrong-type", "expected a whole number Id, got a boolean")
        # Sizes are checked before int(): int() of 1e99999999 takes minutes, str() of a 5000-digit int fails.
        if isinstance(value, int):
            number = value
        elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            number = int(value) if value.adjusted() < MAX_DIGITS else MAX_ID + 1
        elif isinstance(value, str) and _DIGITS.fullmatch(value):
            number = int(value) if len(value.lstrip("0")) < MAX_DIGITS else MAX_ID + 1
        else:
            raise _Problem(
                "invalid-id",
                f"{_show(value)} is not a valid Id; MiniCRM needs a non-negative whole number",
            )
        if not 0 <= number <= MAX_ID:
            raise _Problem("invalid-id", f"{_show(value)} is out of range; an Id must be between 0 and {MAX_ID}")
        return number

    def decimal(self, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise _Problem("wrong-type", "expected a number, got a boolean")
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, Decimal) and value.is_finite():
            number = value
        elif isinstance(value, float):
            raise _Problem("wrong-type", 'expected an exact number; pass a Decimal or a string such as "1250.50"')
        elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            number = Decimal(value.strip())
        else:
            raise _Problem(
                "invalid-number",
                f"{_show(value)} is not a number; use a dot as decimal separator and no thousands separator,"
                " e.g. 1250.50",
            )
        if not fits(number):
            raise _Problem("invalid-number", f"{_show(value)} {TOO_MANY_DIGITS}")
        return number

    def when(self, value: Any) -> DateValue:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise _Problem("invalid-date", "has a time zone; give the local time MiniCRM should show")
            return value.replace(microsecond=0)
        if isinstance(value, date):
            return value
        match = _DATE.fullmatch(value) if isinstance(value, str) else None
        if match is not None:
            year, month, day, hour, minute, second = match.groups()
            try:
                if hour is None:
                    return date(int(year), int(month), int(day))
                return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
            except ValueError:
                pass
        raise _Problem(
            "invalid-date",
            f"{_show(value)} is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13",
        )

    def vat(self, value: Any) -> str:
        if isinstance(value, int | Decimal) and not isinstance(value, bool) and fits(Decimal(value)):
            value = format(value, "f") if isinstance(value, Decimal) else str(value)
        if isinstance(value, str):
            match = _PERCENT.fullmatch(value.strip())
            if match:
                return f"{match.group(1)}%"
            if value in self.config.vat_codes:
                return value
        raise _Problem(
            "invalid-vat",
            f"{_show(value)} is not a VAT rate; use a percentage such as 27% (or allow the code with --vat-code)",
        )

    def status(self, value: Any) -> str:
        status = self.required_text(value)
        allowed = self.config.statuses
        if allowed is not None and status not in allowed:
            raise _Problem(
                "unknown-status",
                f"{_show(status)} is not an allowed offer status; allowed: {', '.join(sorted(allowed))}",
            )
        return status

    def fields(self, value: Any, reserved: frozenset[str]) -> Fields:
        if not isinstance(value, Mapping):
            raise _Problem("wrong-type", f"expected an object of custom field names and values, got {_describe(value)}")
        pairs: list[tuple[str, str]] = []
        for name, raw in value.items():
            if not _XML_NAME.fullmatch(name) or name.lower().startswith("xml"):
                raise _Problem(
                    "invalid-field-name", f'"{name}" is not a usable field name; use the internal name, e.g. String1616'
                )
            if name in reserved:
                raise _Problem(
                    "reserved-field-name", f'"{name}" is a documented element; set it with its own key, not in "Fields"'
                )
            try:
                pairs.append((name, self.text(raw)))
            except _Problem as problem:
                raise _Problem(problem.code, f'field "{name}" {problem.message}') from None
        return tuple(pairs)

    # -- records -------------------------------------------------------------------------------

    def project(self, data: Any) -> Project | None:
        fast = _fast_values(data, _KEY_SETS[PROJECT_KEYS], _PROJECT_SPEC)
        if fast is not None:
            obj: Mapping[str, Any] = data
            project_id, name, category_id, status_id, user_id = fast
            self.record = f"Project {project_id}"
        else:
            checked = self.obj(data, "")
            if checked is None:
                return None
            obj = checked
            project_id = self.field(obj, "Id", "", self.ident)
            if project_id is not None:
                self.record = f"Project {project_id}"
            self.check_keys(obj, PROJECT_KEYS, "")
            name = self.field(obj, "Name", "", self.required_text)
            category_id = self.field(obj, "CategoryId", "", self.ident)
            status_id = self.field(obj, "StatusId", "", self.required_text)
            user_id = self.field(obj, "UserId", "", self.optional_text, required=False)
        fields = self.field(obj, "Fields", "", lambda v: self.fields(v, RESERVED_PROJECT_FIELDS), required=False)
        business = None
        if obj.get("Business") is not None:
            business = self.business(obj["Business"], "Business")
        contacts = tuple(
            c for i, raw in enumerate(self.items(obj, "Contacts", "")) if (c := self.contact(raw, f"Contacts[{i}]"))
        )
        if obj.get("Business") is None and not obj.get("Contacts"):
            self.report(
                "Business",
                "company-or-person-required",
                'a project needs a "Business" (company) or at least one item in "Contacts" (person)',
            )
        offers = tuple(
            o
            for i, raw in enumerate(self.items(obj, "Offers", "", required=True))
            if (o := self.offer(raw, f"Offers[{i}]"))
        )
        if self.issues:
            return None
        assert project_id is not None and name is not None and category_id is not None and status_id is not None
        return Project(
            id=project_id,
            name=name,
            category_id=category_id,
            status_id=status_id,
            user_id=user_id,
            business=business,
            contacts=contacts,
            offers=offers,
            fields=fields or (),
            source=self.source,
        )

    def business(self, data: Any, path: str) -> Business | None:
        fast = _fast_values(data, _KEY_SETS[BUSINESS_KEYS], _BUSINESS_SPEC)
        if fast is not None:
            obj: Mapping[str, Any] = data
            name, vat_number = fast
        else:
            checked = self.obj(data, path)
            if checked is None:
                return None
            obj = checked
            self.check_keys(obj, BUSINESS_KEYS, path)
            name = self.field(obj, "Name", path, self.required_text)
            vat_number = self.field(obj, "VatNumber", path, self.optional_text, required=False)
        addresses = tuple(
            a
            for i, raw in enumerate(self.items(obj, "Addresses", path))
            if (a := self.address(raw, f"{path}.Addresses[{i}]"))
        )
        if name is None:
            return None
        return Business(
            name=name,
            vat_number=vat_number,
            emails=self.values(obj, "Emails", path, Email),
            phones=self.values(obj, "Phones", path, Phone),
            addresses=addresses,
        )

    def values(self, obj: Mapping[str, Any], key: str, path: str, kind: Callable[[str], T]) -> tuple[T, ...]:
        result: list[T] = []
        for i, raw in enumerate(self.items(obj, key, path)):
            try:
                result.append(kind(self.required_text(raw)))
            except _Problem as problem:
                self.report(f"{self._join(path, key)}[{i}]", problem.code, problem.message)
        return tuple(result)

    def address(self, data: Any, path: str) -> Address | None:
        obj = self.obj(data, path)
        if obj is None:
            return None
        self.check_keys(obj, ADDRESS_KEYS, path)
        parts = [self.field(obj, key, path, self.optional_text, required=False) for key in ADDRESS_KEYS]
        return Address(*parts)

    def contact(self, data: Any, path: str) -> Contact | None:
        obj = self.obj(data, path)
        if obj is None:
            return None
        self.check_keys(obj, CONTACT_KEYS, path)
        contact_id = self.field(obj, "Id", path, self.ident, required=False)
        first = self.field(obj, "FirstName", path, self.optional_text, required=False)
        last = self.field(obj, "LastName", path, self.optional_text, required=False)
        if not (first and first.strip()) and not (last and last.strip()):
            self.report(f"{path}.FirstName", "missing-field", 'a contact needs "FirstName" or "LastName"')
        return Contact(
            id=contact_id,
            first_name=first,
            last_name=last,
            emails=self.values(obj, "Emails", path, Email),
            phones=self.values(obj, "Phones", path, Phone),
        )

    def offer(self, data: Any, path: str) -> Offer | None:
        fast = _fast_values(data, _KEY_SETS[OFFER_KEYS], _OFFER_SPEC)
        statuses = self.config.statuses
        if fast is not None and (statuses is None or fast[-1] in statuses):
            obj: Mapping[str, Any] = data
            offer_id, number, currency, prompt, performance, issued, subject, status = fast
        else:
            checked = self.obj(data, path)
            if checked is None:
                return None
            obj = checked
            self.check_keys(obj, OFFER_KEYS, path)
            offer_id = self.field(obj, "Id", path, self.ident)
            number = self.field(obj, "Number", path, self.required_text)
            currency = self.field(obj, "CurrencyCode", path, self.required_text)
            prompt = self.field(obj, "Prompt", path, self.when)
            performance = self.field(obj, "Performance", path, self.when)
            issued = self.field(obj, "Issued", path, self.when)
            subject = self.field(obj, "Subject", path, self.optional_text, required=False)
            status = self.field(obj, "Status", path, self.status)
        customer = self.field(obj, "Customer", path, lambda v: self.customer(v, f"{path}.Customer"))
        products = tuple(
            p
            for i, raw in enumerate(self.items(obj, "Products", path, required=True))
            if (p := self.product(raw, f"{path}.Products[{i}]"))
        )
        fields = self.field(obj, "Project", path, lambda v: self.fields(v, frozenset()), required=False)
        if None in (offer_id, number, currency, prompt, performance, issued, status, customer):
            return None
        assert offer_id is not None and number is not None and currency is not None and status is not None
        assert prompt is not None and performance is not None and issued is not None and customer is not None
        return Offer(
            id=offer_id,
            number=number,
            currency_code=currency,
            prompt=prompt,
            performance=performance,
            issued=issued,
            subject=subject,
            status=status,
            customer=customer,
            products=products,
            fields=fields or (),
        )

    def customer(self, data: Any, path: str) -> Customer:
        fast = _fast_values(data, _KEY_SETS[CUSTOMER_KEYS], _CUSTOMER_SPEC)
        if fast is not None:
            return Customer(*fast)
        if not isinstance(data, Mapping):
            raise _Problem("wrong-type", f"expected an object, got {_describe(data)}")
        obj = data
        self.check_keys(obj, CUSTOMER_KEYS, path)
        values = [self.field(obj, key, path, self.required_text) for key in CUSTOMER_KEYS]
        if any(v is None for v in values):
            return Customer("", "", "", "", "")  # issues already reported; the record is dropped
        name, country_id, postal_code, city, address = (str(v) for v in values)
        return Customer(name, country_id, postal_code, city, address)

    def product(self, data: Any, path: str) -> Product | None:
        fast = _fast_values(data, _KEY_SETS[PRODUCT_KEYS], _PRODUCT_SPEC)
        if fast is not None:
            product_id, name, sku, ean, price, quantity, unit, vat, folder = fast
            return Product(product_id, name, price, quantity, unit, vat, folder, sku, ean)
        obj = self.obj(data, path)
        if obj is None:
            return None
        self.check_keys(obj, PRODUCT_KEYS, path)
        product_id = self.field(obj, "Id", path, self.ident)
        name = self.field(obj, "Name", path, self.required_text)
        sku = self.field(obj, "SKU", path, self.optional_text, required=False)
        ean = self.field(obj, "EAN", path, self.optional_text, required=False)
        price = self.field(obj, "PriceNet", path, self.decimal)
        quantity = self.field(obj, "Quantity", path, self.decimal)
        unit = self.field(obj, "Unit", path, self.required_text)
        vat = self.field(obj, "VAT", path, self.vat)
        folder = self.field(obj, "FolderName", path, self.required_text)
        if None in (product_id, name, price, quantity, unit, vat, folder):
            return None
        assert product_id is not None and name is not None and price is not None and quantity is not None
        assert unit is not None and vat is not None and folder is not None
        return Product(
            id=product_id,
            name=name,
            sku=sku,
            ean=ean,
            price_net=price,
            quantity=quantity,
            unit=unit,
            vat=vat,
            folder_name=folder,
        )


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() and fits(value) else str(value)
    elif isinstance(value, int) and value.bit_length() > 128:
        text = "a number of more than 38 digits"  # repr() of an int past 4300 digits fails
    elif isinstance(value, str) and len(value) > 40:
        text = repr(value[:40])
    else:
        text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def project_from_dict(data: Any, *, source: str | None = None, config: BuildConfig | None = None) -> Project:
    """Convert one project record (a dict keyed like the XML tree) to a :class:`Project`.

    Args:
        data: The record, e.g. one item of the JSON input list.
        source: Where it came from (``offers.json:[3]``), used in messages.
        config: Normalisation options; the defaults are documented on :class:`BuildConfig`.

    Raises:
        InputError: With one issue per bad field.
    """
    mapper = _RecordMapper(source, config or BuildConfig())
    project = mapper.project(data)
    if project is None:
        raise InputError(mapper.issues)
    return project
