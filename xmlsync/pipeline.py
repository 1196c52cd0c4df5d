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
from xmlsync.mapping import project_from_dict
from xmlsync.readers import RawRecord, open_input, read_json
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

    def summary(self) -> str:
        """Return ``1 project, 2 offers, 5 products``."""
        return ", ".join(
            f"{count} {noun}{'' if count == 1 else 's'}"
            for count, noun in ((self.projects, "project"), (self.offers, "offer"), (self.products, "product"))
        )


def write_feed(records: Iterable[RawRecord], out: IO[bytes], config: BuildConfig | None = None) -> BuildResult:
    """Map, build and validate each record, streaming valid ``<Project>`` elements to ``out``.

    Every record is checked even after a bad one, so that all problems are reported at once; after the
    first problem nothing more is written, and the caller discards ``out``.

    Raises:
        InputError: With every problem found, each naming its record and field or XML path.
    """
    config = config or BuildConfig()
    rules = FeedRules(RuleConfig(vat_codes=config.vat_codes, strict=config.strict))
    issues: list[Issue] = []
    warnings: list[Issue] = []
    projects = offers = products = 0
    with FeedWriter(out, pretty=config.pretty) as writer:
        for index, raw in enumerate(records, start=1):
            try:
                project = project_from_dict(raw.data, source=raw.source, config=config)
            except InputError as exc:
                issues.extend(exc.issues)
                continue
            element = build_project(project)
            found = check_project(element, index=index, rules=rules, source=raw.source)
            warnings.extend(issue for issue in found if issue.severity == "warning")
            problems = [issue for issue in found if issue.severity == "error"]
            if problems:
                issues.extend(problems)
                continue
            if issues:
                continue
            writer.write(element)
            projects += 1
            offers += len(project.offers)
            products += sum(len(offer.products) for offer in project.offers)
        if issues:
            raise InputError(issues)
    return BuildResult(projects, offers, products, tuple(warnings))


def build_file(
    input_path: str | Path,
    output: str | Path | IO[bytes],
    config: BuildConfig | None = None,
) -> BuildResult:
    """Build the feed for a JSON input file (``-`` for stdin) into ``output``.

    ``output`` is a path, replaced atomically, or a binary stream, which receives the feed only once it
    is complete and valid.
    """
    stream, name = open_input(input_path)
    try:
        records = read_json(stream, name)
        if isinstance(output, str | Path):
            try:
                with atomic_output(output) as out:
                    return write_feed(records, out, config)
            except OSError as exc:
                if isinstance(exc, OutputError):
                    raise
                reason = exc.strerror or str(exc)
                raise OutputError(
                    [Issue("unwritable-output", f"cannot write the file: {reason}", source=str(output))]
                ) from None
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            result = write_feed(records, spool, config)
            spool.seek(0)
            shutil.copyfileobj(spool, output)
            output.flush()
            return result
    finally:
        if name != "<stdin>":
            stream.close()
