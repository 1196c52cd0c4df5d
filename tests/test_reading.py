"""validate reads a feed as MiniCRM does (children by name): exact messages for what it tolerates and refuses."""

from __future__ import annotations

import io
import json

import pytest
from lxml import etree

from tests.conftest import FIXTURES, SAMPLE_XML
from xmlsync import BuildConfig, build_project, project_from_dict, validate_file

SAMPLE = SAMPLE_XML.read_text(encoding="utf-8")


def report(text: str, *, strict: bool = False) -> list[str]:
    issues = validate_file(io.BytesIO(text.encode()), name="f.xml", rules=BuildConfig(strict=strict))
    return [str(issue) for issue in issues]


def edited(old: str, new: str) -> str:
    assert SAMPLE.count(old) >= 1, old
    return SAMPLE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "<CurrencyCode>HUF</CurrencyCode>",
            "<CurrencyCode>HUF</CurrencyCode><Language>HU</Language>",
            "f.xml:41: /Projects/Project[1]/Offers/Offer[1]/Language (Project 99999 > Offer 99999): warning:"
            " <Language> 'HU' is not a known language; MiniCRM writes _HU, _EN, _RO [unknown-language]",
        ),
        (
            "<Subject>Some note</Subject>",
            "<Subject>Some note</Subject><PaymentMethod>PayPal</PaymentMethod>",
            "f.xml:49: /Projects/Project[1]/Offers/Offer[1]/PaymentMethod (Project 99999 > Offer 99999): warning:"
            " <PaymentMethod> 'PayPal' is not a known payment method; MiniCRM writes WiredTransfer, Card, Check, Cash,"
            " CashOnDelivery, Other [unknown-payment-method]",
        ),
        (
            '<Product Id="11144">',
            '<Product Id="11144"><Colour>red</Colour>',
            "f.xml:68: /Projects/Project[1]/Offers/Offer[1]/Products/Product[1]/Colour (Project 99999 > Offer 99999 >"
            " Product 11144): <Colour> is not part of the format in <Product>; <Product> holds <Name>, <SKU>, <EAN>,"
            " <Description>, <PriceNet>, <Quantity>, <Unit>, <VAT>, <FolderName>: MiniCRM would not read it"
            " [unexpected-element]",
        ),
        (
            "<Offers>",
            '<Offer Id="5"><Number>1</Number></Offer><Offers>',
            "f.xml:35: /Projects/Project[1]/Offer (Project 99999 > Offer 5): <Offer> holds elements; a custom card field holds"
            " one value. Is it in the wrong place (e.g. an <Offer> outside <Offers>)? [unexpected-element]",
        ),
        (  # valid for the XSD, which lets a custom field hold anything
            "</Offers>\n</Project>",
            "</Offers>\n<String1616><Value>x</Value></String1616>\n</Project>",
            "f.xml:89: /Projects/Project[1]/String1616 (Project 99999): <String1616> holds elements; a custom card field"
            " holds one value. Is it in the wrong place (e.g. an <Offer> outside <Offers>)? [unexpected-element]",
        ),
        (
            "</Products>\n</Offer>",
            "</Products>\n<Project><String1616><Value>x</Value></String1616></Project>\n</Offer>",
            "f.xml:87: /Projects/Project[1]/Offers/Offer[1]/Project/String1616 (Project 99999 > Offer 99999):"
            " <String1616> holds elements; a custom field of the offer's card holds one value [unexpected-element]",
        ),
        (
            "</Offers>\n</Project>",
            "</Offers>\n<xmlField>1</xmlField>\n</Project>",
            "f.xml:89: /Projects/Project[1]/xmlField (Project 99999): <xmlField> is not part of the format in <Project>;"
            " <Project> holds <Name>, <CategoryId>, <StatusId>, <UserId>, <ContactId>, <Business>, <Contacts>,"
            " <Offers>, <Orders>: MiniCRM would not read it [unexpected-element]",
        ),
        (
            "<FirstName>Test</FirstName>\n<LastName>Example</LastName>",
            "",
            "f.xml:24: /Projects/Project[1]/Contacts/Contact[1] (Project 99999 > Contact): a contact needs a"
            " FirstName or a LastName; add one [missing-element]",
        ),
        (
            "<Emails>\n<Email>\n<Value>jambor.timea+example@minicrm.hu</Value>\n</Email>\n</Emails>",
            "<Emails/>",
            "f.xml:28: /Projects/Project[1]/Contacts/Contact[1]/Emails (Project 99999 > Contact): warning: <Emails> is"
            " empty; leave it out or add an <Email> [empty-optional]",
        ),
        (
            "<Value>jambor.timea+example@minicrm.hu</Value>",
            "<Value> </Value>",
            "f.xml:30: /Projects/Project[1]/Contacts/Contact[1]/Emails/Email[1]/Value (Project 99999 > Contact):"
            " warning: <Value> is empty; leave it out or give it a value (an empty element may clear the field)"
            " [empty-optional]",
        ),
        (
            "<Subject>Some note</Subject>",
            "<Subject>Some note</Subject><Subject>Other</Subject>",
            "f.xml:49: /Projects/Project[1]/Offers/Offer[1]/Subject (Project 99999 > Offer 99999): <Subject> appears"
            " twice in <Offer> (also line 49); MiniCRM reads one of them: keep one [repeated-element]",
        ),
        (
            "<Subject>Some note</Subject>",
            "<Subject>Some note</Subject>stray",
            "f.xml:37: /Projects/Project[1]/Offers/Offer[1] (Project 99999 > Offer 99999): <Offer> holds text among its"
            " elements; remove it [unexpected-text]",
        ),
        (
            '<Product Id="11144">',
            '<Product Id="11144" Colour="red">',
            "f.xml:68: /Projects/Project[1]/Offers/Offer[1]/Products/Product[1]/@Colour (Project 99999 > Offer 99999 >"
            " Product 11144): <Product> has an unknown attribute Colour; remove it [unexpected-attribute]",
        ),
    ],
    ids=[
        "language",
        "payment",
        "unknown",
        "offer-outside-offers",
        "card-field-holding-elements",
        "offer-field-holding-elements",
        "card-field-named-xml",
        "nameless-contact",
        "empty-list",
        "empty-value",
        "repeated",
        "text",
        "attribute",
    ],
)
def test_one_problem_one_exact_line(old: str, new: str, expected: str) -> None:
    assert report(edited(old, new)) == [expected]


