"""Build: domain records -> lxml elements in the documented order of MiniCRM's sample.

Building is kept apart from serialising (:mod:`xmlsync.writer`): these functions return elements and
never touch a file.

A project is built in two steps. First its *outline* is listed: every element in document order as
``(depth, tag)``, with its text and ``Id``. Then an empty tree of that shape is copied from a small cache
(libxml2 copies all nodes in one call) and the texts and Ids are filled in. Feeds repeat a handful of
shapes (the same fields, one offer, a few product lines), so this is two to three times faster than
creating the elements one by one, and gives the same tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from lxml import etree

from xmlsync.paths import ROOT_TAG
from xmlsync.records import Business, Contact, DateValue, Email, Fields, Offer, Phone, Product, Project

Shape = tuple[tuple[int, str], ...]

# Distinct shapes kept; a feed whose projects all differ in shape is built at the uncached speed.
TEMPLATE_CACHE_SIZE = 512


def format_date(value: DateValue) -> str:
    """Return ``YYYY-MM-DD HH:MM:SS`` for a datetime and ``YYYY-MM-DD`` for a date."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")  # strftime does not pad years before 1000
    assert isinstance(value, date)
    return value.isoformat()


def format_decimal(value: Decimal) -> str:
    """Return the number with a dot and without exponent, as given otherwise (``1E+3`` -> ``1000``)."""
    return format(value, "f")


class Outline:
    """The elements of one tree in document order: shape, texts (``None`` for none) and Ids by index.

    :meth:`realise` makes the tree. The builders below fill an outline from records; the fast path
    (:mod:`xmlsync.fastpath`) fills one straight from plainly right input.
    """

    __slots__ = ("ids", "shape", "texts")

    def __init__(self) -> None:
        self.shape: list[tuple[int, str]] = []
        self.texts: list[str | None] = []
        self.ids: list[tuple[int, str]] = []

    def open(self, depth: int, tag: str, ident: int | None = None) -> None:
        if ident is not None:
            self.ids.append((len(self.shape), str(ident)))
        self.shape.append((depth, tag))
        self.texts.append(None)

    def leaf(self, depth: int, tag: str, text: str | None) -> None:
        if text is not None:
            self.shape.append((depth, tag))
            self.texts.append(text)

    def realise(self) -> etree._Element:
        template = _template(tuple(self.shape))
        root: etree._Element = template.__deepcopy__(None)  # type: ignore[attr-defined]  # copy.deepcopy, minus its memo
        nodes = list(root.iter())
        for node, text in zip(nodes, self.texts, strict=True):
            if text is not None:
                node.text = text
        for index, ident in self.ids:
            nodes[index].set("Id", ident)
        return root


@lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _template(shape: Shape) -> etree._Element:
    """Return an empty tree of ``shape`` (never handed out: callers copy it)."""
    (_, root_tag), *rest = shape
    root = etree.Element(root_tag)
    stack = [root]
    for depth, tag in rest:
        del stack[depth:]
        stack.append(etree.SubElement(stack[-1], tag))
    return root


def _values(out: Outline, depth: int, tag: str, items: Iterable[Email | Phone]) -> None:
    items = tuple(items)
    if not items:
        return
    out.open(depth, f"{tag}s")
    for item in items:
        out.open(depth + 1, tag)
        out.leaf(depth + 2, "Value", item.value)


def _fields(out: Outline, depth: int, fields: Fields) -> None:
    for name, value in fields:
        out.leaf(depth, name, value)


def _business(out: Outline, depth: int, business: Business) -> None:
    out.open(depth, "Business")
    inner = depth + 1
    out.leaf(inner, "Name", business.name)
    out.leaf(inner, "VatNumber", business.vat_number)
    _values(out, inner, "Email", business.emails)
    _values(out, inner, "Phone", business.phones)
    if business.addresses:
        out.open(inner, "Addresses")
        for address in business.addresses:
            out.open(inner + 1, "Address")
            out.leaf(inner + 2, "CountryId", address.country_id)
            out.leaf(inner + 2, "PostalCode", address.postal_code)
            out.leaf(inner + 2, "City", address.city)
            out.leaf(inner + 2, "Address", address.address)


def _contact(out: Outline, depth: int, contact: Contact) -> None:
    out.open(depth, "Contact", contact.id)
    out.leaf(depth + 1, "FirstName", contact.first_name)
    out.leaf(depth + 1, "LastName", contact.last_name)
    _values(out, depth + 1, "Email", contact.emails)
    _values(out, depth + 1, "Phone", contact.phones)


def _product(out: Outline, depth: int, product: Product) -> None:
    out.open(depth, "Product", product.id)
    inner = depth + 1
    out.leaf(inner, "Name", product.name)
    out.leaf(inner, "SKU", product.sku)
    out.leaf(inner, "EAN", product.ean)
    out.leaf(inner, "PriceNet", format_decimal(product.price_net))
    out.leaf(inner, "Quantity", format_decimal(product.quantity))
    out.leaf(inner, "Unit", product.unit)
    out.leaf(inner, "VAT", product.vat)
    out.leaf(inner, "FolderName", product.folder_name)


def _offer(out: Outline, depth: int, offer: Offer) -> None:
    out.open(depth, "Offer", offer.id)
    inner = depth + 1
    out.leaf(inner, "Number", offer.number)
    out.leaf(inner, "CurrencyCode", offer.currency_code)
    out.leaf(inner, "Prompt", format_date(offer.prompt))
    out.leaf(inner, "Performance", format_date(offer.performance))
    out.leaf(inner, "Issued", format_date(offer.issued))
    out.leaf(inner, "Subject", offer.subject)
    out.leaf(inner, "Status", offer.status)
    customer = offer.customer
    out.open(inner, "Customer")
    out.leaf(inner + 1, "Name", customer.name)
    out.leaf(inner + 1, "CountryId", customer.country_id)
    out.leaf(inner + 1, "PostalCode", customer.postal_code)
    out.leaf(inner + 1, "City", customer.city)
    out.leaf(inner + 1, "Address", customer.address)
    out.open(inner, "Products")
    for product in offer.products:
        _product(out, inner + 1, product)
    if offer.fields:
        out.open(inner, "Project")
        _fields(out, inner + 1, offer.fields)


def build_project(project: Project) -> etree._Element:
    """Return the ``<Project>`` element of one card, in the order of MiniCRM's sample."""
    out = Outline()
    out.open(0, "Project", project.id)
    out.leaf(1, "Name", project.name)
    out.leaf(1, "CategoryId", str(project.category_id))
    out.leaf(1, "StatusId", project.status_id)
    out.leaf(1, "UserId", project.user_id)
    if project.business is not None:
        _business(out, 1, project.business)
    if project.contacts:
        out.open(1, "Contacts")
        for contact in project.contacts:
            _contact(out, 2, contact)
    out.open(1, "Offers")
    for offer in project.offers:
        _offer(out, 2, offer)
    _fields(out, 1, project.fields)
    return out.realise()


def build_tree(projects: Iterable[Project]) -> etree._Element:
    """Return a whole ``<Projects>`` document in memory (for small feeds and tests)."""
    root = etree.Element(ROOT_TAG)
    root.extend(build_project(p) for p in projects)
    return root
