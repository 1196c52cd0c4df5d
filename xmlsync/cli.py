"""The ``xmlsync`` command line: a thin shell over the library.

Exit codes: 0 success or valid, 1 invalid data or a processing error, 2 usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from xmlsync import __version__
from xmlsync.config import BuildConfig
from xmlsync.errors import Issue, XmlSyncError
from xmlsync.infer import infer_schema
from xmlsync.pipeline import build_file
from xmlsync.schema import schema_text
from xmlsync.validate import validate_file

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: XmlSyncError, what: str) -> click.ClickException:
    """Print every issue on stderr and return the exception that ends the command with exit code 1."""
    for issue in exc.issues:
        click.echo(str(issue), err=True)
    count = len(exc.issues)
    return click.ClickException(f"{count} problem{'' if count == 1 else 's'} found; {what}")


def normalise_options(func: F) -> F:
    """Options that steer normalisation, shared by every command that reads records."""
    func = click.option(
        "--clean-text",
        is_flag=True,
        help="Drop characters XML 1.0 cannot hold (e.g. \\x0b) instead of failing on them.",
    )(func)
    func = click.option(
        "--vat-code",
        "vat_codes",
        multiple=True,
        metavar="CODE",
        help="Accept this VAT code (e.g. KBAUK) as given; repeatable. By default only percentages.",
    )(func)
    func = click.option(
        "--status",
        "statuses",
        multiple=True,
        metavar="STATUS",
        help="Accept only these offer Status values; repeatable. By default any non-empty status.",
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
@normalise_options
def build(
    input_path: str,
    output: str,
    pretty: bool,
    clean_text: bool,
    vat_codes: Sequence[str],
    statuses: Sequence[str],
) -> None:
    """Build a MiniCRM XML Sync offer feed from JSON records.

    INPUT is a JSON list of projects keyed like the XML tree (- for stdin). The feed is validated
    before it is written: on any problem nothing is written and every problem is listed.

    \b
    Example:
        xmlsync build fixtures/offers.json -o offers.xml
    """
    config = BuildConfig(
        pretty=pretty,
        clean_text=clean_text,
        vat_codes=frozenset(vat_codes),
        statuses=frozenset(statuses) if statuses else None,
    )
    target = sys.stdout.buffer if output == "-" else output
    try:
        result = build_file(input_path, target, config)
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was written" if output == "-" else f"{output} was not written") from None
    click.echo(f"{output if output != '-' else '<stdout>'}: wrote {result.summary()}", err=True)


@cli.command()
@click.argument(
    "files", metavar="FILE...", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, allow_dash=True)
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per error and a verdict per file; json: a list of issue objects.",
)
@click.pass_context
def validate(ctx: click.Context, files: Sequence[str], report_format: str) -> None:
    """Validate XML Sync offer files against the bundled XSD.

    Prints every error with file:line, XML path and what to fix; exits 0 if all files are valid, 1 if any
    is not, 2 on a usage error.

    \b
    Example:
        xmlsync validate offers.xml
    """
    issues: list[Issue] = []
    for name in files:
        source = sys.stdin.buffer if name == "-" else name
        found = validate_file(source, name="<stdin>" if name == "-" else name)
        issues.extend(found)
        if report_format == "text":
            for issue in found:
                click.echo(str(issue))
            click.echo(f"{'<stdin>' if name == '-' else name}: {_verdict(found)}")
    if report_format == "json":
        click.echo(json.dumps([issue.to_dict() for issue in issues], indent=2, ensure_ascii=False))
    ctx.exit(int(bool(issues)))


def _verdict(found: Sequence[Issue]) -> str:
    if not found:
        return "valid"
    return f"not valid ({len(found)} error{'' if len(found) == 1 else 's'})"


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
