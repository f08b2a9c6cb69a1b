"""What a record page tells software: its canonical address, schema.org JSON-LD and COinS.

JSON-LD modelling. The work is a schema.org `Book` (a `CreativeWork` when every copy is
audio-visual: a recording is not a book). The library's copies are `offers`, one `Offer` per
copy, the holdings pattern of the W3C Schema Bib Extend group that schema.org's own library
examples and VuFind follow: `availability` (InStock on the shelf, InStoreOnly for reference
copies, OutOfStock otherwise), `availableAtOrFrom` the branch (a `Library`), `sku` the call
number, `businessFunction` LeaseOut (lending, free of charge) and `offeredBy` the library.
`workExample` would describe editions, which a record of ours does not separate; offers say
what a reader can get and where, which is what the copies are. Missing copies are left out;
barcodes are never published.

The JSON goes in a `<script type="application/ld+json">` data block: the CSP's
`script-src 'self'` does not apply to a data block (it is never executed), so no nonce is
needed. It is written with Jinja's `tojson`, which escapes <, >, & and ' so no text of a
record can close the script element.

COinS (a `Z3988` span with an OpenURL 1.0 KEV context object) lets Zotero and other citation
managers save the record.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from db import queries
from web import i18n, library_host
from web.sessions import settings_of
from web.templating import path_for

SCHEMA = "https://schema.org/"
LEASE_OUT = "http://purl.org/goodrelations/v1#LeaseOut"
# Material types that are not books (db.rules' demo codes): a work held only as these is a
# CreativeWork.
NOT_BOOKS = frozenset({"av"})
# MARC language codes (008/35-37) of the catalogue as BCP 47 tags, which schema.org wants.
_LANGUAGES = {
    "jpn": "ja",
    "eng": "en",
    "chi": "zh",
    "kor": "ko",
    "fre": "fr",
    "ger": "de",
    "spa": "es",
    "ita": "it",
    "rus": "ru",
    "por": "pt",
    "ara": "ar",
    "heb": "he",
    "gre": "el",
    "lat": "la",
    "dut": "nl",
    "vie": "vi",
    "tha": "th",
}


def base_url(request: Request) -> str:
    """The request's library's public URL (web.library_host): SHIORI_PUBLIC_URL for library
    1, its scheme with the library's configured host for another. Never the Host header,
    which is the client's to choose."""
    found = request.scope.get("shiori_public_url")
    return str(found) if found else library_host.public_base(settings_of(request))


def public_url(request: Request, name: str, **params: Any) -> str:
    """An absolute address of a page of the request's library (base_url)."""
    return base_url(request) + path_for(request, name, **params)


def is_book(record: queries.Record) -> bool:
    return (
        bool(record.isbn)
        or not record.copies
        or any(c.material_type not in NOT_BOOKS for c in record.copies)
    )


def isbn13s(record: queries.Record) -> list[str]:
    found = (queries.normalise_isbn(raw) for raw in record.isbn)
    return list(dict.fromkeys(isbn for isbn in found if isbn))


def _availability(copy: queries.Copy) -> str:
    if copy.status != "available":
        return SCHEMA + "OutOfStock"
    return SCHEMA + ("InStock" if copy.reservable else "InStoreOnly")


def json_ld(request: Request, record: queries.Record, url: str) -> dict[str, Any]:
    tr = i18n.translator(request)
    # The identity's name (cached per library, as the page header reads it).
    name = dict(queries.library_identity().names.texts).get(tr.lang)
    library = {"@type": "Library", "name": name or tr.gettext("Fujisawa City Libraries")}
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Book" if is_book(record) else "CreativeWork",
        "@id": url,
        "url": url,
        "name": record.title,
    }
    if record.subtitle:
        data["alternativeHeadline"] = record.subtitle
    isbns = isbn13s(record)
    if isbns and data["@type"] == "Book":
        data["isbn"] = isbns[0] if len(isbns) == 1 else isbns
    if record.authors:
        data["author"] = [{"@type": "Person", "name": name} for name in record.authors]
    if record.publisher:
        data["publisher"] = {"@type": "Organization", "name": record.publisher}
    if record.pub_year:
        data["datePublished"] = str(record.pub_year)
    language = _LANGUAGES.get(record.language)
    if language:
        data["inLanguage"] = language
    if record.edition and data["@type"] == "Book":
        data["bookEdition"] = record.edition
    if record.subjects:
        data["about"] = list(record.subjects)
    offers = []
    for copy in record.copies:
        if copy.status == "missing":
            continue
        offer: dict[str, Any] = {
            "@type": "Offer",
            "availability": _availability(copy),
            "availableAtOrFrom": {"@type": "Library", "name": copy.branch_name.get(tr.lang)},
            "offeredBy": library,
            "price": "0",
            "priceCurrency": "JPY",
        }
        if copy.call_number:
            offer["sku"] = copy.call_number
        if copy.reservable:
            offer["businessFunction"] = LEASE_OUT
        offers.append(offer)
    if offers:
        data["offers"] = offers
    return data


def coins(record: queries.Record, url: str) -> str:
    """The OpenURL 1.0 KEV context object of a COinS span (book format, or Dublin Core for
    what is not a book)."""
    pairs: list[tuple[str, str]] = [("ctx_ver", "Z39.88-2004"), ("rft_id", url)]
    if is_book(record):
        pairs += [("rft_val_fmt", "info:ofi/fmt:kev:mtx:book"), ("rft.genre", "book")]
        pairs.append(("rft.btitle", record.title))
        pairs += [("rft.au", name) for name in record.authors]
        if record.publisher:
            pairs.append(("rft.pub", record.publisher))
        if record.pub_place:
            pairs.append(("rft.place", record.pub_place))
        if record.edition:
            pairs.append(("rft.edition", record.edition))
        pairs += [("rft.isbn", isbn) for isbn in isbn13s(record)[:1]]
    else:
        pairs += [("rft_val_fmt", "info:ofi/fmt:kev:mtx:dc"), ("rft.title", record.title)]
        pairs += [("rft.creator", name) for name in record.authors]
        if record.publisher:
            pairs.append(("rft.publisher", record.publisher))
    if record.pub_year:
        pairs.append(("rft.date", str(record.pub_year)))
    if record.language:
        pairs.append(("rft.language", record.language))
    return urlencode(pairs)


def record_context(request: Request, record: queries.Record) -> dict[str, Any]:
    """Template values for a record page's canonical link, JSON-LD and COinS."""
    url = public_url(request, "record", work_id=record.id)
    return {
        "canonical_url": url,
        "json_ld": json_ld(request, record, url),
        "coins": coins(record, url),
    }
