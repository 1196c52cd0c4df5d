"""Fuzzing, run in CI for a bounded number of examples: hostile records through build, hostile bytes through validate.

Both directions assert the same two things: no exception but xmlsync's own, and nothing written that
``validate`` refuses. ``XMLSYNC_FUZZ_EXAMPLES`` raises the number of examples for a longer run.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, SAMPLE_XML
from tests.test_properties import projects
from xmlsync import BuildConfig, InputError, check_file, write_feed
from xmlsync.readers import RawRecord, read_jsonl

EXAMPLES = int(os.environ.get("XMLSYNC_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

HOSTILE_SCALARS = st.sampled_from(
    [
        Decimal("1E+99999999"), Decimal("1E-99999999"), Decimal("-1E+5000"), Decimal("NaN"), Decimal("Infinity"),
        Decimal("1E+19"), Decimal("0E+50"), 10**100, -(10**30), 2**63, 2**64, -1, 0, True, False, 1.5, float("inf"),
        "", " ", "\x00", "\ud800", "\x0b", "1e99999999", "9" * 5000, "-5", "12.50", "1 250,50", "27", "27%",
        "1000%", "KBAUK", "2024-02-30", "2024-3-5", "0000-00-00", "2021-09-30T12:15:13+02:00", b"\x00\xff", None,
        "&amp;", "<!DOCTYPE x>", "]]>", "a" * 10_000,
    ]
)  # fmt: skip


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = HOSTILE_SCALARS | st.builds(nested, st.integers(1, 200)) | st.dictionaries(st.text(max_size=5), st.none())


@st.composite
def hostile_records(draw: st.DrawFn) -> list[Any]:
    """Generated projects with leaves, objects or whole records replaced by hostile values."""
    records: list[Any] = draw(projects())

    def damage(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                roll = draw(st.integers(0, 7))
                if roll == 0:
                    continue
                out[key] = draw(HOSTILE) if roll == 1 else damage(value)
            if draw(st.integers(0, 9)) == 0:
                out[draw(st.text(max_size=8))] = draw(HOSTILE)
            return out
        if isinstance(node, list):
            return [damage(item) for item in node]
        return node

    damaged = [damage(record) for record in records]
    if draw(st.booleans()):
        damaged.append(draw(HOSTILE))
    return damaged


def build_and_check(records: list[RawRecord]) -> None:
    out, rejects = io.BytesIO(), io.BytesIO()
    try:
        result = write_feed(records, out, BuildConfig(pretty=False), rejects=rejects)
    except InputError:
        raise AssertionError("with a rejects stream, bad records are set aside, not raised") from None
    data = out.getvalue()
    report = check_file(data, name="built.xml")
    assert report.errors == 0, [str(issue) for issue in report.issues]
    assert len(data) < 4096 + 60_000 * (result.projects + 1)  # no value grows without bound
    assert len(rejects.getvalue().splitlines()) == result.skipped


@FUZZ
@given(hostile_records())
def test_hostile_records_build_a_valid_feed_or_are_set_aside(records: list[Any]) -> None:
    build_and_check([RawRecord(record, f"fuzz:[{i}]") for i, record in enumerate(records)])


JSON_FRAGMENTS = st.sampled_from(
    [
        b'{"Id": 1, "Id": 2}', b"[" * 5000 + b"]" * 5000, b'{"Id": 1e99999999}', b'{"Id": ' + b"9" * 5000 + b"}",
        b'{"Name": "\\ud800"}', b"\xff\xfe", b'{"Offers": [{"Products": [{"PriceNet": 1e-400}]}]}', b"null", b"[]",
        b'"x"', b"{", b"\x00",
    ]
)  # fmt: skip


@FUZZ
@given(st.lists(JSON_FRAGMENTS | st.binary(max_size=60), max_size=6))
def test_hostile_json_lines_never_raise(lines: list[bytes]) -> None:
    records = list(read_jsonl(io.BytesIO(b"\n".join(lines)), "fuzz.jsonl"))
    build_and_check(records)


SAMPLE = SAMPLE_XML.read_text(encoding="utf-8")
DOCTYPES = st.sampled_from(
    ['<!DOCTYPE Projects [<!ENTITY a "b">]>', '<!DOCTYPE Projects SYSTEM "http://127.0.0.1:9/x.dtd">', "<!DOCTYPE x>"]
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-7", "cp500"])


PROLOG_PARTS = st.lists(st.sampled_from(["\n", "spaces", "<!-- c -->", "<?pi x?>"]), max_size=3)
DAMAGE = st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=6), st.integers(0, 6)), max_size=2)


def hostile_feed(prolog: list[str], doctype: str | None, attributes: int, encoding: str, damage: Any) -> bytes:
    """The sample, with a prolog (70,000 spaces for "spaces"), a DOCTYPE, attributes, another encoding, damage."""
    head, body = SAMPLE.split("?>", 1)
    text = "".join(" " * 70_000 if part == "spaces" else part for part in prolog) + (doctype or "")
    extra = " ".join(f'a{i}="{i}"' for i in range(attributes))
    body = body.replace('<Project Id="99999">', f'<Project Id="99999" {extra}>', 1)
    declared = {"utf-8-sig": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}.get(encoding, encoding)
    prefix = head.replace('encoding="UTF-8"', f'encoding="{declared}"') + "?>" + text
    data = (prefix + body).encode(encoding)
    after_prolog = len((prefix + "<Projects>").encode(encoding))
    for where, new, length in damage:  # damage the body, not the prolog
        start = after_prolog + int(where * (len(data) - after_prolog))
        data = data[:start] + new + data[start + length :]
    return data


@FUZZ
@given(PROLOG_PARTS, st.none() | DOCTYPES, st.integers(0, 600), ENCODINGS, DAMAGE)
def test_hostile_feeds_get_a_report_and_a_doctype_is_refused_first(
    prolog: list[str], doctype: str | None, attributes: int, encoding: str, damage: Any
) -> None:
    data = hostile_feed(prolog, doctype, attributes, encoding, damage)
    report = check_file(data, name="fuzz.xml", max_errors=50)
    assert all(issue.code and issue.message and "\n" not in issue.message for issue in report.issues)
    if encoding in ("utf-32", "cp500"):  # libxml2 does not stream them, so nothing is parsed at all
        assert [issue.code for issue in report.issues] == ["encoding"]
    elif doctype is not None:
        assert [issue.code for issue in report.issues] == ["dtd-forbidden"]


# -- profiles of every shape, push answers, diff and export -----------------------------------------------------

PROFILE_VALUES = st.sampled_from(
    [1, -1, 2**70, 1.5, True, "", "x", "\x00", [], [1], ["a"], {}, {"a": 1}, {"a": {"b": []}}, "utf-8", ",", '"',
     "%d.%m.%Y", "53-bit", "Project.Name"]
)  # fmt: skip
PROFILE_KEYS = st.sampled_from(
    ["columns", "constants", "values", "ids", "locale", "policy", "input", "countries", "x"]
)  # fmt: skip


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(key)} = {_toml(item)}" for key, item in value.items()) + "}"


@FUZZ
@given(st.lists(st.tuples(PROFILE_KEYS, st.text(max_size=20) | PROFILE_KEYS, PROFILE_VALUES), max_size=8))
def test_profiles_of_any_shape_are_one_clear_error(tmp_path_factory: Any, entries: list[tuple[str, str, Any]]) -> None:
    import tomllib

    from xmlsync import XmlSyncError, load_profile

    path = tmp_path_factory.mktemp("p") / "p.toml"
    base = (ROOT / "fixtures" / "erp" / "erp.toml").read_text(encoding="utf-8")
    extra = "\n".join(f"[{section}.{_toml(key)}]\nv = {_toml(value)}" if section == "x" else
                      f"{_toml(key)} = {_toml(value)}" for section, key, value in entries)  # fmt: skip
    for text in (base + "\n[zz]\n" + extra, extra):
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        path.write_text(text, encoding="utf-8")
        try:
            load_profile(path)
        except XmlSyncError as exc:
            assert all(issue.code for issue in exc.issues)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["application/json", "text/html", ""]))
def test_push_takes_only_a_json_200_as_minicrms_answer(body: bytes, kind: str) -> None:
    import json

    import httpx

    from tests.conftest import KEY, SYSTEM
    from xmlsync.push import Credentials, PushConfig, PushError, Request, push

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body, headers={"Content-Type": kind}))
    try:
        minicrm = isinstance(json.loads(body.decode("utf-8", errors="replace")), dict)
    except ValueError:
        minicrm = False
    with httpx.Client(transport=transport) as client:
        try:
            [done] = push([Request("upload", str(SAMPLE_XML))], Credentials(SYSTEM, KEY), PushConfig(), client=client)
            assert minicrm, done
        except PushError as exc:
            assert not minicrm and [issue.code for issue in exc.issues] == ["not-minicrm"]


@FUZZ
@given(st.binary(max_size=2000))
def test_diff_and_export_of_hostile_bytes_are_one_clear_error(data: bytes) -> None:
    from xmlsync import XmlSyncError, diff_feeds
    from xmlsync.export import export_feed

    sample = SAMPLE_XML.read_bytes()
    mutated = sample[: len(data) % len(sample)] + data + sample[len(data) % len(sample) :]
    for feed in (data, mutated):
        with contextlib.suppress(XmlSyncError):
            list(diff_feeds(sample, feed))
        with contextlib.suppress(XmlSyncError):
            export_feed(feed, io.BytesIO())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(JSON, JSON)
def test_schema_files_and_rest_answers_of_any_shape(tmp_path_factory: Any, fields: Any, categories: Any) -> None:
    import json

    from xmlsync import XmlSyncError
    from xmlsync.config import SCHEMA_KIND as KIND
    from xmlsync.config import SystemSchema
    from xmlsync.system import schema_issues

    path = tmp_path_factory.mktemp("s") / "schema.json"
    path.write_text(
        json.dumps({"kind": KIND, "categories": categories, "fields": {"39": fields}, "offer_category": "39"})
    )
    try:
        schema = SystemSchema.load(path)
    except XmlSyncError as exc:
        assert [issue.code for issue in exc.issues] == ["minicrm-schema"]
        return
    for issue in schema_issues(SAMPLE_XML.read_bytes(), schema, name="sample.xml"):
        assert issue.code in {"unknown-value", "unknown-field", "text-too-long", "wrong-field-type", "file-field"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ANSWER = JSON | st.dictionaries(st.sampled_from(["Id", "Number", "Results", "Count"]), JSON, max_size=3)


@functools.cache
def _first_offer() -> list[Any]:
    from xmlsync.offerapi import read_offer_requests

    return read_offer_requests(ROOT / "fixtures" / "offers.json")[:1]


@settings(FUZZ, max_examples=max(30, EXAMPLES // 3))  # each example writes a state file twice, with its syncs
@given(ANSWER, ANSWER | st.fixed_dictionaries({"Results": st.dictionaries(st.text(max_size=3), ANSWER, max_size=3)}))
def test_offer_api_answers_of_any_shape_never_create_an_offer_twice(created: Any, listed: Any) -> None:
    import json
    import tempfile
    from pathlib import Path

    import httpx

    from tests.conftest import KEY, SYSTEM
    from xmlsync.offerapi import OfferConfig, send_offers
    from xmlsync.push import Credentials
    from xmlsync.state import State

    creates = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/Api/Offer":
            creates.append(request)
            return httpx.Response(200, content=json.dumps(created).encode())
        if request.url.path == "/Api/Offer/List":
            return httpx.Response(200, content=json.dumps(listed).encode())
        return httpx.Response(200, content=b"{}")

    requests = _first_offer()
    with tempfile.TemporaryDirectory() as folder, httpx.Client(transport=httpx.MockTransport(answer)) as client:
        results = []
        for _ in range(2):
            with State(Path(folder) / "state.db") as state:
                results.append(send_offers(requests, Credentials(SYSTEM, KEY), state, OfferConfig(), client=client))
    assert len(creates) == 1
    first, second = ([outcome.result for outcome in result.outcomes] for result in results)
    assert first in (["created"], ["unknown"]), first
    assert second == (["unchanged"] if first == ["created"] else second), second
    assert second in (["unchanged"], ["unknown"], ["resolved"]), second
