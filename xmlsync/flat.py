"""Map and normalise flat rows (one product line per row) into nested project records.

Readers of flat inputs (CSV, XLSX, SQL) yield :class:`Row` items; :func:`group_rows` normalises each value
as the profile says (decimal comma, local dates, value maps, country codes, stable Ids) and groups
contiguous rows into Project -> Offer -> Products. The records it yields have the shape of the JSON input
and go on to :mod:`xmlsync.mapping`.

Rows of one project, and of one offer within it, must be contiguous (sort the export by project and offer
key): this keeps memory flat however long the input is, and a key that comes back later is reported as an
error naming both rows, never merged silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from xmlsync.countries import COUNTRIES, LANGUAGES, country_name
from xmlsync.errors import Issue
from xmlsync.mapping import MAX_ID, TOO_MANY_DIGITS, fits
from xmlsync.profile import FIELDS, FieldSpec, Profile, spec_of
from xmlsync.readers.base import RawRecord, Row
from xmlsync.seen import Place, SeenIds

# Hashed Ids live above this offset, away from the small numeric keys ERPs use.
HASH_OFFSET = 10**12
_HASH_BYTES = 7
_DIGITS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NUMERIC = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # a number, if not a whole one
_ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
MEMO_VALUES = 10_000  # distinct (field, raw value) conversions remembered by a RowGrouper
_LEVELS = {
    "Project": "project",
    "Business": "project",
    "Contact": "contact",
    "Offer": "offer",
    "Customer": "offer",
    "Product": "product",
}


def stable_id(entity: str, key: str) -> int:
    """Return the stable integer Id of a non-numeric key: ``10**12`` + the first 7 bytes of SHA-256.

    The same key always gives the same Id, on every run and machine; ``entity`` (``Project``, ``Offer``...)
    keeps equal keys of different record kinds apart.
    """
    digest = hashlib.sha256(f"{entity}:{key}".encode()).digest()
    return HASH_OFFSET + int.from_bytes(digest[:_HASH_BYTES], "big")


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Group:
    """The project being assembled from contiguous rows."""

    key: int
    first: str
    last: str
    record: dict[str, Any]
    values: dict[str, tuple[Any, str]]
    offers: dict[int, dict[str, Any]] = field(default_factory=dict)
    offer_values: dict[int, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    products: dict[int, dict[int, str]] = field(default_factory=dict)
    current_offer: int | None = None
    issues: list[Issue] = field(default_factory=list)
    rows: int = 0


class RowGrouper:
    """Normalises rows and groups them into project records.

    Args:
        profile: How columns map to fields and how values are written.
        header: The input's columns, to tell which fields are mapped.
    """

    def __init__(self, profile: Profile, header: tuple[str, ...]) -> None:
        self.profile = profile
        self.fields = profile.mapped_fields(header)
        # Keys seen so far (hashed Ids, projects done, offers and their project), in bounded memory.
        self._seen = SeenIds()
        columns = [(name, column, spec) for name, column in self.fields.items() if (spec := spec_of(name))]
        # Columns of the project, offer and contact repeat on every product line of a record.
        self._columns = [(name, column, spec, not name.startswith("Product.")) for name, column, spec in columns]
        self._repeated = [column for name, column, _, repeated in self._columns if repeated]
        self._last_repeated: tuple[Any, ...] | None = None
        self._last_values: dict[str, Any] = {}
        self._memo: dict[tuple[str, Any], Any] = {}
        self._constants: dict[str, Any] = dict(profile.constants)
        self._constant_issues: list[Issue] = []
        for name, value in profile.constants.items():
            spec = spec_of(name)
            if spec is None:
                continue
            try:
                self._constants[name] = self._convert(name, spec, value)
            except _Bad as bad:
                self._constant_issues.append(
                    Issue(bad.code, bad.message, source=profile.source, path=f"constants.{name}")
                )
        names = list(dict.fromkeys([*profile.constants, *self.fields]))
        self._project_names = [n for n in names if _LEVELS.get(n.split(".")[0]) == "project"]
        self._offer_names = [n for n in names if _LEVELS.get(n.split(".")[0]) == "offer"]
        self._product_names = [(n, n.split(".", 1)[1]) for n in names if n.startswith("Product.")]

    # -- values --------------------------------------------------------------------------------

    def convert(self, name: str, spec: FieldSpec, raw: Any) -> Any:
        """Return the normalised value of field ``name`` (``None`` when empty); raise ``_Bad``.

        Results are remembered for the last :data:`MEMO_VALUES` distinct values: the project and offer
        columns repeat on every product line, and dates, units and rates repeat across the export.
        """
        key = (name, raw)
        try:
            known = self._memo[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (never from our readers): no memo
            return self._convert(name, spec, raw)
        else:
            if isinstance(known, _Bad):
                raise known
            return known
        if len(self._memo) >= MEMO_VALUES:
            self._memo.clear()
        try:
            value = self._memo[key] = self._convert(name, spec, raw)
        except _Bad as bad:
            self._memo[key] = bad
            raise
        return value

    def _convert(self, name: str, spec: FieldSpec, raw: Any) -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bytes | bytearray | memoryview):
            raise _Bad(
                "wrong-type",
                "is binary data (a BLOB), which a feed cannot hold; CAST the column to text in the query",
            )
        text = raw.strip() if isinstance(raw, str) else raw
        mapped = self.profile.values.get(name)
        if mapped is not None and str(text) in mapped:
            return mapped[str(text)]
        if name in self.profile.country_fields:
            return self.country(str(text))
        kind = spec.kind
        if kind == "id":
            return self.ident(name.split(".")[0], text)
        if kind == "number":
            return self.number(text)
        if kind == "decimal":
            return self.decimal(text)
        if kind == "date":
            return self.when(text)
        if kind == "vat" and isinstance(text, str):
            return text.replace(",", ".") if self.profile.decimal_separator == "," else text
        if kind == "vat":
            return self.decimal(text)
        return _as_text(text)

    def country(self, value: str) -> str:
        language = self.profile.country_language
        name = country_name(value, language) if len(value) == 2 else None
        if name is not None:
            return name
        index = LANGUAGES.index(language)
        if any(names[index] == value for names in COUNTRIES.values()):
            return value
        raise _Bad(
            "unknown-country",
            f"{value!r} is not a known ISO country code; use a code such as HU or RO, or map it under"
            f' [values."...CountryId"]',
        )

    def ident(self, entity: str, value: Any) -> int:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            exact = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
            if exact.is_finite() and exact == exact.to_integral_value() and 0 <= exact <= MAX_ID:
                return int(exact)
            raise _Bad(
                "invalid-id", f"{_show(value)} is not a valid Id; MiniCRM needs a whole number from 0 to {MAX_ID}"
            )
        text = str(value).strip()
        if _DIGITS.fullmatch(text):
            if len(text.lstrip("0")) < 20 and int(text) <= MAX_ID:
                return int(text)
            raise _Bad("invalid-id", f"{_show(text)} is out of range; an Id must be between 0 and {MAX_ID}")
        if _NUMERIC.fullmatch(text):
            raise _Bad(
                "invalid-id",
                f"{_show(text)} is a number but not a valid Id (a whole number from 0 to {MAX_ID}); fix the key"
                " in the source (hashing it would make a new Id)",
            )
        if self.profile.non_numeric_ids != "hash":
            raise _Bad("invalid-id", f"{text!r} is not a whole number; MiniCRM needs numeric Ids")
        number = stable_id(entity, text)
        known = self._seen.first(f"id:{entity}", str(number), Place(text, None, None))
        if known is not None and known.path != text:
            raise _Bad(
                "id-collision", f"{text!r} and {known.path!r} map to the same {entity} Id {number}; rename one key"
            )
        return number

    def number(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_ID:
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_ID:
            return int(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value.lstrip("0")) < 20:
            return int(value)
        raise _Bad("invalid-number", f"{_show(value)} is not a whole number up to {MAX_ID}")

    def decimal(self, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise _Bad("invalid-number", f"{value!r} is not a number")
        if isinstance(value, int | Decimal | float):
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            if not number.is_finite():
                raise _Bad("invalid-number", f"{_show(value)} is not a number")
            if not fits(number):
                raise _Bad("invalid-number", f"{_show(value)} {TOO_MANY_DIGITS}")
            return number
        text = str(value)
        cleaned = text
        thousands = self.profile.thousands_separator
        if thousands:
            separators = (thousands, "\u00a0", "\u202f") if thousands == " " else (thousands,)
            for sep in separators:
                cleaned = cleaned.replace(sep, "")
        if self.profile.decimal_separator == ",":
            if "." in cleaned:
                raise _Bad("invalid-number", f"{text!r} has a '.', but the profile's decimal separator is ','")
            cleaned = cleaned.replace(",", ".")
        if not _NUMBER.fullmatch(cleaned):
            expected = "1 250,50" if self.profile.decimal_separator == "," else "1250.50"
            raise _Bad("invalid-number", f"{text!r} is not a number in the profile's format, e.g. {expected}")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:  # pragma: no cover - the pattern excludes it
            raise _Bad("invalid-number", f"{text!r} is not a number") from None
        if not fits(number):
            raise _Bad("invalid-number", f"{_show(text)} {TOO_MANY_DIGITS}")
        return number

    def when(self, value: Any) -> date | datetime:
        if isinstance(value, datetime):
            return value.replace(microsecond=0)
        if isinstance(value, date):
            return value
        text = str(value)
        for fmt in _ISO_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return parsed if "%H" in fmt else parsed.date()
        found: dict[datetime, str] = {}
        for fmt in self.profile.date_formats:
            try:
                found.setdefault(datetime.strptime(text, fmt), fmt)
            except ValueError:
                continue
        if len(found) > 1:
            formats = " and ".join(sorted(found.values()))
            raise _Bad("ambiguous-date", f"{text!r} reads differently with {formats}; keep one date format")
        if found:
            (parsed, fmt), *_ = found.items()
            return parsed if any(code in fmt for code in ("%H", "%I", "%M")) else parsed.date()
        hint = (
            f"the profile's formats are {', '.join(self.profile.date_formats)}"
            if self.profile.date_formats
            else 'use YYYY-MM-DD or set [locale] date_formats, e.g. ["%d.%m.%Y"]'
        )
        raise _Bad("invalid-date", f"{text!r} is not a date in a known format; {hint}")

    # -- rows ----------------------------------------------------------------------------------

    def normalise(self, row: Row) -> tuple[dict[str, Any], list[Issue], bool]:
        """Return field -> value for one row, the issues of its bad values, and whether it repeats.

        A row *repeats* when its project, offer and contact columns hold the same raw values as the row
        before, which were all good: their values are taken over, and only the product columns converted.
        """
        raw = row.values
        repeated = tuple(raw.get(column) for column in self._repeated)
        repeat = repeated == self._last_repeated
        values: dict[str, Any] = {**self._constants, **self._last_values} if repeat else dict(self._constants)
        issues: list[Issue] = []
        clean = True
        for name, column, spec, is_repeated in self._columns:
            if repeat and is_repeated:
                continue
            try:
                value = values[name] = self.convert(name, spec, raw.get(column))
            except _Bad as bad:
                issues.append(Issue(bad.code, bad.message, source=row.source, path=f"{column} -> {name}"))
                values[name] = None
                clean = clean and not is_repeated
                continue
            if value is None and spec.required:
                issues.append(
                    Issue(
                        "empty-value",
                        f"{name} is empty; every row needs it",
                        source=row.source,
                        path=f"{column} -> {name}",
                    )
                )
                clean = clean and not is_repeated
        if not repeat:
            self._last_repeated = repeated if clean else None
            self._last_values = {name: values[name] for name, _, _, is_repeated in self._columns if is_repeated}
        issues.extend(self._constant_issues)
        return values, issues, repeat

    def group(self, rows: Iterable[Row]) -> Iterator[RawRecord]:
        """Yield one record per project, in input order; rows with problems put issues on their record."""
        try:
            yield from self._group(rows)
        finally:
            self._seen.close()

    def _group(self, rows: Iterable[Row]) -> Iterator[RawRecord]:
        group: _Group | None = None
        for row in rows:
            if row.issues:
                yield RawRecord(None, row.source, row.issues)
                continue
            values, issues, repeat = self.normalise(row)
            project_key = values.get("Project.Id")
            if project_key is None:
                yield RawRecord(None, row.source, tuple(issues), rows=1)
                continue
            if group is None or group.key != project_key:
                if group is not None:
                    yield self._finish(group)
                group = self._start(project_key, row, values)
                done = self._seen.get("project", str(project_key))
                if done is not None:
                    issues.append(
                        Issue(
                            "rows-not-together",
                            f"Project {project_key} comes back here, but its rows were at"
                            f" {done.path}; sort the export by project and offer key",
                            source=row.source,
                            path="Project.Id",
                        )
                    )
            group.rows += 1
            group.last = row.source
            group.issues.extend(issues)
            self._add_row(group, row, values, repeat)
        if group is not None:
            yield self._finish(group)

    def _start(self, key: int, row: Row, values: dict[str, Any]) -> _Group:
        record: dict[str, Any] = {"Contacts": [], "Offers": [], "Fields": {}}
        return _Group(key=key, first=row.source, last=row.source, record=record, values={})

    def _agree(
        self,
        seen: dict[str, tuple[Any, str]],
        name: str,
        value: Any,
        row: Row,
        issues: list[Issue],
        what: str,
    ) -> None:
        if value is None:
            return
        first = seen.setdefault(name, (value, row.source))
        if first[0] != value:
            issues.append(
                Issue(
                    "conflicting-rows",
                    f"{name} is {_show(value)} here but {_show(first[0])} at {first[1]} for the same {what};"
                    " rows of one record must agree",
                    source=row.source,
                    path=f"{self.fields.get(name, name)} -> {name}",
                )
            )

    def _add_row(self, group: _Group, row: Row, values: dict[str, Any], repeat: bool) -> None:
        """Add a row's values to its project; a repeating row (see :meth:`normalise`) agrees by definition."""
        issues = group.issues
        if not repeat:
            for name in self._project_names:
                self._agree(group.values, name, values.get(name), row, issues, f"Project {group.key}")
            contact = _contact(values)
            if contact and contact not in group.record["Contacts"]:
                group.record["Contacts"].append(contact)
        offer_key = values.get("Offer.Id")
        if offer_key is None:
            return
        if offer_key not in group.offers:
            owner = self._seen.first("offer", str(offer_key), Place(str(group.key), None, row.source))
            if owner is not None and owner.path != str(group.key):
                issues.append(
                    Issue(
                        "duplicate-offer-id",
                        f"Offer {offer_key} is used again; first for Project {owner.path} at {owner.source}; give"
                        " each offer its own Id",
                        source=row.source,
                        path=f"{self.fields.get('Offer.Id', 'Offer.Id')} -> Offer.Id",
                    )
                )
            group.offers[offer_key] = {"Products": []}
            group.offer_values[offer_key] = {}
            group.products[offer_key] = {}
        elif group.current_offer != offer_key:
            issues.append(
                Issue(
                    "rows-not-together",
                    f"Offer {offer_key} comes back here after another offer; sort the export by project and offer key",
                    source=row.source,
                    path=f"{self.fields.get('Offer.Id', 'Offer.Id')} -> Offer.Id",
                )
            )
        group.current_offer = offer_key
        seen = group.offer_values[offer_key]
        for name in self._offer_names if not repeat else ():
            self._agree(seen, name, values.get(name), row, issues, f"Offer {offer_key}")
        product = {key: value for name, key in self._product_names if (value := values.get(name)) is not None}
        product_key = values.get("Product.Id")
        if product_key is not None:
            first = group.products[offer_key].setdefault(product_key, row.source)
            if first != row.source:
                issues.append(
                    Issue(
                        "duplicate-product-id",
                        f"Product {product_key} is already a line of Offer {offer_key} at {first}; merge the lines or"
                        " give them different Ids",
                        source=row.source,
                        path=f"{self.fields.get('Product.Id', 'Product.Id')} -> Product.Id",
                    )
                )
        group.offers[offer_key]["Products"].append(product)

    def _finish(self, group: _Group) -> RawRecord:
        self._seen.first("project", str(group.key), Place(_span(group.first, group.last), None, None))
        values = {name: value for name, (value, _) in group.values.items()}
        record = group.record
        for name, value in values.items():
            prefix, _, key = name.partition(".")
            if prefix == "Project" and key.startswith("Fields."):
                record["Fields"][key.split(".", 1)[1]] = value
            elif prefix == "Project":
                record[key] = value
        business = {k: v for k, v in values.items() if k.startswith("Business.")}
        if business:
            record["Business"] = _business(business)
        for offer_key, offer in group.offers.items():
            seen = {name: value for name, (value, _) in group.offer_values[offer_key].items()}
            offer["Id"] = offer_key
            offer["Customer"] = {}
            card: dict[str, Any] = {}
            for name, value in seen.items():
                prefix, _, key = name.partition(".")
                if name.startswith("Offer.Project."):
                    card[name.rsplit(".", 1)[1]] = value
                elif prefix == "Offer":
                    offer[key] = value
                elif prefix == "Customer":
                    offer["Customer"][key] = value
            if card:
                offer["Project"] = card
            record["Offers"].append(offer)
        if not record["Fields"]:
            del record["Fields"]
        if not record["Contacts"]:
            del record["Contacts"]
        source = _span(group.first, group.last)
        return RawRecord(record, source, tuple(group.issues), rows=group.rows)


