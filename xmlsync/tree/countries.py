"""ISO 3166-1 alpha-2 codes -> the country names MiniCRM expects in ``CountryId``, in English, Hungarian and Romanian.

MiniCRM's XML takes a country *name* in the account's language (``Hungary`` / ``Magyarország`` /
``Ungaria``). The names follow the spelling MiniCRM's own WooCommerce plugin sends. The table covers Europe
and the main trade partners; other codes are reported as unknown, and a profile's value map can add them.
"""

from __future__ import annotations

LANGUAGES = ("en", "hu", "ro")

# code: (English, Hungarian, Romanian)
COUNTRIES: dict[str, tuple[str, str, str]] = {
    "AD": ("Andorra", "Andorra", "Andorra"),
    "AE": ("United Arab Emirates", "Egyesült Arab Emírségek", "Emiratele Arabe Unite"),
    "AL": ("Albania", "Albánia", "Albania"),
    "AM": ("Armenia", "Örményország", "Armenia"),
    "AT": ("Austria", "Ausztria", "Austria"),
    "AU": ("Australia", "Ausztrália", "Australia"),
    "AZ": ("Azerbaijan", "Azerbajdzsán", "Azerbaijan"),
    "BA": ("Bosnia and Herzegovina", "Bosznia-Hercegovina", "Bosnia și Herzegovina"),
    "BE": ("Belgium", "Belgium", "Belgia"),
    "BG": ("Bulgaria", "Bulgária", "Bulgaria"),
    "BR": ("Brazil", "Brazília", "Brazilia"),
    "BY": ("Belarus", "Fehéroroszország", "Belarus"),
    "CA": ("Canada", "Kanada", "Canada"),
    "CH": ("Switzerland", "Svájc", "Elveția"),
    "CN": ("China", "Kína", "China"),
    "CY": ("Cyprus", "Ciprus", "Cipru"),
    "CZ": ("Czech Republic", "Cseh Köztársaság", "Republica Cehă"),
    "DE": ("Germany", "Németország", "Germania"),
    "DK": ("Denmark", "Dánia", "Danemarca"),
    "EE": ("Estonia", "Észtország", "Estonia"),
    "ES": ("Spain", "Spanyolország", "Spania"),
    "FI": ("Finland", "Finnország", "Finlanda"),
    "FR": ("France", "Franciaország", "Franța"),
    "GB": ("United Kingdom", "Egyesült Királyság", "Marea Britanie"),
    "GE": ("Georgia", "Grúzia", "Georgia"),
    "GR": ("Greece", "Görögország", "Grecia"),
    "HR": ("Croatia", "Horvátország", "Croația"),
    "HU": ("Hungary", "Magyarország", "Ungaria"),
    "IE": ("Ireland", "Írország", "Irlanda"),
    "IL": ("Israel", "Izrael", "Israel"),
    "IN": ("India", "India", "India"),
    "IS": ("Iceland", "Izland", "Islanda"),
    "IT": ("Italy", "Olaszország", "Italia"),
    "JP": ("Japan", "Japán", "Japonia"),
    "KR": ("South Korea", "Dél-Korea", "Korea de Sud"),
    "LI": ("Liechtenstein", "Liechtenstein", "Liechtenstein"),
    "LT": ("Lithuania", "Litvánia", "Lituania"),
    "LU": ("Luxembourg", "Luxemburg", "Luxembourg"),
    "LV": ("Latvia", "Lettország", "Letonia"),
    "MC": ("Monaco", "Monaco", "Monaco"),
    "MD": ("Moldova", "Moldova", "Moldova"),
    "ME": ("Montenegro", "Montenegró", "Montenegro"),
    "MK": ("Macedonia", "Macedónia", "Macedonia"),
    "MT": ("Malta", "Málta", "Malta"),
    "MX": ("Mexico", "Mexikó", "Mexico"),
    "NL": ("Netherlands", "Hollandia", "Olanda"),
    "NO": ("Norway", "Norvégia", "Norvegia"),
    "NZ": ("New Zealand", "Új-Zéland", "Noua Zeelandă"),
    "PL": ("Poland", "Lengyelország", "Polonia"),
    "PT": ("Portugal", "Portugália", "Portugalia"),
    "RO": ("Romania", "Románia", "România"),
    "RS": ("Serbia", "Szerbia", "Serbia"),
    "RU": ("Russia", "Oroszország", "Rusia"),
    "SE": ("Sweden", "Svédország", "Suedia"),
    "SG": ("Singapore", "Szingapúr", "Singapore"),
    "SI": ("Slovenia", "Szlovénia", "Slovenia"),
    "SK": ("Slovakia", "Szlovákia", "Slovacia"),
    "SM": ("San Marino", "San Marino", "San Marino"),
    "TR": ("Turkey", "Törökország", "Turcia"),
    "UA": ("Ukraine", "Ukrajna", "Ucrainia"),
    "US": ("United States", "USA", "Statele Unite"),
    "VA": ("Vatican", "Vatikán", "Vatican"),
    "ZA": ("South Africa", "Dél-afrikai Köztársaság", "Africa de Sud"),
}


def country_name(code: str, language: str) -> str | None:
    """Return the MiniCRM country name for an ISO code (any case) in ``en``, ``hu`` or ``ro``, or ``None``."""
    names = COUNTRIES.get(code.strip().upper())
    return names[LANGUAGES.index(language)] if names else None


COUNTRY_NAMES = frozenset(name for names in COUNTRIES.values() for name in names)  # every language's
