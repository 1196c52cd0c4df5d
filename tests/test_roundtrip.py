"""Hypothesis: any text either survives build -> XML -> parse unchanged, or is refused with xml-char."""

from __future__ import annotations

import copy
import io
import json
import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.conftest import FIXTURES
from xmlsync import InputError, project_from_dict
from xmlsync.builder import build_project
from xmlsync.rules import FeedRules, text_hint
from xmlsync.validate import check_project, parse

XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SAMPLE = json.loads((FIXTURES / "sample.json").read_text(), parse_float=Decimal)[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=[]), min_size=1, max_size=40))
def test_text_round_trips_or_is_refused(text: str) -> None:
    record = copy.deepcopy(SAMPLE)
    record["Offers"][0]["Subject"] = text
    if XML_CHAR.search(text):
        try:
            project_from_dict(record)
        except InputError as exc:
            assert [i.code for i in exc.issues] == ["xml-char"]
            return
        raise AssertionError("a character XML 1.0 cannot hold was accepted")
    element = build_project(project_from_dict(record))
    hint = text_hint("Subject", text) if text.strip(" \t\n\r") else None  # "undefined", "&lt;p&gt;": a warning
    expected = [(hint[0], "warning")] if hint else []
    assert [(i.code, i.severity) for i in check_project(element, index=1, rules=FeedRules())] == expected
    data = etree.tostring(element, encoding="UTF-8", xml_declaration=True)
    reparsed = parse(io.BytesIO(data)).getroot()
    assert reparsed.findtext("Offers/Offer/Subject") == (text if text.strip(" \t\n\r") else None)
