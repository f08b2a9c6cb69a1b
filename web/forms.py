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


# Card numbers and barcodes as people and scanners type them: full-width (an IME left on),
# spaces, and dashes of every kind (２１００－000－002, 2100 000 002).
_DASHES = re.compile(r"[‐‑‒–—―−ー]")  # after NFKC: the IME's － is "-", its ｰ is "ー"
_SPACES = re.compile(r"\s+")


def as_barcode(raw: str) -> str:
    """A barcode as stored: NFKC (full-width → ASCII), no spaces, every dash as "-" (a
    migrated library's barcodes may carry hyphens)."""
    return _SPACES.sub("", _DASHES.sub("-", unicodedata.normalize("NFKC", raw)))


def as_card(raw: str) -> str:
    """A library card number as stored: digits read out in groups are one number."""
    return as_barcode(raw).replace("-", "")


def barcode(form: FormData, name: str, limit: int = 32) -> str:
    """A barcode field (`as_barcode`), cut to `limit` characters."""
    return as_barcode(text(form, name, limit * 2))[:limit]


def card(form: FormData, name: str, limit: int = 20) -> str:
    """A card-number field (`as_card`), cut to `limit` characters."""
    return as_card(text(form, name, limit * 2))[:limit]


def whole_number(raw: str) -> int | None:
    """A number typed in a field: decimal digits, full-width ones too (NFKC); None for
    anything else, other scripts' digits and superscripts included (as db.digits reads them)."""
    value = raw.strip()
    folded = unicodedata.normalize("NFKC", value)
    return int(folded) if value.isdecimal() and folded.isascii() else None


# Japanese eras (和暦) a typed date may use, newest first: (name, initial, first day).
_ERAS = (
    ("令和", "R", date(2019, 5, 1)),
    ("平成", "H", date(1989, 1, 8)),
    ("昭和", "S", date(1926, 12, 25)),
    ("大正", "T", date(1912, 7, 30)),
    ("明治", "M", date(1868, 1, 25)),
)
_ERA = "|".join(n for n, _, _ in _ERAS) + "|[" + "".join(i for _, i, _ in _ERAS) + "]"
_YEAR = rf"(?P<era>{_ERA})?\s*(?P<year>[0-9]{{1,4}}|元)\s*(?:年|[./\s-])\s*(?P<month>[0-9]{{1,2}})"
_DAY = re.compile(rf"{_YEAR}\s*(?:月|[./\s-])\s*(?P<day>[0-9]{{1,2}})\s*日?", re.IGNORECASE)
_MONTH = re.compile(rf"{_YEAR}\s*月?", re.IGNORECASE)
# Eight digits with no separators, as some people (and forms elsewhere) write a date: 19900401.
_COMPACT = re.compile(r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})")


def _western_year(era: str | None, year: str) -> tuple[int, date | None, date | None]:
    """(西暦 year, first day of the era, first day of the next era) of a typed year."""
    number = 1 if year == "元" else int(year)
    if not era:
        return (number if number >= 1000 else 0), None, None
    for index, (name, initial, first) in enumerate(_ERAS):
        if era in (name, initial, initial.lower()):
            following = _ERAS[index - 1][2] if index else None
            return first.year + number - 1, first, following
    return 0, None, None


def calendar_date(raw: str) -> date | None:
    """A date typed in 西暦 or 和暦, full-width digits too: 2026-12-28, 2026/12/28,
    2026年12月28日, 20261228, 令和8年12月28日, R8.12.28, 令和元年5月1日. None for anything
    else, a date that does not exist, or an era date outside its era (平成31年5月1日)."""
    typed = unicodedata.normalize("NFKC", raw).strip()
    found = _DAY.fullmatch(typed) or _COMPACT.fullmatch(typed)
    if found is None:
        return None
    year, first, following = _western_year(found.groupdict().get("era"), found["year"])
    try:
        value = date(year, int(found["month"]), int(found["day"]))
    except ValueError:
        return None
    if (first is not None and value < first) or (following is not None and value >= following):
        return None
    return value


def year_month(raw: str) -> tuple[int, int] | None:
    """A month typed like 2026-12, 2026年12月 or 令和8年12月 (full-width digits too)."""
    found = _MONTH.fullmatch(unicodedata.normalize("NFKC", raw).strip())
    if found is None:
        return None
    year, _, _ = _western_year(found["era"], found["year"])
    month = int(found["month"])
    return (year, month) if 1 <= year <= 9999 and 1 <= month <= 12 else None
