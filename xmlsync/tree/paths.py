"""Where an element is: its XPath, the records around it and its line, for messages."""

from __future__ import annotations

from lxml import etree

from xmlsync.tree.fields import CONTAINERS, RECORD_TAGS, ROOT_TAG

__all__ = ["CONTAINERS", "ROOT_TAG", "element_line", "element_path", "record_label"]


def _is_card(node: etree._Element, parent: etree._Element | None) -> bool:
    return node.tag == "Project" and (parent is None or parent.tag == ROOT_TAG)


def element_path(el: etree._Element) -> str:
    """Return the XPath of ``el`` with an index on every repeatable element."""
    parts: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        tag = str(node.tag)
        parts.append(f"{tag}[{_position(node)}]" if parent is not None and parent.tag in CONTAINERS else tag)
        node = parent
    return "/" + "/".join(reversed(parts))


def _position(node: etree._Element) -> int:
    return 1 + sum(1 for _ in node.itersiblings(node.tag, preceding=True))


def record_label(el: etree._Element) -> str | None:
    """Return ``Project 99999 > Offer 12 > Product 7`` for the records enclosing ``el``."""
    labels: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        if node.tag in RECORD_TAGS or _is_card(node, parent):
            ident = node.get("Id")
            labels.append(f"{node.tag} {ident}" if ident is not None else str(node.tag))
        node = parent
    return " > ".join(reversed(labels)) or None


def element_line(el: etree._Element) -> int | None:
    """Return the source line of ``el``, or ``None`` for a tree built in memory."""
    line = el.sourceline
    return line if isinstance(line, int) else None
