"""Reading a POSTed form: one set of limits for every handler.

The CSRF middleware (web.csrf) may have parsed the form already to find its token; it leaves
the parsed form in the request scope, and `read` hands that one out instead of parsing the
body a second time (each Starlette `Request` object caches its own form only)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from starlette.datastructures import FormData
from starlette.requests import Request

from web.limits import MAX_FIELDS, MAX_PART_SIZE

SCOPE_KEY = "shiori.form"


# NUL and the other C0 control characters (but tab and line breaks) are never typed text;
# PostgreSQL refuses NUL in a text value outright, so they never get past the form.
_CONTROLS = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def clean(value: str) -> str:
    """`value` without control characters (tab and line breaks kept)."""
    return value.translate(_CONTROLS)


async def parse(request: Request) -> FormData:
    """Parse the body with the site's limits (400 when it breaks them) and keep it, every
    name and value without control characters (`clean`)."""
    parsed = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_PART_SIZE)
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


def whole_number(raw: str) -> int | None:
    """A number typed in a field: decimal digits, full-width ones too (NFKC); None for
    anything else, other scripts' digits and superscripts included (as db.digits reads them)."""
    value = raw.strip()
    folded = unicodedata.normalize("NFKC", value)
    return int(folded) if value.isdecimal() and folded.isascii() else None


_ERAS = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988}  # era name → the year before its year 1
_DATE = re.compile(r"(令和|平成|r|h)?([0-9]{1,4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?")


def calendar_date(raw: str) -> date | None:
    """A date typed in a field: 2026-12-10, 2026/12/10, 2026年12月10日, 和暦 (令和8年12月10日,
    R8.12.10), full-width digits too; None when it is not a real date."""
    folded = re.sub(r"\s", "", unicodedata.normalize("NFKC", raw)).lower()
    found = _DATE.fullmatch(folded)
    if found is None:
        return None
    era, year, month, day = found.groups()
    try:
        return date(int(year) + _ERAS[era] if era else int(year), int(month), int(day))
    except ValueError:
        return None
