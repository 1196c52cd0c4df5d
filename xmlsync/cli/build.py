"""The commands that write: ``build`` a feed, ``export`` one back to records, print the ``schema``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xmlsync.cli.common import (
    ByteSize,
    Jobs,
    ProgressLine,
    _fail,
    _input,
    _profile,
    _rules,
    _usage,
    _verbose,
    base_url_option,
    cli,
    input_argument,
    input_options,
    offer,
    output_option,
    painted,
    rule_options,
    schema_option,
    sql_options,
)
from xmlsync.config import BuildConfig
from xmlsync.errors import OptionsError, XmlSyncError
from xmlsync.schema import schema_text

if TYPE_CHECKING:
    pass


@cli.command()
@input_argument
@output_option("The XML file to write (replaced atomically), or - for stdout.")
@input_options
@sql_options
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
@schema_option
@click.option(
    "--on-invalid",
    type=click.Choice(["fail", "skip"]),
    help="fail (the default, or the profile's [policy] on_invalid): an invalid record stops the build, nothing"
    " is written. skip: write the valid projects and list each invalid record with its errors in the --rejects"
    " file.",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, writable=True),
    help="JSON Lines file for the records skipped by --on-invalid skip; default: OUTPUT's name + .rejects.jsonl.",
)
@click.option(
    "--split-records",
    type=click.IntRange(min=1),
    metavar="N",
    help="Write parts of at most N projects each: offers-0001.xml, offers-0002.xml...",
)
@click.option(
    "--split-bytes",
    type=ByteSize(),
    metavar="SIZE",
    help="Write parts of at most SIZE each (e.g. 50MB; k, M, G are powers of 1000, KiB, MiB, GiB of 1024).",
)
@click.option(
    "-j",
    "--jobs",
    type=Jobs(),
    default=1,
    show_default=True,
    help="Worker processes that map, build and check records (auto: one per CPU). The output is the same.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    help="Delta feed: write only projects new or changed since push --state with this file had MiniCRM"
    " confirm them; list those gone from the source.",
)
@click.option(
    "--system-id",
    envvar="MINICRM_SYSTEM_ID",
    help="With --state: the MiniCRM system the delta is for (default: MINICRM_SYSTEM_ID, as push reads it).",
)
@base_url_option
@click.option("--full", is_flag=True, help="With --state: write every project all the same.")
@click.option("-q", "--quiet", is_flag=True, help="Print no progress and no summary, only problems.")
def build(
    input_path: str | None,
    output: str,
    profile_path: str | None,
    input_format: str | None,
    sql_url: str | None,
    query: str | None,
    table: str | None,
    pretty: bool,
    clean_text: bool,
    statuses: Sequence[str],
    strict: bool | None,
    vat_codes: Sequence[str],
    schema_path: str | None,
    on_invalid: str | None,
    rejects_path: str | None,
    split_records: int | None,
    split_bytes: int | None,
    jobs: int,
    state_path: str | None,
    system_id: str | None,
    base_url: str,
    full: bool,
    quiet: bool,
) -> None:
    """Build a MiniCRM XML Sync offer feed from ERP records.

    INPUT is JSON (a list of projects keyed like the XML tree), JSON Lines, CSV or XLSX (- for stdin),
    or use --from-sql. Flat inputs (one product line per row) are read through a mapping --profile. The
    feed is checked against the XSD and the business rules before it is written: on any error nothing
    is written and every problem is listed (or, with --on-invalid skip, the invalid records are set
    aside in a rejects file). Records stream through one at a time, so memory stays flat.

    \b
    Example:
        xmlsync build fixtures/offers.json -o offers.xml
        xmlsync build erp.csv --profile erp.toml -o offers.xml
        xmlsync build --from-sql sqlite:///erp.db --table offers --profile erp.toml -o offers.xml
        xmlsync build big.jsonl -o feed/offers.xml --split-bytes 50MB --on-invalid skip
    """
    from xmlsync.pipeline import Split, build_file
    from xmlsync.state import Target

    spec = _input(input_path, input_format, sql_url, table, query)
    profile = _profile(profile_path)
    config = _rules(
        profile,
        BuildConfig(pretty=pretty, clean_text=clean_text),
        schema_path,
        _not_written(output, bool(split_records or split_bytes)),
        vat_codes=vat_codes,
        statuses=statuses,
        strict=strict,
    )
    on_invalid = profile.on_invalid(on_invalid)
    split = Split(split_records, split_bytes) if split_records or split_bytes else None
    target = sys.stdout.buffer if output == "-" else output
    stderr = sys.stderr
    if _verbose():
        source = profile.source or "no profile"
        for line in profile.policy_lines():
            click.echo(f"{source}: {line}", err=True)
    progress = ProgressLine(stderr) if not quiet and stderr.isatty() else None
    try:
        result = build_file(
            spec,
            target,
            config,
            profile,
            on_invalid="skip" if on_invalid == "skip" else "fail",
            rejects=rejects_path,
            split=split,
            progress=progress,
            jobs=jobs,
            state=state_path,
            target=Target(system_id.strip(), base_url) if state_path and system_id and system_id.strip() else None,
            full=full,
        )
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, _not_written(output, split is not None)) from None
    for warning in result.warnings:
        click.echo(painted(str(warning)), err=True)
    if not quiet:
        click.echo(f"{output if output != '-' else '<stdout>'}: wrote {result.summary()}", err=True)


def _not_written(output: str, split: bool) -> str:
    if output == "-":
        return "nothing was written"
    if split:
        path = Path(output)
        return f"no part of {path.parent / f'{path.stem}-*{path.suffix}'} was written"
    return f"{output} was not written"


@cli.command()
@click.argument("feed", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@output_option("Where the records go: a .json file gets one list, any other path (or - for stdout) JSON Lines.")
def export(feed: str, output: str) -> None:
    """Turn a feed back into the records build reads (JSON Lines or a JSON list).

    Building the records again gives the same feed (comments and indentation aside): for adopting an
    existing feed into an ERP pipeline, or for reading a delta as data. The output is written only once
    the whole feed was read.

    \b
    Example:
        xmlsync export offers.xml -o records.jsonl
        xmlsync build records.jsonl -o again.xml
    """
    from xmlsync.export import export_feed, is_json_list
    from xmlsync.writer import complete_output, refuse_overlaps

    if feed != "-" and output != "-":
        try:
            refuse_overlaps([("input", Path(feed))], [("output", Path(output))])
        except OptionsError as exc:
            raise _usage(exc) from None
    try:
        with complete_output(sys.stdout.buffer if output == "-" else output) as out:
            result = export_feed(
                sys.stdin.buffer if feed == "-" else feed,
                out,
                json_list=output != "-" and is_json_list(output),
                name="<stdin>" if feed == "-" else feed,
            )
    except XmlSyncError as exc:
        raise _fail(exc, f"{output if output != '-' else 'nothing'} was not written") from None
    records = f"{result.projects:,} record{'' if result.projects == 1 else 's'}"
    click.echo(f"{output if output != '-' else '<stdout>'}: wrote {records}", err=True)


@cli.group(invoke_without_command=True)
@click.option(
    "--variant",
    type=click.Choice(["all", "offers", "orders"]),
    default="all",
    show_default=True,
    help="Offers, Orders (the webshop variant), or both, as shipped. Cards alone are in every variant.",
)
@click.pass_context
def schema(ctx: click.Context, variant: str) -> None:
    """Print the bundled XSD of the canonical form (what build writes), so other tools can use it.

    \b
    Example:
        xmlsync schema > minicrm-offers.xsd
        xmlsync schema --variant orders > minicrm-orders.xsd
    """
    if ctx.invoked_subcommand is None:
        click.echo(schema_text(variant), nl=False)


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
    from xmlsync.infer import infer_schema

    try:
        click.echo(infer_schema(sample), nl=False)
    except XmlSyncError as exc:
        raise _fail(exc, "no skeleton was printed") from None


@offer.command("build")
@input_argument
@output_option("The JSON Lines file of request bodies to write (replaced atomically), or - for stdout.")
@input_options
@sql_options
@rule_options
@schema_option
def offer_build(
    input_path: str | None,
    output: str,
    profile_path: str | None,
    input_format: str | None,
    sql_url: str | None,
    query: str | None,
    table: str | None,
    strict: bool | None,
    vat_codes: Sequence[str],
    schema_path: str | None,
) -> None:
    """Write the request bodies of POST /Api/Offer, one JSON line per offer of each record; nothing is sent.

    The same inputs, profiles, policy and checks as build: every record is checked as its XML Sync
    <Project>, and any problem stops the run with nothing written. A record without offers, an Orders
    record and a country whose MiniCRM id is not known are refused.

    \b
    Example:
        xmlsync offer build fixtures/offers.json -o requests.jsonl
        xmlsync offer build erp.csv --profile erp.toml -o -
    """
    from xmlsync.pipeline import build_file

    spec = _input(input_path, input_format, sql_url, table, query)
    profile = _profile(profile_path)
    config = _rules(
        profile, BuildConfig(), schema_path, _not_written(output, False), vat_codes=vat_codes, strict=strict
    )
    try:
        result = build_file(spec, sys.stdout.buffer if output == "-" else output, config, profile, render="offer-json")
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, _not_written(output, False)) from None
    for warning in result.warnings:
        click.echo(painted(str(warning)), err=True)
    offers = f"{result.offers:,} offer{'' if result.offers == 1 else 's'}"
    click.echo(f"{output if output != '-' else '<stdout>'}: wrote {offers} of {result.projects:,} projects", err=True)
