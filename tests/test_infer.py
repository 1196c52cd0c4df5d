"""`xmlsync schema infer`: the skeleton follows the sample's notes literally."""

from __future__ import annotations

from lxml import etree

from tests.conftest import SAMPLE_XML
from xmlsync.infer import infer_schema
from xmlsync.schema import lxml_schema


def test_the_skeleton_is_a_loadable_xsd_that_shows_where_the_notes_are_wrong() -> None:
    skeleton = etree.XMLSchema(etree.fromstring(infer_schema(SAMPLE_XML).encode()))
    assert not skeleton.validate(etree.parse(str(SAMPLE_XML)))
    assert [(e.line, e.message) for e in skeleton.error_log] == [
        (70, "Element 'Name': 'First product' is not a valid value of the atomic type 'xs:integer'."),
        (82, "Element 'VAT': '27%' is not a valid value of the atomic type 'xs:integer'."),
    ]
    assert lxml_schema().validate(etree.parse(str(SAMPLE_XML)))


def test_optional_notes_become_min_occurs_zero(tmp_path) -> None:
    sample = tmp_path / "s.xml"
    sample.write_text(
        "<Projects>\n<!-- Id = External id [required int] -->\n<Project Id='1'>\n"
        "<!-- Owner [optional string] -->\n<UserId>x</UserId>\n<!-- When [required date] -->\n<Due>2024-01-01</Due>\n"
        "</Project>\n</Projects>"
    )
    text = infer_schema(sample)
    assert '<xs:element name="UserId" minOccurs="0" type="xs:string"/>' in text
    assert '<xs:element name="Due" type="DateTimeType"/>' in text
    assert '<xs:attribute name="Id" type="xs:integer" use="required"/>' in text
    assert '<xs:element name="Project" maxOccurs="unbounded">' in text
