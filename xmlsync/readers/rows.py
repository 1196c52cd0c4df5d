"""Map and normalise flat rows (one product line per row) into nested project records.

Readers of flat inputs (CSV, XLSX, SQL) yield :class:`Row` items; :func:`group_rows` normalises each value
as the profile says (decimal comma, local dates, value maps, country codes, stable Ids) and groups
contiguous rows into Project -> Offer -> Products. The records it yields have the shape of the JSON input
and go on to :mod:`xmlsync.walk`.

Rows of one project, and of one offer within it, must be contiguous (sort the export by project and offer
key): this keeps memory flat however long the input is. A project key that comes back later makes a second
record with the same Id, which the feed's Id check (:class:`~xmlsync.rules.Checker`) reports naming both rows;
an offer key that comes back within its project is reported here. Nothing is merged silently.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from xmlsync import compiled
from xmlsync.config import BuildConfig, Locale
from xmlsync.errors import Issue
from xmlsync.idstore import Place, SeenIds
from xmlsync.profiles import Profile, spec_of
from xmlsync.readers.base import RawRecord, Row
from xmlsync.tree.countries import COUNTRIES, LANGUAGES, country_name
from xmlsync.tree.fields import FlatField
from xmlsync.tree.kinds import Key, Odd, Problem, show

# Hashed Ids live above this offset, away from the small numeric keys ERPs use.
HASH_OFFSET = 10**12
SAFE_ID = 2**53 - 1  # the largest whole number JSON and JavaScript consumers keep every digit of
# Bits of SHA-256 an Id takes, by [ids] scheme: "53-bit" Ids stay below 2^53 with room for an id_offset up
# to 2^52; "63-bit" is the scheme of earlier releases, kept for systems that already hold cards under it.
HASH_BITS = {"53-bit": 52, "63-bit": 56}
MEMO_VALUES = 10_000  # distinct (field, raw value) conversions remembered by a RowGrouper


def offset_id(number: int, locale: Locale) -> int:
    """Return an Id with the source's ``id_offset`` added.

    Raises:
        Problem: ``invalid-id`` when the sum is past 2^53 - 1.
    """
    offset = locale.id_offset
    if offset and number + offset > SAFE_ID:
        raise Problem(
            "invalid-id",
            f"{number} + id_offset {offset} is past 2^53 - 1, which JSON and JavaScript consumers cannot hold;"
            " use a smaller id_offset",
        )
    return number + offset


def stable_id(entity: str, key: str, scheme: str = "53-bit") -> int:
    """Return the stable integer Id of a non-numeric key: ``10**12`` + the first bits of its SHA-256.

    The same key always gives the same Id, on every run and machine; ``entity`` (``Project``, ``Offer``...)
    keeps equal keys of different record kinds apart. ``53-bit`` Ids (the default) are below 2^53 - 2^52;
    ``63-bit`` Ids are those of earlier releases (56 bits above ``10**12``).
    """
    digest = hashlib.sha256(f"{entity}:{key}".encode()).digest()
    return HASH_OFFSET + (int.from_bytes(digest[:7], "big") >> (56 - HASH_BITS[scheme]))


@dataclass
class _Offer:
    """An offer being assembled: its record and the first value and row of each field."""

    number: int  # 1-based, in input order
    record: dict[str, Any]
    values: dict[str, tuple[Any, str]] = field(default_factory=dict)


@dataclass
class _Group:
    """The project being assembled from contiguous rows."""

    key: int
    first: str
    last: str
    record: dict[str, Any]
    values: dict[str, tuple[Any, str]]
    offers: dict[int, _Offer] = field(default_factory=dict)
    current_offer: int | None = None
    issues: list[Issue] = field(default_factory=list)
    rows: int = 0
    lines: list[tuple[int, int, str]] = field(default_factory=list)  # (offer, product or 0, row), 1-based


# A column of a flat input: field name, column, its place in a row, field, whether it repeats on every product
# line (not a product column), whether it is a plain text, the reader of its usual texts, and its key in a
# product line.
_Column = tuple[str, str, int, FlatField, bool, bool, Callable[[str], Any] | None, str | None]
_Reader = Callable[[Sequence[Any]], tuple[dict[str, Any], dict[str, Any]]]


class RowGrouper:
    """Normalises rows and groups them into project records.

    Args:
        profile: How columns map to fields and how values are written.
        header: The input's columns, to tell which fields are mapped.
    """

    def __init__(
        self,
        profile: Profile,
        header: tuple[str, ...],
        config: BuildConfig | None = None,
        ids: SeenIds | None = None,
    ) -> None:
        self.profile = profile
        self.config = config or profile.reading(BuildConfig())
        self.locale = profile.locale
        self.fields = profile.mapped_fields(header)
        # The keys hashed so far, by Id, in bounded memory: two keys with one Id are refused.
        self._own = ids is None  # a store given by the run (the feed's one Id store) is the run's to close
        self._seen = ids if ids is not None else SeenIds()
        columns = [(name, column, spec) for name, column in self.fields.items() if (spec := spec_of(name))]
        place = {column: at for at, column in enumerate(header)}  # the last of equal names, as a dict of the row
        # Where the project and offer keys stand in a row, to name a row's issues by them.
        self._key_places = [
            (entity, place[column]) for entity in ("Project", "Offer") if (column := self.fields.get(f"{entity}.Id"))
        ]
        # Columns of the project, offer and contact repeat on every product line of a record. A cell is read at
        # once by its kind (kept as it is, for a plain text) unless a value map, a country or an Id's key may
        # apply: then by convert, which remembers what it read.
        self._columns: list[_Column] = [
            (
                name,
                column,
                place[column],
                spec,
                not name.startswith("Product."),
                spec.kind.flat == "text" and direct,
                self._reading(spec) if direct else None,
                str(spec.path[4]) if _level(spec.path) == "product" else None,
            )
            for name, column, spec in columns
            for direct in [name not in profile.values and name not in profile.country_fields]
        ]
        self._product_columns = [entry for entry in self._columns if not entry[4]]
        self._repeated = _picker([entry[2] for entry in self._columns if entry[4]])
        self._last_repeated: tuple[Any, ...] | None = None
        self._last_values: dict[str, Any] = {}
        self._memo: dict[tuple[str, Any], Any] = {}
        self._keys: dict[str, str] = {}  # "Offer 298825675830811" -> "OF-2024/0017", until its record is done
        self._constants: dict[str, Any] = dict(profile.constants)
        self._constant_issues: list[Issue] = []
        for name, value in profile.constants.items():
            spec = spec_of(name)
            if spec is None:
                continue
            try:
                self._constants[name] = self._convert(name, spec, value)
            except Problem as bad:
                self._constant_issues.append(
                    Issue(bad.code, bad.message, source=profile.source, path=f"constants.{name}")
                )
        names = list(dict.fromkeys([*profile.constants, *self.fields]))
        self._paths = {name: spec.path for name in names if (spec := spec_of(name)) is not None}
        levels = {name: _level(path) for name, path in self._paths.items()}
        self._project_names = [n for n, level in levels.items() if level == "project"]
        self._contact_names = [n for n, level in levels.items() if level == "contact"]
        self._offer_names = [n for n, level in levels.items() if level == "offer"]
        self._record_constants = {n: v for n, v in self._constants.items() if n in levels and levels[n] != "product"}
        self._product_constants = {
            str(self._paths[n][4]): value
            for n, value in self._constants.items()
            if n in levels and levels[n] == "product" and n not in self.fields and value is not None
        }
        self._read_row, self._read_product = self._reader(self._columns), self._reader(self._product_columns)

    # -- values --------------------------------------------------------------------------------

    def convert(self, name: str, spec: FlatField, raw: Any) -> Any:
        """Return the normalised value of field ``name`` (``None`` when empty); raise ``Problem``.

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
            if isinstance(known, Problem):
                raise known
            return known
        if len(self._memo) >= MEMO_VALUES:
            self._memo.clear()
        try:
            value = self._memo[key] = self._convert(name, spec, raw)
        except Problem as bad:
            self._memo[key] = bad
            raise
        return value

    def _convert(self, name: str, spec: FlatField, raw: Any) -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if isinstance(raw, bytes | bytearray | memoryview):
            raise Problem(
                "wrong-type",
                "is binary data (a BLOB), which a feed cannot hold; CAST the column to text in the query",
            )
        text = raw.strip() if isinstance(raw, str) else raw
        mapped = self.profile.values.get(name)
        if mapped is not None and str(text) in mapped:
            return mapped[str(text)]
        if name in self.profile.country_fields:
            return self.country(str(text))
        try:
            value = spec.kind.read(text, self.config, self.locale)
        except Key as key:  # a key such as P-00123 where an Id goes: its stable Id
            return offset_id(self.hashed(name.split(".")[0], key.key), self.locale)
        if value is None or spec.kind.flat not in ("id", "number"):
            return value
        return int(value) if spec.kind.flat == "number" else offset_id(int(value), self.locale)

    def _reading(self, spec: FlatField) -> Callable[[str], Any]:
        """Return the reader of a column's texts, giving what :meth:`convert` gives, or ``None`` for a text
        it must look at (a blank one, a key to hash: it remembers its Id)."""
        read, config, locale, flat = spec.kind.read, self.config, self.locale, spec.kind.flat
        if flat not in ("id", "number"):
            return lambda text: read(stripped, config, locale) if (stripped := text.strip()) else None
        offset = locale.id_offset if flat == "id" else 0

        def reading(text: str) -> Any:
            try:
                number = int(read(text, config, locale) or 0) if text.strip() else None
            except Key:
                return None
            if number is None or number + offset > SAFE_ID:  # convert says what is wrong
                return None
            return number + offset

        return reading

    def country(self, value: str) -> str:
        language = self.profile.country_language
        name = country_name(value, language) if len(value) == 2 else None
        if name is not None:
            return name
        index = LANGUAGES.index(language)
        if any(names[index] == value for names in COUNTRIES.values()):
            return value
        raise Problem(
            "unknown-country",
            f"{value!r} is not a known ISO country code; use a code such as HU or RO, or map it under"
            f' [values."...CountryId"]',
        )

    def hashed(self, entity: str, text: str) -> int:
        """Return the stable Id of a non-numeric key, refusing two keys that hash alike."""
        number = stable_id(entity, text, self.locale.id_scheme)
        if len(self._keys) >= MEMO_VALUES:
            self._keys.clear()  # bounded: only the keys of the records being grouped are ever needed
        self._keys[f"{entity} {number + self.locale.id_offset}"] = text
        known = self._seen.first(f"id:{entity}", str(number), Place(text, None, None))
        if known is not None and known.path != text:
            raise Problem(
                "id-collision", f"{text!r} and {known.path!r} map to the same {entity} Id {number}; rename one key"
            )
        return number

    def _reader(self, columns: list[_Column]) -> _Reader:
        """Return the first try at reading ``columns`` of a row (:func:`xmlsync.compiled.row_reader`); a row it
        cannot read is read by :meth:`normalise`, column by column, with the same readers."""
        specs = {name: spec for name, _, _, spec, *_ in columns}

        def convert(name: str, raw: Any) -> Any:
            try:
                return self.convert(name, specs[name], raw)
            except Problem:
                raise Odd from None

        read = [(name, at, plain, usual, spec.required, key) for name, _, at, spec, _, plain, usual, key in columns]
        return compiled.row_reader(read, self._record_constants, self._product_constants, convert)

    # -- rows ----------------------------------------------------------------------------------

    def normalise(self, row: Row) -> tuple[dict[str, Any], dict[str, Any], list[Issue], bool]:
        """Return one row's field -> value of its project, offer and contact, its product line, the issues of
        its bad values, and whether it repeats.

        A row *repeats* when its project, offer and contact columns hold the same raw values as the row
        before, which were all good: their values are taken over, and only the product columns converted.
        """
        cells = row.cells
        repeated = self._repeated(cells)
        repeat = repeated == self._last_repeated
        try:
            if repeat:
                return self._last_values, self._read_product(cells)[1], self._constant_issues[:], True
            self._last_values, product = self._read_row(cells)
            self._last_repeated = repeated
            return self._last_values, product, self._constant_issues[:], False
        except (Odd, Problem):
            pass  # read column by column below, to say what is wrong
        values = self._last_values if repeat else dict(self._record_constants)
        product = dict(self._product_constants)
        issues: list[Issue] = []
        clean = True
        for name, column, at, spec, is_repeated, plain, usual, key in (
            self._product_columns if repeat else self._columns
        ):
            value = cells[at]
            try:
                if plain and type(value) is str:  # a text as it is: no value map, no country, no number
                    value = value.strip() or None
                elif usual is None or type(value) is not str or (value := usual(value)) is None:
                    value = self.convert(name, spec, cells[at])
            except Problem as bad:
                issues.append(Issue(bad.code, bad.message, source=row.source, path=f"{column} -> {name}"))
                value = None
                clean = clean and not is_repeated
            else:
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
            if key is None:
                values[name] = value
            elif value is not None:
                product[key] = value
        if not repeat:
            self._last_repeated = repeated if clean else None
            self._last_values = values
        if issues:
            issues = self._named(row, issues)
        if self._constant_issues:
            issues.extend(self._constant_issues)
        return values, product, issues, repeat

    def group(self, rows: Iterable[Row]) -> Iterator[RawRecord]:
        """Yield one record per project, in input order; rows with problems put issues on their record."""
        try:
            yield from self._group(rows)
        finally:
            if self._own:
                self._seen.close()

    def _group(self, rows: Iterable[Row]) -> Iterator[RawRecord]:
        group: _Group | None = None
        for row in rows:
            if row.issues:
                yield RawRecord(None, row.source, row.issues)
                continue
            values, product, issues, repeat = self.normalise(row)
            project_key = values.get("Project.Id")
            if project_key is None:
                yield RawRecord(None, row.source, tuple(issues), rows=1)
                continue
            if group is None or group.key != project_key:
                if group is not None:
                    yield self._finish(group)
                group = self._start(project_key, row, values)
            group.rows += 1
            group.last = row.source
            group.issues.extend(issues)
            self._add_row(group, row, values, product, repeat)
        if group is not None:
            yield self._finish(group)

    def _start(self, key: int, row: Row, values: dict[str, Any]) -> _Group:
        record: dict[str, Any] = {"Contacts": [], "Offers": []}
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
                    f"{name} is {show(value)} here but {show(first[0])} at {first[1]} for the same {what};"
                    " rows of one record must agree",
                    source=row.source,
                    path=f"{self.fields.get(name, name)} -> {name}",
                )
            )

    def _named(self, row: Row, issues: list[Issue]) -> list[Issue]:
        """Return the issues of a row named by its keys as the ERP writes them (``Project P-01001 > Offer OF-1``)."""
        keys = [(entity, row.cells[at]) for entity, at in self._key_places]
        label = " > ".join(f"{entity} {str(key).strip()}" for entity, key in keys if key not in (None, ""))
        return [replace(issue, record=label or None) for issue in issues]

    def _add_row(self, group: _Group, row: Row, values: dict[str, Any], product: dict[str, Any], repeat: bool) -> None:
        """Add a row's values to its project; what disagrees with earlier rows is named by the row's keys.

        A repeating row (see :meth:`normalise`) agrees by definition: only its product line is added.
        """
        issues = group.issues
        start = len(issues)
        if not repeat:
            if group.values:
                for name in self._project_names:
                    self._agree(group.values, name, values.get(name), row, issues, f"Project {group.key}")
            else:  # the project's first row (with a value): nothing to disagree with
                group.values = _firsts(self._project_names, values, row.source)
            contact = self._contact(values)
            if contact and contact not in group.record["Contacts"]:
                group.record["Contacts"].append(contact)
        offer_key = values.get("Offer.Id")
        if offer_key is None:
            return
        offer = group.offers.get(offer_key)
        if offer is None:
            offer = group.offers[offer_key] = _Offer(len(group.offers) + 1, {"Products": []})
            group.lines.append((offer.number, 0, row.source))
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
        if not repeat:
            if offer.values:
                for name in self._offer_names:
                    self._agree(offer.values, name, values.get(name), row, issues, f"Offer {offer_key}")
            else:
                offer.values = _firsts(self._offer_names, values, row.source)
        products = offer.record["Products"]
        products.append(product)
        group.lines.append((offer.number, len(products), row.source))
        if len(issues) > start:
            issues[start:] = self._named(row, issues[start:])

    def _finish(self, group: _Group) -> RawRecord:
        record = group.record
        for name, (value, _) in group.values.items():
            _put(record, self._paths[name], value)
        for offer_key, offer in group.offers.items():
            document = offer.record
            document["Id"] = offer_key
            document["Customer"] = {}
            for name, (value, _) in offer.values.items():
                _put(document, self._paths[name][2:], value)
            record["Offers"].append(document)
        if not record["Contacts"]:
            del record["Contacts"]
        source = _span(group.first, group.last)
        keys: tuple[tuple[str, str], ...] = ()
        if self._keys:  # Ids made from ERP keys: named by their keys in messages
            ids = [("Project", group.key)] + [("Offer", key) for key in group.offers]
            ids += [("Product", line.get("Id")) for offer in group.offers.values() for line in offer.record["Products"]]
            labels = dict.fromkeys(f"{entity} {ident}" for entity, ident in ids)
            keys = tuple((label, self._keys[label]) for label in labels if label in self._keys)
        return RawRecord(record, source, tuple(group.issues), rows=group.rows, lines=tuple(group.lines), keys=keys)

    def _contact(self, values: dict[str, Any]) -> dict[str, Any]:
        contact: dict[str, Any] = {}
        for name in self._contact_names:
            if values.get(name) is not None:
                _put(contact, self._paths[name][2:], values[name])
        return contact


