"""Mapping profiles: how one ERP's flat export (CSV, XLSX, SQL rows) becomes MiniCRM records.

A profile is a TOML file, one per ERP, kept under version control::

    [input]
    format = "csv"          # csv, xlsx, sql, json, jsonl; default: from the file extension
    encoding = "cp1250"     # utf-8 (default; a BOM is fine), cp1250 / windows-1250, iso-8859-2
    delimiter = ";"

    [locale]
    decimal_separator = ","          # "." by default
    thousands_separator = " "        # none by default
    date_formats = ["%Y.%m.%d"]      # tried after ISO dates; none by default

    [ids]
    non_numeric = "hash"             # "hash" (default) or "error"
    scheme = "53-bit"                # hashed Ids below 2^53 (default); "63-bit": those of releases before 0.2
    id_offset = 0                    # added to every Id of this source, e.g. 200000000 for a second shop

    [columns]                        # field = column of the input
    "Project.Id" = "Partnerkód"

    [constants]                      # field = value for every record
    "Project.CategoryId" = 39

    [values."Offer.Status"]          # value maps: input value = MiniCRM value
    "E" = "Accepted"

    [countries]                      # ISO codes -> MiniCRM country names
    fields = ["Customer.CountryId"]
    language = "hu"                  # en, hu or ro

    [offer_api]                      # the Offer JSON API's constants (offer build, offer send)
    Media = "Paper"                  # PKI (default) or Paper; also Type, VATMode (NormalVAT, VATExempt), Accounting
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfoNotFoundError

from xmlsync.config import BuildConfig, Locale, NumbersAsText, SystemSchema
from xmlsync.errors import InputError, Issue
from xmlsync.readers.formats import FORMATS as INPUT_FORMATS
from xmlsync.tree.countries import LANGUAGES
from xmlsync.tree.fields import CUSTOM_PREFIXES, FLAT_FIELDS, FlatField
from xmlsync.tree.kinds import OPTIONAL, zone

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FORMATS = tuple(INPUT_FORMATS)  # the names of the input formats (xmlsync.readers.formats)
ENCODINGS = {
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "cp1250": "cp1250",
    "windows-1250": "cp1250",
    "iso-8859-2": "iso-8859-2",
    "latin2": "iso-8859-2",
}
_SECTIONS = {
    "input": (
        "format",
        "encoding",
        "delimiter",
        "quotechar",
        "sheet",
        "table",
        "query",
        "numbers_as_text",
        "header_row",
        "skip_rows",
        "data_ends",
        "footer",
    ),
    "locale": ("decimal_separator", "thousands_separator", "date_formats", "vat_fractions", "timezone"),
    "policy": ("vat_codes", "statuses", "strict", "on_invalid", "minicrm_schema"),
    "ids": ("non_numeric", "scheme", "id_offset"),
    "columns": (),
    "constants": (),
    "values": (),
    "countries": ("fields", "language"),
    "names": (),
    "offer_api": ("Type", "Media", "VATMode", "Accounting"),
}


@dataclass(frozen=True)
class Policy:
    """What a scheduled run accepts, kept in the profile (``[policy]``) so that the job carries no flags.

    ``None`` leaves the default (or the command-line flag) in force.
    """

    vat_codes: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    strict: bool | None = None
    on_invalid: str | None = None
    minicrm_schema: Path | None = None  # a file of ``xmlsync minicrm schema``, relative to the profile
    offer_api: tuple[tuple[str, str], ...] = ()  # ``[offer_api]``: constants of the Offer JSON API's body


def spec_of(name: str) -> FlatField | None:
    """Return the flat field of a name (:data:`~xmlsync.tree.fields.FLAT_FIELDS`), custom card fields included."""
    if name in FLAT_FIELDS:
        return FLAT_FIELDS[name]
    custom = name.rsplit(".", 1)[-1]
    if not name.startswith(CUSTOM_PREFIXES) or not custom:
        return None
    return FlatField(OPTIONAL, False, ("Fields", custom) if name[0] == "P" else ("Offers", 0, "Project", custom))


@dataclass(frozen=True)
class Profile:
    """A loaded, checked mapping profile (see the module docstring for the TOML form).

    Args:
        source: The profile file, for messages (``None`` for the built-in default).
        format: Input format, or ``None`` to take it from the input's extension.
        encoding: Python codec of text inputs.
        delimiter: CSV field delimiter.
        quotechar: CSV quote character.
        sheet: XLSX sheet name (``None``: the first sheet).
        table: SQL table to read when no query is given.
        query: SQL query.
        locale: How its input writes numbers, dates and Ids (``[locale]`` and ``[ids]``).
        columns: Field -> input column. Without a profile every field maps to a column of its own name.
        constants: Field -> value used for every record.
        values: Field -> {input value: MiniCRM value}.
        country_fields: Fields whose ISO country codes become MiniCRM country names.
        country_language: ``en``, ``hu`` or ``ro``.
        numbers_as_text: Which numbers of JSON records a text field takes (see :class:`~xmlsync.BuildConfig`).
        names: Field -> more column names that ``mapping init`` takes for it, besides its built-in table.
    """

    source: str | None = None
    format: str | None = None
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    quotechar: str = '"'
    sheet: str | None = None
    table: str | None = None
    query: str | None = None
    locale: Locale = field(default_factory=Locale)
    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    country_fields: tuple[str, ...] = ()
    country_language: str = "en"
    numbers_as_text: NumbersAsText = "integers"
    header_row: int = 1
    skip_rows: int = 0
    data_ends: str = "sheet-end"
    footer: str | None = None
    vat_fractions: bool = False
    timezone: str | None = None
    policy: Policy = field(default_factory=lambda: Policy())
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def config(
        self,
        base: BuildConfig,
        *,
        vat_codes: Sequence[str] = (),
        statuses: Sequence[str] = (),
        strict: bool | None = None,
        minicrm_schema: str | Path | None = None,
    ) -> BuildConfig:
        """Return the options of a run: ``base`` with the profile's policy, where no flag was given.

        Command-line flags override the profile: ``vat_codes`` and ``statuses`` when not empty, ``strict``
        when not ``None``, ``minicrm_schema`` (a file of ``xmlsync minicrm schema``, read here) when given.
        What the profile says of its input's values (:meth:`reading`) is for the build to apply, once.

        Raises:
            InputError: ``minicrm-schema`` if the schema file cannot be read.
        """
        policy = self.policy
        schema_file = minicrm_schema or policy.minicrm_schema
        if schema_file is not None:
            base = replace(base, schema=SystemSchema.load(schema_file))
        return replace(
            base,
            offer_api=policy.offer_api or base.offer_api,
            vat_codes=frozenset(vat_codes) if vat_codes else (policy.vat_codes or base.vat_codes),
            statuses=frozenset(statuses) if statuses else (policy.statuses or base.statuses),
            strict=strict if strict is not None else (policy.strict if policy.strict is not None else base.strict),
        )

    def on_invalid(self, flag: str | None, default: str = "fail") -> str:
        """Return what a run does with an invalid record: the flag, else the profile's ``[policy] on_invalid``,
        else ``default`` (``fail`` for a build, ``skip`` for the nightly ``sync``)."""
        return flag or self.policy.on_invalid or default

    def policy_lines(self) -> list[str]:
        """Return the effective policy of a run with this profile and no flags, a line per setting."""
        policy = self.policy
        codes = ", ".join(sorted(policy.vat_codes)) + " (profile)" if policy.vat_codes else "none (default)"
        statuses = ", ".join(sorted(policy.statuses)) + " (profile)" if policy.statuses else "any (default)"
        strict = "no (default)" if policy.strict is None else ("yes" if policy.strict else "no") + " (profile)"
        on_invalid = f"{policy.on_invalid} (profile)" if policy.on_invalid else "fail (default)"
        schema = f"{policy.minicrm_schema} (profile)" if policy.minicrm_schema else "none (default)"
        fractions = "a fraction, 0.27 is 27% (profile)" if self.vat_fractions else "an error (default)"
        return [
            f"policy: VAT codes accepted besides percentages: {codes}",
            f"policy: offer statuses accepted: {statuses}",
            f"policy: warnings are errors: {strict}",
            f"policy: on an invalid record: {on_invalid}",
            f"policy: checked against the MiniCRM system's schema: {schema}",
            f"locale: a VAT value between 0 and 1 is {fractions}",
        ]

    def reading(self, base: BuildConfig) -> BuildConfig:
        """Return ``base`` with what the profile says of its input's values (``numbers_as_text``, ``vat_fractions``)."""
        numbers = self.numbers_as_text if base.numbers_as_text == "integers" else base.numbers_as_text
        return replace(
            base,
            numbers_as_text=numbers,
            vat_fractions=base.vat_fractions or self.vat_fractions,
            timezone=self.timezone or base.timezone,
        )

    def mapped_fields(self, header: tuple[str, ...]) -> dict[str, str]:
        """Return field -> column for every field this profile reads from an input with ``header``."""
        found = {name: column for name, column in self.columns.items()}
        for column in header:
            if column not in found.values() and spec_of(column) is not None and column not in self.constants:
                found.setdefault(column, column)
        return found


