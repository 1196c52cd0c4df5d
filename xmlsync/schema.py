"""The bundled XSD: where it is, its text, the compiled lxml and xmlschema validators, and their errors as issues.

libxml2 (lxml) answers "valid?" fast; only when the answer is no does xmlschema walk the element again to
give each error its structure (which element is missing, what was expected, which type a value has),
from which our own one-line messages are made.
"""

from __future__ import annotations

import copy
import functools
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from xmlsync.errors import Issue
from xmlsync.paths import Positions, element_line, element_path, record_label

if TYPE_CHECKING:
    import xmlschema

SCHEMA_NAME = "minicrm-offers.xsd"
Document = etree._ElementTree | etree._Element
_ATTRIBUTE_REASON = re.compile(r"attribute (\w+)=")
_MISSING_ATTRIBUTE = re.compile(r"missing required attribute '(\w+)'")
_UNKNOWN_ATTRIBUTE = re.compile(r"'(\w+)' attribute not allowed")


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


# -- xmlschema's and libxml2's errors -> issues ------------------------------------------------------


class _Translator:
    """Turns xmlschema's errors into issues for one Project or document."""

    def __init__(self, source: str | None, project_index: int | None) -> None:
        self.source = source
        self.project_index = project_index
        self.positions = Positions()

    def path(self, el: etree._Element) -> str:
        return element_path(el, project_index=self.project_index, positions=self.positions)

    def issue(self, code: str, message: str, el: etree._Element, path: str | None = None) -> Issue:
        return Issue(
            code=code,
            message=message,
            source=self.source,
            record=record_label(el),
            path=path or self.path(el),
            line=element_line(el),
        )

    def translate(self, err: xmlschema.XMLSchemaValidationError) -> Issue:
        import xmlschema  # loaded with rich_schema(), which produced err

        el = err.elem
        if not isinstance(el, etree._Element):
            return Issue("schema-violation", _first_line(err.reason), source=self.source)
        if isinstance(err, xmlschema.XMLSchemaChildrenValidationError):
            return self.children(err, el)
        reason = err.reason or ""
        if match := _MISSING_ATTRIBUTE.search(reason):
            name = match.group(1)
            return self.issue("missing-attribute", f'<{el.tag}> has no {name} attribute; add {name}="..."', el)
        if match := _UNKNOWN_ATTRIBUTE.search(reason):
            name = match.group(1)
            message = f"<{el.tag}> has an unknown attribute {name}; remove it"
            return self.issue("unexpected-attribute", message, el, f"{self.path(el)}/@{name}")
        if match := _ATTRIBUTE_REASON.match(reason):
            name = match.group(1)
            message = f"{name} of <{el.tag}> is {el.get(name, '')!r}; expected {_expected_help(el, name)}"
            return self.issue("invalid-value", message, el, f"{self.path(el)}/@{name}")
        if isinstance(err.obj, str) and len(el) == 0:
            expected = _expected_help(el, None)
            if not err.obj.strip():
                return self.issue("empty-value", f"<{el.tag}> is empty; expected {expected}", el)
            return self.issue("invalid-value", f"<{el.tag}> is {err.obj!r}; expected {expected}", el)
        return self.issue("schema-violation", f"<{el.tag}>: {_first_line(reason)}", el)

    def children(self, err: xmlschema.XMLSchemaChildrenValidationError, el: etree._Element) -> Issue:
        expected = [str(name) for x in (err.expected or ()) if (name := getattr(x, "name", None))]
        wanted = " or ".join(f"<{name}>" for name in expected) or "no more elements"
        child = err.invalid_child
        if set(expected) == {"Business", "Contacts"}:
            return self.issue(
                "company-or-person-required",
                f"<{el.tag}> needs a <Business> (company) or <Contacts> with at least one <Contact> (person)"
                " before <Offers>; MiniCRM requires one company or at least one person",
                el,
            )
        if not isinstance(child, etree._Element):
            return self.issue("missing-element", f"<{el.tag}> is missing {wanted}; add it", el)
        order = [str(x.name) for x in err.validator.iter_elements() if getattr(x, "name", None)]
        child_tag = str(child.tag)
        if child_tag in order and expected and _first(order, child_tag) > min(_first(order, e) for e in expected):
            return self.issue("missing-element", f"<{el.tag}> is missing {wanted} before <{child_tag}>; add it", el)
        holds = ", ".join(f"<{name}>" for name in dict.fromkeys(order))
        hint = f"expected {wanted} here" if expected else f"<{el.tag}> holds only {holds}, in that order"
        kind = "out of order or repeated" if child_tag in order else "not part of the format"
        return self.issue("unexpected-element", f"<{child_tag}> is {kind} in <{el.tag}>; {hint}", child)


def _first(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _first_line(text: str | None) -> str:
    return (text or "invalid").strip().splitlines()[0]


def _expected_help(el: etree._Element, attribute: str | None) -> str:
    tags: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        tags.append(str(node.tag))
        node = node.getparent()
    return _help_at("/".join(reversed(tags)), attribute)


@functools.lru_cache(maxsize=256)
def _help_at(path: str, attribute: str | None) -> str:
    """Return what the XSD says an element (or its attribute) at ``path`` holds; the same for every such element."""
    decl: Any = rich_schema().find(path)
    if decl is None:
        return "a value of the right type"
    type_ = decl.type.attributes[attribute].type if attribute else decl.type
    return type_help(type_) or "a value of the right type"


def schema_issues(node: Document, source: str | None, project_index: int | None) -> list[Issue]:
    """Return the XSD issues of a tree or one ``<Project>`` (the ``project_index``-th of its feed), one per place."""
    if schema_valid(node):
        return []
    translator = _Translator(source, project_index)
    issues: dict[tuple[str, str | None], Issue] = {}
    node, unknown = _without_unknown_attributes(node)
    for el, name in unknown:
        message = f"<{el.tag}> has an unknown attribute {name}; remove it"
        issue = translator.issue("unexpected-attribute", message, el, f"{translator.path(el)}/@{name}")
        issues.setdefault((issue.code, issue.path), issue)
    for err in rich_schema().iter_errors(node):
        issue = translator.translate(err)
        issues.setdefault((issue.code, issue.path), issue)
    return list(issues.values())


def _without_unknown_attributes(node: Document) -> tuple[Document, list[tuple[etree._Element, str]]]:
    """Return ``node`` (a copy, if needed) without the attributes the XSD declares nowhere, and those attributes.

    xmlschema writes out every attribute of an element for each error it finds in them, so 2,000 unknown
    attributes cost 2,000 x 2,000: they are reported here instead, in one pass.
    """
    declared = declared_attributes()
    found = [(el, str(name)) for el in node.iter(etree.Element) for name in el.attrib if name not in declared]
    if not found:
        return node, []
    copied = copy.deepcopy(node)
    for original, twin in zip(node.iter(etree.Element), copied.iter(etree.Element), strict=True):
        for name in [name for name in original.attrib if name not in declared]:
            del twin.attrib[name]
    return copied, found


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
        return False  # libxml2 gave up (e.g. on an unexpanded entity node): let xmlschema explain
