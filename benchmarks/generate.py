"""Generated benchmark data: N projects x 5 product lines, as JSON Lines and as a flat CSV.

Both files describe the same feed: ``xmlsync build`` makes byte-identical XML from either (the CSV
through ``bench.toml``). Text is realistic for the Hungarian and Romanian market: accents, ``&``, ``<``
and quotes. The data depend only on N (fixed seed), so every run measures the same work.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

COMPANIES = [
    "Árvíztűrő Tükörfúrógép Kft.", "Kovács & Társa Bt.", "Mihăilă Ioana PFA", "Szűcs Őrs E.V.",
    "Țăranu <Ștefan> SRL", 'Öntöde "Vasmű" Zrt.', "Bărbulescu Construcții SA", "Győri Gépház Kft.",
]  # fmt: skip
PEOPLE = [("Őrs", "Szűcs"), ("Ioana", "Mihăilă"), ("Éva", "Kovács"), ("Ștefan", "Țăranu"), ("Zoltán", "Bíró")]
PLACES = [("HU", "Magyarország", "1042", "Budapest", "Árpád út 5."), ("RO", "Románia", "400001", "Cluj-Napoca",
          "Strada Memorandumului 28"), ("HU", "Magyarország", "9021", "Győr", "Baross Gábor út 12.")]  # fmt: skip
PRODUCTS = ["Ütvefúró 850 W", "Fúrószár-készlet (HSS, 1\u201310 mm)", "Sarokcsiszoló 125 mm", "Mașină de găurit",
            "Csavarbehajtó <akkus> 18 V", "Vízmérték 60 cm & tok"]  # fmt: skip
UNITS = ["darab", "csomag", "buc"]
LINE_COLUMNS = ("id", "name", "sku", "ean", "price", "quantity", "unit", "vat")
CATALOG = 2_000
STATUSES = {"E": "Accepted", "V": "Draft"}
CSV_COLUMNS = [
    "partner_id", "partner_name", "vat_number", "partner_email", "first_name", "last_name", "contact_email",
    "offer_id", "offer_number", "currency", "issued", "performance", "prompt", "subject", "status", "country",
    "postal_code", "city", "address", "product_id", "product_name", "sku", "ean", "price", "quantity", "unit", "vat",
]  # fmt: skip


def ean13(body: int) -> str:
    """Return a valid EAN-13 for a 12-digit body."""
    digits = f"{body:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def projects(count: int):  # type: ignore[no-untyped-def]
    rng = random.Random(2026)
    for number in range(1, count + 1):
        company = COMPANIES[number % len(COMPANIES)]
        first, last = PEOPLE[number % len(PEOPLE)]
        country_code, country, postal, city, address = PLACES[number % len(PLACES)]
        status_code = "E" if number % 3 else "V"
        day = 1 + number % 28
        lines = []
        for line in range(1, 6):
            item = (number * 7 + line * 131) % CATALOG  # a catalogue of CATALOG articles, as ERPs have
            lines.append(
                {
                    "id": number * 10 + line,
                    "name": f"{PRODUCTS[item % len(PRODUCTS)]} ({item:04d})",
                    "sku": f"SKU-{item:04d}",
                    "ean": ean13(590123400000 + item),
                    # as xmlsync writes a number (48990.5, not 48990.50), so the raw baseline writes the same bytes
                    "price": f"{rng.randint(100, 999999)}.{rng.randint(0, 99):02d}".rstrip("0").rstrip("."),
                    "quantity": str(rng.randint(1, 40)),
                    "unit": UNITS[line % len(UNITS)],
                    "vat": "27%" if country_code == "HU" else "19%",
                }
            )
        yield {
            "partner_id": number,
            "partner_name": company,
            "vat_number": f"{10000000 + number}-2-42",
            "partner_email": f"iroda{number}@example.hu",
            "first_name": first,
            "last_name": last,
            "contact_email": f"{first.lower()}.{number}@example.ro",
            "offer_id": 500000 + number,
            "offer_number": f"OF-2024/{number:07d}",
            "currency": "HUF" if country_code == "HU" else "RON",
            "issued": f"2024-03-{day:02d} 09:30:00",
            "performance": f"2024-04-{day:02d}",
            "prompt": f"2024-05-{day:02d} 16:00:00",
            "subject": f'Ajánlat "tavasz" #{number} & <akció>',
            "status": status_code,
            "country_code": country_code,
            "country": country,
            "postal_code": postal,
            "city": city,
            "address": address,
            "lines": lines,
        }


def as_record(p: dict) -> dict:  # type: ignore[type-arg]
    """The project as a nested xmlsync record (keys as in the XML)."""
    return {
        "Id": p["partner_id"],
        "Name": p["partner_name"],
        "CategoryId": 39,
        "StatusId": "Regisztrált",
        "Business": {"Name": p["partner_name"], "VatNumber": p["vat_number"], "Emails": [p["partner_email"]]},
        "Contacts": [{"FirstName": p["first_name"], "LastName": p["last_name"], "Emails": [p["contact_email"]]}],
        "Offers": [
            {
                "Id": p["offer_id"],
                "Number": p["offer_number"],
                "CurrencyCode": p["currency"],
                "Prompt": p["prompt"],
                "Performance": p["performance"],
                "Issued": p["issued"],
                "Subject": p["subject"],
                "Status": STATUSES[p["status"]],
                "Customer": {
                    "Name": p["partner_name"],
                    "CountryId": p["country"],
                    "PostalCode": p["postal_code"],
                    "City": p["city"],
                    "Address": p["address"],
                },
                "Products": [
                    {
                        "Id": line["id"],
                        "Name": line["name"],
                        "SKU": line["sku"],
                        "EAN": line["ean"],
                        "PriceNet": line["price"],
                        "Quantity": line["quantity"],
                        "Unit": line["unit"],
                        "VAT": line["vat"],
                        "FolderName": "ERP termékek",
                    }
                    for line in p["lines"]
                ],
            }
        ],
    }


def generate(count: int, jsonl: Path, csv_path: Path | None = None) -> None:
    """Write ``count`` projects to ``jsonl`` (and the same as flat rows to ``csv_path``)."""
    with jsonl.open("w", encoding="utf-8") as out:
        for p in projects(count):
            out.write(json.dumps(as_record(p), ensure_ascii=False) + "\n")
    if csv_path is None:
        return
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for p in projects(count):
            head = [p[c] for c in CSV_COLUMNS[:15]] + [p["country_code"], p["postal_code"], p["city"], p["address"]]
            for line in p["lines"]:
                writer.writerow(head + [line[k] for k in LINE_COLUMNS])


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None)
