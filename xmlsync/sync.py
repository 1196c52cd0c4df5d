"""The nightly job as one call: a delta build from the ERP, the checks of ``validate``, the push, and the
confirmation, under one lock on the state file.

Each night gets a folder of its own under ``nights`` (``night-000012``...) holding its feed (or parts), its
rejects and ``review.txt``: what this night changes in MiniCRM, by Project Name and ERP key. The last
``keep_nights`` folders are kept; older ones are removed, and only folders that a sync made (they hold the
marker file ``.xmlsync-night``) are ever removed. A night with nothing to send sends nothing. A night whose
push fails leaves its changes unconfirmed, so the next night sends them again; what MiniCRM accepted before
the failure stays confirmed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xmlsync.config import BuildConfig
from xmlsync.errors import InputError, Issue, OptionsError, XmlSyncError
from xmlsync.pipeline import BuildResult, Change, OnInvalid, Split, build_file
from xmlsync.profiles import Profile
from xmlsync.push import Credentials, Delivered, Event, PushConfig, check_base_url, check_uploads, push, requests_for
from xmlsync.readers.inputs import InputSpec
from xmlsync.state import State, Target
from xmlsync.tree.records import Project
from xmlsync.writer import atomic_output

MARKER = ".xmlsync-night"
_NIGHT = re.compile(r"night-([0-9]{6,})")
SHOWN = 10  # changes named in the summary; review.txt names them all


@dataclass(frozen=True)
class SyncConfig:
    """How a sync runs.

    Args:
        state: The state file; held for the whole sync.
        nights: The folder of the nights' folders (default: beside the state file, ``<its name>.nights``).
        keep_nights: How many nights' folders to keep, this one included.
        push: Where and how to send (base URL, timeout, retries, hourly limit).
        on_invalid: ``"skip"`` (the default): a record that is not valid is set aside in the night's
            rejects file and listed, and the others go; ``"fail"``: nothing goes.
        split: Write the night's feed in parts (for big first nights).
        full: Send every project, not only what changed.
        dry_run: Build, check and review, send nothing, and leave the state as it was.
        lock_wait: How long to wait, in seconds, for another run holding the state file.
    """

    state: Path
    nights: Path | None = None
    keep_nights: int = 14
    push: PushConfig = field(default_factory=PushConfig)
    on_invalid: OnInvalid = "skip"
    split: Split | None = None
    full: bool = False
    dry_run: bool = False
    lock_wait: float = 10.0

    def nights_folder(self) -> Path:
        """Return where the nights' folders go."""
        return self.nights if self.nights is not None else self.state.with_name(f"{self.state.name}.nights")


@dataclass(frozen=True)
class SyncResult:
    """What a night did.

    ``changes`` holds the first :data:`SHOWN` new and changed projects (``review`` names them all);
    ``refused`` is the push's problem when MiniCRM did not accept everything: those changes wait.
    """

    build: BuildResult
    night: Path
    review: Path
    files: tuple[str, ...]
    changes: tuple[Change, ...]
    sent: tuple[Delivered, ...] = ()
    refused: tuple[Issue, ...] = ()
    dry_run: bool = False
    skipped: tuple[Issue, ...] = ()  # the first error of each record set aside (the first 100)

    @property
    def waiting(self) -> int:
        """How many files of the night MiniCRM has not accepted: their projects go again the next night."""
        return 0 if self.dry_run else len(self.files) - len(self.sent)

    def summary(self) -> str:
        """Return one line: the counts, what was sent, and what waits."""
        new, changed, unchanged = self.build.delta or (0, 0, 0)
        counts = (
            f"{new:,} new, {changed:,} changed, {unchanged:,} unchanged, {len(self.build.gone):,} gone,"
            f" {self.build.skipped:,} skipped"
        )
        if not self.files:
            return f"{counts}; nothing to send"
        feed = f"{len(self.files)} file{'' if len(self.files) == 1 else 's'}"
        projects = f"{self.build.projects:,} project{'' if self.build.projects == 1 else 's'}"
        if self.dry_run:
            return f"{counts}; would send {projects} in {feed} (dry run: nothing sent)"
        if self.refused:
            accepted = len(self.sent)
            return f"{counts}; MiniCRM accepted {accepted} of {feed}: the rest waits for the next sync"
        return f"{counts}; sent {projects} in {feed}, accepted by MiniCRM"


