"""The whole job, one way through: read -> map/normalise -> build -> validate -> write."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from xmlsync.builder import build_project
from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue, OutputError
from xmlsync.inputs import InputSpec, read_records
from xmlsync.mapping import project_from_dict
from xmlsync.profile import Profile
from xmlsync.readers import RawRecord
from xmlsync.rules import FeedRules, RuleConfig
from xmlsync.validate import check_project
from xmlsync.writer import FeedWriter, atomic_output

_SPOOL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote."""

    projects: int = 0
    offers: int = 0
    products: int = 0
    warnings: tuple[Issue, ...] = ()
    rows: int = 0
    rejected: int = 0

    def summary(self) -> str:
        """Return ``1 project, 2 offers, 5 products from 5 input rows, 0 rejected``."""
        counts = ((self.projects, "project"), (self.offers, "offer"), (self.products, "product"))
        written = ", ".join(f"{count} {noun}{'' if count == 1 else 's'}" for count, noun in counts)
        return f"{written} from {self.rows} input row{'' if self.rows == 1 else 's'}, {self.rejected} rejected"


def write_feed(records: Iterable[RawRecord], out: IO[bytes], config: BuildConfig | None = None) -> BuildResult:
    """Map, build and validate each record, streaming valid ``<Project>`` elements to ``out``.

    Every record is checked even after a bad one, so that all problems are reported at once; after the
    first problem nothing more is written, and the caller discards ``out``.

    Raises:
        InputError: With every problem found, each naming its record and field or XML path.
    """
    config = config or BuildConfig()
    with FeedRules(RuleConfig(vat_codes=config.vat_codes, strict=config.strict)) as rules:
        return _write_feed(records, out, config, rules)


def _write_feed(records: Iterable[RawRecord], out: IO[bytes], config: BuildConfig, rules: FeedRules) -> BuildResult:
    issues: list[Issue] = []
    warnings: list[Issue] = []
    projects = offers = products = rows = rejected = 0
    with FeedWriter(out, pretty=config.pretty) as writer:
        for index, raw in enumerate(records, start=1):
            rows += raw.rows
            if raw.issues:
                issues.extend(raw.issues)
                rejected += raw.rows
                continue
            try:
                project = project_from_dict(raw.data, source=raw.source, config=config)
            except InputError as exc:
                issues.extend(exc.issues)
                rejected += raw.rows
                continue
            element = build_project(project)
            found = check_project(element, index=index, rules=rules, source=raw.source)
            warnings.extend(issue for issue in found if issue.severity == "warning")
            problems = [issue for issue in found if issue.severity == "error"]
            if problems:
                issues.extend(problems)
                rejected += raw.rows
                continue
            if issues:
                continue
            writer.write(element)
            projects += 1
            offers += len(project.offers)
            products += sum(len(offer.products) for offer in project.offers)
        if issues:
            raise InputError(issues)
    return BuildResult(projects, offers, products, tuple(warnings), rows, rejected)


def build_file(
    source: str | Path | InputSpec,
    output: str | Path | IO[bytes],
    config: BuildConfig | None = None,
    profile: Profile | None = None,
) -> BuildResult:
    """Build the feed for an input into ``output``.

    ``source`` is a path (``-`` for stdin; the format comes from the extension or the profile) or an
    :class:`~xmlsync.inputs.InputSpec`. ``output`` is a path, replaced atomically, or a binary stream,
    which receives the feed only once it is complete and valid.
    """
    spec = source if isinstance(source, InputSpec) else InputSpec(path=str(source))
    records = read_records(spec, profile)
    try:
        if isinstance(output, str | Path):
            try:
                with atomic_output(output) as out:
                    return write_feed(records, out, config)
            except OSError as exc:
                if isinstance(exc, OutputError):
                    raise
                reason = exc.strerror or str(exc)
                issue = Issue("unwritable-output", f"cannot write the file: {reason}", source=str(output))
                raise OutputError([issue]) from None
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            result = write_feed(records, spool, config)
            spool.seek(0)
            shutil.copyfileobj(spool, output)
            output.flush()
            return result
    finally:
        records.close()
