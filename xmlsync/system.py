"""Checks against what one MiniCRM system holds (:class:`~xmlsync.config.SystemSchema`, a file of ``xmlsync
minicrm schema``): a feed's cards, their status, user and custom fields, and its offers' own cards and statuses;
a profile's constants, value maps and custom fields; and what ``mapping init`` offers from it.

A field whose ids are all powers of two (two or more of them) is read as a multi-select, whose value is a sum
of them or a list of labels; any other map of values is a choice of one, by id or by label. MiniCRM answers
HTTP 500 for an enum value it does not know, and its API cannot create values: so they are checked here.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from xmlsync.config import SystemSchema
from xmlsync.errors import Issue, XmlSyncError
from xmlsync.feeds import Source, iter_projects, open_feed, source_name
from xmlsync.tree.fields import PROJECT_ELEMENTS
from xmlsync.tree.paths import element_line, element_path

_TEXT = re.compile(r"Text\((\d+)\)")
_INT = re.compile(r"-?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?")
_BOOLEAN = frozenset({"0", "1", "true", "false"})
_SHOWN = 8  # allowed values named in a message, the closest first


def _closest(value: str, allowed: Mapping[str, str]) -> str:
    labels = [f"{label} ({ident})" for ident, label in allowed.items()]
    near = difflib.get_close_matches(value, list(allowed.values()) + list(allowed), n=_SHOWN, cutoff=0.0)
    ordered = []
    for match in near:
        ident = match if match in allowed else next(i for i, label in allowed.items() if label == match)
        entry = f"{allowed[ident]} ({ident})"
        if entry not in ordered:
            ordered.append(entry)
    ordered += [label for label in labels if label not in ordered]
    shown = ", ".join(ordered[:_SHOWN])
    return shown + (f" and {len(ordered) - _SHOWN} more" if len(ordered) > _SHOWN else "")


def _powers(allowed: Mapping[str, str]) -> bool:
    """Return whether a map of values is a multi-select: two or more ids, each a power of two."""
    return len(allowed) > 1 and all(i.isdigit() and int(i) > 0 and int(i) & (int(i) - 1) == 0 for i in allowed)


def _value_problem(name: str, text: str, kind: Any, category: str) -> tuple[str, str] | None:
    """Return the code and message of what is wrong with a field's value for its type, if anything."""
    if isinstance(kind, dict):
        if _powers(kind):
            if text.isdigit():
                total = int(text)
                known = sum(int(i) for i in kind)
                if total & ~known == 0:
                    return None
            labels = [part.strip() for part in text.split(",") if part.strip()]
            by_label = set(kind.values())
            unknown = [label for label in labels if label not in by_label]
            if labels and not unknown:
                return None
            what = ", ".join(repr(u) for u in unknown) if unknown and not text.isdigit() else repr(text)
            message = (
                f"{what} is not a value of the multi-select <{name}> of category {category}: give a sum of its ids or"
                f" labels separated by commas; it has {_closest(text, kind)}"
            )
            return "unknown-value", message
        if text in kind or text in kind.values():
            return None
        word = {"StatusId": "status", "UserId": "user"}.get(name, f"value of <{name}>")
        return "unknown-value", f"{text!r} is not a {word} of category {category}; it has {_closest(text, kind)}"
    limit = _TEXT.fullmatch(kind)
    if limit is not None and len(text) > int(limit[1]):
        return "text-too-long", f"<{name}> holds {len(text):,} characters; MiniCRM's field takes at most {limit[1]}"
    if kind == "Int" and not _INT.fullmatch(text):
        return "wrong-field-type", f"<{name}> is a whole-number field (Int); {text!r} is not one"
    if kind in ("Date", "DateTime") and not _DATE.fullmatch(text):
        return "wrong-field-type", f"<{name}> is a {kind} field; {text!r} is not a date: write YYYY-MM-DD"
    if kind == "Boolean" and text.lower() not in _BOOLEAN:
        return "wrong-field-type", f"<{name}> is a yes/no field (Boolean); write 1 or 0, not {text!r}"
    if kind.startswith("File"):
        return "file-field", f"<{name}> is a file field ({kind}); XML Sync cannot upload files: leave it out"
    return None


_CARD = re.compile(r"^/Projects/Project\[[0-9]+\]")


def _at(el: etree._Element, index: int) -> tuple[str, int | None]:
    """Return the XPath and line of an element of the ``index``-th card (a streamed card has no elder siblings)."""
    return _CARD.sub(f"/Projects/Project[{index}]", element_path(el)), element_line(el)


