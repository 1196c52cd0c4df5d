"""Business rules the XSD cannot express: a table of small rules and one :class:`Checker` that applies them.

The rules on one value are the value kinds' ``check`` (:mod:`xmlsync.tree.kinds`: ISO 4217 currency codes,
calendar dates, EAN check digits, VAT codes, e-mail addresses). The rules on more than one value are the
functions below, each next to its code and message: two dates of an offer, product Ids within an offer or
order, a card's company or person, a contact's name, and Project, Offer and Order Ids across the feed.

The :class:`Checker` reads a ``<Project>`` as MiniCRM does, children by name in any order, along the field
table (:mod:`xmlsync.tree.fields`): it says every problem of every element, where it is. The bundled XSD is the
canonical form, what ``build`` writes; libxml2 answers for a whole batch at once whether it is, and only
projects of a batch that is not are read here element by element (:mod:`xmlsync.validate`).

``build`` and ``validate`` run the same rules with the same options (:class:`~xmlsync.config.BuildConfig`),
so a build never writes a file that ``validate`` rejects. Errors make a feed invalid; warnings do not,
unless ``strict`` turns them into errors. The :class:`Checker` owns the only cache of values found good
and the only store of Ids; an issue's path and line are worked out only when a rule fires.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, cast

from lxml import etree

from xmlsync.config import BuildConfig
from xmlsync.errors import Issue, Severity
from xmlsync.idstore import Place, SeenIds
from xmlsync.schema import type_help
from xmlsync.tree.fields import CONTACT, OFFER, PROJECT, PROJECT_ELEMENTS, Custom, Leaf, Node, Values
from xmlsync.tree.kinds import ISO_4217, Kind, canonical_date, ean_check_digit_ok, field_name_ok, parse_date, show
from xmlsync.tree.paths import element_line, record_label

__all__ = ["ISO_4217", "PROJECT_ELEMENTS", "Checker", "FeedRules", "RuleConfig", "ean_check_digit_ok"]

RuleConfig = BuildConfig  # the options of the rules are options of the build, read in one place
_GOOD_VALUES = 10_000  # values of a tag remembered as good (EANs, VAT rates, dates...) before they are forgotten
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


# -- the rules on more than one value -----------------------------------------------------------------


class RecordRule(NamedTuple):
    """A rule on several values of one record, said once in :data:`RECORD_RULES`.

    Every reader takes it from there: the full walk of a build (its errors), the build's generated first try
    and the batch screen of ``validate`` (as a guard: a record that may break it is looked at closely), and
    the exact element walk (every rule, where it stands). Each gives ``broken`` the values it ``reads``, as
    the rules see them: a leaf as its text (``None`` when absent), a record (``Business``) as whether it is
    there, a list (``Contacts``) as the number of its items.

    Args:
        node: The field table's node whose record it reads.
        reads: Tags of the node's children it reads.
        code: The issue's stable code.
        severity: ``error`` or ``warning``.
        broken: The values -> the message when the rule is broken, else ``None``.
        at: The child the issue stands at; ``None``: the record's own element.
        suspect: A cheap test the values pass whenever the rule is broken (``None``: ``broken`` is the test):
            the first try and the screen call ``broken`` only where it holds.
        xsd: The bundled XSD says it too, so the screen of a batch the XSD found valid leaves it out.
    """

    node: Node
    reads: tuple[str, ...]
    code: str
    severity: Severity
    broken: Callable[..., str | None]
    at: str | None = None
    suspect: Callable[..., bool] | None = None
    xsd: bool = False


def _dates_in_order(earlier: str, later: str, why: str) -> Callable[[str | None, str | None], str | None]:
    """Return the test that the date ``earlier`` is not after the date ``later`` (the time of day aside)."""

    def broken(first: str | None, second: str | None) -> str | None:
        first_on, second_on = parse_date(first or ""), parse_date(second or "")
        if first_on is None or second_on is None or first_on <= second_on:
            return None
        return f"<{earlier}> ({first}) is after <{later}> ({second}); {why}: check both dates"

    return broken


def _after(first: str | None, second: str | None) -> bool:
    """Whether a canonical date may be after another (``YYYY-MM-DD`` texts compare as their dates)."""
    return first is not None and second is not None and first[:10] > second[:10]


def _company_or_person(business: bool, contacts: int) -> str | None:
    if business or contacts:
        return None
    return "a project needs a Business (company) or at least one Contact (person); MiniCRM requires one of them"


def _person_named(first: str | None, last: str | None) -> str | None:
    if (first or "").strip(" \t\n\r") or (last or "").strip(" \t\n\r"):
        return None
    return "a contact needs a FirstName or a LastName; add one"


RECORD_RULES: tuple[RecordRule, ...] = (
    RecordRule(PROJECT, ("Business", "Contacts"), "company-or-person-required", "error", _company_or_person, xsd=True),
    RecordRule(CONTACT, ("FirstName", "LastName"), "missing-element", "error", _person_named, xsd=True),
    RecordRule(
        OFFER, ("Issued", "Prompt"), "issued-after-prompt", "warning",
        _dates_in_order("Issued", "Prompt", "an offer is normally issued before its deadline"), "Issued", _after,
    ),
    RecordRule(
        OFFER, ("Issued", "Performance"), "performance-before-issued", "warning",
        _dates_in_order("Issued", "Performance", "the work is normally done after the offer is made"), "Performance",
        _after,
    ),
)  # fmt: skip


_RULES_OF = {node: tuple(rule for rule in RECORD_RULES if rule.node is node) for node in {r.node for r in RECORD_RULES}}


def rules_of(node: Node) -> tuple[RecordRule, ...]:
    """Return the rules on the records of ``node``, in the table's order."""
    return _RULES_OF.get(node, ())


