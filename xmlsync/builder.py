"""Build: what the walk read (:mod:`xmlsync.walk`) -> the XML text of a ``<Project>``, in the table's order.

One writer for every record: it follows :data:`~xmlsync.tree.fields.PROJECT`, so the order of the elements is
the documented order of MiniCRM's sample, said once in :mod:`xmlsync.tree.fields`. The text is what lxml writes
for the same tree (indented by two spaces, or compact), byte for byte; :func:`build_project` parses it
into an lxml element for callers who want one. Building never touches a file (see :mod:`xmlsync.writer`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import IO, NamedTuple, Protocol

from lxml import etree

from xmlsync import compiled
from xmlsync.config import BuildConfig
from xmlsync.errors import InputError
from xmlsync.tree.fields import ROOT_TAG
from xmlsync.tree.kinds import format_date, format_decimal
from xmlsync.tree.records import Project
from xmlsync.walk import Walked, as_record, walk
from xmlsync.writer import FeedWriter, LinesWriter, ProjectSink

__all__ = ["build_project", "build_tree", "format_date", "format_decimal", "project_text"]

_NEWLINES = tuple("\n" + "  " * depth for depth in range(12))
_COMPACT = ("",) * 12
OWN_TEXT = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)  # parses only text built here


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


class Renderer(Protocol):
    """Writes one walked record (:data:`~xmlsync.walk.Walked`) as the bytes of an output."""

    def __call__(self, walked: Walked, config: BuildConfig) -> bytes:
        """Return the record's bytes in the output."""
        ...


def render_xml(walked: Walked, config: BuildConfig) -> bytes:
    """The ``<Project>`` element of XML Sync (:func:`project_text`), as it stands in a feed."""
    return project_text(walked, pretty=config.pretty).encode()


class Output(NamedTuple):
    """One output of a build: the renderer of a walked record, and the writer its records stream into."""

    render: Renderer
    sink: Callable[[IO[bytes], BuildConfig], AbstractContextManager[ProjectSink]]


def _offer_json(walked: Walked, config: BuildConfig) -> bytes:
    from xmlsync.offers import render_offer_json  # the Offer JSON API's bodies: loaded when asked for

    return render_offer_json(walked, config)


def _offer_send(walked: Walked, config: BuildConfig) -> bytes:
    from xmlsync.offers import render_offer_requests

    return render_offer_requests(walked, config)


RENDERERS: dict[str, Output] = {
    "xml": Output(render_xml, lambda out, config: FeedWriter(out, pretty=config.pretty)),
    "offer-json": Output(_offer_json, lambda out, config: LinesWriter(out)),
    "offer-send": Output(_offer_send, lambda out, config: LinesWriter(out)),  # what offer send reads
}
"""The outputs a build can write, by name: a new output is one renderer and one entry here. Whatever the
output, every record is checked as its XML Sync ``<Project>`` (the rules are those of the feed)."""


def project_text(walked: Walked, *, pretty: bool = True) -> str:
    """Return the ``<Project>`` element of a walked record, as it stands in a feed (indented at level 1)."""
    out: list[str] = []
    _EMIT_PROJECT(walked, out, 1 if pretty else 0, _NEWLINES if pretty else _COMPACT)
    return "".join(out)


def _values(out: list[str], tag: str, item: str, texts: list[str], depth: int, newlines: tuple[str, ...]) -> None:
    here, inner, leaf = newlines[depth], newlines[depth + 1], newlines[depth + 2]
    out.append(f"{here}<{tag}>")
    for text in texts:
        out.append(f"{inner}<{item}>{leaf}<Value>{escape(text)}</Value>{inner}</{item}>")
    out.append(f"{here}</{tag}>")


def _custom(
    out: list[str], wrapper: str | None, pairs: list[tuple[str, str]], depth: int, newlines: tuple[str, ...]
) -> None:
    if wrapper is not None:
        out.append(f"{newlines[depth]}<{wrapper}>")
        depth += 1
    here = newlines[depth]
    for name, text in pairs:
        out.append(f"{here}<{name}>{escape(text)}</{name}>")
    if wrapper is not None:
        out.append(f"{newlines[depth - 1]}</{wrapper}>")


_EMIT_PROJECT = compiled.xml_writer(escape, _values, _custom)  # one line per field, from the field table


def build_project(project: Project, config: BuildConfig | None = None) -> etree._Element:
    """Return the ``<Project>`` element of one typed card, in the order of MiniCRM's sample.

    The record takes the walk of every record (:func:`~xmlsync.walk.walk`).

    Raises:
        InputError: If a value of the record cannot be written (e.g. a character XML cannot hold).
    """
    walked, issues = walk(as_record(project), source=project.source, config=config)
    if walked is None:
        raise InputError(issues)
    return etree.fromstring(project_text(walked, pretty=False), OWN_TEXT)


def build_tree(projects: Iterable[Project]) -> etree._Element:
    """Return a whole ``<Projects>`` document in memory (for small feeds and tests)."""
    root = etree.Element(ROOT_TAG)
    root.extend(build_project(p) for p in projects)
    return root
