"""Every page of the site through axe (WCAG 2.2 AA and best practice, any impact) and the
reflow check (no sideways scrolling at 320 CSS px but in data tables): each patron and staff
page in Japanese and English, logged out and logged in (山田 花子 with loans, reservations,
booklist entries, a reference question and alerts; a manager in the console), with the ids
of real rows; the error pages (404, 403, 429 and the console's refusal), the kiosk's pages
on an enrolled terminal, and the pages between steps (enrolment, second factor, a refused
login).

The list of pages is checked against the application's routes: a new GET route with
neither a sweep entry nor a reason in NOT_PAGES fails `test_every_get_route_is_swept`.
One server, one browser, one tab per state, reused from page to page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import text
from starlette.routing import Mount, Route, compile_path

from db import engine, queries
from db.clock import now
from db.queries.second_factor import totp_code, totp_step
from tests import kiosk
from tests.browser.axe import overflow, violations
from tests.browser.conftest import start_server, stop_server, watch_csp
from tests.browser.test_staff_mail_browser import given_up_mail
from tests.conftest import BACKEND, _drop_pg_database, app_settings, copy_database
from tests.test_queries_reference_cases import GOOD, _staff
from tests.test_queries_registration import FORM
from tests.test_queries_registration import submit as submit_application
from tests.test_web_holds import HANAKO, patron_id
from tests.test_web_staff_holds import off_the_shelves
from web.app import create_app

pytestmark = pytest.mark.browser

PASSWORD = "subete-no-gamen-2026"
LANGS = ("ja", "en")
LOGINS = ("/login", "/staff/login")

# GET routes that are no page for a person, each with why; everything else is swept.
NOT_PAGES = {
    "/opensearch.xml": "an OpenSearch description (XML) for browsers",
    "/new.atom": "an Atom feed",
    "/search.atom": "an Atom feed",
    "/sitemap.xml": "a sitemap index (XML)",
    "/sitemaps/{number:int}.xml": "a sitemap (XML)",
    "/robots.txt": "text for crawlers",
    "/api/availability": "JSON for other software",
    "/my/booklist/state": "the encrypted booklist as JSON for booklist.js",
    "/my/data/export.json": "a download (JSON)",
    "/my/data/export.csv": "a download (CSV)",
    "/staff/reference-cases/crd.xml": "a download (CRD XML)",
    "/staff/stats.csv": "a download (CSV)",
    "/staff/stats/charts.css": "the charts' stylesheet",
    "/logo": "the library's logo (an image)",
    "/health": "plain text for the load balancer",
}


@dataclass(frozen=True)
class Ids:
    """Rows of the demo data that pages with parameters are opened with."""

    work: int  # a title with a copy to reserve
    held: int  # a title 花子 has reserved
    patron: int
    staff: int
    question: int
    case: int
    application: int
    change: int
    terminal: int
    barcode: str  # a copy on the shelf that nobody has reserved
    staff_link: str
    terminal_link: str
    hold: int = 1  # 花子's reservation of `held`
    material: str = "book"
    location: int = 1
    announcement: int = 1


def sweep(ids: Ids) -> tuple[list[str], list[str], list[str]]:
    """(public, patron, staff) addresses: every page, with real ids and useful queries."""
    public = [
        "/",
        "/?logged_out=1",
        "/search?q=%E3%81%AE",  # の
        "/search?q=",
        "/search?q=%E3%81%AE&year_from=abc",  # a field refused next to itself
        "/search?q=zzzzqqqq",  # no hits
        "/search/suggestions?q=%E8%9C%98%E8%9B%9B%E3%81%AE%E7%B3%B8",  # 蜘蛛の糸: もしかして
        f"/records/{ids.work}",
        f"/records/{ids.held}",
        "/about",
        "/new",
        "/calendar",
        "/calendar?month=2026-12&branch=sogo",
        "/reference",
        "/reference?q=%E9%BE%8D",  # 龍
        f"/reference/{ids.case}",
        "/lang/ja?next=/about",
        "/login",
        "/password",
        "/password/first",
        "/password/code",
        "/password/forgot",
        "/password/reset?token=spent",
        "/register",
        "/register/privacy",
        "/register/sent",
        "/register/confirm?token=spent",
        "/register/receipt",
        "/alerts/unsubscribe?t=spent",
        "/kiosk",
        f"/kiosk/enrol/{ids.terminal_link}",
        "/kiosk/enrol",
        f"/kiosk/slip/{ids.work}",
        "/isbn/9784000000000",
        "/ndl/000000000",
        "/no-such-page",
        f"/records/{10**9}",
        "/logout",  # GET: 405 today, a page offering the logout button once there is one
        "/guide",
        "/privacy",
        "/busy/30",  # the 429 page nginx shows
        "/too-large",  # the 413 page nginx shows
    ]
    patron = [
        "/my",
        "/my/loans",
        "/my/holds",
        f"/my/holds/{ids.hold}",
        f"/my/holds/{ids.hold}/cancel",  # the question without JavaScript
        f"/records/{ids.work}/hold",
        f"/records/{ids.work}/hold/series",
        "/my/booklist",
        "/my/reference",
        "/my/reference/new",
        f"/my/reference/{ids.question}",
        "/my/alerts",
        "/my/sessions",
        "/my/password",
        "/my/staff-access",
        "/my/data",
        "/my/notices",
        "/my/data/delete",
        "/my/email-link?token=spent",
    ]
    staff = [
        "/staff/login",
        f"/staff/enrol/{ids.staff_link}",
        "/staff/enrol",
        "/staff/mfa",
        "/staff/",
        "/staff/password",
        "/staff/counter",
        "/staff/patrons",
        "/staff/patrons?q=%E5%B1%B1%E7%94%B0",  # 山田
        f"/staff/patrons/{ids.patron}",
        f"/staff/patrons/{ids.patron}/edit",
        f"/staff/patrons/{10**9}",
        "/staff/accounts",
        "/staff/accounts/new",
        f"/staff/accounts/{ids.staff}",
        "/staff/audit",
        "/staff/mail",
        "/staff/pull-list",
        "/staff/calendar",
        "/staff/rules",
        "/staff/reference",
        f"/staff/reference/{ids.question}",
        "/staff/reference-cases",
        f"/staff/reference-cases/{ids.case}",
        "/staff/registrations",
        "/staff/registrations/new",
        f"/staff/registrations/{ids.application}",
        "/staff/address-changes",
        f"/staff/address-changes/{ids.change}",
        "/staff/terminals",
        "/staff/terminals/new",
        f"/staff/terminals/{ids.terminal}",
        "/staff/stats",
        "/staff/logout",
        f"/staff/accounts/{ids.staff}/end",
        "/staff/codes",
        "/staff/codes/branches",
        "/staff/codes/branches/sogo",
        "/staff/codes/shelf-locations",
        f"/staff/codes/shelf-locations/{ids.location}",
        "/staff/codes/material-types",
        f"/staff/codes/material-types/{ids.material}",
        "/staff/codes/categories",
        "/staff/codes/categories/general",
        "/staff/codes/card-rule",
        "/staff/codes/identity",
        "/staff/codes/announcements",
        f"/staff/codes/announcements/{ids.announcement}",
    ]
    return public, patron, staff


def get_routes(folder: Path) -> list[str]:
    """The path of every GET route of the application, /staff ones with their prefix."""
    app = create_app(app_settings(f"sqlite:///{folder / 'routes.db'}"))
    queries.dispose()
    found = []
    for route in app.routes:
        if isinstance(route, Mount) and route.name == "staff":
            found += [
                f"/staff{r.path}"
                for r in route.routes
                if isinstance(r, Route) and "GET" in (r.methods or ())
            ]
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            found.append(route.path)
    return found


def unswept(routes: list[str], addresses: list[str]) -> list[str]:
    paths = [urlsplit(a).path for a in addresses]
    missing = []
    for route in routes:
        pattern = compile_path(route)[0]
        if route not in NOT_PAGES and not any(pattern.match(p) for p in paths):
            missing.append(route)
    return missing


def test_every_get_route_is_swept(tmp_path: Path) -> None:
    assert unswept(["/a/{n:int}", "/b"], ["/a/7?x=1"]) == ["/b"]
    routes = get_routes(tmp_path)
    public, patron, staff = sweep(Ids(1, 2, 3, 4, 5, 6, 7, 8, 9, "0", "link", "link"))
    missing = unswept(routes, public + patron + staff)
    assert missing == [], f"add these pages to sweep() (or, if no page, to NOT_PAGES): {missing}"
    assert not set(NOT_PAGES) - set(routes), "NOT_PAGES names a route that is gone"
    assert len(routes) > 80


# --- the demo library, served -----------------------------------------------------------


def _manager_token() -> str:
    return queries.create_first_manager(
        queries.StaffInput("M001", "管理 一郎", "", "sogo", "manager", (), None)
    )


def _work_on_the_shelf(not_these: set[int]) -> int:
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT i.work_id FROM item i JOIN material_type m "
                "ON m.code = i.material_type WHERE m.reservable AND i.status = 'available' "
                "ORDER BY i.work_id"
            )
        ).scalars()
        return next(int(w) for w in rows if int(w) not in not_these)


def _copy_on_the_shelf(not_of: set[int]) -> str:
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT i.barcode, i.work_id FROM item i JOIN material_type m "
                "ON m.code = i.material_type WHERE m.reservable AND m.loan_days > 0 "
                "AND i.status = 'available' ORDER BY i.id"
            )
        )
        return next(str(r.barcode) for r in rows if int(r.work_id) not in not_of)


# A walk-in application without email: the page after it is the receipt with its QR code.
APPLICATION = (
    ("name", "藤沢 二葉"),
    ("name_kana", "ふじさわ ふたば"),
    ("birth_date", "平成2年4月1日"),
    ("postal_code", "2510052"),
    ("address", "神奈川県藤沢市藤沢1-1"),
    ("phone", "0466-22-9999"),
    ("category", "general"),
    ("home_branch", "sogo"),
    ("consent", "yes"),
)


@dataclass(frozen=True)
class Send:
    """A form sent from a page: the page after it (errors next to fields, a message, an
    htmx swap, the next step) is checked too."""

    address: str
    form: str  # CSS of the form in the page
    fills: tuple[tuple[str, str], ...] = ()
    shown: str | None = None  # what a script shows without leaving the page
    once: bool = False  # a change that leaves no form to send again
    dwell: float = 0  # seconds a person takes to fill it in (a faster one is refused)
    lands: str | None = None  # the path of the page after it, where that is the point


def sends(ids: Ids) -> tuple[list[Send], list[Send], list[Send]]:
    """(logged out, patron, staff) forms to send, each once per language: mostly empty, to
    see the errors; the reservation is placed (in Japanese, then English shows it placed),
    the counter lends and takes back."""
    public = [
        # booklist-login.js sends it and shows the refusal in place: empty, what is missing.
        Send("/login", "form[action='/login']", shown="#card-error"),
        Send("/register", "form[action='/register']"),
        Send(
            "/register",
            "form[action='/register']",
            APPLICATION,
            once=True,
            dwell=3.2,
            lands="/register/receipt",
        ),
        Send("/password/first", "form[action='/password/first']"),
        Send("/password/code", "form[action='/password/code']"),
        Send("/password/forgot", "form[action='/password/forgot']"),
        Send("/password/forgot", "form[action='/password/forgot']", (("email", "x@example.jp"),)),
        Send("/staff/login", "form[action='/staff/login']"),
    ]
    patron = [
        Send(
            f"/records/{ids.work}/hold",
            f"main form[action='/records/{ids.work}/hold']",
            once=True,
        ),
        Send("/my/holds", "form[action$='/suspend']"),  # no date
        Send("/my/holds", "form[action$='/pickup']"),
        Send("/my/reference/new", "main form[action='/my/reference/new']"),
        Send("/my/alerts", "main form[action='/my/alerts']"),
        Send("/my/password", "main form[action='/my/password']"),
        Send("/my/data", "form[action='/my/data/phone']", (("phone", "abc"),)),
    ]
    staff = [
        Send(
            "/staff/counter?mode=checkout",
            "form[action='/staff/counter/checkout']",
            (("card", "2100000004"), ("barcode", ids.barcode)),
        ),
        Send(
            "/staff/counter?mode=return",
            "form[action='/staff/counter/return']",
            (("barcode", ids.barcode),),
        ),
        Send(
            "/staff/counter?mode=return",
            "form[action='/staff/counter/return']",
            (("barcode", "9"),),
        ),
        Send("/staff/patrons", "main form[action='/staff/patrons']", (("card", "2100000001"),)),
        Send(
            f"/staff/patrons/{ids.patron}",
            f"form[action='/staff/patrons/{ids.patron}/holds/search']",
        ),
        Send(f"/staff/patrons/{ids.patron}", f"form[action='/staff/patrons/{ids.patron}/code']"),
        Send(f"/staff/patrons/{ids.patron}/edit", "main form[method=post]", (("phone", "x"),)),
        Send("/staff/password", "main form[action='/staff/password']"),
        Send("/staff/accounts/new", "main form[action='/staff/accounts/new']"),
        Send("/staff/terminals/new", "main form[action='/staff/terminals/new']"),
        Send("/staff/terminals", f"form[action='/staff/terminals/{ids.terminal}/enrol-link']"),
        Send("/staff/calendar", "form[action='/staff/calendar/closures']"),
        Send("/staff/registrations", "form[action='/staff/registrations/find']"),
        Send("/staff/registrations/new", "main form[action='/staff/registrations/new']"),
        Send(
            f"/staff/reference/{ids.question}",
            f"form[action='/staff/reference/{ids.question}/answer']",
        ),
        Send("/staff/reference-cases", "form[action='/staff/reference-cases']"),
    ]
    return public, patron, staff


@dataclass
class Served:
    base: str
    ids: Ids
    manager_token: str
    intern_token: str
    kiosk_token: str


@pytest.fixture(scope="module")
def served(_library_template: str, db_dir: Path) -> Iterator[Served]:
    """The small demo library with one of every row a page can show, served; searches from
    127.0.0.1 are throttled as anyone's (so the 429 page can be swept too)."""
    url, pg_name = copy_database(_library_template, db_dir)
    queries.configure(url)
    hanako, taro = patron_id(HANAKO[0]), patron_id("2100000002")
    lent = {loan.work_id for loan in queries.list_loans(hanako)}
    held = _work_on_the_shelf(lent)
    work = _work_on_the_shelf(lent | {held})
    hold = queries.place_hold(hanako, held, "sogo").id  # in 予約状況 and on the pull list
    waited = _work_on_the_shelf(lent | {held, work})
    off_the_shelves(waited)
    queries.place_hold(hanako, waited, "sogo")  # waiting in line: may be suspended
    for kind, value in (("keyword", "猫"), ("author", "夏目漱石")):
        queries.add_alert_condition(hanako, kind, value)
    question = queries.ask_reference(
        hanako,
        question="藤沢宿の古い地図はありますか。",
        checked="市史を見ました",
        useful_by=None,
        notify_email=False,
        category="general",
    )
    manager_token = _manager_token()
    manager = next(a for a in queries.list_staff_accounts() if a.staff_code == "M001")
    with engine.read() as conn:
        branch = int(conn.execute(text("SELECT id FROM branch WHERE code = 'sogo'")).scalar_one())
    actor = queries.StaffActor(manager.id, "M001", "管理 一郎", "manager", (), branch)
    author, approver = _staff("AXE01"), _staff("AXE02")
    case = queries.new_reference_case(author)
    queries.submit_reference_case(author, case, GOOD)
    queries.approve_reference_case(
        approver, case, queries.get_staff_reference_case(approver, case).revision
    )
    application = queries.find_application(actor, submit_application(FORM).receipt_number)
    queries.request_address_change(taro, "2510052", "藤沢市藤沢2-2")
    change = queries.list_address_changes(actor)[0].id
    terminal, terminal_link = queries.create_terminal(
        actor, queries.TerminalInput("総合 OPAC 1", "sogo", "2階", "一般開架: 2階")
    )
    intern, intern_token = queries.create_staff_account(
        actor, queries.StaffInput("I001", "研修 二郎", "", "sogo", "intern", (), None)
    )
    given_up_mail()
    with engine.read() as conn:
        material = str(conn.execute(text("SELECT min(code) FROM material_type")).scalar_one())
        location = conn.execute(text("SELECT min(id) FROM shelf_location")).scalar()
    if location is None:
        location = queries.add_shelf_location(actor, "sogo", "郷土資料室", {"ja": "2階 郷土資料室"})
    announcement = queries.save_announcement(
        actor,
        None,
        queries.AnnouncementInput(
            {"ja": "年末年始の休館", "en": "Closed over New Year"}, date(2026, 1, 1), None
        ),
    )
    ids = Ids(
        work=work,
        held=held,
        patron=hanako,
        staff=intern,
        question=question,
        case=case,
        application=application,
        change=change,
        terminal=terminal,
        barcode=_copy_on_the_shelf({held, work, waited}),
        staff_link=manager_token,  # spent by the time the sweep opens it
        terminal_link=terminal_link,  # opened, never confirmed
        hold=hold,
        material=material,
        location=int(location),
        announcement=announcement,
    )
    kiosk_token = kiosk.new_terminal(name="総合 OPAC 2")
    queries.dispose()
    proc, base = start_server(
        url, SHIORI_SEARCH_BURST_EXEMPT="", SHIORI_SEARCH_BURST="40", SHIORI_SEARCH_PER_MINUTE="1"
    )
    yield Served(base, ids, manager_token, intern_token, kiosk_token)
    stop_server(proc)
    if pg_name:
        _drop_pg_database(pg_name)


