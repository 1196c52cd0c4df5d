"""The command line: exit codes, exact messages, nothing written on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from tests.conftest import FIXTURES, GOLDEN, ROOT, SAMPLE_XML
from xmlsync import __version__, check_files
from xmlsync.cli import cli

BAD_RECORDS = [
    {
        "Id": 7,
        "Name": "Kft.",
        "CategoryId": "39",
        "StatusId": "Registered",
        "Business": {"Name": "Kft."},
        "Offers": [
            {
                "Id": 8,
                "Number": "A-1",
                "CurrencyCode": "hu",
                "Prompt": "2024-01-01",
                "Performance": "2024-01-01",
                "Issued": "2024-01-01",
                "Status": "Accepted",
                "Customer": {"Name": "X", "CountryId": "Hungary", "PostalCode": "1", "City": "B", "Address": "A"},
                "Products": [
                    {"Id": 9, "Name": "P", "PriceNet": 1, "Quantity": 1, "Unit": "db", "VAT": "27%", "FolderName": "F"}
                ],
            }
        ],
    },
    {"Id": 8, "Name": 5, "CategoryId": 39, "StatusId": ["x"], "Contacts": [{"FirstName": "A"}], "Offers": "none"},
]


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_build_writes_the_feed(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "offers.xml"
    result = runner.invoke(cli, ["build", str(FIXTURES / "sample.json"), "-o", str(out)], catch_exceptions=False)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        f"{out}: wrote 1 project, 1 offer, 1 product from 1 input row, 0 rejected\n",
    )
    assert out.read_bytes() == (GOLDEN / "sample" / "expected.xml").read_bytes()


def test_build_compact_to_stdout_from_stdin(runner: CliRunner) -> None:
    data = (FIXTURES / "offers.json").read_bytes()
    result = runner.invoke(cli, ["build", "-", "-o", "-", "--compact"], input=data, catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout_bytes == (GOLDEN / "offers" / "expected-compact.xml").read_bytes()
    assert result.stderr == "<stdout>: wrote 2 projects, 3 offers, 5 products from 2 input rows, 0 rejected\n"


def test_build_reports_every_problem_and_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    source = write_json(tmp_path / "in.json", BAD_RECORDS)
    out = tmp_path / "offers.xml"
    out.write_bytes(b"previous feed")
    result = runner.invoke(cli, ["build", str(source), "-o", str(out)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{source}:[0]: /Projects/Project[1]/Offers/Offer[1]/CurrencyCode (Project 7 > Offer 8): <CurrencyCode> is"
        " 'hu'; expected a three-letter upper-case ISO 4217 currency code, e.g. HUF [invalid-value]",
        f"{source}:[1]: StatusId (Project 8): expected a text, got a list [wrong-type]",
        f"{source}:[1]: Offers (Project 8): expected a list, got a text [wrong-type]",
        f"Error: 3 problems found; {out} was not written",
    ]
    assert out.read_bytes() == b"previous feed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "offers.xml"]


def test_build_rejects_invalid_json_with_its_position(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text('[\n  {"Id": 1,}\n]\n')
    out = tmp_path / "offers.xml"
    result = runner.invoke(cli, ["build", str(source), "-o", str(out)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{source}:2:12: not valid JSON: Expecting property name enclosed in double quotes [invalid-json]\n"
        f"Error: 1 problem found; {out} was not written\n",
    )
    assert not out.exists()


def test_build_rejects_a_top_level_object(runner: CliRunner, tmp_path: Path) -> None:
    source = write_json(tmp_path / "in.json", {"Projects": []})
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "o.xml")])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f'{source}: expected a JSON list of projects at the top level, e.g. [{{"Id": 1, ...}}] [wrong-type]'
    )


def test_build_rejects_bytes_that_are_not_utf8(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_bytes('[\n{"Name": "Árvíztűrő"}]'.encode("cp1250"))
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "o.xml")])
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[0] == f"{source}:2: byte 0xC1 is not valid UTF-8; save the file as UTF-8 [encoding]"
    )


def test_build_names_the_field_with_a_character_xml_cannot_hold(runner: CliRunner, tmp_path: Path) -> None:
    records = json.loads((FIXTURES / "sample.json").read_text())
    records[0]["Offers"][0]["Subject"] = "tab\tok, vertical tab\x0bnot"
    source = write_json(tmp_path / "in.json", records)
    out = tmp_path / "o.xml"
    result = runner.invoke(cli, ["build", str(source), "-o", str(out)])
    assert (result.exit_code, result.stderr.splitlines()) == (
        1,
        [
            f"{source}:[0]: Offers[1].Subject (Project 99999): contains U+000B at position 21, which XML 1.0 cannot"
            " hold; remove it from the source data or use --clean-text to drop such characters [xml-char]",
            f"Error: 1 problem found; {out} was not written",
        ],
    )
    result = runner.invoke(cli, ["build", str(source), "-o", str(out), "--clean-text"], catch_exceptions=False)
    assert result.exit_code == 0
    assert b"<Subject>tab\tok, vertical tabnot</Subject>" in out.read_bytes()


def test_build_needs_an_existing_input(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["build", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.xml")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '[INPUT]': File '{tmp_path / 'missing.json'}' does not exist."
    )


def test_build_needs_an_output(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["build", str(FIXTURES / "sample.json")])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: Missing option '-o' / '--output'."


def test_validate_a_valid_file(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(SAMPLE_XML)], catch_exceptions=False)
    assert (result.exit_code, result.stdout) == (0, f"{SAMPLE_XML}: valid\n")


def test_validate_lists_every_error_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    text = SAMPLE_XML.read_text(encoding="utf-8")
    bad.write_text(
        text.replace("<CurrencyCode>HUF</CurrencyCode>", "").replace("2021-09-22 12:15:13", "22.09.2021"),
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["validate", str(SAMPLE_XML), str(bad)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{SAMPLE_XML}: valid",
        f"{bad}:37: /Projects/Project[1]/Offers/Offer[1] (Project 99999 > Offer 99999): <Offer> is missing"
        " <CurrencyCode>; add it [missing-element]",
        f"{bad}:47: /Projects/Project[1]/Offers/Offer[1]/Issued (Project 99999 > Offer 99999): <Issued> is"
        " '22.09.2021'; expected a date YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, e.g. 2021-09-30 12:15:13 [invalid-value]",
        f"{bad}: not valid (2 errors)",
        "2 files: 1 valid, 1 not valid",
    ]


def test_validate_json_report(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<Projects><Project Id='1'/></Projects>")
    result = runner.invoke(cli, ["validate", "--format", "json", str(bad)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "format_version": 1,
        "valid": False,
        "files": [
            {
                "file": str(bad),
                "valid": False,
                "errors": 4,
                "warnings": 0,
                "complete": True,
                "issues": [
                    {
                        "code": code,
                        "severity": "error",
                        "message": message,
                        "source": str(bad),
                        "record": "Project 1",
                        "path": "/Projects/Project[1]",
                        "line": 1,
                        "column": None,
                    }
                    for code, message in [
                        ("missing-element", "<Project> is missing <Name>; add it"),
                        ("missing-element", "<Project> is missing <CategoryId>; add it"),
                        ("missing-element", "<Project> is missing <StatusId>; add it"),
                        (
                            "company-or-person-required",
                            "a project needs a Business (company) or at least one Contact (person); MiniCRM requires"
                            " one of them",
                        ),
                    ]
                ],
            }
        ],
    }


def test_validate_reads_stdin(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "-"], input="<Projects><Oops/></Projects>")
    assert (result.exit_code, result.stdout.splitlines()) == (
        1,
        [
            "<stdin>:1: /Projects/Oops[1]: <Oops> is not part of the format in <Projects>; <Projects> holds only"
            " <Project> [unexpected-element]",
            "<stdin>: not valid (1 error)",
        ],
    )


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (
            "<Projects><Project></Projects>",
            "x.xml:1:31: not well-formed XML: the end tag </Projects> does not close <Project> (line 1); write"
            " </Project>, or check the spelling of both [xml-syntax]",
        ),
        ("", "x.xml:1: not well-formed XML: the file is empty [xml-syntax]"),
        (
            "<Offers/>",
            "x.xml:1: /Offers: the root element is <Offers>; an XML Sync offer feed starts with <Projects>"
            " [wrong-root]",
        ),
    ],
)
def test_validate_reports_unusable_files_in_one_line(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.xml").write_text(content)
    result = runner.invoke(cli, ["validate", "x.xml"])
    assert (result.exit_code, result.stdout.splitlines()) == (1, [line, "x.xml: not valid (1 error)"])


def test_validate_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["validate", str(tmp_path / "none.xml")])
    assert missing.exit_code == 2
    assert (
        missing.stderr.splitlines()[-1]
        == f"Error: Invalid value for 'FILE...': Path '{tmp_path / 'none.xml'}' does not exist."
    )
    nothing = runner.invoke(cli, ["validate"])
    assert (nothing.exit_code, nothing.stderr.splitlines()[-1]) == (2, "Error: Missing argument 'FILE...'.")
    bad_format = runner.invoke(cli, ["validate", "--format", "xml", str(SAMPLE_XML)])
    assert bad_format.exit_code == 2


def test_schema_prints_the_bundled_xsd(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "schemas" / "minicrm-offers.xsd").read_text(encoding="utf-8")


@pytest.mark.parametrize("variant", ["offers", "orders"])
def test_schema_prints_one_variant(runner: CliRunner, variant: str, golden) -> None:
    result = runner.invoke(cli, ["schema", "--variant", variant], catch_exceptions=False)
    assert result.exit_code == 0
    golden(result.stdout_bytes, GOLDEN / "schema" / f"{variant}.xsd")
    xsd = etree.XMLSchema(etree.fromstring(result.stdout_bytes))
    offers, orders = (etree.parse(str(GOLDEN / case / "expected.xml")) for case in ("sample", "webshop"))
    assert (xsd.validate(offers), xsd.validate(orders)) == (variant == "offers", variant == "orders")


def test_schema_refuses_an_unknown_variant(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema", "--variant", "invoices"])
    assert result.exit_code == 2
    assert "'invoices' is not one of 'all', 'offers', 'orders'" in result.stderr


def test_schema_infer_prints_the_skeleton(runner: CliRunner, golden) -> None:
    result = runner.invoke(cli, ["schema", "infer", str(SAMPLE_XML)], catch_exceptions=False)
    assert result.exit_code == 0
    golden(result.stdout_bytes, GOLDEN / "infer" / "skeleton.xsd")


def test_schema_infer_rejects_a_broken_sample(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "s.xml"
    broken.write_text("<Projects>")
    result = runner.invoke(cli, ["schema", "infer", str(broken)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: 1 problem found; no skeleton was printed"


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"xmlsync, version {__version__}\n")


# -- hostile JSON: bounded, located, never a traceback -------------------------------------------------------------


def sample_text() -> str:
    return (FIXTURES / "sample.json").read_text(encoding="utf-8")


def test_a_huge_exponent_builds_nothing_and_stops_at_once(runner: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(sample_text().replace('"PriceNet": 1250', '"PriceNet": 1e99999999').replace(
        '"Name": "Test Company",\n    "CategoryId"', '"Name": 1e-99999999,\n    "CategoryId"'))  # fmt: skip
    out = tmp_path / "o.xml"
    result = runner.invoke(cli, ["build", str(source), "-o", str(out)])
    assert (result.exit_code, result.stderr.splitlines()) == (
        1,
        [
            f"{source}:[0]: Name (Project 99999): expected a text, got a number with a fraction or an exponent; write"
            ' it in quotes as it should read (e.g. "10.50"), or set [input] numbers_as_text = "all" in the profile'
            " [wrong-type]",
            f"{source}:[0]: Offers[1].Products[1].PriceNet (Project 99999): 1E+99999999 has more digits than a feed"
            " holds: at most 20 before and 20 after the decimal point [invalid-number]",
            f"Error: 2 problems found; {out} was not written",
        ],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"Id": 1e5000}]', ":[0]: Id: 1E+5000 is out of range; an Id must be between 0 and 9223372036854775807"
         " [invalid-id]"),
        ('[{"Id": ' + "9" * 5000 + "}]", ": not valid JSON: a number has more than 4300 digits; no value of a feed is"
         " that long [invalid-json]"),
        ("[" * 100_000 + "]" * 100_000, ": not valid JSON: the data is nested too deeply; a project record is a few"
         " levels deep [invalid-json]"),
        ('[{"Id": 1, "Name": "A", "Name": "B"}]', ': not valid JSON: the key "Name" appears twice in one object; give'
         " each key once [invalid-json]"),
    ],
    ids=["id-1e5000", "5000-digit-int", "deep-nesting", "duplicate-key"],
)  # fmt: skip
def test_hostile_json_gets_one_line(runner: CliRunner, tmp_path: Path, text: str, message: str) -> None:
    source = tmp_path / "in.json"
    source.write_text(text)
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "o.xml")])
    assert (result.exit_code, result.stderr.splitlines()[0]) == (1, f"{source}{message}")
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_duplicate_keys_in_json_lines(runner: CliRunner, tmp_path: Path) -> None:
    record = json.loads(sample_text())[0]
    good = json.dumps(record)
    source = tmp_path / "in.jsonl"
    source.write_text(good + "\n" + good.replace('"StatusId": "Registered"', '"StatusId": "A", "StatusId": "B"') + "\n")
    result = runner.invoke(cli, ["build", str(source), "-o", str(tmp_path / "o.xml"), "--on-invalid", "skip"])
    assert (result.exit_code, result.stderr) == (
        0,
        f"{tmp_path / 'o.xml'}: wrote 1 project, 1 offer, 1 product from 2 input rows, 1 rejected; skipped 1 invalid"
        f" record, listed in {tmp_path / 'o.rejects.jsonl'}\n",
    )
    [reject] = [json.loads(line) for line in (tmp_path / "o.rejects.jsonl").read_text().splitlines()]
    assert [error["message"] for error in reject["errors"]] == [
        'not valid JSON: the key "StatusId" appears twice in one object; give each key once'
    ]


def test_validate_searches_a_folder_and_reads_gzip(runner: CliRunner, tmp_path: Path) -> None:
    import gzip

    feeds = tmp_path / "feeds"
    (feeds / "b").mkdir(parents=True)
    (feeds / ".git").mkdir()
    (feeds / "b" / "two.xml").write_bytes(SAMPLE_XML.read_bytes())
    (feeds / "one.xml.gz").write_bytes(gzip.compress(SAMPLE_XML.read_bytes()))
    (feeds / ".git" / "config.xml").write_text("<not-a-feed/>")
    (feeds / "readme.txt").write_text("not a feed")
    result = runner.invoke(cli, ["validate", str(feeds)], catch_exceptions=False)
    assert (result.exit_code, result.stdout) == (
        0,
        f"{feeds / 'b' / 'two.xml'}: valid\n{feeds / 'one.xml.gz'}: valid\n2 files: 2 valid, 0 not valid\n",
    )
    broken = tmp_path / "broken.xml.gz"
    broken.write_bytes(b"\x1f\x8b not gzip at all")
    bad = runner.invoke(cli, ["validate", str(broken)])
    assert (bad.exit_code, bad.stderr) == (
        1,
        f"Error: {broken}: cannot read the file: Unknown compression method [unreadable-input]\n",
    )
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(gzip.compress(SAMPLE_XML.read_bytes())[:100])
    short = runner.invoke(cli, ["validate", str(cut)])
    assert (short.exit_code, short.stderr) == (
        1,
        f"Error: {cut}: cannot unpack the file: Compressed file ended before the end-of-stream marker was reached"
        " (not a whole gzip file) [unreadable-input]\n",
    )


def test_color_auto_always_never_and_the_github_format_in_actions(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(SAMPLE_XML.read_text(encoding="utf-8").replace("<Unit>piece</Unit>", ""))
    plain = runner.invoke(cli, ["validate", str(bad)])
    always = runner.invoke(cli, ["--color", "always", "validate", str(bad)])
    never = runner.invoke(cli, ["--color", "never", "validate", str(bad)])
    assert "\x1b[" not in plain.stdout and "\x1b[31m\x1b[1m[missing-element]\x1b[0m" in always.stdout
    assert never.stdout == plain.stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" in runner.invoke(cli, ["--color", "always", "validate", str(bad)]).stdout
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    actions = runner.invoke(cli, ["validate", str(bad)])
    assert actions.stdout.startswith(f"::error file={bad},line=")
    text = runner.invoke(cli, ["validate", "--format", "text", str(bad)])
    assert text.stdout == plain.stdout


def test_progress_lines_for_validate_and_push(tmp_path: Path) -> None:
    import io

    from xmlsync.cli import ProgressLine
    from xmlsync.push import Upload
    from xmlsync.validate import FileProgress

    seen: list[FileProgress] = []
    big = tmp_path / "big.xml"
    projects = SAMPLE_XML.read_text(encoding="utf-8").split("<Projects>", 1)[1].rsplit("</Projects>", 1)[0]
    body = "".join(
        projects.replace('<Project Id="99999">', f'<Project Id="{n}">', 1).replace(
            '<Offer Id="99999">', f'<Offer Id="{n}">'
        )
        for n in range(1, 2501)
    )
    big.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<Projects>{body}</Projects>\n', encoding="utf-8")
    [report] = check_files([big], progress=seen.append)
    assert report.valid and [(p.projects, p.done) for p in seen] == [(1000, False), (2000, False), (2500, True)]
    assert seen[-1].fraction == 1.0 and 0 < (seen[0].fraction or 0) < 1
    out = io.StringIO()
    line = ProgressLine(out, delay=0)
    line.files(FileProgress("feeds/a.xml", 2500, 61.0, 0.5))
    line.files(FileProgress("feeds/a.xml", 5000, 122.0, 1.0, done=True))
    line.upload(Upload("offers-0001.xml", 25_000_000, 50_000_000, 10.0))
    assert out.getvalue() == (
        "\r[##########..........]  50%  feeds/a.xml: 2,500 projects, 1:01 elapsed, about 1:01 left\x1b[K"
        "\r[####################] 100%  feeds/a.xml: 5,000 projects, 2:02 elapsed\x1b[K\n"
        "\r[##########..........]  50%  offers-0001.xml: 25.0 of 50.0 MB sent, 0:10 elapsed, about 0:10 left\x1b[K"
    )


def test_verbose_says_what_each_step_took(runner: CliRunner, tmp_path: Path) -> None:
    import re

    checked = runner.invoke(cli, ["-v", "validate", str(SAMPLE_XML)], catch_exceptions=False)
    assert (checked.exit_code, checked.stdout) == (0, f"{SAMPLE_XML}: valid\n")
    assert re.fullmatch(rf"{re.escape(str(SAMPLE_XML))}: 1 project checked in [0-9]+\.[0-9]{{2}} s\n", checked.stderr)
    built = runner.invoke(cli, ["-v", "build", str(FIXTURES / "offers.json"), "-o", str(tmp_path / "o.xml")])
    assert built.stderr.splitlines() == [
        "no profile: policy: VAT codes accepted besides percentages: none (default)",
        "no profile: policy: offer statuses accepted: any (default)",
        "no profile: policy: warnings are errors: no (default)",
        "no profile: policy: on an invalid record: fail (default)",
        "no profile: policy: checked against the MiniCRM system's schema: none (default)",
        "no profile: locale: a VAT value between 0 and 1 is an error (default)",
        f"{tmp_path / 'o.xml'}: wrote 2 projects, 3 offers, 5 products from 2 input rows, 0 rejected",
    ]
    quiet = runner.invoke(cli, ["validate", str(SAMPLE_XML)])
    assert quiet.stderr == ""