def duplicate_product(product_id: str, first: int) -> str:
    """``duplicate-product-id`` (error): one Id twice in an offer's products; MiniCRM keeps one line."""
    return (
        f"Product Id {product_id} appears twice in this offer (also Product[{first}]); merge the lines (add up"
        " Quantity) or give them different Ids"
    )


def duplicate_project(ident: str, first: str) -> str:
    """``duplicate-project-id`` (error): MiniCRM upserts cards by Id."""
    return (
        f"Project Id {ident} is used again; first at {first}. MiniCRM upserts cards by Id, so the later one would"
        " overwrite the earlier: give each card its own Id"
    )


def duplicate_offer(ident: str, first: str, what: str = "Offer") -> str:
    """``duplicate-offer-id`` and ``duplicate-order-id`` (errors): each offer and each order needs its own Id."""
    return f"{what} Id {ident} is used again; first at {first}. Give each {what.lower()} its own Id"


class ProjectIds(NamedTuple):
    """The Ids of a ``<Project>`` and of its offers, with their lines, for the duplicate checks."""

    project: str | None
    line: int | None
    offers: tuple[tuple[str | None, int | None], ...]
    orders: tuple[tuple[str | None, int | None], ...] = ()

    def documents(self) -> Iterator[tuple[str, str, str, tuple[tuple[str | None, int | None], ...]]]:
        """Yield the Id store's name, the path step, the element and the ``(Id, line)`` of offers, then orders."""
        yield "offer", "Offers/Offer", "Offer", self.offers
        yield "order", "Orders/Order", "Order", self.orders


_OFFERS = etree.XPath("Offers/Offer")
_ORDERS = etree.XPath("Orders/Order")
_BATCH_IDS = etree.XPath("Project | Project/Offers/Offer | Project/Orders/Order")  # in document order
# The tags of the values a rule reads (an <Email> holds its text in <Value>); the batch check reads them all.
_RULE_TAGS = tuple(tag for tag, kind in KINDS.items() if type(kind).check is not Kind.check)
_DOCUMENTS = frozenset(("Offers", "Orders"))
_NESTED_OFFER_FIELD = etree.XPath("boolean(Project/*/*/Project/*/*)")  # an offer's custom field holding elements
# What a template writes for a value it did not have, as the whole text of an element, seen in producers' feeds.
LEAKS = frozenset({"null", "undefined", "NaN", "[object Object]", "None"})
_ESCAPED = re.compile(r"&(lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")  # markup escaped twice


def _hinted(container: etree._Element) -> bool:
    """Return whether a text of the batch may be a template's placeholder or markup escaped twice."""
    texts = cast(Iterator[str], container.itertext())
    return any(text in LEAKS or ("&" in text and _ESCAPED.search(text)) for text in texts)


