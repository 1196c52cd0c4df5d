"""The ``xmlsync`` command line: a thin shell over the library.

Exit codes: 0 success or valid, 1 invalid data or a processing error, 2 usage error or unreadable input.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

# Each command imports what it needs when it runs, so that `xmlsync validate` does not load the build.
from xmlsync.config import DEFAULT_BASE_URL, BuildConfig
from xmlsync.errors import InputError, OptionsError, UnreadableError, XmlSyncError
from xmlsync.profiles import ENCODINGS, FORMATS, Profile, load_profile
from xmlsync.report import FORMATS as REPORT_FORMATS
from xmlsync.report import render, resolve_format
from xmlsync.schema import schema_text
from xmlsync.validate import check_files, feed_files

F = TypeVar("F", bound=Callable[..., Any])


_CODED = re.compile(r"(?P<body>.*) (?P<code>\[[a-z0-9-]+\])")
_VERDICT = re.compile(r"(?P<head>.*: )(?P<verdict>not valid|valid)(?P<tail>.*)$")


def painted(line: str) -> str:
    """Return a report line with its labels in colour: errors red, warnings yellow, verdicts red or green.

    click leaves the colours out when the output is not a terminal, unless ``--color always``; ``NO_COLOR``
    and ``--color never`` turn them off.
    """
    context = click.get_current_context(silent=True)
    forced = context.find_root().color if context is not None else None
    if forced is False or (forced is None and os.environ.get("NO_COLOR")):
        return line
    if (coded := _CODED.fullmatch(line)) is not None:
        head, warning, body = coded["body"].partition(": warning: ")
        if warning:
            label = click.style("warning:", fg="yellow", bold=True)
            return f"{head}: {label} {body} {click.style(coded['code'], fg='yellow')}"
        return f"{coded['body']} {click.style(coded['code'], fg='red', bold=True)}"
    if (verdict := _VERDICT.fullmatch(line)) is not None:
        colour = "red" if verdict["verdict"] == "not valid" else "green"
        return f"{verdict['head']}{click.style(verdict['verdict'], fg=colour, bold=True)}{verdict['tail']}"
    return line


def _fail(exc: XmlSyncError, what: str) -> click.ClickException:
    """Print every issue on stderr and return the exception that ends the command with exit code 1."""
    for issue in exc.issues:
        click.echo(painted(str(issue)), err=True)
    count = len(exc.issues)
    return click.ClickException(f"{count} problem{'' if count == 1 else 's'} found; {what}")


def _usage(exc: OptionsError) -> click.UsageError:
    """Return the usage error (exit code 2) for options that cannot work together."""
    return click.UsageError("; ".join(issue.message for issue in exc.issues))


_SIZE = re.compile(r"([0-9]+)\s*(|k|kb|m|mb|g|gb|kib|mib|gib)", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}


if TYPE_CHECKING:
    from xmlsync.pipeline import Progress
    from xmlsync.push import Credentials, Upload
    from xmlsync.readers.inputs import InputSpec
    from xmlsync.validate import FileProgress

    _IntParamType = click.ParamType[int]
else:  # click < 8.2 has no generic ParamType
    _IntParamType = click.ParamType


class ByteSize(_IntParamType):
    """A size in bytes: ``500000``, ``500k``, ``50MB``, ``1GiB`` (k, M, G are powers of 1000; KiB... of 1024)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _SIZE.fullmatch(str(value).strip())
        if not match or int(match.group(1)) == 0:
            self.fail(f"{value!r} is not a size; use e.g. 50MB, 500k or 1GiB", param, ctx)
        return int(match.group(1)) * _UNITS[match.group(2).lower()]


class Jobs(_IntParamType):
    """A number of worker processes, or ``auto`` for one per CPU this process may use."""

    name = "jobs"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and value >= 1:
            return value
        text = str(value).strip().lower()
        if text == "auto":
            from xmlsync.pool import available_cpus

            return available_cpus()
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r} is not a number of processes; use e.g. 4, or auto for one per CPU", param, ctx)


