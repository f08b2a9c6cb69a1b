"""Pre-registration, the applicant's side (issue 13): normalised input, receipt numbers,
email confirmation, duplicates, throttling and the 30-day deletion."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from db import applications, engine, japanese_input, queries
from db.queries.registration import ApplicationFields
from tests.conftest import Database

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
LINKS: list[str] = []

FORM = ApplicationFields(
    name="藤沢　一葉",
    name_kana="ふじさわ　かずは",
    birth_date=date(1990, 4, 1),
    postal_code="〒２５１－００５２",
    address="神奈川県藤沢市藤沢９９９－９",
    phone="０４６６－２２－１２３４",
    email="",
    category="general",
    home_branch="sogo",
)


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    queries.set_clock(lambda: NOW)
    LINKS.clear()
    yield
    queries.set_clock(None)


def submit(form: ApplicationFields = FORM, client: str = "192.0.2.1") -> queries.ApplicationReceipt:
    def link(token: str) -> str:
        LINKS.append(token)
        return f"https://opac.example.jp/register/confirm?t={token}"

    return queries.submit_application(form, client=client, days=30, lang="ja", make_link=link)


def stored(receipt: str) -> dict[str, object]:
    with engine.read() as conn:
        row = conn.execute(
            text("SELECT * FROM application WHERE receipt_number = :r"), {"r": receipt}
        ).one()
    return dict(row._mapping)


def test_input_is_stored_normalised(library_db: Database) -> None:
    receipt = submit()
    row = stored(receipt.receipt_number)
    assert row["name"] == "藤沢 一葉"
    assert row["name_kana"] == "フジサワ カズハ"
    assert row["postal_code"] == "2510052"
    assert (row["phone"], row["phone_digits"]) == ("0466-22-1234", "0466221234")
    assert row["consent_version"] and row["probable_duplicate"] in (False, 0)
    # No email: it counts at once, and the applicant has 30 days to come.
    assert receipt.counted and receipt.expires_on == date(2026, 12, 21)
    assert queries.get_application_receipt(receipt.receipt_number) == receipt


def test_receipt_numbers_carry_a_check_digit(library_db: Database) -> None:
    number = submit().receipt_number
    assert len(number) == 10 and queries.read_receipt_number(number) == number
    assert queries.read_receipt_number(queries.format_receipt_number(number)) == number
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert queries.read_receipt_number(wrong) is None
    with pytest.raises(queries.NotFound):
        queries.get_application_receipt("0000000000")


def test_wrong_fields_are_all_refused_and_nothing_is_stored(library_db: Database) -> None:
    bad = replace(
        FORM,
        name=" ",
        name_kana="藤沢",
        birth_date=None,
        postal_code="25100",
        address="",
        phone="12-34",
        email="not an address",
        category="pirate",
        home_branch="atlantis",
    )
    with pytest.raises(queries.ApplicationRefused) as refused:
        submit(bad)
    assert {k: v.code for k, v in refused.value.errors.items()} == {
        "name": "name_required",
        "name_kana": "kana_format",
        "birth_date": "birth_date_format",
        "postal_code": "postal_code_format",
        "address": "address_required",
        "phone": "phone_format",
        "email": "email_format",
        "category": "choose_category",
        "home_branch": "choose_branch",
    }
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM application")).scalar_one() == 0


def test_a_birth_date_in_the_future_is_refused(library_db: Database) -> None:
    refusal = queries.check_application_field(
        "birth_date", replace(FORM, birth_date=date(2027, 1, 1))
    )
    assert refusal is not None and refusal.code == "birth_date_future"
    assert queries.check_application_field("name_kana", replace(FORM, name_kana="ﾌｼﾞｻﾜ")) is None


def test_an_email_application_counts_only_after_its_link(library_db: Database) -> None:
    receipt = submit(replace(FORM, email="kazuha@example.jp"))
    assert not receipt.counted
    with engine.read() as conn:
        queued = conn.execute(text("SELECT kind, to_addr FROM mail_outbox")).all()
    assert [tuple(r) for r in queued] == [("application_confirm", "kazuha@example.jp")]
    [token] = LINKS
    assert token not in str(stored(receipt.receipt_number).values())  # only its digest
    confirmed = queries.confirm_application_email(token)
    assert confirmed.counted and confirmed.email_confirmed
    with engine.read() as conn:
        kinds = conn.execute(text("SELECT kind FROM mail_outbox ORDER BY id")).scalars().all()
    assert kinds == ["application_confirm", "application_receipt"]
    with pytest.raises(queries.ApplicationLinkRefused):  # single use
        queries.confirm_application_email(token)


def test_an_expired_link_is_refused(library_db: Database) -> None:
    submit(replace(FORM, email="kazuha@example.jp"))
    queries.set_clock(lambda: NOW + timedelta(hours=25))
    with pytest.raises(queries.ApplicationLinkRefused):
        queries.confirm_application_email(LINKS[0])


def test_a_second_identical_application_is_flagged_not_duplicated(library_db: Database) -> None:
    first = submit()
    second = submit(replace(FORM, name="藤沢一葉", phone="0466 22 1234"))
    assert not first.probable_duplicate and second.probable_duplicate
    assert first.receipt_number != second.receipt_number


def test_identical_applications_sent_at_once_are_all_but_one_flagged(library_db: Database) -> None:
    """Four at the same moment (PostgreSQL: four connections): exactly one is unflagged
    (serialised by the overall throttle row and by db.applications.lock_person)."""
    start = threading.Barrier(4)
    results: list[bool] = []

    def send(n: int) -> None:
        start.wait()
        results.append(submit(client=f"192.0.2.{10 + n}").probable_duplicate)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True, True, True]


def test_an_application_like_an_existing_patron_is_flagged(library_db: Database) -> None:
    hanako = replace(FORM, name="山田 花子", birth_date=date(1985, 4, 12), phone="0466-25-1111")
    assert submit(hanako).probable_duplicate


def test_submissions_are_throttled_per_address(library_db: Database) -> None:
    for n in range(applications.SUBMIT_ADDRESS.attempts):
        submit(replace(FORM, phone=f"0466-22-{1000 + n}"))
    with pytest.raises(queries.SubmitThrottled):
        submit(client="192.0.2.1")
    submit(client="198.51.100.7")  # another address is not slowed


def test_the_category_follows_the_school_year() -> None:
    today = date(2026, 11, 21)
    suggest = applications.category_for_birth_date
    assert suggest(date(2014, 4, 2), today) == "elementary"  # sixth grade
    assert suggest(date(2014, 4, 1), today) == "junior_high"  # born 1 April: a year ahead
    assert suggest(date(2011, 4, 2), today) == "junior_high"
    assert suggest(date(2011, 4, 1), today) == "high_school"
    assert suggest(date(2008, 4, 2), today) == "high_school"
    assert suggest(date(2008, 4, 1), today) == "general"
    assert suggest(date(2022, 1, 1), today) == "elementary"


def test_japanese_input_normaliser() -> None:
    assert japanese_input.katakana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ タロウ"
    assert japanese_input.katakana("やまだ　たろう") == "ヤマダ タロウ"
    assert japanese_input.katakana("山田") is None
    assert japanese_input.phone("０４６６－２２－１２３４") == "0466221234"
    assert japanese_input.phone("+81 466 22 1234") == "0466221234"
    assert japanese_input.phone("090-1234-5678") == "09012345678"
    assert japanese_input.phone("1234") is None
    assert japanese_input.phone("0466-22-1234 ext") is None
    assert japanese_input.postal_code("〒２５１－００５２") == "2510052"
    assert japanese_input.postal_code("251-005") is None
    assert japanese_input.name(" 髙﨑　  一郎 ") == "髙﨑 一郎"


def test_the_postal_table_fills_prefecture_and_city() -> None:
    area = queries.find_postal_area("２５１－００５２")
    assert area is not None and (area.prefecture, area.city) == ("神奈川県", "藤沢市")
    assert queries.find_postal_area("252-0804") is not None  # 湘南台
    assert queries.find_postal_area("100-0001") is None  # not in the table
    assert queries.find_postal_area("nonsense") is None


def _tables_holding(marks: tuple[str, ...]) -> list[str]:
    """Tables with any text value containing one of `marks` (every column of every table)."""
    found = []
    with engine.read() as conn:
        virtual: set[str] = set()
        if conn.dialect.name == "sqlite":
            virtual = set(
                conn.execute(
                    text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
                ).scalars()
            )
        for table in sorted(set(inspect(conn).get_table_names()) - virtual):
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                if any(isinstance(v, str) and any(m in v for m in marks) for v in row):
                    found.append(table)
                    break
    return found


def run_retention(at: datetime) -> queries.RetentionReport:
    queries.set_clock(lambda: at)
    return queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)


def test_an_application_31_days_old_is_gone_with_no_trace(library_db: Database) -> None:
    counted = submit(replace(FORM, email="kazuha@example.jp"))
    queries.confirm_application_email(LINKS[0])
    with engine.write() as conn:  # the link mail was delivered: its row keeps the address
        conn.execute(
            text("UPDATE mail_outbox SET sent_at = :t, params = NULL WHERE kind = :k"),
            {"t": datetime(2026, 11, 21, 3, 1), "k": "application_confirm"},
        )
    marks = ("藤沢 一葉", "フジサワ", "kazuha@example.jp", "0466221234", counted.receipt_number)
    assert set(_tables_holding(marks)) == {"application", "mail_outbox"}
    assert run_retention(NOW + timedelta(days=30)).applications == 0  # its last day
    report = run_retention(NOW + timedelta(days=31))
    assert report.applications == 1
    assert _tables_holding(marks) == []
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM mail_outbox")).scalar_one() == 0


def test_an_unopened_email_link_expires_the_application_sooner(library_db: Database) -> None:
    submit(replace(FORM, email="kazuha@example.jp"))
    kept = submit(replace(FORM, phone="0466-22-9999"))
    assert run_retention(NOW + timedelta(hours=23)).applications == 0
    assert run_retention(NOW + timedelta(hours=25)).applications == 1
    assert _tables_holding(("kazuha@example.jp",)) == []
    assert queries.get_application_receipt(kept.receipt_number).counted


def test_migrated_table_matches_fields() -> None:
    assert set(applications.FIELDS) - {"home_branch"} <= set(
        applications.application_table.c.keys()
    )


MANAGER = queries.StaffActor(1, "M001", "試験 管理", "manager", (), 1)


def test_the_last_day_is_a_day_some_branch_is_open(library_db: Database) -> None:
    """Made on 12/2, +30 is 1/1, inside every branch's 年末年始 (12/28–1/4): the last day
    is 1/5, the first day after it that a branch is open (one closed branch is not enough to
    move it on), and the application is kept through that day."""
    queries.add_branch_closure(MANAGER, "", date(2026, 12, 28), date(2027, 1, 4), "new_year")
    queries.add_branch_closure(MANAGER, "sogo", date(2027, 1, 5), date(2027, 1, 5), "other")
    made = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    queries.set_clock(lambda: made)
    receipt = submit()
    assert receipt.expires_on == date(2027, 1, 5)
    assert stored(receipt.receipt_number)["expires_on"] in (date(2027, 1, 5), "2027-01-05")
    assert run_retention(made + timedelta(days=34)).applications == 0  # 1/5, its last day
    assert queries.get_application_receipt(receipt.receipt_number).expires_on == date(2027, 1, 5)
    assert run_retention(made + timedelta(days=35)).applications == 1  # 1/6


def test_a_closure_added_later_moves_the_last_day_of_applications_made_before(
    library_db: Database,
) -> None:
    made = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    queries.set_clock(lambda: made)
    receipt = submit()
    assert receipt.expires_on == date(2027, 1, 1)  # no closure yet
    # 年末年始 entered in December: every branch closed on that day now.
    queries.set_clock(lambda: made + timedelta(days=10))
    queries.add_branch_closure(MANAGER, "", date(2026, 12, 28), date(2027, 1, 4), "new_year")
    assert queries.get_application_receipt(receipt.receipt_number).expires_on == date(2027, 1, 5)
    # One branch closed on a later day moves nothing: the others are open.
    queries.add_branch_closure(MANAGER, "sogo", date(2027, 1, 5), date(2027, 1, 5), "other")
    assert queries.get_application_receipt(receipt.receipt_number).expires_on == date(2027, 1, 5)
