"""The counter side of pre-registration at the query layer (db.queries.staff_registrations):
find by receipt number, confirm (patron, card number, code; the application gone in the
same transaction), correct, reject, walk-in, duplicates, masking and audit — and the issue's
done-when path up to the new patron's first login."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from db import card_numbers, engine, queries
from tests.conftest import Database
from tests.test_queries_registration import FORM, LINKS, _tables_holding, submit

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
PASSWORD = "図書館で受け取ったコード"

# The done-when applicant: a full-width phone number and a 和暦 birth date (read by the web
# tier's calendar_date: 平成2年4月1日 → 1990-04-01).
NEWCOMER = replace(FORM, phone="０９０－１２３４－５６７８", birth_date=date(1990, 4, 1))


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    queries.set_clock(lambda: NOW)
    LINKS.clear()
    yield
    queries.set_clock(None)


def actor(role: str, duties: tuple[str, ...] = ()) -> queries.StaffActor:
    return queries.StaffActor(1, role[:3].upper() + "01", "試験", role, duties, 1)


STAFF = actor("staff")


def audit() -> list[tuple[str, int | None, str, str, str, str]]:
    with engine.read() as conn:
        return [
            (r.staff_code, r.patron_id, r.field_groups, r.screen, r.action, r.outcome)
            for r in conn.execute(
                text(
                    "SELECT staff_code, patron_id, field_groups, screen, action, outcome "
                    "FROM staff_audit ORDER BY id"
                )
            )
        ]


def applications_left() -> int:
    with engine.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM application")).scalar_one())


def patron_row(card: str) -> dict[str, object]:
    with engine.read() as conn:
        row = conn.execute(text("SELECT * FROM patron WHERE card_number = :c"), {"c": card}).one()
    return dict(row._mapping)


def test_apply_find_confirm_set_password_and_log_in(library_db: Database) -> None:
    receipt = submit(NEWCOMER)
    # The counter's scanner types the number from the QR code; a person may type it with a
    # hyphen in full-width digits.
    typed = queries.format_receipt_number(receipt.receipt_number).translate(
        str.maketrans("0123456789-", "０１２３４５６７８９－")
    )
    found = queries.find_application(STAFF, typed)
    assert queries.find_application(STAFF, receipt.receipt_number) == found
    seen = queries.get_application_for_staff(STAFF, found)
    assert (seen.name, seen.name_kana, seen.phone) == (
        "藤沢 一葉",
        "フジサワ カズハ",
        "090-1234-5678",
    )
    assert seen.birth_date == date(1990, 4, 1) and not seen.probable_duplicate
    made = queries.confirm_application(STAFF, found)
    card = made.slip.card_number
    assert card_numbers.is_valid(card) and card == "2100000013"
    assert made.expires_on > NOW.date() and made.home_branch.get("ja")
    # The application is gone in the same transaction; the patron holds what it held.
    assert applications_left() == 0
    with pytest.raises(queries.NotFound):
        queries.find_application(STAFF, receipt.receipt_number)
    row = patron_row(card)
    assert (row["name"], row["name_kana"], row["phone_digits"]) == (
        "藤沢 一葉",
        "フジサワ カズハ",
        "09012345678",
    )
    assert str(row["birth_date"])[:10] == "1990-04-01" and row["password_hash"] is None
    # The new patron sets a password with the code at home, and logs in.
    queries.set_password_with_code(card, made.slip.code.lower(), PASSWORD, "192.0.2.9")
    login = queries.log_in(card, PASSWORD, "192.0.2.9", "test", False, queries.Timeouts.of(30, 12))
    assert login.patron_id == made.slip.patron_id
    with pytest.raises(queries.CodeRefused):  # single use
        queries.set_password_with_code(card, made.slip.code, PASSWORD + "2", "192.0.2.9")
    # Audit: two opens (find is no look), then the registration naming the new patron.
    rows = [r for r in audit() if r[0] == "STA01"]
    assert rows == [
        ("STA01", None, "birth_date,contact,name", "registration", "view", "allowed"),
        (
            "STA01",
            made.slip.patron_id,
            "name,contact,birth_date,card",
            "registration",
            "register",
            "allowed",
        ),
    ]


def test_a_mistyped_or_unknown_receipt_number(library_db: Database) -> None:
    number = submit().receipt_number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(queries.QueryError) as bad:
        queries.find_application(STAFF, wrong)
    assert bad.value.code == "receipt_number_format"
    # A scanner that sends a link from the QR code: the number in it is found.
    link = f"https://opac.example.jp:8443/register/receipt/{number}"
    assert queries.find_application(STAFF, link) == queries.find_application(STAFF, number)
    # An application whose email is not confirmed yet is not in the queue.
    waiting = submit(replace(FORM, email="kazuha@example.jp", phone="0466-22-0000"))
    with pytest.raises(queries.NotFound):
        queries.find_application(STAFF, waiting.receipt_number)


def test_queue_is_oldest_first_and_masked_for_interns(library_db: Database) -> None:
    first = submit()
    queries.set_clock(lambda: NOW.replace(day=23))
    second = submit(
        replace(FORM, name="湘南 太郎", name_kana="ショウナン タロウ", phone="0466-00-1111")
    )
    queue = queries.list_applications(STAFF)
    assert [a.receipt_number for a in queue] == [
        queries.format_receipt_number(first.receipt_number),
        queries.format_receipt_number(second.receipt_number),
    ]
    assert [a.age_days for a in queue] == [2, 0] and queue[0].name == "藤沢 一葉"
    intern = actor("intern")
    masked = queries.list_applications(intern)
    assert [a.name for a in masked] == [None, None] and masked[0].category == "general"
    record = queries.get_application_for_staff(intern, masked[0].id)
    assert (record.name, record.birth_date, record.address, record.phone, record.email) == (
        None,
        None,
        None,
        None,
        None,
    )
    temporary = queries.get_application_for_staff(actor("temporary"), masked[0].id)
    assert temporary.name == "藤沢 一葉" and temporary.address is None
    rows = audit()
    assert ("STA01", None, "name", "registration_queue", "view", "allowed") in rows
    assert ("INT01", None, "", "registration", "view", "allowed") in rows
    assert ("TEM01", None, "name", "registration", "view", "allowed") in rows
    # Interns and temporary staff may not confirm, correct, reject or register: refused and
    # recorded, nothing changed.
    for who in (intern, actor("temporary")):
        with pytest.raises(queries.StaffRefused):
            queries.confirm_application(who, masked[0].id)
        with pytest.raises(queries.StaffRefused):
            queries.reject_application(who, masked[0].id, "other")
        with pytest.raises(queries.StaffRefused):
            queries.correct_application(who, masked[0].id, FORM)
        with pytest.raises(queries.StaffRefused):
            queries.register_walk_in(who, FORM)
    assert applications_left() == 2
    refused = [r for r in audit() if r[5] == "refused"]
    assert len(refused) == 8 and {r[4] for r in refused} == {"patron.register"}


def test_probable_duplicates_are_flagged_and_need_a_check(library_db: Database) -> None:
    submit()
    again = submit()
    assert again.probable_duplicate
    found = queries.find_application(STAFF, again.receipt_number)
    assert queries.get_application_for_staff(STAFF, found).probable_duplicate
    assert queries.list_applications(STAFF)[1].probable_duplicate
    with pytest.raises(queries.DuplicateUnchecked):
        queries.confirm_application(STAFF, found)
    assert applications_left() == 2
    made = queries.confirm_application(STAFF, found, duplicate_checked=True)
    assert card_numbers.is_valid(made.slip.card_number)
    # A walk-in with the same name, birth date and phone as that new patron is flagged too.
    with pytest.raises(queries.DuplicateUnchecked):
        queries.register_walk_in(STAFF, FORM)


def test_correcting_uses_the_applicant_rules(library_db: Database) -> None:
    found = queries.find_application(STAFF, submit().receipt_number)
    wrong = replace(FORM, name_kana="Fujisawa", phone="12", birth_date=None, home_branch="nowhere")
    with pytest.raises(queries.ApplicationRefused) as refused:
        queries.correct_application(STAFF, found, wrong)
    assert set(refused.value.errors) == {"name_kana", "phone", "birth_date", "home_branch"}
    assert queries.get_application_for_staff(STAFF, found).name_kana == "フジサワ カズハ"
    fixed = replace(
        FORM, name_kana="ふじさわ かずよ", address="藤沢市鵠沼１－２", home_branch="minami"
    )
    queries.correct_application(STAFF, found, fixed)
    now = queries.get_application_for_staff(STAFF, found)
    assert (now.name_kana, now.address, now.home_branch) == (
        "フジサワ カズヨ",
        "藤沢市鵠沼１－２",
        "minami",
    )
    assert (
        "STA01",
        None,
        "name,contact,birth_date,category",
        "registration",
        "edit",
        "allowed",
    ) in audit()


def test_an_email_staff_typed_is_pending_until_the_patron_confirms_it(
    library_db: Database,
) -> None:
    found = queries.find_application(STAFF, submit().receipt_number)
    queries.correct_application(STAFF, found, replace(FORM, email="kazuha@example.jp"))
    assert not queries.get_application_for_staff(STAFF, found).email_confirmed
    made = queries.confirm_application(STAFF, found)
    row = patron_row(made.slip.card_number)
    assert (row["email"], row["email_pending"]) == (None, "kazuha@example.jp")


def test_a_confirmed_email_becomes_the_patrons(library_db: Database) -> None:
    receipt = submit(replace(FORM, email="kazuha@example.jp"))
    queries.confirm_application_email(LINKS[0])
    made = queries.confirm_application(
        STAFF, queries.find_application(STAFF, receipt.receipt_number)
    )
    row = patron_row(made.slip.card_number)
    assert (row["email"], row["email_pending"]) == ("kazuha@example.jp", None)
    with engine.read() as conn:  # the application's own mail went with it
        kinds = conn.execute(text("SELECT kind FROM mail_outbox")).scalars().all()
    assert "application_receipt" not in kinds and "application_confirm" not in kinds


def test_rejecting_mails_the_reason_and_leaves_no_trace(library_db: Database) -> None:
    mailed = submit(replace(FORM, email="kazuha@example.jp"))
    queries.confirm_application_email(LINKS[0])
    silent = submit(
        replace(FORM, name="湘南 太郎", name_kana="ショウナン タロウ", phone="0466-00-1111")
    )
    with pytest.raises(queries.ApplicationRefused):
        queries.reject_application(
            STAFF, queries.find_application(STAFF, mailed.receipt_number), ""
        )
    assert queries.reject_application(
        STAFF, queries.find_application(STAFF, mailed.receipt_number), "outside_service_area"
    )
    assert not queries.reject_application(
        STAFF, queries.find_application(STAFF, silent.receipt_number), "no_identification"
    )
    assert applications_left() == 0
    with engine.read() as conn:
        mail = conn.execute(
            text(
                "SELECT kind, to_addr, lang, params FROM mail_outbox WHERE kind LIKE 'application%'"
            )
        ).all()
    assert len(mail) == 1 and mail[0][:3] == ("application_rejected", "kazuha@example.jp", "ja")
    assert json.loads(mail[0][3])["reason"] == "outside_service_area"
    # Nothing of the silent one anywhere; of the mailed one only the mail owed to them.
    assert _tables_holding(("湘南 太郎", "ショウナン", "0466001111", silent.receipt_number)) == []
    assert _tables_holding(("藤沢 一葉", "フジサワ", "0466221234")) == []
    assert [r[4] for r in audit() if r[4] == "reject"] == ["reject", "reject"]


def test_walk_in_registration(library_db: Database) -> None:
    typed = replace(NEWCOMER, name="辻堂　海", name_kana="つじどう うみ", email="umi@example.jp")
    with pytest.raises(queries.ApplicationRefused) as refused:
        queries.register_walk_in(STAFF, replace(typed, postal_code="12"))
    assert set(refused.value.errors) == {"postal_code"}
    made = queries.register_walk_in(STAFF, typed)
    row = patron_row(made.slip.card_number)
    assert (row["name"], row["name_kana"], row["email"], row["email_pending"]) == (
        "辻堂 海",
        "ツジドウ ウミ",
        None,
        "umi@example.jp",
    )
    assert applications_left() == 0
    assert (
        "STA01",
        made.slip.patron_id,
        "name,contact,birth_date,card",
        "registration_walk_in",
        "register",
        "allowed",
    ) in audit()
    again = queries.register_walk_in(STAFF, replace(typed, phone="0466-99-9999"))
    assert again.slip.card_number == "2100000021"


def test_two_counters_confirming_one_application_make_one_patron(library_db: Database) -> None:
    found = queries.find_application(STAFF, submit().receipt_number)
    start = threading.Barrier(2)
    results: list[object] = []

    def confirm() -> None:
        start.wait(10)
        try:
            results.append(queries.confirm_application(STAFF, found))
        except queries.NotFound as gone:
            results.append(gone)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    made = [r for r in results if isinstance(r, queries.Registered)]
    assert len(made) == 1 and len(results) == 2
    with engine.read() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM patron WHERE name = '藤沢 一葉'")).scalar_one()
            == 1
        )


def test_two_counters_registering_one_walk_in_at_once(library_db: Database) -> None:
    start = threading.Barrier(2)
    results: list[object] = []

    def register() -> None:
        start.wait(10)
        try:
            results.append(queries.register_walk_in(STAFF, NEWCOMER))
        except queries.DuplicateUnchecked as flagged:
            results.append(flagged)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # The second one saw the first: flagged, not a second record made silently.
    assert sorted(type(r).__name__ for r in results) == ["DuplicateUnchecked", "Registered"]
