"""The ``xmlsync`` command line: a thin shell over the library.

Exit codes: 0 success or valid, 1 invalid data or a processing error, 2 usage error or unreadable input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from xmlsync import __version__
from xmlsync.config import BuildConfig
from xmlsync.errors import UnreadableError, XmlSyncError
from xmlsync.infer import infer_schema
from xmlsync.pipeline import build_file
from xmlsync.report import FORMATS
from xmlsync.rules import RuleConfig
from xmlsync.schema import schema_text
from xmlsync.validate import check_files

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: XmlSyncError, what: str) -> click.ClickException:
    """Print every issue on stderr and return the exception that ends the command with exit code 1."""
    for issue in exc.issues:
        click.echo(str(issue), err=True)
    count = len(exc.issues)
    return click.ClickException(f"{count} problem{'' if count == 1 else 's'} found; {what}")


def rule_options(func: F) -> F:
    """Options of the business rules, shared by build and validate."""
    func = click.option(
        "--strict",
        is_flag=True,
        help="Treat warnings (EAN check digit, Issued after Prompt, VAT codes, e-mail syntax) as errors.",
    )(func)
    func = click.option(
        "--vat-code",
        "vat_codes",
        multiple=True,
        metavar="CODE",
        help="Accept this VAT code (e.g. KBAUK) as given; repeatable. By default only percentages such as 27%.",
    )(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="xmlsync")
def cli() -> None:
    """Turn ERP offer records into MiniCRM XML Sync feeds, and validate such feeds."""


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="The XML file to write (replaced atomically), or - for stdout.",
)
@click.option("--pretty/--compact", default=True, show_default=True, help="Indent the XML or write it compactly.")
@click.option(
    "--clean-text",
    is_flag=True,
    help="Drop characters XML 1.0 cannot hold (e.g. \\x0b) instead of failing on them.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help="Accept only these offer Status values; repeatable. By default any non-empty status.",
)
@rule_options
def build(
    input_path: str,
    output: str,
    pretty: bool,
    clean_text: bool,
    statuses: Sequence[str],
    strict: bool,
    vat_codes: Sequence[str],
) -> None:
    """Build a MiniCRM XML Sync offer feed from JSON records.

    INPUT is a JSON list of projects keyed like the XML tree (- for stdin). The feed is checked against
    the XSD and the business rules before it is written: on any error nothing is written and every
    problem is listed.

    \b
    Example:
        xmlsync build fixtures/offers.json -o offers.xml
    """
    config = BuildConfig(
        pretty=pretty,
        clean_text=clean_text,
        vat_codes=frozenset(vat_codes),
        statuses=frozenset(statuses) if statuses else None,
        strict=strict,
    )
    target = sys.stdout.buffer if output == "-" else output
    try:
        result = build_file(input_path, target, config)
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was written" if output == "-" else f"{output} was not written") from None
    for warning in result.warnings:
        click.echo(str(warning), err=True)
    click.echo(f"{output if output != '-' else '<stdout>'}: wrote {result.summary()}", err=True)


@cli.command()
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, exists=True, readable=True, allow_dash=True),
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(list(FORMATS)),
    default="text",
    show_default=True,
    help="text: a line per issue; json: one object; junit: a test case per Project; github: annotations.",
)
@click.option("--max-errors", type=click.IntRange(min=1), metavar="N", help="Stop after N errors in all.")
@rule_options
@click.pass_context
def validate(
    ctx: click.Context,
    files: Sequence[str],
    report_format: str,
    max_errors: int | None,
    strict: bool,
    vat_codes: Sequence[str],
) -> None:
    """Validate XML Sync offer files against the bundled XSD and the business rules.

    Reports every error with file:line, XML path, record Id, a stable code and how to fix it. Exits 0 if
    every file is valid, 1 if any is not, 2 on a usage error or an unreadable file.

    \b
    Example:
        xmlsync validate offers.xml
        xmlsync validate --format github feeds/*.xml
    """
    rules = RuleConfig(vat_codes=frozenset(vat_codes), strict=strict)
    try:
        reports = check_files(files, rules=rules, max_errors=max_errors, keep_projects=report_format == "junit")
    except UnreadableError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    click.echo(FORMATS[report_format](reports), nl=False)
    ctx.exit(int(not all(report.valid for report in reports)))


@cli.group(invoke_without_command=True)
@click.pass_context
def schema(ctx: click.Context) -> None:
    """Print the bundled XSD, so other tools can use it.

    \b
    Example:
        xmlsync schema > minicrm-offers.xsd
    """
    if ctx.invoked_subcommand is None:
        click.echo(schema_text(), nl=False)


@schema.command()
@click.argument("sample", type=click.Path(dir_okay=False, exists=True))
def infer(sample: str) -> None:
    """Print an XSD skeleton inferred from an annotated MiniCRM sample.

    Reads the [required int]-style notes in the sample's comments, so the schema can follow MiniCRM's
    docs when they change.

    \b
    Example:
        xmlsync schema infer minicrm-offer-xml-sync-sample.xml > skeleton.xsd
    """
    try:
        click.echo(infer_schema(sample), nl=False)
    except XmlSyncError as exc:
        raise _fail(exc, "no skeleton was printed") from None
