"""Many libraries on one PostgreSQL (issue 21, db.tenancy): tries to cross from one library
to another, row-level security failing closed, the host map; SQLite stays one library.

On PostgreSQL the app runs as a role row-level security applies to (neither superuser nor
BYPASSRLS), as the README's deployment guide says; the suite's own role is a superuser,
which every policy would let through."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from db import engine, outbox, queries
from db.models import TABLES
from db.patrons import DEMO_PATRONS, NewPatron, register_patron
from tests import smtp_sink
from tests.conftest import BACKEND, Database, _pg_admin, app_settings
from tests.mailbox import COMPOSE
from tests.test_replica import statements_on
from web import cli
from web.app import create_app

on_pg = pytest.mark.skipif(BACKEND != "postgresql", reason="many libraries need PostgreSQL")
on_sqlite = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's single library")

HANAKO = DEMO_PATRONS[0]
ONLY_IN_A = NewPatron(
    "2100000099",
    "図書 館子",
    "トショ カンコ",
    date(1990, 1, 1),
    "神奈川県藤沢市朝日町9-9",
    "0466-99-9999",
    None,
    "general",
    "sogo",
)
ONLY_IN_A_PASSWORD = "a-dake-no-riyousha-1"
WRONG_PASSWORD_WORDS = "カード番号またはパスワードが違います"


@dataclass(frozen=True)
class Tenants:
    url: str  # the app role's URL
    a: int
    b: int


def _app_role_url(url: str) -> tuple[str, str]:
    """A role row-level security applies to, with the rights the app needs on `url`'s
    database (README: the runtime role)."""
    role = f"shiori_app_{uuid.uuid4().hex[:10]}"
    name = make_url(url).database
    _pg_admin(f"CREATE ROLE {role} LOGIN PASSWORD 'app' NOSUPERUSER NOBYPASSRLS")
    with engine.write() as conn:
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        )
        conn.execute(
            text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        )
    app_url = make_url(url).set(username=role, password="app", database=name)
    return app_url.render_as_string(hide_password=False), role


@pytest.fixture
def tenants(library_db: Database) -> Iterator[Tenants]:
    """Library A (1, at a.test: the demo library) and B (at b.test, with the same demo
    patrons' card numbers and copies of its own); the query layer on the app role."""
    app_url, role = _app_role_url(library_db.url)
    with engine.write() as conn:
        conn.execute(text("INSERT INTO library_host (host, library_id) VALUES ('a.test', 1)"))
    queries.configure(app_url)
    try:
        # Fujisawa's branches: the demo patrons and copies B gets name them.
        b = queries.add_library("b", "B市立図書館", ("B.test:8000",), queries.DEFAULT_BRANCHES)
        with queries.use_library(b.id):
            queries.ensure_demo_patrons()
            queries.generate_demo_copies(seed_value=7)
        with queries.use_library(1), engine.write() as conn:
            register_patron(conn, ONLY_IN_A, queries.current_time(), ONLY_IN_A_PASSWORD)
        yield Tenants(app_url, 1, b.id)
    finally:
        queries.configure(library_db.url)
        with engine.write() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
        queries.dispose()
        _pg_admin(f"DROP ROLE IF EXISTS {role}")


def _client(url: str, host: str) -> TestClient:
    return TestClient(create_app(app_settings(url)), base_url=f"http://{host}")


def _log_in(client: TestClient, card: str, password: str) -> object:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post(
        "/login",
        data={"csrf_token": token.group(1), "card": card, "password": password},
        follow_redirects=False,
    )


# --- row-level security, raw ------------------------------------------------------------


@on_pg
def test_row_level_security_fails_closed(tenants: Tenants) -> None:
    raw = create_engine(tenants.url, isolation_level="AUTOCOMMIT")
    try:
        with raw.connect() as conn:
            # Never set: nothing to read, nothing may be written.
            assert conn.execute(text("SELECT count(*) FROM patron")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM item")).scalar_one() == 0
            with pytest.raises(DBAPIError):
                conn.execute(
                    text(
                        "INSERT INTO throttle (key, failures, window_start) VALUES ('x', 1, now())"
                    )
                )
            with pytest.raises(DBAPIError):
                conn.execute(
                    text(
                        "INSERT INTO throttle (library_id, key, failures, "
                        "window_start) VALUES (1, 'x', 1, now())"
                    )
                )
    finally:
        raw.dispose()
    # In a transaction (set_config(…, true) lasts as long as it), still not through the app.
    raw = create_engine(tenants.url)
    try:
        with raw.connect() as conn, conn.begin():
            conn.execute(
                text("SELECT set_config('shiori.library', :b, true)"), {"b": str(tenants.b)}
            )
            libraries = conn.execute(text("SELECT DISTINCT library_id FROM patron")).scalars()
            assert set(libraries) == {tenants.b}
            # The other library's rows: not seen, not changed, not written.
            assert (
                conn.execute(text("UPDATE patron SET name = 'x' WHERE library_id = 1")).rowcount
                == 0
            )
            assert conn.execute(text("DELETE FROM item WHERE library_id = 1")).rowcount == 0
            with pytest.raises(DBAPIError):
                conn.execute(
                    text(
                        "INSERT INTO throttle (library_id, key, failures, "
                        "window_start) VALUES (1, 'x', 1, now())"
                    )
                )
        with raw.connect() as conn, conn.begin():
            # A pooled connection after its last transaction set it: '' is no library.
            conn.execute(text("SELECT set_config('shiori.library', '', true)"))
            assert conn.execute(text("SELECT count(*) FROM branch")).scalar_one() == 0
    finally:
        raw.dispose()


@on_pg
def test_card_numbers_and_codes_are_unique_per_library(tenants: Tenants) -> None:
    with queries.use_library(tenants.a), engine.read() as conn:
        a = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.patron.card_number}
        ).scalar_one()
        a_branches = conn.execute(text("SELECT count(*) FROM branch")).scalar_one()
    with queries.use_library(tenants.b), engine.read() as conn:
        b = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.patron.card_number}
        ).scalar_one()
        b_branches = conn.execute(text("SELECT count(*) FROM branch")).scalar_one()
    assert a != b
    assert a_branches == b_branches > 0  # the same branch codes, each library its own rows


