"""``xmlsync mapping init``: a commented profile template written from an input's header."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from xmlsync.fields import FLAT_FIELDS
from xmlsync.profile import Profile

_WORD = re.compile(r"[^0-9a-z]+")


def _key(text: str) -> str:
    return _WORD.sub("", text.lower())


def _guess(field: str, header: tuple[str, ...]) -> str | None:
    """Return the column whose name matches the field (``Offer.Id``, ``offer_id``, ``OfferId``...)."""
    full, short = _key(field), _key(field.split(".")[1])
    for column in header:
        if _key(column) == full:
            return column
    matches = [column for column in header if _key(column) == short]
    return matches[0] if len(matches) == 1 else None


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_NUMBER_FORMS = (  # a number as written -> (decimal separator, thousands separator or None if not shown)
    (re.compile(r"-?[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:,[0-9]+)?"), ",", " "),
    (re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+"), ",", "."),
    (re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+"), ".", ","),
    (re.compile(r"-?[0-9]+,(?:[0-9]{1,2}|[0-9]{4,})"), ",", None),  # not 1,250: thousands or a decimal comma?
)
# Dates as ERPs write them, tried on the sample's texts; YYYY-MM-DD needs no format.
_DATE_FORMS = (
    "%Y.%m.%d.",
    "%Y.%m.%d",
    "%Y.%m.%d. %H:%M",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
)


def sniff_locale(sample: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None, list[str]]:
    """Return the decimal separator, thousands separator and date formats the texts of ``sample`` show.

    ``None`` where the sample does not tell. Day-first and month-first dates that read the same texts are
    both left out: which one is meant cannot be known, and a wrong guess would swap days and months.
    """
    decimals: dict[str, int] = {}
    thousands: dict[str, int] = {}
    dated: dict[str, int] = {}
    for row in sample:
        for value in row.values():
            if not isinstance(value, str) or not value.strip():
                continue
            text = value.strip()
            for pattern, point, group in _NUMBER_FORMS:
                if pattern.fullmatch(text):
                    decimals[point] = decimals.get(point, 0) + 1
                    if group is not None:
                        thousands[group] = thousands.get(group, 0) + 1
                    break
            for form in _DATE_FORMS:
                try:
                    datetime.strptime(text, form)
                except ValueError:
                    continue
                dated[form] = dated.get(form, 0) + 1
    if "%d/%m/%Y" in dated and "%m/%d/%Y" in dated:
        day, month = dated.pop("%d/%m/%Y"), dated.pop("%m/%d/%Y")
        if day != month:  # only one of them reads every such text
            dated["%d/%m/%Y" if day > month else "%m/%d/%Y"] = max(day, month)
    decimal = max(decimals, key=decimals.__getitem__) if decimals else None
    grouping = max(thousands, key=thousands.__getitem__) if thousands else None
    if grouping == decimal:
        grouping = None
    return decimal, grouping, [form for form in _DATE_FORMS if form in dated]


def profile_template(
    header: tuple[str, ...], fmt: str, profile: Profile, sample: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """Return the TOML text of a profile for an input with ``header``, each field with its column or a TODO.

    The number and date formats are taken from the texts of ``sample`` (the first rows) where they show.
    """
    decimal, grouping, date_forms = sniff_locale(sample or [])
    lines = [
        "# xmlsync mapping profile, written by `xmlsync mapping init`.",
        "# Check it with `xmlsync mapping check PROFILE INPUT`; see the README for every key.",
        "",
        "[input]",
        f"format = {_toml(fmt)}",
    ]
    if fmt == "csv":
        encoding = "utf-8" if profile.encoding == "utf-8-sig" else profile.encoding
        lines += [
            f"encoding = {_toml(encoding)}   # utf-8, cp1250 or iso-8859-2",
            f"delimiter = {_toml(profile.delimiter)}",
        ]
    if profile.sheet is not None:
        lines.append(f"sheet = {_toml(profile.sheet)}")
    if profile.header_row != 1:
        lines.append(f"header_row = {profile.header_row}   # the row of the column names")
    if profile.skip_rows:
        lines.append(f"skip_rows = {profile.skip_rows}   # rows passed over after the header")
    if profile.footer is not None:
        lines.append(f"footer = {_toml(profile.footer)}   # the data ends before a row starting with this")
    found = "   # found in the first rows"
    lines += [
        "",
        "[locale]",
        f"decimal_separator = {_toml(decimal)}{found}"
        if decimal
        else '# decimal_separator = ","       # "." by default',
        f"thousands_separator = {_toml(grouping)}{found}"
        if grouping
        else '# thousands_separator = " "     # none by default',
        f"date_formats = {json.dumps(date_forms, ensure_ascii=False)}{found}"
        if date_forms
        else '# date_formats = ["%Y.%m.%d"]   # strptime formats tried after YYYY-MM-DD; none by default',
        "",
        "[ids]",
        'non_numeric = "hash"   # keys such as OF-2024/0017 get stable numeric Ids; "error" refuses them',
        "",
        "[columns]",
    ]
    used: set[str] = set()
    for name, spec in FLAT_FIELDS.items():
        column = _guess(name, header)
        need = "required" if spec.required else "optional"
        if column is not None and column not in used:
            used.add(column)
            lines.append(f"{_toml(name)} = {_toml(column)}   # {need}")
        else:
            lines.append(f'# {_toml(name)} = ""   # {need}: TODO')
    unused = [column for column in header if column not in used]
    if unused:
        lines += ["", "# Columns not mapped yet:"] + [f"#   {_toml(column)}" for column in unused]
    lines += [
        "",
        "[constants]",
        '# "Project.CategoryId" = 39',
        '# "Product.FolderName" = "ERP products"',
        "",
        '# [values."Offer.Status"]',
        '# "E" = "Accepted"',
        "",
        "# [countries]",
        '# fields = ["Customer.CountryId", "Business.CountryId"]',
        '# language = "hu"   # en, hu or ro',
    ]
    return "\n".join(lines) + "\n"
