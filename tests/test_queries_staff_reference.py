"""The staff side of the reference service at the query layer (db.queries.staff_reference):
the policy and its duty, the audit row of every open and action, answering with sources
and the notice that says only that an answer is ready."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from db import engine, queries
from db.patrons import DEMO_PATRONS
from tests.conftest import Database
from tests.mailbox import composed

HANAKO = DEMO_PATRONS[0].patron
QUESTION = "藤沢の江の島の歴史について、明治時代の様子がわかる資料はありますか。"
ANSWER = "江の島の明治期については次の資料に記述があります。"
OUTSIDE = "https://www.city.fujisawa.kanagawa.jp/kyoiku/enoshima.html"


def _manager() -> queries.StaffActor:
    return queries.StaffActor(1, "MAN01", "管理", "manager", (), 1)


def _account(code: str, role: str, duties: tuple[str, ...] = ()) -> queries.StaffActor:
    """A real staff account (answers and assignments name it) and its actor."""
    data = queries.StaffInput(code, f"職員 {code}", "奉仕係", "sogo", role, duties, None)
    staff_id, _ = queries.create_staff_account(_manager(), data)
    return queries.StaffActor(staff_id, code, f"職員 {code}", role, duties, 1)


def _patron(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM patron WHERE card_number = :c"), {"c": card}
            ).scalar_one()
        )


def _ask(patron_id: int, notify_email: bool = True) -> int:
    return queries.ask_reference(
        patron_id,
        question=QUESTION,
        checked="藤沢市史",
        useful_by=None,
        notify_email=notify_email,
        category="general",
    )


def _audit() -> list[tuple[str, int | None, str, str, str, str]]:
    with engine.read() as conn:
        return [
            (r.staff_code, r.patron_id, r.field_groups, r.screen, r.action, r.outcome)
            for r in conn.execute(
                text(
                    "SELECT staff_code, patron_id, field_groups, screen, action, outcome "
                    "FROM staff_audit WHERE screen = 'reference' ORDER BY id"
                )
            )
        ]


def _works(n: int) -> list[int]:
    hits = queries.search_works(queries.SearchParams(q="の")).hits
    assert len(hits) >= n
    return [h.id for h in hits[:n]]


def test_who_may_answer_reference_questions(library_db: Database) -> None:
    policy = queries.staff_policy_data()
    for role, duties, may in (
        ("manager", (), True),
        ("staff", (), True),
        ("temporary", (), False),
        ("temporary", ("reference",), True),
        ("temporary", ("patron_records",), False),
        ("intern", (), False),
        ("intern", ("reference",), False),  # interns take no duties
    ):
        assert policy.may(role, duties, "reference") is may, (role, duties)
        assert ("reference" in policy.visible_fields(role, duties)) is may, (role, duties)
    assert policy.field_groups["reference"].personal


def test_staff_answer_citing_two_records_and_one_outside_source(library_db: Database) -> None:
    hanako = _patron(HANAKO.card_number)
    staff = _account("STA01", "staff")
    question_id = _ask(hanako)
    # The queue: the question, its state and age, nothing of what was asked or by whom.
    [row] = queries.list_reference_queue(staff)
    assert (row.id, row.status, row.age_days, row.assigned_name) == (
        question_id,
        "received",
        0,
        None,
    )
    assert QUESTION not in repr(row) and HANAKO.name not in repr(row)
    assert _audit() == []  # listing the queue is no look at anyone's question
    opened = queries.open_reference_question(staff, question_id)
    assert opened.question == QUESTION and opened.category == "general"
    assert opened.moves == ("investigating", "closed")
    queries.start_reference_question(staff, question_id)
    started = queries.open_reference_question(staff, question_id)
    assert started.status == "investigating" and started.assigned_name == "職員 STA01"
    assert [r.id for r in queries.list_reference_queue(staff, mine=True)] == [question_id]
    queries.add_reference_note(staff, question_id, "郷土資料室の別置も確認すること")
    one, two = _works(2)
    queries.answer_reference_question(
        staff,
        question_id,
        queries.AnswerInput(ANSWER, work_ids=(one, two), urls=(OUTSIDE,)),
        lambda qid: f"https://opac.example.jp/my/reference/{qid}",
    )
    # The patron's view: the answer with its three sources, never the internal note.
    mine = queries.get_reference_question(hanako, question_id)
    assert mine.status == "answered"
    [answer] = mine.answers
    assert answer.body == ANSWER
    kinds = [(s.kind, s.work_id) for s in answer.sources]
    assert kinds == [("work", one), ("work", two), ("url", None)]
    assert answer.sources[2].text == OUTSIDE
    assert all("郷土資料室" not in m.body for m in mine.messages)
    # The notice: to her address, a link, nothing of the question or the answer.
    [(kind, to, subject, body)] = composed()
    assert kind == "reference_answer" and to == HANAKO.email
    assert f"https://opac.example.jp/my/reference/{question_id}" in (body or "")
    for secret in (QUESTION, ANSWER, OUTSIDE, "江の島"):
        assert secret not in subject and secret not in (body or "")
    queries.close_reference_question(staff, question_id)
    assert queries.list_reference_queue(staff) == ()
    assert [r.id for r in queries.list_reference_queue(staff, "closed")] == [question_id]
    actions = [r[4] for r in _audit()]
    assert actions == [
        "view",
        "reference_start",
        "view",
        "reference_note",
        "reference_answer",
        "reference_close",
    ]
    assert all(r[:4] == ("STA01", hanako, "reference", "reference") for r in _audit())
    assert all(r[5] == "allowed" for r in _audit())
    with pytest.raises(queries.ReferenceRefused):  # closed: no more answers
        queries.answer_reference_question(
            staff, question_id, queries.AnswerInput("追記"), lambda qid: ""
        )


def test_temporary_staff_need_the_duty_and_interns_never(library_db: Database) -> None:
    hanako = _patron(HANAKO.card_number)
    question_id = _ask(hanako)
    plain = _account("TEM01", "temporary")
    with pytest.raises(queries.StaffRefused):
        queries.open_reference_question(plain, question_id)
    with pytest.raises(queries.StaffRefused):
        queries.list_reference_queue(plain)
    assert _audit() == [
        ("TEM01", hanako, "reference", "reference", "view", "refused"),
        ("TEM01", None, "reference", "reference", "reference_queue", "refused"),
    ]
    given = _account("TEM02", "temporary", ("reference",))
    assert queries.open_reference_question(given, question_id).question == QUESTION
    assert _audit()[-1] == ("TEM02", hanako, "reference", "reference", "view", "allowed")
    intern = _account("INT01", "intern")
    sneaky = queries.StaffActor(intern.staff_id, "INT01", "実習", "intern", ("reference",), 1)
    with pytest.raises(queries.StaffRefused):
        queries.answer_reference_question(
            sneaky, question_id, queries.AnswerInput("こたえ"), lambda qid: ""
        )
    refused = ("INT01", hanako, "reference", "reference", "reference_answer", "refused")
    assert _audit()[-1] == refused
    assert queries.get_reference_question(hanako, question_id).answers == ()
    # Assigning: to the temporary member with the duty, never to one without, nor an intern.
    queries.assign_reference_question(given, question_id, given.staff_id)
    for other in (plain, intern):
        with pytest.raises(queries.StaffFormRefused) as refused:
            queries.assign_reference_question(given, question_id, other.staff_id)
        assert set(refused.value.errors) == {"assignee"}
    assert [s.staff_code for s in queries.list_reference_staff()] == ["TEM02"]


def test_bad_answers_are_refused_per_field_and_save_nothing(library_db: Database) -> None:
    hanako = _patron(HANAKO.card_number)
    staff = _account("STA01", "staff")
    question_id = _ask(hanako)
    bad = queries.AnswerInput(
        "  ",
        citations=("x" * 1001,),
        urls=("https://ok.example.jp/", "javascript:alert(1)"),
    )
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.answer_reference_question(staff, question_id, bad, lambda qid: "")
    assert set(refused.value.errors) == {"answer", "citations", "urls"}
    for url in ("ftp://example.jp/a", "http://", "https://exa mple.jp/"):
        with pytest.raises(queries.StaffFormRefused) as refused:
            queries.answer_reference_question(
                staff, question_id, queries.AnswerInput(ANSWER, urls=(url,)), lambda qid: ""
            )
        assert set(refused.value.errors) == {"urls"}, url
    many = queries.AnswerInput(ANSWER, citations=tuple(f"資料{i}" for i in range(21)))
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.answer_reference_question(staff, question_id, many, lambda qid: "")
    assert set(refused.value.errors) == {"sources"}
    gone = queries.AnswerInput(ANSWER, work_ids=(999_999_999,))
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.answer_reference_question(staff, question_id, gone, lambda qid: "")
    assert set(refused.value.errors) == {"sources"}
    with pytest.raises(queries.StaffFormRefused):
        queries.add_reference_note(staff, question_id, "   ")
    opened = queries.open_reference_question(staff, question_id)
    assert opened.thread == () and opened.notes == () and opened.status == "received"
    assert composed() == []


def test_answers_and_a_close_racing_leave_one_notice_and_a_consistent_state(
    library_db: Database,
) -> None:
    """Four staff answer while a fifth closes, at the same moment (row lock on PostgreSQL,
    BEGIN IMMEDIATE on SQLite): every answer before the close is kept, every one after it is
    refused, and exactly one unsent notice announces the latest answer."""
    hanako = _patron(HANAKO.card_number)
    question_id = _ask(hanako)
    members = [_account(f"STA0{i}", "staff") for i in range(1, 6)]
    start = threading.Barrier(5)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def act(member: queries.StaffActor, closing: bool) -> None:
        try:
            start.wait(timeout=30)
            if closing:
                queries.close_reference_question(member, question_id)
                outcomes.append("closed")
            else:
                answer = queries.AnswerInput(f"{ANSWER}（{member.staff_code}）")
                queries.answer_reference_question(member, question_id, answer, lambda q: "x:")
                outcomes.append("answered")
        except queries.ReferenceRefused as refused:
            outcomes.append(refused.code)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=act, args=(m, i == 4)) for i, m in enumerate(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert outcomes.count("closed") == 1
    answered = outcomes.count("answered")
    assert answered + outcomes.count("reference_closed") == 4
    view = queries.get_reference_question(hanako, question_id)
    assert view.status == "closed" and len(view.answers) == answered
    with engine.read() as conn:
        unsent = conn.execute(
            text("SELECT count(*) FROM mail_outbox WHERE kind = 'reference_answer'")
        ).scalar_one()
    assert unsent == (1 if answered else 0)


def test_a_follow_up_after_the_answer_shows_in_the_queue(library_db: Database) -> None:
    hanako = _patron(HANAKO.card_number)
    staff = _account("STA01", "staff")
    question_id = _ask(hanako, notify_email=False)
    queries.answer_reference_question(
        staff, question_id, queries.AnswerInput(ANSWER), lambda qid: ""
    )
    [answered] = queries.list_reference_queue(staff, "answered")
    assert not answered.follow_up and answered.assigned_name == "職員 STA01"
    assert composed() == []  # she chose My Library only: no mail
    queries.follow_up_reference(hanako, question_id, "大正時代の資料もありますか。")
    [row] = queries.list_reference_queue(staff)
    assert row.status == "received" and row.follow_up
    thread = queries.open_reference_question(staff, question_id).thread
    assert [m.author for m in thread] == ["staff", "patron"]
