"""Reference service at the query layer (db.reference, db.queries.reference): the patron
side, the state machine, the answer and its notice, and what privacy leaves behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from db import engine, queries, reference
from db.clock import library_today
from db.patrons import DEMO_PATRONS
from db.queries.retention import years_before
from db.reference import SourceInput
from tests.conftest import Database
from tests.test_sqlite_erasure import sqlite_bytes

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
HANAKO, TARO = DEMO_PATRONS[0].patron, DEMO_PATRONS[1].patron
LINK = "https://opac.example.jp/my/reference/{}"

# Every table that may hold something of a question (its text, the patron, the category).
QUESTION_TABLES = ("reference_question", "reference_message", "reference_source")


@pytest.fixture
def lib(library_db: Database) -> Iterator[Database]:
    queries.set_clock(lambda: NOW)
    try:
        yield library_db
    finally:
        queries.set_clock(None)


def _id(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def _staff() -> int:
    queries.create_first_manager(
        queries.StaffInput("R001", "参考 係", "", "sogo", "manager", (), None)
    )
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM staff_account WHERE staff_code = 'R001'")
            ).scalar_one()
        )


def _works(n: int) -> list[int]:
    with engine.read() as conn:
        return [int(w) for w in conn.execute(text("SELECT id FROM work ORDER BY id")).scalars()][:n]


def _ask(patron_id: int, question: str = "藤沢宿の昔の地図が見たい", **extra: object) -> int:
    values: dict[str, object] = {
        "question": question,
        "checked": "市史を見ました",
        "useful_by": date(2026, 12, 20),
        "notify_email": True,
        "category": "general",
    }
    values.update(extra)
    return queries.ask_reference(patron_id, **values)  # type: ignore[arg-type]


def _answer(question_id: int, staff_id: int, at: datetime = NOW) -> int:
    works = _works(2)
    with engine.write() as conn:
        return reference.record_answer(
            conn,
            at,
            question_id=question_id,
            staff_id=staff_id,
            body="次の資料に載っています。",
            sources=[
                SourceInput("work", work_id=works[0]),
                SourceInput("work", work_id=works[1]),
                SourceInput("url", "https://www.city.fujisawa.kanagawa.jp/"),
            ],
            make_link=LINK.format,
        )


def _count(sql: str, **params: object) -> int:
    with engine.read() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def _mentions(question_id: int, patron_id: int) -> dict[str, int]:
    """Rows of each question table still about this question or this patron."""
    return {
        "reference_question": _count(
            "SELECT count(*) FROM reference_question WHERE id = :q OR patron_id = :p",
            q=question_id,
            p=patron_id,
        ),
        "reference_message": _count(
            "SELECT count(*) FROM reference_message WHERE question_id = :q", q=question_id
        ),
        # Only this question ever had sources in these tests.
        "reference_source": _count("SELECT count(*) FROM reference_source"),
        "mail": _count(
            "SELECT count(*) FROM mail_outbox WHERE kind = 'reference_answer' "
            "AND (params IS NOT NULL OR body IS NOT NULL)"
        ),
    }


def test_a_patron_asks_and_reads_the_answer_with_its_sources(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    form = queries.get_reference_form(hanako)
    assert form == queries.ReferenceAskForm(category="general", has_email=True)
    question_id = _ask(hanako)
    [summary] = queries.list_reference_questions(hanako)
    assert (summary.id, summary.status, summary.answers) == (question_id, "received", 0)

    staff_id = _staff()
    with engine.write() as conn:
        assert reference.move(conn, NOW, question_id, reference.INVESTIGATING) == "received"
        reference.add_message(
            conn,
            NOW,
            question_id,
            author="staff",
            staff_id=staff_id,
            internal=True,
            body="内部メモ: 郷土資料室に確認",
        )
    _answer(question_id, staff_id)

    thread = queries.get_reference_question(hanako, question_id)
    assert thread.status == "answered" and thread.assigned_staff_id == staff_id
    assert [m.author for m in thread.messages] == ["staff"]  # the note is not there
    assert all("内部メモ" not in m.body for m in thread.messages)
    [answer] = thread.answers
    kinds = [(s.kind, s.work_id is not None) for s in answer.sources]
    assert kinds == [("work", True), ("work", True), ("url", False)]
    assert answer.sources[0].text  # a citation of the record, kept even if it goes
    # The staff view has the note.
    with engine.read() as conn:
        full = reference.load_question(conn, question_id, internal=True)
    assert [m.internal for m in full.messages] == [True, False]


def test_the_notice_says_only_that_an_answer_is_ready(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako, question="祖父の戦時中の記録を探しています")
    _answer(question_id, _staff())
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, to_addr, params, body, patron_id FROM mail_outbox "
                "WHERE kind = 'reference_answer'"
            )
        ).all()
    [row] = rows
    assert row.to_addr == HANAKO.email and row.patron_id == hanako and row.body is None
    assert row.params == f'{{"link":"{LINK.format(question_id)}"}}'
    # A second answer replaces the unsent notice: one mail for the latest answer.
    _answer(question_id, _staff_id())
    assert _count("SELECT count(*) FROM mail_outbox WHERE kind = 'reference_answer'") == 1


def _staff_id() -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM staff_account WHERE staff_code = 'R001'")
            ).scalar_one()
        )


def test_no_mail_when_the_patron_chose_my_library_only(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako, notify_email=False)
    _answer(question_id, _staff())
    assert _count("SELECT count(*) FROM mail_outbox WHERE kind = 'reference_answer'") == 0


def test_a_patron_without_an_address_cannot_ask_for_mail(lib: Database) -> None:
    taro = _id(TARO.card_number)
    assert queries.get_reference_form(taro).has_email is False
    with pytest.raises(queries.ReferenceRefused) as refused:
        _ask(taro, category="university")
    assert refused.value.code == "reference_no_email"
    assert _count("SELECT count(*) FROM reference_question") == 0


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"question": "   "}, "reference_text_required"),
        ({"question": "あ" * (reference.QUESTION_MAX_CHARS + 1)}, "reference_text_too_long"),
        ({"checked": "い" * (reference.CHECKED_MAX_CHARS + 1)}, "reference_text_too_long"),
        ({"useful_by": date(2026, 11, 20)}, "reference_useful_by_past"),
        ({"useful_by": date(2028, 1, 1)}, "reference_useful_by_far"),
        ({"category": "wizard"}, "unknown_category"),
    ],
)
def test_bad_questions_are_refused_and_nothing_is_written(
    lib: Database, extra: dict[str, object], code: str
) -> None:
    with pytest.raises(queries.ReferenceRefused) as refused:
        _ask(_id(HANAKO.card_number), **extra)
    assert refused.value.code == code
    assert _count("SELECT count(*) FROM reference_question") == 0


def test_the_useful_by_date_may_be_today(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako, useful_by=library_today(NOW))
    assert queries.get_reference_question(hanako, question_id).useful_by == date(2026, 11, 21)


def test_another_patrons_question_is_not_found(lib: Database) -> None:
    hanako, misaki = _id(HANAKO.card_number), _id(DEMO_PATRONS[3].patron.card_number)
    question_id = _ask(hanako)
    with pytest.raises(queries.ReferenceNotFound):
        queries.get_reference_question(misaki, question_id)
    with pytest.raises(queries.ReferenceNotFound):
        queries.follow_up_reference(misaki, question_id, "横から失礼")
    with pytest.raises(queries.ReferenceNotFound):
        queries.delete_reference_question(misaki, question_id)
    assert queries.list_reference_questions(misaki) == []


def test_a_follow_up_reopens_an_answered_or_closed_question(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako)
    staff_id = _staff()
    queries.follow_up_reference(hanako, question_id, "明治期のものが特に見たいです")
    assert queries.get_reference_question(hanako, question_id).status == "received"
    _answer(question_id, staff_id)
    with engine.write() as conn:
        reference.move(conn, NOW, question_id, reference.CLOSED)
    closed = queries.get_reference_question(hanako, question_id)
    assert closed.status == "closed" and closed.closed_at is not None
    queries.follow_up_reference(hanako, question_id, "もう一つ質問があります")
    reopened = queries.get_reference_question(hanako, question_id)
    assert reopened.status == "received" and reopened.closed_at is None
    assert [m.author for m in reopened.messages] == ["patron", "staff", "patron"]
    with pytest.raises(queries.ReferenceRefused) as refused:
        queries.follow_up_reference(hanako, question_id, " ")
    assert refused.value.code == "reference_text_required"


def test_staff_moves_follow_the_state_machine(lib: Database) -> None:
    question_id = _ask(_id(HANAKO.card_number))
    staff_id = _staff()
    with engine.write() as conn, pytest.raises(reference.ReferenceRefused):
        reference.move(conn, NOW, question_id, reference.ANSWERED)  # only by answering
    with engine.write() as conn:
        reference.move(conn, NOW, question_id, reference.CLOSED)
    with engine.write() as conn, pytest.raises(reference.ReferenceRefused) as refused:
        reference.record_answer(
            conn,
            NOW,
            question_id=question_id,
            staff_id=staff_id,
            body="回答",
            sources=[],
            make_link=LINK.format,
        )
    assert refused.value.code == "reference_closed"


@pytest.mark.parametrize(
    "source",
    [
        SourceInput("url", "javascript:alert(1)"),
        SourceInput("url", "ftp://example.jp/a"),
        SourceInput("url", "https://exa mple.jp/"),
        SourceInput("url", "//example.jp/"),
        SourceInput("work", work_id=99_999_999),
        SourceInput("text", "  "),
        SourceInput("map", "地図"),
    ],
)
def test_bad_sources_are_refused(lib: Database, source: SourceInput) -> None:
    question_id = _ask(_id(HANAKO.card_number))
    staff_id = _staff()
    with engine.write() as conn, pytest.raises(reference.ReferenceRefused):
        reference.record_answer(
            conn,
            NOW,
            question_id=question_id,
            staff_id=staff_id,
            body="回答",
            sources=[source],
            make_link=LINK.format,
        )
    assert _count("SELECT count(*) FROM reference_message") == 0


def _publish_case(question_id: int, staff_id: int) -> None:
    with engine.write() as conn:
        conn.execute(
            text(
                "INSERT INTO reference_case (question_id, status, question, answer, "
                "answer_process, pre_research, bibliography, note, keywords, ndc, solved, "
                "search_text, written_by, approved_by, created_at, updated_at, published_at) "
                "VALUES (:q, 'published', '藤沢宿の古地図は？', '郷土資料に所蔵', '', '', '', "
                "'', '藤沢宿 | 古地図', '291', :t, '', :s, :s, :now, :now, :now)"
            ),
            {"q": question_id, "s": staff_id, "now": NOW.replace(tzinfo=None), "t": True},
        )


def test_the_patron_deletes_a_closed_question_and_only_the_case_remains(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako)
    staff_id = _staff()
    with pytest.raises(queries.ReferenceRefused) as refused:
        queries.delete_reference_question(hanako, question_id)  # still open
    assert refused.value.code == "reference_not_deletable"
    _answer(question_id, staff_id)
    _publish_case(question_id, staff_id)
    queries.delete_reference_question(hanako, question_id)
    assert _mentions(question_id, hanako) == {
        "reference_question": 0,
        "reference_message": 0,
        "reference_source": 0,
        "mail": 0,  # the unsent notice went with it
    }
    assert _count("SELECT count(*) FROM reference_case WHERE question_id IS NULL") == 1
    assert _count("SELECT count(*) FROM reference_count WHERE event = 'asked'") == 1
    with pytest.raises(queries.ReferenceNotFound):
        queries.get_reference_question(hanako, question_id)


def _retention() -> queries.RetentionReport:
    return queries.run_retention(patron_idle_minutes=30, staff_idle_minutes=15)


def test_retention_deletes_closed_questions_after_the_period(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    old, recent, open_ = _ask(hanako), _ask(hanako), _ask(hanako)
    staff_id = _staff()
    days = reference.retention_days()
    assert days == 365
    closed_long_ago = NOW - timedelta(days=days + 1)
    with engine.write() as conn:
        reference.move(conn, closed_long_ago, old, reference.CLOSED)
        reference.move(conn, NOW - timedelta(days=days - 1), recent, reference.CLOSED)
    _publish_case(old, staff_id)
    report = _retention()
    assert report.reference_questions == 1
    left = {q.id for q in queries.list_reference_questions(hanako)}
    assert left == {recent, open_}
    assert _count("SELECT count(*) FROM reference_question WHERE id = :q", q=old) == 0
    assert _count("SELECT count(*) FROM reference_case WHERE question_id IS NULL") == 1
    assert _count("SELECT count(*) FROM reference_count WHERE event = 'asked'") == 1
    assert _count("SELECT sum(count) FROM reference_count WHERE event = 'asked'") == 3


def test_the_retention_period_is_a_setting(lib: Database) -> None:
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako)
    with engine.write() as conn:
        reference.move(conn, NOW - timedelta(days=31), question_id, reference.CLOSED)
    queries.configure_reference(30)
    try:
        assert _retention().reference_questions == 1
    finally:
        queries.configure_reference(365)


def test_a_purged_patrons_questions_go_with_them(lib: Database) -> None:
    misaki_card = DEMO_PATRONS[3].patron.card_number
    misaki = _id(misaki_card)
    question_id = _ask(misaki)
    _answer(question_id, _staff())
    queries.follow_up_reference(misaki, question_id, "追加の質問")
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE id = :p"),
            {"d": years_before(date(2026, 11, 21), 3) - timedelta(days=1), "p": misaki},
        )
    assert _retention().patrons == 1
    assert _mentions(question_id, misaki) == {
        "reference_question": 0,
        "reference_message": 0,
        "reference_source": 0,
        "mail": 0,
    }


def _race_answer_and_delete(
    hanako: int, question_id: int, staff_id: int, work_id: int
) -> dict[str, object]:
    """A second answer and the patron's delete, started together. → what each did."""
    start = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def answer_again() -> None:
        start.wait(timeout=30)
        try:
            with engine.write() as conn:
                reference.record_answer(
                    conn,
                    NOW,
                    question_id=question_id,
                    staff_id=staff_id,
                    body="追記します。",
                    sources=[SourceInput("work", work_id=work_id)],
                    make_link=LINK.format,
                )
            outcome["answer"] = "done"
        except BaseException as exc:  # reported by the caller
            outcome["answer"] = exc

    def delete() -> None:
        start.wait(timeout=30)
        try:
            queries.delete_reference_question(hanako, question_id)
            outcome["delete"] = "done"
        except BaseException as exc:  # reported by the caller
            outcome["delete"] = exc

    threads = [threading.Thread(target=answer_again), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcome


def test_an_answer_racing_the_patrons_delete_leaves_no_thread_and_no_mail(lib: Database) -> None:
    """The answer and the delete each lock the question row first (FOR UPDATE on
    PostgreSQL, BEGIN IMMEDIATE on SQLite): whichever comes second sees the other's
    result, so no message, source or notice outlives the question."""
    hanako = _id(HANAKO.card_number)
    staff_id = _staff()
    [work_id] = _works(1)
    for _round in range(4):
        question_id = _ask(hanako)
        _answer(question_id, staff_id)  # answered, so the patron may delete it
        outcome = _race_answer_and_delete(hanako, question_id, staff_id, work_id)
        assert outcome["delete"] == "done", outcome
        assert outcome["answer"] == "done" or isinstance(
            outcome["answer"], reference.ReferenceNotFound
        ), outcome
        assert _mentions(question_id, hanako) == {
            "reference_question": 0,
            "reference_message": 0,
            "reference_source": 0,
            "mail": 0,
        }


def test_a_deleted_question_leaves_no_bytes_in_the_sqlite_file(lib: Database) -> None:
    """The question text is personal: secure_delete and the WAL checkpoint after the
    deleting commit leave none of it in the database file or its write-ahead log."""
    if not lib.url.startswith("sqlite"):
        pytest.skip("SQLite's file and write-ahead log")
    marker = "藤沢宿の消えるべき質問文ZQX"
    hanako = _id(HANAKO.card_number)
    question_id = _ask(hanako, question=marker)
    _answer(question_id, _staff())
    assert marker.encode() in sqlite_bytes(lib.url)
    queries.delete_reference_question(hanako, question_id)
    assert marker.encode() not in sqlite_bytes(lib.url)
