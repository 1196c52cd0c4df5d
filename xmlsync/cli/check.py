"""The commands that read and judge: ``validate`` feeds, ``diff`` two of them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from xmlsync.cli.common import (
    ProgressLine,
    _profile,
    _rules,
    _verbose,
    cli,
    painted,
    rule_options,
    schema_option,
)
from xmlsync.config import BuildConfig
from xmlsync.errors import UnreadableError, XmlSyncError
from xmlsync.report import FORMATS as REPORT_FORMATS
from xmlsync.report import render, resolve_format
from xmlsync.validate import check_files, feed_files

if TYPE_CHECKING:
    from xmlsync.validate import FileProgress


@cli.command()
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, allow_dash=True),
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["auto", *REPORT_FORMATS]),
    default="auto",
    show_default=True,
    help="text: a line per issue; json: one object; junit: a test case per Project; github: annotations; html: a"
    " page for people, each issue linked to its line; auto: github in GitHub Actions (GITHUB_ACTIONS=true), else"
    " text.",
)
@click.option("--max-errors", type=click.IntRange(min=1), metavar="N", help="Stop after N errors in all.")
@rule_options
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Take the [policy] of this mapping profile (accepted VAT codes, strictness); flags override it.",
)
@schema_option
@click.pass_context
def validate(
    ctx: click.Context,
    files: Sequence[str],
    report_format: str,
    max_errors: int | None,
    strict: bool | None,
    vat_codes: Sequence[str],
    profile_path: str | None,
    schema_path: str | None,
) -> None:
    """Validate XML Sync offer files against the bundled XSD and the business rules.

    Reports every error with file:line, XML path, record Id, a stable code and how to fix it. Exits 0 if
    every file is valid, 1 if any is not or cannot be read (as in every command), 2 on a usage error.

    \b
    Example:
        xmlsync validate offers.xml
        xmlsync validate --format github feeds/
        xmlsync validate yesterday.xml.gz
    """
    rules = _rules(
        _profile(profile_path), BuildConfig(), schema_path, "nothing was checked", vat_codes=vat_codes, strict=strict
    )
    report_format = resolve_format(report_format, os.environ)
    line = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
    checked: list[FileProgress] = []

    def progress(state: FileProgress) -> None:
        if line is not None:
            line.files(state)
        if state.done:
            checked.append(state)

    try:
        found = feed_files(files)
        reports = check_files(
            found, rules=rules, max_errors=max_errors, keep_projects=report_format == "junit", progress=progress
        )
    except UnreadableError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(1)
    if _verbose():
        for state in checked:
            count = f"{state.projects:,} project{'' if state.projects == 1 else 's'}"
            click.echo(f"{state.name}: {count} checked in {state.elapsed:.2f} s", err=True)
    text = render(report_format, reports, each=_verbose())
    if report_format == "text":
        text = "".join(f"{painted(line)}\n" for line in text.splitlines())
    click.echo(text, nl=False)
    ctx.exit(int(not all(report.valid for report in reports)))


@cli.command()
@click.argument("old", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@click.argument("new", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text: a line per project that differs and per changed field; json: one object; html: a page to open in"
    " a browser (self-contained, offline), cards by Name with old and new values side by side.",
)
@click.pass_context
def diff(ctx: click.Context, old: str, new: str, report_format: str) -> None:
    """Compare two feeds by Project Id: projects added, removed and changed, with the fields that changed.

    Both files are streamed, so memory stays flat. Exits 0 if no project differs, 1 if any does, 2 on a
    usage error or a file that cannot be read as a feed.

    \b
    Example:
        xmlsync diff yesterday.xml today.xml
        xmlsync diff --format json old.xml new.xml > changes.json
    """
    from xmlsync.diff import diff_feeds, iter_json, iter_text
    from xmlsync.page import diff_page

    if old == "-" and new == "-":
        raise click.UsageError("only one of OLD and NEW can be - (stdin)")
    result = diff_feeds(
        sys.stdin.buffer if old == "-" else old,
        sys.stdin.buffer if new == "-" else new,
        old_name="<stdin>" if old == "-" else old,
        new_name="<stdin>" if new == "-" else new,
    )
    try:
        if report_format == "html":
            click.echo(diff_page(result), nl=False)
        else:
            for line in iter_json(result) if report_format == "json" else iter_text(result):
                click.echo(line)
    except XmlSyncError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        ctx.exit(2)
    ctx.exit(int(not result.same))
