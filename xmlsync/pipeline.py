"""The ordered run of a build, one way through: read -> walk -> render -> check -> write.

The stateless work of each batch is :mod:`xmlsync.batch` (in worker processes, :mod:`xmlsync.pool`); this
module keeps what needs order: the Ids across the feed, the delta against the state file, the writing.
"""

from __future__ import annotations

import contextlib
import html
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple, cast

from xmlsync.batch import Batch, Built
from xmlsync.builder import RENDERERS
from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue, OptionsError, OutputError, XmlSyncError
from xmlsync.idstore import SeenIds
from xmlsync.pool import built_batches
from xmlsync.profiles import Profile
from xmlsync.readers import RawRecord
from xmlsync.readers.inputs import InputMeter, InputSpec, read_records
from xmlsync.readers.sql_reader import sqlite_path
from xmlsync.rules import Checker, ProjectIds
from xmlsync.state import State, Target, Verdict, digest
from xmlsync.tree.paths import ROOT_TAG
from xmlsync.tree.records import Project
from xmlsync.walk import as_record
from xmlsync.writer import (
    ProjectSink,
    SplitFeed,
    atomic_output,
    complete_output,
    manifest_path,
    output_target,
    refuse_overlaps,
    write_reject,
)

if TYPE_CHECKING:
    pass

OnInvalid = Literal["fail", "skip"]


@dataclass(frozen=True)
class Progress:
    """How far a build is, reported to the ``progress`` callback after each batch of records and at the end."""

    records: int
    projects: int
    skipped: int
    elapsed: float
    done: bool = False
    fraction: float | None = None  # of the input file read, when it can be told (see inputs.InputMeter)

    @property
    def rate(self) -> float:
        """Return records per second so far."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class Split:
    """How to split the output into parts: at most ``records`` projects and/or ``size`` bytes per file."""

    records: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote.

    ``rejected`` counts input rows of records that were not written; ``skipped`` counts those records
    (with ``on_invalid="skip"``), listed in the file ``rejects``. ``parts`` names the files of a split feed.
    """

    projects: int = 0
    offers: int = 0
    products: int = 0
    warnings: tuple[Issue, ...] = ()
    rows: int = 0
    rejected: int = 0
    skipped: int = 0
    rejects: str | None = None
    parts: tuple[str, ...] = ()
    delta: tuple[int, int, int] | None = None  # new, changed, unchanged (with a state file)
    gone: tuple[str, ...] = ()  # Ids MiniCRM has that the source no longer does
    gone_names: tuple[str | None, ...] = ()  # the Name each of them was last built with
    state: str | None = None

    def summary(self) -> str:
        """Return ``1 project, 2 offers, 5 products from 5 input rows, 0 rejected`` (and what was skipped)."""
        counts = ((self.projects, "project"), (self.offers, "offer"), (self.products, "product"))
        written = ", ".join(f"{count:,} {noun}{'' if count == 1 else 's'}" for count, noun in counts)
        text = f"{written} from {self.rows:,} input row{'' if self.rows == 1 else 's'}, {self.rejected:,} rejected"
        if self.parts:
            first, last = Path(self.parts[0]).name, Path(self.parts[-1]).name
            text += f", in {len(self.parts)} file{'s' if len(self.parts) > 1 else ''} ({first}"
            text += f" to {last})" if len(self.parts) > 1 else ")"
        if self.rejects is not None:
            records = f"{self.skipped:,} invalid record{'' if self.skipped == 1 else 's'}"
            text += f"; skipped {records}, listed in {self.rejects}"
        if self.delta is not None:
            new, changed, unchanged = self.delta
            text += (
                f"; against {self.state}: {new:,} new, {changed:,} changed, {unchanged:,} unchanged,"
                f" {len(self.gone):,} gone"
            )
            if self.gone:
                shown = ", ".join(self.gone[:10]) + (f" and {len(self.gone) - 10} more" if len(self.gone) > 10 else "")
                text += f" (Project {shown})"
        return text


