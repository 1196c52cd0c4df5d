"""Validate: XML trees and files, read as MiniCRM reads them, against the business rules.

libxml2 (lxml) answers fast whether a batch of projects has the canonical form of the bundled XSD; only the
projects of a batch that has not are read element by element along the field table
(:meth:`~xmlsync.rules.Checker.content`), which says every problem where it is, in our own one-line messages.

Files are streamed: each ``<Project>`` is parsed, checked and freed before the next one is read, so the
memory needed does not grow with the file, and the file is read once.

Three entry points share one signature, after xmlschema: :func:`iter_errors`, :func:`validate` and
:func:`is_valid`. :func:`check_file` validates a file and returns a :class:`FileReport`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from lxml import etree

from xmlsync.config import BuildConfig
from xmlsync.errors import Issue, UnreadableError, ValidationError
from xmlsync.feeds import (
    DTD_MESSAGE,
    DoctypeFound,
    GuardedStream,
    Source,
    UnknownEncoding,
    empty_issue,
    guarded,
    open_feed,
    prolog_issue,
    safe_parser,
    source_name,
    syntax_issue,
    unreadable_issue,
)
from xmlsync.rules import Checker, batch_ids, project_ids
from xmlsync.schema import Document, schema_valid
from xmlsync.tree.paths import ROOT_TAG, element_line

if TYPE_CHECKING:
    pass

BATCH = 100  # Projects checked together (see check_batch); they are held in memory until checked


def parse(source: Source, *, name: str | None = None) -> etree._ElementTree:
    """Parse a whole XML document safely into memory (for small files; :func:`check_file` streams).

    Raises:
        ValidationError: ``xml-syntax`` with line and column if the text is not well-formed XML, or
            ``dtd-forbidden`` if it declares a DOCTYPE.
        UnreadableError: If the file cannot be read.
    """
    label = name or source_name(source)
    with guarded(source, label) as guard:
        tree = etree.parse(cast(Any, guard), safe_parser())
    if cast(Any, tree.docinfo).doctype:  # never reached: the guard refuses it first
        raise ValidationError([Issue("dtd-forbidden", DTD_MESSAGE, source=label, line=1)])
    return tree


def check_batch(
    container: etree._Element | None,
    *,
    indexes: Sequence[int],
    rules: Checker,
    sources: Sequence[str | None],
    projects: Sequence[etree._Element] | None = None,
    hints: bool = True,
) -> list[list[Issue]]:
    """Return the schema and rule issues of each ``<Project>`` of a batch, in order: the one check.

    ``container`` is a ``<Projects>`` element holding the projects of the batch (or ``None`` for projects
    checked apart from their feed); ``projects`` are its ``<Project>`` children (by default: all of them),
    ``indexes`` their (1-based) places in the feed and ``sources`` where each came from. One libxml2
    validation and a few XPath queries cover the whole batch; the projects are looked at one by one only
    where those find something, and for the Ids. The issues of each project come in line order. A whole
    tree is one batch, a project a batch of one, a streamed file a batch after another.
    """
    members = list(container if container is not None else ()) if projects is None else projects
    found = check_batch_content(container, indexes=indexes, rules=rules, sources=sources, projects=members, hints=hints)
    every = batch_ids(container) if container is not None and projects is None else map(project_ids, members)
    ids = rules.check_ids_batch(
        [
            (project, f"/{ROOT_TAG}/Project[{index}]", source)
            for project, index, source in zip(every, indexes, sources, strict=True)
        ]
    )
    return [
        sorted([*id_issues, *content], key=lambda issue: issue.line or 0)
        for content, id_issues in zip(found, ids, strict=True)
    ]


def check_batch_content(
    container: etree._Element | None,
    *,
    indexes: Sequence[int],
    rules: Checker,
    sources: Sequence[str | None],
    projects: Sequence[etree._Element] | None = None,
    hints: bool = True,
) -> list[list[Issue]]:
    """Like :func:`check_batch` without the Ids: for each project, its issues. ``hints``: whether a text may
    be a template's placeholder or escaped twice (``False`` when the file's bytes hold none, see
    :class:`~xmlsync.feeds.GuardedStream`).

    This part has no state, so batches may be checked in any order, or in other processes; the Ids are
    then checked in feed order with :meth:`~xmlsync.rules.Checker.check_ids`.
    """
    members = list(container if container is not None else ()) if projects is None else projects
    if container is not None and schema_valid(container) and rules.batch_clean(container, hints=hints):
        return [[] for _ in members]
    return [
        list(rules.content(project, f"/{ROOT_TAG}/Project[{index}]", source=source))
        for project, index, source in zip(members, indexes, sources, strict=True)
    ]


def check_project(project: etree._Element, *, index: int, rules: Checker, source: str | None = None) -> list[Issue]:
    """Return the schema and rule issues of one ``<Project>``, the ``index``-th (1-based) of its feed."""
    return check_batch(None, projects=[project], indexes=[index], rules=rules, sources=[source])[0]


def _root_issues(root: etree._Element, source: str | None) -> Iterator[Issue]:
    if root.tag != ROOT_TAG:
        yield Issue(
            "wrong-root",
            f"the root element is <{root.tag}>; an XML Sync offer feed starts with <{ROOT_TAG}>",
            source=source,
            path=f"/{root.tag}",
            line=element_line(root),
        )
        return
    for attribute in root.attrib:
        name = str(attribute)
        yield Issue(
            "unexpected-attribute",
            f"<{ROOT_TAG}> has an unknown attribute {name}; remove it",
            source=source,
            path=f"/{ROOT_TAG}/@{name}",
            line=element_line(root),
        )
    if (root.text or "").strip():
        yield _stray_text(root, source)


def _stray_text(root: etree._Element, source: str | None) -> Issue:
    return Issue(
        "unexpected-text",
        f"text directly inside <{ROOT_TAG}> is not allowed; it holds only <Project> elements",
        source=source,
        path=f"/{ROOT_TAG}",
        line=element_line(root),
    )


def _sibling_issues(node: etree._Element, position: int, source: str | None) -> Iterator[Issue]:
    """Issues of a non-Project child of ``<Projects>`` (an element, comment or processing instruction)."""
    if isinstance(node.tag, str) and node.tag != "Project":
        yield Issue(
            "unexpected-element",
            f"<{node.tag}> is not part of the format in <{ROOT_TAG}>; <{ROOT_TAG}> holds only <Project>",
            source=source,
            path=f"/{ROOT_TAG}/{node.tag}[{position}]",
            line=element_line(node),
        )
    if (node.tail or "").strip():
        parent = node.getparent()
        if parent is not None:
            yield _stray_text(parent, source)


def iter_errors(doc: Document, *, source: str | None = None, rules: BuildConfig | None = None) -> Iterator[Issue]:
    """Yield every problem (errors and warnings) of a whole ``<Projects>`` document, in document order.

    The tree is checked as one batch (:func:`check_batch`); :func:`validate` and :func:`is_valid` read
    this generator.
    """
    root = doc.getroot() if isinstance(doc, etree._ElementTree) else doc
    yield from _root_issues(root, source)
    if root.tag != ROOT_TAG:
        return
    projects = [child for child in root if child.tag == "Project"]
    with Checker(rules) as checker:
        count = len(projects)
        found = iter(
            check_batch(root, projects=projects, indexes=range(1, count + 1), rules=checker, sources=[source] * count)
        )
        for position, child in enumerate(root, start=1):
            if child.tag == "Project":
                yield from next(found)
            else:
                yield from _sibling_issues(child, position, source)


def validate(doc: Document, *, source: str | None = None, rules: BuildConfig | None = None) -> None:
    """Raise :class:`ValidationError` with every error of ``doc``; return ``None`` if it has none."""
    errors = [issue for issue in iter_errors(doc, source=source, rules=rules) if issue.severity == "error"]
    if errors:
        raise ValidationError(errors)


def is_valid(doc: Document, *, rules: BuildConfig | None = None) -> bool:
    """Return whether ``doc`` is a valid offer feed (warnings do not count)."""
    return next((issue for issue in iter_errors(doc, rules=rules) if issue.severity == "error"), None) is None


# -- files, streamed --------------------------------------------------------------------------------


@dataclass
class FileReport:
    """The result of checking one file.

    Args:
        name: The file's display name.
        issues: Every error and warning found, in file order.
        projects: ``(Id, line)`` of every ``<Project>`` checked, in order (for per-project reports).
        complete: ``False`` if checking stopped early at the error limit.
    """

    name: str
    issues: list[Issue] = field(default_factory=list)
    projects: list[tuple[str | None, int | None]] = field(default_factory=list)
    complete: bool = True

    @property
    def errors(self) -> int:
        """Return the number of errors."""
        return sum(1 for issue in self.issues if issue.severity == "error")

    @property
    def warnings(self) -> int:
        """Return the number of warnings."""
        return len(self.issues) - self.errors

    @property
    def valid(self) -> bool:
        """Return whether the file has no errors."""
        return self.errors == 0


def iter_file_issues(
    stream: IO[bytes],
    *,
    name: str,
    rules: BuildConfig | None = None,
    on_project: Callable[[str | None, int | None], None] | None = None,
) -> Iterator[Issue]:
    """Stream a feed and yield its issues, one ``<Project>`` at a time, in file order.

    ``on_project`` is called with the ``Id`` and line of each ``<Project>`` checked.
    """
    guard = GuardedStream(stream)
    try:
        guard.prime()
    except (DoctypeFound, UnknownEncoding) as exc:
        yield prolog_issue(exc, name)
        return
    if guard.empty:
        yield empty_issue(name)
        return
    with Checker(rules) as feed_rules:
        yield from _stream_issues(guard, name, feed_rules, on_project)


class _Batch:
    """Projects of a streamed file waiting to be checked together, with the issues found before each."""

    def __init__(self, rules: Checker, name: str, stream: GuardedStream | None = None) -> None:
        self.rules = rules
        self.name = name
        self.stream = stream  # whose bytes say whether a text may need a hint
        self.container = etree.Element(ROOT_TAG)
        self.slots: list[tuple[int, list[Issue]]] = []

    def add(self, element: etree._Element, index: int, before: list[Issue]) -> None:
        """Move a complete ``<Project>`` out of the parsed tree into the batch."""
        self.container.append(element)
        self.slots.append((index, before))

    def flush(self) -> Iterator[Issue]:
        """Check the batch and yield, for each project, the issues before it and its own."""
        if not self.slots:
            return
        indexes = [index for index, _ in self.slots]
        hints = self.stream is None or self.stream.hinted
        found = check_batch(
            self.container, indexes=indexes, rules=self.rules, sources=[self.name] * len(indexes), hints=hints
        )
        for (_, before), issues in zip(self.slots, found, strict=True):
            yield from before
            yield from issues
        self.container = etree.Element(ROOT_TAG)
        self.slots = []


def _stream_issues(
    stream: GuardedStream,
    name: str,
    feed_rules: Checker,
    on_project: Callable[[str | None, int | None], None] | None,
) -> Iterator[Issue]:
    """Parse the feed incrementally; check its Projects in batches of :data:`BATCH`, freeing each batch.

    A Project stays in the parsed tree until the next one ends (its tail text is complete then), and is
    then moved into the batch; what stands between two Projects is reported before the second.
    """
    events = etree.iterparse(
        cast(Any, stream),
        events=("end",),
        tag="Project",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    batch = _Batch(feed_rules, name, stream)
    current: tuple[etree._Element, int, list[Issue]] | None = None
    index = 0
    position = 0
    root: etree._Element | None = None
    try:
        for _, element in events:
            if root is None:
                root = element.getroottree().getroot()
                yield from _root_issues(root, name)
            if root.tag != ROOT_TAG:
                return
            if element.getparent() is not root:
                continue  # an Offer's own <Project> of custom fields
            before: list[Issue] = []
            previous = element.getprevious()
            if (
                current is not None
                and previous is current[0]
                and previous.getprevious() is None
                and not (previous.tail or "").strip()
            ):
                position += 1  # the usual case: just the Project before, nothing around it
                batch.add(*current)
                current = None
            for node in list(element.itersiblings(preceding=True))[::-1]:
                position += 1
                before.extend(_sibling_issues(node, position, name))
                if current is not None and node is current[0]:
                    batch.add(*current)
                    current = None
                else:
                    root.remove(node)
            if len(batch.slots) >= BATCH:
                yield from batch.flush()
            index += 1
            position += 1
            if on_project is not None:
                on_project(element.get("Id"), element_line(element))
            current = (element, index, before)
    except (DoctypeFound, UnknownEncoding) as exc:  # in a prolog longer than the part read ahead
        yield prolog_issue(exc, name)
        return
    except etree.XMLSyntaxError as exc:
        if current is not None:
            batch.add(*current)
        yield from batch.flush()
        yield syntax_issue(exc, name)
        return
    except (LookupError, UnicodeError, ValueError) as exc:
        if current is not None:
            batch.add(*current)
        yield from batch.flush()
        yield Issue("xml-syntax", f"not well-formed XML: {' '.join(str(exc).split())}", source=name)
        return
    if current is not None:
        batch.add(*current)
    yield from batch.flush()
    root = root if root is not None else events.root
    if root is None:
        return
    if index == 0:
        yield from _root_issues(root, name)
    if cast(Any, root.getroottree().docinfo).doctype:
        yield Issue("dtd-forbidden", DTD_MESSAGE, source=name, line=1)
    if root.tag == ROOT_TAG:
        for node in list(root):
            if node.tag != "Project":
                position += 1
                yield from _sibling_issues(node, position, name)


@dataclass(frozen=True)
class FileProgress:
    """How far the check of a file is: reported to ``progress`` every 1,000 projects and at the file's end."""

    name: str
    projects: int
    elapsed: float
    fraction: float | None = None  # of the file read, when its size is known
    done: bool = False


