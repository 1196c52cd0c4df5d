"""Business rules the XSD cannot express: a table of small rules and one :class:`Checker` that applies them.

The rules on one value are the value kinds' ``check`` (:mod:`xmlsync.kinds`: ISO 4217 currency codes,
calendar dates, EAN check digits, VAT codes, e-mail addresses). The rules on more than one value are the
functions below, each next to its code and message: two dates of an offer, product Ids within an offer,
documented elements after ``<Offers>``, and Project and Offer Ids across the feed.

``build`` and ``validate`` run the same rules with the same options (:class:`~xmlsync.config.BuildConfig`),
so a build never writes a file that ``validate`` rejects. Errors make a feed invalid; warnings do not,
unless ``strict`` turns them into errors. The :class:`Checker` owns the only cache of values found good
and the only store of Ids; an issue's path and line are worked out only when a rule fires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, cast

from lxml import etree

from xmlsync import fields
from xmlsync.config import BuildConfig
from xmlsync.errors import Issue, Severity
from xmlsync.fields import OFFER, PRODUCT, PROJECT, PROJECT_ELEMENTS, Leaf, Node, Values
from xmlsync.kinds import ISO_4217, Kind, Verdict, ean_check_digit_ok, parse_date
from xmlsync.paths import element_line, record_label
from xmlsync.seen import Place, SeenIds

__all__ = ["ISO_4217", "PROJECT_ELEMENTS", "Checker", "FeedRules", "RuleConfig", "ean_check_digit_ok"]

RuleConfig = BuildConfig  # the options of the rules are options of the build, read in one place
_GOOD_VALUES = 20_000  # values remembered as good (EANs, VAT rates, dates...) before the memory is cleared
_IssueFactory = Callable[[str, Severity, str, etree._Element, str], Issue]


def _checked_kinds(node: Node, found: dict[str, Kind]) -> dict[str, Kind]:
    """Return element tag -> kind of every value the rules or the XSD's facets read (from the field table)."""
    for child in node.children:
        if isinstance(child, Leaf) and (type(child.kind).check is not Kind.check or child.kind.facet is not None):
            found[child.tag] = child.kind
        elif isinstance(child, Values) and type(child.kind).check is not Kind.check:
            found[child.item] = child.kind
        elif isinstance(child, Node):
            _checked_kinds(child, found)
    return found


KINDS = _checked_kinds(PROJECT, {})  # CurrencyCode, Prompt, Performance, Issued, EAN, VAT, Email...
_PROMPT, _ISSUED, _PRODUCTS = (OFFER.children.index(OFFER.child(tag)) for tag in ("Prompt", "Issued", "Products"))


# -- the rules on more than one value -----------------------------------------------------------------


def issued_after_prompt(issued: str | None, prompt: str | None) -> str | None:
    """``issued-after-prompt`` (warning): an offer is normally issued before its deadline."""
    issued_on, prompt_on = parse_date(issued or ""), parse_date(prompt or "")
    if issued_on is None or prompt_on is None or issued_on <= prompt_on:
        return None
    return (
        f"<Issued> ({issued}) is after <Prompt> ({prompt}); an offer is normally issued before its deadline: check"
        " both dates"
    )


def duplicate_product(product_id: str, first: int) -> str:
    """``duplicate-product-id`` (error): one Id twice in an offer's products; MiniCRM keeps one line."""
    return (
        f"Product Id {product_id} appears twice in this offer (also Product[{first}]); merge the lines (add up"
        " Quantity) or give them different Ids"
    )


def misplaced(tag: str) -> str:
    """``misplaced-element`` (error): a documented element after ``<Offers>`` reads as a custom field."""
    return (
        f"<{tag}> after <Offers> would be read as a custom card field; write it once, in its documented place"
        " before <Offers>"
    )


def duplicate_project(ident: str, first: str) -> str:
    """``duplicate-project-id`` (error): MiniCRM upserts cards by Id."""
    return (
        f"Project Id {ident} is used again; first at {first}. MiniCRM upserts cards by Id, so the later one would"
        " overwrite the earlier: give each card its own Id"
    )


def duplicate_offer(ident: str, first: str) -> str:
    """``duplicate-offer-id`` (error): each offer needs its own Id."""
    return f"Offer Id {ident} is used again; first at {first}. Give each offer its own Id"


class ProjectIds(NamedTuple):
    """The Ids of a ``<Project>`` and of its offers, with their lines, for the duplicate checks."""

    project: str | None
    line: int | None
    offers: tuple[tuple[str | None, int | None], ...]