def write_feed(
    records: Iterable[RawRecord],
    out: IO[bytes],
    config: BuildConfig | None = None,
    *,
    rejects: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
    delta: Delta | None = None,
    ids: SeenIds | None = None,
    output: str = "xml",
) -> BuildResult:
    """Map, build and validate each record, streaming valid ``<Project>`` elements to ``out`` (or the records
    as ``output`` renders them: :data:`~xmlsync.builder.RENDERERS`).

    Each record is read, built, checked, written and forgotten, so memory does not grow with the feed.

    With ``rejects`` (a binary stream), invalid records are skipped: each goes to ``rejects`` as a JSON
    line with its errors, and the valid ones are written. Without it, every record is still checked so
    that all problems are reported at once, but after the first problem nothing more is written, and
    the caller discards ``out``.

    Raises:
        InputError: Without ``rejects``: every problem found, each naming its record and field or XML path.
    """
    config = config or BuildConfig()
    with RENDERERS[output].sink(out, config) as writer:
        return write_projects(
            records, writer, config, rejects=rejects, progress=progress, jobs=jobs, delta=delta, ids=ids, output=output
        )


def write_projects(
    records: Iterable[RawRecord],
    sink: ProjectSink,
    config: BuildConfig | None = None,
    *,
    rejects: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
    delta: Delta | None = None,
    ids: SeenIds | None = None,
    output: str = "xml",
) -> BuildResult:
    """Like :func:`write_feed`, into any sink, e.g. a :class:`~xmlsync.writer.SplitFeed`; ``ids`` is the feed's
    Id store when the reader keeps keys in it too (one store per feed).

    With ``delta``, only the projects it wants (new or changed since MiniCRM confirmed them) are written.

    With ``jobs`` > 1, batches of records are mapped, built, checked and serialised in that many worker
    processes, while this process reads, checks the Ids and writes, in input order: the output is the
    same, byte for byte, as with one job.
    """
    config = config or BuildConfig()
    with Checker(config, ids) as rules:
        run = _FeedRun(sink, rules, rejects, delta)
        started = time.monotonic()
        records_done = 0
        for batch, built in built_batches(records, config, jobs, output):
            run.commit(batch, built)
            records_done += len(batch)
            if progress is not None:
                progress(Progress(records_done, run.projects, run.skipped, time.monotonic() - started))
        if progress is not None:
            progress(Progress(records_done, run.projects, run.skipped, time.monotonic() - started, done=True))
    if run.issues:
        raise InputError(run.issues)
    return BuildResult(
        run.projects,
        run.offers,
        run.products,
        tuple(run.warnings),
        run.rows,
        run.rejected,
        run.skipped,
        delta=(delta.counts["new"], delta.counts["changed"], delta.counts["unchanged"]) if delta else None,
    )


_NAME = re.compile(rb"<Name>([^<]*)</Name>")  # a built project's first <Name> is its own: the builder writes it first


class Change(NamedTuple):
    """A project a delta build sends: new or changed since MiniCRM confirmed it, named as the user knows it."""

    verdict: Verdict
    project: str  # the Project Id
    name: str | None  # its Name
    key: str | None  # the ERP key the Id was made from, if it was

    def label(self) -> str:
        """Return ``Kovács Kft. (P-01001, Project 2962584582889106)`` or ``Kovács Kft. (Project 10001)``."""
        where = f"{self.key}, Project {self.project}" if self.key else f"Project {self.project}"
        return f"{self.name or '(no name)'} ({where})"


ChangeCallback = Callable[[Change], None]