# --- the sweep ---------------------------------------------------------------------------


@dataclass
class Sweep:
    """One browser tab in one state; what it found goes into `problems`."""

    page: Page
    base: str
    state: str
    problems: list[str]
    checked: set[tuple[str, str]] = field(default_factory=set)
    lang: str = "ja"
    pages: int = 0

    def speak(self, lang: str, width: int | None = None) -> None:
        self.page.goto(f"{self.base}/lang/{lang}?next=/about")
        self.lang = lang
        if width is not None:
            self.page.set_viewport_size({"width": width, "height": 900})

    def check(self, where: str) -> None:
        """axe and the reflow check on the page as it is now."""
        self.pages += 1
        label = f"[{self.state} {self.lang}] {where}"
        self.problems += [f"{label}: {v}" for v in violations(self.page)]
        self.problems += [f"{label}: scrolls sideways at 320 px: {o}" for o in overflow(self.page)]

    def visit(self, address: str) -> None:
        """Open `address` and check it. Logged out, a page behind a login sends to the login
        page, which is checked once per language; logged in, none may."""
        self.page.goto(self.base + address)
        landed = urlsplit(self.page.url).path
        if landed in LOGINS and urlsplit(address).path != landed:
            assert self.state != "logged in", f"{address} sent to {self.page.url}"
            if (landed, self.lang) in self.checked:
                return
            self.checked.add((landed, self.lang))
        self.check(address)

    def send(self, step: Send) -> None:
        try:
            self._send(step)
        except Exception as error:
            raise AssertionError(f"[{self.state} {self.lang}] {step}") from error

    def _send(self, step: Send) -> None:
        page = self.page
        page.goto(self.base + step.address)
        form = page.locator(step.form).first
        form.evaluate(
            "f => f.setAttribute('novalidate', '')"
        )  # the server's errors, not Chromium's
        for name, value in step.fills:
            field_ = form.locator(f"[name={name}]").first
            kind = field_.evaluate("e => e.type")
            if kind == "select-one":
                field_.select_option(value)
            elif kind == "checkbox":
                field_.check()
            else:
                field_.fill(value)
        page.wait_for_timeout(step.dwell * 1000)
        button = form.locator("button[type=submit], button:not([type])").last
        if form.get_attribute("hx-post") is None and step.shown is None:
            with page.expect_navigation():
                button.click()
        else:
            with page.expect_response(lambda r: r.request.method == "POST"):
                button.click()
            if step.shown:
                page.locator(step.shown).wait_for()
            expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
        if step.lands is not None:
            assert urlsplit(page.url).path == step.lands, page.url
        self.check(f"{step.address}, sent {step.form}")