_OFFERS = etree.XPath("Offers/Offer")
_MISPLACED_TEST = " or ".join(f"self::{tag}" for tag in sorted(PROJECT_ELEMENTS))
_MISPLACED = etree.XPath(f"boolean(Offers/following-sibling::*[{_MISPLACED_TEST}])")
# Over a batch: what only the exact walk can judge; the values are then checked one by one, each once.
_BATCH_FLAGS = etree.XPath(
    "boolean("
    "Project/Offers/Offer[count(Issued) > 1 or count(Prompt) > 1"
    " or number(translate(substring(Issued, 1, 10), '-', '')) > number(translate(substring(Prompt, 1, 10), '-', ''))]"
    f" | Project/Offers/following-sibling::*[{_MISPLACED_TEST}]"
    ")"
)
_PRODUCT_IDS = etree.XPath("Product/@Id")
# A product Id twice in an offer: libxml2 compares the lines of short lists (n x n, so at most _SHORT lines);
# the lines of longer ones, rare, are compared here in a set.
_SHORT = 64
_SHORT_DUPLICATE = etree.XPath(
    f"boolean(Project/Offers/Offer/Products[count(Product) <= {_SHORT}]/Product[@Id = following-sibling::Product/@Id])"
)
_LONG_PRODUCTS = etree.XPath(f"Project/Offers/Offer/Products[count(Product) > {_SHORT}]")
# The texts of every element the value rules read, by tag, at its documented places (those _locate checks).
_BATCH_VALUES = {
    tag: etree.XPath(
        " | ".join(
            f"Project/{path}/text()"
            for path, (leaf_kind, _) in fields.elements().items()
            if path.rsplit("/", 1)[-1] == tag or path.endswith(f"/{tag}/Value")
            if leaf_kind is kind
        ),
        smart_strings=False,
    )
    for tag, kind in KINDS.items()
    if type(kind).check is not Kind.check
}


def project_ids(project: etree._Element) -> ProjectIds:
    """Return the Ids of ``project`` and of its ``Offers/Offer`` elements."""
    offers = cast(list[etree._Element], _OFFERS(project))
    return ProjectIds(
        project.get("Id"), element_line(project), tuple((offer.get("Id"), element_line(offer)) for offer in offers)
    )


def _describe(place: Place, current: str | None) -> str:
    where = f"{place.source}: " if place.source and place.source != current else ""
    line = f" (line {place.line})" if place.line else ""
    return f"{where}{place.path}{line}"


