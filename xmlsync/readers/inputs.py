"""Pick the reader for an input and turn it into project records: the front of the pipeline."""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue
from xmlsync.idstore import SeenIds
from xmlsync.profiles import Profile
from xmlsync.readers import RawRecord, open_input
from xmlsync.readers.base import STDIN_NAME, Table
from xmlsync.readers.formats import EXTENSIONS, FORMATS
from xmlsync.readers.rows import group_rows
from xmlsync.readers.sql_reader import mask_url
from xmlsync.tree.fields import FLAT_FIELDS

if TYPE_CHECKING:
    from xmlsync.config import SystemSchema


@dataclass(frozen=True)
class InputSpec:
    """Where the records come from.

    Args:
        path: A file, or ``-`` for stdin; ``None`` when reading from ``sql_url``.
        format: ``csv``, ``xlsx``, ``sql``, ``json`` or ``jsonl``; ``None``: the profile's, else the extension's.
        sql_url: A database URL (``sqlite:///erp.db``, ``postgresql://...``) for ``--from-sql``.
        table: SQL table to read when no query is given.
        query: SQL query.
    """

    path: str | None = None
    format: str | None = None
    sql_url: str | None = None
    table: str | None = None
    query: str | None = None

    @property
    def name(self) -> str:
        """Return the input's display name."""
        if self.path == "-":
            return STDIN_NAME
        return self.path or (mask_url(self.sql_url) if self.sql_url else "<input>")


def detect_format(spec: InputSpec, profile: Profile) -> str:
    """Return the input format: ``--format``, then the profile's, then the file extension.

    Raises:
        InputError: If none of them says it.
    """
    if spec.format:
        return spec.format
    if spec.sql_url:
        return "sql"
    if profile.format:
        return profile.format
    if spec.path == "-":
        return "json"
    suffix = Path(spec.path or "").suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise InputError(
        [
            Issue(
                "unknown-format",
                f"cannot tell the format from {suffix or 'no extension'!r}; give --format",
                source=spec.name,
            )
        ]
    )


OnOpen = Callable[[IO[bytes]], None]


class InputMeter:
    """Tells how much of an input file has been read, for a progress report.

    Pass :meth:`opened` as ``on_open`` to :func:`read_records`. Only a regular file read from start to end
    (JSON Lines, CSV) can say it; a JSON list is read whole before its first record, an XLSX file (a zip)
    out of order, a pipe or a database has no size: :meth:`fraction` is then ``None``.
    """

    def __init__(self) -> None:
        self._stream: IO[bytes] | None = None
        self._size = 0

    def opened(self, stream: IO[bytes]) -> None:
        """Watch ``stream``, if it is a regular, non-empty file."""
        try:
            info = os.fstat(stream.fileno())
        except (OSError, ValueError, AttributeError):  # no file descriptor (a BytesIO, a closed stream)
            return
        if stat.S_ISREG(info.st_mode) and info.st_size > 0:
            self._stream, self._size = stream, info.st_size

    def fraction(self) -> float | None:
        """Return the share of the file read so far (0 to 1), or ``None`` if it cannot be told."""
        if self._stream is None:
            return None
        if self._stream.closed:
            return 1.0
        try:
            return min(self._stream.tell() / self._size, 1.0)
        except (OSError, ValueError):
            return None


def open_table(spec: InputSpec, profile: Profile, *, on_open: OnOpen | None = None) -> Table:
    """Open a flat input (CSV, XLSX, SQL) as a :class:`Table`; the caller closes it.

    ``on_open`` is called with the stream of a CSV file once it is open (see :class:`InputMeter`).
    """
    fmt = FORMATS[detect_format(spec, profile)]
    if fmt.shape == "database":
        url = spec.sql_url or f"sqlite:///{spec.path}"
        if spec.table is not None or spec.query is not None:  # the command line's choice, whole
            return cast(Table, fmt.load()(url, table=spec.table, query=spec.query))
        return cast(Table, fmt.load()(url, table=profile.table, query=profile.query))
    if fmt.shape == "nested":
        message = f"{fmt.name} input is nested, not a table with columns"
        raise InputError([Issue("not-flat", message, source=spec.name)])
    read = fmt.load()
    stream, name = open_input(spec.path or "-")
    if on_open is not None and fmt.metered:
        on_open(stream)
    return cast(Table, read(stream, name, profile))


def check_columns(profile: Profile, header: tuple[str, ...], input_name: str) -> list[Issue]:
    """Return the problems of a profile against an input's header, before any row is read.

    Errors: a required field neither mapped nor constant, a mapped column the input lacks, no company or
    person name. Warnings: input columns the profile does not use.
    """
    issues: list[Issue] = []
    where = profile.source
    listed = ", ".join(header)
    if where is None and any(spec.required and name not in header for name, spec in FLAT_FIELDS.items()):
        message = (
            "its columns are not named like the fields, and no --profile says which is which: start one with"
            f" `xmlsync mapping init {input_name} -o erp.toml`, fill in its TODO fields, then build with"
            " --profile erp.toml"
        )
        return [Issue("no-profile", message, source=input_name)]
    for name, column in profile.columns.items():
        if column not in header:
            issues.append(
                Issue(
                    "missing-column",
                    f"{name} is mapped to column {column!r}, which {input_name} does not have;"
                    f" its columns are: {listed}",
                    source=where,
                    path=f"columns.{name}",
                )
            )
    for name, spec in FLAT_FIELDS.items():
        if spec.required and name not in profile.columns and name not in profile.constants and name not in header:
            issues.append(
                Issue(
                    "unmapped-field",
                    f"required field {name} is not mapped; add it under [columns] (or [constants])",
                    source=where,
                    path=f"columns.{name}",
                )
            )
    people = ("Business.Name", "Contact.FirstName", "Contact.LastName")
    if not any(name in profile.columns or name in profile.constants or name in header for name in people):
        issues.append(
            Issue(
                "company-or-person-required",
                "map Business.Name or Contact.FirstName/Contact.LastName: MiniCRM needs a company or a person",
                source=where,
                path="columns",
            )
        )
    used = set(profile.mapped_fields(header).values())
    for column in header:
        if column and column not in used:
            issues.append(
                Issue(
                    "unused-column",
                    f"column {column!r} of {input_name} is not mapped to any field",
                    source=where,
                    path="columns",
                    severity="warning",
                )
            )
    return issues


