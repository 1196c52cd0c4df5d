"""Export: an XML Sync feed back to the records ``build`` reads, so that building them gives the same feed.

Records are keyed like the XML tree (see the README's *Input records*), so the way back needs no list of
fields: an ``Id`` attribute becomes ``"Id"``, a leaf element its text, the children of a repeating container
(``Offers``, ``Products``, ``Contacts``, ``Addresses``) a list of records, ``Emails`` and ``Phones`` lists of
strings (an empty ``<Value>`` left out), and the leaves of a ``<Project>`` that are not documented elements
its custom ``Fields``. Values stay text as written (``"48990.00"``, ``"2021-09-30 12:15:13"``), Ids become
numbers, so that no digit changes.
The feed is streamed; for adopting an existing feed and for reviewing a delta.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lxml import etree

from xmlsync.errors import InputError, Issue
from xmlsync.feeds import Source, iter_projects, source_name
from xmlsync.tree.fields import OFFER, PROJECT_ELEMENTS, VALUE_LISTS, Leaf
from xmlsync.tree.paths import CONTAINERS, element_line, element_path

_MAX_ID_DIGITS = 19


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: how many project records."""

    projects: int


def _ident(text: str) -> int | str:
    """Return an Id as a number, or as written if it is not one (``build`` then says what is wrong)."""
    digits = text.strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= _MAX_ID_DIGITS else text


class _Unexportable(Exception):
    def __init__(self, element: etree._Element, message: str) -> None:
        super().__init__(message)
        self.element = element
        self.message = message


# Flat contact fields (MiniCRM's REST names, written straight into <Contact> by third parties; validate warns of
# them): the record form build takes. <Type> is always Person (a <Contact> is a person) and carries nothing.
_FLAT_CONTACT = {"Email": "Emails", "Phone": "Phones", "Type": None}


def _unflatten(contact: dict[str, Any], element: etree._Element) -> dict[str, Any]:
    """Return a contact record with its flat fields in the form build takes."""
    for tag, target in _FLAT_CONTACT.items():
        if tag not in contact:
            continue
        value = contact.pop(tag)
        if target is None:
            if str(value).strip().lower() not in ("person", ""):
                where = element.find(tag)
                raise _Unexportable(where if where is not None else element, f"<{tag}> {value!r} is not Person")
            continue
        contact[target] = [*contact.get(target, []), value]
    return contact


def _record(element: etree._Element, *, project: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for key, value in element.attrib.items():
        name = str(key)
        if name != "Id":
            raise _Unexportable(element, f"<{element.tag}> has an attribute {name}, which records cannot hold")
        record["Id"] = _ident(str(value))
    for child in element.iterchildren(etree.Element):
        tag = str(child.tag)
        if project and tag not in PROJECT_ELEMENTS:
            if len(child) or child.attrib:
                raise _Unexportable(child, f"<{tag}> is no custom field (it has children or attributes)")
            target = fields
        else:
            target = record
        if tag in target:
            raise _Unexportable(child, f"<{tag}> appears twice in <{element.tag}>, which records cannot hold")
        if tag in VALUE_LISTS:
            # an empty <Value> carries nothing (validate warns of it): left out, as an empty leaf is by build
            values = (item.findtext("Value") or "" for item in child.iterchildren(etree.Element))
            target[tag] = [value for value in values if value.strip()]
        elif tag == "Contacts":
            target[tag] = [_unflatten(_record(item), item) for item in child.iterchildren(etree.Element)]
        elif tag in CONTAINERS:
            target[tag] = [_record(item) for item in child.iterchildren(etree.Element)]
        elif len(child) or child.attrib:
            target[tag] = _record(child)
        else:
            target[tag] = child.text or ""
    if fields:
        record["Fields"] = fields
    return record


# Leaves validate lets a feed leave out (with a warning) but build requires: a record without one cannot be built.
_BUILD_NEEDS = tuple(field.tag for field in OFFER.children if isinstance(field, Leaf) and field.missing)


def _buildable(project: etree._Element) -> None:
    for offer in project.iterfind("Offers/Offer"):
        for tag in _BUILD_NEEDS:
            if offer.find(tag) is None:
                message = (
                    f"<Offer> has no <{tag}>, which build requires (MiniCRM takes it so): add it to the feed first"
                )
                raise _Unexportable(offer, message)


def project_record(project: etree._Element) -> dict[str, Any]:
    """Return the input record of one ``<Project>`` element.

    Raises:
        InputError: ``cannot-export`` for what records cannot hold (a second element of one name where the
            tree has one, an attribute other than ``Id``, a structure where a custom field goes).
    """
    try:
        _buildable(project)
        return _record(project, project=True)
    except _Unexportable as exc:
        issue = Issue("cannot-export", exc.message, path=element_path(exc.element), line=element_line(exc.element))
        raise InputError([issue]) from None


def iter_records(source: Source, *, name: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield the record of each ``<Project>`` of a feed, streamed.

    Raises:
        ValidationError: If the file is not a feed that can be read.
        InputError: ``cannot-export``, naming the file, line and path.
    """
    label = name or source_name(source)
    for project in iter_projects(source, label):
        try:
            yield project_record(project)
        except InputError as exc:
            raise InputError([Issue(i.code, i.message, label, f"Project {project.get('Id')}", i.path, i.line)
                              for i in exc.issues]) from None  # fmt: skip


def export_feed(source: Source, out: IO[bytes], *, json_list: bool = False, name: str | None = None) -> ExportResult:
    """Write the records of a feed to ``out``: JSON Lines (one record a line), or one JSON list.

    Raises:
        ValidationError, InputError: As :func:`iter_records`; what was written before is then incomplete.
    """
    count = 0
    if json_list:
        out.write(b"[")
    for record in iter_records(source, name=name):
        text = json.dumps(record, ensure_ascii=False).encode()
        if json_list:
            out.write((b"\n  " if count == 0 else b",\n  ") + text)
        else:
            out.write(text + b"\n")
        count += 1
    if json_list:
        out.write(b"\n]\n" if count else b"]\n")
    return ExportResult(count)


def is_json_list(path: str | Path) -> bool:
    """Return whether an output path asks for one JSON list (``.json``) rather than JSON Lines."""
    return Path(path).suffix.lower() == ".json"
