"""Texts of the mail Shiori sends: short, plain, no title in the subject line."""

from __future__ import annotations

from datetime import date, datetime

from db import rules
from db.clock import local_time

LIBRARY_JA = "藤沢市図書館"
LIBRARY_EN = "Fujisawa City Libraries"

_VIA = {
    rules.PASSWORD_VIA_WEB_FIRST: ("ウェブサイト（初回登録）", "the web site (first password)"),
    rules.PASSWORD_VIA_CODE: ("カウンター発行の登録コード", "a code issued at the counter"),
    rules.PASSWORD_VIA_RESET: ("パスワード再設定メール", "a password reset link"),
    rules.PASSWORD_VIA_CHANGE: ("マイライブラリ（変更）", "My Library (change)"),
    rules.PASSWORD_VIA_DEMO: ("デモデータ", "demo data"),
}

_NEVER_ASK = (
    "図書館が電話やメールでパスワードをおたずねすることはありません。",
    "The library never asks for your password by phone or email.",
)


def password_set(lang: str, when: datetime, via: str) -> tuple[str, str]:
    ja_via, en_via = _VIA.get(via, (via, via))
    if lang == "en":
        return (
            f"[{LIBRARY_EN}] Your password was set",
            f"Your web password for the library was set on {local_time(when)} (JST) "
            f"through {en_via}.\n\nIf this was not you, contact the library at once; bring "
            f"your card to any counter.\n{_NEVER_ASK[1]}\n",
        )
    return (
        f"【{LIBRARY_JA}】パスワードが設定されました",
        f"{local_time(when)} に、{ja_via}から図書館ウェブサイトのパスワードが設定されました。\n\n"
        f"お心当たりがない場合は、利用者カードをお持ちのうえ、すぐに図書館カウンターへ"
        f"ご連絡ください。\n{_NEVER_ASK[0]}\n",
    )


def password_reset(lang: str, link: str) -> tuple[str, str]:
    minutes = rules.RESET_LINK_MINUTES
    if lang == "en":
        return (
            f"[{LIBRARY_EN}] Reset your password",
            f"To set a new password, open this link within {minutes} minutes. It works once.\n"
            f"{link}\n\nIf you did not ask for this, ignore this mail; nothing changes.\n"
            f"{_NEVER_ASK[1]}\n",
        )
    return (
        f"【{LIBRARY_JA}】パスワード再設定のご案内",
        f"新しいパスワードを設定するには、{minutes}分以内に次のリンクを開いてください"
        f"（1回のみ有効）。\n{link}\n\nお心当たりがない場合は、このメールを破棄してください。"
        f"パスワードは変わりません。\n{_NEVER_ASK[0]}\n",
    )


# --- holds (issue 5) ------------------------------------------------------------------
# The subject names no title; the body may (it is deleted once the mail is delivered).


def hold_ready(
    lang: str, title: str, branch_ja: str, branch_en: str, until: date
) -> tuple[str, str]:
    if lang == "en":
        return (
            f"[{LIBRARY_EN}] Your reservation is ready for pickup",
            f"An item you reserved is waiting for you at {branch_en}:\n  {title}\n\n"
            f"Please collect it by {until:%Y-%m-%d} with your library card; after that it "
            f"goes to the next person waiting.\nYou can see or cancel your reservations in "
            f"My Library.\n{_NEVER_ASK[1]}\n",
        )
    return (
        f"【{LIBRARY_JA}】ご予約の資料をご用意しました",
        f"ご予約の資料を{branch_ja}でご用意しました。\n  {title}\n\n"
        f"{until:%Y年%m月%d日}までに、利用者カードをお持ちのうえお受け取りください。"
        f"期限を過ぎると次にお待ちの方へ回ります。\n"
        f"予約の確認・取り消しはマイライブラリからできます。\n{_NEVER_ASK[0]}\n",
    )


def due_reminder(lang: str, loans: list[tuple[str, date]]) -> tuple[str, str]:
    if lang == "en":
        lines = "\n".join(f"  {due:%Y-%m-%d}  {title}" for title, due in loans)
        return (
            f"[{LIBRARY_EN}] Items due soon",
            f"These items are due soon:\n{lines}\n\nYou can renew in My Library when nobody "
            f"is waiting for them.\n{_NEVER_ASK[1]}\n",
        )
    lines = "\n".join(f"  {due:%Y年%m月%d日}  {title}" for title, due in loans)
    return (
        f"【{LIBRARY_JA}】返却期限のお知らせ",
        f"次の資料の返却期限が近づいています。\n{lines}\n\n"
        f"予約がなければマイライブラリから延長できます。\n{_NEVER_ASK[0]}\n",
    )
