"""``xmlsync mapping init``: a commented profile template written from an input's header."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from xmlsync.config import SystemSchema
from xmlsync.profiles import Profile
from xmlsync.system import card_categories, template_lines
from xmlsync.tree.countries import COUNTRIES
from xmlsync.tree.fields import FLAT_FIELDS

_WORD = re.compile(r"[^0-9a-z]+")

# The column names ERPs in MiniCRM's markets write (Hungarian, Romanian, English), compared without case,
# accents, spaces and punctuation. Each name is given to one field only: a name that could mean two fields
# ("Név", "Nume", "Dátum") is not here, and stays a TODO. A profile's [names] adds names of its own.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "Project.Id": ("Partnerkód", "Partner kód", "Partnerazonosító", "Ügyfélkód", "Vevőkód", "Cod client",
                   "Cod partener", "ID client", "Customer ID", "Customer code", "Client ID", "Partner ID"),
    "Project.Name": ("Partner neve", "Partnernév", "Ügyfél neve", "Ügyfélnév", "Vevő neve", "Vevőnév",
                     "Denumire client", "Nume client", "Denumire partener", "Customer name", "Client name",
                     "Partner name"),
    "Business.VatNumber": ("Adószám", "Adószáma", "CUI", "Cod fiscal", "CIF", "VAT number", "Tax number", "VAT ID"),
    "Business.EUVatNumber": ("Közösségi adószám", "EU adószám", "Cod TVA intracomunitar", "EU VAT number"),
    "Business.RegistrationNumber": ("Cégjegyzékszám", "Nr. Reg. Com.", "Nr. registrul comerțului",
                                    "Registration number", "Company number"),
    "Business.Email": ("Partner e-mail", "Cég e-mail", "E-mail firmă", "Company e-mail"),
    "Contact.FirstName": ("Keresztnév", "Utónév", "Prenume", "First name", "Given name"),
    "Contact.LastName": ("Vezetéknév", "Családnév", "Nume de familie", "Last name", "Surname", "Family name"),
    "Contact.Email": ("Kapcsolat e-mail", "Kapcsolattartó e-mail", "E-mail contact", "Contact e-mail"),
    "Contact.Phone": ("Kapcsolat telefon", "Kapcsolattartó telefon", "Telefon contact", "Contact phone"),
    "Offer.Id": ("Ajánlat azonosító", "Ajánlat ID", "ID ofertă", "Offer ID", "Quote ID"),
    "Offer.Number": ("Ajánlatszám", "Ajánlat száma", "Ajánlat sorszáma", "Nr. ofertă", "Număr ofertă",
                     "Offer number", "Quote number"),
    "Offer.CurrencyCode": ("Pénznem", "Deviza", "Valuta", "Moneda", "Monedă", "Currency", "Currency code"),
    "Offer.Issued": ("Kelt", "Kelte", "Keltezés", "Kiállítás dátuma", "Kiállítás kelte", "Data emiterii",
                     "Data ofertei", "Issued", "Issue date", "Date issued", "Offer date"),
    "Offer.Performance": ("Teljesítés", "Teljesítés dátuma", "Teljesítés kelte", "Data livrării",
                          "Data prestării", "Performance date", "Delivery date"),
    "Offer.Prompt": ("Érvényes", "Érvényesség", "Érvényes eddig", "Fizetési határidő", "Határidő",
                     "Valabilitate", "Valabil până la", "Data scadenței", "Scadență", "Valid until", "Due date"),
    "Offer.Subject": ("Megjegyzés", "Tárgy", "Subiect", "Observații", "Mențiuni", "Subject", "Note", "Notes"),
    "Offer.Status": ("Állapot", "Státusz", "Stadiu", "Stare", "Status"),
    "Offer.PaymentMethod": ("Fizetési mód", "Modalitate de plată", "Mod de plată", "Payment method"),
    "Offer.Language": ("Nyelv", "Limba", "Limbă", "Language"),
    "Customer.CountryId": ("Ország", "Țara", "Țară", "Country"),
    "Customer.County": ("Megye", "Județ", "Judet", "County"),
    "Customer.PostalCode": ("Irsz", "Irányítószám", "Cod poștal", "Cod postal", "Postal code", "ZIP", "Postcode"),
    "Customer.City": ("Város", "Település", "Helység", "Localitate", "Oraș", "City", "Town"),
    "Customer.Address": ("Cím", "Utca, házszám", "Adresa", "Adresă", "Strada", "Address", "Street"),
    "Product.Id": ("Termékkód", "Termékazonosító", "Cod produs", "ID produs", "Product ID", "Item ID"),
    "Product.Name": ("Megnevezés", "Termék neve", "Terméknév", "Termék megnevezése", "Denumire produs",
                     "Denumire articol", "Product name", "Item name"),
    "Product.SKU": ("Cikkszám", "SKU", "Cod articol"),
    "Product.EAN": ("EAN", "EAN13", "Vonalkód", "Cod de bare", "Barcode", "GTIN"),
    "Product.Description": ("Termékleírás", "Leírás", "Descriere", "Descriere produs", "Description"),
    "Product.PriceNet": ("Nettó egységár", "Egységár", "Nettó ár", "Preț unitar", "Preț unitar fără TVA",
                         "Preț fără TVA", "Unit price", "Net price", "Net unit price"),
    "Product.Quantity": ("Mennyiség", "Menny.", "Cantitate", "Cant.", "Quantity", "Qty"),
    "Product.Unit": ("Egység", "Mennyiségi egység", "M.e.", "ME", "UM", "U.M.", "Unitate de măsură", "Unit", "UoM"),
    "Product.VAT": ("ÁFA", "ÁFA kulcs", "ÁFA %", "ÁFA-kulcs", "Cota TVA", "TVA", "Cota TVA %", "VAT", "VAT rate",
                    "Tax rate"),
    "Product.FolderName": ("Termékcsoport", "Grupă produs", "Grupa produse", "Product group"),
}  # fmt: skip


def _key(text: str) -> str:
    """Return a column name as compared: lower case, no accents, no spaces or punctuation (``Preț unitar``
    -> ``pretunitar``)."""
    folded = unicodedata.normalize("NFKD", text.lower())
    return _WORD.sub("", "".join(char for char in folded if not unicodedata.combining(char)))


def _guess(field: str, header: tuple[str, ...], names: tuple[str, ...] = ()) -> str | None:
    """Return the column whose name matches the field (``Offer.Id``, ``offer_id``, ``OfferId``...), or one of
    the usual names of the field (:data:`COLUMN_NAMES` and the profile's ``names``)."""
    full, short = _key(field), _key(field.split(".")[1])
    for column in header:
        if _key(column) == full:
            return column
    matches = [column for column in header if _key(column) == short]
    if len(matches) == 1:
        return matches[0]
    usual = {_key(name) for name in names}
    matches = [column for column in header if _key(column) in usual]
    return matches[0] if len(matches) == 1 else None


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


_NUMBER_FORMS = (  # a number as written -> (decimal separator, thousands separator or None if not shown)
    (re.compile(r"-?[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+(?:,[0-9]+)?"), ",", " "),
    (re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+"), ",", "."),
    (re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+"), ".", ","),
    (re.compile(r"-?[0-9]+,(?:[0-9]{1,2}|[0-9]{4,})"), ",", None),  # not 1,250: thousands or a decimal comma?
)
# Dates as ERPs write them, tried on the sample's texts; YYYY-MM-DD needs no format.
_DATE_FORMS = (
    "%Y.%m.%d.",
    "%Y.%m.%d",
    "%Y.%m.%d. %H:%M",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
)


def sniff_locale(sample: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None, list[str]]:
    """Return the decimal separator, thousands separator and date formats the texts of ``sample`` show.

    ``None`` where the sample does not tell. Day-first and month-first dates that read the same texts are
    both left out: which one is meant cannot be known, and a wrong guess would swap days and months.
    """
    decimals: dict[str, int] = {}
    thousands: dict[str, int] = {}
    dated: dict[str, int] = {}
    for row in sample:
        for value in row.values():
            if not isinstance(value, str) or not value.strip():
                continue
            text = value.strip()
            for pattern, point, group in _NUMBER_FORMS:
                if pattern.fullmatch(text):
                    decimals[point] = decimals.get(point, 0) + 1
                    if group is not None:
                        thousands[group] = thousands.get(group, 0) + 1
                    break
            for form in _DATE_FORMS:
                try:
                    datetime.strptime(text, form)
                except ValueError:
                    continue
                dated[form] = dated.get(form, 0) + 1
    if "%d/%m/%Y" in dated and "%m/%d/%Y" in dated:
        day, month = dated.pop("%d/%m/%Y"), dated.pop("%m/%d/%Y")
        if day != month:  # only one of them reads every such text
            dated["%d/%m/%Y" if day > month else "%m/%d/%Y"] = max(day, month)
    decimal = max(decimals, key=decimals.__getitem__) if decimals else None
    grouping = max(thousands, key=thousands.__getitem__) if thousands else None
    if grouping == decimal:
        grouping = None
    return decimal, grouping, [form for form in _DATE_FORMS if form in dated]


def profile_template(
    header: tuple[str, ...],
    fmt: str,
    profile: Profile,
    sample: Sequence[Mapping[str, Any]] | None = None,
    schema: SystemSchema | None = None,
) -> str:
    """Return the TOML text of a profile for an input with ``header``, each field with its column or a TODO.

    The number and date formats are taken from the texts of ``sample`` (the first rows) where they show. With
    the ``schema`` of the MiniCRM system, the fields with allowed values (statuses, users) get value maps from
    the ERP values of the first rows to the system's ids, and the custom fields a profile may map are listed.
    """
    decimal, grouping, date_forms = sniff_locale(sample or [])
    lines = [
        "# xmlsync mapping profile, written by `xmlsync mapping init`.",
        "# Check it with `xmlsync mapping check PROFILE INPUT`; see the README for every key.",
        "",
        "[input]",
        f"format = {_toml(fmt)}",
    ]
    if fmt == "csv":
        encoding = "utf-8" if profile.encoding == "utf-8-sig" else profile.encoding
        lines += [
            f"encoding = {_toml(encoding)}   # utf-8, cp1250 or iso-8859-2",
            f"delimiter = {_toml(profile.delimiter)}",
        ]
    if profile.sheet is not None:
        lines.append(f"sheet = {_toml(profile.sheet)}")
    if fmt == "sql" and profile.query is not None:
        lines.append(f"query = {_toml(profile.query)}")
    elif fmt == "sql" and profile.table is not None:
        lines.append(f"table = {_toml(profile.table)}")
    if profile.header_row != 1:
        lines.append(f"header_row = {profile.header_row}   # the row of the column names")
    if profile.skip_rows:
        lines.append(f"skip_rows = {profile.skip_rows}   # rows passed over after the header")
    if profile.footer is not None:
        lines.append(f"footer = {_toml(profile.footer)}   # the data ends before a row starting with this")
    found = "   # found in the first rows"
    lines += [
        "",
        "[locale]",
        f"decimal_separator = {_toml(decimal)}{found}"
        if decimal
        else '# decimal_separator = ","       # "." by default',
        f"thousands_separator = {_toml(grouping)}{found}"
        if grouping
        else '# thousands_separator = " "     # none by default',
        f"date_formats = {json.dumps(date_forms, ensure_ascii=False)}{found}"
        if date_forms
        else '# date_formats = ["%Y.%m.%d"]   # strptime formats tried after YYYY-MM-DD; none by default',
        "",
        "[ids]",
        'non_numeric = "hash"   # keys such as OF-2024/0017 get stable numeric Ids; "error" refuses them',
        "",
        "[columns]",
    ]
    used: set[str] = set()
    mapped: dict[str, str] = {}
    coded: list[str] = []  # country fields whose column holds ISO codes in the first rows
    for name, spec in FLAT_FIELDS.items():
        column = _guess(name, header, COLUMN_NAMES.get(name, ()) + profile.names.get(name, ()))
        need = "required" if spec.required else "optional"
        if column is not None and column not in used:
            used.add(column)
            mapped[name] = column
            lines.append(f"{_toml(name)} = {_toml(column)}   # {need}")
            texts = [str(row.get(column) or "").strip() for row in sample or []]
            if name.endswith(".CountryId") and texts and all(text.upper() in COUNTRIES for text in texts if text):
                coded.append(name)
        else:
            lines.append(f'# {_toml(name)} = ""   # {need}: TODO')
    unused = [column for column in header if column not in used]
    if unused:
        lines += ["", "# Columns not mapped yet:"] + [f"#   {_toml(column)}" for column in unused]
    categories = card_categories(schema) if schema is not None else []
    lines += [
        "",
        "[constants]",
        f'"Project.CategoryId" = {categories[0]}   # the card category of the schema file'
        if len(categories) == 1 and "Project.CategoryId" not in mapped and categories[0].isdigit()
        else '# "Project.CategoryId" = 39',
        '# "Product.FolderName" = "ERP products"',
        "",
        '# [values."Offer.Status"]',
        '# "E" = "Accepted"',
        "",
    ]
    if coded:  # MiniCRM takes country names, in the language of the system
        lines += [
            "[countries]",
            f"fields = {json.dumps(coded)}   # ISO codes (HU, RO...) found in the first rows, written as names",
            'language = "en"   # the language of your MiniCRM system: en, hu or ro',
        ]
    else:
        lines += [
            "# [countries]",
            '# fields = ["Customer.CountryId", "Business.CountryId"]',
            '# language = "hu"   # en, hu or ro',
        ]
    if schema is not None:
        lines += template_lines(schema, mapped, sample or [])
    return "\n".join(lines) + "\n"