class ProgressLine:
    """Shows progress on one terminal line: of a build (records, records per second), of validate (projects of
    each file), of push (bytes of each upload); the elapsed time and, when the share done is known, a bar and
    the time left.

    Nothing is shown during the first second, so short runs print only their summary.
    """

    BAR = 20

    def __init__(self, stream: IO[str], *, delay: float = 1.0, interval: float = 0.2) -> None:
        self.stream = stream
        self.delay = delay
        self.interval = interval
        self._shown_at: float | None = None

    def __call__(self, progress: Progress) -> None:
        counts = f"{progress.records:,} records, {progress.rate:,.0f}/s"
        skipped = f", {progress.skipped:,} skipped" if progress.skipped else ""
        after = f" ({progress.projects:,} projects written{skipped})" if progress.fraction is None else skipped
        self.show(progress.elapsed, counts, progress.fraction, progress.done, after)

    def files(self, progress: FileProgress) -> None:
        """Show how far validate is in a file (a line per file, kept when it is done)."""
        self.show(
            progress.elapsed, f"{progress.name}: {progress.projects:,} projects", progress.fraction, progress.done
        )

    def upload(self, progress: Upload) -> None:
        """Show how much of a file push has sent."""
        sent = f"{progress.target}: {progress.sent / 1e6:,.1f} of {progress.size / 1e6:,.1f} MB sent"
        self.show(progress.elapsed, sent, progress.sent / progress.size if progress.size else None, progress.done)

    def show(self, elapsed: float, counts: str, fraction: float | None, done: bool, after: str = "") -> None:
        """Write one progress line over the last: a bar and the time left when the fraction done is known."""
        if elapsed < self.delay and self._shown_at is None:
            return
        if not done and self._shown_at is not None and elapsed - self._shown_at < self.interval:
            return
        self._shown_at = None if done else elapsed  # the next file or upload starts its own line
        counts = f"{counts}, {_clock(elapsed)} elapsed"
        if fraction is None:
            line = f"{counts}{after}"
        else:
            filled = int(fraction * self.BAR)
            bar = "#" * filled + "." * (self.BAR - filled)
            left = f", about {_clock(elapsed * (1 - fraction) / fraction)} left" if not done and fraction > 0 else ""
            line = f"[{bar}] {fraction:4.0%}  {counts}{left}{after}"
        # \r goes back to the start of the line, \x1b[K clears what a longer line left behind
        self.stream.write(f"\r{line}\x1b[K" + ("\n" if done else ""))
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def rule_options(func: F) -> F:
    """Options of the business rules, shared by build and validate."""
    func = click.option(
        "--strict/--no-strict",
        default=None,
        help="Treat warnings (EAN check digit, Issued after Prompt, VAT codes, element order) as errors, or not;"
        " by default as the profile's [policy] says, else not.",
    )(func)
    func = click.option(
        "--vat-code",
        "vat_codes",
        multiple=True,
        metavar="CODE",
        help="Accept this VAT code (e.g. KBAUK) as given; repeatable. By default the profile's [policy] vat_codes,"
        " else only percentages such as 27%.",
    )(func)
    return func


def base_url_option(func: F) -> F:
    """``--base-url``: which MiniCRM; shared by the commands that send, and by build --state (whose delta is
    kept per system and address)."""
    return click.option(
        "--base-url",
        envvar="MINICRM_BASE_URL",
        default=DEFAULT_BASE_URL,
        show_default=True,
        help="MiniCRM's address (a test system, a proxy; default: MINICRM_BASE_URL, else MiniCRM's own);"
        " confirmations are kept apart per system and address.",
    )(func)


def schema_option(func: F) -> F:
    """``--minicrm-schema``: check against what the MiniCRM system holds; shared by build, validate, push, sync."""
    return click.option(
        "--minicrm-schema",
        "schema_path",
        type=click.Path(dir_okay=False, exists=True),
        help="Also check against what this MiniCRM system holds (statuses, users, fields, enum values): a file of"
        " xmlsync minicrm schema.",
    )(func)


def _rules(profile: Profile, base: BuildConfig, schema_path: str | None, done: str, **flags: Any) -> BuildConfig:
    """Return the run's options (:meth:`Profile.config`); a schema file that cannot be read ends the command."""
    try:
        return profile.config(base, minicrm_schema=schema_path, **flags)
    except XmlSyncError as exc:
        raise _fail(exc, done) from None


