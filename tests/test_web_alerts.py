"""New-arrival alerts end to end (issue 17): a demo patron saves an author condition, a
MARC file with copies is imported, `shiori alerts send` queues one digest that reaches the
test SMTP server naming the new work, none the next day, and the one-click unsubscribe
(RFC 8058) removes the condition; forged or tampered links are refused."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from db.queries import alerts as alert_queries
from db.queries import mail
from tests import mailbox
from tests.arrivals_data import (
    FIRST_AUTHOR,
    FIRST_AUTHOR_ROMAJI,
    FIRST_TITLE,
    TAKAHASHI_RECORD,
    marc_with_copies,
)
from tests.conftest import Database, app_settings
from tests.smtp_sink import Server
from tests.test_web_account import HTMX, csrf_of, log_in
from web import alerts
from web.app import create_app

HANAKO = ("2100000001", "hon-wo-yomu-2026")  # email hanako@example.jp, Japanese
TARO = ("2100000002", "tosho-kan-taro-7")  # English, no email
MISAKI = ("2100000004", "misaki-no-hon-99")  # email misaki@example.jp

NOW = datetime.now(UTC).replace(microsecond=0)
# The server and `shiori alerts send` share the key that signs the unsubscribe links.
SECRET = {"SHIORI_SECRET_KEY": "alerts-test-secret-key-0123456789abcdef"}


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    """The db clock, movable: `clock[0] += timedelta(days=1)`."""
    moment = [NOW]
    queries.set_clock(lambda: moment[0])
    try:
        yield moment
    finally:
        queries.set_clock(None)


@pytest.fixture
def app(library_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings(library_db.url, **SECRET))) as client:
        yield client


@contextmanager
def new_client(db: Database) -> Iterator[TestClient]:
    """Another browser (or a mail provider). Not entered: its lifespan's end would close
    the database engine the test still uses."""
    yield TestClient(create_app(app_settings(db.url, **SECRET)))


def add_condition(client: TestClient, kind: str, value: str, **headers: str) -> object:
    token = csrf_of(client.get("/my/alerts").text)
    return client.post(
        "/my/alerts",
        data={"kind": kind, "value": value, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def conditions(card: str) -> list[tuple[str, str]]:
    with engine.read() as conn:
        return [
            (r.kind, r.value)
            for r in conn.execute(
                text(
                    "SELECT c.kind, c.value FROM alert_condition c JOIN patron p "
                    "ON p.id = c.patron_id WHERE p.card_number = :c ORDER BY c.id"
                ),
                {"c": card},
            )
        ]


def notices(card: str, email: bool = True, titles: bool = True) -> None:
    """The patron's new-arrival notice setting (issue 16: no titles unless asked)."""
    [(patron,)] = _ids(card)
    queries.set_notice_settings(patron, {"new_arrivals": (email, titles)})


def send(library_db: Database) -> queries.DigestReport:
    return alerts.queue_digests(app_settings(library_db.url, **SECRET))


def test_done_when(
    library_db: Database,
    app: TestClient,
    smtp_server: Server,
    clock: list[datetime],
    tmp_path: Path,
) -> None:
    log_in(app, *HANAKO)
    notices(HANAKO[0], titles=True)
    assert add_condition(app, "author", FIRST_AUTHOR).status_code == 303
    assert conditions(HANAKO[0]) == [("author", FIRST_AUTHOR)]
    assert FIRST_AUTHOR in app.get("/my/alerts").text
    assert send(library_db).mailed == 0  # nothing new by that author yet

    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    assert FIRST_TITLE in app.get("/new").text

    report = send(library_db)
    assert (report.mailed, report.works) == (1, 1)
    sent = mail.send_due(smtp_server.settings, clock[0], compose=mailbox.COMPOSE)
    assert sent.sent == 1
    [received] = smtp_server.recorder.received
    assert received.rcpt_tos == ["hanako@example.jp"]
    message = received.message
    assert FIRST_TITLE not in message["Subject"] and "新着" in message["Subject"]
    body = message.get_content()
    assert FIRST_TITLE in body and FIRST_AUTHOR in body
    link = re.fullmatch(r"<(https?://[^>]+)>", message["List-Unsubscribe"])
    assert link is not None
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.group(1) in body

    # The next day: nothing new, no mail.
    clock[0] += timedelta(days=1)
    assert send(library_db).mailed == 0
    assert mail.send_due(smtp_server.settings, clock[0], compose=mailbox.COMPOSE).sent == 0
    assert len(smtp_server.recorder.received) == 1

    # One click, as a mail provider does it: no cookie, no CSRF token.
    target = link.group(1).split("://", 1)[1].split("/", 1)[1]
    with new_client(library_db) as provider:
        tampered = "/" + target[:-2] + ("AA" if not target.endswith("AA") else "BB")
        refused = provider.post(
            tampered,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 403
        assert conditions(HANAKO[0]) == [("author", FIRST_AUTHOR)]
        done = provider.post(
            "/" + target,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200
    assert conditions(HANAKO[0]) == []


def test_opening_the_link_asks_first(library_db: Database, app: TestClient) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "keyword", "猫")
    [(patron,)] = _ids(HANAKO[0])
    with engine.read() as conn:
        [cid] = conn.execute(text("SELECT id FROM alert_condition")).scalars().all()
    url = alerts.unsubscribe_link(app_settings(library_db.url, **SECRET), patron, [cid])
    path = url.split("://", 1)[1].split("/", 1)[1]
    with new_client(library_db) as anyone:
        page = anyone.get("/" + path)
        assert page.status_code == 200 and "<form" in page.text
        assert conditions(HANAKO[0]) == [("keyword", "猫")]  # a GET changes nothing
        # The page's own button works without a token too (the signature is the proof).
        button = anyone.post("/" + path, data={"List-Unsubscribe": "One-Click"})
        assert button.status_code == 200
        # Opened again, the link says it was used rather than asking once more.
        again = anyone.get("/" + path)
        assert again.status_code == 200 and "<form" not in again.text
        assert "既に停止しています" in again.text
    assert conditions(HANAKO[0]) == []


def test_a_branch_conditions_delete_button_names_the_branch(app: TestClient) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "branch", "minami")
    page = app.get("/my/alerts").text
    assert '<span class="visually-hidden">: 所蔵館 南市民図書館</span>' in page
    assert "minami</span>" not in page  # a screen reader heard the code