# --- the host map -------------------------------------------------------------------------


@on_pg
def test_unknown_host_gets_a_404_in_both_languages(tenants: Tenants) -> None:
    with _client(tenants.url, "c.test") as client:
        page = client.get("/")
    assert page.status_code == 404
    assert "No library is served at this address" in page.text
    assert "このアドレスで提供している図書館はありません" in page.text
    assert "藤沢" not in page.text and "B市立" not in page.text
    with _client(tenants.url, "127.0.0.1:8000") as client:
        assert client.get("/health").text == "ok\n"  # monitoring on the host itself
    with _client(tenants.url, "A.TEST:8443") as client:
        assert client.get("/").status_code == 200


@on_pg
def test_without_hosts_every_host_is_the_first_library(library_db: Database) -> None:
    with _client(library_db.url, "anything.example") as client:
        assert client.get("/").status_code == 200


@on_pg
def test_each_library_is_named_by_its_identity_in_pages_and_mail(tenants: Tenants) -> None:
    with _client(tenants.url, "b.test") as at_b:
        page = at_b.get("/").text
        assert "<title>B市立図書館 蔵書検索 | " in page
        assert ">B市立図書館 蔵書検索</a>" in page and "藤沢" not in page
        with engine.read() as conn:
            bind = conn.engine
        with statements_on(bind) as seen:
            assert ">B市立図書館 蔵書検索</a>" in at_b.get("/").text
        assert not [s for s in seen if "library_identity" in s]  # the per-library cache
        with queries.use_library(tenants.b), engine.read() as conn:
            held = conn.execute(text("SELECT min(work_id) FROM item")).scalar_one()
        record = at_b.get(f"/records/{held}").text
        found = re.search(r'<script type="application/ld\+json">(.*?)</script>', record, re.S)
        assert found
        offers = json.loads(found.group(1))["offers"]
        assert {o["offeredBy"]["name"] for o in offers} == {"B市立図書館"}
    with _client(tenants.url, "a.test") as at_a:
        assert ">藤沢市図書館 蔵書検索</a>" in at_a.get("/").text
    params = {"when": "2026-11-21T09:00:00+00:00", "via": "code"}
    queries.configure(tenants.url)  # as the mail worker: the app's shutdown disposed of it
    with queries.use_library(tenants.b):
        subject, _ = COMPOSE("password_set", "ja", params)
    assert subject == "【B市立図書館】パスワードが設定されました"
    with queries.use_library(tenants.a):
        subject, _ = COMPOSE("password_set", "en", params)
    assert subject == "[Fujisawa City Libraries] Your password was set"


