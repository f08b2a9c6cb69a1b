"""The search page's shortcuts in rendering give the markup the slow way gave: templates'
messages (kept per language, values formatted without Markup's helper), the search form's
query strings (each value encoded once) and the language switch's names (Babel once)."""

from __future__ import annotations

from gettext import NullTranslations
from typing import Any
from urllib.parse import urlencode

import pytest
from babel import Locale
from markupsafe import Markup

from web import i18n
from web.catalog import CHOICE_FIELDS, TEXT_FIELDS, SearchForm
from web.settings import ROOT

VALUES: list[dict[str, Any]] = [
    {},
    {"count": "1,234"},
    {"count": 1234},
    {"count": "<b>&\"'</b>"},
    {"count": Markup("<i>kept</i>")},
    {"count": 1.5},
    {"count": True},
    {"count": None},
]


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("text", ["(%(count)s)", "100%% & <em>%(count)s</em>", "no values"])
def test_messages_with_values_give_the_markup_markup_gives(
    text: str, values: dict[str, Any]
) -> None:
    gettext = i18n.template_context(i18n.Translator("ja", NullTranslations()))["gettext"]
    if "%(count)s" not in text and values:
        return
    if "%(count)s" in text and not values:
        with pytest.raises(KeyError):  # as Markup's formatting: a missing value is an error
            gettext(text)
        return
    expected = Markup(text) % values if (values or "%" in text) else Markup(text)
    for _ in range(2):  # the second time from what the first kept
        got = gettext(text, **values)
        assert type(got) is Markup
        assert got == expected


def test_plurals_with_whole_numbers_give_the_same_markup() -> None:
    ngettext = i18n.template_context(i18n.Translator("en", NullTranslations()))["ngettext"]
    for n in (1, 2):
        got = ngettext("%(num)d work", "%(num)d works", n)
        assert got == Markup("%(num)d work" if n == 1 else "%(num)d works") % {"num": n}
        assert ngettext("%(total)s result", "%(total)s results", n, total="1,000") == Markup(
            "%(total)s result" if n == 1 else "%(total)s results"
        ) % {"total": "1,000"}


def test_messages_are_kept_per_language_and_plain_text_templates_escape_nothing() -> None:
    books = i18n.Catalogues(ROOT / "web" / "locale")
    ja, en = books.translators["ja"], books.translators["en"]
    ja_text = i18n.template_context(ja)["_"]("Search results")
    en_text = i18n.template_context(en)["_"]("Search results")
    assert ja_text != en_text and en_text == "Search results"
    assert i18n.template_context(ja)["_"]("Search results") is ja_text
    mail = i18n.template_context(ja, autoescape=False)["gettext"]
    assert type(mail("Search results")) is str
    assert mail("%(x)s", x="<b>") == "<b>"


def test_language_names_are_babels() -> None:
    tr = i18n.Translator("ja", NullTranslations())
    for lang in ("ja", "en"):
        assert tr.language_name(lang) == Locale.parse(lang).get_display_name(lang)


def test_search_form_query_strings_are_urlencodes() -> None:
    values = {name: "" for name in (*TEXT_FIELDS, *CHOICE_FIELDS, "page")}
    values.update(q="銀河 鉄道&a=b+c", author="宮沢", sort="relevance", ndc_class="9")
    form = SearchForm(values)

    def slow(**overrides: Any) -> str:
        merged = {**values, **{k: str(v) for k, v in overrides.items()}}
        kept = {k: v for k, v in merged.items() if v and not (k == "sort" and v == "relevance")}
        return urlencode(kept)

    for overrides in (
        {},
        {"page": 2},
        {"page": "", "ndc_class": ""},
        {"page": "", "branch": "central"},
        {"sort": "title", "page": 3},
        {"year_from": "1990", "year_to": "1999", "page": ""},
        {"page": 2},
    ):
        assert form.query_string(**overrides) == slow(**overrides)
