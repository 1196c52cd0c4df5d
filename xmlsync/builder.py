"""Build: domain records -> lxml elements in the documented order of MiniCRM's sample.

Building is kept apart from serialising (:mod:`xmlsync.writer`): these functions return elements and
never touch a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from xmlsync.paths import ROOT_TAG
from xmlsync.records import Business, Contact, DateValue, Email, Fields, Offer, Phone, Product, Project


def format_date(value: DateValue) -> str:
    """Return ``YYYY-MM-DD HH:MM:SS`` for a datetime and ``YYYY-MM-DD`` for a date."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")  # strftime does not pad years before 1000
    assert isinstance(value, date)
    return value.isoformat()


def format_decimal(value: Decimal) -> str:
    """Return the number with a dot and without exponent, as given otherwise (``1E+3`` -> ``1000``)."""
    return format(value, "f")


def _text(parent: etree._Element, tag: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, tag).text = value


def _values(parent: etree._Element, tag: str, items: Iterable[Email | Phone]) -> None:
    items = tuple(items)
    if not items:
        return
    container = etree.SubElement(parent, f"{tag}s")
    for item in items:
        etree.SubElement(etree.SubElement(container, tag), "Value").text = item.value


def _fields(parent: etree._Element, fields: Fields) -> None:
    for name, value in fields:
        etree.SubElement(parent, name).text = value


def build_business(business: Business) -> etree._Element:
    """Return the ``<Business>`` element of a company."""
    el = etree.Element("Business")
    _text(el, "Name", business.name)
    _text(el, "VatNumber", business.vat_number)
    _values(el, "Email", business.emails)
    _values(el, "Phone", business.phones)
    if business.addresses:
        addresses = etree.SubElement(el, "Addresses")
        for address in business.addresses:
            a = etree.SubElement(addresses, "Address")
            _text(a, "CountryId", address.country_id)
            _text(a, "PostalCode", address.postal_code)
            _text(a, "City", address.city)
            _text(a, "Address", address.address)
    return el


def build_contact(contact: Contact) -> etree._Element:
    """Return the ``<Contact>`` element of a person."""
    el = etree.Element("Contact")
    if contact.id is not None:
        el.set("Id", str(contact.id))
    _text(el, "FirstName", contact.first_name)
    _text(el, "LastName", contact.last_name)
    _values(el, "Email", contact.emails)
    _values(el, "Phone", contact.phones)
    return el


def build_product(product: Product) -> etree._Element:
    """Return the ``<Product>`` element of one offer line."""
    el = etree.Element("Product", Id=str(product.id))
    _text(el, "Name", product.name)
    _text(el, "SKU", product.sku)
    _text(el, "EAN", product.ean)
    _text(el, "PriceNet", format_decimal(product.price_net))
    _text(el, "Quantity", format_decimal(product.quantity))
    _text(el, "Unit", product.unit)
    _text(el, "VAT", product.vat)
    _text(el, "FolderName", product.folder_name)
    return el


def build_offer(offer: Offer) -> etree._Element:
    """Return the ``<Offer>`` element with its customer, products and card fields."""
    el = etree.Element("Offer", Id=str(offer.id))
    _text(el, "Number", offer.number)
    _text(el, "CurrencyCode", offer.currency_code)
    _text(el, "Prompt", format_date(offer.prompt))
    _text(el, "Performance", format_date(offer.performance))
    _text(el, "Issued", format_date(offer.issued))
    _text(el, "Subject", offer.subject)
    _text(el, "Status", offer.status)
    customer = etree.SubElement(el, "Customer")
    _text(customer, "Name", offer.customer.name)
    _text(customer, "CountryId", offer.customer.country_id)
    _text(customer, "PostalCode", offer.customer.postal_code)
    _text(customer, "City", offer.customer.city)
    _text(customer, "Address", offer.customer.address)
    products = etree.SubElement(el, "Products")
    products.extend(build_product(p) for p in offer.products)
    if offer.fields:
        _fields(etree.SubElement(el, "Project"), offer.fields)
    return el


def build_project(project: Project) -> etree._Element:
    """Return the ``<Project>`` element of one card, in the order of MiniCRM's sample."""
    el = etree.Element("Project", Id=str(project.id))
    _text(el, "Name", project.name)
    _text(el, "CategoryId", str(project.category_id))
    _text(el, "StatusId", project.status_id)
    _text(el, "UserId", project.user_id)
    if project.business is not None:
        el.append(build_business(project.business))
    if project.contacts:
        contacts = etree.SubElement(el, "Contacts")
        contacts.extend(build_contact(c) for c in project.contacts)
    offers = etree.SubElement(el, "Offers")
    offers.extend(build_offer(o) for o in project.offers)
    _fields(el, project.fields)
    return el


def build_tree(projects: Iterable[Project]) -> etree._Element:
    """Return a whole ``<Projects>`` document in memory (for small feeds and tests)."""
    root = etree.Element(ROOT_TAG)
    root.extend(build_project(p) for p in projects)
    return root