def _card_issues(
    card: etree._Element,
    index: int,
    category: str,
    types: Mapping[str, Any],
    record: str,
    source: str | None,
    *,
    offer: bool = False,
) -> Iterator[Issue]:
    for child in card.iterchildren(etree.Element):
        name = str(child.tag)
        documented = name in PROJECT_ELEMENTS and not offer
        kind = types.get(name)
        if kind is None:
            if documented or len(child):
                continue
            near = difflib.get_close_matches(name, [n for n in types if n not in PROJECT_ELEMENTS], n=1)
            hint = f'; did you mean "{near[0]}"?' if near else ""
            message = f"<{name}> is not a field of category {category}{hint}"
            yield Issue("unknown-field", message, source, record, *_at(child, index))
            continue
        found = _value_problem(name, (child.text or "").strip(), kind, category)
        if found is not None:
            yield Issue(found[0], found[1], source, record, *_at(child, index))


def schema_issues(source: Source, schema: SystemSchema, *, name: str | None = None) -> Iterator[Issue]:
    """Yield what this system would refuse in a feed: its cards' status, user and fields, its offers' own
    cards and statuses, checked against ``schema`` (one pass, a project at a time).

    Raises:
        ValidationError: If the file is not a feed that can be read.
    """
    label = name or source_name(source)
    for index, project in enumerate(iter_projects(source, label), start=1):
        yield from project_schema_issues(project, index, schema, label)


def project_schema_issues(
    project: etree._Element, index: int, schema: SystemSchema, source: str | None
) -> Iterator[Issue]:
    """Yield what the system would refuse of one ``<Project>``, the ``index``-th of its feed (or batch)."""
    record = f"Project {project.get('Id')}"
    category = (project.findtext("CategoryId") or "").strip()
    types = schema.fields.get(category)
    if types is None:
        if category:
            message = (
                f"category {category} is not in the schema file; fetch it too: xmlsync minicrm schema"
                f" {category} -o FILE"
            )
            place = project.find("CategoryId")
            at = place if place is not None else project
            yield Issue("unknown-category", message, source, record, *_at(at, index), severity="warning")
        return
    yield from _card_issues(project, index, category, types, record, source)
    offers = schema.offer_category
    offer_types = schema.fields.get(offers) if offers else None
    if offers is None or offer_types is None:
        return
    for offer in project.iterfind("Offers/Offer"):
        where = f"{record} > Offer {offer.get('Id')}"
        status = offer.find("Status")
        if status is not None and isinstance(offer_types.get("StatusId"), dict):
            found = _value_problem("StatusId", (status.text or "").strip(), offer_types["StatusId"], offers)
            if found is not None:
                yield Issue(found[0], found[1], source, where, *_at(status, index))
        own = offer.find("Project")
        if own is not None:
            yield from _card_issues(own, index, offers, offer_types, where, source, offer=True)


def with_schema_issues(issues: list[Issue], source: Source, schema: SystemSchema, name: str) -> list[Issue]:
    """Return a file's issues with those of :func:`schema_issues`, in file order (a feed that cannot be read
    already has its one issue)."""
    try:
        if isinstance(source, str | Path):
            with open_feed(source) as feed:
                extra = list(schema_issues(feed, schema, name=name))
        else:
            extra = list(schema_issues(source, schema, name=name))
    except (XmlSyncError, OSError, EOFError):  # the file's one problem is already its issue
        return issues
    return sorted([*issues, *extra], key=lambda issue: issue.line or 0)


# -- profiles: which field of a profile reads which of the system's facts ---------------------------------------

_PROFILE_FIELDS = {"Project.StatusId": ("card", "StatusId"), "Project.UserId": ("card", "UserId"),
                   "Offer.Status": ("offer", "StatusId")}  # fmt: skip
_CUSTOM = {"Project.Fields.": "card", "Offer.Project.": "offer"}
# Fields every card has, which MiniCRM keeps itself (its REST schema lists them beside the custom ones): checked
# when a feed writes them, not offered to a profile.
_SYSTEM_FIELDS = frozenset({"Id", "ReferenceId", "CategoryId", "ContactId", "BusinessId", "Name", "StatusId",
                            "StatusUpdatedAt", "IsPrivate", "Invited", "Deleted", "CreatedBy", "CreatedAt",
                            "UpdatedBy", "UpdatedAt", "Url"})  # fmt: skip


def card_categories(schema: SystemSchema, constant: Any = None) -> list[str]:
    """Return the card categories a profile's records go to: its ``Project.CategoryId`` constant if it has one,
    else every category of the file but the offer cards'."""
    if constant is not None:
        return [str(constant)]
    return [category for category in schema.fields if category != schema.offer_category]


