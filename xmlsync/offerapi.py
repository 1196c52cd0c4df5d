"""Create offers through MiniCRM's Offer JSON API, once each, and move their status (``offer send``).

Each offer of the records (:mod:`xmlsync.offers` makes the bodies) is created with ``POST /Api/Offer``, in record
order; MiniCRM creates it in its first status, so a second call, ``POST /Api/Offer/{Id}/Project``, sets the
record's ``Status`` (and any card field changed later). The JSON API has no external offer id: the state file
(:class:`~xmlsync.state.SentOffer`) remembers per system, Project Id and Offer Id the offer MiniCRM created and
digests of what was sent, so that

* an offer created before is not created again: a changed ``Status`` or card field sends one ``/Project`` call,
  and a change MiniCRM cannot make by API (items, customer, currency, dates, number...) is reported, with
  nothing sent for that offer;
* a create is recorded as *unknown* before it goes, and only an answer of MiniCRM settles it. One whose answer
  never came (no answer in time, a connection cut after sending, a gateway's 502, 503 or 504, a 200 that is not
  MiniCRM's, a crash) is never sent blindly again: the next run looks for it in ``GET /Api/Offer/List``
  (offers updated since a day before it went) by its ``Number``; one match settles it, else the run says how to
  settle it by hand (:func:`resolve_offer`).

An answer in MiniCRM's words that refuses the create (400 unknown or missing parameter, 405, 500 an enum value
it does not know; its manual lists these) means nothing was created: it is shown with the offer it belongs to
and the offer is created by the next run. 401, 403 and 404 (MiniCRM's "Unauthorized") stop the run. 429, a 503
with a ``Retry-After`` and a request that never left (no connection) are retried, as MiniCRM cannot have acted on
them; a bare 503 may be a gateway's that gave up waiting, and counts as a lost answer. Requests are paced to 60 a
minute (the REST API's documented limit), counted in the state file across runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from xmlsync.config import DEFAULT_BASE_URL, BuildConfig
from xmlsync.errors import Issue, OptionsError
from xmlsync.offers import OfferRequest
from xmlsync.push import Answer, Connection, Credentials, RateLimit, check_base_url, refused_credentials
from xmlsync.state import OfferKey, SentOffer, State, Target

if TYPE_CHECKING:
    from xmlsync.profiles import Profile
    from xmlsync.readers.inputs import InputSpec
    from xmlsync.tree.records import Project

    Source = str | Path | InputSpec | Iterable[Mapping[str, Any] | Project]  # what build_file reads

PER_MINUTE = 60  # MiniCRM's documented limit for its REST API (Integrations Manual); none is stated for /Api/Offer
_PAGE = 100  # offers per page of /Api/Offer/List
_STOPS = (401, 403, 404)  # the credentials or the plan: every other request would be refused as well
_CARD = ("CustomerId", "ReferenceId")  # how a create named the card: a ContactId given later changes no offer


@dataclass(frozen=True)
class OfferConfig:
    """How offers are sent.

    Args:
        base_url: MiniCRM's address (the test system or a proxy are other values).
        timeout: Seconds a request may take in all (a deadline).
        retries: Tries after the first for 429, 503 and a request that reached no server.
        max_wait: The longest wait between tries, in seconds (``Retry-After`` included).
        per_minute: Requests a minute, counted across runs in the state file.
        lookback: How long before a create whose answer was lost MiniCRM's list is read from, in seconds (a
            clock that was wrong by less than this still finds it).
        max_pages: The most pages of ``/Api/Offer/List`` read to find one lost create (100 offers each).
    """

    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    retries: int = 3
    max_wait: float = 300.0
    per_minute: int = PER_MINUTE
    lookback: float = 86400.0
    max_pages: int = 20


Result = Literal["created", "updated", "unchanged", "changed", "unknown", "refused", "resolved"]


@dataclass(frozen=True)
class OfferOutcome:
    """What ``offer send`` did for one offer.

    Attributes:
        project: The Project Id.
        offer: The Offer Id.
        result: ``created`` (and its status set), ``updated`` (a ``/Project`` call), ``unchanged``, ``changed``
            (a change MiniCRM cannot make by API: nothing sent), ``unknown`` (a create whose answer is not known),
            ``refused`` (MiniCRM said why), ``resolved`` (a lost create found in MiniCRM's list).
        minicrm_id: MiniCRM's offer ``Id``, when known.
        detail: One line: what was sent, or what is wrong and how to settle it.
    """

    project: str
    offer: str
    result: Result
    minicrm_id: str | None = None
    detail: str = ""

    @property
    def record(self) -> str:
        """``Project 10001 > Offer 5001``, as issues name a record."""
        return f"Project {self.project} > Offer {self.offer}"


@dataclass(frozen=True)
class OfferResult:
    """What a run of ``offer send`` did: an outcome per offer, in record order, and what went wrong."""

    outcomes: tuple[OfferOutcome, ...]
    issues: tuple[Issue, ...]
    stopped: bool = False  # the run stopped early (credentials refused, or a create's answer lost)
    dry_run: bool = False  # nothing was sent: the outcomes are what would be done

    @property
    def ok(self) -> bool:
        """Whether every offer is in MiniCRM as the records say (or reported as a change it cannot make)."""
        return not any(issue.severity == "error" for issue in self.issues)

    def summary(self) -> str:
        """``3 offers: 2 created, 1 unchanged`` (a dry run's: ``3 offers: 2 to create, 1 unchanged``)."""
        would = {"created": "to create", "updated": "to update", "unknown": "to look up"} if self.dry_run else {}
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            label = would.get(outcome.result, outcome.result)
            counts[label] = counts.get(label, 0) + 1
        told = ", ".join(f"{count} {result}" for result, count in counts.items()) or "nothing to send"
        total = len(self.outcomes)
        return f"{total} offer{'' if total == 1 else 's'}: {told}{'; stopped early' if self.stopped else ''}"


def part_digests(body: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the digests of a create body: per key but ``Project``, and per field of its ``Project``."""

    def one(value: Any) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    parts = {key: one(value) for key, value in body.items() if key != "Project"}
    return parts, {name: one(value) for name, value in (body.get("Project") or {}).items()}


def read_offer_requests(
    source: Source, config: BuildConfig | None = None, profile: Profile | None = None
) -> list[OfferRequest]:
    """Return the offers of an input (a path, an :class:`~xmlsync.readers.inputs.InputSpec` or records), read and
    checked as ``offer build`` does, as ``offer send`` sends them.

    Raises:
        InputError: An invalid record, or one the Offer JSON API cannot take: every problem found.
    """
    from xmlsync.pipeline import build_file

    out = io.BytesIO()
    build_file(source, out, config, profile, render="offer-send")
    return [OfferRequest.from_line(line) for line in out.getvalue().splitlines()]


class _Sender:
    """One run's connection to the Offer API (:class:`~xmlsync.push.Connection`: pacing and retries as push's),
    with the Offer API's rule of what may be sent again."""

    def __init__(
        self,
        credentials: Credentials,
        config: OfferConfig,
        base: str,
        state: State,
        client: Any,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        say: Callable[[str], None],
    ) -> None:
        self.base = base  # checked by send_offers
        self._limit = config.per_minute
        limit = RateLimit(state, credentials.system_id, config.per_minute, clock, window=60.0, api="minicrm-rest")
        self._connection = Connection(credentials, limit, config.timeout, config.retries, config.max_wait, client,
                                      sleep, say)  # fmt: skip

    def close(self) -> None:
        self._connection.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, *, safe: bool = False,
             params: dict[str, str] | None = None) -> Answer:  # fmt: skip
        """Send one request, retrying what MiniCRM cannot have acted on (:func:`_not_processed`) and, with ``safe``
        (a request that may go twice: a status, a look-up), a gateway's 502, 503 or 504 and no answer."""
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))} if data is not None else None

        def retry(answer: Answer) -> bool:
            status = answer.status
            gateway = status is None or status > 500  # a 500 is MiniCRM's refusal of a value
            return _not_processed(answer) or (safe and gateway)

        answer, _ = self._connection.send(
            method, f"{self.base}{path}", label=f"{method} {path}", retry=retry, params=params, headers=headers,
            waiting=lambda pause: f"waiting {pause:,.0f} s for MiniCRM's limit of {self._limit} requests a minute",
            content=(lambda: iter([data])) if data is not None else None,
        )  # fmt: skip
        return answer


