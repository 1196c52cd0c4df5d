"""What the commands of the ``xmlsync`` command line share: the group, its options, report colours and
progress lines, and how a library error becomes a line and an exit code."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

# Each command imports what it needs when it runs, so that `xmlsync validate` does not load the build.
from xmlsync.config import DEFAULT_BASE_URL, BuildConfig
from xmlsync.errors import OptionsError, XmlSyncError
from xmlsync.profiles import FORMATS, Profile, load_profile

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


_ON_STOP: list[str] = []  # what a stop by a signal leaves behind, as the running command says it


def on_stop(what: str) -> None:
    """Say what a stop by SIGTERM or SIGHUP leaves behind from here on (by default: nothing written or changed)."""
    _ON_STOP[:] = [what]


class Cli(click.Group):
    """The command group; SIGTERM and SIGHUP stop a command as Ctrl-C does, then exit with 128 + the signal."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return super().main(*args, **kwargs)
        previous = {signum: signal.signal(signum, _stop) for signum in _STOP_SIGNALS}
        _ON_STOP[:] = ["no output was written or changed"]
        try:
            return super().main(*args, **kwargs)
        except Stopped as stopped:
            name = signal.Signals(stopped.signum).name
            click.echo(f"Error: stopped by {name}; {_ON_STOP[0]}", err=True)
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


@cli.group()
def offer() -> None:
    """Offers through MiniCRM's Offer JSON API (the offer document, numbered, with its PDF), each created once.

    \b
    Example:
        xmlsync offer build fixtures/offers.json -o requests.jsonl
        xmlsync offer send fixtures/offers.json --state offers-state.db --dry-run
        xmlsync offer get 5123
        xmlsync offer status 5123 "Elfogadva"
    """


def _verbose() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context is not None and (context.find_root().obj or {}).get("verbose"))


def input_argument(func: F) -> F:
    """``[INPUT]``: the ERP export to read (``-`` for stdin), or none with ``--from-sql``; shared by the builds."""
    return click.argument(
        "input_path", metavar="[INPUT]", required=False, type=click.Path(dir_okay=False, exists=True, allow_dash=True)
    )(func)


def output_option(help: str) -> Callable[[F], F]:
    """``-o``/``--output``: the file a command writes (``-`` for stdout); ``help`` says what goes in it."""
    return click.option(
        "-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True, allow_dash=True), help=help
    )


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
