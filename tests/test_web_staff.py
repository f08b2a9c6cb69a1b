"""The staff console over HTTP: enrolment with TOTP, roles × routes, masking, audit, counter."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.cookiejar import Cookie
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from db import engine, queries
from db.patrons import DEMO_PATRONS
from db.queries.second_factor import totp_code, totp_step
from tests import mailbox
from tests.conftest import Database, app_settings, database_copy, template_database
from tests.test_web_holds import taros_loan
from web import cli
from web.app import create_app

HTMX = {"HX-Request": "true"}
PASSWORD = "kaunta-no-shokuin-2026"
HANAKO, TARO = DEMO_PATRONS[0].patron, DEMO_PATRONS[1].patron


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: int = 31) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Iterator[Clock]:
    fixed = Clock()
    queries.set_clock(fixed)
    yield fixed
    queries.set_clock(None)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def secret_of(page: str) -> str:
    found = re.search(r'<code class="secret">([A-Z2-7=]+)</code>', page)
    assert found, "no TOTP secret on the page"
    return found.group(1)


class Console:
    """One browser of one staff member; remembers every body it received."""

    def __init__(self, app: object, clock: Clock) -> None:
        self.client = TestClient(app)  # type: ignore[arg-type]
        self.clock = clock
        self.bodies: list[bytes] = []
        self.secret = ""
        self.recovery: list[str] = []

    def get(self, url: str, **kw: object) -> object:
        response = self.client.get(url, follow_redirects=False, **kw)  # type: ignore[arg-type]
        self.bodies.append(response.content)
        return response

    def post(self, url: str, page: str | None = None, **data: str) -> object:
        token = csrf_of(self.client.get(page or "/staff/").text) if page != "" else ""
        response = self.client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)
        self.bodies.append(response.content)
        return response

    def speaking(self, lang: str) -> Console:
        """From now on this browser asks for pages in `lang` (the language switch's cookie)."""
        self.client.cookies.set("shiori_lang", lang)
        return self

    def htmx_post(self, url: str, page: str, **data: str) -> object:
        token = csrf_of(self.client.get(page).text)
        response = self.client.post(
            url, data=data, headers={**HTMX, "X-CSRF-Token": token}, follow_redirects=False
        )
        self.bodies.append(response.content)
        return response

    def enrol(self, link: str) -> None:
        path = link.split("://", 1)[1].split("/", 1)[1]
        page = self.client.get("/" + path)
        assert page.status_code == 200, page.text
        response = self.client.post(
            page.url.path,
            data={
                "csrf_token": csrf_of(page.text),
                "new_password": PASSWORD,
                "new_password_again": PASSWORD,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303 and response.headers["location"] == "/staff/mfa"
        mfa = self.client.get("/staff/mfa")
        assert 'src="data:image/svg+xml' in mfa.text
        self.secret = secret_of(mfa.text)
        done = self.client.post(
            "/staff/mfa",
            data={"csrf_token": csrf_of(mfa.text), "code": self.code()},
            follow_redirects=False,
        )
        assert done.status_code == 200, done.text
        self.recovery = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", done.text)
        assert len(self.recovery) == 10
        self.clock.tick()

    def code(self) -> str:
        return totp_code(self.secret, totp_step(self.clock()))

    def log_in(self, staff_code: str, password: str = PASSWORD, second: bool = True) -> object:
        page = self.client.get("/staff/login")
        response = self.client.post(
            "/staff/login",
            data={"csrf_token": csrf_of(page.text), "staff_code": staff_code, "password": password},
            follow_redirects=False,
        )
        self.bodies.append(response.content)
        if response.status_code != 303 or not second:
            return response
        mfa = self.client.get("/staff/mfa")
        response = self.client.post(
            "/staff/mfa",
            data={"csrf_token": csrf_of(mfa.text), "code": self.code()},
            follow_redirects=False,
        )
        self.clock.tick()
        return response


def new_account(
    manager: Console, code: str, role: str, stored: str | None = None, **extra: str
) -> tuple[int, str]:
    """A new account made by `manager` as typed in `code` (`stored`: the ID it becomes)."""
    response = manager.post(
        "/staff/accounts/new",
        "/staff/accounts/new",
        staff_code=code,
        name=f"職員 {code}",
        affiliation="奉仕係",
        branch="minami",
        role=role,
        **extra,
    )
    assert response.status_code == 200, response.text
    link = re.search(r'<p class="enrol-link"><code>([^<]+)</code>', response.text)
    assert link
    with engine.read() as conn:
        staff_id = conn.execute(
            text("SELECT id FROM staff_account WHERE staff_code = :c"), {"c": stored or code}
        ).scalar_one()
    return int(staff_id), link.group(1)


SECRET_KEY = "staff-console-test-secret-key-0123456789"
ROLES = ("manager", "staff", "temporary", "intern")


@dataclass(frozen=True)
class Enrolled:
    """What one enrolled member's browser holds: cookies, TOTP secret, recovery codes."""

    cookies: tuple[Cookie, ...]
    secret: str
    recovery: tuple[str, ...]
    bodies: tuple[bytes, ...]


@dataclass(frozen=True)
class TeamTemplate:
    url: str
    now: datetime
    members: dict[str, Enrolled]


def staff_app(url: str) -> object:
    # One fixed key, so that the team's sessions and tokens hold in every test's app.
    return create_app(app_settings(url, SHIORI_SECRET_KEY=SECRET_KEY))


def enrol_team(url: str, app: object, clock: Clock) -> dict[str, Console]:
    """A manager (via the CLI), then staff, temporary and intern accounts, all enrolled."""
    manager = Console(app, clock)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(out):
        env.setenv("SHIORI_DATABASE_URL", url)
        status = cli.main(
            [
                *("staff", "create-manager", "--staff-id", "M001"),
                *("--name", "管理 一郎", "--branch", "sogo"),
            ]
        )
    assert status == 0
    link = out.getvalue().strip().splitlines()[-1]
    assert "/staff/enrol/" in link
    manager.enrol(link)
    team = {"manager": manager}
    for role in ROLES[1:]:
        _, link = new_account(manager, role[:3].upper() + "01", role)
        member = Console(app, clock)
        member.enrol(link)
        team[role] = member
    return team


@pytest.fixture(scope="session")
def _team_template(_library_template: str, db_dir: Path) -> Iterator[TeamTemplate]:
    """The team enrolled once per session on a copy of the library; tests copy the result."""
    saved: dict[str, Enrolled] = {}
    clock = Clock()

    def build(url: str) -> None:
        queries.set_clock(clock)
        for role, member in enrol_team(url, staff_app(url), clock).items():
            saved[role] = Enrolled(
                tuple(member.client.cookies.jar),
                member.secret,
                tuple(member.recovery),
                tuple(member.bodies),
            )

    with template_database(db_dir, build, _library_template) as url:
        yield TeamTemplate(url, clock.now, saved)


@pytest.fixture
def library_db(request: pytest.FixtureRequest, db_dir: Path) -> Iterator[Database]:
    """conftest's library_db; with the `team`, a copy of the library with the team enrolled."""
    if "team" in request.fixturenames:
        template: str = request.getfixturevalue("_team_template").url
    else:
        template = request.getfixturevalue("_library_template")
    with database_copy(template, db_dir) as db:
        yield db


@pytest.fixture
def app(library_db: Database) -> object:
    return staff_app(library_db.url)


@pytest.fixture
def team(_team_template: TeamTemplate, app: object, clock: Clock) -> dict[str, Console]:
    """The manager, staff, temporary and intern accounts, enrolled and logged in, as
    `enrol_team` leaves them (copied from the session's template, the clock included)."""
    clock.now = _team_template.now
    team = {}
    for role, saved in _team_template.members.items():
        member = Console(app, clock)
        for cookie in saved.cookies:
            member.client.cookies.jar.set_cookie(copy.copy(cookie))
        member.secret, member.recovery = saved.secret, list(saved.recovery)
        member.bodies = list(saved.bodies)
        team[role] = member
    return team


def personal_values() -> list[bytes]:
    values: list[str] = []
    for demo in DEMO_PATRONS:
        p = demo.patron
        values += [p.name, p.name_kana, p.address, p.phone, p.email or ""]
        values += p.name.split() + p.name_kana.split()
        values += [p.birth_date.isoformat(), p.birth_date.strftime("%Y/%m/%d")]
        values += [f"{p.birth_date.year}年{p.birth_date.month}月{p.birth_date.day}日"]
    return [v.encode() for v in values if v] + [b"$argon2"]


def available_barcodes(n: int) -> list[str]:
    with engine.read() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT barcode FROM item WHERE status = 'available' AND material_type "
                    "IN ('book', 'bunko', 'children') ORDER BY id LIMIT :n"
                ),
                {"n": n},
            ).scalars()
        )


