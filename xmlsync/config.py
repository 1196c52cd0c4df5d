"""Options that steer normalisation and output, passed from the CLI to the library in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from xmlsync.minicrm import SystemSchema

NumbersAsText = Literal["integers", "all", "none"]
DEFAULT_BASE_URL = "https://r3.minicrm.hu"  # MiniCRM's address for push (the system's own, or a proxy, can be given)


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