def _suggest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


def load_profile(path: str | Path) -> Profile:
    """Read and check a TOML profile.

    Raises:
        InputError: With one issue per problem (unknown section, key or field, bad value), each naming
            the profile file and the key.
    """
    name = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError([Issue("unreadable-input", f"cannot read the profile: {exc.strerror}", source=name)]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError([Issue("invalid-profile", f"not valid TOML: {exc}", source=name)]) from None
    issues: list[Issue] = []

    def problem(key: str, message: str, code: str = "invalid-profile") -> None:
        issues.append(Issue(code, message, source=name, path=key))

    for section, value in data.items():
        if section not in _SECTIONS:
            problem(section, f"unknown section [{section}]{_suggest(section, tuple(_SECTIONS))}")
        elif not isinstance(value, dict):
            problem(section, f"[{section}] must be a table")
        elif _SECTIONS[section]:
            for key in value:
                if key not in _SECTIONS[section]:
                    problem(f"{section}.{key}", f"unknown key{_suggest(key, _SECTIONS[section])}")
    section_input = data.get("input", {}) if isinstance(data.get("input"), dict) else {}
    locale = data.get("locale", {}) if isinstance(data.get("locale"), dict) else {}
    ids = data.get("ids", {}) if isinstance(data.get("ids"), dict) else {}
    countries = data.get("countries", {}) if isinstance(data.get("countries"), dict) else {}

    def text(table: Mapping[str, Any], section: str, key: str, default: str | None) -> str | None:
        value = table.get(key, default)
        if value is not None and not isinstance(value, str):
            problem(f"{section}.{key}", "must be a text")
            return default
        return value

    fmt = text(section_input, "input", "format", None)
    if fmt is not None and fmt not in FORMATS:
        problem("input.format", f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    encoding = (text(section_input, "input", "encoding", "utf-8") or "utf-8").lower()
    if encoding not in ENCODINGS:
        problem("input.encoding", f"unsupported encoding {encoding!r}; use utf-8, cp1250 or iso-8859-2")
    decimal = text(locale, "locale", "decimal_separator", ".") or "."
    if decimal not in (".", ","):
        problem("locale.decimal_separator", f'must be "." or ",", not {decimal!r}')
    thousands = text(locale, "locale", "thousands_separator", "") or ""
    if thousands == decimal or len(thousands) > 1:
        problem("locale.thousands_separator", f"{thousands!r} cannot separate thousands when {decimal!r} is decimal")
    date_formats = locale.get("date_formats", [])
    if not isinstance(date_formats, list) or not all(isinstance(f, str) and "%" in f for f in date_formats):
        problem("locale.date_formats", 'must be a list of strptime formats, e.g. ["%Y.%m.%d"]')
        date_formats = []
    non_numeric = text(ids, "ids", "non_numeric", "hash") or "hash"
    if non_numeric not in ("hash", "error"):
        problem("ids.non_numeric", f'must be "hash" or "error", not {non_numeric!r}')
    scheme = text(ids, "ids", "scheme", "53-bit") or "53-bit"
    if scheme not in ("53-bit", "63-bit"):
        problem("ids.scheme", f'must be "53-bit" or "63-bit" (the Ids of releases before 0.2), not {scheme!r}')
        scheme = "53-bit"
    id_offset = ids.get("id_offset", 0)
    if not isinstance(id_offset, int) or isinstance(id_offset, bool) or not 0 <= id_offset <= 2**52:
        problem(
            "ids.id_offset", f"must be a whole number from 0 to 2^52 (e.g. 200000000 for shop 2), not {id_offset!r}"
        )
        id_offset = 0
    columns = _field_table(data.get("columns", {}), "columns", problem, lambda v: isinstance(v, str))
    constant = lambda v: isinstance(v, str | int | float) and not isinstance(v, bool)  # noqa: E731
    constants = _field_table(data.get("constants", {}), "constants", problem, constant)
    values = {
        key: {str(k): str(v) for k, v in table.items()}
        for key, table in _field_table(
            data.get("values", {}), "values", problem,
            lambda t: isinstance(t, dict) and all(isinstance(v, str | int) for v in t.values()),
            'must map input values to MiniCRM values, e.g. "E" = "Accepted"',
        ).items()
    }  # fmt: skip
    names = {
        key: tuple(listed)
        for key, listed in _field_table(
            data.get("names", {}), "names", problem,
            lambda items: isinstance(items, list) and all(isinstance(i, str) and i.strip() for i in items),
            'must list column names, e.g. ["Cikk neve", "Termék"]',
        ).items()
    }  # fmt: skip
    country_fields = countries.get("fields", [])
    if not isinstance(country_fields, list) or any(
        not isinstance(f, str) or spec_of(f) is None for f in country_fields
    ):
        problem("countries.fields", 'must list fields such as "Customer.CountryId"')
        country_fields = []
    language = text(countries, "countries", "language", "en") or "en"
    if language not in LANGUAGES:
        problem("countries.language", f"must be one of {', '.join(LANGUAGES)}, not {language!r}")
    delimiter = text(section_input, "input", "delimiter", ",") or ","
    quotechar = text(section_input, "input", "quotechar", '"')
    for key, char in (("delimiter", delimiter), ("quotechar", quotechar)):
        if char is not None and (len(char) != 1 or char in "\r\n"):
            problem(f"input.{key}", f'must be one character other than a line break, e.g. ";", not {char!r}')
    if delimiter == quotechar:
        problem("input.quotechar", f"must differ from the delimiter {delimiter!r}")
    sheet = text(section_input, "input", "sheet", None)
    table = text(section_input, "input", "table", None)
    query = text(section_input, "input", "query", None)
    if table is not None and query is not None:
        problem("input.query", "give either table or query, not both")
    numbers_as_text = text(section_input, "input", "numbers_as_text", "integers") or "integers"
    if numbers_as_text not in ("integers", "all", "none"):
        problem("input.numbers_as_text", f'must be "integers", "all" or "none", not {numbers_as_text!r}')

    def number(table: Mapping[str, Any], key: str, default: int, least: int) -> int:
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= 1_000_000:
            problem(f"input.{key}", f"must be a whole number from {least} to 1000000, not {value!r}")
            return default
        return value

    def flag(table: Mapping[str, Any], section: str, key: str) -> bool | None:
        value = table.get(key)
        if value is not None and not isinstance(value, bool):
            problem(f"{section}.{key}", f"must be true or false, not {value!r}")
            return None
        return value

    def texts(table: Mapping[str, Any], key: str) -> frozenset[str] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            problem(f"policy.{key}", 'must be a list of texts, e.g. ["AAM", "KBAUK"]')
            return None
        return frozenset(value)

    header_row = number(section_input, "header_row", 1, 1)
    skip_rows = number(section_input, "skip_rows", 0, 0)
    data_ends = text(section_input, "input", "data_ends", "sheet-end") or "sheet-end"
    if data_ends not in ("sheet-end", "empty-row"):
        problem("input.data_ends", f'must be "sheet-end" or "empty-row", not {data_ends!r}')
    footer = text(section_input, "input", "footer", None)
    if footer is not None:
        try:
            re.compile(footer)
        except re.error as exc:
            problem("input.footer", f"is not a regular expression: {exc}")
            footer = None
    policy_table = data.get("policy", {}) if isinstance(data.get("policy"), dict) else {}
    on_invalid = text(policy_table, "policy", "on_invalid", None)
    if on_invalid not in (None, "fail", "skip"):
        problem("policy.on_invalid", f'must be "fail" or "skip", not {on_invalid!r}')
        on_invalid = None
    schema_file = text(policy_table, "policy", "minicrm_schema", None)
    offer_table = data.get("offer_api", {}) if isinstance(data.get("offer_api"), dict) else {}
    offer_api = []
    for key in _SECTIONS["offer_api"]:
        given = text(offer_table, "offer_api", key, None)
        if given is not None and not given.strip():
            problem(f"offer_api.{key}", 'must not be empty; e.g. Media = "Paper", VATMode = "VATExempt"')
        elif given is not None:
            offer_api.append((key, given.strip()))
    policy = Policy(
        vat_codes=texts(policy_table, "vat_codes"),
        statuses=texts(policy_table, "statuses"),
        strict=flag(policy_table, "policy", "strict"),
        on_invalid=on_invalid,
        minicrm_schema=Path(path).parent / schema_file if schema_file else None,
        offer_api=tuple(offer_api),
    )
    vat_fractions = bool(flag(locale, "locale", "vat_fractions"))
    timezone = text(locale, "locale", "timezone", None)
    if timezone is not None:
        try:
            zone(timezone)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            problem("locale.timezone", f"unknown time zone {timezone!r}; use an IANA name such as Europe/Budapest")
            timezone = None
    if issues:
        raise InputError(issues)
    return Profile(
        source=name,
        format=fmt,
        encoding=ENCODINGS[encoding],
        delimiter=delimiter,
        quotechar=quotechar or '"',
        sheet=sheet,
        table=table,
        query=query,
        numbers_as_text=cast(NumbersAsText, numbers_as_text),
        header_row=header_row,
        skip_rows=skip_rows,
        data_ends=data_ends,
        footer=footer,
        vat_fractions=vat_fractions,
        timezone=timezone,
        policy=policy,
        locale=Locale(decimal, thousands, tuple(date_formats), non_numeric, scheme, id_offset),
        columns=columns,
        constants=constants,
        values=values,
        country_fields=tuple(country_fields),
        country_language=language,
        names=names,
    )


def _field_table(
    table: Any, section: str, problem: Any, valid: Callable[[Any], bool], wrong: str | None = None
) -> dict[str, Any]:
    """Return the fields of a section (``[columns]``, ``[values]``...) whose value is ``valid``; report the rest:
    an unknown field, a value of the wrong shape (``wrong`` says what it should be), a section that is no table."""
    result: dict[str, Any] = {}
    if not isinstance(table, dict):
        problem(section, f'must be a table of fields, e.g. [{section}] with "Project.Name" = ...')
        return result
    for key, value in table.items():
        if spec_of(key) is None:
            problem(f"{section}.{key}", f"unknown field{_suggest(key, list(FLAT_FIELDS))}", "unknown-field")
        elif not valid(value):
            problem(f"{section}.{key}", wrong or f"has a value of the wrong type: {value!r}")
        else:
            result[key] = value
    return result
