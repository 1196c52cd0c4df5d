"""Map and normalise: one walk of a record (a dict keyed like the XML tree) along the field table.

:func:`walk` goes through the record and :data:`~xmlsync.tree.fields.PROJECT` side by side, once. Each value
is read by its kind (:mod:`xmlsync.tree.kinds`) into the canonical text of the feed; a bad one becomes an
:class:`~xmlsync.errors.Issue` naming the record and the field, and the walk goes on, so every problem of
a record is reported at once (or, with ``first_only``, the walk stops at the first). What it read, the
:class:`Walked` values, is written by :mod:`xmlsync.builder` or made into a typed
:class:`~xmlsync.tree.records.Project` by :func:`project_from_dict`. Clean and dirty records take the same walk.
"""

from __future__ import annotations

import collections
import difflib
from collections.abc import Callable, Container, Mapping
from dataclasses import replace
from typing import Any

from xmlsync import compiled
from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue
from xmlsync.rules import RecordRule, rules_of
from xmlsync.tree.fields import OFFER, ORDER, PRODUCT, PROJECT, Custom, Leaf, Node, Values
from xmlsync.tree.kinds import TEXT, Odd, Problem, custom_fields, describe
from xmlsync.tree.records import Project

# What the walk read of one record: its Id's text and, per child field in table order, the value read:
# a text (Leaf), ``(Id, values)`` (Node), a list of those (list Node), a list of texts (Values), a list of
# (name, text) pairs (Custom), or ``None`` for an element left out.
Walked = tuple[str | None, list[Any]]


def field_value(walked: Walked, node: Node, tag: str) -> Any:
    """Return what the walk read of the child ``tag`` of a record of ``node``: reached by field, not by place
    (``field_value(project, PROJECT, "Offers")`` is the list of its walked offers)."""
    return walked[1][node.order[tag]]


def rule_values(node: Node, rule: RecordRule, values: list[Any]) -> list[Any]:
    """Return the values ``rule`` reads of a walked record's ``values`` (see :class:`~xmlsync.rules.RecordRule`)."""
    found = []
    for tag in rule.reads:
        field = node.by_tag[tag]
        value = values[node.order[tag]]
        if isinstance(field, Node):
            value = value is not None if field.item is None else len(value or ())
        found.append(value)
    return found


class _Stop(Exception):
    """The first problem was found and the walk stops (``first_only``)."""


