"""Reference questions at the staff console over HTTP (/staff/reference): the queue, an
audited open, 受付 → 調査中, the catalogue source picker (no JavaScript and htmx), the answer
with sources, internal notes, close — and the patron's mail through a real SMTP server."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from db import queries
from db.queries import mail
from tests import test_web_staff
from tests.mailbox import COMPOSE
from tests.smtp_sink import Server
from tests.test_web_account import log_in
from tests.test_web_staff import HANAKO, HTMX, Clock, Console, audit_rows, csrf_of, patron_id

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

QUESTION = "江の島の明治時代の様子がわかる資料を探しています。"
ANSWER = "明治期の江の島については、次の資料に記述があります。"
NOTE = "郷土資料室の別置資料も確認済み"
OUTSIDE = "https://www.city.fujisawa.kanagawa.jp/kyoiku/enoshima.html"
HANAKO_PASSWORD = "hon-wo-yomu-2026"


def _ask() -> int:
    return queries.ask_reference(
        patron_id(HANAKO.card_number),
        question=QUESTION,
        checked="藤沢市史",
        useful_by=None,
        notify_email=True,
        category="general",
    )


def _two_titles() -> tuple[str, list[int]]:
    """A word and two titles the catalogue search finds with it."""
    hits = queries.search_works(queries.SearchParams(q="の")).hits
    return "の", [hits[0].id, hits[1].id]


def test_done_when_staff_answer_and_the_patron_reads_it(
    team: dict[str, Console], app: object, clock: Clock, smtp_server: Server
) -> None:
    staff = team["staff"]
    question_id = _ask()
    page = f"/staff/reference/{question_id}"
    queue = staff.get("/staff/reference")
    assert queue.status_code == 200  # type: ignore[attr-defined]
    assert f'href="{page}"' in queue.text and QUESTION not in queue.text  # type: ignore[attr-defined]
    assert "受付" in queue.text  # type: ignore[attr-defined]
    opened = staff.get(page)
    assert opened.status_code == 200 and QUESTION in opened.text  # type: ignore[attr-defined]
    started = staff.post(f"{page}/start", page)
    assert started.status_code == 303 and started.headers["location"] == page  # type: ignore[attr-defined]
    assert "調査中" in staff.get(page).text  # type: ignore[attr-defined]
    assert staff.post(f"{page}/notes", page, note=NOTE).status_code == 303  # type: ignore[attr-defined]

    # The source picker without JavaScript: the draft comes back with the titles found.
    word, (one, two) = _two_titles()
    found = staff.post(f"{page}/sources", page, answer=ANSWER, source_q=word)
    assert found.status_code == 200 and "<html" in found.text  # type: ignore[attr-defined]
    assert f'name="work_id" value="{one}"' in found.text  # type: ignore[attr-defined]
    assert f">{ANSWER}</textarea>" in found.text  # type: ignore[attr-defined]
    # With htmx, as staff type: the picker only; a ticked title stays ticked.
    token = csrf_of(staff.client.get(page).text)
    picker = staff.client.post(
        f"{page}/sources",
        data={"source_q": word, "work_id": str(one)},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    assert picker.text.lstrip().startswith('<div id="source-picker"')
    assert re.search(rf'name="work_id" value="{one}" checked', picker.text)
    assert QUESTION not in picker.text

    answered = staff.client.post(
        f"{page}/answer",
        data={
            "csrf_token": token,
            "answer": ANSWER,
            "work_id": [str(one), str(two)],
            "citations": "",
            "urls": OUTSIDE,
        },
        follow_redirects=False,
    )
    assert answered.status_code == 303 and answered.headers["location"] == page
    shown = staff.get(page).text  # type: ignore[attr-defined]
    assert "回答済" in shown and f'href="/records/{one}"' in shown and NOTE in shown

    # The mail, through a real SMTP server: only that an answer is ready, and the link.
    assert mail.send_due(smtp_server.settings, clock.now, compose=COMPOSE).sent == 1
    [received] = smtp_server.recorder.received
    assert received.rcpt_tos == [HANAKO.email]
    body = received.message.get_content()
    assert f"/my/reference/{question_id}" in body
    for secret in (QUESTION, ANSWER, OUTSIDE, NOTE, "江の島"):
        assert secret not in body and secret not in str(received.message["Subject"])

    # The patron reads the answer with two catalogue links and the outside source.
    patron = TestClient(app)  # type: ignore[arg-type]
    assert log_in(patron, HANAKO.card_number, HANAKO_PASSWORD).status_code == 303  # type: ignore[attr-defined]
    mine = patron.get(f"/my/reference/{question_id}")
    assert mine.status_code == 200 and ANSWER in mine.text
    for work_id in (one, two):
        assert f'href="/records/{work_id}"' in mine.text
        assert patron.get(f"/records/{work_id}").status_code == 200
    assert f'href="{OUTSIDE}"' in mine.text
    assert NOTE not in mine.text

    closed = staff.post(f"{page}/close", page)
    assert closed.status_code == 303 and "終了" in staff.get(page).text  # type: ignore[attr-defined]
    hanako = patron_id(HANAKO.card_number)
    actions = [r[3] for r in audit_rows() if r[0] == "STA01" and r[1] == hanako]
    assert actions.count("view") >= 4
    assert {"reference_start", "reference_note", "reference_answer", "reference_close"} <= set(
        actions
    )


def test_bad_answer_is_shown_next_to_the_fields_and_kept(team: dict[str, Console]) -> None:
    staff = team["staff"]
    page = f"/staff/reference/{_ask()}"
    refused = staff.post(f"{page}/answer", page, answer="  ", urls="javascript:alert(1)")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert 'id="answer-error"' in refused.text and 'id="urls-error"' in refused.text  # type: ignore[attr-defined]
    assert "http:// または https://" in refused.text  # type: ignore[attr-defined]
    assert ">javascript:alert(1)</textarea>" in refused.text  # type: ignore[attr-defined]
    empty_note = staff.post(f"{page}/notes", page, note=" ")
    assert empty_note.status_code == 422 and 'id="note-error"' in empty_note.text  # type: ignore[attr-defined]


def test_temporary_staff_need_the_duty_interns_never(team: dict[str, Console]) -> None:
    question_id = _ask()
    page = f"/staff/reference/{question_id}"
    hanako = patron_id(HANAKO.card_number)
    temporary, intern, manager = team["temporary"], team["intern"], team["manager"]
    assert temporary.get("/staff/reference").status_code == 403  # type: ignore[attr-defined]
    assert temporary.get(page).status_code == 403  # type: ignore[attr-defined]
    assert intern.get(page).status_code == 403  # type: ignore[attr-defined]
    answer = intern.post(f"{page}/answer", "/staff/password", answer=ANSWER)
    assert answer.status_code == 403  # type: ignore[attr-defined]
    refused = [r for r in audit_rows() if r[4] == "refused" and r[2] == "reference"]
    assert {(r[0], r[3]) for r in refused} >= {("TEM01", "reference"), ("INT01", "reference")}
    assert queries.get_reference_question(hanako, question_id).answers == ()
    # The manager gives the temporary member the reference duty: now it works.
    tem = next(s for s in queries.list_staff_accounts() if s.staff_code == "TEM01")
    edit = f"/staff/accounts/{tem.id}"
    given = manager.post(
        edit,
        edit,
        staff_code="TEM01",
        name="職員 TEM01",
        affiliation="奉仕係",
        branch="minami",
        role="temporary",
        duties="reference",
    )
    assert given.status_code == 303, given.text  # type: ignore[attr-defined]
    home = temporary.get("/staff/").text  # type: ignore[attr-defined]
    assert 'href="/staff/reference"' in home
    opened = temporary.get(page)
    assert opened.status_code == 200 and QUESTION in opened.text  # type: ignore[attr-defined]
    assert audit_rows()[-1] == ("TEM01", hanako, "reference", "view", "allowed")
    mine = temporary.post(f"{page}/assign", page, assignee=str(tem.id))
    assert mine.status_code == 303  # type: ignore[attr-defined]
    assert "職員 TEM01" in temporary.get("/staff/reference?mine=1").text  # type: ignore[attr-defined]
    # Nobody is given a question who may not take it (the intern is not in the list).
    intern_id = next(s.id for s in queries.list_staff_accounts() if s.staff_code == "INT01")
    wrong = temporary.post(f"{page}/assign", page, assignee=str(intern_id))
    assert wrong.status_code == 422 and 'id="assignee-error"' in wrong.text  # type: ignore[attr-defined]
