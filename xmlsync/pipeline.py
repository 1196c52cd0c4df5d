"""The whole job, one way through: read -> map/normalise -> build -> validate -> write."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Literal

from lxml import etree

from xmlsync.builder import build_project
from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue, OutputError
from xmlsync.inputs import InputSpec, read_records
from xmlsync.mapping import project_from_dict
from xmlsync.paths import ROOT_TAG
from xmlsync.profile import Profile
from xmlsync.readers import RawRecord
from xmlsync.records import Project
from xmlsync.rules import FeedRules, RuleConfig
from xmlsync.validate import BATCH, check_batch
from xmlsync.writer import FeedWriter, ProjectSink, SplitFeed, atomic_output, write_reject

_SPOOL_BYTES = 16 * 1024 * 1024
PROGRESS_EVERY = 500  # records between two progress reports

OnInvalid = Literal["fail", "skip"]


@dataclass(frozen=True)
class Progress:
    """How far a build is, reported to the ``progress`` callback every few hundred records and at the end."""

    records: int
    projects: int
    skipped: int
    elapsed: float
    done: bool = False

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

    def summary(self) -> str:
        """Return ``1 project, 2 offers, 5 products from 5 input rows, 0 rejected`` (and what was skipped)."""
        counts = ((self.projects, "project"), (self.offers, "offer"), (self.products, "product"))
        written = ", ".join(f"{count} {noun}{'' if count == 1 else 's'}" for count, noun in counts)
        text = f"{written} from {self.rows} input row{'' if self.rows == 1 else 's'}, {self.rejected} rejected"
        if self.parts:
            first, last = Path(self.parts[0]).name, Path(self.parts[-1]).name
            text += f", in {len(self.parts)} file{'s' if len(self.parts) > 1 else ''} ({first}"
            text += f" to {last})" if len(self.parts) > 1 else ")"
        if self.rejects is not None:
            records = f"{self.skipped} invalid record{'' if self.skipped == 1 else 's'}"
            text += f"; skipped {records}, listed in {self.rejects}"
        return text


def write_feed(
    records: Iterable[RawRecord],
    out: IO[bytes],
    config: BuildConfig | None = None,
    *,
    rejects: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Map, build and validate each record, streaming valid ``<Project>`` elements to ``out``.

    Each record is read, built, checked, written and forgotten, so memory does not grow with the feed.

    With ``rejects`` (a binary stream), invalid records are skipped: each goes to ``rejects`` as a JSON
    line with its errors, and the valid ones are written. Without it, every record is still checked so
    that all problems are reported at once, but after the first problem nothing more is written, and
    the caller discards ``out``.

    Raises:
        InputError: Without ``rejects``: every problem found, each naming its record and field or XML path.
    """
    config = config or BuildConfig()
    with FeedWriter(out, pretty=config.pretty) as writer:
        return write_projects(records, writer, config, rejects=rejects, progress=progress)


