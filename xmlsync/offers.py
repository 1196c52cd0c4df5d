"""The request bodies of MiniCRM's Offer JSON API, one ``POST /Api/Offer`` per offer of a record.

The same records as a feed, read and checked the same way (every record is checked as its XML Sync
``<Project>``), written as MiniCRM's page and its Integrations Manual describe the body: the card by its
``ContactId`` (``CustomerId``) or else by its Id (``ReferenceId``, the Reference Id XML Sync gives the card),
never both; the constants ``Type``, ``Media``, ``VATMode`` and ``Accounting``; the offer's texts as the feed
writes them; dates as ``YYYY-MM-DD``; the ``Customer`` with its country as MiniCRM's numeric id and, when the
card's company is the customer, its VAT and registration numbers; the ``Items`` without Id or folder; and the
offer's own card fields as ``Project``. A value a record lacks is left out, never sent as ``""``: a given
``Customer`` block overwrites what MiniCRM stores.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from xmlsync.config import BuildConfig
from xmlsync.tree.fields import BUSINESS, CUSTOMER, OFFER, PRODUCT, PROJECT
from xmlsync.tree.kinds import Problem
from xmlsync.walk import Walked, field_value

# The body's constants; a profile's [offer_api] may change them (BuildConfig.offer_api). Values MiniCRM documents:
# Type Offer; Media PKI (electronic) or Paper; VATMode NormalVAT or VATExempt; Accounting Normal.
CONSTANTS = {"Type": "Offer", "Media": "PKI", "VATMode": "NormalVAT", "Accounting": "Normal"}
# MiniCRM's country ids that are publicly known (its page's examples), by the names its plugin writes.
COUNTRY_IDS = {"Hungary": "36", "Magyarország": "36", "Ungaria": "36", "Romania": "40", "România": "40",
               "Románia": "40"}  # fmt: skip
_CUSTOMER = ("Name", "CountryId", "County", "PostalCode", "City", "Address")
_COMPANY = ("VatNumber", "EUVatNumber", "RegistrationNumber")
_ITEM = ("SKU", "EAN", "Name", "Description", "PriceNet", "Quantity", "Unit", "VAT")


def _given(pairs: Any) -> dict[str, str]:
    return {key: value for key, value in pairs if value is not None}


class OfferRequest(NamedTuple):
    """One offer of a record as ``offer send`` sends it: which it is, the status it goes to, and the create body."""

    project: str  # the Project Id
    offer: str  # the Offer Id
    status: str | None  # the offer's Status, set by POST /Api/Offer/{Id}/Project after the create
    body: dict[str, Any]  # the body of POST /Api/Offer

    def line(self) -> bytes:
        """Return the request as one JSON line (what the ``offer-send`` output writes)."""
        return json.dumps(self._asdict(), ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> OfferRequest:
        """Return the request a :meth:`line` holds."""
        data = json.loads(line)
        return cls(data["project"], data["offer"], data["status"], data["body"])


def offer_bodies(walked: Walked, config: BuildConfig | None = None) -> list[dict[str, Any]]:
    """Return the request body of each offer of a walked record, in record order."""
    return [request.body for request in offer_requests(walked, config)]


def offer_requests(walked: Walked, config: BuildConfig | None = None) -> list[OfferRequest]:
    """Return each offer of a walked record as ``offer send`` sends it, in record order.

    Raises:
        Problem: ``no-offers`` (a record without offers), ``orders-not-offers`` (the Orders variant: another
            endpoint), ``unknown-country-id`` (a country whose MiniCRM id is not known).
    """
    if field_value(walked, PROJECT, "Orders"):
        raise Problem("orders-not-offers", "holds Orders; the Offer JSON API creates offers: build an XML Sync feed")
    offers = field_value(walked, PROJECT, "Offers")
    if not offers:
        raise Problem("no-offers", "holds no offer; the Offer JSON API creates offers")
    contact = field_value(walked, PROJECT, "ContactId")
    card = {"CustomerId": contact} if contact is not None else {"ReferenceId": walked[0]}
    business = field_value(walked, PROJECT, "Business")
    constants = CONSTANTS | dict(config.offer_api) if config is not None else CONSTANTS
    requests = []
    for offer in offers:
        body: dict[str, Any] = {**card, **constants}
        body |= _given((tag, field_value(offer, OFFER, tag)) for tag in ("Number", "CurrencyCode", "Subject"))
        body |= _given([("PaymentMethod", field_value(offer, OFFER, "PaymentMethod"))])
        language = field_value(offer, OFFER, "Language")
        if language is not None:
            body["Language"] = language.removeprefix("_")
        body |= _given((tag, (field_value(offer, OFFER, tag) or "")[:10] or None) for tag in ("Issued", "Performance",
                                                                                            "Prompt"))  # fmt: skip
        body["Customer"] = _customer(field_value(offer, OFFER, "Customer"), business)
        body["Items"] = [_item(product) for product in field_value(offer, OFFER, PRODUCT.tag)]
        own = field_value(offer, OFFER, "Project")
        if own:
            body["Project"] = dict(own)
        requests.append(OfferRequest(str(walked[0]), str(offer[0]), field_value(offer, OFFER, "Status"), body))
    return requests


def _customer(customer: Walked, business: Walked | None) -> dict[str, str]:
    found = _given((tag, field_value(customer, CUSTOMER, tag)) for tag in _CUSTOMER)
    country = found.get("CountryId")
    if country is not None and not country.isdigit():  # a profile may map a country to its id
        if country not in COUNTRY_IDS:
            raise Problem(
                "unknown-country-id",
                f"the customer's country {country!r} has no MiniCRM id xmlsync knows (Hungary is 36, Romania 40);"
                f' map it to its id under [values."Customer.CountryId"] in the profile, or send it through XML Sync',
            )
        found["CountryId"] = COUNTRY_IDS[country]
    if business is not None and field_value(business, BUSINESS, "Name") == found.get("Name"):
        found |= _given((tag, field_value(business, BUSINESS, tag)) for tag in _COMPANY)
    return found


def _item(product: Walked) -> dict[str, str]:
    item = _given((tag, field_value(product, PRODUCT, tag)) for tag in _ITEM)
    if item.get("VAT", "").endswith("%"):
        item["VAT"] = item["VAT"][:-1]
    return item


def render_offer_json(walked: Walked, config: BuildConfig) -> bytes:
    """Return the request bodies of a walked record's offers, one JSON line each, values as JSON strings."""
    return b"".join(json.dumps(body, ensure_ascii=False).encode() + b"\n" for body in offer_bodies(walked, config))


def render_offer_requests(walked: Walked, config: BuildConfig) -> bytes:
    """Return a walked record's offers as ``offer send`` sends them, one :class:`OfferRequest` JSON line each."""
    return b"".join(request.line() for request in offer_requests(walked, config))
