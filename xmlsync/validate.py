"""Validate: XML trees and files against the bundled XSD and the business rules.

libxml2 (lxml) answers "valid?" fast; only when the answer is no does xmlschema walk the element again to
give each error its structure (which element is missing, what was expected, which type a value has),
from which our own one-line messages are made.

Files are streamed: each ``<Project>`` is parsed, checked and freed before the next one is read, so the
memory needed does not grow with the file, and the file is read once.

Three entry points share one signature, after xmlschema: :func:`iter_errors`, :func:`validate` and
:func:`is_valid`. :func:`check_file` validates a file and returns a :class:`FileReport`.
"""

from __future__ import annotations

import copy
import functools
import io
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from lxml import etree

from xmlsync.config import BuildConfig
from xmlsync.errors import Issue, UnreadableError, ValidationError
from xmlsync.paths import ROOT_TAG, Positions, element_line, element_path, record_label
from xmlsync.rules import Checker, project_ids
from xmlsync.safe import (
    DTD_MESSAGE,
    DoctypeFound,
    GuardedStream,
    Source,
    UnknownEncoding,
    empty_issue,
    guarded,
    prolog_issue,
    safe_parser,
    source_name,
    syntax_issue,
    unreadable_issue,
)
from xmlsync.schema import declared_attributes, lxml_schema, rich_schema, type_help

if TYPE_CHECKING:
    import xmlschema

Document = etree._ElementTree | etree._Element

_ATTRIBUTE_REASON = re.compile(r"attribute (\w+)=")
_MISSING_ATTRIBUTE = re.compile(r"missing required attribute '(\w+)'")
_UNKNOWN_ATTRIBUTE = re.compile(r"'(\w+)' attribute not allowed")
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


# -- translation of xmlschema errors ----------------------------------------------------------------


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


def _schema_issues(node: Document, source: str | None, project_index: int | None) -> list[Issue]:
    if _schema_valid(node):
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


# -- one Project, one document ----------------------------------------------------------------------


# lxml writes the XPath of every error libxml2 reports, counting the element's preceding siblings: for an
# element with thousands of faulty children that costs n x n. Such a tree goes to xmlschema alone (linear).
CROWDED = 500
_CROWDED = etree.XPath(f"boolean(descendant-or-self::*[count(*) > {CROWDED}])")


def _schema_valid(node: Document) -> bool:
    """Return whether libxml2 finds ``node`` valid; ``False`` also where it cannot say cheaply (see CROWDED)."""
    if _CROWDED(node):
        return False
    try:
        return bool(lxml_schema().validate(node))
    except etree.XMLSchemaValidateError:
        return False  # libxml2 gave up (e.g. on an unexpanded entity node): let xmlschema explain


def check_batch(
    container: etree._Element,
    *,
    indexes: Sequence[int],
    rules: Checker,
    sources: Sequence[str | None],
) -> list[list[Issue]]:
    """Return the schema and rule issues of each ``<Project>`` child of ``container``, in order.

    ``container`` is a ``<Projects>`` element holding just the projects of the batch; ``indexes`` are
    their (1-based) places in the feed and ``sources`` where each came from. One libxml2 validation and a
    few XPath queries cover the whole batch; the projects are looked at one by one only where those find
    something, and for the Ids. The issues of each project come in line order.
    """
    found = check_batch_content(container, indexes=indexes, rules=rules, sources=sources)
    ids = rules.check_ids_batch(
        [
            (project_ids(project), f"/{ROOT_TAG}/Project[{index}]", source)
            for project, index, source in zip(container, indexes, sources, strict=True)
        ]
    )
    return [
        sorted([*schema, *id_issues, *content], key=lambda issue: issue.line or 0)
        for (schema, content), id_issues in zip(found, ids, strict=True)
    ]


def check_batch_content(
    container: etree._Element,
    *,
    indexes: Sequence[int],
    rules: Checker,
    sources: Sequence[str | None],
) -> list[tuple[list[Issue], list[Issue]]]:
    """Like :func:`check_batch` without the Ids: for each project, its schema issues and its rule issues.

    This part has no state, so batches may be checked in any order, or in other processes; the Ids are
    then checked in feed order with :meth:`~xmlsync.rules.Checker.check_ids`.
    """
    schema_ok = _schema_valid(container)
    clean = rules.batch_clean(container)
    results: list[tuple[list[Issue], list[Issue]]] = []
    for project, index, source in zip(container, indexes, sources, strict=True):
        schema = [] if schema_ok else _schema_issues(project, source, index)
        content = [] if clean else list(rules.content(project, f"/{ROOT_TAG}/Project[{index}]", source=source))
        results.append((schema, content))
    return results


