"""Reference questions over HTTP (/my/reference): ask, read the answer with its sources,
follow up, delete; no-JS and htmx variants, field messages, another patron's question."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries, reference
from db.queries import mail
from db.reference import SourceInput
from tests import kiosk as kiosk_helpers
from tests import mailbox
from tests.conftest import Database
from tests.smtp_sink import Server
from tests.test_replica import statements_on
from tests.test_web_account import HTMX, csrf_of, log_in
from tests.test_web_holds import HANAKO, MISAKI, TARO, client_for, patron_id


def _ask(client: TestClient, **data: str) -> object:
    token = csrf_of(client.get("/my/reference/new").text)
    form = {
        "question": "藤沢宿の江戸時代の地図を見たい",
        "checked": "藤沢市史",
        "useful_by": "",
        "category": "general",
        "notify": "email",
        **data,
    }
    return client.post(
        "/my/reference/new", data={"csrf_token": token, **form}, follow_redirects=False
    )


def _question_ids() -> list[int]:
    with engine.read() as conn:
        return [
            int(i)
            for i in conn.execute(text("SELECT id FROM reference_question ORDER BY id")).scalars()
        ]


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


def answer(question_id: int, sources: list[SourceInput] | None = None) -> None:
    """Staff answer through db.reference, citing two catalogue records and a web page."""
    with engine.read() as conn:
        works = [
            int(w) for w in conn.execute(text("SELECT id FROM work ORDER BY id LIMIT 2")).scalars()
        ]
    staff_id = _staff()
    with engine.write() as conn:
        reference.record_answer(
            conn,
            datetime.now(UTC),
            question_id=question_id,
            staff_id=staff_id,
            body="郷土資料室に『藤沢宿絵図』があります。",
            sources=sources
            if sources is not None
            else [
                SourceInput("work", work_id=works[0]),
                SourceInput("work", work_id=works[1]),
                SourceInput("text", "藤沢市文書館編『藤沢の歴史』1990"),
                SourceInput("url", "https://www.city.fujisawa.kanagawa.jp/"),
            ],
            make_link="http://testserver/my/reference/{}".format,
        )
        reference.add_message(
            conn,
            datetime.now(UTC),
            question_id,
            author="staff",
            body="内部メモ: 利用者は急いでいる",
            internal=True,
        )


def test_ask_without_javascript_then_read_the_answer(library_db: Database) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        page = client.get("/my/reference/new")
        assert page.status_code == 200
        assert 'value="general" selected' in page.text  # prefilled from the patron record
        assert page.headers["cache-control"] == "no-store"
        response = _ask(client, useful_by="令和８年１２月２０日")  # 和暦, full-width digits
        assert response.status_code == 303
        [question_id] = _question_ids()
        assert response.headers["location"] == f"/my/reference/{question_id}"
        thread = client.get(response.headers["location"])
        assert "藤沢宿の江戸時代の地図を見たい" in thread.text
        assert "受付" in thread.text
        assert queries.get_reference_question(patron_id(HANAKO[0]), question_id).useful_by == (
            datetime(2026, 12, 20).date()
        )

        answer(question_id)
        listing = client.get("/my/reference")
        assert "回答済" in listing.text
        thread = client.get(f"/my/reference/{question_id}").text
        assert "郷土資料室に『藤沢宿絵図』があります。" in thread
        assert "内部メモ" not in thread  # staff notes never reach the patron
        record_links = re.findall(r'href="/records/(\d+)"', thread)
        assert len(record_links) == 2
        for work_id in record_links:
            assert client.get(f"/records/{work_id}").status_code == 200
        assert (
            '<a href="https://www.city.fujisawa.kanagawa.jp/" rel="noopener noreferrer nofollow"'
            in thread
        )
        assert "藤沢市文書館編『藤沢の歴史』1990" in thread


def test_the_notice_mail_only_says_the_answer_is_ready(
    library_db: Database, smtp_server: Server
) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        _ask(client, question="祖母の旧姓の記録を探しています")
        [question_id] = _question_ids()
        answer(question_id)
        report = mail.send_due(smtp_server.settings, datetime.now(UTC), compose=mailbox.COMPOSE)
        assert report.sent == 1
        [received] = smtp_server.recorder.received
        body = received.message.get_content()
        assert received.message["To"] == "hanako@example.jp"
        assert "回答" in received.message["Subject"]
        assert f"http://testserver/my/reference/{question_id}" in body
        for private in ("祖母", "旧姓", "藤沢宿絵図", "郷土資料室"):
            assert private not in body and private not in received.message["Subject"]


def test_a_patron_without_email_is_offered_my_library_only(library_db: Database) -> None:
    with client_for(library_db) as client:
        log_in(client, *TARO)
        page = client.get("/my/reference/new").text
        assert re.search(r'id="notify-email"[^>]*disabled', page)
        assert 'value="university" selected' in page
        response = _ask(client, notify="email", category="university")
        assert response.status_code == 422
        assert 'id="notify-error"' in response.text
        assert _question_ids() == []
        assert _ask(client, notify="my_library", category="university").status_code == 303


def test_bad_fields_get_messages_next_to_them_and_keep_what_was_typed(
    library_db: Database,
) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        response = _ask(
            client,
            question="",
            checked="あ" * (queries.REFERENCE_CHECKED_MAX_CHARS + 1),
            useful_by="来週のどこか",
            category="wizard",
        )
        assert response.status_code == 422
        for field in ("question", "checked", "useful_by", "category"):
            assert f'id="{field}-error"' in response.text, field
        assert "来週のどこか" in response.text
        limit = queries.REFERENCE_CHECKED_MAX_CHARS
        assert f"{limit}文字以内にしてください" in response.text
        assert f"パスワードは{limit}" not in response.text  # not the password message
        assert "Please write your question." not in response.text  # Japanese page
        assert "ご質問を書いてください" in response.text
        past = _ask(client, useful_by="2020-01-01")
        assert past.status_code == 422 and 'id="useful_by-error"' in past.text
        assert _question_ids() == []


def test_another_patrons_question_is_404(library_db: Database) -> None:
    with client_for(library_db) as hanako:
        log_in(hanako, *HANAKO)
        _ask(hanako)
        [question_id] = _question_ids()
        answer(question_id)
    with client_for(library_db) as misaki:
        log_in(misaki, *MISAKI)
        token = csrf_of(misaki.get("/my/reference").text)
        assert misaki.get(f"/my/reference/{question_id}").status_code == 404
        for action in ("follow-up", "delete"):
            response = misaki.post(
                f"/my/reference/{question_id}/{action}",
                data={"csrf_token": token, "message": "横から"},
                follow_redirects=False,
            )
            assert response.status_code == 404, action
        assert "藤沢宿" not in misaki.get("/my/reference").text
        assert _question_ids() == [question_id]


def test_logged_out_is_sent_to_login(library_db: Database) -> None:
    with client_for(library_db) as client:
        response = client.get("/my/reference/new", follow_redirects=False)
        assert response.status_code in (302, 303)
        assert "/login" in response.headers["location"]


def test_follow_up_with_htmx_and_without(library_db: Database) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        _ask(client)
        [question_id] = _question_ids()
        answer(question_id)
        url = f"/my/reference/{question_id}"
        token = csrf_of(client.get(url).text)
        fragment = client.post(
            f"{url}/follow-up",
            data={"csrf_token": token, "message": "明治のものもありますか"},
            headers=HTMX,
        )
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<section id="reference-thread"')
        assert "明治のものもありますか" in fragment.text and "受付" in fragment.text
        empty = client.post(
            f"{url}/follow-up", data={"csrf_token": token, "message": " "}, headers=HTMX
        )
        assert empty.status_code == 422 and 'id="message-error"' in empty.text
        plain = client.post(
            f"{url}/follow-up",
            data={"csrf_token": token, "message": "追加でもう一つ"},
            follow_redirects=False,
        )
        assert plain.status_code == 303 and plain.headers["location"] == url
        thread = queries.get_reference_question(patron_id(HANAKO[0]), question_id)
        assert [m.author for m in thread.messages] == ["staff", "patron", "patron"]


def test_delete_an_answered_question_leaves_nothing(library_db: Database) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        _ask(client)
        [question_id] = _question_ids()
        url = f"/my/reference/{question_id}"
        assert f'action="{url}/delete"' not in client.get(url).text  # still open
        token = csrf_of(client.get(url).text)
        refused = client.post(f"{url}/delete", data={"csrf_token": token})
        assert refused.status_code == 422
        answer(question_id)
        assert f'action="{url}/delete"' in client.get(url).text
        done = client.post(f"{url}/delete", data={"csrf_token": token}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/my/reference"
        assert client.get(url).status_code == 404
        with engine.read() as conn:
            for table in ("reference_question", "reference_message", "reference_source"):
                left = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                assert left == 0, table


def test_my_library_links_to_reference(library_db: Database) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        assert 'href="/my/reference"' in client.get("/my").text


def test_the_notice_is_composed_in_the_patrons_language(library_db: Database) -> None:
    subject, body = mailbox.COMPOSE(
        "reference_answer", "en", {"link": "https://x.jp/my/reference/7"}
    )
    assert subject == "[Fujisawa City Libraries] The answer to your reference question is ready"
    assert "https://x.jp/my/reference/7" in body and "does not contain" in body
    subject, body = mailbox.COMPOSE(
        "reference_answer", "ja", {"link": "https://x.jp/my/reference/7"}
    )
    assert "回答ができました" in subject and "https://x.jp/my/reference/7" in body


def test_the_same_pages_work_on_a_kiosk_and_keep_nothing(library_db: Database) -> None:
    with client_for(library_db) as kiosk:
        kiosk_helpers.enrol(kiosk)  # issue 15: the terminal, not a login box, makes a kiosk
        log_in(kiosk, *HANAKO)
        assert _ask(kiosk).status_code == 303
        [question_id] = _question_ids()
        answer(question_id)
        page = kiosk.get(f"/my/reference/{question_id}")
        assert page.status_code == 200 and "藤沢宿絵図" in page.text
        assert page.headers["cache-control"] == "no-store"
        token = csrf_of(page.text)
        kiosk.post("/logout", data={"csrf_token": token})
        after = kiosk.get(f"/my/reference/{question_id}", follow_redirects=False)
        assert after.status_code in (302, 303) and "藤沢宿" not in after.text


def test_a_line_break_counts_as_one_character_as_the_browser_counts_it(
    library_db: Database,
) -> None:
    """Browsers send CRLF but count one character per line break against maxlength: a
    question the form let through is not refused for being too long."""
    lines = 20
    width = queries.REFERENCE_QUESTION_MAX_CHARS // lines - 1  # + 1 for each line break
    question = "\r\n".join("あ" * width for _ in range(lines))
    assert len(question.replace("\r\n", "\n")) <= queries.REFERENCE_QUESTION_MAX_CHARS
    assert len(question) > queries.REFERENCE_QUESTION_MAX_CHARS
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        assert _ask(client, question=question).status_code == 303  # type: ignore[attr-defined]


def test_an_unread_answer_needs_attention_on_my_until_the_patron_opens_it(
    library_db: Database,
) -> None:
    """「メールなし：マイライブラリで確認」: no mail goes out, so /my says an answer is there
    (with a link to the question) until the patron opens the question; staff reading the
    question do not count as the patron having read it."""
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        client.cookies.set("shiori_lang", "ja")
        _ask(client, notify="my_library", question="藤沢宿の本陣の間取り図")
        [question_id] = _question_ids()
        link = f'href="/my/reference/{question_id}"'
        assert link not in client.get("/my").text  # not answered yet
        answer(question_id)
        with engine.read() as conn:
            staff_id = conn.execute(
                text("SELECT id FROM staff_account WHERE staff_code = 'R001'")
            ).scalar_one()
        staff = queries.StaffActor(int(staff_id), "R001", "参考 係", "manager", (), 1)
        queries.open_reference_question(staff, question_id)
        my = client.get("/my").text
        assert "レファレンスの回答があります" in my and link in my
        assert "藤沢宿の本陣の間取り図" in my
        assert "今、お手続きが必要なものはありません" not in my
        assert client.get(f"/my/reference/{question_id}").status_code == 200
        my = client.get("/my").text
        assert "レファレンスの回答があります" not in my and link not in my
        # A second answer (to a follow-up, say) is new again.
        with engine.write() as conn:
            reference.record_answer(
                conn,
                datetime.now(UTC),
                question_id=question_id,
                staff_id=int(staff_id),
                body="間取り図は『藤沢市史』第5巻にもあります。",
                sources=[],
                make_link="http://testserver/my/reference/{}".format,
            )
        assert link in client.get("/my").text
        client.get(f"/my/reference/{question_id}", headers=HTMX)
        assert link not in client.get("/my").text


def test_an_unread_answer_is_in_the_summary_of_its_patron_only(library_db: Database) -> None:
    with client_for(library_db) as client:
        log_in(client, *HANAKO)
        _ask(client, notify="my_library")
        [question_id] = _question_ids()
        answer(question_id)
        hanako = patron_id(HANAKO[0])
        [unread] = queries.get_my_summary(hanako).answered
        assert unread.id == question_id and queries.get_my_summary(hanako).needs_action
        assert queries.get_my_summary(patron_id(MISAKI[0])).answered == ()
        with pytest.raises(queries.ReferenceNotFound):  # not Misaki's to open
            queries.view_reference_question(patron_id(MISAKI[0]), question_id)
        assert queries.get_my_summary(hanako).answered == (unread,)
        queries.view_reference_question(hanako, question_id)
        assert queries.get_my_summary(hanako).answered == ()
        # Read already: a view writes nothing (no writer's lock for a page view).
        with engine.read() as conn:
            bind = conn.engine
        with statements_on(bind) as seen:
            queries.view_reference_question(hanako, question_id)
        first_words = {
            s.split(None, 2)[1] if s.startswith("BEGIN ") else s.split()[0] for s in seen
        }
        assert "SELECT" in first_words <= {"BEGIN", "SELECT"}  # no UPDATE, no BEGIN IMMEDIATE