def audit_rows() -> list[tuple[str, int | None, str, str, str]]:
    with engine.read() as conn:
        return [
            tuple(r)  # type: ignore[misc]
            for r in conn.execute(
                text(
                    "SELECT staff_code, patron_id, field_groups, action, outcome "
                    "FROM staff_audit ORDER BY id"
                )
            )
        ]


def patron_id(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def test_patron_lookup_keeps_names_and_cards_out_of_the_url(team: dict[str, Console]) -> None:
    staff = team["staff"]
    form = staff.get("/staff/patrons").text  # type: ignore[attr-defined]
    assert 'method="post"' in form and 'hx-post="/staff/patrons"' in form
    assert 'method="get"' not in form and "hx-get" not in form
    # A search in the query string is not a search: nothing found, nothing echoed.
    ignored = staff.get(f"/staff/patrons?card={HANAKO.card_number}&name=山田").text  # type: ignore[attr-defined]
    results = ignored.split('<section id="patron-results"', 1)[1].split("</section>", 1)[0]
    assert "<table" not in results and HANAKO.card_number not in results
    assert f'value="{HANAKO.card_number}"' not in ignored and 'value="山田"' not in ignored
    full = staff.post("/staff/patrons", "/staff/patrons", name=HANAKO.name.split()[0])
    assert full.status_code == 200 and "<html" in full.text  # type: ignore[attr-defined]
    assert HANAKO.card_number in full.text  # type: ignore[attr-defined]
    fragment = staff.htmx_post("/staff/patrons", "/staff/patrons", card=HANAKO.card_number)
    assert fragment.status_code == 200  # type: ignore[attr-defined]
    assert fragment.text.lstrip().startswith('<section id="patron-results"')  # type: ignore[attr-defined]
    assert HANAKO.card_number in fragment.text  # type: ignore[attr-defined]
    # The POST is a form like any other: refused without the CSRF token.
    refused = staff.client.post("/staff/patrons", data={"card": HANAKO.card_number})
    assert refused.status_code == 403 and HANAKO.card_number not in refused.text


def test_enrolment_token_leaves_the_url_for_a_cookie(team: dict[str, Console]) -> None:
    _staff_id, link = new_account(team["manager"], "URL01", "staff")
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    token = path.rsplit("/", 1)[1]
    newcomer = Console(team["manager"].client.app, team["manager"].clock)
    first = newcomer.client.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/staff/enrol"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"shiori_enrol={token};")
    for attribute in ("HttpOnly", "Path=/staff/enrol", "SameSite=lax", "Max-Age=900"):
        assert attribute in cookie
    page = newcomer.client.get("/staff/enrol")
    assert page.status_code == 200 and "URL01" in page.text and token not in page.text
    assert 'action="/staff/enrol"' in page.text
    newcomer.enrol(link)
    # Used: the link says so at once, and leaves no cookie behind.
    again = Console(newcomer.client.app, newcomer.clock).client.get(path)
    assert again.status_code == 404 and 'name="new_password"' not in again.text


# The "done when" ------------------------------------------------------------------


def test_done_when_scenario(team: dict[str, Console], app: object, clock: Clock) -> None:
    intern, staff, manager = team["intern"], team["staff"], team["manager"]
    one, two = available_barcodes(2)
    # The intern lends two items to Hanako, renews one, returns both: never her name.
    intern.bodies.clear()
    page = intern.get("/staff/counter")
    assert page.status_code == 200  # type: ignore[attr-defined]
    for barcode in (one, two):
        done = intern.htmx_post(
            "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=barcode
        )
        assert done.status_code == 200, done.text  # type: ignore[attr-defined]
        assert "貸出しました" in done.text  # type: ignore[attr-defined]
    assert intern.htmx_post("/staff/counter/renew", "/staff/counter?mode=renew", barcode=one)
    for barcode in (one, two):
        back = intern.post("/staff/counter/return", "/staff/counter?mode=return", barcode=barcode)
        assert back.status_code == 303  # type: ignore[attr-defined]
    final = intern.get("/staff/counter?mode=return")
    assert final.text.count("返却しました") >= 1  # type: ignore[attr-defined]
    # Looking the patron up and opening the record: masked, in pages and fragments.
    hanako = patron_id(HANAKO.card_number)
    intern.post("/staff/patrons", "/staff/patrons", card=HANAKO.card_number)
    intern.htmx_post("/staff/patrons", "/staff/patrons", card=HANAKO.card_number)
    record = intern.get(f"/staff/patrons/{hanako}")
    assert record.status_code == 200 and "（非表示）" in record.text  # type: ignore[attr-defined]
    by_name = intern.post("/staff/patrons", "/staff/patrons", name="山田")
    assert by_name.status_code == 403  # type: ignore[attr-defined]
    assert intern.get(f"/staff/patrons/{hanako}/edit").status_code == 403  # type: ignore[attr-defined]
    leaked = [v for v in personal_values() for body in intern.bodies if v in body]
    assert not leaked, leaked

    # The staff member corrects Taro's phone: saved, and an audit row appears.
    taro = patron_id(TARO.card_number)
    before = len(audit_rows())
    edit = staff.post(
        f"/staff/patrons/{taro}/edit",
        f"/staff/patrons/{taro}/edit",
        address=TARO.address,
        phone="0466-99-1234",
        email="",
        category="university",
    )
    assert edit.status_code == 303  # type: ignore[attr-defined]
    shown = staff.get(f"/staff/patrons/{taro}")
    assert "0466-99-1234" in shown.text  # type: ignore[attr-defined]
    rows = audit_rows()[before:]
    assert ("STA01", taro, "category,contact", "edit", "allowed") in rows
    assert all("0466" not in str(r) for r in rows)  # never the values
    log = manager.get("/staff/audit?staff_code=STA01")
    assert log.text.count('class="audit-row"') >= 2  # type: ignore[attr-defined]

    # An ended account cannot log in, and its open session ends.
    intern_id = next(s.id for s in queries.list_staff_accounts() if s.staff_code == "INT01")
    ended = manager.post(f"/staff/accounts/{intern_id}/end", "/staff/accounts", confirm="1")
    assert ended.status_code == 303  # type: ignore[attr-defined]
    assert intern.get("/staff/counter").headers["location"] == "/staff/login"  # type: ignore[attr-defined]
    again = intern.log_in("INT01", second=False)
    assert again.status_code == 422  # type: ignore[attr-defined]


# Routes × roles ---------------------------------------------------------------------------


def staff_routes(app: object) -> set[str]:
    found = set()
    for mount in app.routes:  # type: ignore[attr-defined]
        if isinstance(mount, Mount) and mount.path == "/staff":
            for route in mount.routes:
                assert isinstance(route, Route)
                for method in route.methods or ():
                    if method != "HEAD":
                        path = route.path if route.path != "/" else ""
                        found.add(f"{method} /staff{path}")
    return found


def test_every_staff_route_has_exactly_one_policy(app: object) -> None:
    routes = staff_routes(app)
    policy = queries.staff_policy_data().routes
    assert routes, "the staff console is not mounted"
    assert routes == set(policy), routes ^ set(policy)


def _sample(path: str, ids: dict[str, int]) -> str:
    if path == "/staff":
        return "/staff/"
    return (
        path.replace("{patron_id:int}", str(ids["patron"]))
        .replace("{staff_id:int}", str(ids["staff"]))
        .replace("{hold_id:int}", "999999")
        .replace("{token}", "not-a-token")
        .replace("{mail_id:int}", "1")
        .replace("{closure_id:int}", "1")
        .replace("{question_id:int}", "999999")
        .replace("{case_id:int}", "999999")
        .replace("{application_id:int}", "999999")
        .replace("{terminal_id:int}", "999999")
        .replace("{change_id:int}", "999999")
        .replace("{branch}", "sogo")
        .replace("{material}", "book")
        .replace("{category}", "general")
        .replace("{location_id:int}", "999999")
        .replace("{announcement_id:int}", "999999")
    )


def test_every_route_for_every_role(team: dict[str, Console], clock: Clock) -> None:
    policy = queries.staff_policy_data()
    target_id, _ = new_account(team["manager"], "TGT01", "staff")
    ids = {"patron": patron_id(TARO.card_number), "staff": target_id}
    checked = 0
    for role, console in team.items():
        for key, target in policy.routes.items():
            if target in ("public", "session", "second_factor") or key.endswith("/end"):
                continue
            method, path = key.split(" ", 1)
            url = _sample(path, ids)
            page = "/staff/password"
            response = console.get(url) if method == "GET" else console.post(url, page)
            status = response.status_code  # type: ignore[attr-defined]
            allowed = policy.may(role, (), target)
            assert (status == 403) != allowed, (role, key, status)
            checked += 1
    assert checked >= 4 * 18
    refused = [r for r in audit_rows() if r[4] == "refused"]
    assert any(r[0] == "INT01" and r[3] == "patron.edit" for r in refused)


def test_without_a_session_or_second_factor_only_login_and_mfa(
    team: dict[str, Console], app: object, clock: Clock
) -> None:
    policy = queries.staff_policy_data()
    anonymous = TestClient(app)  # type: ignore[arg-type]
    half = Console(app, clock)
    assert half.log_in("STA01", second=False).status_code == 303  # type: ignore[attr-defined]
    for key, target in policy.routes.items():
        method, path = key.split(" ", 1)
        if method != "GET" or target == "public":
            continue
        url = _sample(path, {"patron": 1, "staff": 1})
        response = anonymous.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/staff/login"
        if target == "second_factor":
            continue
        response = half.client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/staff/mfa", url


def test_console_switched_off_public_site_works(library_db: Database) -> None:
    settings = app_settings(library_db.url, SHIORI_STAFF_CONSOLE="false")
    with TestClient(create_app(settings)) as client:
        for url in ("/staff", "/staff/", "/staff/login", "/staff/counter"):
            assert client.get(url, follow_redirects=False).status_code == 404, url
        assert client.get("/").status_code == 200
        assert client.get("/search?q=a").status_code == 200
        assert client.get("/my/staff-access", follow_redirects=False).status_code == 303


def test_staff_posts_need_the_staff_csrf_token(team: dict[str, Console]) -> None:
    staff = team["staff"].client
    url = "/staff/counter/return"
    assert staff.post(url, data={"barcode": "x"}).status_code == 403
    assert staff.post(url, data={"barcode": "x", "csrf_token": "forged"}).status_code == 403
    token = csrf_of(staff.get("/staff/counter").text)
    cross = staff.post(
        url, data={"barcode": "x", "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert staff.post(url, data={"barcode": "x", "csrf_token": token}).status_code == 422


def test_counter_errors_are_spoken_and_keep_the_list(team: dict[str, Console]) -> None:
    staff = team["staff"]
    (barcode,) = available_barcodes(1)
    staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=barcode
    )
    again = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=barcode
    )
    assert again.status_code == 422  # type: ignore[attr-defined]
    assert 'role="alert"' in again.text and "貸出中" in again.text  # type: ignore[attr-defined]
    assert "<html" not in again.text  # type: ignore[attr-defined]
    unknown = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode="NOPE-1"
    )
    assert "この資料番号は登録されていません" in unknown.text  # type: ignore[attr-defined]
    assert unknown.text.count('<li class="scan-') == 3  # type: ignore[attr-defined]
    assert "autofocus" in unknown.text  # type: ignore[attr-defined]
    expired = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card="9999999999", barcode=barcode
    )
    assert "この利用者カードは登録されていません" in expired.text  # type: ignore[attr-defined]
    # The list keeps refusals as codes: the English page words them in English.
    page = staff.speaking("en").get("/staff/counter")
    assert "Unknown library card" in page.text  # type: ignore[attr-defined]
    assert "この利用者カード" not in page.text  # type: ignore[attr-defined]
    assert page.text.count('<li class="scan-') == 4  # type: ignore[attr-defined]
    assert page.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]