def text_hint(tag: str, text: str) -> tuple[str, str] | None:
    """Return the code and message of a text that a producer's bug left: a template's placeholder, or markup
    escaped twice (``&lt;p&gt;``, which MiniCRM shows as it stands)."""
    if text.strip() in LEAKS:
        return (
            "template-leak",
            f"<{tag}> holds {text.strip()!r}, what a template writes for a value it did not have; leave the element"
            " out, or give the value",
        )
    if _ESCAPED.search(text):
        return (
            "escaped-markup",
            f"<{tag}> holds {show(text)}: markup escaped twice, which MiniCRM shows as it stands; escape it once",
        )
    return None


_CARD_FIELDS = etree.XPath("Project[*[last()][not(self::Offers or self::Orders)]]")  # cards with custom fields


def project_ids(project: etree._Element) -> ProjectIds:
    """Return the Ids of ``project`` and of its ``Offers/Offer`` elements."""
    offers = cast(list[etree._Element], _OFFERS(project))
    orders = cast(list[etree._Element], _ORDERS(project))
    return ProjectIds(
        project.get("Id"),
        element_line(project),
        tuple((offer.get("Id"), element_line(offer)) for offer in offers),
        tuple((order.get("Id"), element_line(order)) for order in orders),
    )


def batch_ids(container: etree._Element) -> list[ProjectIds]:
    """Return :func:`project_ids` of each ``<Project>`` child of ``container``, in one query."""
    found: list[ProjectIds] = []
    offers: list[tuple[str | None, int | None]] = []
    orders: list[tuple[str | None, int | None]] = []
    for el in cast(list[etree._Element], _BATCH_IDS(container)):
        if el.tag == "Project":
            offers, orders = [], []
            found.append(ProjectIds(el.get("Id"), element_line(el), offers, orders))  # type: ignore[arg-type]
        else:
            (offers if el.tag == "Offer" else orders).append((el.get("Id"), element_line(el)))
    return [ids._replace(offers=tuple(ids.offers), orders=tuple(ids.orders)) for ids in found]


# Fields of MiniCRM's REST Contact that a third party writes straight into <Contact>; MiniCRM's own plugin nests
# e-mails and phones, which is the form this tool writes.
_FLAT_CONTACT = {
    "Email": "MiniCRM's own plugin writes <Emails><Email><Value>...</Value></Email></Emails>",
    "Phone": "MiniCRM's own plugin writes <Phones><Phone><Value>...</Value></Phone></Phones>",
    "Name": "MiniCRM's own plugin writes <FirstName> and <LastName>",
    "Type": "a <Contact> is always a person, so it can be left out",
}


def _unknown(child: etree._Element, parent: etree._Element, holds: str, at: str, issue: _IssueFactory) -> Issue:
    message = f"<{child.tag}> is not part of the format in <{parent.tag}>; {holds}: MiniCRM would not read it"
    return issue("unexpected-element", "error", message, child, at)


def _unknown_attribute(el: etree._Element, name: str, at: str, issue: _IssueFactory) -> Issue:
    message = f"<{el.tag}> has an unknown attribute {name}; remove it"
    return issue("unexpected-attribute", "error", message, el, f"{at}/@{name}")


def _attributes(el: etree._Element, node: Node, path: str, issue: _IssueFactory) -> Iterator[Issue]:
    for name in el.attrib:
        if name != "Id" or node.ident is None:
            yield _unknown_attribute(el, str(name), path, issue)
    if node.ident is None:
        return
    ident = el.get("Id")
    if ident is None:
        if node.ident_required:
            yield issue("missing-attribute", "error", f'<{el.tag}> has no Id attribute; add Id="..."', el, path)
    elif not node.ident.form(ident):
        message = f"Id of <{el.tag}> is {show(ident)}; expected {type_help(node.ident.xsd)}"
        yield issue("invalid-value", "error", message, el, f"{path}/@Id")


