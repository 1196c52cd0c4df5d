"""``xmlsync mapping init``: a commented profile template written from an input's header."""

from __future__ import annotations

import json
import re

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


def profile_template(header: tuple[str, ...], fmt: str, profile: Profile) -> str:
    """Return the TOML text of a profile for an input with ``header``, each field with its column or a TODO."""
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
    lines += [
        "",
        "[locale]",
        '# decimal_separator = ","       # "." by default',
        '# thousands_separator = " "     # none by default',
        '# date_formats = ["%Y.%m.%d"]   # strptime formats tried after YYYY-MM-DD; none by default',
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
