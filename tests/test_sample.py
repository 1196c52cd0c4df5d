"""MiniCRM's documented sample: we build it exactly, accept it as published, and mutate it element by element."""

from __future__ import annotations

import io
import re

import pytest
from lxml import etree

from tests.conftest import FIXTURES, SAMPLE_XML
from xmlsync import build_file, validate_file
from xmlsync.errors import Issue

NOTE = re.compile(r"\[\s*(required|optional)\s+\w+\s*\]")


def canonical(data: bytes) -> bytes:
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True)
    return etree.tostring(etree.fromstring(data, parser), method="c14n")


def sample_tree() -> etree._ElementTree:
    return etree.parse(str(SAMPLE_XML))


def annotated_elements(kind: str) -> list[str]:
    """Paths (lxml getpath) of the elements whose comment note says ``kind`` (required/optional)."""
    tree = sample_tree()
    found = []
    for el in tree.iter(tag=etree.Element):
        comment = el.getprevious()
        while comment is not None and isinstance(comment, etree._Comment):
            match = NOTE.search(comment.text or "")
            if match and not comment.text.strip().startswith("Id ="):
                if match.group(1) == kind:
                    found.append(tree.getpath(el))
                break
            comment = comment.getprevious()
    return found


def without(path: str) -> tuple[bytes, etree._Element, etree._Element | None]:
    """Return the sample with the element at ``path`` removed, its parent and its next element sibling."""
    tree = sample_tree()
    el = tree.xpath(path)[0]
    parent = el.getparent()
    following = el.getnext()
    while following is not None and not isinstance(following.tag, str):
        following = following.getnext()
    parent.remove(el)
    return serialize(tree), parent, following


def serialize(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree, encoding="UTF-8", xml_declaration=True)


def issues_of(data: bytes) -> list[Issue]:
    return validate_file(io.BytesIO(data), name="sample.xml")


def test_sample_records_build_to_the_documented_xml() -> None:
    out = io.BytesIO()
    build_file(FIXTURES / "sample.json", out)
    assert canonical(out.getvalue()) == canonical(SAMPLE_XML.read_bytes())


def test_published_sample_is_valid() -> None:
    assert validate_file(SAMPLE_XML) == []


REQUIRED = annotated_elements("required")
OPTIONAL = annotated_elements("optional")


def test_the_sample_notes_were_found() -> None:
    assert len(REQUIRED) == 20
    assert OPTIONAL == [
        "/Projects/Project/UserId",
        "/Projects/Project/Offers/Offer/Subject",
        "/Projects/Project/Offers/Offer/Products/Product/SKU",
        "/Projects/Project/Offers/Offer/Products/Product/EAN",
    ]


# Required by the notes, and by build; MiniCRM takes offers without them, so validate warns [format notes §10].
TOLERATED = {
    "/Projects/Project/Offers/Offer/Prompt": "the offer has no deadline in MiniCRM",
    "/Projects/Project/Offers/Offer/Issued": "the offer has no issue date in MiniCRM",
}


@pytest.mark.parametrize("path", REQUIRED)
def test_removing_a_required_element_names_it(path: str) -> None:
    data, parent, _ = without(path)
    tag = path.rsplit("/", 1)[1]
    issues = issues_of(data)
    if path in TOLERATED:
        message = f"<{parent.tag}> has no <{tag}>; MiniCRM takes it so, but {TOLERATED[path]}: add it"
        assert [(i.code, i.severity, i.message) for i in issues] == [("missing-date", "warning", message)]
    else:
        expected = [("missing-element", "error", f"<{parent.tag}> is missing <{tag}>; add it")]
        assert [(i.code, i.severity, i.message) for i in issues] == expected


@pytest.mark.parametrize("path", OPTIONAL)
def test_removing_an_optional_element_keeps_the_sample_valid(path: str) -> None:
    data, _, _ = without(path)
    assert issues_of(data) == []


@pytest.mark.parametrize("path", ["/Projects/Project/Business", "/Projects/Project/Contacts"])
def test_business_or_contacts_alone_is_enough(path: str) -> None:
    data, _, _ = without(path)
    assert issues_of(data) == []


def test_removing_business_and_contacts_breaks_the_company_or_person_rule() -> None:
    tree = sample_tree()
    project = tree.getroot().find("Project")
    project.remove(project.find("Business"))
    project.remove(project.find("Contacts"))
    issues = issues_of(serialize(tree))
    assert [str(i) for i in issues] == [
        "sample.xml:4: /Projects/Project[1] (Project 99999): a project needs a Business (company) or at least one"
        " Contact (person); MiniCRM requires one of them [company-or-person-required]"
    ]


@pytest.mark.parametrize(
    ("xpath", "attribute", "value", "expected"),
    [
        (
            "/Projects/Project",
            "Id",
            "12a",
            "sample.xml:4: /Projects/Project[1]/@Id (Project 12a): Id of <Project> is '12a'; expected a"
            " non-negative whole number (MiniCRM upserts by it), e.g. 99999 [invalid-value]",
        ),
        (
            "/Projects/Project/Offers/Offer/Products/Product",
            "Id",
            "-3",
            "sample.xml:68: /Projects/Project[1]/Offers/Offer[1]/Products/Product[1]/@Id"
            " (Project 99999 > Offer 99999 > Product -3): Id of <Product> is '-3'; expected a non-negative whole"
            " number (MiniCRM upserts by it), e.g. 99999 [invalid-value]",
        ),
    ],
)
def test_a_non_integer_id_fails(xpath: str, attribute: str, value: str, expected: str) -> None:
    tree = sample_tree()
    tree.xpath(xpath)[0].set(attribute, value)
    assert [str(i) for i in issues_of(serialize(tree))] == [expected]


def test_a_missing_offer_id_fails() -> None:
    tree = sample_tree()
    del tree.xpath("/Projects/Project/Offers/Offer")[0].attrib["Id"]
    assert [str(i) for i in issues_of(serialize(tree))] == [
        "sample.xml:37: /Projects/Project[1]/Offers/Offer[1] (Project 99999 > Offer): <Offer> has no Id attribute;"
        ' add Id="..." [missing-attribute]'
    ]


def test_a_day_first_date_fails() -> None:
    tree = sample_tree()
    tree.xpath("//Issued")[0].text = "30/09/2021"
    assert [str(i) for i in issues_of(serialize(tree))] == [
        "sample.xml:47: /Projects/Project[1]/Offers/Offer[1]/Issued (Project 99999 > Offer 99999): <Issued> is"
        " '30/09/2021'; expected a date YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13 [invalid-value]"
    ]


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_name_fails(text: str) -> None:
    tree = sample_tree()
    tree.xpath("/Projects/Project/Name")[0].text = text
    assert [str(i) for i in issues_of(serialize(tree))] == [
        "sample.xml:6: /Projects/Project[1]/Name (Project 99999): <Name> is empty; expected a non-empty text"
        " (not only spaces) [empty-value]"
    ]
