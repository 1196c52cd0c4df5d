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
    first, out = build(runner, tmp_path, "--state", state)
    assert first.stderr == (
        f"{out}: wrote 3 projects, 4 offers, 8 products from 3 input rows, 0 rejected; against {state}: 3 new,"
        " 0 changed, 0 unchanged, 0 gone\n"
    )
    pushed = runner.invoke(cli, ["push", "--base-url", minicrm.url, "--state", state, str(out)])
    assert pushed.exit_code == 0, pushed.output
    again, out = build(runner, tmp_path, "--state", state)
    assert again.stderr == (
        f"{out}: wrote 0 projects, 0 offers, 0 products from 3 input rows, 0 rejected; against {state}: 0 new,"
        " 0 changed, 3 unchanged, 0 gone\n"
    )
    changed, out = build(runner, tmp_path, "--state", state, "--compact", change={"Name": "Renamed Kft."})
    assert ids(out) == ["10001"]
    assert changed.stderr.endswith(f"against {state}: 0 new, 1 changed, 2 unchanged, 0 gone\n")


def test_a_failed_push_is_sent_again_by_the_next_build(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state)
    minicrm.answers.append((400, "XML is not valid!", {}, 0.0))
    refused = runner.invoke(cli, ["push", "--base-url", minicrm.url, "--state", state, str(out)])
    assert refused.exit_code == 1
    again, out = build(runner, tmp_path, "--state", state)
    assert ids(out) == ["10001", "10002", "10003"]
    assert again.stderr.endswith(f"against {state}: 3 new, 0 changed, 0 unchanged, 0 gone\n")


def test_full_writes_everything_and_gone_projects_are_listed(
    runner: CliRunner, tmp_path: Path, minicrm: MiniCRM, env: None
) -> None:
    state = str(tmp_path / "state.db")
    _, out = build(runner, tmp_path, "--state", state)
    assert runner.invoke(cli, ["push", "--base-url", minicrm.url, "--state", state, str(out)]).exit_code == 0
    full, out = build(runner, tmp_path, "--state", state, "--full", drop=1)
    assert ids(out) == ["10001", "10003"]
    assert full.stderr.endswith(f"against {state}: 0 new, 0 changed, 2 unchanged, 1 gone (Project 10002)\n")


def test_usage_and_a_foreign_state_file(runner: CliRunner, tmp_path: Path) -> None:
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
