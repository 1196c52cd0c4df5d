"""Deliver feeds to MiniCRM: upload them (``POST /Api/SyncFeed/{SystemId}/Upload``) or trigger a pull of a feed
published at a URL (``GET /Api/SyncFeed/{SystemId}?Source=...``). See docs/format-notes.md sections 1 and 7.

Every file is validated first, with the checks of ``validate``; an invalid file is never sent, and nothing is
sent unless all are valid. Credentials come from the environment (``MINICRM_SYSTEM_ID``, ``MINICRM_API_KEY``)
or a TOML file only its owner can read; they go in the ``Authorization`` header, never in a URL, a message
or the state file. HTTP 429, 5xx and timeouts are retried with bounded exponential backoff (``Retry-After``
honoured); 401, 403 and 404 are not. MiniCRM allows 180 XML sync requests an hour: requests are paced to that,
counted in a small state file shared by consecutive runs.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from xmlsync.config import DEFAULT_BASE_URL, BuildConfig
from xmlsync.errors import InputError, Issue, XmlSyncError
from xmlsync.safe import iter_compact_projects
from xmlsync.state import State, digest
from xmlsync.validate import check_files
from xmlsync.writer import parse_part_list

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HOURLY_LIMIT = 180  # XML sync requests per rolling hour and SystemId (Integrations Manual p.42)
_HOUR = 3600.0


class PushError(XmlSyncError):
    """A feed could not be delivered: refused by MiniCRM, or no answer after the retries."""


@dataclass(frozen=True)
class Credentials:
    """A MiniCRM system's id and API key; the key never appears in ``repr`` or a message."""

    system_id: str
    api_key: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Read ``MINICRM_SYSTEM_ID`` and ``MINICRM_API_KEY``.

        Raises:
            InputError: ``missing-credentials`` naming what is missing.
        """
        return cls._checked(env.get("MINICRM_SYSTEM_ID", ""), env.get("MINICRM_API_KEY", ""), "the environment")

    @classmethod
    def from_file(cls, path: str | Path) -> Credentials:
        """Read ``system_id`` and ``api_key`` from a TOML file that only its owner may read (mode 0600).

        Raises:
            InputError: ``credentials-file`` if others may read it, or it is not such a TOML file.
        """
        name = str(path)
        try:
            info = os.stat(path)
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid TOML"
            raise InputError([Issue("credentials-file", f"cannot read the credentials: {reason}", name)]) from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            mode = oct(stat.S_IMODE(info.st_mode))[2:]
            message = f"others may read this file (mode {mode}); chmod 600 it, as it holds an API key"
            raise InputError([Issue("credentials-file", message, name)])
        return cls._checked(str(data.get("system_id", "")), str(data.get("api_key", "")), name)

    @classmethod
    def _checked(cls, system_id: str, api_key: str, where: str) -> Credentials:
        missing = [label for label, value in (("system id", system_id), ("API key", api_key)) if not value.strip()]
        if missing:
            names = "MINICRM_SYSTEM_ID and MINICRM_API_KEY" if where == "the environment" else "system_id and api_key"
            message = f"no {' and no '.join(missing)} in {where}; set {names}"
            raise InputError([Issue("missing-credentials", message)])
        if not system_id.strip().isascii() or not system_id.strip().isdigit():
            raise InputError([Issue("missing-credentials", "the system id is not a number; see your MiniCRM URL")])
        return cls(system_id.strip(), api_key.strip())


@dataclass(frozen=True)
class PushConfig:
    """How feeds are delivered.

    Args:
        base_url: MiniCRM's address (the test system or a proxy are other values).
        timeout: Seconds to wait for an answer; MiniCRM answers once it has the whole feed (it gives up
            downloading after about 120 s).
        retries: Tries after the first for 429, 5xx and timeouts.
        max_wait: The longest wait between tries, in seconds (``Retry-After`` included).
        state: The state file (:mod:`xmlsync.state`): requests of the last hour, shared by runs, and the
            projects MiniCRM accepted, for delta feeds; ``None``: no pacing across runs, nothing confirmed.
        limit: Requests per rolling hour.
    """

    base_url: str = DEFAULT_BASE_URL
    timeout: float = 130.0
    retries: int = 5
    max_wait: float = 300.0
    state: Path | None = None
    limit: int = HOURLY_LIMIT


Mode = Literal["upload", "pull"]


@dataclass(frozen=True)
class Request:
    """One request to send: an upload of a file, or a pull of a URL."""

    mode: Mode
    target: str  # the file, or the Source URL

    def describe(self, system_id: str, base_url: str) -> str:
        """Return ``POST .../Upload offers-0001.xml (12,345 bytes)``: what is sent, without secrets."""
        base = f"{base_url.rstrip('/')}/Api/SyncFeed/{system_id}"
        if self.mode == "upload":
            return f"POST {base}/Upload {self.target} ({Path(self.target).stat().st_size:,} bytes)"
        return f"GET {base}?Source={quote(self.target, safe='')}"


class RateLimit:
    """The times of the requests of the last hour for one system: in the state file if there is one
    (shared by runs; it holds a hash of the system id, not the id), else in memory."""

    def __init__(self, state: State | None, system_id: str, limit: int, clock: Callable[[], float]) -> None:
        self._state = state
        self._key = hashlib.sha256(f"minicrm:{system_id}".encode()).hexdigest()[:16]
        self._limit = limit
        self._clock = clock
        self._times: list[float] = []

    def wait(self) -> float:
        """Return how long to wait before the next request may go (0 if it may go now)."""
        now = self._clock()
        times = self._state.request_times(self._key) if self._state is not None else self._times
        recent = sorted(t for t in times if now - t < _HOUR)
        return 0.0 if len(recent) < self._limit else recent[-self._limit] + _HOUR - now

    def record(self) -> None:
        """Count a request sent now."""
        now = self._clock()
        if self._state is not None:
            self._state.count_request(self._key, now, now - _HOUR)
        else:
            self._times = [t for t in self._times if now - t < _HOUR] + [now]


def _confirm(state: State, path: str) -> int:
    """Mark the projects of a file MiniCRM accepted as confirmed in the state; return how many."""

    pushed = iter_compact_projects(path, path)
    return state.confirm((ident, digest(xml)) for ident, _, xml in pushed if ident is not None)


@dataclass(frozen=True)
class Delivered:
    """A request MiniCRM accepted: what it was, how many tries it took and what MiniCRM answered."""

    request: Request
    tries: int
    answer: str


Event = Callable[[str], None]


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else f"{line[: limit - 3]}..."


def push(
    requests: Sequence[Request],
    credentials: Credentials,
    config: PushConfig | None = None,
    *,
    client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Event | None = None,
) -> list[Delivered]:
    """Send each request in order, pacing and retrying; stop at the first one MiniCRM refuses.

    ``client`` is an ``httpx.Client`` (made here when ``None``, with TLS verification on). ``on_event`` gets a
    line for each wait and retry. Validation of the files is the caller's (see :func:`push_files`).

    Raises:
        PushError: One issue naming the file or URL, MiniCRM's words or what went wrong, and the status.
        InputError: ``state-file``, for a state file xmlsync did not write.
        ValidationError: If an accepted file cannot be read again to confirm its projects.
    """
    import httpx

    config = config or PushConfig()
    say = on_event or (lambda line: None)
    state = State(config.state) if config.state is not None else None
    limit = RateLimit(state, credentials.system_id, config.limit, clock)
    own = client is None
    http = client or httpx.Client(timeout=config.timeout, verify=True, follow_redirects=False)
    base = f"{config.base_url.rstrip('/')}/Api/SyncFeed/{credentials.system_id}"
    delivered: list[Delivered] = []
    try:
        for position, request in enumerate(requests, start=1):
            tries = 0
            while True:
                pause = limit.wait()
                if pause > 0:
                    left = len(requests) - position
                    finish = pause + (left // config.limit) * _HOUR  # then at most `limit` go each hour
                    say(f"waiting {pause:,.0f} s for MiniCRM's limit of {config.limit} requests an hour"
                        f" ({left:,} more after this one; the last goes out in about {_duration(finish)})")  # fmt: skip
                    sleep(pause)
                tries += 1
                limit.record()
                try:
                    if request.mode == "upload":
                        try:
                            body = Path(request.target).read_bytes()
                        except OSError as exc:
                            message = f"cannot read the file: {exc.strerror}; it was not sent"
                            raise PushError([Issue("push-refused", message, source=request.target)]) from None
                        response = http.post(
                            f"{base}/Upload",
                            content=body,
                            headers={"Content-Type": "application/xml"},
                            auth=(credentials.system_id, credentials.api_key),
                        )
                    else:
                        response = http.get(
                            base, params={"Source": request.target}, auth=(credentials.system_id, credentials.api_key)
                        )
                except httpx.TimeoutException:
                    status, answer, retry_after = None, f"no answer within {config.timeout:g} s", None
                except httpx.HTTPError as exc:
                    status, answer, retry_after = None, f"the request failed: {_one_line(str(exc))}", None
                else:
                    status, answer = response.status_code, _one_line(response.text)
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                    if status == 200:
                        if state is not None and request.mode == "upload":
                            _confirm(state, request.target)
                        delivered.append(Delivered(request, tries, answer))
                        break
                retryable = status is None or status == 429 or status >= 500
                if not retryable or tries > config.retries:
                    raise PushError([_refusal(request, status, answer, tries)])
                wait = min(config.max_wait, retry_after if retry_after is not None else 2.0 ** (tries - 1))
                say(f"{request.target}: {answer} ({status or 'no status'}); trying again in {wait:g} s")
                sleep(wait)
    finally:
        if own:
            http.close()
        if state is not None:
            state.close()
    return delivered


def _refusal(request: Request, status: int | None, answer: str, tries: int) -> Issue:
    if status in (401, 403, 404):
        hint = (
            "check MINICRM_SYSTEM_ID and MINICRM_API_KEY (or the credentials file), and that the plan has the"
            " REST API + XML sync add-on"
        )
        message = f"MiniCRM refused the request ({status}: {answer or 'no text'}); {hint}"
    elif status is None:
        message = f"{answer}; gave up after {tries} tries"
    elif status == 429 or status >= 500:
        message = f"MiniCRM answered {status}: {answer or 'no text'}; gave up after {tries} tries"
    else:
        message = f"MiniCRM refused the feed ({status}): {answer or 'no text'}"
    return Issue("push-refused", message, source=request.target)


def requests_for(files: Sequence[str | Path], source_urls: Sequence[str]) -> list[Request]:
    """Return the requests for files to upload (a part list ``offers.parts.json`` gives its parts, in order)
    and URLs to pull.

    Raises:
        InputError: For a part list that xmlsync did not write.
    """
    requests: list[Request] = []
    for name in files:
        path = Path(name)
        if path.name.endswith(".parts.json"):
            try:
                parts = parse_part_list(path.read_bytes())
            except OSError as exc:
                raise InputError(
                    [Issue("unreadable-input", f"cannot read the file: {exc.strerror}", str(path))]
                ) from None
            if parts is None:
                raise InputError([Issue("foreign-file", "not a part list xmlsync wrote", str(path))])
            requests.extend(Request("upload", str(path.parent / part)) for part in parts)
        else:
            requests.append(Request("upload", str(path)))
    requests.extend(Request("pull", url) for url in source_urls)
    return requests


def check_uploads(requests: Sequence[Request], rules: BuildConfig | None = None) -> list[Issue]:
    """Return the errors of the files to upload, with the checks of ``validate``: none means all may go."""
    files = [request.target for request in requests if request.mode == "upload"]
    return [issue for report in check_files(files, rules=rules) for issue in report.issues if issue.severity == "error"]
