"""The bundled XSD: where it is, its text, and the compiled lxml and xmlschema validators."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

from lxml import etree

if TYPE_CHECKING:
    import xmlschema

SCHEMA_NAME = "minicrm-offers.xsd"


def schema_path() -> Path:
    """Return the path of ``minicrm-offers.xsd`` (packaged copy, or ``schemas/`` in a source checkout)."""
    packaged = Path(str(resources.files("xmlsync"))) / "schemas" / SCHEMA_NAME
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_NAME


def schema_text() -> str:
    """Return the XSD as text, as shipped."""
    return schema_path().read_text(encoding="utf-8")


@cache
def lxml_schema() -> etree.XMLSchema:
    """Return the XSD compiled by libxml2: the fast validator."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(schema_path()), parser))


@cache
def declared_attributes() -> frozenset[str]:
    """Return the names of every attribute the XSD declares (anywhere)."""
    xsd = etree.parse(str(schema_path()), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    names = xsd.xpath("//xs:attribute/@name", namespaces={"xs": "http://www.w3.org/2001/XMLSchema"})
    return frozenset(str(name) for name in cast(list[str], names))


@cache
def rich_schema() -> xmlschema.XMLSchema10:
    """Return the XSD loaded by xmlschema: the validator with structured error detail.

    xmlschema is imported here, on first use, as only invalid input needs it (it takes a tenth of a
    second to import).
    """
    import xmlschema

    return xmlschema.XMLSchema10(str(schema_path()))


def type_help(type_: object) -> str | None:
    """Return the ``xs:documentation`` text of an XSD type, used to tell users what a value should be."""
    annotation = getattr(type_, "annotation", None)
    if annotation is None or not annotation.documentation:
        return None
    text = annotation.documentation[0].text
    return " ".join(text.split()) if text else None
