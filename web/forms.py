"""Reading a POSTed form: one set of limits for every handler.

The CSRF middleware (web.csrf) may have parsed the form already to find its token; it leaves
the parsed form in the request scope, and `read` hands that one out instead of parsing the
body a second time (each Starlette `Request` object caches its own form only)."""

from __future__ import annotations

import unicodedata
from datetime import date

from starlette.datastructures import FormData
from starlette.requests import Request

from db import queries
from web.limits import MAX_FIELDS, MAX_PART_SIZE

SCOPE_KEY = "shiori.form"


# NUL and the other C0 control characters (but tab and line breaks) are never typed text;
# PostgreSQL refuses NUL in a text value outright, so they never get past the form.
_CONTROLS = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def clean(value: str) -> str:
    """`value` without control characters (tab and line breaks kept), a line break as "\n":
    browsers send CRLF but count it as one character against `maxlength`."""
    return value.replace("\r\n", "\n").translate(_CONTROLS)


# The only forms that carry a file (one each; its size is the body limit's, web.limits).
FILE_UPLOADS = frozenset({"/staff/codes/identity/logo"})


async def parse(request: Request) -> FormData:
    """Parse the body with the site's limits (400 when it breaks them) and keep it, every
    name and value without control characters (`clean`)."""
    files = 1 if request.url.path in FILE_UPLOADS else 0
    parsed = await request.form(max_files=files, max_fields=MAX_FIELDS, max_part_size=MAX_PART_SIZE)
    form = FormData(
        [(clean(k), clean(v) if isinstance(v, str) else v) for k, v in parsed.multi_items()]
    )
    request.scope[SCOPE_KEY] = form
    return form


async def read(request: Request) -> FormData:
    """The request's form, parsed once per request."""
    cached: FormData | None = request.scope.get(SCOPE_KEY)
    return cached if cached is not None else await parse(request)


def query(request: Request, name: str, limit: int = 200) -> str:
    """A query-string parameter, cut to `limit` characters, without control characters."""
    return clean(request.query_params.get(name, ""))[:limit]


def text(form: FormData, name: str, limit: int = 200) -> str:
    """A text field, cut to `limit` characters (an absent field or a file is "")."""
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


# Card numbers, barcodes, codes and dates as people and scanners type them: db.japanese_input
# is the one normaliser (full-width, spaces, hyphens of every width, 和暦); the importers use
# it too.
_typed = queries.japanese_input


def as_barcode(raw: str) -> str:
    """A barcode as stored (db.japanese_input.barcode); text that cannot be one is kept
    trimmed, so a lookup finds nothing rather than something else."""
    return _typed.barcode(raw) or raw.strip()


def as_card(raw: str) -> str:
    """A library card number as stored (db.japanese_input.card_number); text that cannot be
    one is kept trimmed, so a lookup finds nothing rather than something else."""
    return _typed.card_number(raw) or raw.strip()


def barcode(form: FormData, name: str, limit: int = 32) -> str:
    """A barcode field (`as_barcode`), cut to `limit` characters."""
    return as_barcode(text(form, name, limit * 2))[:limit]


def card(form: FormData, name: str, limit: int = 20) -> str:
    """A card-number field (`as_card`), cut to `limit` characters."""
    return as_card(text(form, name, limit * 2))[:limit]


def typed_code(form: FormData, name: str, limit: int = 20) -> str:
    """A code field such as a staff ID (db.japanese_input.typed_code: Ｓ００２ is S002), cut
    to `limit` characters; whether it is a valid one is for the query layer to say."""
    return _typed.typed_code(text(form, name, limit * 2))[:limit]


def whole_number(raw: str) -> int | None:
    """A number typed in a field: decimal digits, full-width ones too (NFKC); None for
    anything else, other scripts' digits and superscripts included (as db.digits reads them)."""
    value = raw.strip()
    folded = unicodedata.normalize("NFKC", value)
    return int(folded) if value.isdecimal() and folded.isascii() else None


def calendar_date(raw: str) -> date | None:
    """A date typed in 西暦 or 和暦 (db.japanese_input.calendar_date), or None."""
    return _typed.calendar_date(raw)


def calendar_date_of_parts(year: str, month: str, day: str) -> date | None:
    """A date typed in three boxes, the year in 西暦 or 和暦 (2014, 平成26, H26), or None
    (db.japanese_input.calendar_date_of_parts)."""
    return _typed.calendar_date_of_parts(year, month, day)


def year(raw: str) -> int | None:
    """A year typed like 1990, 平成2 or H2 (db.japanese_input.year), or None."""
    return _typed.year(raw)


def year_month(raw: str) -> tuple[int, int] | None:
    """A month typed like 2026-12, 2026年12月 or 令和8年12月 (db.japanese_input.year_month)."""
    return _typed.year_month(raw)
