"""Business rules the XSD cannot express, checked per ``<Project>`` with state across the feed.

``build`` and ``validate`` run the same rules, so a build never writes a file that ``validate`` rejects.
Errors make a feed invalid; warnings do not, unless ``strict`` turns them into errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, cast

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
_PRODUCT_VATS = etree.XPath("Product/VAT/text()")
_EMAIL_VALUES = etree.XPath("Emails/Email/Value/text()")
_IssueFactory = Callable[[str, Severity, str, etree._Element, str], Issue]
_DATE_TAGS = frozenset({"Prompt", "Performance", "Issued"})
# Elements read by the rules other than the Ids; see FeedRules._suspect.
_WATCHED = ("Offer", "CurrencyCode", "Prompt", "Performance", "Issued", "Products", "Product", "EAN", "VAT", "Email")
_GOOD_VALUES = 20_000  # values remembered as good (EANs, VAT rates, dates...) before the memory is cleared
_OFFERS = etree.XPath("Offers/Offer")
_MISPLACED_TEST = " or ".join(f"self::{tag}" for tag in sorted(PROJECT_ELEMENTS))
_MISPLACED = etree.XPath(f"boolean(Offers/following-sibling::*[{_MISPLACED_TEST}])")
# Over a batch (a container of <Project> elements): what only the exact walk can judge, and the values
# checked one by one, each distinct value once. Values are gathered from every element of those names,
# custom fields included: a superset of what the rules read, which at worst costs an exact walk.
_BATCH_FLAGS = etree.XPath(
    "boolean("
    "Project/Offers/Offer[count(Issued) > 1 or count(Prompt) > 1"
    " or number(translate(substring(Issued, 1, 10), '-', '')) > number(translate(substring(Prompt, 1, 10), '-', ''))]"
    f" | Project/Offers/following-sibling::*[{_MISPLACED_TEST}]"
    ")"
)
_BATCH_TAGS = ("EAN", "VAT", "CurrencyCode", "Prompt", "Performance", "Issued")
_BATCH_EMAILS = etree.XPath(".//Email/Value/text()", smart_strings=False)


class ProjectIds(NamedTuple):
    """The Ids of a ``<Project>`` and of its offers, with their lines, for the duplicate checks."""

    project: str | None
    line: int | None
    offers: tuple[tuple[str | None, int | None], ...]


def project_ids(project: etree._Element) -> ProjectIds:
    """Return the Ids of ``project`` and of its ``Offers/Offer`` elements."""
    offers = cast(list[etree._Element], _OFFERS(project))
    return ProjectIds(
        project.get("Id"), element_line(project), tuple((offer.get("Id"), element_line(offer)) for offer in offers)
    )


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
    """Return whether an EAN-8/13 (or GTIN-12/14) code of ASCII digits has a correct check digit."""
    digits = code.encode("ascii")
    # From the right, after the check digit: weights 3, 1, 3, 1... (a digit's byte is 48 + its value)
    threes, ones = digits[-2::-2], digits[-3::-2]
    total = 3 * (sum(threes) - 48 * len(threes)) + sum(ones) - 48 * len(ones)
    return (10 - total % 10) % 10 == digits[-1] - 48


def _is_gtin(code: str) -> bool:
    # isdigit() alone also takes other scripts' digits and signs such as "²", which are no GTIN.
    return len(code) in (8, 12, 13, 14) and code.isascii() and code.isdigit()


def _parse_date(text: str) -> date | None:
    """Return the calendar date of a ``YYYY-MM-DD[ HH:MM:SS]`` value, or ``None`` if there is none."""
    match = _DATE_PARTS.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _issued_after_prompt(dates: dict[str, date]) -> bool:
    issued, prompt = dates.get("Issued"), dates.get("Prompt")
    return issued is not None and prompt is not None and issued > prompt


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
        # Values found good, by (tag, value), with their verdict (True, or a date): shared by the batch and
        # the single-project checks. Bad values are not kept: they are rare and cost an exact walk anyway.
        self._good: dict[tuple[str, str], bool | date] = {}

    def __enter__(self) -> FeedRules:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the Id store."""
        self._seen.close()

    def check(self, project: etree._Element, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Yield the rule violations of one ``<Project>`` element standing at ``path``.

        The same as :meth:`record_ids` followed by :meth:`content`.
        """
        yield from self.record_ids(project, path, source=source)
        yield from self.content(project, path, source=source)

    def _factory(self, source: str | None) -> _IssueFactory:
        strict = self.config.strict

        def issue(code: str, severity: Severity, message: str, el: etree._Element, at: str) -> Issue:
            if severity == "warning" and strict:
                severity = "error"
            return Issue(code, message, source, record_label(el), at, element_line(el), severity=severity)

        return issue

    def record_ids(self, project: etree._Element, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Record the Project and Offer Ids of ``project`` and yield those used before in the feed.

        Call it for every project, in feed order: it is the part of the rules that has state.
        """
        return self.check_ids(project_ids(project), path, source=source)

    def check_ids_batch(self, projects: Sequence[tuple[ProjectIds, str, str | None]]) -> list[list[Issue]]:
        """Like :meth:`check_ids` for ``(ids, path, source)`` of consecutive projects, returning their issues.

        If no Id of the batch was seen before (the usual case), all are recorded in one step.
        """
        entries: list[tuple[str, str, Place]] = []
        for ids, path, source in projects:
            if ids.project is not None:
                entries.append(("project", ids.project, Place(path, ids.line, source)))
            for position, (offer_id, line) in enumerate(ids.offers, start=1):
                if offer_id is not None:
                    entries.append(("offer", offer_id, Place(f"{path}/Offers/Offer[{position}]", line, source)))
        if self._seen.add_new(entries):
            return [[] for _ in projects]
        return [list(self.check_ids(ids, path, source=source)) for ids, path, source in projects]

    def check_ids(self, ids: ProjectIds, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Like :meth:`record_ids`, from the Ids alone (a build checks them apart from the tree)."""
        label = f"Project {ids.project}" if ids.project is not None else "Project"
        if ids.project is not None:
            first = self._seen.first("project", ids.project, Place(path, ids.line, source))
            if first is not None:
                yield Issue(
                    "duplicate-project-id",
                    f"Project Id {ids.project} is used again; first at {_describe(first, source)}. MiniCRM upserts"
                    " cards by Id, so the later one would overwrite the earlier: give each card its own Id",
                    source,
                    label,
                    f"{path}/@Id",
                    ids.line,
                )
        for position, (offer_id, line) in enumerate(ids.offers, start=1):
            if offer_id is None:
                continue
            at = f"{path}/Offers/Offer[{position}]"
            first = self._seen.first("offer", offer_id, Place(at, line, source))
            if first is not None:
                yield Issue(
                    "duplicate-offer-id",
                    f"Offer Id {offer_id} is used again; first at {_describe(first, source)}. Give each offer its own"
                    " Id",
                    source,
                    f"{label} > Offer {offer_id}",
                    f"{at}/@Id",
                    line,
                )

    def content(self, project: etree._Element, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Yield the violations of every rule but the Ids in ``project``; it has no state.

        One pass over the elements those rules read tells whether any of them may be broken (values
        already found good are remembered); only then are the project's elements walked one by one to
        say exactly where.
        """
        if _MISPLACED(project) or self._suspect(project):
            yield from self._locate(project, path, self._factory(source))

    def batch_clean(self, container: etree._Element) -> bool:
        """Return ``True`` if no ``<Project>`` child of ``container`` can break a rule but the Ids.

        A few XPath queries over the whole batch, answered by libxml2, and the values they return checked
        against those already found good: for a clean batch, :meth:`content` need not run at all. ``False``
        only means that :meth:`content` must look at each project.
        """
        if _BATCH_FLAGS(container):
            return False
        for products in container.iterfind("Project/Offers/Offer/Products"):
            ids = cast(list[str], _PRODUCT_IDS(products))
            if len(set(ids)) != len(ids):  # a duplicate product Id (an XPath would compare n x n)
                return False
        values = {(str(el.tag), el.text or "") for el in container.iter(*_BATCH_TAGS)}
        values.update(("Email", value.strip()) for value in cast(list[str], _BATCH_EMAILS(container)))
        return all(self._remember(tag, value) is not False for tag, value in values - self._good.keys())

    def _suspect(self, project: etree._Element) -> bool:
        """Return whether any rule but the Ids may be broken in ``project``.

        It visits every element those rules read (and maybe more: a custom field named ``VAT``), so a
        ``False`` is certain; a ``True`` only means the exact walk must look.
        """
        good = self._good
        dates: dict[str, date] = {}  # of the current offer
        product_ids: set[str] = set()  # of the current <Products>
        for el in project.iter(*_WATCHED):
            tag = str(el.tag)
            if tag == "Product":
                product_id = el.get("Id")
                if product_id is not None:
                    if product_id in product_ids:
                        return True
                    product_ids.add(product_id)
                continue
            if tag == "Products":
                product_ids = set()
                continue
            if tag == "Offer":
                if _issued_after_prompt(dates):
                    return True
                dates = {}
                continue
            if tag == "Email":
                values = [(child.text or "").strip() for child in el if child.tag == "Value"]
            else:
                values = [el.text or ""]
            for value in values:
                verdict = good.get((tag, value))
                if verdict is None:
                    verdict = self._remember(tag, value)
                if verdict is False:
                    return True
                if verdict is not True and tag in _DATE_TAGS:
                    if tag in dates:
                        return True  # two of one date in an offer: let the exact walk sort it out
                    dates[tag] = verdict
        return _issued_after_prompt(dates)

    def _remember(self, tag: str, value: str) -> bool | date:
        """Return :meth:`_good_value` of a value, remembering it if it is good (up to _GOOD_VALUES values)."""
        verdict = self._good_value(tag, value)
        if verdict is not False:
            if len(self._good) >= _GOOD_VALUES:
                self._good.clear()
            self._good[(tag, value)] = verdict
        return verdict

    def _good_value(self, tag: str, value: str) -> bool | date:
        """Return ``False`` if the value of a ``tag`` element breaks a rule; for a good date, the date."""
        if tag == "EAN":
            return not (_is_gtin(value) and not ean_check_digit_ok(value))
        if tag == "VAT":
            return not value or bool(_PERCENT.fullmatch(value)) or value in self.config.vat_codes
        if tag == "Email":
            return not value or bool(_EMAIL.fullmatch(value))
        if tag == "CurrencyCode":
            return not (len(value) == 3 and value.isupper() and value not in ISO_4217)
        parsed = _parse_date(value)  # Prompt, Performance, Issued
        if parsed is None:
            return not _DATE_SHAPE.fullmatch(value)
        return parsed

    def _locate(self, project: etree._Element, path: str, issue: _IssueFactory) -> Iterator[Issue]:
        """Walk the project and yield each broken rule (but the Ids) with its exact place."""
        seen_offers = False
        for el in project:
            tag = el.tag
            if tag == "Offers":
                seen_offers = True
                for position, offer in enumerate(el.iterchildren("Offer"), start=1):
                    yield from self._offer(offer, f"{path}/Offers/Offer[{position}]", issue)
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

    def _offer(self, offer: etree._Element, path: str, issue: _IssueFactory) -> Iterator[Issue]:
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
            elif tag in _DATE_TAGS:
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
        if _issued_after_prompt(dates):
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
        rates = cast(list[str], _PRODUCT_VATS(products))
        if (
            len(set(ids)) == len(ids)
            and all(self._good_value("EAN", ean) for ean in eans)
            and all(self._good_value("VAT", rate) for rate in rates)
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
