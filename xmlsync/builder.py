"""Build: what the walk read (:mod:`xmlsync.mapping`) -> the XML text of a ``<Project>``, in the table's order.

One writer for every record: it follows :data:`~xmlsync.fields.PROJECT`, so the order of the elements is
the documented order of MiniCRM's sample, said once in :mod:`xmlsync.fields`. The text is what lxml writes
for the same tree (indented by two spaces, or compact), byte for byte; :func:`build_project` parses it
into an lxml element for callers who want one. Building never touches a file (see :mod:`xmlsync.writer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

from xmlsync.config import BuildConfig
from xmlsync.errors import InputError
from xmlsync.fields import PROJECT, ROOT_TAG, Custom, Leaf, Node, Values
from xmlsync.kinds import format_date, format_decimal
from xmlsync.mapping import Walked, as_record, walk
from xmlsync.records import Project

__all__ = ["build_project", "build_tree", "emit", "format_date", "format_decimal", "project_text"]

_NEWLINES = tuple("\n" + "  " * depth for depth in range(12))
_COMPACT = ("",) * 12
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)  # our own text only


def escape(text: str) -> str:
    """Escape a text as libxml2 writes it in element content."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def project_text(walked: Walked, *, pretty: bool = True) -> str:
    """Return the ``<Project>`` element of a walked record, as it stands in a feed (indented at level 1)."""
    out: list[str] = []
    emit(out, PROJECT, walked, 1 if pretty else 0, _NEWLINES if pretty else _COMPACT)
    return "".join(out)


def emit(out: list[str], node: Node, walked: Walked, depth: int, newlines: tuple[str, ...]) -> None:
    """Append the text of one record of ``node`` (an element and all within) to ``out``."""
    ident, values = walked
    tag = node.element
    here, inner = newlines[depth], newlines[depth + 1]
    out.append(f'{here}<{tag} Id="{ident}">' if ident is not None else f"{here}<{tag}>")
    for child, value in zip(node.children, values, strict=True):
        if value is None:
            continue
        kind = type(child)
        if kind is Leaf:
            name = child.tag
            out.append(f"{inner}<{name}>{escape(value)}</{name}>")
        elif kind is Node:
            _emit_node(out, child, value, depth + 1, newlines)  # type: ignore[arg-type]
        elif kind is Values:
            _emit_values(out, child, value, depth + 1, newlines)  # type: ignore[arg-type]
        elif value:
            _emit_custom(out, child, value, depth + 1, newlines)  # type: ignore[arg-type]
    out.append(f"{here}</{tag}>")


def _emit_node(out: list[str], node: Node, value: Any, depth: int, newlines: tuple[str, ...]) -> None:
    if node.item is None:
        emit(out, node, value, depth, newlines)
    elif value or node.required:
        here = newlines[depth]
        out.append(f"{here}<{node.tag}>")
        for item in value:
            emit(out, node, item, depth + 1, newlines)
        out.append(f"{here}</{node.tag}>")


def _emit_values(out: list[str], field: Values, texts: list[str], depth: int, newlines: tuple[str, ...]) -> None:
    if not texts:
        return
    here, item, leaf = newlines[depth], newlines[depth + 1], newlines[depth + 2]
    out.append(f"{here}<{field.tag}>")
    for text in texts:
        out.append(f"{item}<{field.item}>{leaf}<Value>{escape(text)}</Value>{item}</{field.item}>")
    out.append(f"{here}</{field.tag}>")


def _emit_custom(
    out: list[str], field: Custom, pairs: list[tuple[str, str]], depth: int, newlines: tuple[str, ...]
) -> None:
    if field.wrapper is not None:
        out.append(f"{newlines[depth]}<{field.wrapper}>")
        depth += 1
    here = newlines[depth]
    for name, text in pairs:
        out.append(f"{here}<{name}>{escape(text)}</{name}>")
    if field.wrapper is not None:
        out.append(f"{newlines[depth - 1]}</{field.wrapper}>")


def build_project(project: Project, config: BuildConfig | None = None) -> etree._Element:
    """Return the ``<Project>`` element of one typed card, in the order of MiniCRM's sample.

    The record takes the walk of every record (:func:`~xmlsync.mapping.walk`).

    Raises:
        InputError: If a value of the record cannot be written (e.g. a character XML cannot hold).
    """
    walked, issues = walk(as_record(project), source=project.source, config=config)
    if walked is None:
        raise InputError(issues)
    return etree.fromstring(project_text(walked, pretty=False), _PARSER)


def build_tree(projects: Iterable[Project]) -> etree._Element:
    """Return a whole ``<Projects>`` document in memory (for small feeds and tests)."""
    root = etree.Element(ROOT_TAG)
    root.extend(build_project(p) for p in projects)
    return root
