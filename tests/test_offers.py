"""`xmlsync offer build`: the request bodies of MiniCRM's Offer JSON API, from the records build reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES, GOLDEN, KEY, MiniCRM, OfferAPI
from xmlsync.cli import cli
from xmlsync.config import BuildConfig

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


# -- offer send: once each, against a loopback stand-in of the Offer JSON API ----------------------------------------

SEND = Path(__file__).resolve().parent / "fixtures" / "offers" / "offer-api.json"


def send(runner: CliRunner, minicrm: MiniCRM, state: Path, *extra: str, source: Path = SEND) -> Any:
    args = ["offer", "send", str(source), "--vat-code", "KBAUK", "--state", str(state), "--base-url", minicrm.url]
    return runner.invoke(cli, [*args, *extra])


def sent(minicrm: MiniCRM) -> list[str]:
    """The requests the stand-in received, one line each: method, path, query and body as they came."""
    lines = []
    for request in minicrm.received:
        query = "&".join(f"{k}={v[0]}" for k, v in sorted(request["query"].items()))
        lines.append(f"{request['method']} {request['path']}{'?' + query if query else ''} {request['body'].decode()}")
    minicrm.received.clear()
    return lines


def test_offer_send_creates_each_offer_once_then_sets_its_status(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path, golden
) -> None:
    state = tmp_path / "offers-state.db"
    result = send(runner, minicrm, state)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Project 10001 > Offer 2024017: created as MiniCRM offer 12; set StatusId 'Accepted'\n"
        "Project 10002 > Offer 2024018: created as MiniCRM offer 13; set StatusId 'In Preparation'\n"
        "Project 10002 > Offer 2024019: created as MiniCRM offer 14; set StatusId 'Draft'\n",
        "3 offers: 3 created\n",
    )
    requests = sent(minicrm)
    golden("\n".join(requests).encode() + b"\n", GOLDEN / "offers" / "send-requests.txt")
    assert [line.split(" ", 2)[:2] for line in requests] == [
        ["POST", "/Api/Offer"], ["POST", "/Api/Offer/12/Project"], ["POST", "/Api/Offer"],
        ["POST", "/Api/Offer/13/Project"], ["POST", "/Api/Offer"], ["POST", "/Api/Offer/14/Project"],
    ]  # fmt: skip
    reviewed = runner.invoke(cli, ["offer", "build", str(SEND), "--vat-code", "KBAUK", "-o", "-"]).stdout
    assert [line.split(" ", 2)[2] for line in requests[::2]] == reviewed.splitlines()  # sent as reviewed, byte for byte
    first = json.loads(requests[0].split(" ", 2)[2])
    assert (first["CustomerId"], "ReferenceId" in first, first["Language"]) == ("4711", False, "HU")
    item = first["Items"][1]  # a newline, Ø and a dash as written; KBAUK as it is; decimals as the feed writes
    assert item == {"Name": "Fúrószár-készlet (HSS, 1\u201310 mm)", "Description": "Ø 1\u201310 mm\nHSS-G, 10 darab",
                    "PriceNet": "7490.5", "Quantity": "2.5", "Unit": "csomag", "VAT": "KBAUK"}  # fmt: skip
    assert first["Items"][2]["PriceNet"] == "-5000"
    romanian = json.loads(requests[2].split(" ", 2)[2])
    assert (romanian["ReferenceId"], "CustomerId" in romanian, romanian["Customer"]["CountryId"]) == (
        "10002",
        False,
        "40",
    )
    assert api.offers["12"]["Project"] == {
        "String1616": "Webshop rendelés",
        "Felmeresid": "F-77",
        "StatusId": "Accepted",
    }
    again = send(runner, minicrm, state)
    assert (again.exit_code, again.stdout, again.stderr) == (0, "", "3 offers: 3 unchanged\n")
    assert sent(minicrm) == []  # nothing sent twice
    args = ["offer", "send", str(SEND), "--vat-code", "KBAUK", "--state", str(state), "--base-url", minicrm.url]
    listed = runner.invoke(cli, ["-v", *args])
    assert (listed.exit_code, listed.stdout) == (
        0,
        "Project 10001 > Offer 2024017: unchanged, MiniCRM offer 12\n"
        "Project 10002 > Offer 2024018: unchanged, MiniCRM offer 13\n"
        "Project 10002 > Offer 2024019: unchanged, MiniCRM offer 14\n",
    )
    assert KEY.encode() not in state.read_bytes() and "Tükörfúrógép".encode() not in state.read_bytes()
    assert KEY not in result.output + again.output


def test_a_changed_status_sends_one_call_and_a_changed_item_nothing(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    state = tmp_path / "offers-state.db"
    assert send(runner, minicrm, state).exit_code == 0
    sent(minicrm)
    records = json.loads(SEND.read_text(encoding="utf-8"))
    records[0]["Offers"][0]["Status"] = "Elfogadott ajánlat"
    records[0]["Offers"][0]["Project"]["Felmeresid"] = "F-78"
    records[1]["Offers"][1]["Products"][0]["Quantity"] = 5
    records[1]["Offers"][1]["CurrencyCode"] = "RON"
    records[1]["ContactId"] = 4712  # the card is named another way now: its offers are the same
    changed = tmp_path / "erp.json"
    changed.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = send(runner, minicrm, state, source=changed)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Project 10001 > Offer 2024017: set StatusId 'Elfogadott ajánlat', Felmeresid 'F-78'\n",
        "Project 10002 > Offer 2024019: warning: changed in CurrencyCode, Items since MiniCRM created it as offer 14;"
        " MiniCRM cannot change an offer's items, customer, currency, number or dates by API, so nothing was sent"
        " for it: revert it in the ERP, or make it a new offer (a new Offer Id) [offer-changed]\n"
        "3 offers: 1 updated, 1 unchanged, 1 changed\n",
    )
    assert sent(minicrm) == ['POST /Api/Offer/12/Project {"StatusId": "Elfogadott ajánlat", "Felmeresid": "F-78"}']
    assert len(api.offers) == 3


def test_a_lost_create_answer_is_found_in_the_offer_list_not_created_twice(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    state = tmp_path / "offers-state.db"
    api.lose = 1  # MiniCRM creates offer 12, but its answer comes after the deadline
    result = send(runner, minicrm, state, "--timeout", "1")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "Project 10001 > Offer 2024017: the create of offer OF-2024/0017 was sent and no answer within 1 s: whether"
        " MiniCRM created it is unknown, so it is not sent again; the next run looks for it in MiniCRM's offer list."
        " The offers after it were not sent [offer-unknown]",
        "1 offer: 1 unknown; stopped early",
        "Error: 1 offer not as the records say",
    ]
    assert [line.split(" ", 2)[:2] for line in sent(minicrm)] == [["POST", "/Api/Offer"]]
    again = send(runner, minicrm, state)
    assert (again.exit_code, again.stderr) == (0, "3 offers: 1 resolved, 2 created\n")
    assert again.stdout.splitlines()[0] == (
        "Project 10001 > Offer 2024017: found in MiniCRM's offer list as offer 12; set StatusId 'Accepted'"
    )
    lines = sent(minicrm)
    assert lines[0].startswith("GET /Api/Offer/List?Page=0&UpdatedSince=")
    assert [line.split(" ", 2)[:2] for line in lines[1:]] == [
        ["POST", "/Api/Offer/12/Project"], ["POST", "/Api/Offer"], ["POST", "/Api/Offer/13/Project"],
        ["POST", "/Api/Offer"], ["POST", "/Api/Offer/14/Project"],
    ]  # fmt: skip
    assert sorted(api.offers) == ["12", "13", "14"]  # one offer each: none created twice


def test_a_crash_between_the_create_and_the_state_write_is_settled_the_same_way(
    minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmlsync.offerapi import OfferConfig, send_offer_file
    from xmlsync.push import Credentials
    from xmlsync.state import State

    state = tmp_path / "offers-state.db"
    credentials = Credentials("12345", KEY)
    config = OfferConfig(base_url=minicrm.url)
    build = BuildConfig(vat_codes=frozenset({"KBAUK"}))

    def crash(*args: Any) -> None:
        raise KeyboardInterrupt  # the process dies after MiniCRM's 200, before the state holds its Id

    with monkeypatch.context() as patch:
        patch.setattr(State, "offer_answered", crash)
        with pytest.raises(KeyboardInterrupt):
            send_offer_file(SEND, credentials, state, config, build)
    assert sorted(api.offers) == ["12"]
    result = send_offer_file(SEND, credentials, state, config, build)
    assert [(o.result, o.minicrm_id) for o in result.outcomes] == [
        ("resolved", "12"),
        ("created", "13"),
        ("created", "14"),
    ]
    assert (result.ok, sorted(api.offers)) == (True, ["12", "13", "14"])


def test_a_lost_create_the_list_cannot_settle_is_left_to_the_user(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    state = tmp_path / "offers-state.db"
    api.fail = [(504, "Gateway Time-out")]  # a gateway's answer: MiniCRM may or may not have created it
    first = send(runner, minicrm, state)
    assert (first.exit_code, first.stderr.splitlines()[0]) == (
        1,
        "Project 10001 > Offer 2024017: the create of offer OF-2024/0017 was sent and MiniCRM answered 504: Gateway"
        " Time-out: whether MiniCRM created it is unknown, so it is not sent again; the next run looks for it in"
        " MiniCRM's offer list. The offers after it were not sent [offer-unknown]",
    )
    assert [line.split(" ")[:2] for line in sent(minicrm)] == [["POST", "/Api/Offer"]]
    second = send(runner, minicrm, state)  # the list holds no OF-2024/0017: still unknown, nothing created
    assert second.exit_code == 1
    assert re.fullmatch(
        r"Project 10001 > Offer 2024017: whether MiniCRM created the offer sent at 20[0-9-]{8} [0-9:]{8} UTC is"
        r" unknown, and MiniCRM lists no offer numbered OF-2024/0017 updated since 20[0-9-]{8} [0-9:]{8} UTC; look"
        r" in MiniCRM for offer OF-2024/0017 of Project 10001: if it is there, run `xmlsync offer resolve 10001"
        r" 2024017 --created-as ID`; if not, `xmlsync offer resolve 10001 2024017 --not-created` \(both with this"
        r" --state\), and run again \[offer-unknown\]",
        second.stderr.splitlines()[0],
    )
    assert [line.split(" ")[:2] for line in sent(minicrm)][1:] == [
        ["POST", "/Api/Offer"], ["POST", "/Api/Offer/12/Project"], ["POST", "/Api/Offer"],
        ["POST", "/Api/Offer/13/Project"],
    ]  # fmt: skip  # the list, then the others (the first run stopped before them)
    resolve = runner.invoke(cli, ["offer", "resolve", "10001", "2024017", "--state", str(state), "--not-created",
                                  "--base-url", minicrm.url])  # fmt: skip
    assert (resolve.exit_code, resolve.stderr) == (
        0,
        "Project 10001 > Offer 2024017: unknown -> not created (the next offer send creates it)\n",
    )
    third = send(runner, minicrm, state)
    assert (third.exit_code, third.stderr) == (0, "3 offers: 1 created, 2 unchanged\n")
    assert sorted(api.offers) == ["12", "13", "14"]
    bad = runner.invoke(
        cli, ["offer", "resolve", "1", "2", "--state", str(state), "--created-as", "5", "--not-created"]
    )
    assert (bad.exit_code, bad.stderr.splitlines()[-1]) == (2, "Error: give one of --created-as ID and --not-created")
    missing = runner.invoke(cli, ["offer", "resolve", "1", "2", "--state", str(state), "--created-as", "5",
                                  "--base-url", minicrm.url])  # fmt: skip
    assert (missing.exit_code, missing.stderr.splitlines()[0]) == (
        1,
        f"{state}: the state file holds no offer 2 of Project 1 for this system and --base-url [offer-not-in-state]",
    )


def test_minicrm_s_refusals_name_the_offer_and_nothing_is_created_twice(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    state = tmp_path / "offers-state.db"
    api.fail = [(500, "Unknown enum value: Cash"), (429, "Too Many Requests")]
    result = send(runner, minicrm, state)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "POST /Api/Offer: Too Many Requests (429); trying again in 1 s",
        "Project 10001 > Offer 2024017: MiniCRM answered 500: Unknown enum value: Cash; the offer was not created"
        " [offer-refused]",
        "3 offers: 1 refused, 2 created",
        "Error: 1 offer not as the records say",
    ]
    again = send(runner, minicrm, state)  # MiniCRM refused it: created now, once
    assert (again.exit_code, again.stderr) == (0, "3 offers: 1 created, 2 unchanged\n")
    assert sorted(api.offers) == ["12", "13", "14"]
    api.fail = [(404, "404 - Unauthorized")]
    other = tmp_path / "other.db"
    stopped = send(runner, minicrm, other)
    assert stopped.exit_code == 1
    assert stopped.stderr.splitlines()[:2] == [
        "Project 10001 > Offer 2024017: MiniCRM refused the request (404: 404 - Unauthorized); check MINICRM_SYSTEM_ID"
        " and MINICRM_API_KEY (or the credentials file), and that the plan has the REST API; the offer was not"
        " created [offer-refused]",
        "1 offer: 1 refused; stopped early",
    ]


def test_a_200_that_is_not_minicrm_s_answer_leaves_the_create_unknown(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    state = tmp_path / "offers-state.db"
    api.fail = [(200, "<html>Sign in</html>")]
    result = send(runner, minicrm, state)
    assert result.exit_code == 1
    assert "the create of offer OF-2024/0017 was sent and the answer is not MiniCRM's (HTTP 200, " in result.stderr
    assert api.offers == {}  # the next run looks it up; it is not there, so it stays for the user
    dry = send(runner, minicrm, state, "--dry-run")
    assert (dry.exit_code, dry.stdout.splitlines()[0]) == (
        0, "Project 10001 > Offer 2024017: would look for offer OF-2024/0017 in MiniCRM's offer list"
    )  # fmt: skip
    assert sent(minicrm) == [f"POST /Api/Offer {json.dumps(_first_body(), ensure_ascii=False)}"]
    lying = {"Count": 1, "Results": {"x": {"Number": "OF-2024/0017", "Id": "twelve"}}}
    api.fail = [(200, json.dumps(lying))]  # a list that names the offer without an Id settles nothing
    again = send(runner, minicrm, state)
    assert again.exit_code == 1 and (
        " is unknown, and MiniCRM's offer list could not be read (an offer numbered OF-2024/0017 has no numeric"
        " Id); look in MiniCRM for offer OF-2024/0017" in again.stderr.splitlines()[0]
    )
    assert sorted(api.offers) == ["12", "13"]  # the two others; the first is still unknown


def _first_body() -> dict[str, Any]:
    from xmlsync.offerapi import read_offer_requests

    return read_offer_requests(SEND, BuildConfig(vat_codes=frozenset({"KBAUK"})))[0].body


def test_a_dry_run_sends_nothing_and_writes_no_state(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    state = tmp_path / "offers-state.db"
    result = send(runner, minicrm, state, "--dry-run")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Project 10001 > Offer 2024017: would create offer OF-2024/0017 (POST /Api/Offer), then its status 'Accepted'\n"
        "Project 10002 > Offer 2024018: would create offer OF-2024/0018 (POST /Api/Offer), then its status"
        " 'In Preparation'\n"
        "Project 10002 > Offer 2024019: would create offer OF-2024/0019 (POST /Api/Offer), then its status 'Draft'\n",
        "3 offers: 3 to create (dry run: nothing was sent)\n",
    )
    assert (minicrm.received, state.exists()) == ([], False)


def test_offer_send_refuses_bad_records_before_sending_anything(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    records = json.loads(SEND.read_text(encoding="utf-8"))
    records[1]["Offers"][1]["Customer"]["CountryId"] = "Slovakia"
    card = {key: value for key, value in records[0].items() if key != "Offers"} | {"Id": 10003}
    orders = json.loads(json.dumps(records[1])) | {"Id": 10004}
    orders["Orders"] = [{**orders.pop("Offers")[0], "Performance": "2024-05-02"}]
    for key in ("Prompt", "Issued", "Subject", "Language"):
        orders["Orders"][0].pop(key, None)
    source = tmp_path / "erp.json"
    source.write_text(json.dumps([*records, card, orders], ensure_ascii=False), encoding="utf-8")
    result = send(runner, minicrm, tmp_path / "s.db", source=source)
    assert (result.exit_code, result.stderr.splitlines()) == (
        1,
        [
            f"{source}:[1] (Project 10002): the customer's country 'Slovakia' has no MiniCRM id xmlsync knows (Hungary"
            ' is 36, Romania 40); map it to its id under [values."Customer.CountryId"] in the profile, or send it'
            " through XML Sync [unknown-country-id]",
            f"{source}:[2] (Project 10003): holds no offer; the Offer JSON API creates offers [no-offers]",
            f"{source}:[3] (Project 10004): holds Orders; the Offer JSON API creates offers: build an XML Sync feed"
            " [orders-not-offers]",
            "Error: 3 problems found; nothing was sent",
        ],
    )
    assert (minicrm.received, (tmp_path / "s.db").exists()) == ([], False)  # nothing sent, nothing written
    usage = runner.invoke(cli, ["offer", "send", str(SEND)])
    assert usage.exit_code == 2 and "Missing option '--state'" in usage.stderr
    plain = send(runner, minicrm, tmp_path / "s.db", "--base-url", "http://crm.example.hu")
    assert plain.exit_code == 2 and "is plain HTTP" in plain.stderr


def test_requests_are_paced_per_minute_across_runs(tmp_path: Path) -> None:
    import httpx

    from xmlsync.offerapi import OfferConfig, read_offer_requests, send_offers
    from xmlsync.push import Credentials
    from xmlsync.state import State

    stand_in = OfferAPI()

    def answer(request: httpx.Request) -> httpx.Response:
        query = {key: [value] for key, value in request.url.params.items()}
        status, text, _, _ = stand_in(request.method, request.url.path, query, request.content)
        return httpx.Response(status, content=text.encode())

    now = [1000.0]
    waits: list[float] = []
    events: list[str] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    requests = read_offer_requests(FIXTURES / "offers.json")
    config = OfferConfig(per_minute=4)
    with State(tmp_path / "s.db") as state, httpx.Client(transport=httpx.MockTransport(answer)) as client:
        result = send_offers(requests[:2], Credentials("12345", KEY), state, config, client=client,
                             clock=lambda: now[0], sleep=sleep, on_event=events.append)  # fmt: skip
        assert [outcome.result for outcome in result.outcomes] == ["created", "created"]
        now[0] += 30  # a second run, half a minute later: the four requests of the first still count
        send_offers(requests[2:], Credentials("12345", KEY), state, config, client=client,
                    clock=lambda: now[0], sleep=sleep, on_event=events.append)  # fmt: skip
    assert (waits, events) == ([30.0], ["waiting 30 s for MiniCRM's limit of 4 requests a minute"])
    assert sorted(stand_in.offers) == ["12", "13", "14"]


def test_a_profile_changes_the_constants_of_the_body(runner: CliRunner, tmp_path: Path) -> None:
    profile = tmp_path / "erp.toml"
    profile.write_text('[offer_api]\nMedia = "Paper"\nVATMode = "VATExempt"\n', encoding="utf-8")
    result = runner.invoke(cli, ["offer", "build", str(FIXTURES / "offers.json"), "--profile", str(profile), "-o", "-"])
    assert result.exit_code == 0, result.stderr
    first = json.loads(result.stdout.splitlines()[0])
    assert [first[key] for key in ("Type", "Media", "VATMode", "Accounting")] == [
        "Offer",
        "Paper",
        "VATExempt",
        "Normal",
    ]
    profile.write_text('[offer_api]\nMedia = ""\nmedia = "Paper"\n', encoding="utf-8")
    bad = runner.invoke(cli, ["offer", "build", str(FIXTURES / "offers.json"), "--profile", str(profile), "-o", "-"])
    assert (bad.exit_code, bad.stderr.splitlines()[:2]) == (
        1,
        [
            f'{profile}: offer_api.media: unknown key; did you mean "Media"? [invalid-profile]',
            f'{profile}: offer_api.Media: must not be empty; e.g. Media = "Paper", VATMode = "VATExempt"'
            " [invalid-profile]",
        ],
    )


def test_a_run_killed_while_minicrm_answers_a_create_is_settled_by_the_next(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import SYSTEM

    state = tmp_path / "offers-state.db"
    env = dict(os.environ, MINICRM_SYSTEM_ID=SYSTEM, MINICRM_API_KEY=KEY, MINICRM_BASE_URL=minicrm.url)
    xmlsync = str(Path(sys.executable).parent / "xmlsync")
    args = [xmlsync, "offer", "send", str(SEND), "--vat-code", "KBAUK", "--state", str(state)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    create = api.__call__

    def kill_then_answer(method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        answer = create(method, path, query, body)
        if (method, path) == ("POST", "/Api/Offer"):
            os.kill(process.pid, signal.SIGKILL)  # MiniCRM created the offer; its answer finds no one
            process.wait(timeout=30)
        return answer

    minicrm.respond = kill_then_answer
    process.communicate(timeout=60)
    assert (process.returncode, sorted(api.offers)) == (-signal.SIGKILL, ["12"])
    minicrm.respond = api
    again = runner.invoke(cli, ["offer", "send", str(SEND), "--vat-code", "KBAUK", "--state", str(state)], env=env)
    assert (again.exit_code, again.stderr) == (0, "3 offers: 1 resolved, 2 created\n")
    assert sorted(api.offers) == ["12", "13", "14"]


def test_a_status_call_is_retried_on_a_gateway_error_and_not_on_minicrm_s_500(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    records = json.loads(SEND.read_text(encoding="utf-8"))[:1]
    source = tmp_path / "erp.json"
    source.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    state = tmp_path / "offers-state.db"
    create = api.__call__
    fails = [(502, "Bad Gateway"), (500, "Unknown enum value: Accepted")]

    def status_fails(method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        if path.endswith("/Project") and fails:
            status, text = fails.pop(0)
            return status, text, {}, 0.0
        return create(method, path, query, body)

    minicrm.respond = status_fails
    result = send(runner, minicrm, state, source=source)
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (
        1,
        "",
        [
            "POST /Api/Offer/12/Project: Bad Gateway (502); trying again in 1 s",
            "Project 10001 > Offer 2024017: created as MiniCRM offer 12; setting StatusId 'Accepted' failed: MiniCRM"
            " answered 500: Unknown enum value: Accepted; the next run sends it again [offer-refused]",
            "1 offer: 1 refused",
            "Error: 1 offer not as the records say",
        ],
    )
    assert [line.split(" ")[:2] for line in sent(minicrm)] == [
        ["POST", "/Api/Offer"], ["POST", "/Api/Offer/12/Project"], ["POST", "/Api/Offer/12/Project"],
    ]  # fmt: skip
    again = send(runner, minicrm, state, source=source)  # created once; only the status goes again
    assert (again.exit_code, again.stdout) == (0, "Project 10001 > Offer 2024017: set StatusId 'Accepted'\n")
    assert sent(minicrm) == ['POST /Api/Offer/12/Project {"StatusId": "Accepted"}']


def test_a_full_disk_or_a_sigterm_mid_run_says_what_it_leaves(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from xmlsync.errors import Issue
    from xmlsync.state import State, StateError

    state = tmp_path / "offers-state.db"
    answered = State.offer_answered

    def disk_full_at_the_second(self: State, *args: Any) -> None:
        if len(api.offers) == 2:
            raise StateError([Issue("state-unwritable", "cannot be written: the disk is full", str(self.path))])
        answered(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(State, "offer_answered", disk_full_at_the_second)
        full = send(runner, minicrm, state)
    left = (
        "what MiniCRM accepted before is recorded in the state file, and an offer whose create was under way is"
        " looked up by the next run"
    )
    assert (full.exit_code, full.stderr.splitlines()) == (
        1,
        [
            f"{state}: cannot be written: the disk is full [state-unwritable]",
            f"Error: 1 problem found; the run stopped; {left}",
        ],
    )
    again = send(runner, minicrm, state)
    assert (again.exit_code, again.stderr) == (0, "3 offers: 1 unchanged, 1 resolved, 1 created\n")
    assert sorted(api.offers) == ["12", "13", "14"]

    other = tmp_path / "other.db"
    env = dict(os.environ, MINICRM_BASE_URL=minicrm.url)
    args = [str(Path(sys.executable).parent / "xmlsync"), "offer", "send", str(SEND), "--vat-code", "KBAUK"]
    fresh = OfferAPI()  # another MiniCRM system, by its own state file

    def terminate_at_the_second(method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        if (method, path) == ("POST", "/Api/Offer") and len(fresh.offers) == 1:
            os.kill(process.pid, signal.SIGTERM)  # while the second create is under way
        return fresh(method, path, query, body)

    minicrm.respond = terminate_at_the_second
    process = subprocess.Popen([*args, "--state", str(other)], env=env, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr.splitlines()[-1]) == (128 + signal.SIGTERM, f"Error: stopped by SIGTERM; {left}")
    minicrm.respond = fresh
    last = send(runner, minicrm, other)
    assert (last.exit_code, last.stderr, sorted(fresh.offers)) == (
        0,
        "3 offers: 1 unchanged, 1 resolved, 1 created\n",
        ["12", "13", "14"],
    )  # the first as it was, the second found in the list, the third created: none twice


def test_what_minicrm_cannot_have_acted_on_is_sent_again_and_a_bare_503_is_not(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from xmlsync.state import State, Target

    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    state = tmp_path / "offers-state.db"
    api.fail = [(503, "Service Unavailable", {"Retry-After": "7"}), (503, "Service Unavailable")]
    result = send(runner, minicrm, state)
    assert (result.exit_code, result.stdout, result.stderr.splitlines()) == (
        1,
        "",
        [
            "POST /Api/Offer: Service Unavailable (503); trying again in 7 s",
            "Project 10001 > Offer 2024017: the create of offer OF-2024/0017 was sent and MiniCRM answered 503: Service"
            " Unavailable: whether MiniCRM created it is unknown, so it is not sent again; the next run looks for it"
            " in MiniCRM's offer list. The offers after it were not sent [offer-unknown]",
            "1 offer: 1 unknown; stopped early",
            "Error: 1 offer not as the records say",
        ],
    )
    closed = tmp_path / "closed.db"
    nobody = send(runner, minicrm, closed, "--base-url", "http://127.0.0.1:9")  # no server: nothing can have left
    lines = nobody.stderr.splitlines()
    assert nobody.exit_code == 1 and len(lines) == 6, lines
    assert lines[0].startswith("POST /Api/Offer: the request failed: ") and lines[0].endswith(" trying again in 1 s")
    assert lines[3].startswith("Project 10001 > Offer 2024017: the request failed: ")
    assert lines[3].endswith("; the offer was not created [offer-refused]") and lines[4:] == [
        "1 offer: 1 refused; stopped early",
        "Error: 1 offer not as the records say",
    ]
    with State(closed) as held:  # nothing is left unknown: the next run creates it
        assert held.unknown_offers(Target("12345", "http://127.0.0.1:9").key) == []
        assert held.offer(Target("12345", "http://127.0.0.1:9").key, ("10001", "2024017")) is None


def test_a_damaged_offer_row_in_the_state_file_is_one_line(
    runner: CliRunner, minicrm: MiniCRM, api: OfferAPI, env: None, tmp_path: Path
) -> None:
    import sqlite3

    state = tmp_path / "offers-state.db"
    assert send(runner, minicrm, state).exit_code == 0
    with sqlite3.connect(state) as db:
        db.execute("UPDATE offers SET parts = '[1, 2' WHERE offer = '2024017'")
    result = send(runner, minicrm, state)
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        f"{state}: holds a damaged record of offer 2024017 of Project 10001 (Expecting ',' delimiter: line 1 column 6"
        " (char 5)); restore the file from a backup: moved away, the offers it recorded would be created again"
        " [state-damaged]",
    )
    assert "Traceback" not in result.output and sorted(api.offers) == ["12", "13", "14"]
