"""Validate: XML trees and files against the bundled XSD, with every error turned into an :class:`Issue`.

libxml2 (lxml) answers "valid?" fast; only when the answer is no does xmlschema walk the tree again to
give each error its structure (which element is missing, what was expected, which type a value has),
from which our own one-line messages are made.

Three entry points share one signature, after xmlschema: :func:`iter_errors`, :func:`validate` and
:func:`is_valid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import xmlschema
from lxml import etree

from xmlsync.builder import ROOT_TAG
from xmlsync.errors import Issue, ValidationError
from xmlsync.schema import lxml_schema, rich_schema, type_help

Document = etree._ElementTree | etree._Element
Source = str | Path | bytes | IO[bytes]

# Parents whose children repeat: their children always get an index in paths.
_CONTAINERS = frozenset({"Projects", "Contacts", "Emails", "Phones", "Addresses", "Offers", "Products"})
_RECORD_TAGS = ("Project", "Contact", "Offer", "Product")
_ATTRIBUTE_REASON = re.compile(r"attribute (\w+)=")
_MISSING_ATTRIBUTE = re.compile(r"missing required attribute '(\w+)'")
_UNKNOWN_ATTRIBUTE = re.compile(r"'(\w+)' attribute not allowed")


def safe_parser() -> etree.XMLParser:
    """Return a parser that expands no entities, loads no DTD and touches no network."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def parse(source: Source, *, name: str | None = None) -> etree._ElementTree:
    """Parse an XML file, bytes or binary stream safely.

    Raises:
        ValidationError: ``xml-syntax`` with line and column if the text is not well-formed XML, or
            ``dtd-forbidden`` if it declares a DOCTYPE (which an XML Sync feed never needs).
    """
    label = name or _source_name(source)
    parser = safe_parser()
    try:
        if isinstance(source, bytes):
            tree = etree.ElementTree(etree.fromstring(source, parser))
        else:
            tree = etree.parse(str(source) if isinstance(source, Path) else source, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        message = _syntax_message(exc)
        raise ValidationError(
            [Issue("xml-syntax", f"not well-formed XML: {message}", source=label, line=line, column=column)]
        ) from None
    if cast(Any, tree.docinfo).doctype:
        raise ValidationError(
            [
                Issue(
                    "dtd-forbidden",
                    "the file declares a DOCTYPE, which XML Sync feeds never need and xmlsync does not"
                    " process (entities are not expanded); remove the <!DOCTYPE ...> declaration",
                    source=label,
                    line=1,
                )
            ]
        )
    return tree


def _syntax_message(exc: etree.XMLSyntaxError) -> str:
    text = str(exc.msg or exc).strip()
    return re.sub(r", line \d+, column \d+$", "", text)


def _source_name(source: Source) -> str:
    if isinstance(source, str | Path):
        return str(source)
    return str(getattr(source, "name", "<stdin>"))


# -- paths and record labels ----------------------------------------------------------------------


def element_path(el: etree._Element, *, project_index: int | None = None) -> str:
    """Return the XPath of ``el`` with an index on every repeatable element.

    For a ``<Project>`` validated on its own, ``project_index`` (1-based) gives its place in the feed.
    """
    parts: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        tag = str(node.tag)
        if parent is not None and parent.tag in _CONTAINERS:
            parts.append(f"{tag}[{_position(node)}]")
        elif parent is None and tag == "Project" and project_index is not None:
            parts.append(f"Project[{project_index}]")
            parts.append(ROOT_TAG)
        else:
            parts.append(tag)
        node = parent
    return "/" + "/".join(reversed(parts))


def _position(node: etree._Element) -> int:
    position = 1
    for sibling in node.itersiblings(preceding=True):
        if sibling.tag == node.tag:
            position += 1
    return position


def record_label(el: etree._Element) -> str | None:
    """Return ``Project 99999 > Offer 12 > Product 7`` for the records enclosing ``el``."""
    labels: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        is_card = node.tag == "Project" and (parent is None or parent.tag == ROOT_TAG)
        if (node.tag in _RECORD_TAGS and node.tag != "Project") or is_card:
            ident = node.get("Id")
            labels.append(f"{node.tag} {ident}" if ident is not None else str(node.tag))
        node = parent
    return " > ".join(reversed(labels)) or None


# -- translation of xmlschema errors ----------------------------------------------------------------


class _Translator:
    """Turns xmlschema's errors into issues for one document or one built Project."""

    def __init__(self, source: str | None, project_index: int | None) -> None:
        self.source = source
        self.project_index = project_index

    def issue(self, code: str, message: str, el: etree._Element, path: str | None = None) -> Issue:
        return Issue(
            code=code,
            message=message,
            source=self.source,
            record=record_label(el),
            path=path or element_path(el, project_index=self.project_index),
            line=_line(el),
        )

    def translate(self, err: xmlschema.XMLSchemaValidationError) -> Issue:
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
            path = f"{element_path(el, project_index=self.project_index)}/@{name}"
            return self.issue(
                "unexpected-attribute", f"<{el.tag}> has an unknown attribute {name}; remove it", el, path
            )
        if match := _ATTRIBUTE_REASON.match(reason):
            name = match.group(1)
            path = f"{element_path(el, project_index=self.project_index)}/@{name}"
            value = el.get(name, "")
            expected = _expected_help(el, name)
            return self.issue("invalid-value", f"{name} of <{el.tag}> is {value!r}; expected {expected}", el, path)
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
            return self.issue(
                "missing-element",
                f"<{el.tag}> is missing {wanted} before <{child_tag}>; add it",
                el,
                path=element_path(el, project_index=self.project_index),
            )
        holds = ", ".join(f"<{name}>" for name in dict.fromkeys(order))
        hint = f"expected {wanted} here" if expected else f"<{el.tag}> holds only {holds}, in that order"
        kind = "out of order or repeated" if child_tag in order else "not part of the format"
        return self.issue(
            "unexpected-element",
            f"<{child_tag}> is {kind} in <{el.tag}>; {hint}",
            child,
        )


def _line(el: etree._Element) -> int | None:
    line = el.sourceline
    return line if isinstance(line, int) else None


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
    decl: Any = rich_schema().find("/".join(reversed(tags)))
    if decl is None:
        return "a value of the right type"
    type_ = decl.type.attributes[attribute].type if attribute else decl.type
    return type_help(type_) or "a value of the right type"


# -- public API -----------------------------------------------------------------------------------


def _schema_issues(node: Document, source: str | None, project_index: int | None) -> Iterator[Issue]:
    if lxml_schema().validate(node):
        return
    translator = _Translator(source, project_index)
    issues: dict[tuple[str, str | None], Issue] = {}
    for err in rich_schema().iter_errors(node):
        issue = translator.translate(err)
        issues.setdefault((issue.code, issue.path), issue)
    # xmlschema reports a parent's content after its children: report in document order instead.
    yield from sorted(issues.values(), key=lambda issue: issue.line or 0)


def iter_errors(doc: Document, *, source: str | None = None) -> Iterator[Issue]:
    """Yield every problem of a whole ``<Projects>`` document, in document order."""
    root = doc.getroot() if isinstance(doc, etree._ElementTree) else doc
    if root.tag != ROOT_TAG:
        yield Issue(
            "wrong-root",
            f"the root element is <{root.tag}>; an XML Sync offer feed starts with <{ROOT_TAG}>",
            source=source,
            path=f"/{root.tag}",
            line=_line(root),
        )
        return
    yield from _schema_issues(doc, source, None)


def iter_project_errors(project: etree._Element, *, index: int, source: str | None = None) -> Iterator[Issue]:
    """Yield every problem of one built ``<Project>`` that will stand at position ``index`` (1-based)."""
    yield from _schema_issues(project, source, index)


def validate(doc: Document, *, source: str | None = None) -> None:
    """Raise :class:`ValidationError` with every problem of ``doc``; return ``None`` if it is valid."""
    issues = list(iter_errors(doc, source=source))
    if issues:
        raise ValidationError(issues)


def is_valid(doc: Document) -> bool:
    """Return whether ``doc`` is a valid offer feed."""
    return next(iter_errors(doc), None) is None


def validate_file(source: Source, *, name: str | None = None) -> list[Issue]:
    """Parse and validate one XML file; return its issues (an empty list when it is valid)."""
    label = name or _source_name(source)
    try:
        tree = parse(source, name=label)
    except ValidationError as exc:
        return list(exc.issues)
    return list(iter_errors(tree, source=label))