class Delta:
    """Which projects a delta build writes: new or changed ones since MiniCRM confirmed them (all with ``full``)."""

    def __init__(
        self, state: State, target: Target, *, full: bool = False, on_change: ChangeCallback | None = None
    ) -> None:
        self.state = state
        self.target = target.key
        self.full = full
        self.on_change = on_change
        self.counts: dict[Verdict, int] = {"new": 0, "changed": 0, "unchanged": 0}

    def wanted(self, ids: ProjectIds, xml: bytes, keys: tuple[tuple[str, str], ...] = ()) -> bool:
        """Record a valid project as built; return whether to write it."""
        if ids.project is None:
            return True
        named = _NAME.search(xml)
        name = html.unescape(named[1].decode("utf-8")) if named else None
        verdict = self.state.classify(self.target, ids.project, digest(xml), name)
        self.counts[verdict] += 1
        if self.on_change is not None and verdict != "unchanged":
            key = next((erp for label, erp in keys if label == f"Project {ids.project}"), None)
            self.on_change(Change(verdict, ids.project, name, key))
        return self.full or verdict != "unchanged"

    def set_aside(self, project_id: str | None) -> None:
        """Record a project set aside as invalid: seen, so not gone."""
        if project_id is not None:
            self.state.set_aside(project_id)


_PROJECT_NAMED = re.compile(r"Project ([0-9]+)\b")


def _project_named(issues: Iterable[Issue]) -> str | None:
    """Return the Project Id that the issues of a record that could not be built name, if they name one."""
    for issue in issues:
        if issue.record and (named := _PROJECT_NAMED.match(issue.record)):
            return named[1]
    return None


class _FeedRun:
    """The ordered part of a build: Id checks, then writing, rejecting or reporting each record."""

    def __init__(
        self, sink: ProjectSink, rules: Checker, rejects: IO[bytes] | None, delta: Delta | None = None
    ) -> None:
        self.sink = sink
        self.rules = rules
        self.rejects = rejects
        self.delta = delta
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []
        self.projects = self.offers = self.products = self.rows = self.rejected = self.skipped = 0

    def commit(self, batch: Batch, built: list[Built]) -> None:
        """Check the Ids of a built batch, then write, reject or report each record, in input order."""
        checked = [(raw, index, result) for (raw, index), result in zip(batch, built, strict=True)]
        id_issues = iter(
            self.rules.check_ids_batch(
                [
                    (result.ids, f"/{ROOT_TAG}/Project[{index}]", raw.source)
                    for raw, index, result in checked
                    if result.ids is not None
                ]
            )
        )
        for raw, _, result in checked:
            self.rows += raw.rows
            problems = [raw.explain(issue) for issue in result.before]
            if result.ids is not None and ((ids := next(id_issues)) or result.before or result.after):
                issues = sorted([*result.before, *ids, *result.after], key=lambda issue: issue.line or 0)
                issues = [raw.explain(issue) for issue in issues]
                self.warnings.extend(issue for issue in issues if issue.severity == "warning")
                problems = [issue for issue in issues if issue.severity == "error"]
            if problems:
                self._refuse(raw, problems)
                if self.delta is not None and self.rejects is not None:
                    self.delta.set_aside(result.ids.project if result.ids else _project_named(result.before))
                continue
            if self.issues or result.rendered is None:
                continue
            if (
                self.delta is not None
                and result.ids is not None
                and not self.delta.wanted(result.ids, result.rendered, raw.keys)
            ):
                continue
            try:
                self.sink.write_serialised(result.rendered, f"Project {result.ids.project}" if result.ids else None)
            except OutputError as exc:
                raise OutputError([replace(issue, source=issue.source or raw.source) for issue in exc.issues]) from None
            self.projects += 1
            self.offers += result.offers
            self.products += result.products

    def _refuse(self, raw: RawRecord, problems: list[Issue]) -> None:
        self.rejected += raw.rows
        if self.rejects is None:
            self.issues.extend(problems)
        else:
            self.skipped += 1
            write_reject(self.rejects, raw.source, raw.rows, problems, raw.data)


