"""Where an element is: its XPath, the records around it and its line, for messages."""

from __future__ import annotations

from lxml import etree

from xmlsync.fields import CONTAINERS, RECORD_TAGS, ROOT_TAG

__all__ = ["CONTAINERS", "ROOT_TAG", "Positions", "element_line", "element_path", "record_label"]


def _is_card(node: etree._Element, parent: etree._Element | None) -> bool:
    return node.tag == "Project" and (parent is None or parent.tag == ROOT_TAG)


class Positions:
    """The places of elements among their siblings of the same name, counted once per parent.

    One instance serves the paths of one check: counting preceding siblings for each path instead would
    cost n x n for n faulty siblings.
    """

    def __init__(self) -> None:
        self._known: dict[etree._Element, dict[etree._Element, int]] = {}

    def __call__(self, node: etree._Element) -> int:
        parent = node.getparent()
        if parent is None:
            return 1
        places = self._known.get(parent)
        if places is None:
            counts: dict[object, int] = {}
            places = {}
            for child in parent.iterchildren(etree.Element):
                counts[child.tag] = counts.get(child.tag, 0) + 1
                places[child] = counts[child.tag]
            self._known[parent] = places
        return places[node]


def element_path(el: etree._Element, *, project_index: int | None = None, positions: Positions | None = None) -> str:
    """Return the XPath of ``el`` with an index on every repeatable element.

    ``project_index`` (1-based) is the place of the enclosing ``<Project>`` in the feed, for a Project
    that is validated on its own or whose earlier siblings were already freed while streaming. Pass
    ``positions`` when asking for many paths in one tree.
    """
    place = positions or _position
    parts: list[str] = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        tag = str(node.tag)
        if project_index is not None and _is_card(node, parent):
            parts += [f"Project[{project_index}]", ROOT_TAG]
            break
        if parent is not None and parent.tag in CONTAINERS:
            parts.append(f"{tag}[{place(node)}]")
        else:
            parts.append(tag)
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