@on_pg
def test_a_library_sends_from_its_own_address_only_in_a_domain_the_operator_allows(
    tenants: Tenants,
    smtp_server: smtp_sink.Server,
) -> None:
    with queries.use_library(tenants.b), engine.write() as conn:
        conn.execute(text("UPDATE library_identity SET email = 'info@Lib-B.example.jp'"))
    with queries.use_library(tenants.a), engine.write() as conn:
        conn.execute(text("UPDATE library_identity SET email = 'info@lib-a.example.jp'"))
    deployment = smtp_server.settings  # From 藤沢市図書館 <opac@library.example.jp>
    allowed = replace(deployment, from_domains=frozenset({"lib-b.example.jp"}))

    def send_one(library: int, settings: queries.SmtpSettings) -> smtp_sink.Received:
        smtp_server.recorder.received.clear()
        with queries.use_library(library), engine.write() as conn:
            outbox.enqueue(
                conn,
                kind="hold_ready",
                to_addr="p@example.jp",
                subject="s",
                body="b",
                now=queries.current_time(),
            )
        with queries.use_library(library):
            assert queries.send_due_mail(settings).sent == 1
        [got] = smtp_server.recorder.received
        return got

    # Allowed: B's own name and address; bounces still go to the deployment's address.
    got = send_one(tenants.b, allowed)
    assert got.message["From"].addresses[0].addr_spec == "info@Lib-B.example.jp"
    assert got.message["From"].addresses[0].display_name == "B市立図書館"
    assert got.mail_from == "opac@library.example.jp"
    with queries.use_library(tenants.b):
        assert queries.library_sender(allowed) == queries.LibrarySender(
            "B市立図書館 <info@Lib-B.example.jp>", own_domain_refused=False
        )
    # Not allowed: a manager cannot make the relay claim a domain; the deployment's From.
    got = send_one(tenants.b, deployment)
    assert got.message["From"].addresses[0].addr_spec == "opac@library.example.jp"
    with queries.use_library(tenants.b):
        assert queries.library_sender(deployment) == queries.LibrarySender(
            deployment.sender, own_domain_refused=True
        )
    # The first library keeps the deployment's sender whatever its identity says.
    got = send_one(tenants.a, replace(deployment, from_domains=frozenset({"lib-a.example.jp"})))
    assert got.message["From"].addresses[0].addr_spec == "opac@library.example.jp"
    with queries.use_library(tenants.a):
        assert not queries.library_sender(deployment).own_domain_refused


# --- start-up: fail closed ---------------------------------------------------------------


