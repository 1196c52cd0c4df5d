"""What every reader shares: the record type and opening a path or ``-`` (stdin)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from xmlsync.errors import InputError, Issue

if TYPE_CHECKING:
    from xmlsync.profiles import Profile

STDIN_NAME = "<stdin>"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One project record as read, before mapping.

    Args:
        data: The record, keyed like the XML tree (``None`` if it could not be read).
        source: Where it came from, e.g. ``offers.json:[3]``, ``offers.jsonl:4`` or ``erp.csv:2-5``.
        issues: Problems found while reading it; a record with issues is not built.
        rows: How many input rows it was made of.
    """

    data: Any
    source: str
    issues: tuple[Issue, ...] = ()
    rows: int = 1
    lines: tuple[tuple[int, int, str], ...] = ()  # (offer, product or 0, row) of a flat input's record, 1-based
    keys: tuple[tuple[str, str], ...] = ()  # ("Offer 298825675830811", "OF-2024/0017"): Ids made from ERP keys

    def explain(self, issue: Issue) -> Issue:
        """Return ``issue`` in the user's terms: the row at fault rather than the record's rows, ERP keys by Ids.

        ``Project 2962584582889106`` becomes ``Project P-01001 (Id 2962584582889106)``; an issue of the second
        product line of the first offer names that line's row (``erp.csv:3``), not ``erp.csv:2-5``, and so does
        a message naming another line (``also Product[1]`` becomes ``also erp.csv:2``). A project Id used again
        in a flat input is most often a project whose rows are apart: the message says to sort the export.
        """
        source, record, message = issue.source, issue.record, issue.message
        if self.lines and issue.path and (where := _RECORD_PATH.search(issue.path)) is not None:
            offer, product = int(where[1] or where[3]), int(where[2] or where[4] or 0)
            rows = dict(((o, p), row) for o, p, row in self.lines)
            source = rows.get((offer, product)) or rows.get((offer, 0)) or source
            message = _LINE.sub(lambda line: rows.get((offer, int(line[1])), line[0]), message)
        if self.lines and issue.code == "duplicate-project-id":
            message += "; if these are rows of one project, sort the export by project and offer key"
        if self.keys and record:
            for label, key in self.keys:
                record = re.sub(rf"\b{label}\b", f"{label.split()[0]} {key} (Id {label.split()[1]})", record)
        if (source, record, message) == (issue.source, issue.record, issue.message):
            return issue
        return replace(issue, source=source, record=record, message=message)


class Row(NamedTuple):
    """One flat input row: its cells in column order (text from CSV, typed values from XLSX and SQL).

    Args:
        cells: The row's values, one per column of ``header`` (a row with issues may have none).
        source: Where it is, e.g. ``erp.csv:12`` or ``offers:3`` (table and row number).
        issues: Problems that make the row unusable (e.g. a wrong number of values).
        header: The input's columns.
    """

    cells: Sequence[Any]
    source: str
    issues: tuple[Issue, ...] = ()
    header: tuple[str, ...] = ()

    @property
    def values(self) -> dict[str, Any]:
        """Return the row's values by column (columns without a name are left out)."""
        return {column: value for column, value in zip(self.header, self.cells, strict=False) if column}


@dataclass(frozen=True)
class Table:
    """A flat input opened for reading: its columns, its rows (lazy) and how to release it.

    The caller calls ``close()`` when done, also when it stops early or reads no row at all.
    """

    header: tuple[str, ...]
    rows: Iterator[Row]
    close: Callable[[], None]


def open_input(path: str | Path) -> tuple[IO[bytes], str]:
    """Open ``path`` (or ``-`` for stdin) for binary reading; return the stream and its display name.

    Raises:
        InputError: ``unreadable-input`` if the file cannot be opened.
    """
    if str(path) == "-":
        return sys.stdin.buffer, STDIN_NAME
    try:
        return open(path, "rb"), str(path)
    except OSError as exc:
        raise InputError(
            [Issue("unreadable-input", f"cannot open the file: {exc.strerror}", source=str(path))]
        ) from None