def _ids(card: str) -> list[tuple[int]]:
    with engine.read() as conn:
        return [
            (int(r.id),)
            for r in conn.execute(text("SELECT id FROM patron WHERE card_number = :c"), {"c": card})
        ]


def test_forged_links_are_refused(library_db: Database, app: TestClient) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "keyword", "猫")
    [(patron,)] = _ids(HANAKO[0])
    with engine.read() as conn:
        [cid] = conn.execute(text("SELECT id FROM alert_condition")).scalars().all()
    forged = URLSafeSerializer("not-the-secret", salt="shiori.alerts.unsubscribe").dumps(
        [patron, [cid]]
    )
    other_salt = URLSafeSerializer(SECRET["SHIORI_SECRET_KEY"], salt="shiori.csrf").dumps(
        [patron, [cid]]
    )
    with new_client(library_db) as anyone:
        for token in (forged, other_salt, "", "x" * 600):
            post = anyone.post(f"/alerts/unsubscribe?t={token}", data={"x": "1"})
            assert post.status_code == 403
            assert anyone.get(f"/alerts/unsubscribe?t={token}").status_code == 400
        # The exemption is for exactly that path.
        assert anyone.post(f"/my/alerts?t={token}", data={}).status_code == 403
    assert conditions(HANAKO[0]) == [("keyword", "猫")]


def test_only_the_patron_sees_and_deletes_their_conditions(
    library_db: Database, app: TestClient
) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "keyword", "秘密の趣味")
    with engine.read() as conn:
        [cid] = conn.execute(text("SELECT id FROM alert_condition")).scalars().all()
    with new_client(library_db) as other:
        log_in(other, *TARO)
        assert "秘密の趣味" not in other.get("/my/alerts").text
        token = csrf_of(other.get("/my/alerts").text)
        gone = other.post(f"/my/alerts/{cid}/delete", data={"csrf_token": token})
        assert gone.status_code == 404
    assert conditions(HANAKO[0]) == [("keyword", "秘密の趣味")]
    with new_client(library_db) as anonymous:
        login = anonymous.get("/my/alerts", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"].startswith("/login")
    token = csrf_of(app.get("/my/alerts").text)
    deleted = app.post(f"/my/alerts/{cid}/delete", data={"csrf_token": token}, headers=HTMX)
    assert deleted.status_code == 200 and "<html" not in deleted.text
    assert conditions(HANAKO[0]) == []
    assert app.get("/my/alerts").headers["cache-control"] == "no-store"


def test_adding_needs_the_csrf_token(app: TestClient) -> None:
    log_in(app, *HANAKO)
    refused = app.post("/my/alerts", data={"kind": "keyword", "value": "猫"})
    assert refused.status_code == 403
    assert conditions(HANAKO[0]) == []


def test_bad_values_are_told_next_to_their_field(app: TestClient) -> None:
    log_in(app, *HANAKO)
    for kind, value in (("keyword", "  "), ("ndc", "九一三"), ("branch", "nowhere")):
        response = add_condition(app, kind, value)
        assert response.status_code == 422
        assert f'id="{kind}-error"' in response.text
    assert conditions(HANAKO[0]) == []
    # Full-width digits are an NDC class all the same.
    assert add_condition(app, "ndc", "９１３").status_code == 303
    assert conditions(HANAKO[0]) == [("ndc", "913")]


def test_at_most_ten_conditions(app: TestClient) -> None:
    log_in(app, *HANAKO)
    for n in range(queries.MAX_ALERT_CONDITIONS):
        assert add_condition(app, "keyword", f"言葉{n}").status_code == 303
    refused = add_condition(app, "keyword", "もう一つ", **HTMX)
    assert refused.status_code == 422 and "10" in refused.text
    assert len(conditions(HANAKO[0])) == queries.MAX_ALERT_CONDITIONS


def test_each_condition_kind_matches(
    library_db: Database, app: TestClient, clock: list[datetime], tmp_path: Path
) -> None:
    log_in(app, *HANAKO)
    notices(HANAKO[0], titles=True)
    for kind, value in (
        ("keyword", "本の話"),  # the catalogue's matching: a substring of the title
        ("branch", "minami"),
        ("material_type", "book"),
        ("ndc", "0"),
    ):
        assert add_condition(app, kind, value).status_code == 303
    assert add_condition(app, "author", "誰も書かない名前").status_code == 303
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today, count=1, branch="minami"))
    report = send(library_db)
    assert (report.mailed, report.works) == (1, 4)  # one work, four conditions, one mail
    [(_, _, _subject, body)] = [m for m in mailbox.composed() if m[0] == "new_arrivals"]
    assert body is not None and body.count(FIRST_TITLE) == 1
    assert "誰も書かない名前" not in body  # only the conditions that matched