@on_pg
def test_several_libraries_as_a_role_bypassing_row_security_refuse_to_start(
    library_db: Database,
) -> None:
    # One library: the owner (the suite's superuser) still serves it.
    with _client(library_db.url, "a.test") as client:
        assert client.get("/").status_code == 200
    queries.configure(library_db.url)  # the app's shutdown disposed of the engine
    with engine.write() as conn:
        conn.execute(text("INSERT INTO library (code, name) VALUES ('b', 'B')"))
        conn.execute(
            text(
                "INSERT INTO library_host (host, library_id) "
                "SELECT 'b.test', id FROM library WHERE code = 'b'"
            )
        )
    with (
        pytest.raises(queries.LibraryRefused, match="runtime role"),
        _client(library_db.url, "a.test"),
    ):
        pass
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stderr(err):
        env.setenv("SHIORI_DATABASE_URL", library_db.url)
        assert cli.main(["serve"]) == 2
    assert "行単位セキュリティを迂回" in err.getvalue() and "runtime role" in err.getvalue()


@on_pg
def test_a_new_library_gets_one_branch_of_its_own_or_the_branches_given(
    tenants: Tenants,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stdout(out), redirect_stderr(err):
        env.setenv("SHIORI_DATABASE_URL", tenants.url)
        assert cli.main(["library", "add", "c", "--name", "C町図書館", "--host", "c.test"]) == 0
        given = "kita=北館=North;minami=南館=South"
        status = cli.main(
            ["library", "add", "d", "--name", "D", "--host", "d.test", "--branches", given]
        )
        assert status == 0
        bad = ["library", "add", "e", "--name", "E", "--host", "e.test", "--branches", "x"]
        assert cli.main(bad) == 2
    assert "SHIORI_BRANCHES" in err.getvalue()
    assert [each.code for each in queries.list_libraries()] == ["default", "b", "c", "d"]

    def branches(code: str) -> list[tuple[str, dict[str, str]]]:
        with queries.use_library(queries.get_library(code).id):
            return [(b.code, b.names.as_dict()) for b in queries.list_code_branches()]

    assert branches("c") == [("main", {"ja": "C町図書館", "en": "C町図書館"})]
    assert branches("d") == [
        ("kita", {"ja": "北館", "en": "North"}),
        ("minami", {"ja": "南館", "en": "South"}),
    ]
    with queries.use_library(queries.get_library("c").id):
        assert "general" in queries.list_category_codes()  # the default code tables stay


# --- crossing from A to B -----------------------------------------------------------------


@on_pg
def test_a_patron_of_a_logging_in_at_b_is_refused_as_a_wrong_password(tenants: Tenants) -> None:
    with _client(tenants.url, "a.test") as at_a:
        assert _log_in(at_a, ONLY_IN_A.card_number, ONLY_IN_A_PASSWORD).status_code == 303
    with _client(tenants.url, "b.test") as at_b:
        unknown = _log_in(at_b, ONLY_IN_A.card_number, ONLY_IN_A_PASSWORD)
        wrong = _log_in(at_b, HANAKO.patron.card_number, "not-the-password-1")
    assert unknown.status_code == wrong.status_code == 422
    assert WRONG_PASSWORD_WORDS in unknown.text and WRONG_PASSWORD_WORDS in wrong.text


@on_pg
def test_a_session_of_a_is_no_session_at_b(tenants: Tenants) -> None:
    with _client(tenants.url, "a.test") as at_a:
        assert _log_in(at_a, ONLY_IN_A.card_number, ONLY_IN_A_PASSWORD).status_code == 303
        cookies = dict(at_a.cookies.items())
        assert at_a.get("/my", follow_redirects=False).status_code == 200
    with _client(tenants.url, "b.test") as at_b:
        for name, value in cookies.items():
            at_b.cookies.set(name, value)
        response = at_b.get("/my", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


@on_pg
def test_staff_of_a_cannot_reach_b_patrons_holds_or_audit(tenants: Tenants) -> None:
    with queries.use_library(tenants.b), engine.read() as conn:
        b_patron = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.patron.card_number}
        ).scalar_one()
        b_work = conn.execute(text("SELECT work_id FROM item ORDER BY id LIMIT 1")).scalar_one()
    with queries.use_library(tenants.b):
        b_hold = queries.place_hold(b_patron, b_work, "sogo").id
        with engine.write() as conn:
            b_audit = conn.execute(
                text(
                    "INSERT INTO staff_audit (at, staff_id, staff_code, branch_id, patron_id, "
                    "field_groups, screen, action, outcome) VALUES (now(), 1, 'B01', 1, :p, "
                    "'name', 'patron', 'view', 'allowed') RETURNING id"
                ),
                {"p": b_patron},
            ).scalar_one()
    # In A's transactions B's rows do not exist: the same answers as for no such id.
    with queries.use_library(tenants.a):
        with pytest.raises(queries.NotFound):
            queries.get_hold(b_patron, b_hold)
        with engine.read() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM staff_audit WHERE id = :i"), {"i": b_audit}
                ).scalar_one()
                == 0
            )
            assert (
                conn.execute(
                    text("SELECT count(*) FROM patron WHERE id = :i"), {"i": b_patron}
                ).scalar_one()
                == 0
            )
    _staff_http_refusals(tenants, b_patron, b_hold)