def _refusal_text(answer: Answer) -> str:
    if answer.status in _STOPS:
        return refused_credentials(answer.status, answer.text, "the REST API")
    return f"MiniCRM answered {answer.status}: {answer.text or 'no text'}"


def _not_processed(answer: Answer) -> bool:
    """Whether MiniCRM cannot have acted on a request: it never left (no connection was made), or MiniCRM said
    to come back later (429, or 503 with a ``Retry-After``: a bare 503 may be a gateway's that gave up waiting)."""
    if answer.status is None:
        return not answer.reached
    return answer.status == 429 or (answer.status == 503 and answer.retry_after is not None)


def _why(answer: Answer) -> str:
    """Return what an answer that is not MiniCRM's acceptance says, in one line."""
    if answer.status is None:
        return answer.text
    if answer.status == 200:
        return f"the answer is not MiniCRM's (HTTP 200, {answer.text or 'no text'})"
    return _refusal_text(answer)


def _numeric_id(value: Any) -> str | None:
    """Return an offer Id MiniCRM gave (``"12"`` or ``12``) as text, or ``None`` if ``value`` is not one."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if text.isascii() and text.isdigit() else None


def _minicrm_id(answer: Answer) -> str | None:
    """Return the offer ``Id`` of MiniCRM's answer to a create, or ``None`` if the answer is not that."""
    return _numeric_id((answer.data or {}).get("Id")) if answer.minicrm else None


