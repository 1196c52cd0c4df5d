"""Errors as data: one issue type and one exception root.

Every problem xmlsync finds, in an input record, in a built tree or in an XML file, becomes an
:class:`Issue` with a stable ``code``. Exceptions carry the issues that caused them, so a caller can
print one line per problem or turn them into JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem, located as precisely as the step that found it can.

    Args:
        code: Stable kebab-case identifier, e.g. ``missing-element``.
        message: What is wrong and how to fix it, in one sentence.
        source: Where the data came from: a file name, ``file:row`` or ``<stdin>``.
        record: The record it belongs to, e.g. ``Project 99999 > Offer 12``.
        path: The XML path (``/Projects/Project[1]/Name``) or the input field, 1-based like XML paths
            (``Offers[1].Customer.Name``).
        line: Line in the XML file, when known.
        column: Column in the XML file, when known.
        severity: ``error`` or ``warning``.
    """

    code: str
    message: str
    source: str | None = None
    record: str | None = None
    path: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Severity = "error"

    def location(self) -> str:
        """Return ``source:line:column: path (record)``, leaving out what is unknown."""
        where = ":".join(str(part) for part in (self.source, self.line, self.column) if part is not None)
        parts = [p for p in (where, self.path) if p]
        text = ": ".join(parts)
        if self.record:
            text = f"{text} ({self.record})" if text else self.record
        return text

    def __str__(self) -> str:
        location = self.location()
        prefix = f"{location}: " if location else ""
        label = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{label}{self.message} [{self.code}]"

    def to_dict(self) -> dict[str, str | int | None]:
        """Return the issue as a JSON-ready mapping."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "source": self.source,
            "record": self.record,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }


class XmlSyncError(Exception):
    """Root of every error xmlsync raises on purpose."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class OptionsError(XmlSyncError, ValueError):
    """The options cannot work together (e.g. the output is the input); nothing was done."""


class InputError(XmlSyncError, ValueError):
    """The input could not be read or a record in it is malformed."""


class ValidationError(XmlSyncError, ValueError):
    """An XML tree or file does not satisfy the MiniCRM offer schema."""


class UnreadableError(XmlSyncError, OSError):
    """An input file could not be opened or read."""


class OutputError(XmlSyncError, OSError):
    """The output file could not be written."""
