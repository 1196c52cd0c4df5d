"""The stateless work of a build: a batch of records walked, rendered and checked, all but the Ids.

:func:`build_batch` runs in the worker processes of a build with several jobs (:mod:`xmlsync.pool`), and
in-process with one; what needs order (the Ids across the feed, the delta, writing) is the run's
(:mod:`xmlsync.pipeline`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from lxml import etree

from xmlsync.builder import OWN_TEXT, RENDERERS, project_text, render_xml
from xmlsync.config import BuildConfig
from xmlsync.errors import Issue
from xmlsync.readers import RawRecord
from xmlsync.rules import Checker, ProjectIds
from xmlsync.tree.fields import OFFER, ORDER, PROJECT
from xmlsync.tree.kinds import Problem
from xmlsync.tree.paths import ROOT_TAG
from xmlsync.validate import check_batch_content
from xmlsync.walk import counts, field_value, first_try, walk

if TYPE_CHECKING:
    from xmlsync.config import SystemSchema

Batch = list[tuple[RawRecord, int]]  # records with their (1-based) place in the feed


class Built(NamedTuple):
    """What became of one record in :func:`build_batch`: everything but the Id checks, which need order."""

    before: tuple[Issue, ...]  # reading and mapping problems, or the schema issues of the built project
    after: tuple[Issue, ...]  # rule issues (they come after those of the Ids)
    rendered: bytes | None  # the record as the output writes it (a <Project> of XML Sync), if it was built
    ids: ProjectIds | None
    offers: int = 0
    products: int = 0


_WORKER_RULES: dict[BuildConfig, Checker] = {}


def build_batch(batch: Batch, config: BuildConfig, output: str = "xml") -> list[Built]:
    """Walk, build, check (all but the Ids) and serialise a batch of records; it has no state.

    Each record takes the one walk (:func:`~xmlsync.walk.walk`) to its values and the text of its
    ``<Project>``. A record whose every value the kinds vouch for, and where no rule can fire, is valid by
    construction (the field table and the XSD agree, see ``tests/test_fields.py``). The others, few, are
    parsed together and checked like any feed (:func:`check_batch_content`: the XSD and the rules), so a
    build never writes what ``validate`` would refuse, and says where in the words ``validate`` uses.
    This runs in the worker processes of a build with several jobs, and in-process with one. ``output`` names
    the renderer of what is written (:data:`~xmlsync.builder.RENDERERS`); the checks are the same for all.
    """
    render = RENDERERS[output].render
    checker = _WORKER_RULES.get(config) or _WORKER_RULES.setdefault(config, Checker(config))
    outcomes: list[Built | list[Issue] | None] = []
    # place, index, source, XML text, rendered, Ids, counts
    suspects: list[tuple[int, int, str, str, bytes, ProjectIds, int, int]] = []
    screened: list[tuple[int, int, str, str]] = []  # place, index, source, text
    for raw, index in batch:
        if raw.issues:
            outcomes.append(None)
            continue
        read = first_try(raw.data, config, checker.good, checker.known)
        clean = read is not None  # else a value was odd: the full walk reads it, the tree check judges it
        if read is None:
            read, issues = walk(raw.data, source=raw.source, config=config)
            if read is None:
                outcomes.append(issues)
                continue
        # the XML text: what the feed writes, and what a record checked as a tree is checked in
        xml = render is render_xml or not clean or config.schema is not None
        text = project_text(read, pretty=config.pretty) if xml else ""
        documents = (field_value(read, PROJECT, node.tag) for node in (OFFER, ORDER))
        ids = ProjectIds(read[0], None, *(tuple((document[0], None) for document in found) for found in documents))
        try:
            rendered = text.encode() if render is render_xml else render(read, config)
        except Problem as refused:  # what this output cannot hold (an Orders record as Offer JSON...)
            outcomes.append([Issue(refused.code, refused.message, source=raw.source, record=f"Project {read[0]}")])
            continue
        if clean:
            outcomes.append(Built((), (), rendered, ids, *counts(read)))
            if config.schema is not None:  # valid by construction, but is it valid for this system?
                screened.append((len(outcomes) - 1, index, raw.source, text))
        else:
            suspects.append((len(outcomes), index, raw.source, text, rendered, ids, *counts(read)))
            outcomes.append([])
    if suspects:
        texts = "".join(suspect[3] for suspect in suspects)
        container = etree.fromstring(f"<{ROOT_TAG}>{texts}</{ROOT_TAG}>".encode(), OWN_TEXT)
        found = check_batch_content(
            container, indexes=[s[1] for s in suspects], rules=checker, sources=[s[2] for s in suspects]
        )
        if config.schema is not None:
            more = _system_issues(suspects, container, config.schema)
            found = [[*issues, *extra] for issues, extra in zip(found, more, strict=True)]
        for (at, _, _, _, rendered, ids, offers, products), content in zip(suspects, found, strict=True):
            outcomes[at] = Built((), _unlined(content), rendered, ids, offers, products)
    if screened and config.schema is not None:
        texts = "".join(clean[3] for clean in screened)
        container = etree.fromstring(f"<{ROOT_TAG}>{texts}</{ROOT_TAG}>".encode(), OWN_TEXT)
        for (at, *_), found_here in zip(screened, _system_issues(screened, container, config.schema), strict=True):
            built = outcomes[at]
            if found_here and isinstance(built, Built):
                outcomes[at] = built._replace(after=_unlined(found_here))
    results: list[Built] = []
    for (raw, _), outcome in zip(batch, outcomes, strict=True):
        if outcome is None:
            results.append(Built(raw.issues, (), None, None))
        elif isinstance(outcome, list):
            results.append(Built(tuple(outcome), (), None, None))
        else:
            results.append(outcome)
    return results


def _system_issues(
    built: Sequence[tuple[Any, ...]], container: etree._Element, schema: SystemSchema
) -> list[list[Issue]]:
    """Return, for each built record (place, index, source...) and its ``<Project>`` in ``container``, what the
    system of ``schema`` would refuse of it."""
    from xmlsync.system import project_schema_issues

    projects = container.iterchildren(etree.Element)
    return [
        list(project_schema_issues(project, record[1], schema, record[2]))
        for record, project in zip(built, projects, strict=True)
    ]


def _unlined(issues: list[Issue]) -> tuple[Issue, ...]:
    """Return the issues of a built project without lines: they are lines of the batch, not of a file."""
    return tuple(replace(issue, line=None) for issue in issues)