def check_project(project: etree._Element, *, index: int, rules: Checker, source: str | None = None) -> list[Issue]:
    """Return the schema and rule issues of one ``<Project>``, the ``index``-th (1-based) of its feed.

    Issues come in line order (xmlschema reports a parent's content after its children).
    """
    issues = _schema_issues(project, source, index)
    issues.extend(rules.check(project, f"/{ROOT_TAG}/Project[{index}]", source=source))
    return sorted(issues, key=lambda issue: issue.line or 0)


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
    """Yield every problem (errors and warnings) of a whole ``<Projects>`` document, in document order."""
    root = doc.getroot() if isinstance(doc, etree._ElementTree) else doc
    yield from _root_issues(root, source)
    if root.tag != ROOT_TAG:
        return
    with Checker(rules) as feed_rules:
        index = 0
        for position, child in enumerate(root, start=1):
            if child.tag == "Project":
                index += 1
                yield from check_project(child, index=index, rules=feed_rules, source=source)
            else:
                yield from _sibling_issues(child, position, source)


def validate(doc: Document, *, source: str | None = None, rules: BuildConfig | None = None) -> None:
    """Raise :class:`ValidationError` with every error of ``doc``; return ``None`` if it has none."""
    errors = [issue for issue in iter_errors(doc, source=source, rules=rules) if issue.severity == "error"]
    if errors:
        raise ValidationError(errors)


def is_valid(doc: Document, *, rules: BuildConfig | None = None) -> bool:
    """Return whether ``doc`` is a valid offer feed (warnings do not count)."""
    return not any(issue.severity == "error" for issue in iter_errors(doc, rules=rules))


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

    def __init__(self, rules: Checker, name: str) -> None:
        self.rules = rules
        self.name = name
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
        found = check_batch(self.container, indexes=indexes, rules=self.rules, sources=[self.name] * len(indexes))
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
    batch = _Batch(feed_rules, name)
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


def check_file(
    source: Source,
    *,
    name: str | None = None,
    rules: BuildConfig | None = None,
    max_errors: int | None = None,
    keep_projects: bool = False,
) -> FileReport:
    """Validate one file (a path, bytes or binary stream) and return its report.

    Args:
        source: The file.
        name: Its display name; by default the path or the stream's name.
        rules: Options of the business rules.
        max_errors: Stop after this many errors (the report is then marked incomplete).
        keep_projects: Record the Id and line of every Project (for per-project reports such as JUnit).

    Raises:
        UnreadableError: If the file cannot be opened or read.
    """
    label = name or source_name(source)
    report = FileReport(label)
    on_project = (lambda ident, line: report.projects.append((ident, line))) if keep_projects else None
    try:
        stream: IO[bytes]
        if isinstance(source, bytes):
            stream = io.BytesIO(source)
        elif isinstance(source, str | Path):
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        else:
            stream = source
        try:
            for issue in iter_file_issues(stream, name=label, rules=rules, on_project=on_project):
                report.issues.append(issue)
                if max_errors is not None and report.errors >= max_errors:
                    report.complete = False
                    break
        finally:
            if isinstance(source, str | Path):
                stream.close()
    except OSError as exc:
        raise UnreadableError([unreadable_issue(exc, label)]) from None
    return report


def check_files(
    paths: Sequence[str | Path],
    *,
    rules: BuildConfig | None = None,
    max_errors: int | None = None,
    keep_projects: bool = False,
) -> list[FileReport]:
    """Validate several files (``-`` is stdin) with one rule state per file and one error limit in all.

    Raises:
        UnreadableError: If a file cannot be opened or read.
    """
    reports: list[FileReport] = []
    remaining = max_errors
    for path in paths:
        source: Source = sys.stdin.buffer if str(path) == "-" else path
        name = "<stdin>" if str(path) == "-" else str(path)
        report = check_file(source, name=name, rules=rules, max_errors=remaining, keep_projects=keep_projects)
        reports.append(report)
        if remaining is not None:
            remaining -= report.errors
            if remaining <= 0:
                break
    return reports


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