def check_file(
    source: Source,
    *,
    name: str | None = None,
    rules: BuildConfig | None = None,
    max_errors: int | None = None,
    keep_projects: bool = False,
    progress: Callable[[FileProgress], None] | None = None,
) -> FileReport:
    """Validate one file (a path, bytes or binary stream) and return its report.

    Args:
        source: The file.
        name: Its display name; by default the path or the stream's name.
        rules: Options of the business rules.
        max_errors: Stop after this many errors (the report is then marked incomplete).
        keep_projects: Record the Id and line of every Project (for per-project reports such as JUnit).
        progress: Called with a :class:`FileProgress` every 1,000 projects and once at the end.

    Raises:
        UnreadableError: If the file cannot be opened or read.
    """
    label = name or source_name(source)
    report = FileReport(label)
    started, counted = time.monotonic(), [0]
    try:
        stream: IO[bytes]
        if isinstance(source, bytes):
            stream = io.BytesIO(source)
        elif isinstance(source, str | Path):
            stream = open_feed(source)  # closed below
        else:
            stream = source
        size = _size(stream)

        def tell() -> FileProgress:
            fraction = None
            if size:
                with contextlib.suppress(OSError, ValueError):
                    fraction = min(1.0, stream.tell() / size)
            return FileProgress(label, counted[0], time.monotonic() - started, fraction)

        def on_project(ident: str | None, line: int | None) -> None:
            if keep_projects:
                report.projects.append((ident, line))
            counted[0] += 1
            if progress is not None and counted[0] % 1000 == 0:
                progress(tell())

        try:
            for issue in iter_file_issues(stream, name=label, rules=rules, on_project=on_project):
                report.issues.append(issue)
                if max_errors is not None and report.errors >= max_errors:
                    report.complete = False
                    break
            if progress is not None:
                progress(replace(tell(), fraction=1.0 if size else None, done=True))
        finally:
            if isinstance(source, str | Path):
                stream.close()
    except OSError as exc:
        raise UnreadableError([unreadable_issue(exc, label)]) from None
    except EOFError as exc:  # a .gz cut short
        message = f"cannot unpack the file: {exc} (not a whole gzip file)"
        raise UnreadableError([Issue("unreadable-input", message, source=label)]) from None
    return report


