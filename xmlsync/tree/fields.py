"""The MiniCRM offer tree, described once, as data.

Every element of an XML Sync offer feed is a field of this table: its tag (also the key of a JSON
record), its place (the order of ``children``), its value kind (:mod:`xmlsync.tree.kinds`), whether it is
required and whether it repeats. The mapper (:mod:`xmlsync.walk`) walks records along it, the builder
writes what the walk read in its order, typed records (:mod:`xmlsync.tree.records`) are made from it, the flat
field names of profiles (``Offer.CurrencyCode``) are derived from it, and a test compares it with the
bundled XSD element by element. Adding an element to the format is one entry here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from xmlsync.tree import kinds, records
from xmlsync.tree.kinds import Kind

ROOT_TAG = "Projects"


def _snake(tag: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", tag).lower()


@dataclass(frozen=True, eq=False)
class Leaf:
    """An element holding one value: ``<Name>...</Name>``."""

    tag: str
    kind: Kind
    required: bool = False
    attr: str = ""
    # Reading a feed without a required leaf: an error, or, where producers leave it out and MiniCRM takes the
    # feed all the same, a warning saying what is lost (build always writes it).
    missing: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "attr", self.attr or _snake(self.tag))


@dataclass(frozen=True, eq=False)
class Values:
    """A list of values, each in its own element: ``"Emails": [...]`` is ``<Emails><Email><Value>...``."""

    tag: str
    item: str
    kind: Kind
    record: type
    attr: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "attr", self.attr or _snake(self.tag))


@dataclass(frozen=True, eq=False)
class Custom:
    """Custom card fields by internal name (``String1616``), written as elements of that name.

    ``wrapper`` is the element that holds them (an Offer's ``<Project>``), or ``None`` when they stand
    directly in the parent (a Project's, after ``<Offers>``). ``reserved`` names may not be used.
    """

    tag: str
    wrapper: str | None
    reserved: frozenset[str] = frozenset()
    attr: str = "fields"
    required: bool = False


@dataclass(frozen=True, eq=False)
class Node:
    """An element of elements. With ``item``, a list of them: ``"Offers": [...]`` is ``<Offers><Offer>...``.

    Args:
        tag: The record key, and the element (for a list, the element around the items).
        children: The fields, in the documented order.
        record: The typed record class (:mod:`xmlsync.tree.records`) made from it.
        required: Whether the record must have it (for a list: at least one item).
        item: The element of each item of a list.
        ident: The kind of its ``Id`` attribute, if it has one; ``ident_required`` if it must.
        flat: The prefix of its fields in flat profiles (``Offer`` for ``Offer.Number``).
        unique_ids: The Ids of a list's items are unique within the list (``duplicate-product-id``: MiniCRM
            keeps one product line per Id).
    """

    tag: str
    children: tuple[Field, ...]
    record: type
    required: bool = False
    item: str | None = None
    ident: Kind | None = None
    ident_required: bool = False
    flat: str = ""
    attr: str = ""
    flat_required: bool = False
    unique_ids: bool = False
    keys: tuple[str, ...] = field(default=(), init=False)
    key_set: frozenset[str] = field(default=frozenset(), init=False)
    by_tag: dict[str, Field] = field(default_factory=dict, init=False)
    order: dict[str, int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        keys = (("Id",) if self.ident is not None else ()) + tuple(child.tag for child in self.children)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "by_tag", {child.tag: child for child in self.children})
        object.__setattr__(self, "order", {child.tag: i for i, child in enumerate(self.children)})
        object.__setattr__(self, "key_set", frozenset(keys))
        object.__setattr__(self, "attr", self.attr or _snake(self.tag))

    @property
    def element(self) -> str:
        """Return the element of one record of this node (the item of a list)."""
        return self.item or self.tag

    def child(self, tag: str) -> Field:
        """Return the child field with this tag."""
        return next(c for c in self.children if c.tag == tag)


Field = Union[Leaf, Values, Custom, Node]  # noqa: UP007 - a runtime alias, also on Python 3.10

_EMAILS = Values("Emails", "Email", kinds.EMAIL, records.Email)
_PHONES = Values("Phones", "Phone", kinds.TEXT, records.Phone)
ADDRESS = Node(
    "Addresses",
    (
        Leaf("CountryId", kinds.OPTIONAL_COUNTRY),
        Leaf("County", kinds.OPTIONAL),
        Leaf("PostalCode", kinds.OPTIONAL),
        Leaf("City", kinds.OPTIONAL),
        Leaf("Address", kinds.OPTIONAL),
    ),
    records.Address,
    item="Address",
    flat="Business",
)
BUSINESS = Node(
    "Business",
    (
        Leaf("Name", kinds.TEXT, True),
        Leaf("VatNumber", kinds.OPTIONAL),
        Leaf("EUVatNumber", kinds.OPTIONAL, attr="eu_vat_number"),
        Leaf("RegistrationNumber", kinds.OPTIONAL),
        Leaf("Url", kinds.OPTIONAL),
        _EMAILS,
        _PHONES,
        ADDRESS,
    ),
    records.Business,
    flat="Business",
)
CONTACT = Node(
    "Contacts",
    (Leaf("FirstName", kinds.NAME), Leaf("LastName", kinds.NAME), Leaf("Position", kinds.OPTIONAL), _EMAILS, _PHONES),
    records.Contact,
    item="Contact",
    ident=kinds.ID,
    flat="Contact",
)
_PLACE = ("CountryId", "County", "PostalCode", "City", "Address")
CUSTOMER = Node(
    "Customer",
    (
        Leaf("Name", kinds.TEXT, True),
        Leaf("CountryId", kinds.COUNTRY, True),
        *(Leaf(tag, kinds.OPTIONAL if tag == "County" else kinds.TEXT, tag != "County") for tag in _PLACE[1:]),
    ),
    records.Customer,
    required=True,
    flat="Customer",
)
# MiniCRM's own plugin writes an order's customer with empty place fields when the shop does not know them.
ORDER_CUSTOMER = Node(
    "Customer",
    (
        Leaf("Name", kinds.TEXT, True),
        Leaf("CountryId", kinds.OPTIONAL_COUNTRY),
        *(Leaf(tag, kinds.OPTIONAL) for tag in _PLACE[1:]),
    ),
    records.OrderCustomer,
    required=True,
)
PRODUCT = Node(
    "Products",
    (
        Leaf("Name", kinds.TEXT, True),
        Leaf("SKU", kinds.OPTIONAL),
        Leaf("EAN", kinds.EAN),
        Leaf("Description", kinds.OPTIONAL),
        Leaf("PriceNet", kinds.DECIMAL, True),
        Leaf("Quantity", kinds.DECIMAL, True),
        Leaf("Unit", kinds.TEXT, True),
        Leaf("VAT", kinds.VAT, True),
        Leaf("FolderName", kinds.TEXT, True),
    ),
    records.Product,
    required=True,
    item="Product",
    ident=kinds.ID,
    ident_required=True,
    flat="Product",
    unique_ids=True,
)
OFFER = Node(
    "Offers",
    (
        Leaf("Number", kinds.TEXT, True),
        Leaf("CurrencyCode", kinds.CURRENCY, True),
        Leaf("Language", kinds.LANGUAGE),
        Leaf("Prompt", kinds.DATE, True, missing="the offer has no deadline in MiniCRM"),
        Leaf("Performance", kinds.DATE, True),
        Leaf("Issued", kinds.DATE, True, missing="the offer has no issue date in MiniCRM"),
        Leaf("Subject", kinds.OPTIONAL),
        Leaf("PaymentMethod", kinds.PAYMENT),
        Leaf("Status", kinds.STATUS, True),
        CUSTOMER,
        PRODUCT,
        Custom("Project", "Project"),
    ),
    records.Offer,
    item="Offer",
    ident=kinds.ID,
    ident_required=True,
    flat="Offer",
    flat_required=True,  # a row of a flat input is a product line of an offer
)
# The webshop variant (MiniCRM's own WooCommerce plugin): an order has one date, Performance.
ORDER = Node(
    "Orders",
    (
        Leaf("Number", kinds.TEXT, True),
        Leaf("CurrencyCode", kinds.CURRENCY, True),
        Leaf("Language", kinds.LANGUAGE),
        Leaf("Performance", kinds.DATE, True),
        Leaf("Status", kinds.STATUS, True),
        Leaf("PaymentMethod", kinds.PAYMENT),
        ORDER_CUSTOMER,
        PRODUCT,
        Custom("Project", "Project"),
    ),
    records.Order,
    item="Order",
    ident=kinds.ID,
    ident_required=True,
)
# Elements of a Project, whose names a custom card field (after <Offers>) must not take.
PROJECT_ELEMENTS = frozenset(
    {"Name", "CategoryId", "StatusId", "UserId", "ContactId", "Business", "Contacts", "Offers", "Orders"}
)
PROJECT = Node(
    "Project",
    (
        Leaf("Name", kinds.TEXT, True),
        Leaf("CategoryId", kinds.CATEGORY, True),
        Leaf("StatusId", kinds.TEXT, True),
        Leaf("UserId", kinds.OPTIONAL),
        Leaf("ContactId", kinds.CONTACT_ID),
        BUSINESS,
        CONTACT,
        OFFER,
        ORDER,
        Custom("Fields", None, PROJECT_ELEMENTS | {"Id"}),
    ),
    records.Project,
    required=True,
    ident=kinds.ID,
    ident_required=True,
    flat="Project",
)


def _walk_nodes(node: Node) -> list[Node]:
    return [node] + [inner for child in node.children if isinstance(child, Node) for inner in _walk_nodes(child)]


_NODES = _walk_nodes(PROJECT)
# Elements whose children repeat (in paths, they always get an index), and the elements that are records.
VALUE_LISTS = frozenset(c.tag for node in _NODES for c in node.children if isinstance(c, Values))
CONTAINERS = frozenset({ROOT_TAG} | {node.tag for node in _NODES if node.item is not None} | VALUE_LISTS)
RECORD_TAGS = frozenset(node.element for node in _NODES if node.item is not None and node.ident is not None)


@dataclass(frozen=True)
class FlatField:
    """A field of flat inputs (one product line per row), e.g. ``Offer.CurrencyCode``.

    Args:
        kind: Its value kind.
        required: Whether every row must map it (its element and all around it are required).
        path: Where it goes in a record: keys, with ``0`` for the first item of a list.
    """

    kind: Kind
    required: bool
    path: tuple[str | int, ...]


def _flat(node: Node, path: tuple[str | int, ...], required: bool) -> dict[str, FlatField]:
    found: dict[str, FlatField] = {}
    if node.ident is not None:
        found[f"{node.flat}.Id"] = FlatField(node.ident, required and node.ident_required, (*path, "Id"))
    for child in node.children:
        if isinstance(child, Leaf):
            found[f"{node.flat}.{child.tag}"] = FlatField(child.kind, required and child.required, (*path, child.tag))
        elif isinstance(child, Values):
            found[f"{node.flat}.{child.item}"] = FlatField(child.kind, False, (*path, child.tag, 0))
        elif isinstance(child, Node) and child.flat:
            inner = (*path, child.tag, 0) if child.item is not None else (*path, child.tag)
            found.update(_flat(child, inner, required and (child.required or child.flat_required)))
    return found


# Flat field name -> field, in the order of the tree (the order of ``mapping init`` templates).
FLAT_FIELDS: dict[str, FlatField] = _flat(PROJECT, (), True)
# Custom card fields of flat inputs: "Project.Fields.<name>" and "Offer.Project.<name>".
CUSTOM_PREFIXES = ("Project.Fields.", "Offer.Project.")


def elements(node: Node = PROJECT) -> dict[str, tuple[Kind, bool]]:
    """Return ``{path: (kind, required)}`` of every leaf element below ``node``, e.g. ``Offers/Offer/Number``.

    Value lists end in ``/Value``; the ``Id`` attributes end in ``/@Id``. For the test against the XSD.
    """
    found: dict[str, tuple[Kind, bool]] = {}
    if node.ident is not None:
        found["@Id"] = (node.ident, node.ident_required)
    for child in node.children:
        if isinstance(child, Leaf):
            found[child.tag] = (child.kind, child.required)
        elif isinstance(child, Values):
            found[f"{child.tag}/{child.item}/Value"] = (child.kind, True)
        elif isinstance(child, Node):
            prefix = f"{child.tag}/{child.item}" if child.item is not None else child.tag
            found.update({f"{prefix}/{path}": spec for path, spec in elements(child).items()})
    return found