def _context(browser: Browser, width: int) -> BrowserContext:
    return browser.new_context(
        viewport={"width": width, "height": 900}, locale="ja-JP", has_touch=width < 600
    )


def _enrol_staff(sweep: Sweep, token: str) -> None:
    """Enrol with a one-time link: password, authenticator, recovery codes (each checked)."""
    page = sweep.page
    page.goto(f"{sweep.base}/staff/enrol/{token}")
    sweep.check("/staff/enrol (a live link)")
    page.locator("#new_password").fill(PASSWORD)
    page.locator("#new_password_again").fill(PASSWORD)
    page.locator("form[action='/staff/enrol'] button[type=submit]").click()
    page.wait_for_url("**/staff/mfa")
    sweep.check("/staff/mfa (enrolling)")
    page.locator("#code").fill("000000")
    with page.expect_navigation():
        page.locator("form[action='/staff/mfa'] button[type=submit]").click()
    expect(page.locator("#code-error")).to_be_visible()
    sweep.check("/staff/mfa (a wrong code)")
    secret = page.locator("code.secret").inner_text()
    page.locator("#code").fill(totp_code(secret, totp_step(now())))
    page.locator("form[action='/staff/mfa'] button[type=submit]").click()
    expect(page.locator("ol.recovery-codes")).to_be_visible()
    sweep.check("recovery codes")


