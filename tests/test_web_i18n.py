"""Messages through Babel: every message has a translation in every catalogue, a page speaks
one language, counts take plurals, a third language is one more catalogue, dates go through
babel.dates, and templates build links from named routes."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import text
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from db import engine, queries
from db.errors import CODES
from tests.conftest import Database, app_settings
from tests.test_queries_registration import FORM
from tests.test_queries_registration import submit as submit_application
from tests.test_web_account import log_in
from tests.test_web_holds import HANAKO, TARO, patron_id
from tests.test_web_staff import (  # noqa: F401 - fixtures
    Clock,
    Console,
    _team_template,
    app,
    clock,
    library_db,
    new_account,
    team,
)
from web import refusals
from web.app import create_app
from web.i18n import Catalogues
from web.settings import LOCALE_DIR, ROOT

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalogues() -> dict[str, Catalog]:
    found = {}
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as fh:
            found[po.parents[1].name] = read_po(fh)
    return found


def extracted() -> dict[tuple[str | None, str], str]:
    """Every message in web/ and templates/, found by Babel's own extractors."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[tuple[str | None, str], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        found[(context, msgid)] = f"{filename}:{lineno}"
    return found


# (a) -----------------------------------------------------------------------------------


def test_every_message_is_translated_in_every_catalogue() -> None:
    messages = extracted()
    books = catalogues()
    assert {"ja", "en"} <= set(books)
    assert len(messages) > 300
    for lang, book in books.items():
        for (context, msgid), where in messages.items():
            entry = book.get(msgid, context=context)
            assert entry is not None, f"{lang}: no entry for {msgid!r} ({where})"
            assert not entry.fuzzy, f"{lang}: fuzzy {msgid!r}"
            forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert forms and all(forms), f"{lang}: empty translation of {msgid!r} ({where})"
            ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
            wanted = {name for i in ids for name in PLACEHOLDER.findall(i)}
            for form in forms:
                # A plural form may leave out the count (Japanese has one form for all).
                got = set(PLACEHOLDER.findall(form))
                assert got <= wanted and wanted - got <= {"num", "count"}, (lang, msgid, form)
        stale = [m.id for m in book if m.id and (m.context, _first(m.id)) not in messages]
        assert not stale, f"{lang}: messages no longer used: {stale}"
    ja = books["ja"]
    assert ja.num_plurals == 1 and ja.plural_expr == "0"


