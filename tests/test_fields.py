"""The field table (xmlsync.tree.fields) and the bundled XSD describe the same tree, element by element."""

from __future__ import annotations

from typing import Any

import pytest

from xmlsync.schema import schema_path
from xmlsync.tree import fields
from xmlsync.tree.fields import FLAT_FIELDS, PROJECT, Custom, Node


def rich_schema() -> Any:
    """The bundled XSD as xmlschema reads it: a second reader of the XSD, for the test that ties the table to it."""
    import xmlschema

    return xmlschema.XMLSchema10(str(schema_path()))


def xsd_elements(decl: Any, prefix: str, found: dict[str, list[tuple[str, int]]]) -> None:
    """Collect path -> [(type name, minOccurs)] of every simple element and Id attribute below ``decl``."""
    type_ = decl.type
    if "Id" in getattr(type_, "attributes", {}):
        attribute = type_.attributes["Id"]
        found.setdefault(f"{prefix}@Id", []).append((attribute.type.name, int(attribute.use == "required")))
    if type_.is_simple() or type_.content is None or not hasattr(type_.content, "iter_elements"):
        return
    for child in type_.content.iter_elements():
        if child.name is None:  # xs:any: the custom card fields
            continue
        if child.type.is_simple():
            found.setdefault(f"{prefix}{child.name}", []).append((child.type.name, child.min_occurs))
        elif child.type.name != "OfferProjectType":
            xsd_elements(child, f"{prefix}{child.name}/", found)


def xsd_order(decl: Any, path: str, found: dict[str, list[str]]) -> None:
    """Collect path -> the names of its child elements, in the XSD's order (each once)."""
    if decl.type.is_simple() or not hasattr(decl.type.content, "iter_elements"):
        return
    names = [child.name for child in decl.type.content.iter_elements() if child.name is not None]
    found[path] = list(dict.fromkeys(names))
    for child in decl.type.content.iter_elements():
        if child.name is not None and child.type.name != "OfferProjectType":
            xsd_order(child, f"{path}/{child.name}", found)


def table_order(node: Node, path: str, found: dict[str, list[str]]) -> None:
    element = f"{path}/{node.tag}/{node.item}" if node.item else f"{path}/{node.tag}"
    found[element] = [child.wrapper or "" if isinstance(child, Custom) else child.tag for child in node.children]
    found[element] = [tag for tag in found[element] if tag]
    for child in node.children:
        if isinstance(child, Node):
            table_order(child, element, found)


def test_every_leaf_of_the_table_has_the_xsd_type_its_kind_writes() -> None:
    found: dict[str, list[tuple[str, int]]] = {}
    xsd_elements(rich_schema().elements["Projects"].type.content[0], "", found)
    table = {path: (kind.xsd, required) for path, (kind, required) in fields.elements().items()}
    assert sorted(table) == sorted(found)
    for path, declarations in found.items():
        types = {name for name, _ in declarations}
        assert types == {table[path][0]}, path
        if len(declarations) == 1:  # declared in one place, not in a choice: required alike
            assert bool(declarations[0][1]) == table[path][1], path


def test_children_come_in_the_xsd_order() -> None:
    xsd: dict[str, list[str]] = {}
    xsd_order(rich_schema().elements["Projects"].type.content[0], "/Project", xsd)
    table: dict[str, list[str]] = {}
    table_order(PROJECT, "", table)
    for path, tags in table.items():
        assert tags == [tag for tag in xsd[path] if tag in tags], path
        assert set(xsd[path]) - set(tags) <= {"Value"}, path  # Emails/Email/Value is the Values field


@pytest.mark.parametrize(
    ("name", "path", "required"),
    [
        ("Project.Id", ("Id",), True),
        ("Business.Email", ("Business", "Emails", 0), False),
        ("Business.City", ("Business", "Addresses", 0, "City"), False),
        ("Contact.Id", ("Contacts", 0, "Id"), False),
        ("Customer.Name", ("Offers", 0, "Customer", "Name"), True),
        ("Product.EAN", ("Offers", 0, "Products", 0, "EAN"), False),
        ("Product.VAT", ("Offers", 0, "Products", 0, "VAT"), True),
    ],
)
def test_flat_field_names_come_from_the_tree(name: str, path: tuple[str | int, ...], required: bool) -> None:
    assert (FLAT_FIELDS[name].path, FLAT_FIELDS[name].required) == (path, required)
    assert len(FLAT_FIELDS) == 50