def test_counter_keeps_the_card_in_the_response_only(
    team: dict[str, Console], clock: Clock
) -> None:
    staff = team["staff"]
    one, two = available_barcodes(2)
    card_field = f'id="card" name="card" value="{HANAKO.card_number}"'
    done = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=one
    )
    assert done.status_code == 200 and card_field in done.text  # type: ignore[attr-defined]
    assert 'data-scan-first="card"' not in done.text  # type: ignore[attr-defined]
    page = staff.get("/staff/counter")
    assert "貸出しました" in page.text and card_field not in page.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        stored = " ".join(conn.execute(text("SELECT counter_state FROM staff_session")).scalars())
    assert HANAKO.card_number not in stored
    # Returning an item ends the transaction: its line alone is left, then nothing once idle.
    staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=two
    )
    back = staff.htmx_post("/staff/counter/return", "/staff/counter?mode=return", barcode=one)
    assert back.text.count('<li class="scan-') == 1  # type: ignore[attr-defined]
    idle = queries.staff_policy_data().settings["counter_idle_minutes"]
    clock.tick(idle * 60)
    assert "まだ処理した資料はありません。" in staff.get("/staff/counter").text  # type: ignore[attr-defined]


def test_patron_sees_when_staff_looked_not_who(team: dict[str, Console], app: object) -> None:
    hanako = patron_id(HANAKO.card_number)
    assert team["staff"].get(f"/staff/patrons/{hanako}").status_code == 200  # type: ignore[attr-defined]
    patron = TestClient(app)  # type: ignore[arg-type]
    login = patron.get("/login")
    patron.post(
        "/login",
        data={
            "csrf_token": csrf_of(login.text),
            "card": HANAKO.card_number,
            "password": DEMO_PATRONS[0].password or "",
        },
    )
    assert "/my/staff-access" in patron.get("/my").text
    page = patron.get("/my/staff-access")
    assert "南市民図書館" in page.text and "2026年11月21日(土)" in page.text
    assert "職員 STA01" not in page.text and "STA01" not in page.text


