"""The page's language and its words: Babel catalogues, gettext, dates.

Catalogues live in `<locale dir>/<lang>/LC_MESSAGES/messages.po` (kept in git) and are
compiled to `.mo` at set-up (`make setup`). Every compiled catalogue found there is a
language of the site: a third language is one more catalogue and nothing else. msgids are
the English source text with `%(name)s` placeholders (newstyle gettext, as in templates).

A page is in one language: the patron's choice (a cookie) or else the browser's
Accept-Language, negotiated against the catalogues; Japanese when nothing matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.support import Translations
from markupsafe import Markup, escape
from starlette.requests import Request

from db import queries

DOMAIN = "messages"
COOKIE = "shiori_lang"
DEFAULT_LANG = "ja"


def N_(message: str) -> str:
    """Marks a msgid for extraction where it is translated later (a flash, a table)."""
    return message


# Translators: CLDR date patterns (babel.dates), one per language: "Tue 8 Dec 2026".
DATE_PATTERN = N_("EEE d MMM y")
# Translators: the same with the time of day: "Tue 8 Dec 2026 14:05".
DATETIME_PATTERN = N_("EEE d MMM y HH:mm")


def _fill(text: str, values: Mapping[str, object]) -> str:
    return text % values if values else text


@dataclass(frozen=True, eq=False)
class Translator:
    """One language's gettext, ngettext, pgettext and date formats."""

    lang: str
    translations: NullTranslations
    # Templates' messages without values, translated and marked safe once (template_context).
    markup: dict[str, Markup] = field(default_factory=dict, repr=False)

    def gettext(self, message: str, **values: object) -> str:
        return _fill(self.translations.gettext(message), values)

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        return _fill(self.translations.ngettext(singular, plural, n), values)

    def pgettext(self, context: str, message: str, **values: object) -> str:
        return _fill(self.translations.pgettext(context, message), values)

    def date(self, day: date) -> str:
        return format_date(day, self.gettext(DATE_PATTERN), locale=self.lang)

    def datetime(self, moment: datetime) -> str:
        # The library's time zone is db's business: the moment comes back in it.
        local = queries.to_library_time(moment)
        return format_datetime(local, self.gettext(DATETIME_PATTERN), locale=self.lang)

    def join(self, items: list[str]) -> str:
        """A list in the language's style: "a, b, and c", "a、b、c"."""
        return format_list(items, locale=self.lang)

    def language_name(self, lang: str) -> str:
        """A language's name in that language (for the switch link)."""
        return _language_name(lang)


@lru_cache(maxsize=64)
def _language_name(lang: str) -> str:
    # Babel's locale data is looked up afresh on each call: every page's header asks.
    return Locale.parse(lang).get_display_name(lang) or lang


class Catalogues:
    """The compiled catalogues of a locale folder, one Translator per language."""

    def __init__(self, folder: Path) -> None:
        found = sorted(p.parents[1].name for p in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
        if not found:
            raise RuntimeError(f"no compiled catalogue in {folder}: run `make setup`")
        self.translators = {
            lang: Translator(lang, Translations.load(str(folder), [lang], DOMAIN)) for lang in found
        }
        self.languages = tuple(found)
        self.default = DEFAULT_LANG if DEFAULT_LANG in found else found[0]

    def negotiate(self, accept_language: str) -> str:
        """The best catalogue for an Accept-Language header (RFC 9110 weights)."""
        weighted: list[tuple[float, str]] = []
        for part in accept_language.split(",")[:20]:
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    continue
            if tag and tag != "*" and quality > 0:
                weighted.append((quality, tag.strip()))
        preferred = [tag for _, tag in sorted(weighted, key=lambda w: -w[0])]
        return negotiate_locale(preferred, self.languages, sep="-") or self.default

    def choose(self, request: Request) -> str:
        chosen = request.cookies.get(COOKIE, "")
        if chosen in self.translators:
            return chosen
        return self.negotiate(request.headers.get("accept-language", ""))


def catalogues(request: Request) -> Catalogues:
    found: Catalogues = request.app.state.catalogues
    return found


def translator(request: Request) -> Translator:
    """The request's Translator, chosen once per request."""
    cached = request.scope.get("shiori_translator")
    if isinstance(cached, Translator):
        return cached
    books = catalogues(request)
    chosen = books.translators[books.choose(request)]
    request.scope["shiori_translator"] = chosen
    return chosen


# Bounds Translator.markup (msgids are the templates' own, a few thousand at most).
MAX_KNOWN_MESSAGES = 4096


def template_context(tr: Translator, autoescape: bool = True) -> dict[str, Any]:
    """What a template needs to speak the language: newstyle gettext callables (they
    format `%(name)s`; in an autoescaping template the message is markup and the values are
    escaped), and `lang`. Plain functions, not context functions: an environment either
    autoescapes every template or none, and a search page calls them some sixty times."""
    wrap = Markup if autoescape else str
    known = tr.markup

    def fill(text: str, values: dict[str, Any]) -> str:
        # The catalogue text is ours (trusted markup); Markup escapes the values. Whole
        # numbers and text, escaped here, give the same markup without Markup's helper
        # object per value (the catalogues format with %(name)s and %(num)d only).
        if values and autoescape:
            plain: dict[str, Any] = {}
            for name, value in values.items():
                kind = type(value)
                if kind is int:
                    plain[name] = value
                elif kind is str:
                    plain[name] = escape(value)
                else:
                    break
            else:
                return Markup(text % plain)  # noqa: S704 - trusted text, escaped values
        marked = wrap(text)
        # Formatting without placeholders changes nothing: most messages skip it.
        return marked % values if values or "%" in text else marked

    def gettext(message: str, **values: Any) -> str:
        if not values and autoescape:
            # A page asks for the same few hundred messages each time: each is translated
            # and marked once per language.
            found = known.get(message)
            if found is not None:
                return found
            text = tr.translations.gettext(message)
            if "%" in text or len(known) >= MAX_KNOWN_MESSAGES:
                return fill(text, values)
            found = known[message] = Markup(text)  # noqa: S704 - the catalogue's own text
            return found
        return fill(tr.translations.gettext(message), values)

    def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
        values.setdefault("num", n)
        return fill(tr.translations.ngettext(singular, plural, n), values)

    def pgettext(context: str, message: str, **values: Any) -> str:
        return fill(tr.translations.pgettext(context, message), values)

    return {
        "lang": tr.lang,
        "tr": tr,
        "gettext": gettext,
        "ngettext": ngettext,
        "pgettext": pgettext,
        "_": gettext,
    }
