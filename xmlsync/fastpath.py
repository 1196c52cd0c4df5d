"""Map and build in one step, for records that are plainly right.

Most records of a feed are clean. For those, :func:`fast_build` goes from the record (a dict keyed like
the XML) straight to the element outline of :mod:`xmlsync.builder`, touching each value once and making
no typed records on the way. At the first value that is not plainly right (a number with a decimal comma,
a date to convert, a custom field, anything odd) it gives up and returns ``None``; the record then takes
the usual way, :func:`~xmlsync.mapping.project_from_dict` then :func:`~xmlsync.builder.build_project`,
which reports every problem. A property test checks that wherever this module answers, its element is,
byte for byte, the one the usual way builds.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from lxml import etree

from xmlsync.builder import Outline
from xmlsync.config import BuildConfig
from xmlsync.mapping import (
    BUSINESS_KEYS,
    CONTACT_KEYS,
    CUSTOMER_KEYS,
    INVALID_XML_CHAR,
    MAX_DIGITS,
    MAX_ID,
    OFFER_KEYS,
    PRODUCT_KEYS,
    PROJECT_KEYS,
    fits,
)

# Values written exactly as the usual way writes them, so they can be copied as they are.
_NUMBER = re.compile(rf"-?(0|[1-9][0-9]{{0,{MAX_DIGITS - 1}}})(\.[0-9]{{1,{MAX_DIGITS}}})?")
_LIMIT = 10**MAX_DIGITS
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_VAT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?%")
_PROJECT_KEYS = frozenset(PROJECT_KEYS)
_BUSINESS_KEYS = frozenset(BUSINESS_KEYS)
_CONTACT_KEYS = frozenset(CONTACT_KEYS)
_OFFER_KEYS = frozenset(OFFER_KEYS)
_CUSTOMER_KEYS = frozenset(CUSTOMER_KEYS)
_PRODUCT_KEYS = frozenset(PRODUCT_KEYS)
_PRODUCT_TAGS = ("Name", "SKU", "EAN", "PriceNet", "Quantity", "Unit", "VAT", "FolderName")
_OFFER_TAGS = ("Number", "CurrencyCode", "Prompt", "Performance", "Issued", "Subject", "Status")
_SHAPES: dict[tuple[int, tuple[str, ...]], tuple[tuple[int, str], ...]] = {
    (depth, tags): tuple((depth, tag) for tag in tags)
    for depth, tags in ((5, _PRODUCT_TAGS), (3, _OFFER_TAGS), (4, CUSTOMER_KEYS))
}


class FastBuilt(NamedTuple):
    """A record built on the fast path: its ``<Project>`` and how many offers and products it holds."""

    element: etree._Element
    offers: int
    products: int


class _GiveUp(Exception):
    """The record is not plainly right: take the usual way."""


def fast_build(data: Any, config: BuildConfig) -> FastBuilt | None:
    """Return the built ``<Project>`` of a plainly right record, or ``None`` to take the usual way."""
    try:
        return _Fast(config).project(data)
    except _GiveUp:
        return None


def _text(value: Any) -> str:
    if type(value) is not str or not value.strip():
        raise _GiveUp
    return value


def _optional(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise _GiveUp
    return value


def _ident(value: Any) -> str:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise _GiveUp
    return str(value)


def _number(value: Any) -> str:
    kind = type(value)
    if kind is str and _NUMBER.fullmatch(value):
        return str(value)
    if kind is int and -_LIMIT < value < _LIMIT:
        return str(value)
    if kind is Decimal and value.is_finite() and fits(value):
        return format(value, "f")
    raise _GiveUp


def _when(value: Any) -> str:
    if type(value) is datetime and value.tzinfo is None:
        return value.isoformat(sep=" ", timespec="seconds")
    if type(value) is date:
        return value.isoformat()
    if type(value) is str:
        try:
            if len(value) == 10 and _DATE.fullmatch(value):
                date.fromisoformat(value)
                return value
            if len(value) == 19 and _DATETIME.fullmatch(value):
                datetime.fromisoformat(value)
                return value
        except ValueError:
            pass
    raise _GiveUp


def _vat(value: Any) -> str:
    if type(value) is str and _VAT.fullmatch(value):
        return value
    raise _GiveUp


def _record(value: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or not keys.issuperset(value):
        raise _GiveUp
    return value


def _none(value: Any, empty: object) -> None:
    """Give up unless ``value`` is absent or the empty value the usual way takes for nothing."""
    if value is not None and value != empty:
        raise _GiveUp


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise _GiveUp
    return value


class _Fast:
    """Fills one outline; every method raises :class:`_GiveUp` at the first odd value."""

    def __init__(self, config: BuildConfig) -> None:
        self.config = config
        self.out = Outline()
        self.shape = self.out.shape
        self.texts = self.out.texts

    def leaf(self, depth: int, tag: str, text: str | None) -> None:
        if text is not None:
            self.shape.append((depth, tag))
            self.texts.append(text)

    def leaves(self, depth: int, tags: tuple[str, ...], texts: tuple[str | None, ...]) -> None:
        """Add the leaves whose text is not ``None``: in two C calls when all are there (the usual case)."""
        if None in texts:
            for tag, text in zip(tags, texts, strict=True):
                self.leaf(depth, tag, text)
            return
        self.shape.extend(_SHAPES[depth, tags])
        self.texts.extend(texts)

    def project(self, data: Any) -> FastBuilt:
        record = _record(data, _PROJECT_KEYS)
        _none(record.get("Fields"), {})
        out, leaf = self.out, self.leaf
        out.open(0, "Project", None)
        out.ids.append((0, _ident(record.get("Id"))))
        leaf(1, "Name", _text(record.get("Name")))
        leaf(1, "CategoryId", _ident(record.get("CategoryId")))
        leaf(1, "StatusId", _text(record.get("StatusId")))
        leaf(1, "UserId", _optional(record.get("UserId")))
        business = record.get("Business")
        contacts = _items(record.get("Contacts"))
        if business is None and not contacts:
            raise _GiveUp
        if business is not None:
            self.business(business)
        if contacts:
            out.open(1, "Contacts")
            for contact in contacts:
                self.contact(contact)
        offers = _items(record.get("Offers"))
        if not offers:
            raise _GiveUp
        out.open(1, "Offers")
        products = sum(self.offer(offer) for offer in offers)
        if INVALID_XML_CHAR.search("".join(filter(None, self.texts))):
            raise _GiveUp
        return FastBuilt(out.realise(), len(offers), products)

    def values(self, depth: int, tag: str, items: Any) -> None:
        values = [_text(value) for value in _items(items)]
        if values:
            self.out.open(depth, f"{tag}s")
            for value in values:
                self.out.open(depth + 1, tag)
                self.leaf(depth + 2, "Value", value)

    def business(self, data: Any) -> None:
        record = _record(data, _BUSINESS_KEYS)
        _none(record.get("Addresses"), [])
        self.out.open(1, "Business")
        self.leaf(2, "Name", _text(record.get("Name")))
        self.leaf(2, "VatNumber", _optional(record.get("VatNumber")))
        self.values(2, "Email", record.get("Emails"))
        self.values(2, "Phone", record.get("Phones"))

    def contact(self, data: Any) -> None:
        record = _record(data, _CONTACT_KEYS)
        ident = record.get("Id")
        first, last = _optional(record.get("FirstName")), _optional(record.get("LastName"))
        if not (first and first.strip()) and not (last and last.strip()):
            raise _GiveUp
        self.out.open(2, "Contact", None)
        if ident is not None:
            self.out.ids.append((len(self.shape) - 1, _ident(ident)))
        self.leaf(3, "FirstName", first)
        self.leaf(3, "LastName", last)
        self.values(3, "Email", record.get("Emails"))
        self.values(3, "Phone", record.get("Phones"))

    def offer(self, data: Any) -> int:
        record = _record(data, _OFFER_KEYS)
        _none(record.get("Project"), {})
        out = self.out
        out.open(2, "Offer", None)
        out.ids.append((len(self.shape) - 1, _ident(record.get("Id"))))
        get = record.get
        status = _text(get("Status"))
        if self.config.statuses is not None and status not in self.config.statuses:
            raise _GiveUp
        texts = (
            _text(get("Number")),
            _text(get("CurrencyCode")),
            _when(get("Prompt")),
            _when(get("Performance")),
            _when(get("Issued")),
            _optional(get("Subject")),
            status,
        )
        self.leaves(3, _OFFER_TAGS, texts)
        customer = _record(get("Customer"), _CUSTOMER_KEYS)
        out.open(3, "Customer")
        self.leaves(4, CUSTOMER_KEYS, tuple(_text(customer.get(key)) for key in CUSTOMER_KEYS))
        products = _items(record.get("Products"))
        if not products:
            raise _GiveUp
        out.open(3, "Products")
        for product in products:
            self.product(product)
        return len(products)

    def product(self, data: Any) -> None:
        record = _record(data, _PRODUCT_KEYS)
        self.out.open(4, "Product", None)
        self.out.ids.append((len(self.shape) - 1, _ident(record.get("Id"))))
        get = record.get
        texts = (
            _text(get("Name")),
            _optional(get("SKU")),
            _optional(get("EAN")),
            _number(get("PriceNet")),
            _number(get("Quantity")),
            _text(get("Unit")),
            _vat(get("VAT")),
            _text(get("FolderName")),
        )
        self.leaves(5, _PRODUCT_TAGS, texts)