def test_ended_by_date_and_password_rules(team: dict[str, Console], clock: Clock) -> None:
    manager, staff = team["manager"], team["staff"]
    staff_id = next(s.id for s in queries.list_staff_accounts() if s.staff_code == "STA01")
    form = {
        "name": "職員 STA01",
        "affiliation": "奉仕係",
        "branch": "minami",
        "role": "staff",
        "ends_on": "2026-11-21",
    }
    assert manager.post(f"/staff/accounts/{staff_id}", "/staff/accounts", **form).status_code == 303  # type: ignore[attr-defined]
    # Too soon, then a reused password: refused with the reason.
    change = staff.post(
        "/staff/password",
        "/staff/password",
        current_password=PASSWORD,
        new_password="atarashii-pasuwado-99",
        new_password_again="atarashii-pasuwado-99",
    )
    assert change.status_code == 422 and "1日に1回" in change.text  # type: ignore[attr-defined]
    clock.tick(2 * 86400)
    reuse = staff.log_in("STA01")
    assert reuse.status_code == 422  # type: ignore[attr-defined]  # the end date has passed


def test_idle_timeout_is_shorter_than_patrons(team: dict[str, Console], clock: Clock) -> None:
    staff = team["staff"]
    assert staff.get("/staff/").status_code == 200  # type: ignore[attr-defined]
    clock.tick(16 * 60)
    assert staff.get("/staff/").status_code == 303  # type: ignore[attr-defined]