class Checker:
    """Applies the rules to one project after another, remembering Ids across the feed.

    Ids are kept in :class:`~xmlsync.seen.SeenIds`, so memory stays flat however long the feed is; call
    :meth:`close` (or use the object as a context manager) when done.

    Args:
        config: Which VAT codes are accepted and whether warnings are errors.
    """

    def __init__(self, config: BuildConfig | None = None) -> None:
        self.config = config or BuildConfig()
        self._seen = SeenIds()
        self._good: dict[tuple[str, str], bool] = {}  # (tag, text) -> whether no rule or facet fails

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the Id store."""
        self._seen.close()

    def reset(self) -> None:
        """Forget the values found good (the Ids stay)."""
        self._good.clear()

    # -- values --------------------------------------------------------------------------------

    def verdict(self, tag: str, text: str) -> Verdict | None:
        """Return the rule the text of a ``tag`` element breaks, if any (its kind's check)."""
        kind = KINDS.get(tag)
        return kind.check(tag, text, self.config) if kind is not None else None

    def good(self, tag: str, text: str) -> bool:
        """Return whether a value breaks no rule and no facet of the XSD; good values are remembered."""
        known = self._good.get((tag, text))
        if known is not None:
            return known
        kind = KINDS[tag]
        ok = (kind.facet is None or bool(kind.facet(text))) and kind.check(tag, text, self.config) is None
        if len(self._good) >= _GOOD_VALUES:
            self._good.clear()
        self._good[(tag, text)] = ok
        return ok

    # -- elements (validate, and what a build could not vouch for) -----------------------------

    def _factory(self, source: str | None) -> _IssueFactory:
        strict = self.config.strict

        def issue(code: str, severity: Severity, message: str, el: etree._Element, at: str) -> Issue:
            if severity == "warning" and strict:
                severity = "error"
            return Issue(code, message, source, record_label(el), at, element_line(el), severity=severity)

        return issue

    def check(self, project: etree._Element, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Yield the rule violations of one ``<Project>`` element standing at ``path`` (Ids included)."""
        yield from self.record_ids(project, path, source=source)
        yield from self.content(project, path, source=source)

    def content(self, project: etree._Element, path: str, *, source: str | None = None) -> Iterator[Issue]:
        """Yield the violations of every rule but the Ids in ``project``; it has no state."""
        yield from self._locate(project, PROJECT, path, self._factory(source))

    def batch_clean(self, container: etree._Element) -> bool:
        """Return ``True`` if no ``<Project>`` child of ``container`` can break a rule but the Ids.

        A few XPath queries over the whole batch, answered by libxml2, and the values they return checked
        against those already found good. ``False`` only means that :meth:`content` must look.
        """
        if _BATCH_FLAGS(container):
            return False
        if _SHORT_DUPLICATE(container):
            return False
        for products in cast(list[etree._Element], _LONG_PRODUCTS(container)):
            ids = cast(list[str], _PRODUCT_IDS(products))
            if len(set(ids)) != len(ids):
                return False
        good, verdict = self.good, self.verdict
        for tag, texts in _BATCH_VALUES.items():
            if not all(
                good(tag, text) or verdict(tag, text) is None for text in set(cast(list[str], texts(container)))
            ):
                return False
        return True

    def _locate(self, el: etree._Element, node: Node, path: str, issue: _IssueFactory) -> Iterator[Issue]:
        """Walk an element along its node of the field table; yield each broken rule (but the Ids) where it is.

        Values are checked where the table has a kind with a rule; the rules on several values are run on
        the records that hold them (a Project's misplaced elements, an Offer's dates, a list of Products).
        """
        fields = node.by_tag
        seen: dict[str, etree._Element] = {}
        for child in el:
            tag = child.tag
            field = fields.get(tag) if isinstance(tag, str) else None
            if node is PROJECT and tag in PROJECT_ELEMENTS and "Offers" in seen:
                yield issue("misplaced-element", "error", misplaced(str(tag)), child, f"{path}/{tag}")
            if field is None:
                continue
            here = f"{path}/{tag}"
            if isinstance(field, Leaf):
                seen.setdefault(str(tag), child)
                if tag in KINDS and (found := self.verdict(str(tag), child.text or "")) is not None:
                    yield issue(found.code, cast(Severity, found.severity), found.message, child, here)
            elif isinstance(field, Values) and field.item in KINDS:
                for position, item in enumerate(child.iterchildren(field.item), start=1):
                    value = item.find("Value")
                    if value is not None and (found := self.verdict(field.item, value.text or "")) is not None:
                        at = f"{here}/{field.item}[{position}]/Value"
                        yield issue(found.code, cast(Severity, found.severity), found.message, value, at)
            elif isinstance(field, Node) and field.item is None:
                seen.setdefault(str(tag), child)
                yield from self._locate(child, field, here, issue)
            elif isinstance(field, Node):
                seen.setdefault(str(tag), child)
                ids: dict[str, int] = {}
                for position, item in enumerate(child.iterchildren(field.item), start=1):
                    at = f"{here}/{field.item}[{position}]"
                    ident = item.get("Id")
                    if field is PRODUCT and ident is not None and ids.setdefault(ident, position) != position:
                        message = duplicate_product(ident, ids[ident])
                        yield issue("duplicate-product-id", "error", message, item, f"{at}/@Id")
                    yield from self._locate(item, field, at, issue)
        issued, prompt = seen.get("Issued"), seen.get("Prompt")
        if node is OFFER and issued is not None and prompt is not None:
            late = issued_after_prompt(issued.text, prompt.text)
            if late is not None:
                yield issue("issued-after-prompt", "warning", late, issued, f"{path}/Issued")

    # -- Ids across the feed -------------------------------------------------------------------

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
                message = duplicate_project(ids.project, _describe(first, source))
                yield Issue("duplicate-project-id", message, source, label, f"{path}/@Id", ids.line)
        for position, (offer_id, line) in enumerate(ids.offers, start=1):
            if offer_id is None:
                continue
            at = f"{path}/Offers/Offer[{position}]"
            first = self._seen.first("offer", offer_id, Place(at, line, source))
            if first is not None:
                message = duplicate_offer(offer_id, _describe(first, source))
                yield Issue("duplicate-offer-id", message, source, f"{label} > Offer {offer_id}", f"{at}/@Id", line)


FeedRules = Checker  # the name of earlier releases
