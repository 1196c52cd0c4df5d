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

import contextlib
import functools
import hashlib
import io
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from xmlsync.config import DEFAULT_BASE_URL, BuildConfig
from xmlsync.errors import InputError, Issue, OptionsError, XmlSyncError
from xmlsync.feeds import iter_compact_projects
from xmlsync.state import State, Target, digest
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
        values = {key: data.get(key, "") for key in ("system_id", "api_key")}
        wrong = [key for key, value in values.items() if not isinstance(value, str | int) or isinstance(value, bool)]
        if wrong or isinstance(values["api_key"], int):
            key = (wrong or ["api_key"])[0]
            message = f'{key} is a {type(values[key]).__name__}; write it as one quoted text, e.g. {key} = "..."'
            raise InputError([Issue("credentials-file", message, name)])
        return cls._checked(str(values["system_id"]), str(values["api_key"]), name)

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
    sha256: str | None = None  # what the part list says the file holds; a part changed since is not sent

    def describe(self, system_id: str, base_url: str) -> str:
        """Return ``POST .../Upload offers-0001.xml (12,345 bytes)``: what is sent, without secrets."""
        base = f"{base_url.rstrip('/')}/Api/SyncFeed/{system_id}"
        if self.mode == "upload":
            return f"POST {base}/Upload {self.target} ({Path(self.target).stat().st_size:,} bytes)"
        return f"GET {base}?Source={quote(self.target, safe='')}"


class RateLimit:
    """The times of the requests of the last ``window`` seconds for one system and API (XML Sync: 180 an hour;
    the REST API: 60 a minute): in the state file if there is one (shared by runs; it holds a hash of the
    system id, not the id), else in memory."""

    def __init__(
        self,
        state: State | None,
        system_id: str,
        limit: int,
        clock: Callable[[], float],
        *,
        window: float = _HOUR,
        api: str = "minicrm",
    ) -> None:
        self._state = state
        self._key = hashlib.sha256(f"{api}:{system_id}".encode()).hexdigest()[:16]
        self._limit = limit
        self._window = window
        self._clock = clock
        self._times: list[float] = []

    def wait(self) -> float:
        """Return how long to wait before the next request may go (0 if it may go now)."""
        now = self._clock()
        times = self._state.request_times(self._key, now) if self._state is not None else self._times
        recent = sorted(t for t in times if now - t < self._window)
        return 0.0 if len(recent) < self._limit else recent[-self._limit] + self._window - now

    def record(self) -> None:
        """Count a request sent now."""
        now = self._clock()
        if self._state is not None:
            self._state.count_request(self._key, now, now - self._window)
        else:
            self._times = [t for t in self._times if now - t < self._window] + [now]


@dataclass(frozen=True)
class Upload:
    """How much of a file push has sent: reported to ``on_progress`` as the bytes go, and once at the end."""

    target: str
    sent: int
    size: int
    elapsed: float
    done: bool = False


class _Sent:
    """An upload's bytes, read from one open file (a build that replaces the file meanwhile gives it a new
    inode, so these bytes stay the ones sent), in chunks, with their SHA-256 and size.

    Every read names its offset (``os.pread``): a request cut off at its deadline may still be reading in
    its thread while the retry reads from the start, and neither moves the other's place.
    """

    _CHUNK = 1 << 16

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            self.size = os.fstat(self._fd).st_size
        except OSError as exc:
            message = f"cannot read the file: {exc.strerror}; it was not sent"
            raise PushError([Issue("push-refused", message, source=path)]) from None
        self.sha256 = self._sum()

    def _read(self) -> Iterator[bytes]:
        offset = 0
        while chunk := os.pread(self._fd, self._CHUNK, offset):
            offset += len(chunk)
            yield chunk

    def _sum(self) -> str:
        digest_ = hashlib.sha256()
        for chunk in self._read():
            digest_.update(chunk)
        return digest_.hexdigest()

    def chunks(self, progress: Callable[[Upload], None] | None = None) -> Iterator[bytes]:
        """Yield the bytes to send; they are checked against :attr:`sha256` as they go."""
        digest_ = hashlib.sha256()
        started, sent = time.monotonic(), 0
        for chunk in self._read():
            digest_.update(chunk)
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(Upload(self.path, sent, self.size, time.monotonic() - started, done=sent >= self.size))
        if digest_.hexdigest() != self.sha256:
            raise OSError(f"{self.path} changed while it was being sent")

    def confirm(self, state: State, target: Target) -> int:
        """Mark the projects of these bytes as confirmed by ``target``; return how many."""
        if self._sum() != self.sha256:  # never confirm what was not sent
            return 0
        pushed = iter_compact_projects(io.BufferedReader(_Reader(self._read()), self._CHUNK), self.path)
        return state.confirm(target.key, ((ident, digest(xml)) for ident, _, xml in pushed if ident is not None))

    def close(self) -> None:
        os.close(self._fd)