def test_totp_codes_are_single_use_and_recovery_codes_work(
    team: dict[str, Console], app: object, clock: Clock
) -> None:
    staff = team["staff"]
    other = Console(app, clock)
    other.secret = staff.secret
    other.log_in("STA01", second=False)
    mfa = other.client.get("/staff/mfa")
    code = other.code()
    first = other.client.post(
        "/staff/mfa", data={"csrf_token": csrf_of(mfa.text), "code": code}, follow_redirects=False
    )
    assert first.status_code == 303
    third = Console(app, clock)
    third.log_in("STA01", second=False)
    mfa = third.client.get("/staff/mfa")
    replay = third.client.post(
        "/staff/mfa", data={"csrf_token": csrf_of(mfa.text), "code": code}, follow_redirects=False
    )
    assert replay.status_code == 422
    recovery = third.client.post(
        "/staff/mfa",
        data={"csrf_token": csrf_of(mfa.text), "code": staff.recovery[0]},
        follow_redirects=False,
    )
    assert recovery.status_code == 303 and recovery.headers["location"] == "/staff/"


def test_patron_edit_validation_saves_nothing(team: dict[str, Console]) -> None:
    staff = team["staff"]
    taro = patron_id(TARO.card_number)
    response = staff.post(
        f"/staff/patrons/{taro}/edit",
        f"/staff/patrons/{taro}/edit",
        address="",
        phone="12",
        email="not-an-email",
        category="general",
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    body = response.text  # type: ignore[attr-defined]
    assert "住所を入力してください" in body and "10〜11桁" in body
    english = staff.speaking("en").post(
        f"/staff/patrons/{taro}/edit",
        f"/staff/patrons/{taro}/edit",
        address="",
        phone="12",
        email="not-an-email",
        category="general",
    )
    assert "Enter the address" in english.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        row = conn.execute(
            text("SELECT address, phone, category FROM patron WHERE id = :i"), {"i": taro}
        ).one()
    assert tuple(row) == (TARO.address, TARO.phone, TARO.category)


def test_no_default_staff_accounts(library_db: Database) -> None:
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff_account")).scalar_one() == 0
    assert date.today()  # the demo data made no staff account


# Reservations at the counter: where a returned item goes, receiving it from transit ----------


COUNTER_BRANCH = "minami"  # where new_account() puts the team (the manager is at sogo)


def _reserved_elsewhere() -> tuple[str, str, str]:
    """Hanako reserves the title Taro has on loan, to collect at the manager's branch,
    not the team's counter. → (barcode, pickup branch name in Japanese, in English).
    The title's other copies are off the shelves, so the reservation waits for Taro's."""
    [loan] = queries.list_loans(patron_id(TARO.card_number))
    taros_loan()
    pickup = next(b for b in queries.list_branches() if b.code == "sogo")
    assert pickup.code != COUNTER_BRANCH
    queries.place_hold(patron_id(HANAKO.card_number), loan.work_id, pickup.code)
    return loan.barcode, pickup.name.get("ja"), pickup.name.get("en")


def _patron_client(app: object) -> TestClient:
    patron = TestClient(app)  # type: ignore[arg-type]
    login = patron.get("/login")
    patron.post(
        "/login",
        data={
            "csrf_token": csrf_of(login.text),
            "card": HANAKO.card_number,
            "password": DEMO_PATRONS[0].password or "",
        },
    )
    return patron


def test_return_says_where_a_reserved_item_goes(team: dict[str, Console]) -> None:
    intern = team["intern"]
    barcode, branch_ja, _ = _reserved_elsewhere()
    intern.bodies.clear()
    back = intern.htmx_post("/staff/counter/return", "/staff/counter?mode=return", barcode=barcode)
    assert back.status_code == 200  # type: ignore[attr-defined]
    status = back.text.split('id="counter-status"', 1)[1].split("</div>", 1)[0]  # type: ignore[attr-defined]
    assert "返却しました" in status and "回送" in status and branch_ja in status
    page = intern.get("/staff/counter?mode=return")
    assert f"{branch_ja} へ回送" in page.text  # type: ignore[attr-defined]
    leaked = [v for v in personal_values() for body in intern.bodies if v in body]
    assert not leaked, leaked


def test_receive_in_transit_makes_the_hold_ready(team: dict[str, Console], app: object) -> None:
    intern = team["intern"]
    barcode, branch_ja, _ = _reserved_elsewhere()
    intern.bodies.clear()
    assert intern.get("/staff/counter?mode=receive").status_code == 200  # type: ignore[attr-defined]
    back = intern.htmx_post("/staff/counter/return", "/staff/counter?mode=return", barcode=barcode)
    assert back.status_code == 200  # type: ignore[attr-defined]
    [hold] = queries.list_holds(patron_id(HANAKO.card_number))
    assert hold.state == "in_transit"

    # Scanned in at the wrong branch (the team's): refused, it must go on to the pickup.
    wrong = intern.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert f"この資料の受取館は{branch_ja}です" in wrong.text  # type: ignore[attr-defined]
    assert wrong.text.count('<li class="scan-') == 2  # type: ignore[attr-defined]
    [hold] = queries.list_holds(patron_id(HANAKO.card_number))
    assert hold.state == "in_transit"

    # It arrives at the pickup branch (the manager's): scanned in "receive" mode, spoken.
    manager = team["manager"]
    got = manager.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert got.status_code == 200, got.text  # type: ignore[attr-defined]
    body = got.text  # type: ignore[attr-defined]
    assert "<html" not in body and 'role="status"' in body
    status = body.split('id="counter-status"', 1)[1].split("</div>", 1)[0]
    assert "回送資料を受け取りました" in status and "予約棚" in status and branch_ja in status
    assert 'action="/staff/counter/receive"' in body and "autofocus" in body

    [hold] = queries.list_holds(patron_id(HANAKO.card_number))
    assert hold.state == "ready" and hold.ready_until is not None
    mine = _patron_client(app).get("/my/holds").text
    d = hold.ready_until
    assert (
        f"{d.year}年{d.month}月{d.day}日({'月火水木金土日'[d.weekday()]})までにお受け取りください"
        in mine
    )

    # Again: it is no longer in transit. An unknown barcode: refused, in each language.
    again = intern.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert again.status_code == 422  # type: ignore[attr-defined]
    assert 'role="alert"' in again.text  # type: ignore[attr-defined]
    assert "回送中ではありません" in again.text  # type: ignore[attr-defined]
    assert again.text.count('<li class="scan-') == 2  # type: ignore[attr-defined]
    unknown = intern.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode="NOPE-1"
    )
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    assert "登録されていません" in unknown.text  # type: ignore[attr-defined]
    intern.speaking("en")
    again = intern.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert "not in transit" in again.text  # type: ignore[attr-defined]
    unknown = intern.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode="NOPE-1"
    )
    assert "Unknown item barcode" in unknown.text  # type: ignore[attr-defined]
    intern.speaking("ja")
    # Without JavaScript: the full page, with the same refusal.
    plain = intern.post("/staff/counter/receive", "/staff/counter?mode=receive", barcode="NOPE-1")
    assert plain.status_code == 422 and "<html" in plain.text  # type: ignore[attr-defined]
    assert 'aria-current="page">回送資料の受け取り' in plain.text  # type: ignore[attr-defined]

    leaked = [v for v in personal_values() for body in intern.bodies if v in body]
    assert not leaked, leaked


