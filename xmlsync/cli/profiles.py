"""The ``mapping`` commands: start a profile from an input's header, and check one against an input."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xmlsync.cli.common import (
    _fail,
    _input,
    _profile,
    _rules,
    _usage,
    cli,
    input_options,
    schema_option,
    sql_options,
)
from xmlsync.config import BuildConfig
from xmlsync.errors import OptionsError, XmlSyncError
from xmlsync.profiles import ENCODINGS, FORMATS, load_profile

if TYPE_CHECKING:
    pass


@cli.group()
def mapping() -> None:
    """Write and check mapping profiles for flat ERP exports.

    \b
    Example:
        xmlsync mapping init erp.csv -o erp.toml
    """


@mapping.command()
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False, exists=True))
@input_options
@sql_options
@click.option("--encoding", help="Encoding of a CSV input (utf-8, cp1250, iso-8859-2).")
@click.option("--delimiter", help="Delimiter of a CSV input; by default found from its first lines.")
@click.option("--header-row", type=click.IntRange(min=1), metavar="N", help="The row (CSV: line) of the column names.")
@click.option("--skip-rows", type=click.IntRange(min=0), metavar="N", help="Rows to pass over after the header.")
@click.option("--footer", metavar="REGEX", help="The data ends before a row starting with this, e.g. 'Total'.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the profile here.")
@schema_option
def init(
    input_path: str | None,
    profile_path: str | None,
    input_format: str | None,
    sql_url: str | None,
    query: str | None,
    table: str | None,
    encoding: str | None,
    delimiter: str | None,
    header_row: int | None,
    skip_rows: int | None,
    footer: str | None,
    output: str | None,
    schema_path: str | None,
) -> None:
    """Write a commented profile template from an input's header.

    Columns whose names match a field are filled in; the others are listed as TODO. With --minicrm-schema, the
    statuses and users of the ERP's first rows get value maps to the system's ids, and its custom fields are
    listed.

    \b
    Example:
        xmlsync mapping init erp.csv --encoding cp1250 -o erp.toml
        xmlsync mapping init report.xlsx --header-row 3 --footer 'Összesen|Total' -o erp.toml
        xmlsync mapping init --from-sql sqlite:///erp.db --table offers -o erp.toml
        xmlsync mapping init erp.csv --minicrm-schema minicrm-schema.json -o erp.toml
    """
    from xmlsync.readers.inputs import mapping_template
    from xmlsync.writer import atomic_output, refuse_overlaps

    spec = _input(input_path, input_format, sql_url, table, query)

    if encoding is not None and encoding.lower() not in ENCODINGS:
        raise click.BadParameter(
            f"{encoding!r} is not supported; use utf-8, cp1250 or iso-8859-2", param_hint="--encoding"
        )
    if delimiter is not None and len(delimiter) != 1:
        raise click.BadParameter(f"{delimiter!r} is not one character", param_hint="--delimiter")
    if footer is not None:
        try:
            re.compile(footer)
        except re.error as exc:
            raise click.BadParameter(f"{footer!r} is not a regular expression: {exc}", param_hint="--footer") from None
    profile = _profile(profile_path)
    schema = _rules(profile, BuildConfig(), schema_path, "no profile was written").schema
    profile = replace(
        profile,
        encoding=ENCODINGS.get((encoding or "").lower(), profile.encoding),
        delimiter=delimiter or profile.delimiter,
        header_row=header_row or profile.header_row,
        skip_rows=profile.skip_rows if skip_rows is None else skip_rows,
        footer=footer or profile.footer,
    )
    sniff = delimiter is None and profile_path is None  # a profile says its delimiter (or takes ",")
    if output is not None:
        inputs = [("input", Path(input_path))] if input_path else []
        inputs += [("profile", Path(profile_path))] if profile_path else []
        try:
            refuse_overlaps(inputs, [("output", Path(output))])
        except OptionsError as exc:
            raise _usage(exc) from None
    try:
        text = mapping_template(spec, profile, sniff=sniff, schema=schema)
    except XmlSyncError as exc:
        raise _fail(exc, "no profile was written") from None
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with atomic_output(output) as out:
            out.write(text.encode("utf-8"))
    except XmlSyncError as exc:
        raise _fail(exc, "no profile was written") from None
    click.echo(f"{output}: written; fill in the TODO fields, then run xmlsync mapping check", err=True)


@mapping.command()
@click.argument("profile_path", metavar="PROFILE", type=click.Path(dir_okay=False, exists=True))
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "input_format", type=click.Choice(FORMATS), help="Input format.")
@sql_options
@schema_option
@click.pass_context
def check(
    ctx: click.Context,
    profile_path: str,
    input_path: str | None,
    input_format: str | None,
    sql_url: str | None,
    query: str | None,
    table: str | None,
    schema_path: str | None,
) -> None:
    """Check a profile against an input before a run.

    Reports required fields that are not mapped and mapped columns the input lacks (errors), and input
    columns the profile does not use (warnings), then the effective policy of a run with no flags (flags
    override it). With --minicrm-schema (or the profile's [policy] minicrm_schema), also custom fields the
    system lacks and constants or value maps it would refuse. Exits 1 if there is an error.

    \b
    Example:
        xmlsync mapping check erp.toml erp.csv
        xmlsync mapping check erp.toml --from-sql sqlite:///erp.db
    """
    from xmlsync.readers.inputs import mapping_issues

    spec = _input(input_path, input_format, sql_url, table, query)
    try:
        profile = load_profile(profile_path)
        issues = mapping_issues(spec, profile, profile.config(BuildConfig(), minicrm_schema=schema_path).schema)
    except XmlSyncError as exc:
        raise _fail(exc, "the profile could not be checked") from None
    for issue in issues:
        click.echo(str(issue))
    for line in profile.policy_lines():
        click.echo(f"{profile_path}: {line}")
    errors = sum(1 for issue in issues if issue.severity == "error")
    verdict = f"{errors} error{'' if errors == 1 else 's'}" if errors else "fits"
    click.echo(f"{profile_path}: {verdict} ({spec.name})")
    ctx.exit(int(errors > 0))