def _stray(child: etree._Element, node: Node, here: str, issue: _IssueFactory) -> Iterator[Issue]:
    """An element the node does not list: a custom card field of a card, a flat contact field, or a mistake."""
    tag = str(child.tag)
    parent = child.getparent()
    if node is PROJECT and field_name_ok(tag):
        if len(child):
            message = (
                f"<{tag}> holds elements; a custom card field holds one value. Is it in the wrong place"
                " (e.g. an <Offer> outside <Offers>)?"
            )
            yield issue("unexpected-element", "error", message, child, here)
        return
    if node is CONTACT and tag in _FLAT_CONTACT:
        message = f"<{tag}> directly in <Contact> is a flat contact field; {_FLAT_CONTACT[tag]}"
        yield issue("flat-contact-field", "warning", message, child, here)
        return
    holds = ", ".join(f"<{field.tag}>" for field in node.children if not isinstance(field, Custom) or field.wrapper)
    yield _unknown(child, parent if parent is not None else child, f"<{node.element}> holds {holds}", here, issue)


def _order_issue(
    el: etree._Element,
    node: Node,
    path: str,
    seen: dict[str, etree._Element],
    late: list[tuple[etree._Element, str]],
    issue: _IssueFactory,
) -> Issue:
    """``element-order`` (a warning): one per element whose children depart from the canonical order."""
    child, later = late[0]
    tag = str(child.tag)
    if len(late) == 1:
        where = "first" if node.order[tag] == 0 else f"before <{later}>"
        message = f"<{tag}> is present but after <{later}>; MiniCRM reads it, the canonical place is {where}"
    else:
        tags = [f"<{moved.tag}>" for moved, _ in late]
        order = ", ".join(f"<{field.tag}>" for field in node.children if field.tag in seen)
        message = (
            f"{', '.join(tags[:-1])} and {tags[-1]} are present but out of the canonical order; MiniCRM reads them,"
            f" the canonical order of <{el.tag}> is {order}"
        )
    return issue("element-order", "warning", message, child, f"{path}/{tag}")


def _custom(el: etree._Element, here: str, issue: _IssueFactory) -> Iterator[Issue]:
    """An offer's or order's own ``<Project>``: custom fields of its card, each holding a value."""
    for child in el.iterchildren(etree.Element):
        if len(child):
            message = f"<{child.tag}> holds elements; a custom field of the offer's card holds one value"
            yield issue("unexpected-element", "error", message, child, f"{here}/{child.tag}")
        elif (hint := text_hint(str(child.tag), child.text or "")) is not None:
            yield issue(hint[0], "warning", hint[1], child, f"{here}/{child.tag}")


def _element_value(node: Node, tag: str, seen: dict[str, etree._Element]) -> Any:
    """Return the value a rule reads of a child element (see :class:`RecordRule`)."""
    child, field = seen.get(tag), node.by_tag[tag]
    if isinstance(field, Node):
        return child is not None if field.item is None else (0 if child is None else len(child.findall(field.item)))
    return None if child is None else child.text or ""


def _record_rules(
    el: etree._Element, node: Node, path: str, seen: dict[str, etree._Element], issue: _IssueFactory
) -> Iterator[Issue]:
    """The rules on several values of one record (:data:`RECORD_RULES`): each where it stands."""
    for rule in rules_of(node):
        values = [_element_value(node, tag, seen) for tag in rule.reads]
        if rule.suspect is not None and not rule.suspect(*values):
            continue
        message = rule.broken(*values)
        if message is not None:
            where = seen.get(rule.at) if rule.at else None
            at = (where, f"{path}/{rule.at}") if where is not None else (el, path)
            yield issue(rule.code, rule.severity, message, *at)


def _steps(node: Node, within: Node = PROJECT) -> tuple[str, ...] | None:
    """Return the XPath steps from a ``<Project>`` to the records of ``node`` (``Offers``, ``Offer``)."""
    if node is within:
        return ()
    for child in within.children:
        if isinstance(child, Node):
            below = _steps(node, child)
            if below is not None:
                return (child.tag, *((child.item,) if child.item else ()), *below)
    return None


def _nodes(node: Node = PROJECT) -> Iterator[Node]:
    """Yield the node and every node below it in the field table."""
    yield node
    for child in node.children:
        if isinstance(child, Node):
            yield from _nodes(child)


_UNIQUE_IDS = tuple(dict.fromkeys(node for node in _nodes() if node.unique_ids))  # Products: Ids within a list