def _size(stream: IO[bytes]) -> int | None:
    """Return the size of a regular file behind a stream (``None`` for a pipe, stdin, or unpacked gzip)."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and not isinstance(stream, gzip.GzipFile) else None


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def verdict(report: FileReport) -> str:
    """Return ``valid``, ``valid (1 warning)`` or ``not valid (2 errors, 1 warning)``."""
    counts = [_plural(report.errors, "error")] if report.errors else []
    if report.warnings:
        counts.append(_plural(report.warnings, "warning"))
    text = ("valid" if report.valid else "not valid") + (f" ({', '.join(counts)})" if counts else "")
    if not report.complete:
        text += "; stopped at the error limit (--max-errors), more may follow"
    return text


def summary(reports: Sequence[FileReport]) -> str:
    """Return ``3 files: 2 valid, 1 not valid``."""
    valid = sum(1 for report in reports if report.valid)
    return f"{_plural(len(reports), 'file')}: {valid} valid, {len(reports) - valid} not valid"


def check_files(
    paths: Sequence[str | Path],
    *,
    rules: BuildConfig | None = None,
    max_errors: int | None = None,
    keep_projects: bool = False,
    progress: Callable[[FileProgress], None] | None = None,
) -> list[FileReport]:
    """Validate several files (``-`` is stdin) with one rule state per file and one error limit in all.

    With ``rules.schema``, each file is also checked against what that MiniCRM system holds
    (:func:`~xmlsync.system.schema_issues`; not stdin, which cannot be read twice).

    Raises:
        UnreadableError: If a file cannot be opened or read.
    """
    reports: list[FileReport] = []
    remaining = max_errors
    for path in paths:
        source: Source = sys.stdin.buffer if str(path) == "-" else path
        name = "<stdin>" if str(path) == "-" else str(path)
        report = check_file(
            source, name=name, rules=rules, max_errors=remaining, keep_projects=keep_projects, progress=progress
        )
        if rules is not None and rules.schema is not None and source is path:
            from xmlsync.system import with_schema_issues

            report.issues = with_schema_issues(report.issues, path, rules.schema, name)
        reports.append(report)
        if remaining is not None:
            remaining -= report.errors
            if remaining <= 0:
                break
    return reports


def feed_files(paths: Sequence[str | Path]) -> list[str]:
    """Return the files to validate: each path as given, a folder as the ``.xml`` and ``.xml.gz`` files below
    it (sorted, hidden folders passed over), ``-`` as stdin.

    Raises:
        UnreadableError: ``no-feeds`` for a folder that holds no such file.
    """
    found: list[str] = []
    for path in paths:
        if str(path) != "-" and Path(path).is_dir():
            inside = sorted(
                str(file)
                for file in Path(path).rglob("*")
                if file.name.lower().endswith((".xml", ".xml.gz"))
                and file.is_file()
                and not any(part.startswith(".") for part in file.relative_to(path).parts[:-1])
            )
            if not inside:
                message = "holds no .xml or .xml.gz file (folders are searched for feeds below them)"
                raise UnreadableError([Issue("no-feeds", message, source=str(path))])
            found.extend(inside)
        else:
            found.append(str(path))
    return found


def validate_file(source: Source, *, name: str | None = None, rules: BuildConfig | None = None) -> list[Issue]:
    """Validate one file; return its issues (errors and warnings; an empty list when there are none)."""
    return check_file(source, name=name, rules=rules).issues


__all__ = [
    "FileReport",
    "check_batch",
    "check_batch_content",
    "check_file",
    "check_files",
    "check_project",
    "is_valid",
    "iter_errors",
    "iter_file_issues",
    "parse",
    "safe_parser",
    "validate",
    "validate_file",
]