def write_projects(
    records: Iterable[RawRecord],
    sink: ProjectSink,
    config: BuildConfig | None = None,
    *,
    rejects: IO[bytes] | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Like :func:`write_feed`, into any sink, e.g. a :class:`~xmlsync.writer.SplitFeed`."""
    config = config or BuildConfig()
    with FeedRules(RuleConfig(vat_codes=config.vat_codes, strict=config.strict)) as rules:
        return _write_feed(records, sink, config, rules, rejects, progress)


def _write_feed(
    records: Iterable[RawRecord],
    sink: ProjectSink,
    config: BuildConfig,
    rules: FeedRules,
    rejects: IO[bytes] | None,
    progress: ProgressCallback | None,
) -> BuildResult:
    run = _FeedRun(sink, config, rules, rejects)
    started = time.monotonic()
    index = 0
    for index, raw in enumerate(records, start=1):
        if progress is not None and index % PROGRESS_EVERY == 0:
            run.flush()
            progress(Progress(index - 1, run.projects, run.skipped, time.monotonic() - started))
        run.add(raw, index)
    run.flush()
    if progress is not None:
        progress(Progress(index, run.projects, run.skipped, time.monotonic() - started, done=True))
    if run.issues:
        raise InputError(run.issues)
    return BuildResult(run.projects, run.offers, run.products, tuple(run.warnings), run.rows, run.rejected, run.skipped)


class _FeedRun:
    """One build: records are mapped and built as they come, then checked and written in batches.

    A batch of :data:`BATCH` built projects is checked at once (see
    :func:`~xmlsync.validate.check_batch`), then written, rejected or reported in input order.
    """

    def __init__(self, sink: ProjectSink, config: BuildConfig, rules: FeedRules, rejects: IO[bytes] | None) -> None:
        self.sink = sink
        self.config = config
        self.rules = rules
        self.rejects = rejects
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []
        self.projects = self.offers = self.products = self.rows = self.rejected = self.skipped = 0
        self._pending: list[tuple[RawRecord, int, Project | None, list[Issue]]] = []
        self._batch = etree.Element(ROOT_TAG)

    def add(self, raw: RawRecord, index: int) -> None:
        """Map and build one record (the ``index``-th of the feed); check and write it with its batch."""
        self.rows += raw.rows
        problems = list(raw.issues)
        project = None
        if not problems:
            try:
                project = project_from_dict(raw.data, source=raw.source, config=self.config)
            except InputError as exc:
                problems = list(exc.issues)
            else:
                self._batch.append(build_project(project))
        self._pending.append((raw, index, project, problems))
        if len(self._pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Check the pending projects, then write, reject or report each, in input order."""
        built = [(raw, index) for raw, index, project, _ in self._pending if project is not None]
        indexes, sources = [index for _, index in built], [raw.source for raw, _ in built]
        found = check_batch(self._batch, indexes=indexes, rules=self.rules, sources=sources)
        elements = iter(list(self._batch))
        results = iter(found)
        for raw, _, project, problems in self._pending:
            element = None
            if project is not None:
                element, issues = next(elements), next(results)
                self.warnings.extend(issue for issue in issues if issue.severity == "warning")
                problems = [issue for issue in issues if issue.severity == "error"]
            if problems:
                self._refuse(raw, problems)
                continue
            if self.issues or project is None or element is None:
                continue
            try:
                self.sink.write(element)
            except OutputError as exc:
                raise OutputError([replace(issue, source=raw.source) for issue in exc.issues]) from None
            self.projects += 1
            self.offers += len(project.offers)
            self.products += sum(len(offer.products) for offer in project.offers)
        self._pending.clear()
        self._batch = etree.Element(ROOT_TAG)

    def _refuse(self, raw: RawRecord, problems: list[Issue]) -> None:
        self.rejected += raw.rows
        if self.rejects is None:
            self.issues.extend(problems)
        else:
            self.skipped += 1
            write_reject(self.rejects, raw.source, raw.rows, problems, raw.data)


def default_rejects_path(output: str | Path) -> Path:
    """Return where skipped records go by default: ``offers.xml`` -> ``offers.rejects.jsonl``."""
    path = Path(output)
    return path.with_name(f"{path.stem}.rejects.jsonl")


def build_file(
    source: str | Path | InputSpec,
    output: str | Path | IO[bytes],
    config: BuildConfig | None = None,
    profile: Profile | None = None,
    *,
    on_invalid: OnInvalid = "fail",
    rejects: str | Path | None = None,
    split: Split | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Build the feed for an input into ``output``.

    ``source`` is a path (``-`` for stdin; the format comes from the extension or the profile) or an
    :class:`~xmlsync.inputs.InputSpec`. ``output`` is a path, replaced atomically, or a binary stream,
    which receives the feed only once it is complete and valid.

    Args:
        on_invalid: ``"fail"``: any invalid record stops the build and nothing is written. ``"skip"``:
            the valid projects are written and each invalid record goes, with its errors, to ``rejects``
            (by default ``<output>.rejects.jsonl``), a JSON Lines file replaced on every run.
        split: Write numbered parts (``offers-0001.xml``...) instead of ``output``; see
            :class:`~xmlsync.writer.SplitFeed`. ``output`` must then be a path.
        progress: Called with a :class:`Progress` every few hundred records and once at the end.

    Raises:
        InputError: An invalid record (``on_invalid="fail"``): every problem found.
        OutputError: The output could not be written.
        ValueError: ``split`` with a stream output, or ``"skip"`` with a stream output and no ``rejects``.
    """
    config = config or BuildConfig()
    if on_invalid == "skip" and rejects is None:
        if not isinstance(output, str | Path):
            raise ValueError("skipping invalid records into a rejects file needs a rejects path with a stream output")
        rejects = default_rejects_path(output)
    if split is not None and not isinstance(output, str | Path):
        raise ValueError("a split feed is written to files: give an output path")
    spec = source if isinstance(source, InputSpec) else InputSpec(path=str(source))
    records = read_records(spec, profile)
    try:
        with _reporting_os_errors(output if isinstance(output, str | Path) else None), contextlib.ExitStack() as stack:
            rejects_out = stack.enter_context(atomic_output(rejects)) if rejects is not None else None
            result = _build_into(records, output, config, split, rejects_out, progress)
        if rejects is not None:
            result = replace(result, rejects=str(rejects))
        return result
    finally:
        records.close()


def _build_into(
    records: Iterator[RawRecord],
    output: str | Path | IO[bytes],
    config: BuildConfig,
    split: Split | None,
    rejects: IO[bytes] | None,
    progress: ProgressCallback | None,
) -> BuildResult:
    if split is not None:
        assert isinstance(output, str | Path)
        parts = SplitFeed(output, pretty=config.pretty, max_projects=split.records, max_bytes=split.size)
        with parts:
            result = write_projects(records, parts, config, rejects=rejects, progress=progress)
        return replace(result, parts=tuple(str(path) for path in parts.paths))
    if isinstance(output, str | Path):
        with atomic_output(output) as out:
            return write_feed(records, out, config, rejects=rejects, progress=progress)
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        result = write_feed(records, spool, config, rejects=rejects, progress=progress)
        spool.seek(0)
        shutil.copyfileobj(spool, output)
        output.flush()
        return result


@contextlib.contextmanager
def _reporting_os_errors(output: str | Path | None) -> Iterator[None]:
    """Turn an operating-system error while writing into an :class:`OutputError` naming the file."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        reason = exc.strerror or str(exc)
        where = exc.filename if isinstance(exc.filename, str) else (str(output) if output is not None else None)
        issue = Issue("unwritable-output", f"cannot write the file: {reason}", source=where)
        raise OutputError([issue]) from None