def test_two_runs_at_once_send_one_digest(
    library_db: Database, app: TestClient, clock: list[datetime], tmp_path: Path
) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "author", FIRST_AUTHOR)
    with new_client(library_db) as misaki:
        log_in(misaki, *MISAKI)
        add_condition(misaki, "keyword", FIRST_TITLE)
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    reports: list[queries.DigestReport] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        reports.append(send(library_db))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.mailed for r in reports) == 2  # Hanako once, Misaki once
    digests = [m for m in mailbox.composed() if m[0] == "new_arrivals"]
    assert sorted(m[1] for m in digests) == ["hanako@example.jp", "misaki@example.jp"]


def test_a_patron_without_email_gets_no_digest(
    library_db: Database, clock: list[datetime], tmp_path: Path
) -> None:
    with new_client(library_db) as taro:
        log_in(taro, *TARO)
        add_condition(taro, "author", FIRST_AUTHOR)
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    assert send(library_db).mailed == 0
    assert conditions(TARO[0]) == [("author", FIRST_AUTHOR)]


def test_the_notice_settings_decide(
    library_db: Database, app: TestClient, clock: list[datetime], tmp_path: Path
) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "author", FIRST_AUTHOR)
    with new_client(library_db) as misaki:
        log_in(misaki, *MISAKI)
        add_condition(misaki, "author", FIRST_AUTHOR)
    notices(MISAKI[0], email=False)  # 連絡不要
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    assert send(library_db).mailed == 1
    [(_, to, subject, body)] = [m for m in mailbox.composed() if m[0] == "new_arrivals"]
    # Hanako never asked for titles: the mail links to the record and names nothing.
    assert to == "hanako@example.jp" and body is not None
    assert FIRST_TITLE not in body and FIRST_TITLE not in subject
    assert re.search(r"https?://[^\s]+/records/\d+", body)


def test_conditions_go_with_the_patron(
    library_db: Database, app: TestClient, clock: list[datetime], tmp_path: Path
) -> None:
    """Account deletion and the 3-year purge both erase through db.erasure: the conditions
    and what was mailed for them go too."""
    from db import erasure

    log_in(app, *HANAKO)
    notices(HANAKO[0], titles=True)
    add_condition(app, "author", FIRST_AUTHOR)
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    assert send(library_db).mailed == 1
    [(patron,)] = _ids(HANAKO[0])
    with engine.write() as conn:
        conn.execute(text("DELETE FROM loan WHERE patron_id = :p"), {"p": patron})
        erasure.erase_patrons(conn, [patron], clock[0])
    with engine.read() as conn:
        for table in ("alert_condition", "alert_sent"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_my_data_shows_the_conditions_and_exports_them(app: TestClient) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "author", FIRST_AUTHOR)
    add_condition(app, "branch", "minami")
    page = app.get("/my/data").text
    assert "新着図書お知らせメール" in page and FIRST_AUTHOR in page and "南市民図書館" in page
    exported = json.loads(app.get("/my/data/export.json").content)
    found = json.dumps(exported, ensure_ascii=False)
    assert FIRST_AUTHOR in found and '"minami"' in found


