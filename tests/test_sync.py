"""`xmlsync sync`, the nightly job, night after night against the loopback stand-in of MiniCRM."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.conftest import FIXTURES, KEY, MiniCRM
from xmlsync.cli import cli


def erp(folder: Path, change: dict[str, Any] | None = None, bad: bool = False) -> Path:
    """The ERP's export of the night: the bundled offers, a third card, and the night's edits."""
    records = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))
    extra = json.loads(json.dumps(records[0]))
    extra["Id"], extra["Name"], extra["Offers"] = 10003, "Harmadik Bt.", [dict(extra["Offers"][0], Id=2024099)]
    records.append(extra)
    records[0].update(change or {})
    if bad:
        records[2]["CategoryId"] = "x"
    path = folder / "export.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def night(runner: CliRunner, minicrm: MiniCRM, folder: Path, *args: str, url: str | None = None, **edits: Any) -> Any:
    result = runner.invoke(
        cli,
        [
            "sync",
            str(erp(folder, **edits)),
            "--state",
            str(folder / "minicrm.db"),
            "--base-url",
            url or minicrm.url,
            *args,
        ],
    )
    assert KEY not in result.output
    return result


def test_night_after_night(runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path) -> None:
    nights = tmp_path / "minicrm.db.nights"
    # Night 1, in an empty folder: every card is new.
    first = night(runner, minicrm, tmp_path)
    assert (first.exit_code, first.stdout) == (
        0,
        f"{nights / 'night-000001'}: 3 new, 0 changed, 0 unchanged, 0 gone, 0 skipped; sent 3 projects in 1 file,"
        " accepted by MiniCRM\n"
        "  new      Árvíztűrő Tükörfúrógép Kft. (Project 10001)\n"
        "  new      Ștefan Țăranu (Project 10002)\n"
        "  new      Harmadik Bt. (Project 10003)\n"
        f"  (all of it in {nights / 'night-000001' / 'review.txt'})\n",
    )
    assert first.stderr == f"{nights / 'night-000001' / 'offers.xml'}: accepted by MiniCRM\n"
    assert len(minicrm.received) == 1
    # Night 2, nothing changed: nothing is sent, and it says so.
    quiet = night(runner, minicrm, tmp_path)
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (
        0,
        f"{nights / 'night-000002'}: 0 new, 0 changed, 3 unchanged, 0 gone, 0 skipped; nothing to send\n",
        "",
    )
    assert len(minicrm.received) == 1
    # Night 3, one change: only that card goes.
    one = night(runner, minicrm, tmp_path, change={"Name": "Kovács Kft."})
    assert one.stdout.splitlines()[:2] == [
        f"{nights / 'night-000003'}: 0 new, 1 changed, 2 unchanged, 0 gone, 0 skipped; sent 1 project in 1 file,"
        " accepted by MiniCRM",
        "  changed  Kovács Kft. (Project 10001)",
    ]
    # Night 4, MiniCRM refuses the feed: exit 1, and the change waits.
    minicrm.answers.append((400, "XML is not valid!", {}, 0.0))
    refused = night(runner, minicrm, tmp_path, change={"Name": "Kovács Zrt."})
    assert (refused.exit_code, refused.stdout.splitlines()[0], refused.stderr) == (
        1,
        f"{nights / 'night-000004'}: 0 new, 1 changed, 2 unchanged, 0 gone, 0 skipped; MiniCRM accepted 0 of 1 file:"
        " the rest waits for the next sync",
        f"{nights / 'night-000004' / 'offers.xml'}: MiniCRM refused the feed (400): XML is not valid! [push-refused]\n"
        "Error: 1 problem found; 1 file of this night waits for the next sync\n",
    )
    # A trial push to MiniCRM's test system in between, with the same state file.
    trial = night(
        runner, minicrm, tmp_path, url=minicrm.url.replace("127.0.0.1", "localhost"), change={"Name": "Kovács Zrt."}
    )
    assert trial.stdout.splitlines()[0].endswith(
        "3 new, 0 changed, 0 unchanged, 0 gone, 0 skipped; sent 3 projects in 1 file, accepted by MiniCRM"
    )
    # Night 5: the refused change goes again, the trial changed nothing for production.
    again = night(runner, minicrm, tmp_path, change={"Name": "Kovács Zrt."})
    assert (again.exit_code, again.stdout.splitlines()[:2]) == (
        0,
        [
            f"{nights / 'night-000006'}: 0 new, 1 changed, 2 unchanged, 0 gone, 0 skipped; sent 1 project in 1 file,"
            " accepted by MiniCRM",
            "  changed  Kovács Zrt. (Project 10001)",
        ],
    )
    sent = minicrm.received[-1]["body"].decode()
    assert sent.count("<Project Id=") == 1 and "<Name>Kovács Zrt.</Name>" in sent
    assert sorted(os.listdir(nights)) == [f"night-00000{n}" for n in range(1, 7)]


def test_skipped_records_are_listed_every_night_even_quiet(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    nights = tmp_path / "minicrm.db.nights"
    for number in (1, 2):
        result = night(runner, minicrm, tmp_path, "--quiet", bad=True)
        assert (result.exit_code, result.stderr, result.stdout) == (
            0,
            f"skipped: {tmp_path / 'export.json'}:[2]: CategoryId (Project 10003): 'x' is not a valid Id; MiniCRM"
            " needs a non-negative whole number [invalid-id]\n",
            f"{nights / f'night-00000{number}'}: {'2 new' if number == 1 else '0 new'}, 0 changed,"
            f" {'0' if number == 1 else '2'} unchanged, 0 gone, 1 skipped;"
            + (" sent 2 projects in 1 file, accepted by MiniCRM\n" if number == 1 else " nothing to send\n"),
        )
        assert (nights / f"night-00000{number}" / "offers.rejects.jsonl").is_file()


def test_dry_run_sends_nothing_and_leaves_the_state(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    dry = night(runner, minicrm, tmp_path, "--dry-run", "--quiet")
    assert (dry.exit_code, dry.stdout.split(": ", 1)[1]) == (
        0,
        "3 new, 0 changed, 0 unchanged, 0 gone, 0 skipped; would send 3 projects in 1 file (dry run: nothing sent)\n",
    )
    assert minicrm.received == []
    real = night(runner, minicrm, tmp_path, "--quiet")
    assert real.stdout.split(": ", 1)[1].startswith("3 new, 0 changed")


def test_gone_cards_are_named_and_old_nights_are_forgotten(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    nights = tmp_path / "minicrm.db.nights"
    night(runner, minicrm, tmp_path, "--keep-nights", "2")
    (nights / "notes").mkdir()  # not a night's folder: never touched
    (nights / "night-000000").mkdir()  # named like one, but sync did not make it
    path = erp(tmp_path)
    records = json.loads(path.read_text(encoding="utf-8"))[:2]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    for _ in range(2):
        result = runner.invoke(
            cli,
            [
                "sync",
                str(path),
                "--state",
                str(tmp_path / "minicrm.db"),
                "--base-url",
                minicrm.url,
                "--keep-nights",
                "2",
            ],
        )
    assert result.stdout.splitlines()[0].endswith("0 new, 0 changed, 2 unchanged, 1 gone, 0 skipped; nothing to send")
    assert result.stdout.splitlines()[1] == "  gone     Harmadik Bt. (Project 10003)"
    assert sorted(os.listdir(nights)) == ["night-000000", "night-000002", "night-000003", "notes"]


def test_a_sync_while_another_holds_the_state_is_busy(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    from xmlsync.state import State

    with State(tmp_path / "minicrm.db"):
        busy = runner.invoke(
            cli,
            ["sync", str(erp(tmp_path)), "--state", str(tmp_path / "minicrm.db"), "--base-url", minicrm.url,
             "--lock-wait", "0.1"],
        )  # fmt: skip
    assert (busy.exit_code, minicrm.received) == (1, [])
    assert busy.stderr == (
        f"{tmp_path / 'minicrm.db'}: is in use by another xmlsync run (waited 0.1 s); let it finish and run again, or"
        " give another --state path [state-busy]\nError: 1 problem found; nothing was sent\n"
    )


def test_a_night_whose_erp_driver_changes_sends_nothing_new(
    runner: CliRunner, minicrm: MiniCRM, env: None, tmp_path: Path
) -> None:
    """A PostgreSQL numeric column gives 27.00 and 3.000 where SQLite or a CSV give 27 and 3: one text for both."""
    night(runner, minicrm, tmp_path, "--quiet")
    path = erp(tmp_path)
    records = json.loads(path.read_text(encoding="utf-8"))
    for record in records:
        for offer in record["Offers"]:
            for product in offer["Products"]:  # as a numeric(12,3) column comes: 3 -> 3.000, 27% -> 27.000%
                product["Quantity"] = str(Decimal(str(product["Quantity"])).quantize(Decimal("0.001")))
                product["PriceNet"] = str(Decimal(str(product["PriceNet"])).quantize(Decimal("0.001")))
                product["VAT"] = f"{Decimal(str(product['VAT']).rstrip('%')).quantize(Decimal('0.01'))}%"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert '"Quantity": "3.000"' in path.read_text(encoding="utf-8")
    result = runner.invoke(cli, ["sync", str(path), "--state", str(tmp_path / "minicrm.db"), "--base-url", minicrm.url])
    assert (result.exit_code, result.stdout.split(": ", 1)[1]) == (
        0,
        "0 new, 0 changed, 3 unchanged, 0 gone, 0 skipped; nothing to send\n",
    )
    assert len(minicrm.received) == 1


def test_numbers_have_one_text_whatever_the_source_gave() -> None:
    import io
    from decimal import Decimal

    from xmlsync import build_records

    def feed(price: object, quantity: object, vat: object) -> bytes:
        record = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))[0]
        record["Offers"] = record["Offers"][:1]
        record["Offers"][0]["Products"] = [
            dict(record["Offers"][0]["Products"][0], PriceNet=price, Quantity=quantity, VAT=vat)
        ]
        out = io.BytesIO()
        build_records([record], out)
        return out.getvalue()

    plain = feed("1250.5", 3, "27%")
    assert b"<PriceNet>1250.5</PriceNet>" in plain and b"<Quantity>3</Quantity>" in plain and b"<VAT>27%</VAT>" in plain
    assert feed(Decimal("1250.50"), Decimal("3.000"), Decimal("27.00")) == plain  # a PostgreSQL numeric
    assert feed("1250.500", "3.0", "27.00%") == plain  # a CSV of fixed decimals
    assert feed(Decimal("1.2505E+3"), 3, 27) == plain
