"""Validation reports for people and CI systems: text, JSON, JUnit XML, GitHub annotations and an HTML page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

from lxml import etree

from xmlsync.errors import Issue
from xmlsync.page import validate_page
from xmlsync.validate import FileReport, summary, verdict

_PROJECT_PATH = re.compile(r"^/Projects/Project\[(\d+)\]")
_INDEX = re.compile(r"\[\d+\]")

GROUP_FROM = 3
"""The text report shows this many or more issues of one code at one place of the tree (the same path but for
the indexes: every ``<SKU>`` of every ``<Product>``) as one line; ``each=True`` (``--verbose``) lists each. The
other formats always keep every issue."""


FORMAT_VERSION = 1  # of the JSON report: raised when a key changes meaning or goes away, not when one is added


def _place(issue: Issue) -> tuple[str, str, str] | None:
    """Return what makes issues repeats of one another: severity, code and the path without its indexes."""
    return (issue.severity, issue.code, _INDEX.sub("", issue.path)) if issue.path else None


def _grouped(name: str, issues: Sequence[Issue]) -> list[str]:
    """Return a line per issue, repeats (:data:`GROUP_FROM` or more at one place) folded into the first's line."""
    repeats: dict[tuple[str, str, str], list[Issue]] = {}
    for issue in issues:
        if (place := _place(issue)) is not None:
            repeats.setdefault(place, []).append(issue)
    lines: list[str] = []
    for issue in issues:
        place = _place(issue)
        group = repeats.get(place) if place is not None else None
        if group is None or len(group) < GROUP_FROM:
            lines.append(str(issue))
        elif group[0] is issue:
            steps = (place[2] if place else "").split("/")
            parent = steps[-2] if len(steps) > 2 else steps[-1]
            first = f", first at line {issue.line}" if issue.line is not None else ""
            label = "warning: " if issue.severity == "warning" else ""
            lines.append(
                f"{issue.source or name}: {label}{issue.code} x{len(group)} in <{parent}>{first} (--verbose lists"
                f" each): {issue.message} [{issue.code}]"
            )
    return lines


def format_text(reports: Sequence[FileReport], *, each: bool = False) -> str:
    """One line per issue, a verdict per file and, for several files, a summary at the end.

    Repeats of one issue at one place of the tree are one line (:data:`GROUP_FROM`) unless ``each``.
    """
    lines: list[str] = []
    for report in reports:
        lines.extend([str(issue) for issue in report.issues] if each else _grouped(report.name, report.issues))
        lines.append(f"{report.name}: {verdict(report)}")
    if len(reports) > 1:
        lines.append(summary(reports))
    return "\n".join(lines) + "\n"


def format_json(reports: Sequence[FileReport]) -> str:
    """A JSON object: overall validity and, per file, its counts and issues."""
    data = {
        "format_version": FORMAT_VERSION,
        "valid": all(report.valid for report in reports),
        "files": [
            {
                "file": report.name,
                "valid": report.valid,
                "errors": report.errors,
                "warnings": report.warnings,
                "complete": report.complete,
                "issues": [issue.to_dict() for issue in report.issues],
            }
            for report in reports
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _project_of(issue: Issue) -> int | None:
    match = _PROJECT_PATH.match(issue.path or "")
    return int(match.group(1)) if match else None


def _line(issue: Issue) -> str:
    where = ":".join(str(p) for p in (issue.line, issue.column) if p is not None)
    return ": ".join(part for part in (where, issue.path, f"{issue.message} [{issue.code}]") if part)


def format_junit(reports: Sequence[FileReport]) -> str:
    """JUnit XML: a test suite per file and a test case per ``<Project>`` (plus one for file-level issues).

    Errors are ``<failure>`` elements; warnings go to the test case's ``<system-out>``.
    """
    suites = etree.Element("testsuites", name="xmlsync validate")
    total = failures = 0
    for report in reports:
        by_project: dict[int | None, list[Issue]] = {}
        for issue in report.issues:
            by_project.setdefault(_project_of(issue), []).append(issue)
        cases: list[tuple[str, list[Issue]]] = []
        if None in by_project or not report.projects:
            cases.append((f"{report.name} (file)", by_project.get(None, [])))
        for index, (ident, line) in enumerate(report.projects, start=1):
            label = f"/Projects/Project[{index}] (Id {ident}" + (f", line {line})" if line else ")")
            cases.append((label, by_project.get(index, [])))
        suite = etree.SubElement(suites, "testsuite", name=report.name)
        suite_failures = 0
        for name, issues in cases:
            case = etree.SubElement(suite, "testcase", classname=report.name, name=name)
            errors = [issue for issue in issues if issue.severity == "error"]
            warnings = [issue for issue in issues if issue.severity == "warning"]
            if errors:
                suite_failures += 1
                failure = etree.SubElement(case, "failure", type=errors[0].code, message=errors[0].message)
                failure.text = "\n".join(_line(issue) for issue in errors)
            if warnings:
                etree.SubElement(case, "system-out").text = "\n".join(f"warning: {_line(issue)}" for issue in warnings)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(suite_failures))
        suite.set("errors", "0")
        total += len(cases)
        failures += suite_failures
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    etree.indent(suites, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(suites, encoding="unicode") + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(reports: Sequence[FileReport]) -> str:
    """GitHub Actions workflow commands (``::error file=...,line=...::...``), then a verdict per file."""
    lines: list[str] = []
    for report in reports:
        for issue in report.issues:
            props = [f"file={_escape_property(report.name)}"]
            if issue.line is not None:
                props.append(f"line={issue.line}")
            if issue.column is not None:
                props.append(f"col={issue.column}")
            props.append(f"title={_escape_property(issue.code)}")
            where = " ".join(part for part in (issue.path, f"({issue.record})" if issue.record else None) if part)
            message = f"{where}: {issue.message}" if where else issue.message
            lines.append(f"::{issue.severity} {','.join(props)}::{_escape_data(message)}")
        lines.append(f"{report.name}: {verdict(report)}")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Sequence[FileReport]], str]] = {
    "text": format_text,
    "json": format_json,
    "junit": format_junit,
    "github": format_github,
    "html": validate_page,  # a page for people: see xmlsync.page
}


def render(name: str, reports: Sequence[FileReport], *, each: bool = False) -> str:
    """Return the report in the format ``name`` (a key of :data:`FORMATS`); ``each`` lists every issue on its own
    line in the text report, where repeats are otherwise grouped (the other formats always keep every issue)."""
    return format_text(reports, each=each) if name == "text" else FORMATS[name](reports)


def resolve_format(name: str, environ: Mapping[str, str]) -> str:
    """Return the report format ``auto`` stands for: ``github`` in GitHub Actions (``GITHUB_ACTIONS=true``,
    as yamllint's ``auto``), else ``text``; any other name as it is."""
    if name != "auto":
        return name
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"