def _first(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _refusal_codes_in_db_source() -> set[str]:
    """Codes written in db: `code = "…"` in a refusal class, or the first argument of a
    refusal's constructor (a QueryError subclass, Refusal, Refusal.of)."""
    names = {"Refusal", "of"}
    pending: list[type] = [queries.QueryError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    found: set[str] = set()
    for path in (ROOT / "db").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", "") for t in node.targets] == ["code"]
                and isinstance(node.value, ast.Constant)
                and node.value.value  # the base class has none
            ):
                found.add(node.value.value)
            if isinstance(node, ast.Call) and node.args:
                called = getattr(node.func, "id", getattr(node.func, "attr", ""))
                first = node.args[0]
                if called in names and isinstance(first, ast.Constant):
                    found.add(first.value)
    return found


def test_every_refusal_code_db_can_raise_has_a_message_in_every_language() -> None:
    in_source = _refusal_codes_in_db_source()
    assert len(in_source) > 80
    assert in_source <= CODES, f"not in db.errors.CODES: {in_source - CODES}"
    assert set(refusals.MESSAGES) == set(CODES)
    books = Catalogues(LOCALE_DIR)
    for code, msgid in refusals.MESSAGES.items():
        params = {name: 7 for name in PLACEHOLDER.findall(msgid)}
        for lang, tr in books.translators.items():
            text = refusals.words(tr, queries.Refusal.of(code, **params))
            assert text and "%(" not in text, (lang, code, text)
            if lang != "en":
                assert text != msgid, f"{lang}: {code} is not translated"
    with pytest.raises(ValueError, match="unknown refusal code"):
        queries.QueryError("no_such_code")


def test_the_compiled_catalogues_match_the_po_files() -> None:
    """`make setup` compiles; a .mo older than its .po would show stale words."""
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, f"run make setup: {mo}"


# (b) -----------------------------------------------------------------------------------


def _fragments(texts: set[str]) -> set[str]:
    """Whole words of the catalogue: the text between placeholders, 4 characters or more."""
    found = set()
    for t in texts:
        for part in PLACEHOLDER.split(t)[::2]:
            part = part.strip(" :：()（）「」/.,。、")
            if len(part) >= 4:
                found.add(part)
    return found


# Catalogue words that are also catalogue data (Aozora Bunko is the publisher of its texts).
DATA_WORDS = {"青空文庫"}


def _markers() -> dict[str, set[str]]:
    """Per language, the words only its catalogue says (not the other language's)."""
    books = catalogues()
    texts: dict[str, set[str]] = {}
    for lang in ("ja", "en"):
        texts[lang] = set()
        for m in books[lang]:
            if m.id:
                texts[lang].update(m.string if isinstance(m.string, tuple) else (m.string,))
    markers = {}
    for lang, other in (("ja", "en"), ("en", "ja")):
        mine = _fragments(texts[lang] - texts[other])
        # A word that also stands inside a message of the other language is no marker.
        joined = "\n".join(texts[other])
        markers[lang] = {f for f in mine if f not in joined and f not in DATA_WORDS}
    return markers


def _visible(html: str, lang: str) -> str:
    """The words a reader meets: text and labelling attributes, without scripts, and
    without elements marked as deliberately in another language (lang="…")."""
    html = re.sub(r"<(script|style|template)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(rf'<(\w+)\b[^>]*\blang="(?!{lang}")[^"]*"[^>]*>.*?</\1>', " ", html, flags=re.S)
    attributes = re.findall(r'\b(?:aria-label|placeholder|alt|title|data-msg-\w+)="([^"]*)"', html)
    return "\n".join([*re.findall(r">([^<]+)<", html), *attributes])


def _speaks_only(html: str, lang: str, markers: dict[str, set[str]], where: str) -> None:
    text = _visible(html, lang)
    other = "en" if lang == "ja" else "ja"
    if other == "en":
        # A whole word: a code such as `patron_record` (the audit log's screen) is no message.
        leaks = [
            w
            for w in markers["en"]
            if re.search(rf"(?<![A-Za-z_]){re.escape(w)}(?![A-Za-z_])", text)
        ]
    else:
        leaks = [w for w in markers["ja"] if w in text]
    assert not leaks, f"{where} in {lang} shows {other} messages: {sorted(leaks)[:10]}"
    own = [w for w in markers[lang] if w in text]
    assert own, f"{where} in {lang} shows no message of its own language"


def _get_routes(asgi: object) -> Iterator[tuple[str, str]]:
    """(name, path) of every GET route, staff ones as `staff:<name>`."""
    for route in asgi.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount) and route.name == "staff":
            for inner in route.routes:
                if isinstance(inner, Route) and "GET" in (inner.methods or ()):
                    yield f"staff:{inner.name}", f"/staff{inner.path}"
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            yield route.name, route.path


def _an_application() -> int:
    """A counted library-card application (for the staff page that shows one)."""
    receipt = submit_application(FORM)
    manager = queries.StaffActor(1, "LNG00", "試験", "manager", (), 1)
    return queries.find_application(manager, receipt.receipt_number)


def _an_address_change(patron: int) -> int:
    """An address change waiting for the counter (for the staff page that shows one)."""
    queries.request_address_change(patron, "2510052", "藤沢市藤沢2-2")
    manager = queries.StaffActor(1, "LNG00", "試験", "manager", (), 1)
    return queries.list_address_changes(manager)[0].id


def _works_to_reserve(n: int, card: str) -> list[int]:
    """Works with copies that the patron does not have on loan."""
    lent = {loan.work_id for loan in queries.list_loans(patron_id(card))}
    with engine.read() as conn:
        rows = conn.execute(text("SELECT DISTINCT work_id FROM item ORDER BY work_id")).scalars()
        return [int(r) for r in rows if int(r) not in lent][:n]


# JSON and redirects speak no language; the staff second-factor page needs a half-login.
# A one-time link is no page: it trades its token for a cookie and sends on (303).
NOT_PAGES = {
    "booklist_state",
    "lang",
    "static",
    "static_unversioned",
    "busy",  # nginx's 429 and 413 pages: tests/test_web_forwarded.py
    "too_large",
    "health",  # plain text for monitoring
    "staff:mfa_page",
    "staff:enrol_link",
    "kiosk_enrol_link",  # moves its token into a cookie, like staff:enrol_link
    "staff:reference_cases_crd",  # an XML download
    "my_data_json",  # downloads (the CSV's headings are checked in tests/test_web_mydata.py)
    "my_data_csv",
    "staff:stats_csv",  # a CSV download (its header's language: test_web_staff_stats)
    "staff:stats_charts_css",  # the charts' stylesheet
    "library_logo",  # an image (404 until a manager uploads one)
    # For other software: redirects by identifier, JSON, sitemaps and robots.txt
    # (tests/test_web_opendata.py checks their words where they have any).
    "by_isbn",
    "by_ndl",
    "api_availability",
    "sitemap_index",
    "sitemap_file",
    "robots",
}


def _a_terminal() -> tuple[int, str]:
    """A library terminal registered by the manager: (its id, its enrolment link token)."""
    manager = next(a for a in queries.list_staff_accounts() if a.staff_code == "M001")
    with engine.read() as conn:
        branch_id = conn.execute(
            text("SELECT branch_id FROM staff_account WHERE id = :i"), {"i": manager.id}
        ).scalar_one()
    actor = queries.StaffActor(manager.id, "M001", "", "manager", (), int(branch_id))
    data = queries.TerminalInput("総合 OPAC 1", "sogo", "2階", "一般開架: 2階")
    return queries.create_terminal(actor, data)


def _published_case(author_id: int) -> int:
    """A public reference case written by `author_id` and approved by the manager."""
    accounts = {a.staff_code: a for a in queries.list_staff_accounts()}

    def actor(code: str) -> queries.StaffActor:
        with engine.read() as conn:
            branch_id = conn.execute(
                text("SELECT branch_id FROM staff_account WHERE staff_code = :c"), {"c": code}
            ).scalar_one()
        return queries.StaffActor(accounts[code].id, code, "", "staff", (), int(branch_id))

    author, approver = actor("LNG01"), actor("M001")
    assert author.staff_id == author_id
    case_id = queries.new_reference_case(author)
    queries.submit_reference_case(
        author, case_id, queries.CaseInput(question="龍口寺の伝説の本は？", answer="民話集にある。")
    )
    revision = queries.get_staff_reference_case(approver, case_id).revision
    queries.approve_reference_case(approver, case_id, revision)
    return case_id


def test_every_page_speaks_one_language(
    team: dict[str, Console],  # noqa: F811 - the fixture
    app: object,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    markers = _markers()
    assert len(markers["ja"]) > 200 and len(markers["en"]) > 200
    work_a, work_b = _works_to_reserve(2, HANAKO[0])
    hanako = patron_id(HANAKO[0])
    home = next(b.code for b in queries.list_branches())
    hold = queries.place_hold(hanako, work_a, home)
    staff_id, link = new_account(team["manager"], "LNG01", "staff")
    params = {
        "work_id": str(work_b),
        "hold_id": str(hold.id),
        "patron_id": str(patron_id(TARO[0])),
        "staff_id": str(staff_id),
        "token": link.rsplit("/", 1)[1],
        "question_id": str(
            queries.ask_reference(
                hanako,
                question="藤沢宿の地図",
                checked="",
                useful_by=None,
                notify_email=False,
                category="general",
            )
        ),
        "case_id": str(_published_case(staff_id)),
        "application_id": str(_an_application()),
        "change_id": str(_an_address_change(patron_id(TARO[0]))),
    }
    terminal_id, terminal_link = _a_terminal()
    params["terminal_id"] = str(terminal_id)
    team["manager"].post(
        "/staff/codes/announcements",
        "/staff/codes/announcements",
        **{"texts.ja": "年末年始の休館", "starts_on": "2026-11-21"},
    )
    params["announcement_id"] = str(queries.list_announcements()[0].id)
    params["location_id"] = str(queries.list_shelf_locations()[0].id)
    params |= {"branch": home, "material": "book", "category": "general"}
    queries_by_name = {
        "search": "?q=の",
        "search_atom": "?q=の",
        "search_suggestions": "?q=蜘蛛の糸",
    }
    patron = TestClient(app)  # type: ignore[arg-type]
    log_in(patron, *HANAKO)
    anonymous = TestClient(app)  # type: ignore[arg-type]
    manager = team["manager"]
    # The enrolment page reads its token from the cookie that the link leaves.
    for holder in (manager.client, anonymous):
        holder.cookies.set("shiori_enrol", params["token"])
    for holder in (patron, anonymous):  # the kiosk's enrolment page, the same way
        holder.cookies.set("shiori_terminal_link", terminal_link)
    seen = set()
    for name, path in _get_routes(app):
        if name in NOT_PAGES:
            continue
        url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: params[m.group(1)], path)
        url += queries_by_name.get(name, "")
        seen.add(name)
        for lang in ("ja", "en"):
            # Logged in; a login page sends a logged-in visitor on, so it is read anonymously.
            for client in (manager.client if name.startswith("staff:") else patron, anonymous):
                client.cookies.set("shiori_lang", lang)
                response = client.get(url, follow_redirects=False)
                if response.status_code != 303:
                    break
            assert response.status_code in (200, 400), (name, lang, response.status_code)
            _speaks_only(response.text, lang, markers, f"{name} ({url})")
    assert {"home", "record", "my", "loans", "holds", "booklist", "staff:counter"} <= seen
    assert len(seen) >= 30


# (c) -----------------------------------------------------------------------------------


def test_english_counts_take_plurals(web: TestClient) -> None:
    one, two = _works_to_reserve(2, HANAKO[0])
    hanako = patron_id(HANAKO[0])
    home = next(b.code for b in queries.list_branches())
    log_in(web, *HANAKO)
    web.cookies.set("shiori_lang", "en")
    queries.place_hold(hanako, one, home)
    page = web.get("/my/holds").text
    assert "1 reservation (limit 10)" in page and "1 reservations" not in page
    queries.place_hold(hanako, two, home)
    assert "2 reservations (limit 10)" in web.get("/my/holds").text
    web.cookies.set("shiori_lang", "ja")
    assert "2件予約しています（上限 10件）" in web.get("/my/holds").text


def test_english_loan_count_is_singular_for_one(web: TestClient) -> None:
    log_in(web, *TARO)  # one loan
    web.cookies.set("shiori_lang", "en")
    page = web.get("/my/loans").text
    assert "1 item on loan (0 overdue)" in page


# (d) -----------------------------------------------------------------------------------


def _korean_catalogue(folder: Path) -> None:
    """A third catalogue made from the English one, a few words in Korean."""
    with (LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        english = read_po(fh)
    korean = Catalog(locale="ko")
    words = {
        ("page", "Search"): "자료 검색",
        (None, "Fujisawa City Libraries Catalog"): "후지사와시 도서관 장서 검색",
        (None, "Keywords"): "키워드",
    }
    for m in english:
        if not m.id:
            continue
        string = m.string[-1:] if isinstance(m.string, tuple) else m.string
        korean.add(m.id, words.get((m.context, _first(m.id)), string), context=m.context)
    target = folder / "ko" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as fh:
        write_mo(fh, korean)


def test_a_third_language_is_one_more_catalogue(catalog_db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, folder)
    _korean_catalogue(folder)
    settings = app_settings(catalog_db.url, SHIORI_LOCALE_DIR=str(folder))
    with TestClient(create_app(settings)) as client:
        page = client.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
        assert '<html lang="ko">' in page.text
        assert "후지사와시 도서관 장서 검색" in page.text and "키워드" in page.text
        assert 'hreflang="ja"' in page.text and 'hreflang="en"' in page.text
        assert ">한국어<" not in page.text  # the switch offers the other languages
        switched = client.get("/lang/ja", params={"next": "/"}, follow_redirects=False)
        assert switched.status_code == 303
        page = client.get("/")
        assert '<html lang="ja">' in page.text and ">한국어</a>" in page.text
        client.get("/lang/ko")
        assert "자료 검색" in client.get("/search", params={"q": "猫"}).text


def test_accept_language_then_the_patrons_choice(client: TestClient) -> None:
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8,ja;q=0.5"})
    assert '<html lang="en">' in english.text
    weighted = client.get("/", headers={"Accept-Language": "en;q=0.2, ja-JP;q=0.9"})
    assert '<html lang="ja">' in weighted.text
    unknown = client.get("/", headers={"Accept-Language": "fr-FR, de;q=0.5"})
    assert '<html lang="ja">' in unknown.text  # the library's own language
    client.get("/lang/ja")
    chosen = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="ja">' in chosen.text  # the cookie wins over the browser
    assert "Accept-Language" in chosen.headers["vary"]  # a shared cache keeps them apart


def test_negotiation_uses_the_catalogues_found() -> None:
    books = Catalogues(LOCALE_DIR)
    assert set(books.languages) >= {"ja", "en"} and books.default == "ja"
    assert books.negotiate("en-US,en;q=0.9") == "en"
    assert books.negotiate("") == "ja"
    assert books.negotiate("*;q=0.1, en;q=0") == "ja"


# Dates -----------------------------------------------------------------------------------


def test_dates_have_one_format_per_language() -> None:
    books = Catalogues(LOCALE_DIR)
    ja, en = books.translators["ja"], books.translators["en"]
    assert ja.date(date(2026, 12, 8)) == "2026年12月8日(火)"
    assert en.date(date(2026, 12, 8)) == "Tue 8 Dec 2026"
    # 05:30 UTC is 14:30 at the library.
    moment = datetime(2026, 12, 8, 5, 30, tzinfo=UTC)
    assert ja.datetime(moment) == "2026年12月8日(火) 14:30"
    assert en.datetime(moment) == "Tue 8 Dec 2026 14:30"


def test_no_date_is_formatted_by_hand_for_display() -> None:
    found = subprocess.run(
        ["git", "grep", "-nE", r"strftime|\|local\b|%Y-%m-%d", "--", "web", "templates"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout == "", found.stdout


# Links -----------------------------------------------------------------------------------


def test_templates_build_links_from_named_routes() -> None:
    found = subprocess.run(
        [
            "git",
            "grep",
            "-nE",
            r'(href|action|src|hx-get|hx-post)="/|ignore missing',
            "--",
            "templates",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout == "", found.stdout


def test_every_route_has_a_name(app: object) -> None:  # noqa: F811 - the fixture
    names = []
    for route in app.routes:  # type: ignore[attr-defined]
        inner = route.routes if isinstance(route, Mount) and route.name == "staff" else [route]
        names += [getattr(r, "name", None) for r in inner]
    assert all(names), names
