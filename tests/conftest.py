"""Shared fixtures: the CLI runner, paths, and golden-file comparison (rewritten only with --update-golden)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLE_XML = FIXTURES / "minicrm-sample.xml"  # MiniCRM's documented sample, annotated in our words


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite golden files from the current output instead of comparing against them.",
    )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """Return ``check(actual: bytes, path: Path)``: byte-for-byte comparison with a golden file."""
    update = request.config.getoption("--update-golden")

    def check(actual: bytes, path: Path) -> None:
        __tracebackhide__ = True
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(actual)
            return
        assert path.is_file(), f"golden file {path} is missing; run pytest --update-golden once and review it"
        assert actual == path.read_bytes(), f"output differs from {path}; review, then pytest --update-golden"

    return check


def _pg_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on loopback: CI's (XMLSYNC_TEST_POSTGRES_URL), else a throwaway cluster."""
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    url = os.environ.get("XMLSYNC_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("the SQL tests need PostgreSQL: apt-get install postgresql, or set XMLSYNC_TEST_POSTGRES_URL")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tempfile.mkdtemp(prefix="xmlsync-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    run(pg_ctl, "-D", data, "-o", options, "-l", f"{data}/server.log", "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


# -- a fake MiniCRM SyncFeed on loopback, for push and delta feeds -------------------------------------------------

SYSTEM, KEY = "12345", "k3y-S3CRET-never-shown"


@dataclass
class MiniCRM:
    """What the fake MiniCRM received, and the answers it is told to give before the usual 200."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, str, dict[str, str], float]] = field(default_factory=list)
    before_answer: Callable[[], None] | None = None  # run once the request is read, before the answer goes
    rest: dict[str, Any] = field(default_factory=dict)  # REST answers by path (/Api/R3/Category...), as JSON
    trickle: float = 0.0  # seconds between the bytes of the answer's body
    # answers a request itself (method, path, query, body) -> (status, text, headers, delay), or None: as above
    respond: Callable[[str, str, dict[str, list[str]], bytes], tuple[int, str, dict[str, str], float] | None] | None = (
        None
    )


@pytest.fixture
def minicrm() -> Iterator[MiniCRM]:
    state = MiniCRM("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            state.received.append(
                {"method": self.command, "path": parts.path, "query": parse_qs(parts.query), "body": body,
                 "type": self.headers.get("Content-Type")}
            )  # fmt: skip
            expected = "Basic " + base64.b64encode(f"{SYSTEM}:{KEY}".encode()).decode()
            hooked = None
            if self.headers.get("Authorization") == expected and state.respond is not None:
                hooked = state.respond(self.command, parts.path, parse_qs(parts.query), body)
            if hooked is not None:
                status, text, headers, delay = hooked
            elif self.headers.get("Authorization") != expected:
                status, text, headers, delay = 401, "Unauthorized", {}, 0.0
            elif parts.path in state.rest and not state.answers:
                status, text, headers, delay = 200, json.dumps(state.rest[parts.path]), {}, 0.0
            elif parts.path not in (f"/Api/SyncFeed/{SYSTEM}", f"/Api/SyncFeed/{SYSTEM}/Upload", *state.rest):
                status, text, headers, delay = 404, "Not found", {}, 0.0
            elif state.answers:
                status, text, headers, delay = state.answers.pop(0)
            elif self.command == "POST" and not body.lstrip().startswith(b"<"):
                status, text, headers, delay = 400, "Input doesn't look like it's an XML", {}, 0.0
            else:
                status, text, headers, delay = 200, '{"Status": "OK"}', {}, 0.0
            if state.before_answer is not None:
                state.before_answer()
            time.sleep(delay)
            data = text.encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if state.trickle:
                    for byte in data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(state.trickle)
                else:
                    self.wfile.write(data)
            except OSError:  # the client gave up waiting
                pass

        do_GET = do_POST = answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class OfferAPI:
    """A stand-in of MiniCRM's Offer JSON API: creates offers (Ids from 12, in the first status 3103) and answers
    as the page's response does; lists them as /Api/Offer/List does, 100 a page; sets card fields by /Project.

    ``lose`` makes the next creates happen but answer too late; ``fail`` answers the next requests with these
    (status, text) and does nothing.
    """

    def __init__(self) -> None:
        self.offers: dict[str, dict[str, Any]] = {}
        self.lose = 0
        self.fail: list[Any] = []  # (status, text) or (status, text, headers)

    def __call__(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        if not path.startswith("/Api/Offer"):
            return None
        if self.fail:
            status, text, *headers = self.fail.pop(0)
            return status, text, (headers or [{}])[0], 0.0
        if (method, path) == ("POST", "/Api/Offer"):
            data = json.loads(body)
            offer_id = str(12 + len(self.offers))
            own = {**data.get("Project", {}), "StatusId": "3103"}
            self.offers[offer_id] = {"Id": offer_id, **data, "Language": f"_{data.get('Language', 'HU')}",
                                     "DocumentId": "8", "Project": own}  # fmt: skip
            late, self.lose = self.lose > 0, max(0, self.lose - 1)
            return 200, json.dumps(self.offers[offer_id], ensure_ascii=False), {}, 2.5 if late else 0.0
        if (method, path) == ("GET", "/Api/Offer/List"):
            page = int(query["Page"][0])
            listed = list(self.offers.values())[page * 100 : page * 100 + 100]
            results = {
                o["Id"]: {"Id": o["Id"], "Number": o["Number"], "Status": o["Project"]["StatusId"]} for o in listed
            }
            return 200, json.dumps({"Count": len(self.offers), "Results": results}), {}, 0.0
        found = re.fullmatch(r"/Api/Offer/([0-9]+)/Project", path)
        if method == "POST" and found and found[1] in self.offers:
            self.offers[found[1]]["Project"].update(json.loads(body))
            return 200, json.dumps({"Id": found[1]}), {}, 0.0
        return 404, "404 - Not found", {}, 0.0


@pytest.fixture
def api(minicrm: MiniCRM) -> OfferAPI:
    """The stand-in of the Offer JSON API, answering on ``minicrm``'s address."""
    stand_in = OfferAPI()
    minicrm.respond = stand_in
    return stand_in


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINICRM_SYSTEM_ID", SYSTEM)
    monkeypatch.setenv("MINICRM_API_KEY", KEY)