def _check_options(
    output: str | Path | IO[bytes],
    on_invalid: OnInvalid,
    rejects: str | Path | None,
    split: Split | None,
    state: str | Path | State | None,
    full: bool,
    render: str = "xml",
) -> None:
    """Refuse options of a build that cannot work together (each message names the flags of ``build``)."""
    if render not in RENDERERS:
        raise OptionsError([Issue("options", f"no output {render!r}; outputs: {', '.join(RENDERERS)}")])
    if render != "xml" and (split is not None or state is not None):
        message = "a split feed and a delta are XML Sync's: --split-* and --state go with build, not with this output"
        raise OptionsError([Issue("options", message)])
    stream = not isinstance(output, str | Path) or str(output) == "-"
    problems = [
        (split is not None and stream, "--split-records and --split-bytes write files: give -o PATH, not -o -"),
        (full and state is None, "--full is for a delta build with --state"),
        (rejects is not None and on_invalid != "skip", "--rejects is for the records skipped by --on-invalid skip"),
        (on_invalid == "skip" and rejects is None and stream, "--on-invalid skip with -o - needs --rejects PATH"),
    ]
    issues = [Issue("options", message) for broken, message in problems if broken]
    if issues:
        raise OptionsError(issues[:1])


def default_rejects_path(output: str | Path) -> Path:
    """Return where skipped records go by default: ``offers.xml`` -> ``offers.rejects.jsonl``.

    Raises:
        OptionsError: ``rejects-path`` for an output that is a device or a FIFO, which has no folder to hold it.
    """
    path = Path(output)
    if output_target(path)[1]:
        message = "skipped records need a file: give --rejects PATH when the output is a device or a FIFO"
        raise OptionsError([Issue("rejects-path", message, source=str(path))])
    return path.with_name(f"{path.stem}.rejects.jsonl")