def _staff_http_refusals(tenants: Tenants, b_patron: int, b_hold: int) -> None:
    """A manager of A, logged in at a.test, opens B's patron and acts on B's hold: 404."""
    from tests.test_web_staff import Clock, Console

    clock = Clock()
    queries.set_clock(clock)
    try:
        app = create_app(app_settings(tenants.url))
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SHIORI_DATABASE_URL", tenants.url)
            from contextlib import redirect_stdout

            with redirect_stdout(out):
                status = cli.main(
                    [
                        "staff",
                        "create-manager",
                        "--staff-id",
                        "M001",
                        "--name",
                        "管理 一郎",
                        "--branch",
                        "sogo",
                    ]
                )
        assert status == 0
        manager = Console(app, clock)
        manager.client.base_url = "http://a.test"  # type: ignore[assignment]
        manager.enrol(out.getvalue().strip().splitlines()[-1])
        own = manager.get(f"/staff/patrons/{_a_patron()}")
        assert own.status_code == 200  # type: ignore[attr-defined]
        other = manager.get(f"/staff/patrons/{b_patron}")
        assert other.status_code == 404  # type: ignore[attr-defined]
        page = manager.get("/staff/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)  # type: ignore[attr-defined]
        assert token
        cancel = manager.client.post(
            f"/staff/patrons/{b_patron}/holds/{b_hold}/cancel",
            data={"csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert cancel.status_code == 404
        audit = manager.get(f"/staff/audit?patron={b_patron}")
        assert f"/staff/patrons/{b_patron}" not in audit.text  # type: ignore[attr-defined]
    finally:
        queries.set_clock(None)
    with queries.use_library(tenants.b):
        assert queries.get_hold(b_patron, b_hold).id == b_hold  # still there, untouched


def _a_patron() -> int:
    with queries.use_library(1), engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"),
                {"c": HANAKO.patron.card_number},
            ).scalar_one()
        )


@on_pg
def test_an_undo_note_is_used_up_in_its_library_only(tenants: Tenants) -> None:
    """The used undo notes (db.hold_undo) are B's rows under B's transactions, written and
    purged by the app role; A never sees them."""
    with queries.use_library(tenants.b), engine.read() as conn:
        b_patron = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.patron.card_number}
        ).scalar_one()
        b_work = conn.execute(text("SELECT work_id FROM item ORDER BY id LIMIT 1")).scalar_one()
    used = text("SELECT count(*) FROM hold_undo_used")
    with queries.use_library(tenants.b):
        hold = queries.place_hold(b_patron, b_work, "sogo")
        cancelled = queries.cancel_hold_undoably(b_patron, hold.id)
        queries.restore_hold(b_patron, cancelled)
        with pytest.raises(queries.UndoUsed):
            queries.restore_hold(b_patron, cancelled)
        with engine.read() as conn:
            assert conn.execute(used).scalar_one() == 1
    with queries.use_library(tenants.a), engine.read() as conn:
        assert conn.execute(used).scalar_one() == 0
    later = cancelled.cancelled_at + timedelta(minutes=queries.HOLD_UNDO_MINUTES, seconds=1)
    queries.set_clock(lambda: later)
    try:
        with queries.use_library(tenants.a):
            assert queries.run_retention(30, 15).undo_notes == 0  # not A's to purge
        with queries.use_library(tenants.b):
            assert queries.run_retention(30, 15).undo_notes == 1
    finally:
        queries.set_clock(None)


