"""Self-contained HTML reports for people: ``validate --format html`` and ``diff --format html``.

One page, one file: its style is inline, it loads nothing (a Content-Security-Policy of ``default-src 'none'``
says so to the browser) and runs no script, so it opens offline, from a CI artifact or a mail. Every text
comes from the feeds and is escaped by lxml, never pasted into markup. A validation report lists each file's
issues, each linked to its line, shown with the lines around it; a comparison shows the cards added, changed
(field by field, old and new side by side) and gone, by Name and Id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from lxml import etree
from lxml.builder import E  # type: ignore[import-not-found]  # lxml-stubs leave the builder out

from xmlsync.errors import Issue
from xmlsync.feeds import open_feed
from xmlsync.validate import FileReport, summary, verdict

if TYPE_CHECKING:
    from xmlsync.diff import FeedDiff

SHOWN_ISSUES = 2_000  # per file; the verdict counts them all
SHOWN_CHANGES = 5_000  # projects of a comparison
_CONTEXT = 2  # lines shown before and after an issue's line
_LINE_CHARS = 400  # of a shown line

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1d1d1f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; }
th, td { border: 1px solid #d0d0d7; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f3f3f6; }
.error { color: #b00020; font-weight: 600; } .warning { color: #8a5a00; font-weight: 600; }
.valid { color: #1b7f3b; font-weight: 600; }
.added { background: #e8f6ec; } .gone { background: #fdecec; } .changed { background: #fff8e6; }
.old { background: #fdecec; } .new { background: #e8f6ec; }
pre { background: #f7f7f9; padding: .5em; overflow-x: auto; margin: 0; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
.at { background: #fff2b3; display: block; }
"""


def _document(title: str, body: Iterable[etree._Element]) -> str:
    head = E.head(
        E.meta(charset="utf-8"),
        E.meta({"http-equiv": "Content-Security-Policy", "content": "default-src 'none'; style-src 'unsafe-inline'"}),
        E.meta(name="viewport", content="width=device-width"),
        E.title(title),
        E.style(_STYLE),
    )
    page = E.html(head, E.body(E.h1(title), *body), lang="en")
    return "<!DOCTYPE html>\n" + etree.tostring(page, encoding="unicode", method="html") + "\n"


def _source_lines(name: str, wanted: set[int]) -> dict[int, str]:
    """Return the lines of a file around the wanted ones (read again, bounded); none for stdin."""
    if name == "<stdin>" or not wanted:
        return {}
    shown = {n for line in wanted for n in range(max(1, line - _CONTEXT), line + _CONTEXT + 1)}
    last = max(shown)
    found: dict[int, str] = {}
    try:
        with open_feed(name) as handle:
            for number, raw in enumerate(islice(_bounded_lines(handle), last), start=1):
                if number in shown:
                    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    found[number] = text[:_LINE_CHARS] + ("..." if len(text) > _LINE_CHARS else "")
    except (OSError, EOFError):  # gone or changed since it was checked: the report stands without it
        return {}
    return found


class _Readable(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def _bounded_lines(handle: _Readable) -> Iterator[bytes]:
    """Yield the lines of a file, each cut to its first bytes: a compact feed is one line of hundreds of MB."""
    keep = _LINE_CHARS * 4
    while True:
        line = handle.readline(keep)
        if not line:
            return
        rest = line
        while rest and not rest.endswith(b"\n"):  # the rest of a long line, read and dropped in pieces
            rest = handle.readline(1 << 16)
        yield line


def _anchor(file_number: int, line: int) -> str:
    return f"f{file_number}-L{line}"


def _issue_row(issue: Issue, file_number: int, listed: dict[int, str]) -> Any:
    where = (
        E.a(str(issue.line), href=f"#{_anchor(file_number, issue.line)}")
        if issue.line is not None and issue.line in listed
        else str(issue.line or "")
    )
    return E.tr(
        E.td(issue.severity, {"class": issue.severity}),
        E.td(E.code(issue.code)),
        E.td(where),
        E.td(E.code(issue.path or "")),
        E.td(issue.record or ""),
        E.td(issue.message),
    )


def validate_page(reports: Sequence[FileReport]) -> str:
    """Return the HTML page of a validation: per file its verdict and issues, each linked to its line."""

    body: list[etree._Element] = [E.p(summary(reports))]
    for number, report in enumerate(reports, start=1):
        issues = report.issues[:SHOWN_ISSUES]
        listed = _source_lines(report.name, {issue.line for issue in issues if issue.line is not None})
        state = "valid" if report.valid else "error"
        body.append(E.h2(E.code(report.name), ": ", E.span(verdict(report), {"class": state})))
        if not issues:
            continue
        head = E.tr(*(E.th(label) for label in ("severity", "code", "line", "XML path", "record", "what is wrong")))
        body.append(E.table(E.thead(head), E.tbody(*(_issue_row(issue, number, listed) for issue in issues))))
        if len(report.issues) > SHOWN_ISSUES:
            body.append(E.p(f"... and {len(report.issues) - SHOWN_ISSUES:,} more issues (see --format json)"))
        if listed:
            at = {issue.line for issue in issues}
            lines = [
                E.span(f"{line:>6}  {text}\n", {"id": _anchor(number, line), "class": "at" if line in at else ""})
                for line, text in sorted(listed.items())
            ]
            body += [E.h2("The lines of ", E.code(report.name)), E.pre(*lines)]
    return _document("xmlsync validate", body)


def diff_page(result: FeedDiff) -> str:
    """Return the HTML page of a comparison: the cards added, changed (old and new side by side) and gone."""
    rows: list[etree._Element] = []
    shown = 0
    for entry in result:
        if shown >= SHOWN_CHANGES:
            continue  # counted all the same
        shown += 1
        label = f"{entry.name or '(no name)'} (Project {entry.id})"
        if entry.kind == "changed":
            rows.append(E.tr(E.th(label, colspan="3"), {"class": "changed"}))
            rows.extend(
                E.tr(E.td(E.code(change.path)), E.td(change.old or "", {"class": "old"}),
                     E.td(change.new or "", {"class": "new"}))
                for change in entry.changes
            )  # fmt: skip
        else:
            what, style = {
                "added": ("added", "added"),
                "removed": ("gone", "gone"),
                "repeated": ("its Id is used twice in one feed; not compared", "changed"),
            }[entry.kind]
            rows.append(E.tr(E.th(label), E.td(what, colspan="2"), {"class": style}))
    counts = result.counts
    body: list[etree._Element] = [
        E.p(
            E.code(result.old_name),
            " -> ",
            E.code(result.new_name),
            ": "
            f"{counts['added']:,} added, {counts['changed']:,} changed, {counts['removed']:,} gone;"
            f" {counts['same']:,} the same",
        ),
    ]
    if rows:
        head = E.tr(E.th("card / field"), E.th("old"), E.th("new"))
        body.append(E.table(E.thead(head), E.tbody(*rows)))
    if shown >= SHOWN_CHANGES:
        body.append(E.p(f"Only the first {SHOWN_CHANGES:,} cards are shown; --format json lists them all."))
    return _document("xmlsync diff", body)