def _log_in_patron(sweep: Sweep) -> None:
    page = sweep.page
    page.goto(f"{sweep.base}/login")
    page.locator("#card").fill(HANAKO[0])
    page.locator("#password").fill("not-her-password")
    page.locator("form[action='/login'] button[type=submit]").click()
    page.locator("#login-error").wait_for()
    sweep.check("/login (refused)")
    page.locator("#card").fill(HANAKO[0])
    page.locator("#password").fill(HANAKO[1])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/my")


def _add_to_booklist(sweep: Sweep) -> None:
    """Two titles into 花子's booklist, encrypted by booklist.js with the key kept at login."""
    page = sweep.page
    page.goto(f"{sweep.base}/search?q=%E3%81%AE")
    for index in (0, 1):
        hit = page.locator("li.hit").nth(index)
        hit.locator("button.booklist-add").click()
        expect(hit.locator(".booklist-add-status")).not_to_be_empty()
    sweep.check("/search (added to the booklist)")


def _refused_form(sweep: Sweep) -> None:
    """403: a form whose token is not the session's."""
    page = sweep.page
    page.goto(f"{sweep.base}/login")
    with page.expect_navigation() as sent:
        page.evaluate(
            "() => { const f = document.querySelector(\"form[action='/login']\");"
            " f.querySelector('[name=csrf_token]').value = 'forged'; f.submit(); }"
        )
    assert sent.value is not None and sent.value.status == 403
    sweep.check("403 (a forged form)")