def test_the_command_needs_the_servers_secret_key(
    library_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from web import cli

    monkeypatch.setenv("SHIORI_DATABASE_URL", library_db.url)
    monkeypatch.delenv("SHIORI_SECRET_KEY", raising=False)
    assert cli.main(["alerts", "send"]) == 2
    assert "SHIORI_SECRET_KEY" in capsys.readouterr().err
    monkeypatch.setenv("SHIORI_SECRET_KEY", SECRET["SHIORI_SECRET_KEY"])
    assert cli.main(["alerts", "send"]) == 0
    assert "digests queued: 0" in capsys.readouterr().out


def test_a_condition_removed_during_the_digest_waits_for_it(
    library_db: Database,
    app: TestClient,
    clock: list[datetime],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unsubscribe while the patron's digest is being queued: it waits for the digest's
    transaction (the patron's row lock) instead of breaking the digest's pairs."""
    log_in(app, *HANAKO)
    add_condition(app, "author", FIRST_AUTHOR)
    [(patron,)] = _ids(HANAKO[0])
    [condition] = queries.list_alert_conditions(patron)
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    read_conditions = alert_queries._conditions
    removers: list[threading.Thread] = []

    def conditions_then_unsubscribe(conn: object, patron_id: int) -> object:
        found = read_conditions(conn, patron_id)  # type: ignore[arg-type]
        if not removers:  # the digest has read them: the patron clicks the link now
            remover = threading.Thread(
                target=queries.unsubscribe_alert_conditions, args=(patron, [condition.id])
            )
            removers.append(remover)
            remover.start()
            remover.join(timeout=1.0)  # done at once unless it waits for the digest
        return found

    monkeypatch.setattr(alert_queries, "_conditions", conditions_then_unsubscribe)
    report = send(library_db)
    removers[0].join()
    assert (report.mailed, report.failed) == (1, 0)
    assert conditions(HANAKO[0]) == []


def test_one_patrons_failure_does_not_stop_the_others(
    library_db: Database,
    app: TestClient,
    clock: list[datetime],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_in(app, *HANAKO)
    add_condition(app, "author", FIRST_AUTHOR)
    with new_client(library_db) as misaki:
        log_in(misaki, *MISAKI)
        add_condition(misaki, "author", FIRST_AUTHOR)
    [(hanako,)] = _ids(HANAKO[0])
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today))
    digest = alert_queries._digest

    def failing_for_hanako(patron_id: int, *args: object) -> int:
        if patron_id == hanako:
            raise RuntimeError("hanako@example.jp " + FIRST_AUTHOR)
        return digest(patron_id, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(alert_queries, "_digest", failing_for_hanako)
    with caplog.at_level(logging.ERROR, logger="db.queries.alerts"):
        report = send(library_db)
    assert (report.mailed, report.failed) == (1, 1)
    digests = [m for m in mailbox.composed() if m[0] == "new_arrivals"]
    assert [m[1] for m in digests] == ["misaki@example.jp"]
    logged = caplog.text
    assert str(hanako) in logged and "RuntimeError" in logged
    assert "hanako@example.jp" not in logged and FIRST_AUTHOR not in logged


def test_author_conditions_match_as_the_search_does(
    library_db: Database, app: TestClient, clock: list[datetime], tmp_path: Path
) -> None:
    """An author in romaji, or with a variant kanji (髙橋 for 高橋), finds the work in the
    search: its condition gets the digest too."""
    log_in(app, *HANAKO)
    notices(HANAKO[0], titles=True)
    with new_client(library_db) as misaki:
        log_in(misaki, *MISAKI)
        notices(MISAKI[0], titles=True)
        assert add_condition(misaki, "author", "髙橋").status_code == 303
    assert add_condition(app, "author", FIRST_AUTHOR_ROMAJI).status_code == 303
    today = queries.list_new_arrivals(queries.NewArrivalsQuery()).today
    queries.import_catalog_file(marc_with_copies(tmp_path, today, count=1))
    queries.import_catalog_file(
        marc_with_copies(tmp_path, today, count=1, prefix="T", skip=TAKAHASHI_RECORD)
    )
    for typed in (FIRST_AUTHOR_ROMAJI, "髙橋"):  # what the search finds with the same words
        assert queries.search_works(queries.SearchParams(author=typed)).total == 1
    report = send(library_db)
    assert (report.mailed, report.works) == (2, 2)
    bodies = {m[1]: m[3] or "" for m in mailbox.composed() if m[0] == "new_arrivals"}
    assert FIRST_TITLE in bodies["hanako@example.jp"]
    assert "高橋, 暁子" in bodies["misaki@example.jp"]
    assert FIRST_TITLE not in bodies["misaki@example.jp"]