def test_receive_refuses_an_item_not_in_transit(team: dict[str, Console]) -> None:
    staff = team["staff"]
    (barcode,) = available_barcodes(1)
    refused = staff.htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "この資料は回送中ではありません。" in refused.text  # type: ignore[attr-defined]
    english = staff.speaking("en").htmx_post(
        "/staff/counter/receive", "/staff/counter?mode=receive", barcode=barcode
    )
    assert "This item is not in transit." in english.text  # type: ignore[attr-defined]
    assert "回送中" not in english.text  # type: ignore[attr-defined]
    with engine.read() as conn:
        status = conn.execute(
            text("SELECT status FROM item WHERE barcode = :b"), {"b": barcode}
        ).scalar_one()
    assert status == "available"


def test_others_failures_do_not_lock_a_known_staff_browser(
    team: dict[str, Console], app: object, clock: Clock
) -> None:
    staff = team["staff"]  # this browser passed the second factor before: a device cookie
    assert staff.post("/staff/logout").status_code == 303  # type: ignore[attr-defined]
    attacker = Console(app, clock)
    for _ in range(8):
        wrong = attacker.log_in("STA01", "not-the-password")
        assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert attacker.log_in("STA01").status_code == 422  # type: ignore[attr-defined]
    assert staff.log_in("STA01").status_code == 303  # type: ignore[attr-defined]
    assert staff.get("/staff/").status_code == 200  # type: ignore[attr-defined]


