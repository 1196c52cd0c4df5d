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