# An offer and product line in an XML path (Offers/Offer[1]/Products/Product[2]) or a record path
# (Offers[1].Products[2]).
_RECORD_PATH = re.compile(
    r"/Offers/Offer\[(\d+)\](?:/Products/Product\[(\d+)\])?|\bOffers\[(\d+)\](?:\.Products\[(\d+)\])?"
)
_LINE = re.compile(r"\bProduct\[(\d+)\]")  # another line of the same offer, named in a message
Numbered = Iterator[tuple[int, Sequence[Any]]]  # (1-based row or line number, the row's cells)
_LOOK = 30  # rows looked at to tell a title or caption row from the header


def blank(cells: Sequence[Any]) -> bool:
    """Return whether a row holds nothing but empty cells."""
    if cells and type(cells[0]) is str and cells[0].strip():
        return False  # the usual row: its first cell holds a text
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _named(cells: Sequence[Any]) -> int:
    return sum(1 for cell in cells if cell is not None and str(cell).strip())


def header_and_rows(
    rows: Numbered, profile: Profile, name: str, what: str = "file"
) -> tuple[int, Sequence[Any], Numbered]:
    """Find the header row of a spreadsheet-like input as the profile lays it out; return it and the data rows.

    ``[input] header_row`` is the (1-based) row of the column names: rows above it (a title, merged group
    captions) are passed over. ``skip_rows`` rows after it are passed over too (a row of units). The data
    ends at the sheet's end, at the first empty row (``data_ends = "empty-row"``), or before the first row
    whose first non-empty cell matches ``footer`` (``Összesen|Total``). Empty rows are passed over.

    Raises:
        InputError: ``empty-input`` when there is no such row, ``no-header`` when the row looks like a
            title rather than column names (the hint names the row that looks like the header).
    """
    seen: list[tuple[int, Sequence[Any]]] = []
    header: tuple[int, Sequence[Any]] | None = None
    for number, cells in rows:
        if number == profile.header_row:
            header = (number, cells)
            break
        seen.append((number, cells))
    if header is None:
        message = (
            f"the {what} is empty; it needs a header row"
            if not seen
            else f"the {what} ends at row {seen[-1][0]}, before its header row {profile.header_row}"
        )
        raise InputError([Issue("empty-input", message, source=name)])
    ahead = [header, *_take(rows, _LOOK)]
    number, cells = header
    width = max(_named(row) for _, row in ahead)
    if _named(cells) == 0 or (_named(cells) == 1 and width > 2):
        likely = next((n for n, row in ahead[1:] if _named(row) >= max(2, width // 2)), None)
        shown = next((str(cell).strip() for cell in cells if cell is not None and str(cell).strip()), "")
        what = f"holds only {shown!r}, a title" if shown else "is empty"
        hint = f"; the column names seem to be on row {likely}: set [input] header_row = {likely}" if likely else ""
        message = f"row {number} {what}, not the column names{hint} (or --header-row with mapping init)"
        raise InputError([Issue("no-header", message, source=f"{name}:{number}")])
    data = _chain(iter(ahead[1:]), rows)
    for _ in range(profile.skip_rows):
        next(data, None)
    return number, cells, _until_end(data, profile, name)


def _take(rows: Numbered, count: int) -> list[tuple[int, Sequence[Any]]]:
    taken: list[tuple[int, Sequence[Any]]] = []
    for row in rows:
        taken.append(row)
        if len(taken) == count:
            break
    return taken


def _chain(first: Iterator[tuple[int, Sequence[Any]]], rest: Numbered) -> Numbered:
    yield from first
    yield from rest


# The label of a totals row below the data, in the languages of MiniCRM's markets (the whole first cell).
_TOTALS = re.compile(
    r"(összesen|mindösszesen|végösszeg|total|totals|total general|totaluri|sum|summa|grand total)\s*:?", re.IGNORECASE
)


def _until_end(rows: Numbered, profile: Profile, name: str) -> Numbered:
    footer = re.compile(profile.footer) if profile.footer else None
    for number, cells in rows:
        if blank(cells):
            if profile.data_ends == "empty-row":
                return
            continue
        first = next((str(cell).strip() for cell in cells if cell is not None and str(cell).strip()), "")
        if footer is not None and footer.match(first):
            return
        if footer is None and _TOTALS.fullmatch(first) and 2 * _named(cells) <= len(cells):
            label = first.rstrip(": ")
            message = (
                f"row {number} looks like a totals row ({first!r}), not an offer line: set [input] footer ="
                f' "{label}" in the profile (or --footer with mapping init), so that the data ends before it'
            )
            raise InputError([Issue("totals-row", message, source=f"{name}:{number}")])
        yield number, cells
