"""Options that steer normalisation and output, passed from the CLI to the library in one object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xmlsync.errors import InputError, Issue

NumbersAsText = Literal["integers", "all", "none"]
DEFAULT_BASE_URL = "https://r3.minicrm.hu"  # MiniCRM's address for push (the system's own, or a proxy, can be given)
SCHEMA_KIND = "xmlsync minicrm schema 1"  # the first key of a schema file, which says xmlsync wrote it


@dataclass(frozen=True)
class SystemSchema:
    """A MiniCRM system's categories and card fields (see the module's help).

    Args:
        categories: Category id -> name.
        fields: Category id -> field -> its type (``Text(512)``) or its allowed values (id -> label).
        offer_category: The category of the offer cards, whose fields an offer's own ``<Project>`` holds.
    """

    categories: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    offer_category: str | None = None

    def to_json(self) -> str:
        """Return the file's text: sorted, indented, one system's facts and nothing else."""
        data = {"kind": SCHEMA_KIND, "categories": self.categories, "offer_category": self.offer_category,
                "fields": self.fields}  # fmt: skip
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> SystemSchema:
        """Read a file written by ``xmlsync minicrm schema``.

        Raises:
            InputError: ``minicrm-schema`` for a file that cannot be read or that xmlsync did not write.
        """
        name = str(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not JSON"
            raise InputError([Issue("minicrm-schema", f"cannot read the schema file: {reason}", name)]) from None
        if not isinstance(data, dict) or data.get("kind") != SCHEMA_KIND or not _shaped(data):
            message = "is not a schema file xmlsync wrote; fetch one with xmlsync minicrm schema CATEGORY_ID -o FILE"
            raise InputError([Issue("minicrm-schema", message, name)])
        return cls(data["categories"], data["fields"], data.get("offer_category"))


def _shaped(data: dict[str, Any]) -> bool:
    categories, fields, offers = data.get("categories"), data.get("fields"), data.get("offer_category")
    if not isinstance(categories, dict) or not isinstance(fields, dict) or not isinstance(offers, str | None):
        return False
    return all(
        isinstance(types, dict)
        and all(isinstance(kind, str) or (isinstance(kind, dict) and all(isinstance(v, str) for v in kind.values()))
                for kind in types.values())
        for types in fields.values()
    )  # fmt: skip


@dataclass(frozen=True)
class Locale:
    """How a source that is not JSON writes its values (a flat input's cells, or records read with a profile):
    the ``[locale]`` and ``[ids]`` of a profile, all a value kind needs to know of it.

    Args:
        decimal_separator: ``.`` or ``,``.
        thousands_separator: Grouping character allowed in numbers (``""``: none; ``" "`` also takes no-break
            spaces).
        date_formats: ``strptime`` formats tried after the ISO forms.
        non_numeric_ids: ``hash`` (stable Ids for keys such as ``OF-2024/0017``) or ``error``.
        id_scheme: ``53-bit`` (hashed Ids below 2^53, the default) or ``63-bit`` (those of earlier releases).
        id_offset: Added to every Id of this source (several ERPs or shops feeding one MiniCRM system).
    """

    decimal_separator: str = "."
    thousands_separator: str = ""
    date_formats: tuple[str, ...] = ()
    non_numeric_ids: str = "hash"
    id_scheme: str = "53-bit"
    id_offset: int = 0


@dataclass(frozen=True)
class BuildConfig:
    """How records are normalised and written.

    Args:
        pretty: Indent the XML (two spaces per level); ``False`` writes it on one line.
        clean_text: Drop characters XML 1.0 cannot hold (control characters such as ``\\x0b``, lone
            surrogates) instead of failing on them. Off by default, so no data is changed silently.
        vat_codes: VAT values other than a percentage (``27%``) that are accepted as given, such as
            ``KBAUK`` or ``AAM``. Empty by default: MiniCRM documents only percentages for XML Sync.
        statuses: If set, the only Offer ``Status`` values accepted. ``None`` (the default) accepts any
            non-empty status, because status names and numeric ids differ in every MiniCRM system.
        strict: Treat rule warnings (EAN check digit, Issued after Prompt...) as errors.
        numbers_as_text: Which numbers a text field (``Name``, ``PostalCode``...) takes from JSON records:
            ``integers`` (the default: ``1042`` is written ``1042``), ``all`` (also ``10.50``, written as read)
            or ``none``. Any other number is a ``wrong-type`` error, as its text is not certain (``10.50`` or
            ``10.5``? ``1e3`` or ``1000``?).
        vat_fractions: VAT values between 0 and 1 are fractions (``0.27`` is written ``27%``). Off by default:
            such a value is then an error (``vat-fraction``), as ``0.27%`` would pass every check unnoticed.
        timezone: The IANA time zone MiniCRM's times are in (``Europe/Budapest``, the zone of MiniCRM's own
            plugin): a timestamp with an offset (``+02``, ``Z``, an aware datetime) is written as its local time
            there. Times without an offset are taken as local already.
        schema: What one MiniCRM system holds (``xmlsync minicrm schema``): with it every record, and every
            feed validated, is also checked against that system's statuses, users and card fields. Not part of
            the config's identity (two configs that differ only here compare equal).
        offer_api: The constants of the Offer JSON API's body that differ from its defaults (``Type``,
            ``Media``, ``VATMode``, ``Accounting``; a profile's ``[offer_api]``), as (name, value) pairs.
    """

    pretty: bool = True
    clean_text: bool = False
    vat_codes: frozenset[str] = frozenset()
    statuses: frozenset[str] | None = None
    strict: bool = False
    numbers_as_text: NumbersAsText = "integers"
    vat_fractions: bool = False
    timezone: str = "Europe/Budapest"
    schema: SystemSchema | None = field(default=None, compare=False)
    offer_api: tuple[tuple[str, str], ...] = ()