def _firsts(names: Sequence[str], values: dict[str, Any], source: str) -> dict[str, tuple[Any, str]]:
    """Return the values of ``names`` that a row has, each with the row (where it was first seen)."""
    return {name: (value, source) for name in names if (value := values.get(name)) is not None}


def _picker(places: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Return a function giving the cells at ``places`` of a row, as a tuple."""
    if len(places) > 1:
        return operator.itemgetter(*places)
    return lambda cells: tuple(cells[at] for at in places)


def _put(target: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    """Set ``value`` at ``path`` in a record (``("Business", "Emails", 0)``: the first item of a list)."""
    key = str(path[0])
    if len(path) == 1:
        target[key] = value
    elif path[1] == 0 and len(path) == 2:
        target[key] = [value]
    elif path[1] == 0:
        items = target.setdefault(key, [{}])
        _put(items[0], path[2:], value)
    else:
        _put(target.setdefault(key, {}), path[1:], value)


def _level(path: tuple[str | int, ...]) -> str:
    """Return which record of a flat row a field belongs to: project, contact, offer or product."""
    if path[0] == "Contacts":
        return "contact"
    if path[0] == "Offers":
        return "product" if len(path) > 2 and path[2] == "Products" else "offer"
    return "project"


def _span(first: str, last: str) -> str:
    if first == last:
        return first
    head, _, start = first.rpartition(":")
    other, _, end = last.rpartition(":")
    return f"{head}:{start}-{end}" if head == other and head else f"{first}..{last}"


def group_rows(
    rows: Iterable[Row],
    profile: Profile,
    header: tuple[str, ...],
    config: BuildConfig | None = None,
    ids: SeenIds | None = None,
) -> Iterator[RawRecord]:
    """Normalise and group ``rows`` (one product line each) into project records; ``config`` as the build's,
    ``ids`` the feed's Id store (the keys hashed so far are kept beside its Ids)."""
    return RowGrouper(profile, header, config, ids).group(rows)


# Where a record keyed like the XML tree holds its Ids, by the entity their keys are hashed as.
_RECORD_IDS = (("Contacts", "Contact", None), ("Offers", "Offer", "Products"), ("Orders", "Order", "Products"))


def record_ids(
    record: Any, profile: Profile, source: str
) -> tuple[Any, tuple[tuple[str, str], ...], tuple[Issue, ...]]:
    """Return a record (a dict keyed like the XML tree) with its Ids read as a flat input's are: a non-numeric
    key (``P-00123``) becomes the stable Id ``build`` gives it from a CSV (:func:`stable_id`, with the profile's
    scheme), and the profile's ``id_offset`` is added; with the keys for messages, and the problems found.
    """
    if not isinstance(record, dict):
        return record, (), ()
    keys: list[tuple[str, str]] = []
    issues: list[Issue] = []
    spec = spec_of("Project.Id")
    assert spec is not None
    kind, config = spec.kind, BuildConfig()

    def convert(node: dict[str, Any], entity: str, path: str) -> dict[str, Any]:
        if "Id" not in node or node["Id"] is None:
            return node
        raw = node["Id"]
        key = None
        try:
            try:
                hashed = int(kind.read(raw.strip() if isinstance(raw, str) else raw, config, profile.locale) or 0)
            except Key as found:
                key = found.key
                hashed = stable_id(entity, key, profile.locale.id_scheme)
            number = offset_id(hashed, profile.locale)
        except Problem as problem:
            issues.append(Issue(problem.code, problem.message, source, None, f"{path}Id"))
            return node
        if key is not None:
            keys.append((f"{entity} {number}", key))
        return {**node, "Id": number}

    out = convert(record, "Project", "")
    for container, entity, inner in _RECORD_IDS:
        items = out.get(container)
        if not isinstance(items, list):
            continue
        converted = []
        for place, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                converted.append(item)
                continue
            item = convert(item, entity, f"{container}[{place}].")
            lines = item.get(inner) if inner else None
            if isinstance(lines, list):
                item = {**item, inner: [
                    convert(line, "Product", f"{container}[{place}].{inner}[{number}].") if isinstance(line, dict)
                    else line for number, line in enumerate(lines, start=1)
                ]}  # fmt: skip
            converted.append(item)
        out = {**out, container: converted}
    return out, tuple(keys), tuple(issues)
