"""The peers xmlsync is measured against, each run in its own process by run.py.

    python benchmarks/contenders.py raw|encode|xsdata INPUT.jsonl OUTPUT.xml [BINDINGS_DIR]
    python benchmarks/contenders.py assert-valid FEED.xml

raw:          json.loads + f-strings with xml.sax.saxutils.escape, streamed: the Python speed limit. No
              checks at all. Its output is byte-identical to ``xmlsync build --compact``.
encode:       xmlschema.XMLSchema(our XSD).encode() of the whole feed, as its docs show, then lxml writes it.
xsdata:       xsdata's XmlSerializer over dataclasses generated from our XSD (``xsdata generate``, done by
              run.py into its work folder: the bindings are not part of xmlsync).
assert-valid: plain lxml: parse the file, XMLSchema(our XSD).assertValid(). No rules, no report.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape as e

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "minicrm-offers.xsd"


def records(path: str):  # type: ignore[no-untyped-def]
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line, parse_float=Decimal)


def raw(source: str, target: str) -> None:
    with open(target, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<Projects>')
        for r in records(source):
            b = r["Business"]
            parts = [
                f'<Project Id="{r["Id"]}"><Name>{e(r["Name"])}</Name><CategoryId>{r["CategoryId"]}</CategoryId>'
                f"<StatusId>{e(r['StatusId'])}</StatusId><Business><Name>{e(b['Name'])}</Name>"
                f"<VatNumber>{e(b['VatNumber'])}</VatNumber><Emails>",
                *(f"<Email><Value>{e(v)}</Value></Email>" for v in b["Emails"]),
                "</Emails></Business><Contacts>",
            ]
            for c in r["Contacts"]:
                parts.append(
                    f"<Contact><FirstName>{e(c['FirstName'])}</FirstName><LastName>{e(c['LastName'])}</LastName><Emails>"
                )
                parts.extend(f"<Email><Value>{e(v)}</Value></Email>" for v in c["Emails"])
                parts.append("</Emails></Contact>")
            parts.append("</Contacts><Offers>")
            for o in r["Offers"]:
                c = o["Customer"]
                parts.append(
                    f'<Offer Id="{o["Id"]}"><Number>{e(o["Number"])}</Number><CurrencyCode>{e(o["CurrencyCode"])}'
                    f"</CurrencyCode><Prompt>{o['Prompt']}</Prompt><Performance>{o['Performance']}</Performance>"
                    f"<Issued>{o['Issued']}</Issued><Subject>{e(o['Subject'])}</Subject><Status>{e(o['Status'])}"
                    f"</Status><Customer><Name>{e(c['Name'])}</Name><CountryId>{e(c['CountryId'])}</CountryId>"
                    f"<PostalCode>{e(c['PostalCode'])}</PostalCode><City>{e(c['City'])}</City><Address>"
                    f"{e(c['Address'])}</Address></Customer><Products>"
                )
                for p in o["Products"]:
                    parts.append(
                        f'<Product Id="{p["Id"]}"><Name>{e(p["Name"])}</Name><SKU>{e(p["SKU"])}</SKU><EAN>{p["EAN"]}'
                        f"</EAN><PriceNet>{p['PriceNet']}</PriceNet><Quantity>{p['Quantity']}</Quantity><Unit>"
                        f"{e(p['Unit'])}</Unit><VAT>{e(p['VAT'])}</VAT><FolderName>{e(p['FolderName'])}</FolderName>"
                        "</Product>"
                    )
                parts.append("</Products></Offer>")
            parts.append("</Offers></Project>")
            out.write("".join(parts))
        out.write("</Projects>\n")


def _values(items: list[str]) -> dict:  # type: ignore[type-arg]
    return {"Email": [{"Value": v} for v in items]}


def encode(source: str, target: str) -> None:
    import xmlschema
    from lxml import etree

    schema = xmlschema.XMLSchema10(str(SCHEMA))
    projects = []
    for r in records(source):
        b = r["Business"]
        projects.append(
            {
                "@Id": r["Id"],
                "Name": r["Name"],
                "CategoryId": r["CategoryId"],
                "StatusId": r["StatusId"],
                "Business": {"Name": b["Name"], "VatNumber": b["VatNumber"], "Emails": _values(b["Emails"])},
                "Contacts": {
                    "Contact": [
                        {"FirstName": c["FirstName"], "LastName": c["LastName"], "Emails": _values(c["Emails"])}
                        for c in r["Contacts"]
                    ]
                },
                "Offers": {
                    "Offer": [
                        {
                            "@Id": o["Id"],
                            **{k: o[k] for k in ("Number", "CurrencyCode", "Prompt", "Performance", "Issued")},
                            **{k: o[k] for k in ("Subject", "Status", "Customer")},
                            "Products": {
                                "Product": [
                                    {"@Id": p["Id"], **{k: v for k, v in p.items() if k != "Id"}} for p in o["Products"]
                                ]
                            },
                        }
                        for o in r["Offers"]
                    ]
                },
            }
        )
    root = schema.encode({"Project": projects}, path="Projects", validation="strict", etree_element_class=etree.Element)
    Path(target).write_bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))


def xsdata(source: str, target: str, bindings: str) -> None:
    sys.path.insert(0, bindings)
    from minicrm_bindings.minicrm_offers import (  # type: ignore[import-not-found]
        BusinessType,
        ContactsType,
        ContactType,
        CustomerType,
        EmailsType,
        OffersType,
        OfferType,
        ProductsType,
        ProductType,
        Project,
        Projects,
        ValueType,
    )
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    def emails(items: list[str]) -> EmailsType:
        return EmailsType(email=[ValueType(value=v) for v in items])

    projects = []
    for r in records(source):
        b = r["Business"]
        offers = []
        for o in r["Offers"]:
            c = o["Customer"]
            products = [
                ProductType(
                    id=str(p["Id"]),
                    name=p["Name"],
                    sku=p["SKU"],
                    ean=p["EAN"],
                    price_net=Decimal(p["PriceNet"]),
                    quantity=Decimal(p["Quantity"]),
                    unit=p["Unit"],
                    vat=p["VAT"],
                    folder_name=p["FolderName"],
                )
                for p in o["Products"]
            ]
            offers.append(
                OfferType(
                    id=str(o["Id"]),
                    number=o["Number"],
                    currency_code=o["CurrencyCode"],
                    prompt=o["Prompt"],
                    performance=o["Performance"],
                    issued=o["Issued"],
                    subject=o["Subject"],
                    status=o["Status"],
                    customer=CustomerType(
                        name=c["Name"],
                        country_id=c["CountryId"],
                        postal_code=c["PostalCode"],
                        city=c["City"],
                        address=c["Address"],
                    ),
                    products=ProductsType(product=products),
                )
            )
        contacts = [
            ContactType(first_name=c["FirstName"], last_name=c["LastName"], emails=emails(c["Emails"]))
            for c in r["Contacts"]
        ]
        projects.append(
            Project(
                id=str(r["Id"]),
                name=r["Name"],
                category_id=str(r["CategoryId"]),
                status_id=r["StatusId"],
                business=BusinessType(name=b["Name"], vat_number=b["VatNumber"], emails=emails(b["Emails"])),
                contacts=ContactsType(contact=contacts),
                offers=OffersType(offer=offers),
            )
        )
    serializer = XmlSerializer(config=SerializerConfig(xml_declaration=True, encoding="UTF-8"))
    with open(target, "w", encoding="utf-8") as out:
        serializer.write(out, Projects(project=projects))


def assert_valid(feed: str) -> None:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    schema.assertValid(etree.parse(feed, parser))


if __name__ == "__main__":
    task, *args = sys.argv[1:]
    {"raw": raw, "encode": encode, "xsdata": xsdata, "assert-valid": assert_valid}[task](*args)