def send_offers(
    requests: Sequence[OfferRequest],
    credentials: Credentials,
    state: State,
    config: OfferConfig | None = None,
    *,
    client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Callable[[str], None] | None = None,
    on_outcome: Callable[[OfferOutcome], None] | None = None,
    dry_run: bool = False,
) -> OfferResult:
    """Create each offer MiniCRM does not have yet, set its status, and send the status and card fields that
    changed since; see the module's text for what is sent when and what settles a create.

    ``state`` is an open state file (its lock held for the run). ``on_outcome`` gets each offer's outcome as it
    is settled. With ``dry_run``, nothing is sent and the state is left as it was: each outcome says what would
    be sent.

    Raises:
        OptionsError: ``base-url``, for an address credentials may not be sent to.
        StateError: The state file cannot be written (nothing more is sent).
    """
    config = config or OfferConfig()
    base = check_base_url(config.base_url)
    run = _Run(credentials, state, config, base, client, clock, sleep, on_event or (lambda line: None), dry_run)
    try:
        for request in requests:
            if run.stopped:
                break
            outcome = run.one(request)
            run.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        if not run.stopped:
            wanted = {(request.project, request.offer) for request in requests}
            for key, sent in state.unknown_offers(run.target):
                if key not in wanted and not run.stopped:  # a lost create whose record is not in this input
                    outcome = run.settle(key, sent, None)
                    run.outcomes.append(outcome)
                    if on_outcome is not None:
                        on_outcome(outcome)
    finally:
        run.sender.close()
    return OfferResult(tuple(run.outcomes), tuple(run.issues), run.stopped, dry_run)


