"""The bundled XSD: where it is, its text, the compiled validators, and what its types say their values are.

The XSD is the canonical form of a feed, what ``build`` writes. libxml2 (lxml) answers fast whether a batch
of projects has it; where it has not, :mod:`xmlsync.rules` reads the projects as MiniCRM does and says what
is wrong, using the ``xs:documentation`` of each type (:func:`type_help`) to say what a value should be.
"""

from __future__ import annotations

import functools
from functools import cache
from importlib import resources
from pathlib import Path
from typing import cast

from lxml import etree

SCHEMA_NAME = "minicrm-offers.xsd"
Document = etree._ElementTree | etree._Element


def schema_path() -> Path:
    """Return the path of ``minicrm-offers.xsd`` (packaged copy, or ``schemas/`` in a source checkout)."""
    packaged = Path(str(resources.files("xmlsync"))) / "schemas" / SCHEMA_NAME
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_NAME


# The parts of the XSD that only one variant has: its list element and the types below it.
_VARIANTS = {
    "offers": ("Offers", ("OffersType", "OfferType", "CustomerType")),
    "orders": ("Orders", ("OrdersType", "OrderType", "OrderCustomerType")),
}
_XS = {"xs": "http://www.w3.org/2001/XMLSchema"}


def schema_text(variant: str = "all") -> str:
    """Return the XSD as text: as shipped (``all``), or for one variant, ``offers`` or ``orders``, alone."""
    text = schema_path().read_text(encoding="utf-8")
    if variant == "all":
        return text
    if variant not in _VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; use all, offers or orders")
    tree = etree.fromstring(text.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    (element, types), *_ = (spec for name, spec in _VARIANTS.items() if name != variant)
    found = tree.xpath(
        f"//xs:sequence[xs:element/@name = '{element}'] | //xs:complexType[@name = $a or @name = $b or @name = $c]",
        namespaces=_XS,
        a=types[0],
        b=types[1],
        c=types[2],
    )
    for node in cast(list[etree._Element], found):
        parent = node.getparent()
        if parent is not None:
            parent.remove(node)
    head = text[: text.index("<xs:schema")]
    return head + etree.tostring(tree, encoding="unicode") + "\n"


@cache
def lxml_schema() -> etree.XMLSchema:
    """Return the XSD compiled by libxml2: the fast validator."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(schema_path()), parser))


@functools.cache
def type_help(name: str) -> str:
    """Return the ``xs:documentation`` text of an XSD simple type: what its values look like, for messages."""
    xsd = etree.parse(str(schema_path()), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    found = xsd.xpath(
        "//xs:simpleType[@name = $name]/xs:annotation/xs:documentation/text()",
        namespaces={"xs": "http://www.w3.org/2001/XMLSchema"},
        name=name,
    )
    texts = cast(list[str], found)
    return " ".join(texts[0].split()) if texts else "a value of the right type"


# lxml writes the XPath of every error libxml2 reports, counting the element's preceding siblings: for an
# element with thousands of faulty children that costs n x n. Such a tree goes to xmlschema alone (linear).
CROWDED = 500
_CROWDED = etree.XPath(f"boolean(descendant-or-self::*/*[{CROWDED + 1}])")


def schema_valid(node: Document) -> bool:
    """Return whether libxml2 finds ``node`` valid; ``False`` also where it cannot say cheaply (see CROWDED)."""
    if _CROWDED(node):
        return False
    try:
        return bool(lxml_schema().validate(node))
    except etree.XMLSchemaValidateError:
        return False  # libxml2 gave up (e.g. on an unexpanded entity node): the rules say what is wrong