def test_every_problem_of_one_element_is_reported() -> None:
    text = edited("<Number>", "<Nmber>").replace("</Number>", "</Nmber>", 1)
    text = text.replace("<CurrencyCode>HUF</CurrencyCode>", "<CurrencyCode>huf</CurrencyCode>", 1)
    assert report(text) == [
        "f.xml:37: /Projects/Project[1]/Offers/Offer[1] (Project 99999 > Offer 99999): <Offer> is missing <Number>;"
        " add it [missing-element]",
        "f.xml:39: /Projects/Project[1]/Offers/Offer[1]/Nmber (Project 99999 > Offer 99999): <Nmber> is not part of"
        " the format in <Offer>; <Offer> holds <Number>, <CurrencyCode>, <Language>, <Prompt>, <Performance>,"
        " <Issued>, <Subject>, <PaymentMethod>, <Status>, <Customer>, <Products>, <Project>: MiniCRM would not read"
        " it [unexpected-element]",
        "f.xml:41: /Projects/Project[1]/Offers/Offer[1]/CurrencyCode (Project 99999 > Offer 99999): <CurrencyCode> is"
        " 'huf'; expected a three-letter upper-case ISO 4217 currency code, e.g. HUF [invalid-value]",
    ]


def test_an_order_id_used_twice_is_an_error() -> None:
    feed = (FIXTURES.parent / "tests" / "golden" / "webshop" / "expected.xml").read_text(encoding="utf-8")
    order = feed[feed.index("      <Order ") : feed.index("    </Orders>")]
    at = feed.rindex("  </Project>")
    twice = f"{feed[:at]}    <Orders>\n{order}    </Orders>\n{feed[at:]}"
    lines = report(twice)
    assert lines[-1].endswith(
        "Order Id 100012345 is used again; first at /Projects/Project[1]/Orders/Order[1] (line 21). Give each order"
        " its own Id [duplicate-order-id]"
    )
    assert len(lines) == 1


def test_strict_makes_order_and_empty_warnings_errors() -> None:
    text = edited("<Subject>Some note</Subject>", "<Subject></Subject>")
    assert [line.split(": ", 2)[2][:8] for line in report(text)] == ["warning:"]
    assert [line.split(": ", 2)[2][:9] for line in report(text, strict=True)] == ["<Subject>"]


def test_typed_orders_and_cards_alone_build_like_their_records() -> None:
    records = json.loads((FIXTURES / "webshop.json").read_text(encoding="utf-8"))
    feed = etree.parse(str(FIXTURES.parent / "tests" / "golden" / "webshop" / "expected.xml")).getroot()
    for record, written in zip(records, feed, strict=True):
        typed = project_from_dict(record)
        assert etree.tostring(build_project(typed), method="c14n") == etree.tostring(
            etree.fromstring(etree.tostring(written), etree.XMLParser(remove_blank_text=True)), method="c14n"
        )