class _Walk:
    """Walks one record, collecting an issue for every bad field."""

    def __init__(self, source: str | None, config: BuildConfig, first_only: bool) -> None:
        self.source = source
        self.config = config
        self.first_only = first_only
        self.record: str | None = None
        self.issues: list[Issue] = []

    def report(self, path: str, code: str, message: str) -> None:
        self.issues.append(Issue(code=code, message=message, source=self.source, record=self.record, path=path))
        if self.first_only:
            raise _Stop

    def node(self, obj: Any, node: Node, path: str) -> Walked | None:
        if not isinstance(obj, Mapping):
            self.report(path, "wrong-type", f"expected an object, got {describe(obj)}")
            return None
        at = f"{path}." if path else ""
        ident = None
        if node.ident is not None:
            ident = self.leaf(obj.get("Id"), "Id", node.ident, node.ident_required, at)
            if node is PROJECT and ident is not None:
                self.record = f"Project {ident}"
        if not node.key_set.issuperset(obj):
            self.unknown(obj, node, at)
        values: list[Any] = []
        for child in node.children:
            raw = obj.get(child.tag)
            kind = type(child)
            if kind is Leaf:
                values.append(self.leaf(raw, child.tag, child.kind, child.required, at))  # type: ignore[union-attr]
            elif kind is Node:
                values.append(self.child(raw, child, at))  # type: ignore[arg-type]
            elif kind is Values:
                values.append(self.values(raw, child, at))  # type: ignore[arg-type]
            else:
                values.append(self.custom(raw, child, at))  # type: ignore[arg-type]
        for rule in rules_of(node):  # the record's errors; its warnings are the tree check's
            if rule.severity != "error":
                continue
            message = rule.broken(*rule_values(node, rule, values))
            if message is not None:
                self.report(f"{at}{rule.at}" if rule.at else path, rule.code, message)
        return ident, values

    def leaf(self, value: Any, tag: str, kind: Any, required: bool, at: str) -> str | None:
        if value is None:
            if required:
                self.report(f"{at}{tag}", "missing-field", f'missing required field "{tag}"; add it to the record')
            return None
        try:
            text: str | None = kind.read(value, self.config)
        except Problem as problem:
            self.report(f"{at}{tag}", problem.code, problem.message)
            return None
        return text

    def unknown(self, obj: Mapping[str, Any], node: Node, at: str) -> None:
        for key in obj:
            if key not in node.key_set:
                close = difflib.get_close_matches(str(key), node.keys, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else f"; known fields: {', '.join(node.keys)}"
                self.report(f"{at}{key}", "unknown-field", f'unknown field "{key}"{hint}')

    def items(self, value: Any, tag: str, required: bool, at: str) -> list[Any] | tuple[Any, ...]:
        if value is None:
            if required:
                self.report(
                    f"{at}{tag}", "missing-field", f'missing required field "{tag}"; add a list with at least one item'
                )
            return ()
        if not isinstance(value, list | tuple):
            self.report(f"{at}{tag}", "wrong-type", f"expected a list, got {describe(value)}")
            return ()
        if required and not value:
            self.report(f"{at}{tag}", "empty-list", f'"{tag}" must hold at least one item')
        return value

    def child(self, raw: Any, node: Node, at: str) -> Any:
        if node.item is None:
            if raw is None:
                if node.required:
                    self.report(
                        f"{at}{node.tag}", "missing-field", f'missing required field "{node.tag}"; add it to the record'
                    )
                return None
            return self.node(raw, node, f"{at}{node.tag}")
        items = self.items(raw, node.tag, node.required, at)
        found = [self.node(item, node, f"{at}{node.tag}[{i}]") for i, item in enumerate(items, start=1)]
        return [walked for walked in found if walked is not None]

    def values(self, raw: Any, field: Values, at: str) -> list[str]:
        texts: list[str] = []
        for i, item in enumerate(self.items(raw, field.tag, False, at), start=1):
            try:
                texts.append(TEXT.read(item, self.config) or "")
            except Problem as problem:
                self.report(f"{at}{field.tag}[{i}]", problem.code, problem.message)
        return texts

    def custom(self, raw: Any, field: Custom, at: str) -> list[tuple[str, str]] | None:
        if raw is None:
            return None
        try:
            return custom_fields(raw, field.reserved, self.config)
        except Problem as problem:
            self.report(f"{at}{field.tag}", problem.code, problem.message)
            return None


# -- the first try --------------------------------------------------------------------------------------
#
# Most records of a feed are plainly right. For them, the walk's first try is generated from the field table
# and the rule table (:func:`xmlsync.compiled.first_try`): the same kinds' ``read`` and the same rules, with
# no issue built. A record it cannot vouch for takes the full walk above, which reports each problem.

_FIRST_TRY = compiled.first_try(PROJECT)


def _any(tag: str, text: str) -> bool:
    return True


_NOTHING_KNOWN: Mapping[str, Container[str]] = collections.defaultdict(frozenset)


def first_try(
    data: Any,
    config: BuildConfig,
    good: Callable[[str, str], bool] = _any,
    known: Mapping[str, Container[str]] = _NOTHING_KNOWN,
) -> Walked | None:
    """Return what the walk reads of a plainly right record, or ``None``: then :func:`walk` says what is odd.

    ``good(tag, text)`` may vouch for the values the rules read (:meth:`~xmlsync.rules.Checker.good`): a
    record with one it does not vouch for is then not plainly right either. ``known`` holds, by tag, texts
    it vouched for already (:attr:`~xmlsync.rules.Checker.known`), which are not asked again.
    """
    try:
        read: Walked = _FIRST_TRY(data, config, good, known)
    except (Odd, Problem):
        return None
    return read


def walk(
    data: Any,
    *,
    source: str | None = None,
    config: BuildConfig | None = None,
    first_only: bool = False,
    fast: bool = True,
) -> tuple[Walked | None, list[Issue]]:
    """Walk one project record; return what was read (``None`` if anything was wrong) and every issue.

    Args:
        data: The record, e.g. one item of the JSON input list.
        source: Where it came from (``offers.json:[3]``), used in messages.
        config: Normalisation options; the defaults are documented on :class:`BuildConfig`.
        first_only: Stop at the first problem (one issue at most).
        fast: Take the first try (:func:`first_try`) before the full walk; ``False`` takes the full walk alone
            (the same result, slower).
    """
    config = config or BuildConfig()
    read = first_try(data, config) if fast else None
    if read is not None:
        return read, []
    walker = _Walk(source, config, first_only)
    try:
        walked = walker.node(data, PROJECT, "")
    except _Stop:
        walked = None
    return (None if walker.issues else walked), walker.issues


def counts(walked: Walked) -> tuple[int, int]:
    """Return how many offers (and orders) and product lines a walked project holds."""
    documents = [(document, node) for node in (OFFER, ORDER) for document in field_value(walked, PROJECT, node.tag)]
    return len(documents), sum(len(field_value(document, node, PRODUCT.tag)) for document, node in documents)


def typed(walked: Walked, node: Node = PROJECT) -> Any:
    """Return the typed record (:mod:`xmlsync.tree.records`) of what the walk read."""
    ident, values = walked
    kwargs: dict[str, Any] = {}
    if node.ident is not None and ident is not None:
        kwargs["id"] = node.ident.typed(ident)
    for child, value in zip(node.children, values, strict=True):
        if isinstance(child, Leaf):
            kwargs[child.attr] = None if value is None else child.kind.typed(value)
        elif isinstance(child, Values):
            kwargs[child.attr] = tuple(child.record(text) for text in value)
        elif isinstance(child, Custom):
            kwargs[child.attr] = tuple(value or ())
        elif child.item is None:
            kwargs[child.attr] = None if value is None else typed(value, child)
        else:
            kwargs[child.attr] = tuple(typed(item, child) for item in value)
    return node.record(**kwargs)


def as_record(project: Project) -> dict[str, Any]:
    """Return a typed :class:`Project` as the record dict the walk reads (the way typed records are built)."""
    return _record_of(project, PROJECT)


def _record_of(obj: Any, node: Node) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if node.ident is not None:
        record["Id"] = obj.id
    for child in node.children:
        value = getattr(obj, child.attr)
        if isinstance(child, Values):
            record[child.tag] = [item.value for item in value]
        elif isinstance(child, Custom):
            record[child.tag] = dict(value) if value else None
        elif isinstance(child, Node) and child.item is None:
            record[child.tag] = None if value is None else _record_of(value, child)
        elif isinstance(child, Node):
            record[child.tag] = [_record_of(item, child) for item in value]
        else:
            record[child.tag] = value
    return record


def project_from_dict(data: Any, *, source: str | None = None, config: BuildConfig | None = None) -> Project:
    """Convert one project record (a dict keyed like the XML tree) to a :class:`Project`.

    Args:
        data: The record, e.g. one item of the JSON input list.
        source: Where it came from (``offers.json:[3]``), used in messages.
        config: Normalisation options; the defaults are documented on :class:`BuildConfig`.

    Raises:
        InputError: With one issue per bad field.
    """
    walked, issues = walk(data, source=source, config=config)
    if walked is None:
        raise InputError(issues)
    project: Project = typed(walked)
    return project if source is None else replace(project, source=source)
