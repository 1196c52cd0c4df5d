"""Typed, immutable domain records: one class per element of the MiniCRM offer tree.

Money and quantities are :class:`~decimal.Decimal`, dates are :class:`~datetime.date` or
:class:`~datetime.datetime`. Optional values are ``None`` when absent; the builder leaves them out.
Custom card fields are ordered ``(name, value)`` pairs, written as ``<name>value</name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

Fields = tuple[tuple[str, str], ...]
DateValue = date | datetime


@dataclass(frozen=True, slots=True)
class Email:
    """An e-mail address (``Emails/Email/Value``)."""

    value: str


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number (``Phones/Phone/Value``)."""

    value: str


@dataclass(frozen=True, slots=True)
class Address:
    """A company address (``Addresses/Address``); CountryId is a country name, e.g. ``Hungary``."""

    country_id: str | None = None
    postal_code: str | None = None
    city: str | None = None
    address: str | None = None
    county: str | None = None


@dataclass(frozen=True, slots=True)
class Business:
    """The company of a card (``Business``)."""

    name: str
    vat_number: str | None = None
    emails: tuple[Email, ...] = ()
    phones: tuple[Phone, ...] = ()
    addresses: tuple[Address, ...] = ()
    eu_vat_number: str | None = None
    registration_number: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A person of a card (``Contacts/Contact``); needs a first or a last name."""

    first_name: str | None = None
    last_name: str | None = None
    emails: tuple[Email, ...] = ()
    phones: tuple[Phone, ...] = ()
    id: int | None = None
    position: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """The customer printed on an offer (``Offer/Customer``)."""

    name: str
    country_id: str
    postal_code: str
    city: str
    address: str
    county: str | None = None


@dataclass(frozen=True, slots=True)
class OrderCustomer:
    """The customer of a webshop order (``Order/Customer``); the shop may not know the address."""

    name: str
    country_id: str | None = None
    postal_code: str | None = None
    city: str | None = None
    address: str | None = None
    county: str | None = None


@dataclass(frozen=True, slots=True)
class Product:
    """One product line of an offer (``Products/Product``); ``vat`` is written as given, e.g. ``27%``."""

    id: int
    name: str
    price_net: Decimal
    quantity: Decimal
    unit: str
    vat: str
    folder_name: str
    sku: str | None = None
    ean: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer with its customer and product lines (``Offers/Offer``)."""

    id: int
    number: str
    currency_code: str
    prompt: DateValue
    performance: DateValue
    issued: DateValue
    status: str
    customer: Customer
    products: tuple[Product, ...]
    subject: str | None = None
    fields: Fields = ()
    language: str | None = None
    payment_method: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """A webshop order with its customer and product lines (``Orders/Order``); ``performance`` is its date."""

    id: int
    number: str
    currency_code: str
    performance: DateValue
    status: str
    customer: OrderCustomer
    products: tuple[Product, ...]
    language: str | None = None
    payment_method: str | None = None
    fields: Fields = ()


@dataclass(frozen=True, slots=True)
class Project:
    """A MiniCRM card (``Projects/Project``) with its company, persons, and offers or orders (or neither).

    ``source`` names where the record came from (``offers.json:[3]``, ``erp.csv:12``); it is used in
    error messages only and takes no part in equality.
    """

    id: int
    name: str
    category_id: int
    status_id: str
    offers: tuple[Offer, ...] = ()
    user_id: str | None = None
    business: Business | None = None
    contacts: tuple[Contact, ...] = ()
    fields: Fields = ()
    source: str | None = field(default=None, compare=False)
    contact_id: int | None = None
    orders: tuple[Order, ...] = ()

    @property
    def label(self) -> str:
        """Return ``Project <Id>``, the record name used in messages."""
        return f"Project {self.id}"
