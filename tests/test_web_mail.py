"""Mail text composed by the web tier: templates/mail/<kind>.txt in the patron's language.

db queues a notice's kind, language and parameters (no text); the sender composes it with
web.mail.MailComposer at delivery. The patron's language is the one they chose on the site.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from db import engine, outbox, queries, rules
from db.queries import mail
from tests.conftest import Database
from tests.mailbox import COMPOSE, PUBLIC_URL, composed
from tests.smtp_sink import Server
from tests.test_queries_circulation import linking_tables
from tests.test_web_account import HANAKO, csrf_of, log_in, post
from tests.test_web_holds import patron_id, taros_loan

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 18:00 in the library
NEVER_ASK = {
    "ja": "図書館が電話やメールでパスワードをおたずねすることはありません。",
    "en": "The library never asks for your password by phone or email.",
}

NOTICES: dict[str, dict[str, Any]] = {
    "hold_ready": {"title": "吾輩は猫である", "branch": "minami", "until": "2026-11-27"},
    "due_reminder": {
        "loans": [
            {"title": "こころ", "due": "2026-12-05"},
            {"title": "坊っちゃん", "due": "2026-12-06"},
        ]
    },
    "overdue_reminder": {"loans": [{"title": "こころ", "due": "2026-11-20"}]},
    "password_set": {"when": NOW.isoformat(), "via": rules.PASSWORD_VIA_CODE},
    "password_reset": {"link": "https://opac.example.jp/password/reset?token=abc", "minutes": 30},
}

# Pieces of each text as it read when db wrote it (dates now one format per language).
EXPECTED = {
    ("hold_ready", "ja"): [
        "【藤沢市図書館】ご予約の資料をご用意しました",
        "ご予約の資料を南市民図書館でご用意しました。\n  吾輩は猫である\n\n",
        "2026年11月27日(金)までに、利用者カードをお持ちのうえお受け取りください。"
        "期限を過ぎると次にお待ちの方へ回ります。\n予約の確認・取り消しはマイライブラリからできます。\n"
        "https://opac.example.jp/my/holds\n",
    ],
    ("hold_ready", "en"): [
        "[Fujisawa City Libraries] Your reservation is ready for pickup",
        "An item you reserved is waiting for you at Minami Civic Library:\n  吾輩は猫である\n\n",
        "Please collect it by Fri 27 Nov 2026 with your library card; after that it goes to "
        "the next person waiting.\nYou can see or cancel your reservations in My Library.\n"
        "https://opac.example.jp/my/holds\n",
    ],
    ("due_reminder", "ja"): [
        "【藤沢市図書館】返却期限のお知らせ",
        "次の資料の返却期限が近づいています。\n  2026年12月5日(土)  こころ\n"
        "  2026年12月6日(日)  坊っちゃん\n\n予約がなければマイライブラリから延長できます。\n"
        "https://opac.example.jp/my/loans\n",
    ],
    ("due_reminder", "en"): [
        "[Fujisawa City Libraries] Items due soon",
        "These items are due soon:\n  Sat 5 Dec 2026  こころ\n  Sun 6 Dec 2026  坊っちゃん\n\n"
        "You can renew in My Library when nobody is waiting for them.\n"
        "https://opac.example.jp/my/loans\n",
    ],
    ("overdue_reminder", "ja"): [
        "【藤沢市図書館】返却期限を過ぎた資料のお知らせ",
        "次の資料の返却期限が過ぎています。\n  2026年11月20日(金)  こころ\n\n"
        "お早めにご返却ください。次にお待ちの方がいるかもしれません。"
        "貸出中の資料はマイライブラリで確認できます。\nhttps://opac.example.jp/my/loans\n",
    ],
    ("overdue_reminder", "en"): [
        "[Fujisawa City Libraries] Items past their due date",
        "This item is past its due date:\n  Fri 20 Nov 2026  こころ\n\n"
        "Please return them soon: others may be waiting. Your loans are listed in My Library.\n"
        "https://opac.example.jp/my/loans\n",
    ],
    ("password_set", "ja"): [
        "【藤沢市図書館】パスワードが設定されました",
        "2026年11月21日(土) 18:00 に、カウンター発行の登録コードから図書館ウェブサイトの"
        "パスワードが設定されました。\n\nお心当たりがない場合は、利用者カードをお持ちのうえ、"
        "すぐに図書館カウンターへご連絡ください。\n",
    ],
    ("password_set", "en"): [
        "[Fujisawa City Libraries] Your password was set",
        "Your web password for the library was set on Sat 21 Nov 2026 18:00 (JST) through a "
        "counter code.\n\nIf this was not you, contact the library at once; bring your card "
        "to any counter.\n",
    ],
    ("password_reset", "ja"): [
        "【藤沢市図書館】パスワード再設定のご案内",
        "新しいパスワードを設定するには、30分以内に次のリンクを開いてください（1回のみ有効）。\n"
        "https://opac.example.jp/password/reset?token=abc\n\nお心当たりがない場合は、"
        "このメールを破棄してください。パスワードは変わりません。\n",
    ],
    ("password_reset", "en"): [
        "[Fujisawa City Libraries] Reset your password",
        "To set a new password, open this link within 30 minutes. It works once.\n"
        "https://opac.example.jp/password/reset?token=abc\n\nIf you did not ask for this, "
        "ignore this mail; nothing changes.\n",
    ],
}


@pytest.mark.parametrize(("kind", "lang"), sorted(EXPECTED))
def test_each_notice_reads_in_the_mails_language(fresh_db: Database, kind: str, lang: str) -> None:
    subject, body = COMPOSE(kind, lang, NOTICES[kind])
    whole = f"{subject}\n{body}"
    for piece in EXPECTED[(kind, lang)]:
        assert piece in whole
    assert body.endswith(f"\n{NEVER_ASK[lang]}\n")  # every mail ends with the warning
    other = "en" if lang == "ja" else "ja"
    assert NEVER_ASK[other] not in body and EXPECTED[(kind, other)][0] != subject
    for title in ("吾輩", "こころ"):
        assert title not in subject  # a subject line never names a title


def _links(body: str) -> list[str]:
    return [line for line in body.splitlines() if "://" in line]


@pytest.mark.parametrize(
    ("kind", "path"),
    [("hold_ready", "/my/holds"), ("due_reminder", "/my/loans"), ("overdue_reminder", "/my/loans")],
)
def test_a_notice_links_to_the_patrons_page_and_the_link_works_from_the_mail(
    library_db: Database, web: TestClient, kind: str, path: str
) -> None:
    for lang in ("ja", "en"):
        # The library's page itself: no card number, patron, hold or token in it.
        assert _links(COMPOSE(kind, lang, NOTICES[kind])[1]) == [PUBLIC_URL + path]
    # Opened from a mail client: nobody is logged in; the login leads back to the page.
    opened = web.get(path, follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"].endswith(f"/login?next={path.replace('/', '%2F')}")
    logged_in = log_in(web, *HANAKO, next=path)
    assert logged_in.headers["location"] == path  # type: ignore[attr-defined]
    assert web.get(path).status_code == 200


def test_one_item_due_is_singular_in_english(fresh_db: Database) -> None:
    one = {"loans": [{"title": "こころ", "due": "2026-12-05"}]}
    assert COMPOSE("due_reminder", "en", one)[1].startswith("This item is due soon:\n")
    assert COMPOSE("due_reminder", "ja", one)[1].startswith("次の資料の返却期限が近づいています。")


def test_a_language_without_a_catalogue_gets_the_default(fresh_db: Database) -> None:
    for kind, params in NOTICES.items():
        assert COMPOSE(kind, "fr", params) == COMPOSE(kind, "ja", params)


def test_text_is_not_html_escaped(fresh_db: Database) -> None:
    params = {**NOTICES["hold_ready"], "title": "Tom & Jerry <1>"}
    assert "  Tom & Jerry <1>\n" in COMPOSE("hold_ready", "en", params)[1]


def test_a_branch_that_is_gone_is_named_by_its_code(fresh_db: Database) -> None:
    params = {**NOTICES["hold_ready"], "branch": "closed"}
    assert "waiting for you at closed:" in COMPOSE("hold_ready", "en", params)[1]


# --- through the outbox -------------------------------------------------------------------


def _outbox_row(kind: str) -> Any:
    with engine.read() as conn:
        return conn.execute(
            select(outbox.mail_outbox).where(outbox.mail_outbox.c.kind == kind)
        ).one()


def test_switching_the_site_language_switches_the_mail(
    library_db: Database, web: TestClient, smtp_server: Server
) -> None:
    log_in(web, *HANAKO)
    switched = post(web, "/lang/en", "/my", next="/my")
    assert switched.status_code == 303 and switched.headers["location"] == "/my"  # type: ignore[attr-defined]
    with engine.read() as conn:
        lang = conn.execute(
            text("SELECT lang FROM patron WHERE card_number = :c"), {"c": HANAKO[0]}
        ).scalar_one()
    assert lang == "en"
    new = "another-long-password-2026"
    changed = post(
        web,
        "/my/password",
        "/my/password",
        current_password=HANAKO[1],
        new_password=new,
        new_password_again=new,
    )
    assert changed.status_code == 303  # type: ignore[attr-defined]
    row = _outbox_row("password_set")
    assert (row.lang, row.subject, row.body) == ("en", "", None)  # no text in the database

    assert mail.send_due(smtp_server.settings, datetime.now(UTC), compose=COMPOSE).sent == 1
    [received] = smtp_server.recorder.received
    message = received.message
    assert message["Subject"] == "[Fujisawa City Libraries] Your password was set"
    assert "through My Library." in message.get_content()
    row = _outbox_row("password_set")
    assert row.sent_at is not None and row.params is None and row.body is None

    post(web, "/lang/ja", "/my")
    with engine.read() as conn:
        assert (
            conn.execute(
                text("SELECT lang FROM patron WHERE card_number = :c"), {"c": HANAKO[0]}
            ).scalar_one()
            == "ja"
        )


def test_another_site_cannot_set_the_patrons_mail_language(
    library_db: Database, web: TestClient
) -> None:
    log_in(web, *HANAKO)
    token = csrf_of(web.get("/my").text)
    # A link (GET) sets only the page language; a POST from another site is refused.
    web.get("/lang/en")
    refused = web.post(
        "/lang/en", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    with engine.read() as conn:
        lang = conn.execute(
            text("SELECT lang FROM patron WHERE card_number = :c"), {"c": HANAKO[0]}
        ).scalar_one()
    assert lang == "ja"
    assert '<html lang="en">' in web.get("/my").text  # the page language still switched


@pytest.mark.parametrize("outcome", ["sent", "failed"])
def test_a_delivered_or_failed_notice_leaves_nothing_linking_patron_and_item(
    library_db: Database, smtp_server: Server, outcome: str
) -> None:
    work_id, barcode, branch = taros_loan()
    hanako = patron_id(HANAKO[0])
    title = queries.get_record(work_id).title
    queries.set_notice_settings(hanako, {"ready": (True, True)})  # titles only when asked
    queries.place_hold(hanako, work_id, branch)
    assert queries.return_item(barcode).route == "ready"
    [(kind, to_addr, subject, body)] = composed()
    assert (kind, to_addr) == ("hold_ready", "hanako@example.jp")
    assert body is not None and title in body and title not in subject
    assert _links(body) == [f"{PUBLIC_URL}/my/holds"]
    assert "/my/holds" not in _outbox_row("hold_ready").params  # made at delivery, not queued

    patron = (hanako, "hanako@example.jp")
    item = (work_id, barcode, title)
    with engine.read() as conn:
        assert "mail_outbox" in linking_tables(conn, patron, item)  # the scan sees the notice
    if outcome == "failed":
        smtp_server.recorder.rcpt_reply = "550 5.1.1 unknown"
    report = mail.send_due(smtp_server.settings, datetime.now(UTC), compose=COMPOSE)
    assert (report.sent, report.failed) == ((1, 0) if outcome == "sent" else (0, 1))
    row = _outbox_row("hold_ready")
    assert row.params is None and row.body is None
    with engine.read() as conn:
        assert "mail_outbox" not in linking_tables(conn, patron, item)


def test_a_notice_that_cannot_be_composed_is_retried_not_lost(
    fresh_db: Database, smtp_server: Server
) -> None:
    with engine.write() as conn:
        outbox.enqueue(
            conn, kind="no_template", to_addr="a@example.jp", lang="ja", params={}, now=NOW
        )
        outbox.enqueue(
            conn,
            kind="hold_ready",
            to_addr="b@example.jp",
            lang="en",
            params=NOTICES["hold_ready"],
            now=NOW,
        )
    assert mail.send_due(smtp_server.settings, NOW, compose=COMPOSE) == mail.SendReport(1, 1, 0)
    row = _outbox_row("no_template")
    assert (row.attempts, row.last_error) == (1, "compose: TemplateNotFound")
    assert row.params == "{}" and row.sent_at is None  # kept for the retry
    [received] = smtp_server.recorder.received
    assert received.rcpt_tos == ["b@example.jp"]  # the batch went on

    # A sender without a compose function leaves notices for one that has it.
    later = NOW + mail.retry_delay(1)
    assert mail.send_due(smtp_server.settings, later) == mail.SendReport(0, 1, 0)
    assert _outbox_row("no_template").last_error == "compose: NoComposer"