def _night_folder(nights: Path) -> Path:
    """Make the next night's folder: numbered after the highest one there (clocks play no part)."""
    try:
        nights.mkdir(parents=True, exist_ok=True)
        numbers = [int(m[1]) for entry in os.scandir(nights) if (m := _NIGHT.fullmatch(entry.name))]
        night = nights / f"night-{max(numbers, default=0) + 1:06d}"
        night.mkdir()
        (night / MARKER).write_bytes(b"")
    except OSError as exc:
        message = f"cannot make the night's folder: {exc.strerror or exc}; give --nights DIR in a writable place"
        raise OptionsError([Issue("nights-folder", message, source=str(nights))]) from None
    return night


def _forget_old_nights(nights: Path, keep: int) -> None:
    """Remove the nights' folders past the last ``keep``; only folders a sync made (with the marker)."""
    found = sorted(
        (int(m[1]), Path(entry.path))
        for entry in os.scandir(nights)
        if (m := _NIGHT.fullmatch(entry.name)) and entry.is_dir(follow_symlinks=False)
    )
    for _, folder in found[: max(0, len(found) - keep)]:
        if (folder / MARKER).is_file():
            shutil.rmtree(folder, ignore_errors=True)


def sync(
    source: str | Path | InputSpec | Iterable[Mapping[str, Any] | Project],
    credentials: Credentials,
    config: SyncConfig,
    build_config: BuildConfig | None = None,
    profile: Profile | None = None,
    *,
    on_event: Event | None = None,
    on_delivered: Callable[[Delivered], None] | None = None,
    **timing: Any,
) -> SyncResult:
    """Run one night: build the delta of ``source`` into a new night's folder, check it, push it, confirm it.

    ``timing`` passes ``clock`` and ``sleep`` to :func:`xmlsync.push.push` (for tests).

    Raises:
        OptionsError: A base URL credentials may not go to, or options that cannot work together.
        InputError: The input cannot be read, or (``on_invalid="fail"``) a record is invalid: nothing was sent.
        StateError: The state file is busy, damaged or cannot be written.
    """
    if config.keep_nights < 1:
        raise OptionsError([Issue("keep-nights", "keep at least one night: the one that runs")])
    base_url = check_base_url(config.push.base_url)
    target = Target(credentials.system_id, base_url)
    with State(config.state, lock_wait=config.lock_wait) as state:
        nights = config.nights_folder()
        night = _night_folder(nights)
        output = night / "offers.xml"
        review = night / "review.txt"
        changes: list[Change] = []
        with atomic_output(review) as out:

            def note(change: Change) -> None:
                out.write(f"{change.verdict:<8} {change.label()}\n".encode())
                if len(changes) < SHOWN:
                    changes.append(change)

            built = build_file(
                source,
                output,
                build_config,
                profile,
                on_invalid=config.on_invalid,
                rejects=night / "offers.rejects.jsonl" if config.on_invalid == "skip" else None,
                split=config.split,
                state=state,
                target=target,
                full=config.full,
                on_change=note,
                record=not config.dry_run,
            )
            for project, name in zip(built.gone, built.gone_names, strict=True):
                out.write(f"gone     {name or '(no name)'} (Project {project})\n".encode())
        files = tuple(built.parts) if built.parts else (str(output),)
        if built.projects == 0:
            files = ()
        skipped = _skipped(Path(built.rejects)) if built.rejects and built.skipped else ()
        result = SyncResult(built, night, review, files, tuple(changes), dry_run=config.dry_run, skipped=skipped)
        _forget_old_nights(nights, config.keep_nights)
        if not files or config.dry_run:
            return result
        requests = requests_for([night / "offers.parts.json"] if built.parts else [output], [])
        errors = [issue for issue in check_uploads(requests, build_config) if issue.severity == "error"]
        if errors:  # what validate (or the system's schema) refuses of what build wrote: nothing goes
            raise InputError(errors)
        sent: list[Delivered] = []

        def delivered(item: Delivered) -> None:
            sent.append(item)
            if on_delivered is not None:
                on_delivered(item)

        try:
            push(requests, credentials, config.push, on_event=on_event, on_delivered=delivered, state=state, **timing)
        except XmlSyncError as exc:
            return replace(result, sent=tuple(sent), refused=exc.issues)
        return replace(result, sent=tuple(sent))


def _skipped(rejects: Path, most: int = 100) -> tuple[Issue, ...]:
    """Return the first error of each of the first ``most`` records in a rejects file this sync wrote."""
    found: list[Issue] = []
    with rejects.open("rb") as lines:
        for line in lines:
            if len(found) >= most:
                break
            try:
                first = json.loads(line)["errors"][0]
                found.append(Issue(**{key: first.get(key) for key in _ISSUE_KEYS}))
            except (ValueError, KeyError, IndexError, TypeError):
                continue
    return tuple(found)


_ISSUE_KEYS = ("code", "message", "source", "record", "path", "line", "column", "severity")
