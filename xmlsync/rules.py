"""Business rules the XSD cannot express, checked per ``<Project>`` with state across the feed.

``build`` and ``validate`` run the same rules, so a build never writes a file that ``validate`` rejects.
Errors make a feed invalid; warnings do not, unless ``strict`` turns them into errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import cast

from lxml import etree

from xmlsync.errors import Issue, Severity
from xmlsync.paths import element_line, record_label
from xmlsync.seen import Place, SeenIds

# Active ISO 4217 codes that are money (test codes, funds units and precious metals left out).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
    PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND
    TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - a list of 170 codes reads better as text
)
# Elements of a Project whose names a custom card field (after <Offers>) must not take.
PROJECT_ELEMENTS = frozenset({"Name", "CategoryId", "StatusId", "UserId", "Business", "Contacts", "Offers"})
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?%")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DATE_PARTS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?: ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?")
# The XSD's date pattern: a value that matches it but is no calendar date (2021-02-30) breaks a rule.
_DATE_SHAPE = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?"
)
_PRODUCT_IDS = etree.XPath("Product/@Id")
_PRODUCT_EANS = etree.XPath("Product/EAN/text()")
_PRODUCT_VAT_CODES = etree.XPath("Product/VAT[not(contains(., '%'))]/text()")
_EMAIL_VALUES = etree.XPath("Emails/Email/Value/text()")
_IssueFactory = Callable[[str, Severity, str, etree._Element, str], Issue]


@dataclass(frozen=True)
class RuleConfig:
    """Options of the business rules.

    Args:
        vat_codes: VAT values other than ``N%`` that are accepted without a warning (e.g. ``KBAUK``).
        strict: Report warnings as errors.
    """

    vat_codes: frozenset[str] = frozenset()
    strict: bool = False


def ean_check_digit_ok(code: str) -> bool:
    """Return whether an EAN-8/13 (or GTIN-12/14) code has a correct check digit."""
    digits = [int(c) for c in code]
    body = reversed(digits[:-1])
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return (10 - total % 10) % 10 == digits[-1]


def _is_gtin(code: str) -> bool:
    return code.isdigit() and len(code) in (8, 12, 13, 14)


def _parse_date(text: str) -> date | None:
    """Return the calendar date of a ``YYYY-MM-DD[ HH:MM:SS]`` value, or ``None`` if there is none."""
    match = _DATE_PARTS.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _describe(place: Place, current: str | None) -> str:
    where = f"{place.source}: " if place.source and place.source != current else ""
    line = f" (line {place.line})" if place.line else ""
    return f"{where}{place.path}{line}"


class FeedRules:
    """Checks one project after another, remembering Ids across the feed.

    Ids are kept in :class:`~xmlsync.seen.SeenIds`, so memory stays flat however long the feed is; call
    :meth:`close` (or use the object as a context manager) when done.

    Args:
        config: Which VAT codes are accepted and whether warnings are errors.
    """

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()
        self._seen = SeenIds()

    def __enter__(self) -> FeedRules:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the Id store."""
        self._seen.close()

    def check(self, project: etree._Element, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Yield the rule violations of one ``<Project>`` element standing at ``path``."""
        strict = self.config.strict

        def issue(code: str, severity: Severity, message: str, el: etree._Element, at: str) -> Issue:
            if severity == "warning" and strict:
                severity = "error"
            return Issue(code, message, source, record_label(el), at, element_line(el), severity=severity)

        project_id = project.get("Id")
        if project_id is not None:
            first = self._seen.first("project", project_id, Place(path, element_line(project), source))
            if first is not None:
                yield issue(
                    "duplicate-project-id",
                    "error",
                    f"Project Id {project_id} is used again; first at {_describe(first, source)}. MiniCRM upserts"
                    " cards by Id, so the later one would overwrite the earlier: give each card its own Id",
                    project,
                    f"{path}/@Id",
                )
        seen_offers = False
        for el in project:
            tag = el.tag
            if tag == "Offers":
                seen_offers = True
                for position, offer in enumerate(el.iterchildren("Offer"), start=1):
                    yield from self._offer(offer, f"{path}/Offers/Offer[{position}]", source, issue)
            elif tag == "Business":
                yield from self._emails(el, f"{path}/Business", issue)
            elif tag == "Contacts":
                for position, contact in enumerate(el.iterchildren("Contact"), start=1):
                    yield from self._emails(contact, f"{path}/Contacts/Contact[{position}]", issue)
            elif seen_offers and isinstance(tag, str) and tag in PROJECT_ELEMENTS:
                yield issue(
                    "misplaced-element",
                    "error",
                    f"<{tag}> after <Offers> would be read as a custom card field; write it once, in its documented"
                    " place before <Offers>",
                    el,
                    f"{path}/{tag}",
                )

    def _offer(self, offer: etree._Element, path: str, source: str | None, issue: _IssueFactory) -> Iterator[Issue]:
        offer_id = offer.get("Id")
        if offer_id is not None:
            first = self._seen.first("offer", offer_id, Place(path, element_line(offer), source))
            if first is not None:
                yield issue(
                    "duplicate-offer-id",
                    "error",
                    f"Offer Id {offer_id} is used again; first at {_describe(first, source)}. Give each offer its"
                    " own Id",
                    offer,
                    f"{path}/@Id",
                )
        dates: dict[str, date] = {}
        for el in offer:
            tag = el.tag
            if tag == "CurrencyCode":
                currency = el.text
                if currency and len(currency) == 3 and currency.isupper() and currency not in ISO_4217:
                    yield issue(
                        "unknown-currency",
                        "error",
                        f"CurrencyCode {currency!r} is not an ISO 4217 currency; use a code such as HUF, EUR or RON",
                        el,
                        f"{path}/CurrencyCode",
                    )
            elif tag in ("Prompt", "Performance", "Issued"):
                text = el.text or ""
                parsed = _parse_date(text)
                if parsed is not None:
                    dates[str(tag)] = parsed
                elif _DATE_SHAPE.fullmatch(text):
                    yield issue(
                        "invalid-date",
                        "error",
                        f"<{tag}> {text!r} is not a calendar date; check the day and month",
                        el,
                        f"{path}/{tag}",
                    )
            elif tag == "Products":
                yield from self._products(el, f"{path}/Products", issue)
        issued, prompt = dates.get("Issued"), dates.get("Prompt")
        if issued is not None and prompt is not None and issued > prompt:
            yield issue(
                "issued-after-prompt",
                "warning",
                f"<Issued> ({offer.findtext('Issued')}) is after <Prompt> ({offer.findtext('Prompt')}); an offer"
                " is normally issued before its deadline: check both dates",
                cast(etree._Element, offer.find("Issued")),
                f"{path}/Issued",
            )

    def _products(self, products: etree._Element, path: str, issue: _IssueFactory) -> Iterator[Issue]:
        # Fast path: three XPath calls tell whether any product rule can fire; only then walk the products.
        ids = cast(list[str], _PRODUCT_IDS(products))
        eans = cast(list[str], _PRODUCT_EANS(products))
        codes = cast(list[str], _PRODUCT_VAT_CODES(products))
        if (
            len(set(ids)) == len(ids)
            and all(not _is_gtin(ean) or ean_check_digit_ok(ean) for ean in eans)
            and all(code in self.config.vat_codes for code in codes)
        ):
            return
        yield from self._locate_product_issues(products, path, issue)

    def _locate_product_issues(self, products: etree._Element, path: str, issue: _IssueFactory) -> Iterator[Issue]:
        ids: dict[str, int] = {}
        vat_codes = self.config.vat_codes
        for position, product in enumerate(products.iterchildren("Product"), start=1):
            here = f"{path}/Product[{position}]"
            product_id = product.get("Id")
            if product_id is not None:
                first = ids.setdefault(product_id, position)
                if first != position:
                    yield issue(
                        "duplicate-product-id",
                        "error",
                        f"Product Id {product_id} appears twice in this offer (also Product[{first}]); merge the lines"
                        " (add up Quantity) or give them different Ids",
                        product,
                        f"{here}/@Id",
                    )
            for el in product:
                tag = el.tag
                value = el.text
                if tag == "EAN" and value and _is_gtin(value):
                    if not ean_check_digit_ok(value):
                        yield issue(
                            "ean-check-digit",
                            "warning",
                            f"EAN {value} has a wrong check digit; check the code (or leave EAN out)",
                            el,
                            f"{here}/EAN",
                        )
                elif tag == "VAT" and value and not _PERCENT.fullmatch(value) and value not in vat_codes:
                    yield issue(
                        "vat-code",
                        "warning",
                        f"VAT {value!r} is not a percentage; MiniCRM documents only values like 27% for XML Sync"
                        " (accept the code with --vat-code)",
                        el,
                        f"{here}/VAT",
                    )

    def _emails(self, owner: etree._Element, path: str, issue: _IssueFactory) -> Iterator[Issue]:
        if all(_EMAIL.fullmatch(value.strip()) for value in cast(list[str], _EMAIL_VALUES(owner)) if value.strip()):
            return
        emails = owner.find("Emails")
        if emails is None:
            return
        for position, email in enumerate(emails.iterchildren("Email"), start=1):
            value_el = email.find("Value")
            value = (value_el.text or "").strip() if value_el is not None else ""
            if value_el is not None and value and not _EMAIL.fullmatch(value):
                yield issue(
                    "invalid-email",
                    "warning",
                    f"{value!r} does not look like an e-mail address (name@domain.tld)",
                    value_el,
                    f"{path}/Emails/Email[{position}]/Value",
                )