# An email address entered by staff is unconfirmed until the patron confirms it -----------

NEW_ADDRESS = "someone-else@example.org"


def _forgot(app: object, address: str) -> None:
    """Ask for a reset link for Hanako's card, to be sent to `address` if it is registered."""
    visitor = TestClient(app)  # type: ignore[arg-type]
    page = visitor.get("/password/forgot")
    visitor.post(
        "/password/forgot",
        data={"csrf_token": csrf_of(page.text), "card": HANAKO.card_number, "email": address},
    )


def _mail_to(address: str) -> list[tuple[str, str | None]]:
    return [(kind, body) for kind, to, _subject, body in mailbox.composed() if to == address]


def _edit_email(staff: Console, patron: int, address: str) -> object:
    return staff.post(
        f"/staff/patrons/{patron}/edit",
        f"/staff/patrons/{patron}/edit",
        address=HANAKO.address,
        phone=HANAKO.phone,
        email=address,
        category=HANAKO.category,
    )


def test_staff_cannot_take_over_a_web_account_by_changing_the_email(
    team: dict[str, Console], app: object
) -> None:
    staff = team["staff"]
    hanako = patron_id(HANAKO.card_number)
    old = HANAKO.email or ""
    assert _edit_email(staff, hanako, NEW_ADDRESS).status_code == 303  # type: ignore[attr-defined]
    record = staff.get(f"/staff/patrons/{hanako}").text  # type: ignore[attr-defined]
    assert NEW_ADDRESS in record and "未確認" in record

    # The staff member asks for a reset link at the new address: nothing goes there.
    _forgot(app, NEW_ADDRESS)
    assert _mail_to(NEW_ADDRESS) == []
    # The old address hears of the change (and no reset link either).
    [(kind, body)] = _mail_to(old)
    assert kind == "email_changed" and body is not None
    assert "カウンター" in body and NEW_ADDRESS not in body

    # The patron sees the recorded address in My Library and confirms it, logged in.
    patron = _patron_client(app)
    my = patron.get("/my").text
    assert NEW_ADDRESS in my and "確認" in my
    confirmed = patron.post(
        "/my/email/confirm",
        data={"csrf_token": csrf_of(my), "address": NEW_ADDRESS},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    my = patron.get("/my").text
    assert "メールアドレスを変更しました" in my or "メールアドレスが変更されました" in my
    assert [k for k, _ in _mail_to(old)] == ["email_changed", "email_changed"]

    # From now on resets use the new address.
    _forgot(app, NEW_ADDRESS)
    assert [k for k, _ in _mail_to(NEW_ADDRESS)] == ["password_reset"]


def test_patron_can_refuse_an_address_staff_recorded(team: dict[str, Console], app: object) -> None:
    hanako = patron_id(HANAKO.card_number)
    _edit_email(team["staff"], hanako, NEW_ADDRESS)
    patron = _patron_client(app)
    my = patron.get("/my").text
    refused = patron.post(
        "/my/email/decline",
        data={"csrf_token": csrf_of(my), "address": NEW_ADDRESS},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    assert NEW_ADDRESS not in patron.get("/my").text
    with engine.read() as conn:
        row = conn.execute(
            text("SELECT email, email_pending FROM patron WHERE id = :i"), {"i": hanako}
        ).one()
    assert tuple(row) == (HANAKO.email, None)
    _forgot(app, HANAKO.email or "")
    assert "password_reset" in [k for k, _ in _mail_to(HANAKO.email or "")]


def test_a_stale_confirmation_does_not_confirm_a_newer_address(
    team: dict[str, Console], app: object
) -> None:
    hanako = patron_id(HANAKO.card_number)
    _edit_email(team["staff"], hanako, NEW_ADDRESS)
    patron = _patron_client(app)
    my = patron.get("/my").text
    _edit_email(team["staff"], hanako, "third@example.org")
    patron.post("/my/email/confirm", data={"csrf_token": csrf_of(my), "address": NEW_ADDRESS})
    with engine.read() as conn:
        row = conn.execute(
            text("SELECT email, email_pending FROM patron WHERE id = :i"), {"i": hanako}
        ).one()
    assert tuple(row) == (HANAKO.email, "third@example.org")


def test_staff_removing_the_email_notifies_the_old_address(
    team: dict[str, Console], app: object
) -> None:
    hanako = patron_id(HANAKO.card_number)
    assert _edit_email(team["staff"], hanako, "").status_code == 303  # type: ignore[attr-defined]
    assert [k for k, _ in _mail_to(HANAKO.email or "")] == ["email_changed"]


def test_the_counter_reads_full_width_cards_and_barcodes(team: dict[str, Console]) -> None:
    """A scanner or keyboard with the Japanese IME on types full-width digits."""
    staff = team["staff"]
    (barcode,) = available_barcodes(1)
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    done = staff.htmx_post(
        "/staff/counter/checkout",
        "/staff/counter",
        card=TARO.card_number.translate(wide),
        barcode=f" {barcode}".translate(wide),
    )
    assert done.status_code == 200 and "貸出しました" in done.text  # type: ignore[attr-defined]
    back = staff.htmx_post(
        "/staff/counter/return", "/staff/counter?mode=return", barcode=barcode.translate(wide)
    )
    assert back.status_code == 200 and "返却しました" in back.text  # type: ignore[attr-defined]


def test_the_next_patron_at_the_counter_starts_a_new_list(team: dict[str, Console]) -> None:
    """One counter transaction is one patron: a checkout for another card starts the list
    again (the next patron does not see the titles the one before took)."""
    staff = team["staff"]
    one, two, three = available_barcodes(3)
    for barcode in (one, two):
        staff.htmx_post(
            "/staff/counter/checkout", "/staff/counter", card=TARO.card_number, barcode=barcode
        )
    assert staff.get("/staff/counter").text.count('<li class="scan-') == 2  # type: ignore[attr-defined]
    nxt = staff.htmx_post(
        "/staff/counter/checkout", "/staff/counter", card=HANAKO.card_number, barcode=three
    )
    assert nxt.text.count('<li class="scan-') == 1  # type: ignore[attr-defined]
