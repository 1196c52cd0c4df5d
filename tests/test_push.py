"""`xmlsync push` against a real HTTP server on loopback that answers as MiniCRM's SyncFeed does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, KEY, SAMPLE_XML, SYSTEM, MiniCRM
from xmlsync import Split, build_file
from xmlsync.cli import cli
from xmlsync.push import Credentials, PushConfig, PushError, Request, push


def run(runner: CliRunner, minicrm: MiniCRM, *args: str) -> Any:
    result = runner.invoke(cli, ["push", "--base-url", minicrm.url, *args])
    assert KEY not in result.output
    return result


def test_upload_a_valid_feed(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    result = run(runner, minicrm, str(SAMPLE_XML))
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{SAMPLE_XML}: accepted by MiniCRM\n", "")
    [request] = minicrm.received
    assert (request["method"], request["path"], request["type"], request["body"]) == (
        "POST", f"/Api/SyncFeed/{SYSTEM}/Upload", "application/xml", SAMPLE_XML.read_bytes(),
    )  # fmt: skip


def test_pull_a_published_feed(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    source = "https://erp.example.hu/feeds/offers.xml?day=1&x=é"
    result = run(runner, minicrm, "--source-url", source)
    assert (result.exit_code, result.stdout) == (0, f"{source}: accepted by MiniCRM\n")
    [request] = minicrm.received
    assert (request["method"], request["path"], request["query"]) == (
        "GET", f"/Api/SyncFeed/{SYSTEM}", {"Source": [source]},
    )  # fmt: skip


def test_minicrm_refuses_a_feed_in_its_own_words(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    minicrm.answers.append((400, "XML is not valid!", {}, 0.0))
    result = run(runner, minicrm, str(SAMPLE_XML), str(SAMPLE_XML))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"{SAMPLE_XML}: MiniCRM refused the feed (400): XML is not valid! [push-refused]\n"
        "Error: 1 problem found; the later feeds were not sent\n",
    )
    assert len(minicrm.received) == 1


def test_wrong_credentials_are_not_retried_and_say_what_to_check(
    runner: CliRunner, minicrm: MiniCRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINICRM_SYSTEM_ID", SYSTEM)
    monkeypatch.setenv("MINICRM_API_KEY", "wrong")
    result = run(runner, minicrm, str(SAMPLE_XML))
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        f"{SAMPLE_XML}: MiniCRM refused the request (401: Unauthorized); check MINICRM_SYSTEM_ID and MINICRM_API_KEY"
        " (or the credentials file), and that the plan has the REST API + XML sync add-on [push-refused]",
    )
    assert len(minicrm.received) == 1


def test_an_invalid_feed_is_never_sent(runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(SAMPLE_XML.read_text(encoding="utf-8").replace(">HUF<", ">huf<"))
    result = run(runner, minicrm, str(SAMPLE_XML), str(bad))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: 1 problem found; nothing was sent"
    assert minicrm.received == []


def test_dry_run_prints_what_would_go_and_sends_nothing(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    result = run(runner, minicrm, "--dry-run", str(SAMPLE_XML), "--source-url", "https://x.example/a b.xml")
    assert (result.exit_code, result.stdout.splitlines()) == (
        0,
        [
            f"POST {minicrm.url}/Api/SyncFeed/{SYSTEM}/Upload {SAMPLE_XML} ({SAMPLE_XML.stat().st_size:,} bytes)",
            f"GET {minicrm.url}/Api/SyncFeed/{SYSTEM}?Source=https%3A%2F%2Fx.example%2Fa%20b.xml",
        ],
    )
    assert minicrm.received == []


def test_a_part_list_sends_its_parts_in_order(runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path) -> None:
    result = build_file(FIXTURES / "offers.json", tmp_path / "offers.xml", split=Split(records=1))
    pushed = run(runner, minicrm, str(tmp_path / "offers.parts.json"))
    assert pushed.exit_code == 0, pushed.output
    assert [r["body"] for r in minicrm.received] == [Path(part).read_bytes() for part in result.parts]


def test_credentials_from_a_file_only_its_owner_may_read(runner: CliRunner, minicrm: MiniCRM, tmp_path: Path) -> None:
    secrets = tmp_path / "minicrm.toml"
    secrets.write_text(f'system_id = "{SYSTEM}"\napi_key = "{KEY}"\n')
    secrets.chmod(0o644)
    refused = run(runner, minicrm, "--credentials", str(secrets), str(SAMPLE_XML))
    assert (refused.exit_code, refused.stderr.splitlines()[0]) == (
        1,
        f"{secrets}: others may read this file (mode 644); chmod 600 it, as it holds an API key [credentials-file]",
    )
    secrets.chmod(0o600)
    accepted = run(runner, minicrm, "--credentials", str(secrets), str(SAMPLE_XML))
    assert (accepted.exit_code, len(minicrm.received)) == (0, 1)


def test_no_credentials(runner: CliRunner, minicrm: MiniCRM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINICRM_SYSTEM_ID", raising=False)
    monkeypatch.delenv("MINICRM_API_KEY", raising=False)
    result = run(runner, minicrm, str(SAMPLE_XML))
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        "no system id and no API key in the environment; set MINICRM_SYSTEM_ID and MINICRM_API_KEY"
        " [missing-credentials]",
    )
    usage = runner.invoke(cli, ["push"])
    assert (usage.exit_code, usage.stderr.splitlines()[-1]) == (
        2,
        "Error: give the FILEs to upload, or --source-url URL",
    )


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


CREDENTIALS = Credentials(SYSTEM, KEY)


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(minicrm: MiniCRM) -> None:
    minicrm.answers += [(429, "Too many requests", {"Retry-After": "30"}, 0.0), (503, "busy", {}, 0.0)]
    clock, events = Clock(), []
    [done] = push([Request("upload", str(SAMPLE_XML))], CREDENTIALS, PushConfig(base_url=minicrm.url),
                  clock=clock, sleep=clock.sleep, on_event=events.append)  # fmt: skip
    assert (done.tries, clock.slept) == (3, [30.0, 2.0])
    assert events == [
        f"{SAMPLE_XML}: Too many requests (429); trying again in 30 s",
        f"{SAMPLE_XML}: busy (503); trying again in 2 s",
    ]


def test_a_slow_answer_times_out_and_retries_are_bounded(minicrm: MiniCRM) -> None:
    minicrm.answers += [(200, "late", {}, 1.0), (200, "late", {}, 1.0)]
    clock = Clock()
    config = PushConfig(base_url=minicrm.url, timeout=0.3, retries=1)
    with pytest.raises(PushError) as caught:
        push([Request("upload", str(SAMPLE_XML))], CREDENTIALS, config, clock=clock, sleep=clock.sleep)
    assert [str(issue) for issue in caught.value.issues] == [
        f"{SAMPLE_XML}: no answer within 0.3 s; gave up after 2 tries [push-refused]"
    ]
    assert clock.slept == [1.0]


def test_requests_are_paced_to_the_hourly_limit_across_runs(minicrm: MiniCRM, tmp_path: Path) -> None:
    clock, events = Clock(), []
    state = tmp_path / "push-state.json"
    config = PushConfig(base_url=minicrm.url, state=state, limit=3)
    requests = [Request("upload", str(SAMPLE_XML))] * 2
    push(requests, CREDENTIALS, config, clock=clock, sleep=clock.sleep)
    clock.now += 600  # a second run ten minutes later shares the count
    push(requests * 2, CREDENTIALS, config, clock=clock, sleep=clock.sleep, on_event=events.append)
    assert clock.slept == [3000.0, 600.0]  # until the first run's requests are an hour old, one at a time
    assert events == [
        "waiting 3,000 s for MiniCRM's limit of 3 requests an hour (2 more after this one; the last goes out in"
        " about 50 min)",
        "waiting 600 s for MiniCRM's limit of 3 requests an hour (0 more after this one; the last goes out in about"
        " 10 min)",
    ]
    assert len(minicrm.received) == 6
    data = state.read_bytes()
    assert data.startswith(b"SQLite format 3") and KEY.encode() not in data and SYSTEM.encode() not in data


def test_a_state_file_xmlsync_did_not_write(runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("[1, 2]")
    result = run(runner, minicrm, "--state", str(state), str(SAMPLE_XML))
    assert (result.exit_code, result.stderr) == (
        1,
        f"{state}: is not a state file xmlsync wrote; give another --state path [state-file]\n"
        "Error: 1 problem found; the later feeds were not sent\n",
    )
    assert (minicrm.received, state.read_text()) == ([], "[1, 2]")


def test_a_file_gone_before_it_is_sent(minicrm: MiniCRM, tmp_path: Path) -> None:
    gone = tmp_path / "gone.xml"
    with pytest.raises(PushError) as caught:
        push([Request("upload", str(gone))], CREDENTIALS, PushConfig(base_url=minicrm.url))
    assert [str(issue) for issue in caught.value.issues] == [
        f"{gone}: cannot read the file: No such file or directory; it was not sent [push-refused]"
    ]
    assert minicrm.received == []


def test_a_long_split_feed_says_when_it_will_finish(minicrm: MiniCRM) -> None:
    clock, events = Clock(), []
    config = PushConfig(base_url=minicrm.url, limit=2)
    push([Request("upload", str(SAMPLE_XML))] * 7, CREDENTIALS, config, clock=clock, sleep=clock.sleep,
         on_event=events.append)  # fmt: skip
    assert events[0] == (
        "waiting 3,600 s for MiniCRM's limit of 2 requests an hour (4 more after this one; the last goes out in"
        " about 3 h 00 min)"
    )
    assert (len(minicrm.received), clock.slept) == (7, [3600.0, 3600.0, 3600.0])


def test_a_part_list_xmlsync_did_not_write(runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path) -> None:
    listed = tmp_path / "offers.parts.json"
    listed.write_text('{"kind": "xmlsync split feed", "parts": [{"file": "../etc/passwd", "bytes": 1, "sha256": "x"}]}')
    result = run(runner, minicrm, str(listed))
    assert (result.exit_code, result.stderr) == (
        1,
        f"{listed}: not a part list xmlsync wrote [foreign-file]\nError: 1 problem found; nothing was sent\n",
    )
    assert minicrm.received == []


# -- push under faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://r3.minicrm.hu",
            "'ftp://r3.minicrm.hu' is not an https:// URL with a host; give e.g. https://r3.minicrm.hu",
        ),
        ("https://[::1", "'https://[::1' is not a URL (Invalid IPv6 URL); give e.g. https://r3.minicrm.hu"),
        ("https://:80", "'https://:80' is not an https:// URL with a host; give e.g. https://r3.minicrm.hu"),
        (
            "https://u:p@r3.minicrm.hu",
            "'https://u:p@r3.minicrm.hu' holds credentials, a query or a fragment; give the address alone",
        ),
        (
            "http://r3.minicrm.hu",
            "'http://r3.minicrm.hu' is plain HTTP: the API key would cross the network in clear; use https:// (plain"
            " http:// is only for a stand-in on loopback)",
        ),
    ],
)
def test_a_base_url_credentials_may_not_go_to_is_a_usage_error(
    runner: CliRunner, env: None, url: str, message: str
) -> None:
    result = runner.invoke(cli, ["push", "--base-url", url, str(SAMPLE_XML)])
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (2, f"Error: {message}")


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("HTTPS_PROXY", "ftp://proxy", "Unknown scheme for proxy URL URL('ftp://proxy')"),
        ("HTTPS_PROXY", "http://[::1", "Invalid port: ':1'"),
        ("SSL_CERT_FILE", "/nonexistent/ca.pem", "[Errno 2] No such file or directory"),
    ],
)
def test_a_broken_proxy_or_tls_setting_is_one_line(
    runner: CliRunner, env: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = runner.invoke(cli, ["push", str(SAMPLE_XML)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"cannot set up the connection: {reason}; check HTTPS_PROXY, ALL_PROXY, NO_PROXY, SSL_CERT_FILE and"
        " SSL_CERT_DIR in the environment [push-setup]\nError: 1 problem found; the later feeds were not sent\n",
    )


def test_credentials_of_the_wrong_type_are_refused(runner: CliRunner, minicrm: MiniCRM, tmp_path: Path) -> None:
    path = tmp_path / "minicrm.toml"
    path.write_text(f'system_id = "{SYSTEM}"\napi_key = ["k1", "k2"]\n')
    path.chmod(0o600)
    result = run(runner, minicrm, "--credentials", str(path), str(SAMPLE_XML))
    assert (result.exit_code, result.stderr) == (
        1,
        f'{path}: api_key is a list; write it as one quoted text, e.g. api_key = "..." [credentials-file]\n'
        "Error: 1 problem found; nothing was sent\n",
    )
    assert minicrm.received == []


def test_the_timeout_is_a_deadline_for_a_server_that_trickles(minicrm: MiniCRM) -> None:
    import time

    minicrm.trickle = 0.2  # {"Status": "OK"} a byte every 0.2 s: 3.2 s in all
    started = time.monotonic()
    with pytest.raises(PushError) as caught:
        push([Request("upload", str(SAMPLE_XML))], CREDENTIALS, PushConfig(base_url=minicrm.url, timeout=1, retries=0))
    assert time.monotonic() - started < 2.5
    assert [str(issue) for issue in caught.value.issues] == [
        f"{SAMPLE_XML}: no answer within 1 s; gave up after 1 tries [push-refused]"
    ]


def test_an_answer_too_large_to_be_minicrms_is_not_read_whole(minicrm: MiniCRM) -> None:
    minicrm.answers.append((200, "x" * (2 << 20), {}, 0.0))
    with pytest.raises(PushError) as caught:
        push([Request("upload", str(SAMPLE_XML))], CREDENTIALS, PushConfig(base_url=minicrm.url))
    assert [str(issue) for issue in caught.value.issues] == [
        f"{SAMPLE_XML}: the answer is not MiniCRM's (HTTP 200, an answer of over 1,048,576 bytes, not MiniCRM's); a"
        " proxy or a sign-in page may stand in between: nothing was confirmed, check --base-url and the network"
        " [not-minicrm]"
    ]


def test_a_part_changed_since_the_build_is_not_sent(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    build_file(FIXTURES / "offers.json", tmp_path / "offers.xml", split=Split(records=1))
    part = tmp_path / "offers-0002.xml"
    part.write_bytes(part.read_bytes().replace(b"<Name>", b"<Name>Edited ", 1))
    result = run(runner, minicrm, str(tmp_path / "offers.parts.json"))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        f"{tmp_path / 'offers-0001.xml'}: accepted by MiniCRM\n",
        f"{part}: changed since the build listed it in its part list; build again, then push [part-changed]\n"
        "Error: 1 problem found; the later feeds were not sent\n",
    )
    assert len(minicrm.received) == 1


def test_request_times_from_before_the_clock_was_set_back_hold_a_slot_an_hour_at_most(
    minicrm: MiniCRM, tmp_path: Path
) -> None:
    clock = Clock()
    config = PushConfig(base_url=minicrm.url, state=tmp_path / "state.db", limit=1)
    clock.now += 25 * 3600  # a run while the clock was a day ahead
    push([Request("upload", str(SAMPLE_XML))], CREDENTIALS, config, clock=clock, sleep=clock.sleep)
    clock.now -= 25 * 3600  # set right again
    push([Request("upload", str(SAMPLE_XML))] * 2, CREDENTIALS, config, clock=clock, sleep=clock.sleep)
    assert clock.slept == [3600.0, 3600.0]


def test_push_applies_the_profiles_policy_and_shows_warnings(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    feed = tmp_path / "offers.xml"
    feed.write_text(SAMPLE_XML.read_text(encoding="utf-8").replace("<VAT>27%</VAT>", "<VAT>KBAUK</VAT>"))
    warning = (
        f"{feed}:82: /Projects/Project[1]/Offers/Offer[1]/Products/Product[1]/VAT (Project 99999 > Offer 99999 >"
        " Product 11144): warning: VAT 'KBAUK' is not a percentage; MiniCRM documents only values like 27% for XML"
        " Sync (accept the code with --vat-code) [vat-code]\n"
    )
    shown = run(runner, minicrm, str(feed))
    assert (shown.exit_code, shown.stderr, len(minicrm.received)) == (0, warning, 1)
    strict = tmp_path / "strict.toml"
    strict.write_text("[policy]\nstrict = true\n")
    refused = run(runner, minicrm, "--profile", str(strict), str(feed))
    assert (refused.exit_code, refused.stderr.splitlines()[-1], len(minicrm.received)) == (
        1,
        "Error: 1 problem found; nothing was sent",
        1,
    )
    codes = tmp_path / "codes.toml"
    codes.write_text('[policy]\nstrict = true\nvat_codes = ["KBAUK"]\n')
    taken = run(runner, minicrm, "--profile", str(codes), str(feed))
    assert (taken.exit_code, taken.stderr, len(minicrm.received)) == (0, "", 2)


def test_push_reports_the_bytes_of_each_upload_as_they_go(minicrm: MiniCRM) -> None:
    from xmlsync.push import Upload

    seen: list[Upload] = []
    push([Request("upload", str(SAMPLE_XML))], CREDENTIALS, PushConfig(base_url=minicrm.url), on_progress=seen.append)
    size = SAMPLE_XML.stat().st_size
    assert [(u.target, u.sent, u.size, u.done) for u in seen] == [(str(SAMPLE_XML), size, size, True)]
