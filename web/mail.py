"""The text of the mail Shiori sends, composed at delivery in the patron's language.

db queues a notice as its kind, the patron's language and parameters (db.outbox); the
mail sender (`shiori mail send` / `worker`) is handed a `MailComposer`, which renders
`templates/mail/<kind>.txt` with that language's catalogue (the default language when there
is no catalogue for it). A mail template is plain text (not autoescaped): its `subject`
block is the topic of the subject line, the rest is the body; `mail/_layout.txt` ends every
body with the line that the library never asks for a password. Subjects name no title: the
subject line is what a shared screen or a mail log shows.

Parameters arrive as JSON: dates and times as ISO strings, which the `date` and `datetime`
filters read and format with babel.dates in the library's time zone, like the pages;
branches as codes, which `branch_name` names in the mail's language.

Links. A link that names a token (a password reset) is made where the notice is queued and
travels in its parameters. A link to one of the patron's own pages in My Library carries
nothing of the patron and is made here, at delivery: `public_url("holds")` is the absolute
address of a named page of `PAGES` at the library whose mail is being sent (the mail worker
runs each library's mail in that library: web.library_host.public_base), so a mail queued
before the library's host changed, or re-queued by staff, still points at the right place.
It takes no parameters, so no personal value or token can reach such a link; the page asks
a reader who is not logged in to log in first and then shows itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from starlette.routing import Router

from db import queries
from web import holds, i18n, library_host, loans
from web.i18n import N_
from web.settings import ROOT, Settings
from web.templating import LANGUAGE_FILTERS, LANGUAGE_GLOBALS

# The library's name in the subject line of every mail.
LIBRARY_NAME = N_("Fujisawa City Libraries")
# Translators: a mail's subject line: the library, then what the mail is about.
SUBJECT_LINE = N_("[%(library)s] %(topic)s")

_env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    extensions=["jinja2.ext.i18n"],
    # Plain text mail: an escaped "&amp;" would reach the patron as it is.
    autoescape=False,  # noqa: S701
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,
)
_env.newstyle_gettext = True  # type: ignore[attr-defined]


@pass_context
def _date(ctx: Context, iso: str) -> str:
    return str(ctx["tr"].date(date.fromisoformat(iso)))


@pass_context
def _datetime(ctx: Context, iso: str) -> str:
    return str(ctx["tr"].datetime(datetime.fromisoformat(iso)))


@pass_context
def _branch_name(ctx: Context, code: str) -> str:
    """A branch's name in the mail's language (its code if the branch is gone)."""
    for branch in queries.list_branches():
        if branch.code == code:
            return branch.name.get(ctx["lang"])
    return code


@pass_context
def _material_name(ctx: Context, code: str) -> str:
    """A material type's name in the mail's language (its code if the type is gone)."""
    for mtype in queries.list_material_types():
        if mtype.code == code:
            return mtype.name.get(ctx["lang"])
    return code


_env.filters.update(LANGUAGE_FILTERS)
_env.globals.update(LANGUAGE_GLOBALS)
_env.filters["date"] = _date
_env.filters["datetime"] = _datetime
_env.filters["branch_name"] = _branch_name
_env.filters["material_name"] = _material_name


# The pages a mail may link to with `public_url(name)`: My Library's, by route name.
PAGES = Router(routes=[*holds.routes, *loans.routes])


class MailComposer:
    """`(kind, lang, params) -> (subject, body)`: the sender's compose function. `settings`
    give the public URL (SHIORI_PUBLIC_URL) the library's links are made from."""

    def __init__(self, catalogues: i18n.Catalogues, settings: Settings) -> None:
        self.catalogues = catalogues
        self.settings = settings

    def public_url(self, name: str) -> str:
        """The absolute address of the page `name` (PAGES) at the current library."""
        return library_host.public_base(self.settings) + str(PAGES.url_path_for(name))

    def __call__(self, kind: str, lang: str, params: Mapping[str, Any]) -> tuple[str, str]:
        books = self.catalogues
        tr = books.translators.get(lang) or books.translators[books.default]
        template = _env.get_template(f"mail/{kind}.txt")
        values: dict[str, Any] = {
            **i18n.template_context(tr, autoescape=False),
            # The identity's name (cached per library, as the page header reads it).
            "library": dict(queries.library_identity().names.texts).get(tr.lang)
            or tr.gettext(LIBRARY_NAME),
            **params,
            "public_url": self.public_url,
        }
        topic = "".join(template.blocks["subject"](template.new_context(values))).strip()
        subject = tr.gettext(SUBJECT_LINE, library=values["library"], topic=topic)
        return subject, template.render(values)
