"""`xmlsync offer build`: the request bodies of MiniCRM's Offer JSON API, from the records build reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.conftest import FIXTURES, GOLDEN, KEY, MiniCRM
from xmlsync.cli import cli

RECORDS = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))


def offer_build(runner: CliRunner, tmp_path: Path, records: list[dict[str, Any]]) -> tuple[int, str, Path]:
    source = tmp_path / "erp.json"
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "requests.jsonl"
    result = runner.invoke(cli, ["offer", "build", str(source), "-o", str(out)])
    return result.exit_code, result.stderr, out


def test_one_request_body_per_offer_as_the_page_sends_it(runner: CliRunner, golden) -> None:
    result = runner.invoke(cli, ["offer", "build", str(FIXTURES / "offers.json"), "-o", "-"])
    assert (result.exit_code, result.stderr) == (0, "<stdout>: wrote 3 offers of 2 projects\n")
    golden(result.stdout_bytes, GOLDEN / "offers" / "requests.jsonl")
    first, *_ = (json.loads(line) for line in result.stdout.splitlines())
    assert first["ReferenceId"] == "10001" and "CustomerId" not in first  # the card by its Id, not both
    assert first["Customer"]["CountryId"] == "36" and first["Customer"]["VatNumber"] == "12345678-2-42"
    assert [item["VAT"] for item in first["Items"]] == ["27", "27", "27"] and "Id" not in first["Items"][0]
    assert all(isinstance(value, str) for item in first["Items"] for value in item.values())


def test_a_contact_id_names_the_card_and_absent_values_are_left_out(runner: CliRunner, tmp_path: Path) -> None:
    record = json.loads(json.dumps(RECORDS[1]))
    record["ContactId"] = 4711
    record["Offers"][0]["Language"] = "_RO"
    record["Offers"][0]["Products"][0]["VAT"] = "KBAUK"
    source = tmp_path / "erp.json"
    source.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "requests.jsonl"
    result = runner.invoke(cli, ["offer", "build", str(source), "--vat-code", "KBAUK", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    bodies = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(body.get("CustomerId"), body.get("ReferenceId"), body.get("Language")) for body in bodies] == [
        ("4711", None, "RO"),
        ("4711", None, None),
    ]
    assert bodies[0]["Items"][0]["VAT"] == "KBAUK"  # a code as it is
    assert "Subject" not in bodies[0] and "County" not in bodies[0]["Customer"]  # never sent as ""


def test_what_the_offer_api_cannot_take_is_refused_and_nothing_written(runner: CliRunner, tmp_path: Path) -> None:
    unknown = json.loads(json.dumps(RECORDS[0]))
    unknown["Offers"][0]["Customer"]["CountryId"] = "Slovakia"
    code, stderr, out = offer_build(runner, tmp_path, [unknown])
    assert (code, stderr.splitlines()) == (
        1,
        [
            f"{tmp_path / 'erp.json'}:[0] (Project 10001): the customer's country 'Slovakia' has no MiniCRM id xmlsync"
            ' knows (Hungary is 36, Romania 40); map it to its id under [values."Customer.CountryId"] in the'
            " profile, or send it through XML Sync [unknown-country-id]",
            f"Error: 1 problem found; {out} was not written",
        ],
    )
    assert not out.exists()
    card = {key: value for key, value in RECORDS[0].items() if key != "Offers"}
    code, stderr, _ = offer_build(runner, tmp_path, [card])
    assert (code, stderr.splitlines()[0]) == (
        1,
        f"{tmp_path / 'erp.json'}:[0] (Project 10001): holds no offer; the Offer JSON API creates offers [no-offers]",
    )
    orders = json.loads((FIXTURES / "offers.json").read_text(encoding="utf-8"))[1]
    orders["Orders"] = [{**orders.pop("Offers")[0], "Performance": "2024-05-02"}]
    for key in ("Prompt", "Issued", "Subject"):
        orders["Orders"][0].pop(key, None)
    code, stderr, _ = offer_build(runner, tmp_path, [orders])
    assert (code, stderr.splitlines()[0]) == (
        1,
        f"{tmp_path / 'erp.json'}:[0] (Project 10002): holds Orders; the Offer JSON API creates offers: build an XML"
        " Sync feed [orders-not-offers]",
    )


def test_a_split_or_a_delta_is_xml_syncs(tmp_path: Path) -> None:
    import pytest

    from xmlsync import OptionsError, Split, build_file

    with pytest.raises(OptionsError) as caught:
        build_file(FIXTURES / "offers.json", tmp_path / "r.jsonl", split=Split(records=1), render="offer-json")
    assert str(caught.value) == (
        "a split feed and a delta are XML Sync's: --split-* and --state go with build, not with this output [options]"
    )
    assert not (tmp_path / "r.jsonl").exists()


# -- offer get and offer status, against a loopback stand-in of MiniCRM's Offer API --------------------------------

OFFER = {"Id": 5123, "Number": "OF-2024/0017", "DocumentId": 991, "DocumentUrl": "https://r3.minicrm.hu/d/991"}


def test_offer_get_prints_the_offer_as_minicrm_answers(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    minicrm.rest["/Api/Offer/5123"] = OFFER
    result = runner.invoke(cli, ["offer", "get", "5123", "--base-url", minicrm.url])
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout) == OFFER
    assert KEY not in result.output
    assert [(r["method"], r["path"]) for r in minicrm.received] == [("GET", "/Api/Offer/5123")]


def test_offer_status_posts_the_status_and_the_card_fields(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    minicrm.rest["/Api/Offer/5123/Project"] = {"Id": 5123}
    args = ["offer", "status", "5123", "Elfogadva", "--field", "Felmeresid=77", "--base-url", minicrm.url]
    result = runner.invoke(cli, args)
    assert (result.exit_code, result.stderr) == (0, "Offer 5123: accepted by MiniCRM (StatusId 'Elfogadva')\n")
    [request] = minicrm.received
    assert (request["method"], request["path"], request["type"]) == (
        "POST",
        "/Api/Offer/5123/Project",
        "application/json",
    )
    assert json.loads(request["body"]) == {"StatusId": "Elfogadva", "Felmeresid": "77"}


def test_an_offer_minicrm_refuses_is_one_line_in_its_words(runner: CliRunner, minicrm: MiniCRM, env: None) -> None:
    minicrm.rest["/Api/Offer/5123/Project"] = {"Id": 5123}
    minicrm.answers.append((500, "Unknown enum value: Elfogadott", {}, 0.0))
    result = runner.invoke(cli, ["offer", "status", "5123", "Elfogadott", "--base-url", minicrm.url])
    assert (result.exit_code, result.stderr) == (
        1,
        f"{minicrm.url}/Api/Offer/5123/Project: MiniCRM answered 500: Unknown enum value: Elfogadott"
        " [minicrm-request]\nError: 1 problem found; the offer was not changed\n",
    )
    bad = runner.invoke(cli, ["offer", "status", "5123", "X", "--field", "nothing", "--base-url", minicrm.url])
    assert bad.exit_code == 2 and "'nothing' is not NAME=VALUE" in bad.stderr