def read_records(
    spec: InputSpec,
    profile: Profile | None = None,
    *,
    on_open: OnOpen | None = None,
    config: BuildConfig | None = None,
    ids: SeenIds | None = None,
) -> Generator[RawRecord, None, None]:
    """Yield the project records of an input, lazily.

    ``on_open`` is called with the stream of a JSON Lines or CSV file once it is open (see
    :class:`InputMeter`); a flat input's cells are read with ``config``, the build's options, and the keys it
    hashes kept in ``ids``, the feed's Id store.

    Raises:
        InputError: For an input that cannot be read at all, or a profile that does not fit its header.
    """
    profile = profile or Profile()
    fmt = FORMATS[detect_format(spec, profile)]
    if fmt.shape == "nested":
        read = fmt.load()
        stream, name = open_input(spec.path or "-")
        if on_open is not None and fmt.metered:
            on_open(stream)
        try:
            yield from read(stream, name)
        except OSError as exc:  # a read that fails is the input's problem, whatever is being written
            issue = Issue("unreadable-input", f"cannot read the file: {exc.strerror or exc}", source=name)
            raise InputError([issue]) from None
        finally:
            _close(stream, name)
        return
    table = open_table(spec, profile, on_open=on_open)
    try:
        errors = [issue for issue in check_columns(profile, table.header, spec.name) if issue.severity == "error"]
        if errors:
            raise InputError(errors)
        yield from group_rows(table.rows, profile, table.header, config, ids)
    finally:
        table.close()


def _close(stream: IO[bytes], name: str) -> None:
    if name != STDIN_NAME:
        stream.close()


def _header_of(spec: InputSpec, profile: Profile) -> tuple[str, ...]:
    table = open_table(spec, profile)
    table.close()
    return table.header


def mapping_issues(spec: InputSpec, profile: Profile, schema: SystemSchema | None = None) -> list[Issue]:
    """Return what ``mapping check`` reports: the profile's problems against the input's header and, with the
    ``schema`` of the MiniCRM system, against what it holds (custom field names, constants and value maps)."""
    issues = check_columns(profile, _header_of(spec, profile), spec.name)
    if schema is not None:
        from xmlsync.system import profile_schema_issues

        issues += profile_schema_issues(schema, profile.columns, profile.constants, profile.values, profile.source)
    return issues


def mapping_template(
    spec: InputSpec, profile: Profile, *, sniff: bool = False, schema: SystemSchema | None = None
) -> str:
    """Return a commented profile for the input, as ``mapping init`` writes it.

    With ``sniff``, the delimiter of a CSV input is found from its first lines (``;``, ``,``, tab or ``|``);
    with ``schema``, the value maps and custom fields of that MiniCRM system (see
    :func:`~xmlsync.profiles.template.profile_template`).
    """
    from xmlsync.profiles.template import profile_template

    fmt = detect_format(spec, profile)
    if sniff and fmt == "csv" and spec.path not in (None, "-"):
        profile = replace(profile, delimiter=sniff_delimiter(Path(str(spec.path)), profile.encoding, profile.delimiter))
    table = open_table(spec, profile)
    try:
        sample = [row.values for row, _ in zip(table.rows, range(_SAMPLE_ROWS), strict=False) if not row.issues]
    finally:
        table.close()
    if fmt == "sql" and (spec.table is not None or spec.query is not None):  # the command line's choice, whole
        profile = replace(profile, table=spec.table, query=spec.query)
    return profile_template(table.header, fmt, profile, sample, schema)


_SAMPLE_ROWS = 200  # rows mapping init reads to find the number and date formats of a text input


def sniff_delimiter(path: Path, encoding: str, default: str) -> str:
    """Return the delimiter of a CSV file found from its first 64 KiB, or ``default`` if none stands out."""
    try:
        with open(path, "rb") as handle:
            sample = handle.read(65536).decode(encoding, errors="replace")
    except OSError:
        return default  # the reader says what is wrong, in its words
    lines = sample.splitlines()[:-1] if len(sample) == 65536 else sample.splitlines()
    lines = [line for line in lines[:50] if line.strip()]
    # The delimiter that splits every line into the same number of cells, the most of them: a "," inside
    # a column name ("Utca, házszám") does not outvote 24 ";".
    steady = {d: lines[0].count(d) for d in ";,\t|" if lines and len({line.count(d) for line in lines}) == 1}
    steady = {d: count for d, count in steady.items() if count}
    if steady:
        return max(steady, key=steady.__getitem__)
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t|").delimiter
    except csv.Error:
        return default