# Per node with screened rules (the XSD says the others): where its records stand in a batch of <Project>
# elements, the tags its rules read, and each rule's test with the places of its values among those tags.
_Screen = tuple[etree.XPath, tuple[str, ...], tuple[tuple[Callable[..., object], tuple[int, ...]], ...]]


def _screens() -> tuple[_Screen, ...]:
    """Per node with screened rules: where its records stand, the tags its rules read (each read once per
    record), and each rule's test with the places of its values among them."""
    screens = []
    for node in dict.fromkeys(rule.node for rule in RECORD_RULES if not rule.xsd):
        rules = [rule for rule in rules_of(node) if not rule.xsd]
        tags = tuple(dict.fromkeys(tag for rule in rules for tag in rule.reads))
        tests = tuple((rule.suspect or rule.broken, tuple(tags.index(tag) for tag in rule.reads)) for rule in rules)
        screens.append((etree.XPath("/".join(("Project", *(_steps(node) or ())))), tags, tests))
    return tuple(screens)


_SCREENS = _screens()


def _describe(place: Place, current: str | None) -> str:
    where = f"{place.source}: " if place.source and place.source != current else ""
    line = f" (line {place.line})" if place.line else ""
    return f"{where}{place.path}{line}"


class Checker:
    """Applies the rules to one project after another, remembering Ids across the feed.

    Ids are kept in :class:`~xmlsync.idstore.SeenIds`, so memory stays flat however long the feed is; call
    :meth:`close` (or use the object as a context manager) when done.

    Args:
        config: Which VAT codes are accepted and whether warnings are errors.
    """

    def __init__(self, config: BuildConfig | None = None, ids: SeenIds | None = None) -> None:
        self.config = config or BuildConfig()
        self._own = ids is None  # a store given by the run is the run's to close
        self._seen = ids if ids is not None else SeenIds()
        # Texts of each tag found good (no rule nor facet fails): each set is kept, and cleared in place.
        self.known: dict[str, set[str]] = {tag: set() for tag in KINDS}

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the Id store, if it is this checker's own."""
        if self._own:
            self._seen.close()

    def reset(self) -> None:
        """Forget the values found good (the Ids stay)."""
        for known in self.known.values():
            known.clear()

    # -- values --------------------------------------------------------------------------------

    def good(self, tag: str, text: str) -> bool:
        """Return whether a value breaks no rule and no facet of the XSD; good values are remembered."""
        memo = self.known[tag]
        if text in memo:
            return True
        kind = KINDS[tag]
        if (kind.facet is not None and not kind.facet(text)) or kind.check(tag, text, self.config) is not None:
            return False
        if len(memo) >= _GOOD_VALUES:
            memo.clear()
        memo.add(text)
        return True

    def all_good(self, tag: str, texts: set[str]) -> bool:
        """Return whether every one of ``texts`` is :meth:`good` (those known good are not looked at again)."""
        good = self.good
        return all(good(tag, text) for text in texts.difference(self.known[tag]))

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

    def batch_clean(self, container: etree._Element, *, hints: bool = True) -> bool:
        """Return ``True`` if no ``<Project>`` child of ``container`` can break a rule but the Ids.

        ``container`` holds projects the XSD found valid, so each element stands at its canonical place and
        each value has its form. One pass reads the values the rules read (each checked once, then remembered
        as good) and the dates of each offer; then the product Ids of each offer and the custom fields (which
        the XSD lets hold anything) are looked at. ``False`` only means that :meth:`content` must look.
        """
        texts: dict[str, set[str]] = {tag: set() for tag in _RULE_TAGS}
        add = {tag: distinct.add for tag, distinct in texts.items()}
        for el in container.iter(_RULE_TAGS):
            text = el.text
            if len(el):  # an <Email>'s <Value>; any other child (a comment) splits the text: look closer
                if el.tag != "Email" or len(el) != 1 or el[0].tag != "Value" or len(el[0]):
                    return False
                text = el[0].text
            if text is not None:
                add[str(el.tag)](text)
        if not all(self.all_good(tag, distinct) for tag, distinct in texts.items()):
            return False
        for records, tags, tests in _SCREENS:  # a valid batch's values have their form: the suspect test holds
            for record in cast(list[etree._Element], records(container)):
                read = [record.findtext(tag) for tag in tags]
                for test, places in tests:
                    if test(*[read[place] for place in places]):
                        return False  # the rule may be broken: the exact walk says
        for unique in _UNIQUE_IDS:
            ids = [item.get("Id") for item in container.iter(unique.element)]
            if len(set(ids)) != len(ids):  # one product in several offers, or twice in one?
                for items in container.iter(unique.tag):
                    listed = [item.get("Id") for item in items]
                    if len(set(listed)) != len(listed):
                        return False
        if _NESTED_OFFER_FIELD(container) or (hints and _hinted(container)):
            return False
        for project in cast(list[etree._Element], _CARD_FIELDS(container)):
            documents = next((child for child in project if child.tag in _DOCUMENTS), None)
            for field in documents.itersiblings(etree.Element) if documents is not None else ():
                tag = str(field.tag)
                if tag in PROJECT_ELEMENTS or len(field) or not field_name_ok(tag):  # where is it? what is it?
                    return False
        return True

    def _locate(self, el: etree._Element, node: Node, path: str, issue: _IssueFactory) -> Iterator[Issue]:
        """Read an element along its node of the field table, as MiniCRM does: children by name, in any order.

        Yields every problem of the element and of all below it, each where it is: unknown, repeated and
        missing children, children out of the canonical order (a warning), empty optional elements (a
        warning), values of the wrong form or breaking their kind's rule, and the rules on several values.
        Custom card fields may stand anywhere in a card's ``<Project>``.
        """
        yield from _attributes(el, node, path, issue)
        stray_text = f"<{el.tag}> holds text among its elements; remove it"
        if (el.text or "").strip():
            yield issue("unexpected-text", "error", stray_text, el, path)
        seen: dict[str, etree._Element] = {}
        late: list[tuple[etree._Element, str]] = []  # children before which a later one came, and that one
        last = -1
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction
            if (child.tail or "").strip():
                yield issue("unexpected-text", "error", stray_text, el, path)
            field = node.by_tag.get(tag)
            here = f"{path}/{tag}"
            if field is None or (isinstance(field, Custom) and field.wrapper is None):
                yield from _stray(child, node, here, issue)
                continue
            if tag in seen:
                first = element_line(seen[tag])
                also = f" (also line {first})" if first else ""
                message = f"<{tag}> appears twice in <{el.tag}>{also}; MiniCRM reads one of them: keep one"
                yield issue("repeated-element", "error", message, child, here)
                continue
            seen[tag] = child
            place = node.order[tag]
            if place < last:
                late.append((child, node.children[last].tag))
            last = max(last, place)
            if isinstance(field, Leaf):
                yield from self._leaf(child, field.tag, field.kind, field.required, here, issue)
            elif isinstance(field, Values):
                yield from self._values(child, field, here, issue)
            elif isinstance(field, Custom):
                yield from _custom(child, here, issue)
            elif field.item is None:
                yield from self._locate(child, field, here, issue)
            else:
                yield from self._items(child, field, here, issue)
        if late:
            yield _order_issue(el, node, path, seen, late, issue)
        for field in node.children:
            if field.required and field.tag not in seen:
                lost = field.missing if isinstance(field, Leaf) else ""
                if lost:  # producers leave it out, and MiniCRM takes such feeds [format notes §10]
                    message = f"<{el.tag}> has no <{field.tag}>; MiniCRM takes it so, but {lost}: add it"
                    yield issue("missing-date", "warning", message, el, path)
                else:
                    yield issue("missing-element", "error", f"<{el.tag}> is missing <{field.tag}>; add it", el, path)
        yield from _record_rules(el, node, path, seen, issue)

    def _leaf(
        self, el: etree._Element, tag: str, kind: Kind, required: bool, here: str, issue: _IssueFactory
    ) -> Iterator[Issue]:
        for inner in el.iterchildren(etree.Element):
            message = f"<{inner.tag}> stands in <{tag}>, which holds a value, not elements; remove it"
            yield issue("unexpected-element", "error", message, inner, f"{here}/{inner.tag}")
        for name in el.attrib:
            yield _unknown_attribute(el, str(name), here, issue)
        text = el.text or ""
        if not text.strip(" \t\n\r"):
            if required:
                message = f"<{tag}> is empty; expected {type_help(kind.xsd)}"
                yield issue("empty-value", "error", message, el, here)
            else:
                message = f"<{tag}> is empty; leave it out or give it a value (an empty element may clear the field)"
                yield issue("empty-optional", "warning", message, el, here)
            return
        hint = text_hint(tag, text) if kind.xsd.endswith("String") else None
        if hint is not None:
            yield issue(hint[0], "warning", hint[1], el, here)
            if hint[0] == "template-leak":  # no value to judge further
                return
        if not kind.form(text):
            canonical = canonical_date(text) if kind.xsd == "DateTimeType" else None
            if canonical is not None:
                message = f"<{tag}> {text!r} is read as {canonical}; write dates with two-digit months and days"
                yield issue("date-form", "warning", message, el, here)
                text = canonical
            else:
                message = f"<{tag}> is {show(text)}; expected {type_help(kind.xsd)}"
                yield issue("invalid-value", "error", message, el, here)
                return
        found = kind.check(tag, text, self.config)
        if found is not None:
            yield issue(found.code, cast(Severity, found.severity), found.message, el, here)

    def _values(self, el: etree._Element, field: Values, here: str, issue: _IssueFactory) -> Iterator[Issue]:
        """``<Emails><Email><Value>...``: each item holds one ``<Value>``; an empty one is left out by MiniCRM."""
        items = [child for child in el.iterchildren(etree.Element)]
        if not items:
            message = f"<{field.tag}> is empty; leave it out or add an <{field.item}>"
            yield issue("empty-optional", "warning", message, el, here)
        for position, item in enumerate(items, start=1):
            at = f"{here}/{item.tag}[{position}]"
            if item.tag != field.item:
                yield _unknown(item, el, f"<{field.tag}> holds only <{field.item}>", at, issue)
                continue
            values = list(item.iterchildren(etree.Element))
            value = values[0] if values and values[0].tag == "Value" else None
            if value is None or len(values) > 1:
                message = f"<{field.item}> holds one <Value>: write <{field.item}><Value>...</Value></{field.item}>"
                yield issue("missing-element", "error", message, item, at)
                continue
            yield from self._leaf(value, "Value", field.kind, False, f"{at}/Value", issue)

    def _items(self, el: etree._Element, field: Node, here: str, issue: _IssueFactory) -> Iterator[Issue]:
        """A list of records (``<Products><Product Id=...>``): each item read along the node; Ids once per list."""
        items = [child for child in el.iterchildren(etree.Element)]
        if not items:
            if field.required:
                message = f"<{field.tag}> has no <{field.item}>; add at least one"
                yield issue("missing-element", "error", message, el, here)
            else:
                message = f"<{field.tag}> is empty; leave it out or add an <{field.item}>"
                yield issue("empty-optional", "warning", message, el, here)
        ids: dict[str, int] = {}
        for position, item in enumerate(items, start=1):
            at = f"{here}/{item.tag}[{position}]"
            if item.tag != field.item:
                yield _unknown(item, el, f"<{field.tag}> holds only <{field.item}>", at, issue)
                continue
            ident = item.get("Id")
            if field.unique_ids and ident is not None and ids.setdefault(ident, position) != position:
                yield issue("duplicate-product-id", "error", duplicate_product(ident, ids[ident]), item, f"{at}/@Id")
            yield from self._locate(item, field, at, issue)

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
            for store, step, _, documents in ids.documents():
                for position, (ident, line) in enumerate(documents, start=1):
                    if ident is not None:
                        entries.append((store, ident, Place(f"{path}/{step}[{position}]", line, source)))
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
        for store, step, what, documents in ids.documents():
            for position, (ident, line) in enumerate(documents, start=1):
                if ident is None:
                    continue
                at = f"{path}/{step}[{position}]"
                first = self._seen.first(store, ident, Place(at, line, source))
                if first is not None:
                    message = duplicate_offer(ident, _describe(first, source), what)
                    record = f"{label} > {what} {ident}"
                    yield Issue(f"duplicate-{store}-id", message, source, record, f"{at}/@Id", line)


FeedRules = Checker  # the name of earlier releases