def send_options(func: F) -> F:
    """``--base-url``, ``--credentials`` and ``--timeout``: where and how to send, shared by push and sync."""
    func = click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=130,
        show_default=True,
        help="Seconds a request may take in all, upload and answer.",
    )(func)
    func = click.option(
        "--credentials",
        "credentials_path",
        type=click.Path(dir_okay=False, exists=True),
        help="TOML file with system_id and api_key, mode 600; by default MINICRM_SYSTEM_ID and MINICRM_API_KEY.",
    )(func)
    return base_url_option(func)


def _credentials(path: str | None) -> Credentials:
    from xmlsync.push import Credentials

    try:
        return Credentials.from_file(path) if path else Credentials.from_env(os.environ)
    except XmlSyncError as exc:
        raise _fail(exc, "nothing was sent") from None


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: unwound like Ctrl-C, so that temporary files are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _stop(signum: int, frame: object) -> None:
    for other in _STOP_SIGNALS:  # a second signal must not break off the clean-up of the first
        signal.signal(other, signal.SIG_IGN)
    raise Stopped(signum)


class Cli(click.Group):
    """The command group; SIGTERM and SIGHUP stop a command as Ctrl-C does, then exit with 128 + the signal."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return super().main(*args, **kwargs)
        previous = {signum: signal.signal(signum, _stop) for signum in _STOP_SIGNALS}
        try:
            return super().main(*args, **kwargs)
        except Stopped as stopped:
            name = signal.Signals(stopped.signum).name
            click.echo(f"Error: stopped by {name}; no output was written or changed", err=True)
            sys.exit(128 + stopped.signum)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(None, "--version", package_name="xmlsync", prog_name="xmlsync")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour error codes red and warnings yellow: on a terminal without NO_COLOR (auto), always, or never.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also say what each step took: the policy a build runs with, each file validate checked and how long.",
)
@click.pass_context
def cli(ctx: click.Context, color: str, verbose: bool) -> None:
    """Turn ERP offer records into MiniCRM XML Sync feeds, and validate such feeds."""
    ctx.color = {"always": True, "never": False}.get(color)
    ctx.obj = {"verbose": verbose}


def _verbose() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context is not None and (context.find_root().obj or {}).get("verbose"))


def input_options(func: F) -> F:
    """Options that say how to read the input, shared by build and mapping."""
    func = click.option(
        "--format",
        "input_format",
        type=click.Choice(FORMATS),
        help="Input format; by default the profile's, else the file extension's.",
    )(func)
    func = click.option(
        "--profile",
        "profile_path",
        type=click.Path(dir_okay=False, exists=True),
        help="Mapping profile (TOML) for flat inputs: columns, constants, value maps, locale, encoding.",
    )(func)
    return func


def sql_options(func: F) -> F:
    """Options to read from a database instead of a file."""
    func = click.option("--table", help="Table to read (all its columns) when no --query is given.")(func)
    func = click.option("--query", help='SQL query, e.g. "SELECT * FROM offers ORDER BY partner, offer".')(func)
    func = click.option(
        "--from-sql",
        "sql_url",
        metavar="URL",
        help="Read rows from a database: sqlite:///erp.db (built in) or any SQLAlchemy URL (xmlsync[sql]).",
    )(func)
    return func


def _input(
    path: str | None, input_format: str | None, sql_url: str | None, table: str | None, query: str | None
) -> InputSpec:
    if (path is None) == (sql_url is None):
        raise click.UsageError("give either INPUT or --from-sql URL")
    if table is not None and query is not None:
        raise click.UsageError("give either --query or --table, not both")
    from xmlsync.readers.inputs import InputSpec

    return InputSpec(path=path, format=input_format, sql_url=sql_url, table=table, query=query)


def _profile(path: str | None) -> Profile:
    try:
        return load_profile(path) if path else Profile()
    except XmlSyncError as exc:
        raise _fail(exc, "fix the profile") from None


@cli.command()
@click.argument(
    "input_path", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False, exists=True, allow_dash=True)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="The XML file to write (replaced atomically), or - for stdout.",
)
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


@cli.command()
@click.argument("feed", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="Where the records go: a .json file gets one list, any other path (or - for stdout) JSON Lines.",
)
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
@click.argument(
    "input_path", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False, exists=True, allow_dash=True)
)
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