class _Run:
    def __init__(
        self,
        credentials: Credentials,
        state: State,
        config: OfferConfig,
        base: str,
        client: Any,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        say: Callable[[str], None],
        dry_run: bool,
    ) -> None:
        self.sender = _Sender(credentials, config, base, state, client, clock, sleep, say)
        self.state = state
        self.config = config
        self.target = Target(credentials.system_id, base).key
        self.clock = clock
        self.dry_run = dry_run
        self.outcomes: list[OfferOutcome] = []
        self.issues: list[Issue] = []
        self.stopped = False

    def _issue(self, key: OfferKey, code: str, message: str, severity: Literal["error", "warning"] = "error") -> None:
        self.issues.append(Issue(code, message, record=f"Project {key[0]} > Offer {key[1]}", severity=severity))

    def one(self, request: OfferRequest) -> OfferOutcome:
        key = (request.project, request.offer)
        sent = self.state.offer(self.target, key)
        if sent is not None and sent.unknown:
            return self.settle(key, sent, request)
        parts, fields = part_digests(request.body)  # once per offer, for the create, the comparison and /Project
        if sent is None:
            return self.create(request, parts, fields)
        changed = sorted(
            name
            for name in parts.keys() | sent.parts.keys()
            if parts.get(name) != sent.parts.get(name) and name not in _CARD  # the offer stays on its card
        )
        if changed:
            message = (
                f"changed in {', '.join(changed)} since MiniCRM created it as offer {sent.minicrm_id}; MiniCRM cannot"
                " change an offer's items, customer, currency, number or dates by API, so nothing was sent for it:"
                " revert it in the ERP, or make it a new offer (a new Offer Id)"
            )
            self._issue(key, "offer-changed", message, "warning")
            return OfferOutcome(*key, "changed", sent.minicrm_id, message)
        return self.update(request, sent, "unchanged", fields)

    def create(self, request: OfferRequest, parts: dict[str, str], fields: dict[str, str]) -> OfferOutcome:
        key = (request.project, request.offer)
        number = request.body.get("Number")
        if self.dry_run:
            then = f", then its status {request.status!r}" if request.status is not None else ""
            return OfferOutcome(*key, "created", None, f"would create offer {number or ''} (POST /Api/Offer){then}")
        sending = SentOffer(None, True, parts, None, fields, number, self.clock())
        self.state.offer_sending(self.target, key, sending)  # before it goes: a crash leaves it unknown, not lost
        answer = self.sender.call("POST", "/Api/Offer", request.body)
        minicrm_id = _minicrm_id(answer)
        if minicrm_id is not None:
            created = replace(sending, minicrm_id=minicrm_id, unknown=False)
            self.state.offer_answered(self.target, key, created)
            return self.update(request, created, "created", fields)
        status = answer.status
        if (status is not None and status != 200 and status <= 500) or _not_processed(answer):
            self.state.offer_answered(self.target, key, None)  # MiniCRM's refusal: nothing was created
            message = f"{_why(answer)}; the offer was not created"
            self._issue(key, "offer-refused", message)
            self.stopped = status in _STOPS or _not_processed(answer)  # the rest would fare no better now
            return OfferOutcome(*key, "refused", None, message)
        self.stopped = True
        message = (
            f"the create of offer {number} was sent and {_why(answer)}: whether MiniCRM created it is unknown, so it"
            " is not sent again; the next run looks for it in MiniCRM's offer list. The offers after it were not sent"
        )
        self._issue(key, "offer-unknown", message)
        return OfferOutcome(*key, "unknown", None, message)

    def update(self, request: OfferRequest, sent: SentOffer, result: Result, fields: dict[str, str]) -> OfferOutcome:
        """Send what changed on the offer's card since MiniCRM accepted it (its status, its fields, whose digests
        are ``fields``); ``result`` is ``created`` (just now) or ``unchanged``."""
        key = (request.project, request.offer)
        own = request.body.get("Project") or {}
        body: dict[str, Any] = {name: own[name] for name in own if fields[name] != sent.fields.get(name)}
        if request.status is not None and request.status != sent.status:
            body = {"StatusId": request.status, **body}
        created = f"created as MiniCRM offer {sent.minicrm_id}" if result == "created" else ""
        if not body:
            return OfferOutcome(*key, result, sent.minicrm_id, created)
        what = ", ".join(f"{name} {value!r}" for name, value in body.items())
        if self.dry_run:
            return OfferOutcome(*key, "updated", sent.minicrm_id, f"would set {what}")
        answer = self.sender.call("POST", f"/Api/Offer/{sent.minicrm_id}/Project", body, safe=True)
        if not answer.minicrm:
            message = f"setting {what} failed: {_why(answer)}; the next run sends it again"
            self._issue(key, "offer-refused", f"{created}; {message}" if created else message)
            self.stopped = answer.status in _STOPS
            return OfferOutcome(*key, "refused", sent.minicrm_id, f"{created}; {message}" if created else message)
        status = request.status if "StatusId" in body else sent.status
        self.state.offer_answered(self.target, key, replace(sent, status=status, fields=fields))
        told = f"{created}; set {what}" if created else f"set {what}"
        return OfferOutcome(*key, "created" if created else "updated", sent.minicrm_id, told)

    def settle(self, key: OfferKey, sent: SentOffer, request: OfferRequest | None) -> OfferOutcome:
        """Look for a create whose answer was lost in MiniCRM's list of offers, by its Number."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sent.sent_at))
        how = (
            f"look in MiniCRM for offer {sent.number} of Project {key[0]}: if it is there, run `xmlsync offer resolve"
            f" {key[0]} {key[1]} --created-as ID`; if not, `xmlsync offer resolve {key[0]} {key[1]} --not-created`"
            " (both with this --state), and run again"
        )
        if self.dry_run:
            return OfferOutcome(*key, "unknown", None, f"would look for offer {sent.number} in MiniCRM's offer list")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sent.sent_at - self.config.lookback))
        found = self._listed(sent, since)
        if isinstance(found, str):
            message = f"whether MiniCRM created the offer sent at {when} UTC is unknown, and {found}; {how}"
            self._issue(key, "offer-unknown", message)
            return OfferOutcome(*key, "unknown", None, message)
        if len(found) != 1:
            listed = f"MiniCRM lists {len(found)} offers numbered {sent.number}: {', '.join(found)}" if found else (
                f"MiniCRM lists no offer numbered {sent.number} updated since {since} UTC"
            )  # fmt: skip
            message = f"whether MiniCRM created the offer sent at {when} UTC is unknown, and {listed}; {how}"
            self._issue(key, "offer-unknown", message)
            return OfferOutcome(*key, "unknown", None, message)
        resolved = replace(sent, minicrm_id=found[0], unknown=False)
        self.state.offer_answered(self.target, key, resolved)
        if request is None:
            return OfferOutcome(*key, "resolved", found[0], f"found in MiniCRM's offer list as offer {found[0]}")
        outcome = self.one(request)  # now created: its status, or a change since
        found_as = f"found in MiniCRM's offer list as offer {found[0]}"
        detail = f"{found_as}; {outcome.detail}" if outcome.detail else found_as
        result: Result = "resolved" if outcome.result in ("unchanged", "updated") else outcome.result
        return replace(outcome, result=result, detail=detail)

    def _listed(self, sent: SentOffer, since: str) -> list[str] | str:
        """Return the Ids of the offers MiniCRM lists with the Number sent, or why they cannot be known."""
        found: list[str] = []
        for page in range(self.config.max_pages):
            params = {"UpdatedSince": since, "Page": str(page)}
            answer = self.sender.call("GET", "/Api/Offer/List", params=params, safe=True)
            results = (answer.data or {}).get("Results") if answer.minicrm else None
            if not isinstance(results, dict) or not all(isinstance(entry, dict) for entry in results.values()):
                if answer.minicrm or answer.status == 200:
                    return f"MiniCRM's offer list could not be read (not its answer: {answer.text[:120]})"
                return f"MiniCRM's offer list could not be read ({_why(answer)})"
            ids = [_numeric_id(entry.get("Id")) for entry in results.values() if entry.get("Number") == sent.number]
            if None in ids:
                return f"MiniCRM's offer list could not be read (an offer numbered {sent.number} has no numeric Id)"
            found += [i for i in ids if i is not None]
            if len(results) < _PAGE:
                return found
        return f"MiniCRM lists more than {self.config.max_pages * _PAGE:,} offers updated since {since} UTC"


def resolve_offer(state: State, target: Target, project: str, offer: str, minicrm_id: str | None) -> SentOffer | None:
    """Settle by hand a create whose answer was lost (or forget an offer): with ``minicrm_id``, MiniCRM created it
    as that offer; with ``None``, MiniCRM has no such offer, and the next ``offer send`` creates it.

    Returns what the state held of it before.

    Raises:
        OptionsError: ``offer-not-in-state``: the state file holds nothing of that offer for that system.
    """
    key = (project, offer)
    sent = state.offer(target.key, key)
    if sent is None:
        message = f"the state file holds no offer {offer} of Project {project} for this system and --base-url"
        raise OptionsError([Issue("offer-not-in-state", message, source=str(state.path))])
    state.offer_answered(target.key, key, replace(sent, minicrm_id=minicrm_id, unknown=False) if minicrm_id else None)
    return sent


def send_offer_file(
    source: Source,
    credentials: Credentials,
    state: str | Path | State,
    config: OfferConfig | None = None,
    build: BuildConfig | None = None,
    profile: Profile | None = None,
    *,
    client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_event: Callable[[str], None] | None = None,
    on_outcome: Callable[[OfferOutcome], None] | None = None,
    dry_run: bool = False,
) -> OfferResult:
    """Read the offers of an input as ``offer build`` does (``build`` and ``profile`` as there) and send them
    (:func:`send_offers`, whose options the rest are), holding the state file for the whole run. A dry run
    against a state file that does not exist yet plans against an empty one and writes none.

    Raises:
        InputError: An invalid record: every problem found; nothing was sent.
        OptionsError: ``base-url``.
        StateError: The state file is busy, damaged or cannot be written.
    """
    config = config or OfferConfig()
    check_base_url(config.base_url)
    requests = read_offer_requests(source, build, profile)  # a refused input leaves no state file behind
    with contextlib.ExitStack() as stack:
        if isinstance(state, State):
            held = state
        elif dry_run and not Path(state).exists():
            held = stack.enter_context(State(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "state"))
        else:
            held = stack.enter_context(State(state))
        return send_offers(requests, credentials, held, config, client=client, clock=clock, sleep=sleep,
                           on_event=on_event, on_outcome=on_outcome, dry_run=dry_run)  # fmt: skip