@on_pg
def test_a_search_at_a_shows_only_a_copies(tenants: Tenants) -> None:
    def truth(library: int) -> dict[int, tuple[int, int]]:
        """work → (copies, on the shelf) as the library's own rows say."""
        with queries.use_library(library), engine.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT work_id, count(*), count(*) FILTER (WHERE status = 'available') "
                    "FROM item GROUP BY work_id"
                )
            ).all()
        return {work: (copies, shelf) for work, copies, shelf in rows}

    a, b = truth(tenants.a), truth(tenants.b)
    assert a and b and a != b
    everything = queries.SearchParams(sort="title")
    for library, expected in ((tenants.a, a), (tenants.b, b)):
        with queries.use_library(library):
            result = queries.search_works(everything)
            facets = queries.get_search_facets(everything)
        for hit in result.hits:
            assert (hit.copies, hit.available) == expected.get(hit.id, (0, 0))
        assert sum(f.count for f in facets.material_types) <= len(expected)
    # Over HTTP: a record's copies at A's host are A's copies.
    work = next(w for w in a if a[w][0] != b.get(w, (0, 0))[0])
    english = {"Accept-Language": "en"}
    with _client(tenants.url, "a.test") as at_a, _client(tenants.url, "b.test") as at_b:
        page_a = at_a.get(f"/records/{work}", headers=english)
        page_b = at_b.get(f"/records/{work}", headers=english)
    assert page_a.status_code == 200, page_a.text[:3000]
    assert page_b.status_code == 200
    assert page_a.text.count('data-label="Call number"') == a[work][0]
    assert page_b.text.count('data-label="Call number"') == b.get(work, (0, 0))[0]


# --- inserts name no library ---------------------------------------------------------------


def test_core_inserts_leave_the_library_to_the_server_default(fresh_db: Database) -> None:
    """An INSERT built from a SQLModel table that does not name library_id sends no value
    for it (no NULL, no 1): the server default puts the row in the transaction's library."""
    insert = TABLES["throttle"].insert().values(key="k", failures=1, window_start=datetime.now(UTC))
    with engine.write() as conn:
        compiled = insert.compile(conn)
        assert "library_id" not in compiled.params
        # (It may be RETURNed: part of this table's primary key, made by the server.)
        assert "library_id" not in str(compiled).split("RETURNING")[0]
        conn.execute(insert)
        library = conn.execute(text("SELECT library_id FROM throttle WHERE key = 'k'"))
        assert library.scalar_one() == 1


# --- SQLite: one library ------------------------------------------------------------------


@on_sqlite
def test_sqlite_serves_every_host_as_its_one_library(library_db: Database) -> None:
    with _client(library_db.url, "b.test") as client:
        assert client.get("/").status_code == 200


@on_sqlite
def test_sqlite_refuses_a_second_library(library_db: Database) -> None:
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stderr(err):
        env.setenv("SHIORI_DATABASE_URL", library_db.url)
        status = cli.main(["library", "add", "b", "--name", "B", "--host", "b.test"])
    assert status == 2
    assert "SQLite serves one library" in err.getvalue()
    assert [each.code for each in queries.list_libraries()] == ["default"]
