"""Delta feeds: build --state writes what MiniCRM has not confirmed; push --state confirms what it accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from lxml import etree

from tests.conftest import FIXTURES, MiniCRM
from xmlsync.cli import cli


def source(tmp_path: Path, change: dict[str, Any] | None = None, drop: int | None = None) -> Path:
    records = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))
    extra = json.loads(json.dumps(records[0]))
    extra["Id"], extra["Offers"] = 10003, [dict(extra["Offers"][0], Id=2024099)]
    records.append(extra)
    if change:
        records[0].update(change)
    if drop is not None:
        del records[drop]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def ids(path: Path) -> list[str]:
    return [str(project.get("Id")) for project in etree.parse(str(path)).getroot()]


def build(runner: CliRunner, tmp_path: Path, *args: str, **records: Any) -> Any:
    out = tmp_path / "offers.xml"
    result = runner.invoke(cli, ["build", str(source(tmp_path, **records)), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return result, out


def test_a_delta_build_writes_only_what_minicrm_has_not_confirmed(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    first, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert first.stderr == (
        f"{out}: wrote 3 projects, 4 offers, 8 products from 3 input rows, 0 rejected; against {state}: 3 new,"
        " 0 changed, 0 unchanged, 0 gone\n"
    )
    pushed = runner.invoke(cli, ["push", "--base-url", minicrm.url, "--state", state, str(out)])
    assert pushed.exit_code == 0, pushed.output
    again, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert again.stderr == (
        f"{out}: wrote 0 projects, 0 offers, 0 products from 3 input rows, 0 rejected; against {state}: 0 new,"
        " 0 changed, 3 unchanged, 0 gone\n"
    )
    changed, out = build(
        runner, tmp_path, "--state", state, "--base-url", minicrm.url, "--compact", change={"Name": "Renamed Kft."}
    )
    assert ids(out) == ["10001"]
    assert changed.stderr.endswith(f"against {state}: 0 new, 1 changed, 2 unchanged, 0 gone\n")


def test_a_failed_push_is_sent_again_by_the_next_build(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    minicrm.answers.append((400, "XML is not valid!", {}, 0.0))
    refused = runner.invoke(cli, ["push", "--base-url", minicrm.url, "--state", state, str(out)])
    assert refused.exit_code == 1
    again, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert ids(out) == ["10001", "10002", "10003"]
    assert again.stderr.endswith(f"against {state}: 3 new, 0 changed, 0 unchanged, 0 gone\n")


def test_full_writes_everything_and_gone_projects_are_listed(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert runner.invoke(cli, ["push", "--base-url", minicrm.url, "--state", state, str(out)]).exit_code == 0
    full, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url, "--full", drop=1)
    assert ids(out) == ["10001", "10003"]
    assert full.stderr.endswith(f"against {state}: 0 new, 0 changed, 2 unchanged, 1 gone (Project 10002)\n")


def test_usage_and_a_foreign_state_file(runner: CliRunner, tmp_path: Path, env: None) -> None:
    data = source(tmp_path)
    full = runner.invoke(cli, ["build", str(data), "-o", str(tmp_path / "o.xml"), "--full"])
    assert (full.exit_code, full.stderr.splitlines()[-1]) == (2, "Error: --full is for a delta build with --state")
    foreign = tmp_path / "state.db"
    foreign.write_text("notes")
    result = runner.invoke(cli, ["build", str(data), "-o", str(tmp_path / "o.xml"), "--state", str(foreign)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{foreign}: is not a state file xmlsync wrote; give another --state path [state-file]\n"
        f"Error: 1 problem found; {tmp_path / 'o.xml'} was not written\n",
    )
    assert foreign.read_text() == "notes"
    same = runner.invoke(cli, ["build", str(data), "-o", str(tmp_path / "o.xml"), "--state", str(data)])
    assert same.exit_code == 2


# -- what is confirmed, and for which system ------------------------------------------------------------------


def push_state(runner: CliRunner, url: str, state: str, *files: str) -> Any:
    return runner.invoke(cli, ["push", "--base-url", url, "--state", state, *files])


def test_a_file_replaced_during_the_upload_is_not_confirmed_in_its_place(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    sent = out.read_bytes()
    # While MiniCRM takes the upload, the next build replaces the file with a changed project.
    minicrm.before_answer = lambda: build(runner, tmp_path, change={"Name": "Renamed Kft."})
    assert push_state(runner, minicrm.url, state, str(out)).exit_code == 0
    assert minicrm.received[0]["body"] == sent and out.read_bytes() != sent
    minicrm.before_answer = None
    again, _ = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url, change={"Name": "Renamed Kft."})
    assert again.stderr.endswith(f"against {state}: 0 new, 1 changed, 2 unchanged, 0 gone\n")


def test_a_trial_push_to_another_system_keeps_its_confirmations_apart(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    trial = minicrm.url.replace("127.0.0.1", "localhost")  # the same stand-in, another MiniCRM address
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert push_state(runner, minicrm.url, state, str(out)).exit_code == 0
    tried, out = build(runner, tmp_path, "--state", state, "--base-url", trial, change={"Name": "Trial Kft."})
    assert tried.stderr.endswith(f"against {state}: 3 new, 0 changed, 0 unchanged, 0 gone\n")
    assert push_state(runner, trial, state, str(out)).exit_code == 0
    production, out = build(
        runner, tmp_path, "--state", state, "--base-url", minicrm.url, change={"Name": "Trial Kft."}
    )
    assert production.stderr.endswith(f"against {state}: 0 new, 1 changed, 2 unchanged, 0 gone\n")
    assert ids(out) == ["10001"]


def test_a_200_that_is_not_minicrms_json_confirms_nothing(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    minicrm.answers.append((200, "<html><title>Sign in</title></html>", {"Content-Type": "text/html"}, 0.0))
    pushed = push_state(runner, minicrm.url, state, str(out))
    assert (pushed.exit_code, pushed.stderr) == (
        1,
        f"{out}: the answer is not MiniCRM's (HTTP 200, text/html: <html><title>Sign in</title></html>); a proxy or a"
        " sign-in page may stand in between: nothing was confirmed, check --base-url and the network [not-minicrm]\n"
        "Error: 1 problem found; the later feeds were not sent\n",
    )
    again, _ = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert again.stderr.endswith(f"against {state}: 3 new, 0 changed, 0 unchanged, 0 gone\n")


def test_a_skipped_record_is_not_gone_and_a_gone_project_that_returns_is_sent_again(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert push_state(runner, minicrm.url, state, str(out)).exit_code == 0
    skipped, _ = build(
        runner,
        tmp_path,
        "--state",
        state,
        "--base-url",
        minicrm.url,
        "--on-invalid",
        "skip",
        change={"CategoryId": "x"},
    )
    assert skipped.stderr.endswith(
        f"skipped 1 invalid record, listed in {tmp_path / 'offers.rejects.jsonl'}; against {state}: 0 new, 0 changed,"
        " 2 unchanged, 0 gone\n"
    )
    gone, _ = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url, drop=1)
    assert gone.stderr.endswith(f"against {state}: 0 new, 0 changed, 2 unchanged, 1 gone (Project 10002)\n")
    back, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert back.stderr.endswith(f"against {state}: 1 new, 0 changed, 2 unchanged, 0 gone\n")
    assert ids(out) == ["10002"]


def test_a_delta_build_needs_the_system_it_is_for(runner: CliRunner, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("MINICRM_SYSTEM_ID", raising=False)
    result = runner.invoke(cli, ["build", str(source(tmp_path)), "-o", str(tmp_path / "o.xml"), "--state", "s.db"])
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (
        2,
        "Error: a delta build is for one MiniCRM system: set MINICRM_SYSTEM_ID (or give --system-id), and --base-url"
        " if it is not MiniCRM's own, as for push",
    )
    assert not (tmp_path / "o.xml").exists() and not Path("s.db").exists()


# -- the state file under faults ------------------------------------------------------------------------------


def test_a_state_file_held_by_another_run_is_busy_not_foreign(tmp_path: Path) -> None:
    from xmlsync.state import State, StateError

    path = tmp_path / "state.db"
    with State(path), __import__("pytest").raises(StateError) as caught:
        State(path, lock_wait=0.2)
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}: is in use by another xmlsync run (waited 0.2 s); let it finish and run again, or give another"
        " --state path [state-busy]"
    ]
    State(path).close()  # free again once the other run ends


def test_a_damaged_state_file_is_one_line_and_left_as_it_was(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = tmp_path / "state.db"
    _, out = build(runner, tmp_path, "--state", str(state), "--base-url", minicrm.url)
    data = bytearray(state.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page past the header: the schema is gone
    state.write_bytes(bytes(data))
    result = runner.invoke(cli, ["build", str(source(tmp_path)), "-o", str(out), "--state", str(state)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{state}: is damaged (database disk image is malformed); move it away and run again: the next build then"
        " writes every project once (a resend; no change is lost); if offer send used it, restore it from a backup"
        " instead, as the offers it recorded would be created again [state-damaged]\n"
        f"Error: 1 problem found; {out} was not written\n",
    )
    assert state.read_bytes() == bytes(data)


def test_a_state_file_of_the_earlier_layout_sends_every_project_once(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    import sqlite3

    state = tmp_path / "state.db"
    with sqlite3.connect(state) as db:  # as xmlsync 0.2 wrote it: confirmations of no system in particular
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
            "CREATE TABLE projects (id TEXT PRIMARY KEY, confirmed TEXT, pending TEXT, run INTEGER);"
            "CREATE TABLE requests (system TEXT, at REAL);"
            "INSERT INTO meta VALUES ('kind', 'xmlsync state 1'), ('run', '4');"
            "INSERT INTO projects VALUES ('10001', 'x', 'x', 4);"
        )
    first, _ = build(runner, tmp_path, "--state", str(state), "--base-url", minicrm.url)
    assert first.stderr.endswith(f"against {state}: 3 new, 0 changed, 0 unchanged, 0 gone\n")


def test_mutated_state_files_give_one_line_never_a_traceback(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    import random

    state = tmp_path / "state.db"
    _, out = build(runner, tmp_path, "--state", str(state), "--base-url", minicrm.url)
    assert push_state(runner, minicrm.url, str(state), str(out)).exit_code == 0
    good = state.read_bytes()
    data = source(tmp_path)
    chance = random.Random(20)
    codes = set()
    for _ in range(150):
        mutated = bytearray(good)
        for _ in range(chance.randint(1, 40)):
            mutated[chance.randrange(len(mutated))] = chance.randrange(256)
        if chance.random() < 0.2:
            mutated = mutated[: chance.randrange(len(mutated))]
        state.write_bytes(bytes(mutated))
        result = runner.invoke(cli, ["build", str(data), "-o", str(tmp_path / "o.xml"), "--state", str(state)])
        assert result.exit_code in (0, 1) and isinstance(result.exception, SystemExit | None), result.output
        if result.exit_code:
            [line] = [line for line in result.stderr.splitlines() if not line.startswith("Error:")]
            codes.add(line.rsplit("[", 1)[1])
    assert codes <= {"state-damaged]", "state-file]"}


def test_a_push_killed_after_the_upload_costs_a_resend_never_a_lost_change(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    import os
    import signal
    import subprocess
    import sys

    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    running: list[subprocess.Popen[bytes]] = []
    minicrm.before_answer = lambda: os.kill(running[0].pid, signal.SIGKILL)  # MiniCRM has the feed; the answer is lost
    command = [sys.executable, "-m", "xmlsync", "push", "--base-url", minicrm.url, "--state", state, str(out)]
    running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert running[0].wait(timeout=60) == -signal.SIGKILL
    minicrm.before_answer = None
    again, out = build(runner, tmp_path, "--state", state, "--base-url", minicrm.url)
    assert again.stderr.endswith(f"against {state}: 3 new, 0 changed, 0 unchanged, 0 gone\n")
    assert len(minicrm.received) == 1 and ids(out) == ["10001", "10002", "10003"]


def test_a_full_disk_under_the_state_file_is_one_line(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    from xmlsync.state import State, StateError

    class Full:
        in_transaction = False

        def execute(self, *args: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        def close(self) -> None:
            pass

    path = tmp_path / "state.db"
    state = State(path)
    state._db = Full()  # type: ignore[assignment]
    with pytest.raises(StateError) as caught:
        state.confirm("t", [("1", "d")])
    state.close()
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}: cannot be written: the disk is full; free some space and run again [state-unwritable]"
    ]


def test_build_records_makes_a_delta_feed_from_python(tmp_path: Path) -> None:
    import io

    from xmlsync import State, Target, build_records
    from xmlsync.feeds import iter_compact_projects
    from xmlsync.state import digest

    records = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))
    target = Target("12345", "https://r3.minicrm.hu")
    first = build_records(records, io.BytesIO(), state=tmp_path / "s.db", target=target)
    assert (first.delta, first.projects) == ((2, 0, 0), 2)
    out = io.BytesIO()
    build_records(records[:1], out, state=tmp_path / "s.db", target=target)
    [(ident, _, xml)] = iter_compact_projects(out.getvalue(), "feed.xml")
    with State(tmp_path / "s.db") as state:  # as push does once MiniCRM accepted the feed
        state.confirm(target.key, [(str(ident), digest(xml))])
    again = build_records(records, io.BytesIO(), state=tmp_path / "s.db", target=target)
    assert (again.delta, again.projects) == ((1, 0, 1), 1)


def test_a_state_file_in_a_folder_that_does_not_exist_is_one_line(runner: CliRunner, tmp_path: Path, env: None) -> None:
    state = tmp_path / "nowhere" / "state.db"
    out = tmp_path / "o.xml"
    result = runner.invoke(cli, ["build", str(source(tmp_path)), "-o", str(out), "--state", str(state)])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{state}: cannot be created: its folder does not exist; create it or give another --state path"
        f" [state-unwritable]\nError: 1 problem found; {out} was not written\n",
    )