def _contact(values: dict[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = {}
    for key, value in values.items():
        prefix, _, name = key.partition(".")
        if prefix != "Contact" or value is None:
            continue
        if name in ("Email", "Phone"):
            contact[f"{name}s"] = [value]
        else:
            contact[name] = value
    return contact


def _business(values: dict[str, Any]) -> dict[str, Any]:
    business: dict[str, Any] = {}
    for key in ("Name", "VatNumber"):
        if values.get(f"Business.{key}") is not None:
            business[key] = values[f"Business.{key}"]
    if values.get("Business.Email") is not None:
        business["Emails"] = [values["Business.Email"]]
    if values.get("Business.Phone") is not None:
        business["Phones"] = [values["Business.Phone"]]
    address = {
        key: values[f"Business.{key}"]
        for key in ("CountryId", "PostalCode", "City", "Address")
        if values.get(f"Business.{key}") is not None
    }
    if address:
        business["Addresses"] = [address]
    return business


def _span(first: str, last: str) -> str:
    if first == last:
        return first
    head, _, start = first.rpartition(":")
    other, _, end = last.rpartition(":")
    return f"{head}:{start}-{end}" if head == other and head else f"{first}..{last}"


def _show(value: Any) -> str:
    shown = value.isoformat() if isinstance(value, date) else str(value) if isinstance(value, Decimal) else value
    if isinstance(shown, str) and len(shown) > 40:
        return repr(f"{shown[:37]}...")
    if isinstance(shown, int) and shown.bit_length() > 128:
        return "a number of more than 38 digits"
    return repr(shown)


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def required_fields() -> list[str]:
    """Return the flat fields every profile must map or set as a constant."""
    return [name for name, spec in FIELDS.items() if spec.required]


def group_rows(rows: Iterable[Row], profile: Profile, header: tuple[str, ...]) -> Iterator[RawRecord]:
    """Normalise and group ``rows`` (one product line each) into project records."""
    return RowGrouper(profile, header).group(rows)