def _throttled(sweep: Sweep) -> None:
    """429: anonymous searches from one address, faster than the burst allows."""
    for _ in range(60):
        if sweep.page.request.get(f"{sweep.base}/search?q=x").status == 429:
            break
    response = sweep.page.goto(f"{sweep.base}/search?q=%E3%81%AE")
    assert response is not None and response.status == 429
    sweep.check("429 (too many searches)")


def _the_checks_can_fail(sweep: Sweep) -> None:
    """What each check would say of a page that breaks it."""
    page = sweep.page
    page.goto(f"{sweep.base}/about")
    page.evaluate(
        "() => { const i = document.createElement('input'); i.style.width = '600px';"
        " document.querySelector('main').append(i); }"
    )
    assert any(v.startswith("label (critical)") for v in violations(page))
    assert overflow(page) == ["main#main > input"], overflow(page)


# The markup does not depend on the engine: the sweep runs in the SQLite pass, and the
# PostgreSQL pass keeps its minutes for the data paths (every page there is still exercised by
# its own request and browser tests).
@pytest.mark.skipif(BACKEND == "postgresql", reason="pages are the same markup on both engines")
def test_every_page_passes_axe_and_reflows(browser: Browser, served: Served) -> None:
    base, ids = served.base, served.ids
    public, patron, staff = sweep(ids)
    sent_out, sent_patron, sent_staff = sends(ids)
    problems: list[str] = []
    contexts = {
        state: _context(browser, width)
        for state, width in (("out", 390), ("in", 1280), ("kiosk", 1080))
    }
    tab = {state: watch_csp(c.new_page()) for state, c in contexts.items()}
    out = Sweep(tab["out"], base, "logged out", problems)
    inside = Sweep(tab["in"], base, "logged in", problems)
    terminal = Sweep(tab["kiosk"], base, "kiosk", problems)
    try:
        _the_checks_can_fail(out)
        _enrol_staff(inside, served.manager_token)
        _log_in_patron(inside)
        _add_to_booklist(inside)
        # Another member of staff enrols in English, then finds a manager's screen refused.
        intern_context = _context(browser, 390)
        intern = Sweep(watch_csp(intern_context.new_page()), base, "intern", problems)
        intern.speak("en")
        _enrol_staff(intern, served.intern_token)
        intern.visit("/staff/accounts")
        intern_context.close()
        for lang in LANGS:
            for sweep_, steps in ((out, sent_out), (inside, sent_patron + sent_staff)):
                sweep_.speak(lang)
                for step in steps:
                    if lang == LANGS[0] or not step.once:
                        sweep_.send(step)
        # Each language and state once on a phone (390 px) and once on a PC (1280 px).
        for lang, widths in zip(LANGS, ((390, 1280), (1280, 390)), strict=True):
            for sweep_, width in zip((out, inside), widths, strict=True):
                sweep_.speak(lang, width)
                for address in public:
                    if sweep_ is inside and address == "/login":
                        continue  # a logged-in patron is sent on to My Library
                    sweep_.visit(address)
            for address in patron + staff:
                out.visit(address)
                if address not in ("/staff/login", "/staff/mfa"):  # logged in: sent on
                    inside.visit(address)
            _refused_form(out)
        # A library terminal: enrolled, searched, logged in to, in both languages.
        terminal.page.goto(f"{base}/kiosk/enrol/{served.kiosk_token}")
        terminal.check("/kiosk/enrol (a live link)")
        terminal.page.locator("form[action='/kiosk/enrol'] button[type=submit]").click()
        terminal.page.wait_for_url(f"{base}/kiosk")
        for lang in LANGS:
            terminal.speak(lang)
            for address in ("/kiosk", "/search?q=%E3%81%AE", f"/records/{ids.work}", "/login"):
                terminal.visit(address)
            terminal.visit(f"/kiosk/slip/{ids.work}")
        terminal.page.goto(f"{base}/login")
        terminal.page.locator("#card").fill(HANAKO[0])
        terminal.page.locator("#password").fill(HANAKO[1])
        terminal.page.locator("form[action='/login'] button[type=submit]").click()
        terminal.page.wait_for_url("**/my")
        for lang in LANGS:
            terminal.speak(lang)
            for address in ("/my", "/my/loans", "/my/holds"):
                terminal.visit(address)
        for lang in LANGS:
            out.speak(lang)
            _throttled(out)
    finally:
        for context in contexts.values():
            context.close()
    csp = [e for t in tab.values() for e in t.csp_errors]  # type: ignore[attr-defined]
    swept = out.pages + inside.pages + terminal.pages
    print(f"axe sweep: {swept} pages checked")  # shown with -s
    assert swept > 250
    assert problems == [], f"{len(problems)} problems on {swept} pages:\n" + "\n".join(problems)
    assert csp == []