def build_file(
    source: str | Path | InputSpec | Iterable[Mapping[str, Any] | Project],
    output: str | Path | IO[bytes],
    config: BuildConfig | None = None,
    profile: Profile | None = None,
    *,
    on_invalid: OnInvalid = "fail",
    rejects: str | Path | None = None,
    split: Split | None = None,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
    state: str | Path | State | None = None,
    target: Target | None = None,
    full: bool = False,
    on_change: ChangeCallback | None = None,
    record: bool = True,
    render: str = "xml",
) -> BuildResult:
    """Build the feed for an input into ``output``.

    ``source`` is a path (``-`` for stdin; the format comes from the extension or the profile) or an
    :class:`~xmlsync.readers.inputs.InputSpec`. ``output`` is a path, replaced atomically, or a binary stream,
    which receives the feed only once it is complete and valid.

    Args:
        on_invalid: ``"fail"``: any invalid record stops the build and nothing is written. ``"skip"``:
            the valid projects are written and each invalid record goes, with its errors, to ``rejects``
            (by default ``<output>.rejects.jsonl``), a JSON Lines file replaced on every run.
        split: Write numbered parts (``offers-0001.xml``...) instead of ``output``; see
            :class:`~xmlsync.writer.SplitFeed`. ``output`` must then be a path.
        progress: Called with a :class:`Progress` after each batch of records and once at the end.
        jobs: Worker processes that map, build and check records (see :func:`write_projects`).
        state: A state file (:mod:`xmlsync.state`): write only the projects that are new or changed since
            ``push --state`` last had them confirmed by MiniCRM, and list those gone from the source.
        target: With ``state``, the MiniCRM system the delta is for (its confirmations are kept apart from
            those of any other system or base URL).
        full: With ``state``, write every project all the same (they are recorded as built).
        on_change: With ``state``, called with each project the delta sends (new or changed), as it is built.
        record: With ``state``, whether the build is recorded in it; ``False`` (a dry run) leaves it as it was.
        render: What is written, by name (:data:`~xmlsync.builder.RENDERERS`): the XML Sync feed (``xml``), or
            the Offer JSON API's request bodies (``offer-json``, one JSON line per offer). Every record is
            checked as its XML Sync ``<Project>`` whatever is written.

    Raises:
        OptionsError: Options that cannot work together (a split feed or skipped records without a file to go
            to, ``full`` or ``rejects`` where they mean nothing), or an output that is an input (the ERP export,
            the profile) or another output; nothing was done.
        InputError: An invalid record (``on_invalid="fail"``): every problem found.
        OutputError: The output could not be written.
    """
    _check_options(output, on_invalid, rejects, split, state, full, render)
    config = config or BuildConfig()
    if profile is not None:  # what the profile says of its input's values (its policy is the caller's to apply)
        config = profile.reading(config)
    if on_invalid == "skip" and rejects is None:
        rejects = default_rejects_path(cast(str | Path, output))
    given = not isinstance(source, str | Path | InputSpec)  # records of the caller's own
    spec = InputSpec() if given else source if isinstance(source, InputSpec) else InputSpec(path=str(source))
    if state is not None and target is None:
        message = (
            "a delta build is for one MiniCRM system: set MINICRM_SYSTEM_ID (or give --system-id), and --base-url"
            " if it is not MiniCRM's own, as for push"
        )
        raise OptionsError([Issue("state-target", message, source=str(state))])
    _refuse_overlaps(spec, profile, output, rejects, split, state.path if isinstance(state, State) else state)
    meter = InputMeter()
    own_state = state is not None and not isinstance(state, State)
    # a foreign state file is refused before any work
    delta_state = state if isinstance(state, State) else State(state) if state is not None else None
    ids = SeenIds()  # the feed's one Id store: the Ids checked, and the keys a flat input hashed
    records = (
        _raw_records(cast(Iterable[Any], source), profile)
        if given
        else read_records(spec, profile, on_open=meter.opened, config=config, ids=ids)
    )
    if progress is not None:
        progress = _with_fraction(progress, meter)
    try:
        delta = None
        if delta_state is not None:
            delta_state.begin_build()
            assert target is not None
            delta = Delta(delta_state, target, full=full, on_change=on_change)
        with _reporting_os_errors(output if isinstance(output, str | Path) else None), contextlib.ExitStack() as stack:
            rejects_out = stack.enter_context(atomic_output(rejects)) if rejects is not None else None
            stack.callback(ids.close)
            result = _build_into(records, output, config, split, rejects_out, progress, jobs, delta, ids, render)
        if rejects is not None:
            result = replace(result, rejects=str(rejects))
        if delta_state is not None:
            assert delta is not None
            gone = delta_state.gone(delta.target)
            result = replace(
                result,
                gone=tuple(project for project, _ in gone),
                gone_names=tuple(name for _, name in gone),
                state=str(delta_state.path),
            )
            delta_state.end_build(keep=record)  # the output is written: what it holds counts as built
        return result
    except BaseException:
        if delta_state is not None and delta_state.run:
            delta_state.end_build(keep=False)
        raise
    finally:
        records.close()
        if delta_state is not None and own_state:
            delta_state.close()


def _raw_records(
    records: Iterable[Mapping[str, Any] | Project], profile: Profile | None = None
) -> Generator[RawRecord, None, None]:
    """Yield the caller's records (dicts keyed like the XML tree, or typed projects) as read records; with a
    profile, their Ids as the profile reads a flat input's (non-numeric keys hashed, ``id_offset`` added)."""
    from xmlsync.readers.rows import record_ids

    for index, record in enumerate(records):
        data: Any = as_record(record) if isinstance(record, Project) else record
        source = (record.source if isinstance(record, Project) else None) or f"records[{index}]"
        if profile is None:
            yield RawRecord(data, source)
            continue
        data, keys, issues = record_ids(data, profile, source)
        yield RawRecord(data, source, issues, keys=keys)