class _Reader(io.RawIOBase):
    """A binary stream over chunks (the parser's reads take what they ask for, in order)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._left:
            self._left = next(self._chunks, b"")
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


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


_ANSWER_BYTES = 1 << 20  # MiniCRM answers a few bytes of JSON; more than this is not its answer
_LOOPBACK = ("localhost", "127.", "::1", "[::1]")


def check_base_url(base_url: str) -> str:
    """Return MiniCRM's address without a final ``/``, if it is one credentials may be sent to.

    Raises:
        OptionsError: ``base-url``: not an ``https://`` URL with a host (plain ``http://`` is allowed to
            loopback only, as it would carry the API key in clear), or a URL with a query, a fragment or
            credentials in it.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(base_url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as exc:
        message = f"{base_url!r} is not a URL ({exc}); give e.g. {DEFAULT_BASE_URL}"
        raise OptionsError([Issue("base-url", message)]) from None
    if parts.scheme not in ("https", "http") or not host:
        message = f"{base_url!r} is not an https:// URL with a host; give e.g. {DEFAULT_BASE_URL}"
        raise OptionsError([Issue("base-url", message)])
    if parts.username is not None or parts.query or parts.fragment:
        message = f"{base_url!r} holds credentials, a query or a fragment; give the address alone"
        raise OptionsError([Issue("base-url", message)])
    if parts.scheme == "http" and not host.startswith(_LOOPBACK):
        message = (
            f"{base_url!r} is plain HTTP: the API key would cross the network in clear; use https://"
            " (plain http:// is only for a stand-in on loopback)"
        )
        raise OptionsError([Issue("base-url", message)])
    return base_url.strip().rstrip("/")


def open_client(timeout: float) -> Any:
    """Return an ``httpx.Client`` set up from the environment (proxies, CA files), or a clear error."""
    import httpx

    try:
        return httpx.Client(timeout=timeout, verify=True, follow_redirects=False)
    except (ValueError, OSError, httpx.HTTPError, httpx.InvalidURL, ImportError) as exc:
        message = (
            f"cannot set up the connection: {_one_line(str(exc)) or type(exc).__name__}; check HTTPS_PROXY,"
            " ALL_PROXY, NO_PROXY, SSL_CERT_FILE and SSL_CERT_DIR in the environment"
        )
        raise PushError([Issue("push-setup", message)]) from None


@dataclass(frozen=True)
class Answer:
    """What a MiniCRM endpoint answered: the status (``None``: no answer), its text in one line for messages,
    ``Retry-After``, and the JSON object of a 200 (``None`` when a 200 is not one: not MiniCRM's answer)."""

    status: int | None
    text: str
    retry_after: float | None = None
    data: dict[str, Any] | None = None
    reached: bool = True  # whether the request may have reached the server (False: no connection was made)

    @property
    def minicrm(self) -> bool:
        """Return whether this is MiniCRM's answer: a 200 whose body is a JSON object."""
        return self.status == 200 and self.data is not None


def exchange(
    http: Any,
    method: str,
    url: str,
    *,
    auth: tuple[str, str],
    timeout: float,
    own: bool,
    params: dict[str, str] | None = None,
    content: Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """Send one request and read its answer, all within ``timeout`` seconds (a deadline, not a per-read
    limit: a server that trickles its answer is cut off), reading at most 1 MiB of the answer. ``own``: the
    client is this module's, so it may be closed to cut a request stuck at its deadline."""
    import concurrent.futures
    import json

    import httpx

    def call() -> Answer:
        opened = http.stream(method, url, params=params, content=content, headers=headers, auth=auth)
        with opened as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _ANSWER_BYTES:
                    return Answer(response.status_code, f"an answer of over {_ANSWER_BYTES:,} bytes, not MiniCRM's")
            text = body.decode("utf-8", errors="replace")
            data = None
            if response.status_code == 200:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(text)
                    data = parsed if isinstance(parsed, dict) else None  # MiniCRM answers a JSON object
                if data is None:
                    kind = response.headers.get("Content-Type", "no Content-Type")
                    text = f"{kind}: {text}"
            retry_after = _retry_after(response.headers.get("Retry-After"))
            return Answer(response.status_code, _one_line(text), retry_after, data)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        if own:
            http.close()  # cuts the connection the request is stuck on
        return Answer(None, f"no answer within {timeout:g} s")
    except httpx.ConnectTimeout:
        return Answer(None, f"no connection within {timeout:g} s", reached=False)
    except httpx.TimeoutException:
        return Answer(None, f"no answer within {timeout:g} s")
    except httpx.ConnectError as exc:  # before a byte of the request went
        return Answer(None, f"the request failed: {_one_line(str(exc)) or type(exc).__name__}", reached=False)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, RuntimeError) as exc:
        return Answer(None, f"the request failed: {_one_line(str(exc)) or type(exc).__name__}")
    finally:
        pool.shutdown(wait=False)


def _retried(answer: Answer) -> bool:
    """Whether a feed is sent again: no answer, 429, or 5xx (a feed sent twice is imported twice, harmlessly)."""
    return answer.status is None or answer.status == 429 or answer.status >= 500


class Connection:
    """One run's way to MiniCRM: its client (made on first use, unless the caller gives one), the pacing of
    ``limit``, and the retries, with bounded exponential backoff (``Retry-After`` honoured), of what ``retry``
    says may go again. Shared by ``push`` and ``offer send``."""

    def __init__(
        self,
        credentials: Credentials,
        limit: RateLimit,
        timeout: float,
        retries: int,
        max_wait: float,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        say: Event | None = None,
    ) -> None:
        self._auth = (credentials.system_id, credentials.api_key)
        self._limit = limit
        self._timeout = timeout
        self._retries = retries
        self._max_wait = max_wait
        self._client = client
        self._http = client
        self._sleep = sleep
        self._say = say or (lambda line: None)

    def send(
        self,
        method: str,
        url: str,
        *,
        label: str,
        waiting: Callable[[float], str],
        retry: Callable[[Answer], bool],
        content: Callable[[], Iterator[bytes]] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[Answer, int]:
        """Send one request until MiniCRM accepts it, ``retry`` says no, or the tries are spent; return the last
        answer and the tries. ``content`` makes the body afresh for each try; ``waiting`` words a pause for the
        limit, ``label`` names the request in the line of a retry."""
        tries = 0
        while True:
            pause = self._limit.wait()
            if pause > 0:
                self._say(waiting(pause))
                self._sleep(pause)
            tries += 1
            self._limit.record()
            if self._http is None:
                self._http = open_client(self._timeout)
            answer = exchange(
                self._http, method, url, auth=self._auth, timeout=self._timeout, own=self._client is None,
                params=params, content=content() if content is not None else None, headers=headers,
            )  # fmt: skip
            if answer.status is None and self._client is None:
                self._http.close()
                self._http = None  # a connection cut at the deadline is not used again
            if answer.minicrm or not retry(answer) or tries > self._retries:
                return answer, tries
            wait = min(self._max_wait, answer.retry_after if answer.retry_after is not None else 2.0 ** (tries - 1))
            self._say(f"{label}: {answer.text} ({answer.status or 'no status'}); trying again in {wait:g} s")
            self._sleep(wait)

    def close(self) -> None:
        """Close the client this connection made (one the caller gave stays open)."""
        if self._client is None and self._http is not None:
            self._http.close()
        self._http = None


def push(
    requests: Sequence[Request],
    credentials: Credentials,
    config: PushConfig | None = None,
    *,
    client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Event | None = None,
    on_delivered: Callable[[Delivered], None] | None = None,
    state: State | None = None,
    on_progress: Callable[[Upload], None] | None = None,
) -> list[Delivered]:
    """Send each request in order, pacing and retrying; stop at the first one MiniCRM refuses.

    ``client`` is an ``httpx.Client`` (made here when ``None``, with TLS verification on). ``on_event`` gets a
    line for each wait and retry; ``on_delivered`` each request as soon as MiniCRM accepted it. Validation of
    the files is the caller's (see :func:`check_uploads`). ``state`` is a state file the caller holds open
    (for ``sync``, whose build and push share one lock); else ``config.state`` is opened here. ``on_progress``
    gets an :class:`Upload` as the bytes of each file go.

    A request counts as accepted only for an HTTP 200 whose body is a JSON object, as MiniCRM answers: a
    proxy's or a sign-in page's 200 is not. With a state file, the projects of an accepted upload are confirmed for this
    system and base URL, from the very bytes that were sent (a part whose SHA-256 is not the one its part
    list names is not sent at all).

    Raises:
        PushError: One issue naming the file or URL, MiniCRM's words or what went wrong, and the status.
        OptionsError: ``base-url``, for an address credentials may not be sent to.
        InputError: ``state-file``, for a state file xmlsync did not write.
        StateError: The state file is busy, damaged or cannot be written.
    """
    config = config or PushConfig()
    base_url = check_base_url(config.base_url)
    say = on_event or (lambda line: None)
    own_state = state is None
    if state is None and config.state is not None:
        state = State(config.state)
    target = Target(credentials.system_id, base_url)
    limit = RateLimit(state, credentials.system_id, config.limit, clock)
    base = f"{base_url}/Api/SyncFeed/{credentials.system_id}"
    connection = Connection(credentials, limit, config.timeout, config.retries, config.max_wait, client, sleep, say)
    delivered: list[Delivered] = []
    try:
        for position, request in enumerate(requests, start=1):
            sent = _Sent(request.target) if request.mode == "upload" else None
            try:
                if sent is not None and request.sha256 is not None and sent.sha256 != request.sha256:
                    message = "changed since the build listed it in its part list; build again, then push"
                    raise PushError([Issue("part-changed", message, source=request.target)])

                def waiting(pause: float, position: int = position) -> str:
                    left = len(requests) - position
                    finish = pause + (left // config.limit) * _HOUR  # then at most `limit` go each hour
                    after = f"{left:,} more after this one; the last goes out in about {_duration(finish)}"
                    return f"waiting {pause:,.0f} s for MiniCRM's limit of {config.limit} requests an hour ({after})"

                if sent is not None:
                    answer, tries = connection.send(
                        "POST", f"{base}/Upload", label=request.target, waiting=waiting, retry=_retried,
                        content=functools.partial(sent.chunks, on_progress),
                        headers={"Content-Type": "application/xml", "Content-Length": str(sent.size)},
                    )  # fmt: skip
                else:
                    answer, tries = connection.send(
                        "GET", base, label=request.target, waiting=waiting, retry=_retried,
                        params={"Source": request.target},
                    )  # fmt: skip
                if not answer.minicrm:
                    issue = _not_minicrm(request, answer.text) if answer.status == 200 else None
                    raise PushError([issue or _refusal(request, answer.status, answer.text, tries)])
                if state is not None and sent is not None:
                    sent.confirm(state, target)
                delivered.append(Delivered(request, tries, answer.text))
                if on_delivered is not None:
                    on_delivered(delivered[-1])
            finally:
                if sent is not None:
                    sent.close()
    finally:
        connection.close()
        if state is not None and own_state:
            state.close()
    return delivered


def _not_minicrm(request: Request, answer: str) -> Issue:
    message = (
        f"the answer is not MiniCRM's (HTTP 200, {answer or 'no text'}); a proxy or a sign-in page may stand in"
        " between: nothing was confirmed, check --base-url and the network"
    )
    return Issue("not-minicrm", message, source=request.target)


def refused_credentials(status: int, answer: str, plan: str) -> str:
    """Return the line for a 401, 403 or 404 (MiniCRM's "Unauthorized"): what to check, the ``plan`` named."""
    return (
        f"MiniCRM refused the request ({status}: {answer or 'no text'}); check MINICRM_SYSTEM_ID and MINICRM_API_KEY"
        f" (or the credentials file), and that the plan has {plan}"
    )


def _refusal(request: Request, status: int | None, answer: str, tries: int) -> Issue:
    if status in (401, 403, 404):
        message = refused_credentials(status, answer, "the REST API + XML sync add-on")
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
            requests.extend(Request("upload", str(path.parent / part), sha) for part, (_, sha) in parts.items())
        else:
            requests.append(Request("upload", str(path)))
    requests.extend(Request("pull", url) for url in source_urls)
    return requests


def check_uploads(requests: Sequence[Request], rules: BuildConfig | None = None) -> list[Issue]:
    """Return the issues of the files to upload, with the checks of ``validate`` (and, with ``rules.schema``,
    of ``validate --minicrm-schema``): no error means all may go."""
    files = [request.target for request in requests if request.mode == "upload"]
    return [issue for report in check_files(files, rules=rules) for issue in report.issues]
