"""Hypothesis: whatever records build, validate accepts; whatever bytes validate reads, it reports."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.conftest import SAMPLE_XML
from xmlsync import BuildConfig, InputError, check_file
from xmlsync.pipeline import write_feed
from xmlsync.readers import RawRecord
from xmlsync.rules import ISO_4217, PROJECT_ELEMENTS, FeedRules
from xmlsync.schema import schema_valid
from xmlsync.tree.paths import CONTAINERS
from xmlsync.walk import first_try, walk

XML_TEXT = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff") | st.sampled_from(
    "\t\n\r&<>\"'"
)
TEXT = st.text(XML_TEXT, min_size=1, max_size=30).filter(lambda s: s.strip())
OPTIONAL_TEXT = st.none() | TEXT
IDS = st.integers(min_value=0, max_value=2**63 - 1)
MONEY = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False)
WHEN = st.dates().map(str) | st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="seconds"))
FIELD_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not n.lower().startswith("xml") and n not in PROJECT_ELEMENTS
)
EMAILS = st.lists(st.emails(), max_size=2)


@st.composite
def products(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(IDS, min_size=1, max_size=3, unique=True))
    return [
        {
            "Id": product_id,
            "Name": draw(TEXT),
            "SKU": draw(OPTIONAL_TEXT),
            "PriceNet": draw(MONEY),
            "Quantity": draw(MONEY),
            "Unit": draw(TEXT),
            "VAT": draw(st.sampled_from(["27%", "5%", "0%", "5.5%", 19, Decimal("9")])),
            "FolderName": draw(TEXT),
        }
        for product_id in ids
    ]


@st.composite
def projects(draw: st.DrawFn) -> list[dict[str, Any]]:
    project_ids = draw(st.lists(IDS, min_size=1, max_size=3, unique=True))
    offer_ids = iter(draw(st.lists(IDS, min_size=6, max_size=6, unique=True)))
    records = []
    for project_id in project_ids:
        business = draw(st.none() | st.fixed_dictionaries({"Name": TEXT, "Emails": EMAILS}))
        contacts = draw(
            st.lists(
                st.fixed_dictionaries({"FirstName": TEXT, "LastName": OPTIONAL_TEXT}),
                min_size=0 if business else 1,
                max_size=2,
            )
        )
        offers = []
        for _ in range(draw(st.integers(1, 2))):
            issued = draw(WHEN)
            offers.append(
                {
                    "Id": next(offer_ids),
                    "Number": draw(TEXT),
                    "CurrencyCode": draw(st.sampled_from(sorted(ISO_4217))),
                    "Prompt": draw(WHEN),
                    "Performance": draw(WHEN),
                    "Issued": issued,
                    "Subject": draw(OPTIONAL_TEXT),
                    "Status": draw(TEXT),
                    "Customer": {key: draw(TEXT) for key in ("Name", "CountryId", "PostalCode", "City", "Address")},
                    "Products": draw(products()),
                    "Project": draw(st.dictionaries(FIELD_NAME, TEXT, max_size=2)),
                }
            )
        variant = draw(st.sampled_from(["Offers", "Offers", "Orders", None]))  # None: a card alone
        if variant == "Orders":
            order_keys = ("Id", "Number", "CurrencyCode", "Performance", "Status", "Customer", "Products", "Project")
            offers = [{key: offer[key] for key in order_keys} for offer in offers]
            for order in offers:
                order["PaymentMethod"] = draw(st.sampled_from([None, "Card", "WiredTransfer"]))
        records.append(
            {
                "Id": project_id,
                "Name": draw(TEXT),
                "CategoryId": draw(IDS),
                "StatusId": draw(TEXT),
                "UserId": draw(OPTIONAL_TEXT),
                "Business": business,
                "Contacts": contacts,
                **({variant: offers} if variant else {}),
                "Fields": draw(st.dictionaries(FIELD_NAME, TEXT, max_size=2)),
            }
        )
    return records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(), st.booleans())
def test_any_built_feed_passes_validate(records: list[dict[str, Any]], pretty: bool) -> None:
    out = io.BytesIO()
    write_feed((RawRecord(r, f"gen:[{i}]") for i, r in enumerate(records)), out, BuildConfig(pretty=pretty))
    report = check_file(out.getvalue(), name="built.xml")
    assert report.errors == 0, [str(issue) for issue in report.issues]
    assert len(report.issues) == report.warnings


def issue_keys(report: Any) -> list[tuple[str, str, str | None, str | None]]:
    return [(i.code, i.severity, i.path, i.message) for i in report.issues]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(), st.randoms(use_true_random=False))
def test_any_order_of_children_is_read_with_order_warnings_only(records: list[dict[str, Any]], rnd: Any) -> None:
    """MiniCRM reads children by name: shuffled children say element-order, and nothing else changes."""
    out = io.BytesIO()
    write_feed((RawRecord(r, f"gen:[{i}]") for i, r in enumerate(records)), out, BuildConfig(pretty=False))
    built = etree.fromstring(out.getvalue())
    custom_on_card_alone = any(r.get("Fields") and not (r.get("Offers") or r.get("Orders")) for r in records)
    assert schema_valid(built) or custom_on_card_alone  # the canonical form (XSD 1.0 cannot place those fields)
    before = check_file(out.getvalue(), name="built.xml")
    for element in built.iter(etree.Element):
        if element.tag not in CONTAINERS:  # records and values keep their places: only fields move
            children = list(element)
            rnd.shuffle(children)
            element[:] = children
    after = check_file(etree.tostring(built), name="built.xml")
    moved = [key for key in issue_keys(after) if key[0] == "element-order"]
    assert all(severity == "warning" for _, severity, _, _ in moved)
    assert sorted(key for key in issue_keys(after) if key[0] != "element-order") == sorted(issue_keys(before))
    assert after.errors == 0


SAMPLE = SAMPLE_XML.read_bytes()


@st.composite
def damaged_samples(draw: st.DrawFn) -> bytes:
    data = SAMPLE
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 40)))
        data = data[:start] + draw(st.binary(max_size=8)) + data[end:]
    return data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | damaged_samples())
def test_any_bytes_give_a_report_never_a_traceback(data: bytes) -> None:
    report = check_file(data, name="fuzz.xml")
    assert report.valid == (report.errors == 0)
    assert all(issue.code and issue.message and "\n" not in issue.message for issue in report.issues)


# fmt: off
ODD_VALUES = st.sampled_from([
    None, "", "  ", " 12 ", "12", 12, -1, True, 1.5, Decimal("12"), Decimal("1E+2"), Decimal("NaN"), "1e3",
    "x\x0by", "2024-02-30", "2024-4-5", "2024-04-05T10:00:00", "2024-04-05 10:00", "27", " 27% ", "27 %",
    "VAT0", [], {}, "Accepted", "árvíz", "\ud800", "007.50", "1.50", "-0", "2024-04-05 10:00:00", "2024-02-29",
])
# fmt: on


@st.composite
def odd_records(draw: st.DrawFn) -> dict[str, Any]:
    """A generated project with some values, at any depth, replaced by odd ones (or removed)."""
    record = draw(projects())[0]

    def damage(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                roll = draw(st.integers(0, 9))
                if roll == 0:
                    continue
                out[key] = draw(ODD_VALUES) if roll == 1 else damage(value)
            if draw(st.integers(0, 19)) == 0:
                out["Extra"] = "x"
            return out
        if isinstance(node, list):
            return [damage(item) for item in node]
        return node

    return damage(record)


RULE_BREAKS = {
    "EAN": ["5901234123458", "4006381333931", "abc", "5901234123457"],
    "VAT": ["27", "1234%", "KBAUK", "5.5%", " 27%"],
    "CurrencyCode": ["HUN", "huf", "EUR", "XXXX"],
    "Issued": ["2030-01-01 00:00:00", "2021-02-30", "2020-01-01"],
    "Prompt": ["2000-01-01", "2021-02-29 10:00:00", "2040-12-31"],
    "Value": ["not-an-email", "a@b.hu", "  ", "x@y"],
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(projects(), st.lists(st.tuples(st.sampled_from(sorted(RULE_BREAKS)), st.integers(0, 99), st.integers(0, 3))))
def test_a_clean_batch_verdict_is_never_wrong(
    records: list[dict[str, Any]], breaks: list[tuple[str, int, int]]
) -> None:
    """batch_clean may send a batch to the exact walk for nothing, but never lets a rule violation through."""
    out = io.BytesIO()
    write_feed((RawRecord(r, f"gen:[{i}]") for i, r in enumerate(records)), out, BuildConfig(pretty=False))
    container = etree.fromstring(out.getvalue())
    for tag, which, choice in breaks:
        found = list(container.iter(tag))
        if found:
            found[which % len(found)].text = RULE_BREAKS[tag][choice % len(RULE_BREAKS[tag])]
    if breaks and breaks[0][1] % 3 == 0:  # sometimes a duplicate product line
        products = list(container.iter("Product"))
        if len(products) > 1 and products[0].getparent() is products[1].getparent():
            products[1].set("Id", products[0].get("Id", ""))
    with FeedRules() as rules:
        clean = schema_valid(container) and rules.batch_clean(container)
        found_issues = [i for n, p in enumerate(container, 1) for i in rules.content(p, f"/Projects/Project[{n}]")]
    assert not (clean and found_issues), [str(issue) for issue in found_issues]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_records() | projects().map(lambda records: records[0]), st.booleans(), st.booleans())
def test_the_first_try_reads_what_the_full_walk_reads(record: dict[str, Any], clean_text: bool, statuses: bool) -> None:
    """The first try is generated from the field table; wherever it answers, the kinds' read agrees."""
    config = BuildConfig(clean_text=clean_text, statuses=frozenset({"Accepted"}) if statuses else None)
    read = first_try(record, config)
    full, issues = walk(record, config=config, fast=False)
    if read is not None:
        assert (read, issues) == (full, [])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    projects(),
    st.sampled_from(["abc", "5901234123457", "5901234123458", "", "12345678", "59012341234570000"]),
    st.sampled_from(["HUF", "huf", "XXX", "EURO", "RON"]),
    st.sampled_from(["27%", "KBAUK", "kbauk", "5.5%"]),
)
def test_a_build_writes_only_what_validate_accepts(
    records: list[dict[str, Any]], ean: str, currency: str, vat: str
) -> None:
    """Values the first try cannot vouch for are checked like any feed: a build never writes an invalid one."""
    documents = records[0].get("Offers") or records[0].get("Orders") or []
    if not documents:  # a card alone has no values of these kinds
        return
    offer = documents[0]
    offer["CurrencyCode"] = currency
    offer["Products"][0].update(EAN=ean, VAT=vat)
    config = BuildConfig(vat_codes=frozenset({"KBAUK", "kbauk"}))
    out = io.BytesIO()
    try:
        write_feed((RawRecord(r, f"gen:[{i}]") for i, r in enumerate(records)), out, config)
    except InputError as exc:
        assert exc.issues
        return
    report = check_file(out.getvalue(), name="built.xml", rules=config)
    assert report.errors == 0, [str(issue) for issue in report.issues]
