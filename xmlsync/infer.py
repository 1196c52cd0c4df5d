"""Infer an XSD skeleton from an annotated XML Sync sample, so the schema can follow MiniCRM's docs.

MiniCRM documents each element with a comment before it, e.g. ``<!-- Number of offer [required string]
-->``; ``Id = ...`` comments describe the ``Id`` attribute. The skeleton takes those notes literally:
it is a starting point to compare with ``schemas/minicrm-offers.xsd``, not a replacement, because some
notes are wrong (a product Name marked "int", VAT "27%" marked "int").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from xmlsync.errors import InputError, Issue

_NOTE = re.compile(r"\[\s*(required|optional)\s+(int|string|date)\s*\]", re.IGNORECASE)
_ID_NOTE = re.compile(r"^\s*Id\s*=")
_TYPES = {"int": "xs:integer", "date": "DateTimeType"}

_PREAMBLE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Skeleton inferred by `xmlsync schema infer` from {source}.
     Notes are taken literally; compare with schemas/minicrm-offers.xsd before adopting a change. -->
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="unqualified">
  <xs:simpleType name="RequiredString">
    <xs:restriction base="xs:token">
      <xs:minLength value="1"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="DateTimeType">
    <xs:restriction base="xs:string">
      <xs:pattern value="[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}( [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}})?"/>
    </xs:restriction>
  </xs:simpleType>
"""


@dataclass
class _Node:
    """What the sample says about one element name at one place in the tree."""

    tag: str
    note: tuple[str, str] | None = None
    id_note: tuple[str, str] | None = None
    rule: str | None = None
    repeated: bool = False
    children: list[_Node] = field(default_factory=list)


def _notes_before(el: etree._Element) -> list[str]:
    comments: list[str] = []
    for sibling in el.itersiblings(preceding=True):
        if not isinstance(sibling, etree._Comment):
            break
        comments.append(str(sibling.text or ""))
    return list(reversed(comments))


def _merge(nodes: list[_Node], el: etree._Element) -> None:
    tag = str(el.tag)
    existing = next((n for n in nodes if n.tag == tag), None)
    if existing is None:
        existing = _Node(tag)
        nodes.append(existing)
    else:
        existing.repeated = True
    for comment in _notes_before(el):
        match = _NOTE.search(comment)
        if match:
            note = (match.group(1).lower(), match.group(2).lower())
            if _ID_NOTE.match(comment):
                existing.id_note = note
            else:
                existing.note = note
        elif "required" in comment.lower():
            existing.rule = " ".join(comment.split())
    if el.get("Id") is not None and existing.id_note is None:
        existing.id_note = ("optional", "int")
    for child in (child for child in el if isinstance(child.tag, str)):
        _merge(existing.children, child)


def _render(node: _Node, parent: str | None, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    attrs = f'name="{node.tag}"'
    required = node.note is None or node.note[0] == "required"
    if not required:
        attrs += ' minOccurs="0"'
    if node.repeated or (parent is not None and parent == f"{node.tag}s"):
        attrs += ' maxOccurs="unbounded"'
    if node.rule:
        out.append(f"{pad}<!-- {node.rule} -->")
    if node.note is None and not node.children:
        out.append(f"{pad}<!-- not annotated in the sample -->")
    if not node.children and node.id_note is None:
        kind = node.note[1] if node.note else "string"
        type_ = _TYPES.get(kind, "RequiredString" if required else "xs:string")
        out.append(f'{pad}<xs:element {attrs} type="{type_}"/>')
        return
    out.append(f"{pad}<xs:element {attrs}>")
    out.append(f"{pad}  <xs:complexType>")
    if node.children:
        out.append(f"{pad}    <xs:sequence>")
        for child in node.children:
            _render(child, node.tag, depth + 3, out)
        out.append(f"{pad}    </xs:sequence>")
    if node.id_note is not None:
        use = "required" if node.id_note[0] == "required" else "optional"
        out.append(f'{pad}    <xs:attribute name="Id" type="{_TYPES.get(node.id_note[1], "xs:string")}" use="{use}"/>')
    out.append(f"{pad}  </xs:complexType>")
    out.append(f"{pad}</xs:element>")


def infer_schema(sample: str | Path) -> str:
    """Return the XSD skeleton (text) that the annotated sample at ``sample`` describes.

    Raises:
        InputError: ``xml-syntax`` if the sample is not well-formed XML.
    """
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.parse(str(sample), parser).getroot()
    except (etree.XMLSyntaxError, OSError) as exc:
        raise InputError([Issue("xml-syntax", f"cannot read the sample: {exc}", source=str(sample))]) from None
    nodes: list[_Node] = []
    _merge(nodes, root)
    out = [_PREAMBLE.format(source=Path(sample).name).rstrip("\n")]
    _render(nodes[0], None, 1, out)
    out.append("</xs:schema>")
    return "\n".join(out) + "\n"