def build_records(
    records: Iterable[Mapping[str, Any] | Project],
    output: str | Path | IO[bytes],
    config: BuildConfig | None = None,
    *,
    on_invalid: OnInvalid = "fail",
    rejects: str | Path | None = None,
    split: Split | None = None,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
    profile: Profile | None = None,
    state: str | Path | State | None = None,
    target: Target | None = None,
    full: bool = False,
) -> BuildResult:
    """Build a feed from records made by the caller: dicts keyed like the XML tree, or typed :class:`Project` records.

    The same as :func:`build_file` for an input file: every record is mapped and checked, the feed-level
    rules (Ids across the feed) apply, and ``output`` is written atomically, or not at all. With a
    ``profile``, the records' Ids are read as ``build --profile`` reads a flat export's: a non-numeric ERP key
    (``P-00123``) gets the same stable Id the CLI gives it, and ``[ids] id_offset`` is added, so a script and
    the CLI make the same Ids. ``state``, ``target`` and ``full`` make a delta feed, as in :func:`build_file`.

    Raises:
        InputError: An invalid record (``on_invalid="fail"``): every problem found, naming ``records[i]``.
        OutputError: The output could not be written.
    """
    return build_file(
        records,
        output,
        config,
        profile,
        on_invalid=on_invalid,
        rejects=rejects,
        split=split,
        progress=progress,
        jobs=jobs,
        state=state,
        target=target,
        full=full,
    )


def _refuse_overlaps(
    spec: InputSpec,
    profile: Profile | None,
    output: str | Path | IO[bytes],
    rejects: str | Path | None,
    split: Split | None,
    state: str | Path | None = None,
) -> None:
    """Refuse outputs that would overwrite an input (the ERP export, the profile) or each other."""
    inputs = [("input", Path(path)) for path in (spec.path, sqlite_path(spec.sql_url or "")) if path and path != "-"]
    if profile is not None and profile.source is not None:
        inputs.append(("profile", Path(profile.source)))
    outputs: list[tuple[str, Path]] = []
    if isinstance(output, str | Path):
        outputs.append(("part list", manifest_path(output)) if split is not None else ("output", Path(output)))
    if rejects is not None:
        outputs.append(("rejects file", Path(rejects)))
    if state is not None:
        outputs.append(("state file", Path(state)))
    refuse_overlaps(
        inputs, outputs, split=Path(output) if split is not None and isinstance(output, str | Path) else None
    )


def _with_fraction(progress: ProgressCallback, meter: InputMeter) -> ProgressCallback:
    def report(state: Progress) -> None:
        fraction = meter.fraction()
        progress(replace(state, fraction=1.0 if state.done and fraction is not None else fraction))

    return report


def _build_into(
    records: Iterator[RawRecord],
    output: str | Path | IO[bytes],
    config: BuildConfig,
    split: Split | None,
    rejects: IO[bytes] | None,
    progress: ProgressCallback | None,
    jobs: int,
    delta: Delta | None,
    ids: SeenIds,
    render: str = "xml",
) -> BuildResult:
    if split is not None:
        assert isinstance(output, str | Path)
        parts = SplitFeed(output, pretty=config.pretty, max_projects=split.records, max_bytes=split.size)
        with parts:
            result = write_projects(
                records, parts, config, rejects=rejects, progress=progress, jobs=jobs, delta=delta, ids=ids
            )
        return replace(result, parts=tuple(str(path) for path in parts.paths))
    with complete_output(output) as out:
        return write_feed(
            records, out, config, rejects=rejects, progress=progress, jobs=jobs, delta=delta, ids=ids, output=render
        )


@contextlib.contextmanager
def _reporting_os_errors(output: str | Path | None) -> Iterator[None]:
    """Turn an operating-system error while writing into an :class:`OutputError` naming the file."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, XmlSyncError):  # already one clear line (an output's, or the state file's)
            raise
        reason = exc.strerror or str(exc)
        where = exc.filename if isinstance(exc.filename, str) else (str(output) if output is not None else None)
        issue = Issue("unwritable-output", f"cannot write the file: {reason}", source=where)
        raise OutputError([issue]) from None
