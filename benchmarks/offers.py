"""Benchmark: what ``offer send``'s "once each" costs beside a hand-written loop of the same requests, in one run.

    python benchmarks/offers.py                # 1,000 offers
    python benchmarks/offers.py --offers 5000

MiniCRM is an in-process stand-in (an ``httpx.MockTransport`` that creates offers and answers as the page does),
so the figures are xmlsync's own work: the state file's writes (each create recorded before it goes, then its
Id and its status), the digests, the pacing's bookkeeping. Pacing itself is off (60 a minute would make 1,000
offers take 33 minutes, whatever the client). The baseline posts the same bodies and status calls with httpx,
remembering nothing: what the public clients do. The ratio column is the row's time over the baseline's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402

from xmlsync.offerapi import OfferConfig, read_offer_requests, send_offers  # noqa: E402
from xmlsync.offers import OfferRequest  # noqa: E402
from xmlsync.push import Credentials  # noqa: E402
from xmlsync.state import State  # noqa: E402


def stand_in() -> httpx.MockTransport:
    offers: dict[str, dict[str, Any]] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/Api/Offer":
            offer_id = str(12 + len(offers))
            offers[offer_id] = {"Id": offer_id, **json.loads(request.content)}
            return httpx.Response(200, content=json.dumps(offers[offer_id]).encode())
        return httpx.Response(200, content=json.dumps({"Id": request.url.path.split("/")[3]}).encode())

    return httpx.MockTransport(answer)


def requests_of(count: int) -> list[OfferRequest]:
    base = read_offer_requests(HERE.parent / "fixtures" / "offers.json")
    made = []
    for index in range(count):
        one = base[index % len(base)]
        made.append(one._replace(offer=f"{one.offer}{index}", body={**one.body, "Number": f"OF-{index:06d}"}))
    return made


def baseline(requests: list[OfferRequest]) -> float:
    started = time.perf_counter()
    with httpx.Client(transport=stand_in(), auth=("12345", "key")) as client:
        for request in requests:
            created = client.post("https://r3.minicrm.hu/Api/Offer", json=request.body).json()
            client.post(f"https://r3.minicrm.hu/Api/Offer/{created['Id']}/Project", json={"StatusId": request.status})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=1000)
    args = parser.parse_args()
    requests = requests_of(args.offers)
    config = OfferConfig(per_minute=10**9)
    rows = [("hand-written loop, no state (baseline)", baseline(requests))]
    with tempfile.TemporaryDirectory() as folder, httpx.Client(transport=stand_in()) as client:
        for label in ("offer send, first run (create + status)", "offer send, second run (nothing to send)"):
            with State(Path(folder) / "state.db") as state:
                started = time.perf_counter()
                result = send_offers(requests, Credentials("12345", "key"), state, config, client=client)
                rows.append((f"{label}: {result.summary()}", time.perf_counter() - started))
    print(f"| {args.offers:,} offers | seconds | ms per offer | / baseline |")
    print("| --- | --- | --- | --- |")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} | {1000 * seconds / args.offers:.1f} | {seconds / rows[0][1]:.2f}x |")


if __name__ == "__main__":
    main()
