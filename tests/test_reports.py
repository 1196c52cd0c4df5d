"""Fixture feeds named by their expected outcome, with an exact expected report for every format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from xmlsync.cli import cli

CASES = ROOT / "tests" / "fixtures" / "validate"
EXPECTED = CASES / "expected"
OUTCOME = re.compile(r"-(\d+)_errors(?:-(\d+)_warnings)?$")
FILES = sorted(CASES.glob("*.xml"))
SUFFIX = {"text": "txt", "json": "json", "junit": "junit.xml", "github": "github.txt"}


def expected_counts(path: Path) -> tuple[int, int]:
    match = OUTCOME.search(path.stem)
    assert match, f"{path.name} does not say its outcome (name-N_errors[-M_warnings].xml)"
    return int(match.group(1)), int(match.group(2) or 0)


def test_there_are_valid_and_invalid_cases() -> None:
    counts = [expected_counts(path) for path in FILES]
    assert len(FILES) == 16
    assert (0, 0) in counts and any(errors > 1 for errors, _ in counts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_file_name_states_the_outcome(runner: CliRunner, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)
    errors, warnings = expected_counts(path)
    result = runner.invoke(cli, ["validate", "--format", "json", path.name])
    assert result.exit_code == (1 if errors else 0)
    [file] = json.loads(result.stdout)["files"]
    assert (file["errors"], file["warnings"], file["valid"]) == (errors, warnings, errors == 0)


@pytest.mark.parametrize("report_format", sorted(SUFFIX))
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_report_is_exactly_as_expected(
    runner: CliRunner, path: Path, report_format: str, golden, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CASES)
    result = runner.invoke(cli, ["validate", "--format", report_format, path.name])
    assert result.stderr == ""
    golden(result.stdout_bytes, EXPECTED / f"{path.stem}.{SUFFIX[report_format]}")


def test_several_files_in_one_junit_report(runner: CliRunner, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)
    names = ["valid-2_projects-0_errors.xml", "offers-3_errors.xml", "broken-1_errors.xml"]
    result = runner.invoke(cli, ["validate", "--format", "junit", *names])
    assert result.exit_code == 1
    golden(result.stdout_bytes, EXPECTED / "three-files.junit.xml")


def test_labels_are_coloured_on_a_terminal_unless_no_color(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES)
    name = "rules-2_errors-5_warnings.xml"
    lines = runner.invoke(cli, ["validate", name], color=True).stdout.splitlines()
    assert lines[0].endswith(
        ": \x1b[33m\x1b[1mwarning:\x1b[0m 'jambor.timea(at)minicrm.hu' does not look like an e-mail address"
        " (name@domain.tld) \x1b[33m[invalid-email]\x1b[0m"
    )
    assert lines[1].endswith("use a code such as HUF, EUR or RON \x1b[31m\x1b[1m[unknown-currency]\x1b[0m")
    assert lines[-1] == f"{name}: \x1b[31m\x1b[1mnot valid\x1b[0m (2 errors, 5 warnings)"
    monkeypatch.setenv("NO_COLOR", "1")
    plain = runner.invoke(cli, ["validate", name], color=True).stdout
    assert plain == (EXPECTED / "rules-2_errors-5_warnings.txt").read_text(encoding="utf-8")


def test_repeats_are_one_line_in_the_text_report_and_verbose_lists_each(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CASES)
    name = "woocommerce-plugin-ro-0_errors-20_warnings.xml"
    grouped = runner.invoke(cli, ["validate", name]).stdout.splitlines()
    assert len(grouped) == 12
    assert grouped[0] == (
        f"{name}: warning: element-order x3 in <Order>, first at line 45 (--verbose lists each): <Products> is"
        " present but after <Project>; MiniCRM reads it, the canonical place is before <Project> [element-order]"
    )
    each = runner.invoke(cli, ["-v", "validate", name])
    assert each.exit_code == 0
    lines = each.stdout.splitlines()
    assert len(lines) == 21 and lines[-1] == f"{name}: valid (20 warnings)"
    assert [line.split(":")[1] for line in lines[:3]] == ["45", "50", "60"]
    assert re.fullmatch(rf"{re.escape(name)}: 2 projects checked in \d+\.\d\d s\n", each.stderr)
