"""The commands that talk to MiniCRM: ``push``, the nightly ``sync``, and ``minicrm`` (a system's facts)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from xmlsync.cli.common import (
    ByteSize,
    ProgressLine,
    _credentials,
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
    on_stop,
    painted,
    rule_options,
    schema_option,
    send_options,
    sql_options,
)
from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, OptionsError, XmlSyncError


@cli.command()
@click.argument("files", metavar="[FILE]...", nargs=-1, type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--source-url",
    "source_urls",
    multiple=True,
    metavar="URL",
    help="Have MiniCRM pull the feed published at URL (GET ...?Source=URL) instead of uploading; repeatable.",
)
@send_options
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    help="State file (the one build --state uses): counts the requests of the hour across runs, and records"
    " the projects MiniCRM accepted, so that the next delta build leaves them out.",
)
@click.option("--dry-run", is_flag=True, help="Validate and print what would be sent; send nothing.")
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Mapping profile whose [policy] (VAT codes, statuses, strictness) the check before sending applies.",
)
@schema_option
@rule_options
def push(
    files: Sequence[str],
    source_urls: Sequence[str],
    base_url: str,
    credentials_path: str | None,
    state_path: str | None,
    timeout: float,
    dry_run: bool,
    profile_path: str | None,
    schema_path: str | None,
    strict: bool | None,
    vat_codes: Sequence[str],
) -> None:
    """Send validated feeds to MiniCRM's XML Sync: upload them, or have MiniCRM pull a published URL.

    Every file is validated first; nothing is sent unless all are valid. A part list (offers.parts.json)
    sends its parts in order. Requests are paced to MiniCRM's 180 an hour; 429, 5xx and timeouts are
    retried. Exits 0 only when MiniCRM accepted every request.

    \b
    Example:
        xmlsync push offers.xml   # with MINICRM_SYSTEM_ID and MINICRM_API_KEY set
        xmlsync push feed/offers.parts.json --credentials minicrm.toml --state push-state.json
        xmlsync push --source-url https://erp.example.hu/feeds/offers.xml
    """
    from xmlsync.push import Delivered, PushConfig, check_base_url, check_uploads, requests_for
    from xmlsync.push import push as push_requests

    if not files and not source_urls:
        raise click.UsageError("give the FILEs to upload, or --source-url URL")
    try:
        check_base_url(base_url)
    except OptionsError as exc:
        raise _usage(exc) from None
    rules = _rules(
        _profile(profile_path), BuildConfig(), schema_path, "nothing was sent", vat_codes=vat_codes, strict=strict
    )
    credentials = _credentials(credentials_path)
    try:
        requests = requests_for(files, source_urls)
        issues = check_uploads(requests, rules)
        for warning in (issue for issue in issues if issue.severity == "warning"):
            click.echo(painted(str(warning)), err=True)
        if any(issue.severity == "error" for issue in issues):
            raise InputError([issue for issue in issues if issue.severity == "error"])
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was sent") from None
    if dry_run:
        for request in requests:
            click.echo(request.describe(credentials.system_id, base_url))
        return
    config = PushConfig(base_url=base_url, timeout=timeout, state=Path(state_path) if state_path else None)

    def accepted(delivered: Delivered) -> None:
        tries = f" after {delivered.tries} tries" if delivered.tries > 1 else ""
        click.echo(f"{delivered.request.target}: accepted by MiniCRM{tries}")

    try:
        push_requests(
            requests,
            credentials,
            config,
            on_event=lambda line: click.echo(line, err=True),
            on_delivered=accepted,
            on_progress=ProgressLine(sys.stderr).upload if sys.stderr.isatty() else None,
        )
    except XmlSyncError as exc:  # a refusal (PushError), or a state file xmlsync did not write
        raise _fail(exc, "the later feeds were not sent") from None


@cli.command("sync")
@input_argument
@click.option(
    "--state",
    "state_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The state file: what MiniCRM confirmed, per system and address; created on the first night.",
)
@input_options
@sql_options
@send_options
@schema_option
@rule_options
@click.option(
    "--on-invalid",
    type=click.Choice(["fail", "skip"]),
    help="skip (the default for sync, or the profile's [policy] on_invalid): set invalid records aside, list them"
    " every night, and send the rest. fail: send nothing while a record is invalid.",
)
@click.option(
    "--nights",
    "nights_path",
    type=click.Path(file_okay=False),
    help="Folder for each night's feed, rejects and review (default: beside the state file, STATE.nights).",
)
@click.option(
    "--keep-nights",
    type=click.IntRange(min=1),
    default=14,
    show_default=True,
    help="How many nights' folders to keep; older ones that sync made are removed.",
)
@click.option("--split-bytes", type=ByteSize(), metavar="SIZE", help="Write the night's feed in parts of SIZE.")
@click.option("--full", is_flag=True, help="Send every project, not only what changed.")
@click.option("--dry-run", is_flag=True, help="Build, check and review; send nothing and leave the state as it was.")
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=10,
    show_default=True,
    help="Seconds to wait for another run holding the state file.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print the summary and the skipped records only.")
def sync_command(
    input_path: str | None,
    state_path: str,
    profile_path: str | None,
    input_format: str | None,
    sql_url: str | None,
    query: str | None,
    table: str | None,
    base_url: str,
    credentials_path: str | None,
    timeout: float,
    schema_path: str | None,
    strict: bool | None,
    vat_codes: Sequence[str],
    on_invalid: str | None,
    nights_path: str | None,
    keep_nights: int,
    split_bytes: int | None,
    full: bool,
    dry_run: bool,
    lock_wait: float,
    quiet: bool,
) -> None:
    """The nightly job in one command: delta build, checks, push and confirmation, under one lock.

    Builds what changed since MiniCRM last confirmed it, into a new night's folder (feed, rejects,
    review.txt), checks it as validate does, sends it paced to MiniCRM's limit, and confirms what MiniCRM
    accepted. A night with nothing to send sends nothing. A night that fails leaves its changes for the
    next. Exit 0: everything was accepted, or nothing had to go; 1: something waits (see the lines above).

    \b
    Example:
        xmlsync sync erp.csv --profile erp.toml --state minicrm-state.db
        xmlsync sync --from-sql sqlite:///erp.db --table offers --profile erp.toml --state s.db --dry-run
    """
    from xmlsync.pipeline import Split
    from xmlsync.push import Delivered, PushConfig
    from xmlsync.sync import SyncConfig, sync

    spec = _input(input_path, input_format, sql_url, table, query)
    profile = _profile(profile_path)
    rules = _rules(profile, BuildConfig(), schema_path, "nothing was sent", vat_codes=vat_codes, strict=strict)
    credentials = _credentials(credentials_path)
    config = SyncConfig(
        state=Path(state_path),
        nights=Path(nights_path) if nights_path else None,
        keep_nights=keep_nights,
        push=PushConfig(base_url=base_url, timeout=timeout, state=Path(state_path)),
        on_invalid="fail" if profile.on_invalid(on_invalid, "skip") == "fail" else "skip",
        split=Split(None, split_bytes) if split_bytes else None,
        full=full,
        dry_run=dry_run,
        lock_wait=lock_wait,
    )

    def accepted(delivered: Delivered) -> None:
        if not quiet:
            click.echo(f"{delivered.request.target}: accepted by MiniCRM", err=True)

    try:
        result = sync(
            spec, credentials, config, rules, profile, on_event=lambda line: click.echo(line, err=True),
            on_delivered=accepted,
        )  # fmt: skip
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was sent") from None
    for warning in result.build.warnings:
        if not quiet:
            click.echo(painted(str(warning)), err=True)
    for issue in result.skipped:  # every night, --quiet or not: a skipped record never reaches MiniCRM
        click.echo(painted(f"skipped: {issue}"), err=True)
    if result.build.skipped > len(result.skipped):
        click.echo(f"skipped: {result.build.skipped - len(result.skipped):,} more, in {result.build.rejects}", err=True)
    click.echo(f"{result.night}: {result.summary()}")
    if not quiet:
        for change in result.changes:
            click.echo(f"  {change.verdict:<8} {change.label()}")
        for project, name in list(zip(result.build.gone, result.build.gone_names, strict=True))[:10]:
            click.echo(f"  gone     {name or '(no name)'} (Project {project})")
        if result.changes or result.build.gone:
            click.echo(f"  (all of it in {result.review})")
    if result.refused:
        files = "1 file of this night waits" if result.waiting == 1 else f"{result.waiting:,} files of this night wait"
        raise _fail(XmlSyncError(result.refused), f"{files} for the next sync")


@cli.group()
def minicrm() -> None:
    """Fetch what a MiniCRM system holds (categories, card fields, statuses, users), for validate.

    \b
    Example:
        xmlsync minicrm categories
        xmlsync minicrm schema 39 --offer-category 41 -o minicrm-schema.json
    """


@minicrm.command()
@send_options
def categories(base_url: str, credentials_path: str | None, timeout: float) -> None:
    """Print the system's categories, an id and a name a line.

    \b
    Example:
        xmlsync minicrm categories   # with MINICRM_SYSTEM_ID and MINICRM_API_KEY set
    """
    from xmlsync.minicrm import fetch_categories

    credentials = _credentials(credentials_path)
    try:
        found = fetch_categories(credentials, base_url, timeout=timeout)
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was fetched") from None
    for ident, name in found.items():
        click.echo(f"{ident}\t{name}")


@minicrm.command("schema")
@click.argument("category_ids", metavar="CATEGORY_ID...", nargs=-1, required=True)
@click.option("--offer-category", metavar="ID", help="The category of the offer cards (an offer's own <Project>).")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="The file to write."
)
@send_options
def minicrm_schema(
    category_ids: Sequence[str],
    offer_category: str | None,
    output: str,
    base_url: str,
    credentials_path: str | None,
    timeout: float,
) -> None:
    """Save the card fields of categories (types, statuses, users, enum values) as a file to commit.

    \b
    Example:
        xmlsync minicrm schema 39 --offer-category 41 -o minicrm-schema.json
        xmlsync validate --minicrm-schema minicrm-schema.json feeds/
    """
    from xmlsync.minicrm import fetch_schema
    from xmlsync.writer import complete_output

    credentials = _credentials(credentials_path)
    try:
        found = fetch_schema(credentials, base_url, category_ids, offer_category=offer_category, timeout=timeout)
        with complete_output(sys.stdout.buffer if output == "-" else output) as out:
            out.write(found.to_json().encode("utf-8"))
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, f"{output} was not written") from None
    if output != "-":
        shown = ", ".join(found.fields)
        click.echo(f"{output}: written, the fields of categories {shown}", err=True)


@offer.command("get")
@click.argument("offer_id", metavar="ID", type=click.IntRange(min=0))
@send_options
def offer_get(offer_id: int, base_url: str, credentials_path: str | None, timeout: float) -> None:
    """Print an offer as MiniCRM holds it (GET /Api/Offer/ID), as JSON.

    \b
    Example:
        xmlsync offer get 5123   # with MINICRM_SYSTEM_ID and MINICRM_API_KEY set
    """
    import json

    from xmlsync.minicrm import get_offer

    credentials = _credentials(credentials_path)
    try:
        found = get_offer(credentials, base_url, offer_id, timeout=timeout)
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was fetched") from None
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))


@offer.command("status")
@click.argument("offer_id", metavar="ID", type=click.IntRange(min=0))
@click.argument("status")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", help="Also set a field of the offer's card.")
@send_options
def offer_status(
    offer_id: int, status: str, fields: Sequence[str], base_url: str, credentials_path: str | None, timeout: float
) -> None:
    """Move an offer to STATUS (a status id or name of the offer card) with POST /Api/Offer/ID/Project.

    \b
    Example:
        xmlsync offer status 5123 "Elfogadva" --field Felmeresid=77
    """
    from xmlsync.minicrm import set_offer_status

    given: dict[str, str] = {}
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{field!r} is not NAME=VALUE", param_hint="--field")
        given[name.strip()] = value
    credentials = _credentials(credentials_path)
    try:
        set_offer_status(credentials, base_url, offer_id, status, given, timeout=timeout)
    except OptionsError as exc:
        raise _usage(exc) from None
    except XmlSyncError as exc:
        raise _fail(exc, "the offer was not changed") from None
    click.echo(f"Offer {offer_id}: accepted by MiniCRM (StatusId {status!r})", err=True)


@offer.command("send")
@input_argument
@click.option(
    "--state",
    "state_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="State file: the offers MiniCRM created (their Ids, digests of what was sent, their status), so that no"
    " offer is created twice; shared with push and build --state.",
)
@input_options
@sql_options
@rule_options
@schema_option
@send_options
@click.option(
    "--per-minute",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Requests a minute (MiniCRM documents 60 for its REST API), counted across runs in the state file.",
)
@click.option("--dry-run", is_flag=True, help="Check, and print what would be sent; send nothing, change no state.")
def offer_send(
    input_path: str | None,
    state_path: str,
    profile_path: str | None,
    input_format: str | None,
    sql_url: str | None,
    query: str | None,
    table: str | None,
    strict: bool | None,
    vat_codes: Sequence[str],
    schema_path: str | None,
    base_url: str,
    credentials_path: str | None,
    timeout: float,
    per_minute: int,
    dry_run: bool,
) -> None:
    """Create each offer of the records in MiniCRM (POST /Api/Offer), once, and set its status.

    The offers are read and checked as offer build reads them; any problem stops the run before anything
    is sent. Each offer MiniCRM does not have yet is created, then moved to its Status with
    POST /Api/Offer/ID/Project. An offer created before sends only a changed Status or card field; a change
    MiniCRM cannot make by API (items, customer, currency) is a warning. A create whose answer was lost is
    looked up in MiniCRM's offer list by the next run, never sent blindly again. Exits 0 when every offer
    is in MiniCRM as the records say.

    \b
    Example:
        xmlsync offer send fixtures/offers.json --state offers-state.db --dry-run
        xmlsync offer send erp.csv --profile erp.toml --state offers-state.db --credentials minicrm.toml
    """
    from xmlsync.offerapi import OfferConfig, OfferOutcome, send_offer_file
    from xmlsync.state import StateError

    spec = _input(input_path, input_format, sql_url, table, query)
    profile = _profile(profile_path)
    config = _rules(profile, BuildConfig(), schema_path, "nothing was sent", vat_codes=vat_codes, strict=strict)
    credentials = _credentials(credentials_path)

    every = _verbose()

    def told(outcome: OfferOutcome) -> None:
        if outcome.result in ("created", "updated", "resolved") or (dry_run and outcome.detail):
            click.echo(f"{outcome.record}: {outcome.detail}")
        elif every and outcome.result == "unchanged":
            click.echo(f"{outcome.record}: unchanged, MiniCRM offer {outcome.minicrm_id}")

    offers = OfferConfig(base_url=base_url, timeout=timeout, per_minute=per_minute)
    stopped = (
        "what MiniCRM accepted before is recorded in the state file, and an offer whose create was under way is"
        " looked up by the next run"
    )
    if not dry_run:
        on_stop(stopped)
    try:
        result = send_offer_file(
            spec, credentials, state_path, offers, config, profile, dry_run=dry_run,
            on_event=lambda line: click.echo(line, err=True), on_outcome=told,
        )  # fmt: skip
    except OptionsError as exc:
        raise _usage(exc) from None
    except StateError as exc:  # it may fail after some offers went
        raise _fail(exc, f"the run stopped; {stopped}") from None
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was sent") from None
    for issue in result.issues:
        click.echo(painted(str(issue)), err=True)
    click.echo(result.summary() + (" (dry run: nothing was sent)" if dry_run else ""), err=True)
    if not result.ok:
        errors = sum(issue.severity == "error" for issue in result.issues)
        raise click.ClickException(f"{errors} offer{'' if errors == 1 else 's'} not as the records say")


@offer.command("resolve")
@click.argument("project_id", metavar="PROJECT_ID")
@click.argument("offer_id", metavar="OFFER_ID")
@click.option("--state", "state_path", required=True, type=click.Path(dir_okay=False, exists=True), help="State file.")
@click.option(
    "--created-as", "minicrm_id", type=click.IntRange(min=1), metavar="ID", help="MiniCRM created it as offer ID."
)
@click.option("--not-created", is_flag=True, help="MiniCRM has no such offer: the next offer send creates it.")
@click.option(
    "--system-id", envvar="MINICRM_SYSTEM_ID", required=True, help="The MiniCRM system (default: MINICRM_SYSTEM_ID)."
)
@base_url_option
def offer_resolve(
    project_id: str, offer_id: str, state_path: str, minicrm_id: int | None, not_created: bool, system_id: str,
    base_url: str,
) -> None:  # fmt: skip
    """Settle by hand an offer whose create got no answer: MiniCRM created it as offer ID, or not at all.

    offer send says when it is needed: after a lost answer that MiniCRM's offer list could not settle.
    Look the offer up in MiniCRM first; --not-created makes the next offer send create it (again).

    \b
    Example:
        xmlsync offer resolve 10001 5001 --state offers-state.db --created-as 5123
    """
    from xmlsync.offerapi import resolve_offer
    from xmlsync.push import check_base_url
    from xmlsync.state import State, Target

    if (minicrm_id is None) == (not not_created):
        raise click.UsageError("give one of --created-as ID and --not-created")
    try:
        target = Target(system_id.strip(), check_base_url(base_url))
    except OptionsError as exc:
        raise _usage(exc) from None
    try:
        with State(state_path) as state:
            created = str(minicrm_id) if minicrm_id is not None else None
            before = resolve_offer(state, target, project_id, offer_id, created)
    except XmlSyncError as exc:
        raise _fail(exc, "the state was not changed") from None
    was = f"MiniCRM offer {before.minicrm_id}" if before and before.minicrm_id else "unknown"
    now = f"MiniCRM offer {minicrm_id}" if minicrm_id is not None else "not created (the next offer send creates it)"
    click.echo(f"Project {project_id} > Offer {offer_id}: {was} -> {now}", err=True)
