"""Staff see mail the sender gave up on at /staff/mail (no body; the address only for roles
that may see contact data), and may re-queue or dismiss it — each audited (issue 11)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from db import engine, outbox, queries
from db.queries import mail
from tests import test_web_staff
from tests.smtp_sink import Server, free_port, listed_for_staff, settings_for
from tests.test_web_staff import HANAKO, Clock, Console

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

BODY = "ご予約の資料「吾輩は猫である」をご用意しました。\n"


def hanako() -> tuple[int, str]:
    with engine.read() as conn:
        row = conn.execute(
            text("SELECT id, email FROM patron WHERE card_number = :c"), {"c": HANAKO.card_number}
        ).one()
    return int(row.id), str(row.email)


def queue(clock: Clock, kind: str = "hold_ready", days_ago: int = 0) -> int:
    patron_id, email = hanako()
    with engine.write() as conn:
        return outbox.enqueue(
            conn,
            kind=kind,
            to_addr=email,
            subject="【藤沢市図書館】ご案内",
            body=BODY,
            now=clock.now - timedelta(days=days_ago),
            patron_id=patron_id,
        )


def mail_audit() -> list[tuple[str, str, str, int | None]]:
    with engine.read() as conn:
        return [
            (r.staff_code, r.action, r.field_groups, r.patron_id)
            for r in conn.execute(
                text(
                    "SELECT staff_code, action, field_groups, patron_id FROM staff_audit "
                    "WHERE screen = 'mail_failures' ORDER BY id"
                )
            )
        ]


def row(mail_id: int) -> Any:
    with engine.read() as conn:
        return conn.execute(
            outbox.mail_outbox.select().where(outbox.mail_outbox.c.id == mail_id)
        ).first()


@pytest.fixture
def given_up(clock: Clock, smtp_server: Server) -> tuple[int, int]:
    """(refused for good: no text left, unsent after the retry period: text kept)."""
    refused = queue(clock)
    smtp_server.recorder.rcpt_reply = "550 5.1.1 unknown"
    assert mail.send_due(smtp_server.settings, clock.now).failed == 1
    smtp_server.recorder.rcpt_reply = None
    expired = queue(clock, "due_reminder", days_ago=3)  # the relay has been down since
    down = settings_for(free_port())
    assert mail.send_due(down, clock.now - timedelta(days=1)).deferred == 1
    assert mail.send_due(down, clock.now).deferred == 0
    return refused, expired


def test_staff_see_undelivered_mail_without_its_text_and_the_look_is_audited(
    team: dict[str, Console], given_up: tuple[int, int]
) -> None:
    refused, expired = given_up
    patron_id, email = hanako()
    page = team["staff"].speaking("en").get("/staff/mail")
    assert page.status_code == 200  # type: ignore[attr-defined]
    html = page.text  # type: ignore[attr-defined]
    assert "Mail not delivered" in html
    assert "Reservation ready for pickup" in html and "Due-date reminder" in html
    assert "SMTPRecipientsRefused 550" in html
    assert "retry period over: ConnectionRefusedError" in html
    assert email in html  # the staff role may see contact data …
    assert "吾輩" not in html and "ご案内" not in html  # … never a subject or body
    assert html.count('action="/staff/mail/') == 3  # resend only where text is left
    assert f'/staff/mail/{expired}/resend"' in html and f"/staff/mail/{refused}/resend" not in html
    assert mail_audit() == [("STA01", "view", "contact", patron_id)]

    japanese = team["staff"].speaking("ja").get("/staff/mail").text  # type: ignore[attr-defined]
    assert "届かなかったメール" in japanese and "予約資料のご用意" in japanese

    home = team["staff"].get("/staff/").text  # type: ignore[attr-defined]
    assert 'href="/staff/mail"' in home
    for role in ("temporary", "intern"):
        assert team[role].get("/staff/mail").status_code == 403  # type: ignore[attr-defined]
        assert 'href="/staff/mail"' not in team[role].get("/staff/").text  # type: ignore[attr-defined]


def test_without_contact_data_the_address_is_masked_and_nothing_is_audited(
    team: dict[str, Console], given_up: tuple[int, int]
) -> None:
    _patron_id, email = hanako()
    actor = queries.StaffActor(1, "INT01", "実習 生", "intern", (), 1)
    rows = queries.list_mail_failures(actor)
    assert len(rows) == 2 and {r.to_addr for r in rows} == {None}
    assert email not in repr(rows)
    assert mail_audit() == []


def test_staff_resend_a_given_up_mail_with_the_same_message_id(
    team: dict[str, Console], given_up: tuple[int, int], smtp_server: Server, clock: Clock
) -> None:
    refused, expired = given_up
    patron_id, email = hanako()
    staff = team["staff"].speaking("en")
    done = staff.post(f"/staff/mail/{expired}/resend", "/staff/mail")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "will be sent again" in staff.get("/staff/mail").text  # type: ignore[attr-defined]
    again = row(expired)
    assert (again.failed_at, again.attempts, again.body) == (None, 0, BODY)
    # A fresh retry period: the sender does not give it up again at once.
    report = mail.send_due(smtp_server.settings, clock.now + timedelta(minutes=1))
    assert report == mail.SendReport(1, 0, 0)
    [got] = smtp_server.recorder.received
    assert got.rcpt_tos == [email]
    assert got.message["Message-ID"].startswith(f"<shiori.{expired}.")

    refusal = staff.post(f"/staff/mail/{refused}/resend", "/staff/mail")
    assert refusal.status_code == 422  # type: ignore[attr-defined]
    assert "cannot be re-sent" in refusal.text  # type: ignore[attr-defined]
    assert staff.post("/staff/mail/999999/resend", "/staff/mail").status_code == 404  # type: ignore[attr-defined]
    assert ("STA01", "mail_resend", "", patron_id) in mail_audit()


def test_staff_dismiss_deletes_the_row_and_what_it_held(
    team: dict[str, Console], given_up: tuple[int, int]
) -> None:
    refused, expired = given_up
    patron_id, _email = hanako()
    manager = team["manager"]
    for mail_id in (refused, expired):
        done = manager.post(f"/staff/mail/{mail_id}/dismiss", "/staff/mail")
        assert done.status_code == 303  # type: ignore[attr-defined]
        assert row(mail_id) is None
    assert listed_for_staff() == ()
    assert manager.post(f"/staff/mail/{refused}/dismiss", "/staff/mail").status_code == 404  # type: ignore[attr-defined]
    assert [a for a in mail_audit() if a[1] == "mail_dismiss"] == [
        ("M001", "mail_dismiss", "", patron_id)
    ] * 2
    intern = team["intern"]
    assert intern.post(f"/staff/mail/{expired}/dismiss", "/staff/mail").status_code == 403  # type: ignore[attr-defined]