def field_kind(schema: SystemSchema, name: str, category: str) -> tuple[str, str, Any] | None:
    """Return (category, field, type or allowed values) that a profile's field ``name`` is checked by, if any:
    ``Project.StatusId`` and ``Project.UserId`` by the card category, ``Offer.Status`` by the offer category's
    ``StatusId``, ``Project.Fields.X`` and ``Offer.Project.X`` by field X of their category."""
    where, field_name = _PROFILE_FIELDS.get(name, (None, None))
    for prefix, holder in _CUSTOM.items():
        if name.startswith(prefix):
            where, field_name = holder, name[len(prefix) :]
    if where is None or field_name is None:
        return None
    category_id = category if where == "card" else schema.offer_category
    types = schema.fields.get(category_id) if category_id else None
    if category_id is None or types is None:
        return None
    return category_id, field_name, types.get(field_name)


def profile_schema_issues(
    schema: SystemSchema, columns: Mapping[str, str], constants: Mapping[str, Any],
    values: Mapping[str, Mapping[str, str]], source: str | None,
) -> list[Issue]:  # fmt: skip
    """Return what the system would refuse of a profile: a custom field it does not have, a constant or a value
    map's MiniCRM value that is not one of a field's allowed values or not of its type."""
    issues: list[Issue] = []
    for category in card_categories(schema, constants.get("Project.CategoryId")):
        for section, names in (("columns", columns), ("constants", constants), ("values", values)):
            for name in names:
                found = field_kind(schema, name, category)
                if found is None:
                    continue
                category_id, field_name, kind = found
                if kind is None:
                    known = [n for n in schema.fields[category_id] if n not in PROJECT_ELEMENTS]
                    near = difflib.get_close_matches(field_name, known, n=1)
                    hint = f'; did you mean "{near[0]}"?' if near else ""
                    message = f"{field_name} is not a field of category {category_id}{hint}"
                    issues.append(Issue("unknown-field", message, source, path=f"{section}.{name}"))
                    continue
                given = {"": str(constants[name])} if section == "constants" else {}
                given |= (
                    {f".{json.dumps(k, ensure_ascii=False)}": v for k, v in values[name].items()}
                    if section == "values"
                    else {}
                )
                for key, text in given.items():
                    problem = _value_problem(field_name, text.strip(), kind, category_id)
                    if problem is not None:
                        issues.append(Issue(problem[0], problem[1], source, path=f"{section}.{name}{key}"))
    return issues


def template_lines(schema: SystemSchema, columns: Mapping[str, str], sample: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the lines ``mapping init --minicrm-schema`` adds to a profile: a value map per field with allowed
    values (the ERP values of its column in the first rows, each with the system's id where its label or id is
    that value, else a TODO naming the closest), then the custom fields a profile may map."""
    lines: list[str] = []
    categories = card_categories(schema)
    if len(categories) != 1:
        listed = ", ".join(f"{c} {schema.categories.get(c, '')}".strip() for c in categories) or "none"
        return ["", f"# The schema file holds the card categories {listed}: set [constants] \"Project.CategoryId\"",
                "# and run mapping init again to get the value maps of that category."]  # fmt: skip
    [category] = categories
    for name in dict.fromkeys((*_PROFILE_FIELDS, *columns)):
        found = field_kind(schema, name, category)
        if found is None or not isinstance(found[2], dict):
            continue
        category_id, _, allowed = found
        offered = ", ".join(f"{ident} {label}" for ident, label in allowed.items())
        column = columns.get(name)
        if column is None:
            lines += ["", f"# {name}: category {category_id} has {offered}; set it in [constants] or map a column"]
            continue
        lines += ["", f'[values."{name}"]   # ERP value = MiniCRM id; category {category_id} has: {offered}']
        seen = [text for text in dict.fromkeys(str(row.get(column) or "").strip() for row in sample) if text]
        for text in seen[: _SHOWN * 4]:
            key = json.dumps(text, ensure_ascii=False)
            ident = text if text in allowed else next((i for i, label in allowed.items() if label == text), None)
            if ident is not None:
                lines.append(f"{key} = {json.dumps(ident)}   # {allowed[ident]}")
            else:
                lines.append(f'# {key} = ""   # TODO: which? the closest is {_closest(text, allowed).split(", ")[0]}')
        if not seen:
            lines.append(f'# "ERP value" = "{next(iter(allowed))}"   # the first rows of {column!r} are empty')
    for prefix, holder in _CUSTOM.items():
        held = category if holder == "card" else schema.offer_category
        kept = _SYSTEM_FIELDS | (PROJECT_ELEMENTS if holder == "card" else frozenset())  # the offer card's UserId
        types = schema.fields.get(held) or {} if held else {}
        custom = {n: k for n, k in types.items() if n not in kept and not str(k).startswith("File")}  # no upload
        if not custom:
            continue
        lines += ["", f"# Custom fields of category {held} a profile may map in [columns] or [constants]:"]
        for field_name, kind in custom.items():
            shown = f"one of {', '.join(list(kind.values())[:_SHOWN])}" if isinstance(kind, dict) else kind
            lines.append(f'#   "{prefix}{field_name}"   # {shown}')
    return lines
