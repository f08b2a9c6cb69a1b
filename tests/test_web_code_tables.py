"""Issue 19, "Code tables in the staff console" and the home page, over HTTP: managers only,
every change audited with its values before and after, bad input refused next to the field
with nothing saved, codes in use never deleted, and the home page showing what managers
set (a renamed branch's hours today, an announcement in its dates)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from tests import test_web_staff
from tests.test_replica import statements_on
from tests.test_web_staff import Console

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

CODE_PAGES = (
    "/staff/codes",
    "/staff/codes/branches",
    "/staff/codes/branches/minami",
    "/staff/codes/shelf-locations",
    "/staff/codes/material-types",
    "/staff/codes/material-types/book",
    "/staff/codes/categories",
    "/staff/codes/categories/general",
    "/staff/codes/card-rule",
    "/staff/codes/identity",
    "/staff/codes/announcements",
)


def code_audit() -> list[tuple[str, str, str, dict[str, list[object]]]]:
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT screen, action, field_groups, changes FROM staff_audit "
                "WHERE screen LIKE 'code_tables:%' ORDER BY id"
            )
        ).all()
    return [(r.screen, r.action, r.field_groups, json.loads(r.changes)) for r in rows]


def test_only_managers_reach_the_code_tables(team: dict[str, Console]) -> None:
    manager = team["manager"]
    assert "/staff/codes" in manager.get("/staff/").text  # type: ignore[attr-defined]
    for path in CODE_PAGES:
        assert manager.get(path).status_code == 200, path  # type: ignore[attr-defined]
    for role in ("staff", "temporary", "intern"):
        console = team[role]
        assert "/staff/codes" not in console.get("/staff/").text  # type: ignore[attr-defined]
        for path in CODE_PAGES:
            assert console.get(path).status_code == 403, (role, path)  # type: ignore[attr-defined]
        refused = console.post(
            "/staff/codes/branches/minami",
            **{"names.ja": "乗っ取り図書館", "names.en": "X", "address": "", "phone": ""},
        )
        assert refused.status_code == 403  # type: ignore[attr-defined]
    assert queries.list_code_branches()[1].names.get("ja") == "南市民図書館"
    assert code_audit() == []


def test_renaming_a_branch_is_audited_with_before_and_after(team: dict[str, Console]) -> None:
    manager = team["manager"]
    saved = manager.post(
        "/staff/codes/branches/minami",
        "/staff/codes/branches/minami",
        **{
            "names.ja": "南図書館",
            "names.en": "Minami Civic Library",
            "address": "藤沢市鵠沼東１－１",
            "phone": "０４６６－２２－００００",
        },
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    branch = next(b for b in queries.list_code_branches() if b.code == "minami")
    assert branch.names.get("ja") == "南図書館" and branch.phone == "0466-22-0000"
    [(screen, action, fields, changes)] = code_audit()
    assert (screen, action) == ("code_tables:branch/minami", "code_edit")
    assert fields == "names.ja,address,phone"
    assert changes["names.ja"] == ["南市民図書館", "南図書館"]
    assert changes["phone"] == ["", "0466-22-0000"]
    assert "names.en" not in changes  # unchanged fields are not recorded
    # The audit log says it in words, values before and after.
    log = manager.get("/staff/audit").text  # type: ignore[attr-defined]
    assert "館 minami" in log and "名称（ja）: “南市民図書館” → “南図書館”" in log
    # The search's branch names follow at once (the code-table cache is cleared).
    assert any(b.name.get("ja") == "南図書館" for b in queries.list_branches())


def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(
    team: dict[str, Console],
) -> None:
    manager = team["manager"]
    refused = manager.post(
        "/staff/codes/branches/minami",
        "/staff/codes/branches/minami",
        **{"names.ja": "", "names.en": "Renamed", "address": "x", "phone": "12-34"},
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    body = refused.text  # type: ignore[attr-defined]
    assert "保存していません" in body
    assert 'id="names.ja-error"' in body and 'id="phone-error"' in body
    assert 'value="Renamed"' in body  # what was typed stays
    assert queries.list_code_branches()[1].names.get("en") == "Minami Civic Library"
    # Material type: a loan period that is not a number; a code that is not a code.
    refused = manager.post(
        "/staff/codes/material-types",
        "/staff/codes/material-types",
        **{"code": "大型本", "names.ja": "大型本", "loan_days": "十四", "reservable": "1"},
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert 'id="code-error"' in refused.text and 'id="loan_days-error"' in refused.text  # type: ignore[attr-defined]
    assert "oversize" not in {m.code for m in queries.list_material_type_codes()}
    # Card rule: letters in the prefix, too many serial digits.
    refused = manager.post(
        "/staff/codes/card-rule",
        "/staff/codes/card-rule",
        prefix="AB",
        serial_digits="99",
        check_digit="luhn",
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert queries.get_card_rule().prefix == "21"
    # Announcement: an end before the start (和暦 accepted for the start).
    refused = manager.post(
        "/staff/codes/announcements",
        "/staff/codes/announcements",
        **{"texts.ja": "臨時休館", "starts_on": "令和8年12月10日", "ends_on": "2026-12-01"},
    )
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert 'id="ends_on-error"' in refused.text  # type: ignore[attr-defined]
    assert queries.list_announcements() == ()
    assert code_audit() == []


def test_a_code_in_use_is_not_deleted_and_the_page_says_where(team: dict[str, Console]) -> None:
    manager = team["manager"]
    response = manager.post(
        "/staff/codes/categories/general/delete", "/staff/codes/categories/general"
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = manager.get(response.headers["location"]).text  # type: ignore[attr-defined]
    assert "削除していません" in page and "利用者" in page
    assert "general" in {c.code for c in queries.list_patron_categories()}
    # A new, unused category is added (with loan rules) and deleted (with them).
    added = manager.post(
        "/staff/codes/categories",
        "/staff/codes/categories",
        **{"code": "Senior", "names.ja": "シニア", "names.en": "Senior"},
    )
    assert added.status_code == 303  # type: ignore[attr-defined]
    assert any(r.category == "senior" for r in queries.list_loan_rules())
    deleted = manager.post(
        "/staff/codes/categories/senior/delete", "/staff/codes/categories/senior"
    )
    assert deleted.status_code == 303  # type: ignore[attr-defined]
    assert not any(r.category == "senior" for r in queries.list_loan_rules())
    assert [a[:2] for a in code_audit()] == [
        ("code_tables:patron_category/senior", "code_add"),
        ("code_tables:patron_category/senior", "code_delete"),
    ]
    # A material type copies have is not deleted either.
    response = manager.post(
        "/staff/codes/material-types/book/delete", "/staff/codes/material-types/book"
    )
    page = manager.get(response.headers["location"]).text  # type: ignore[attr-defined]
    assert "削除していません" in page and "所蔵資料" in page


def test_the_identity_page_says_whom_notices_come_from(team: dict[str, Console]) -> None:
    # The first library (SQLite's only one) sends as the deployment's SHIORI_SMTP_FROM
    # whatever address its identity gives (tests/test_tenancy.py has the other libraries).
    page = team["manager"].get("/staff/codes/identity").text  # type: ignore[attr-defined]
    assert "利用者へのお知らせメールは library@example.jp から送ります。" in page
    assert "SHIORI_SMTP_FROM_DOMAINS" not in page


def test_logo_is_checked_and_served_with_its_type(team: dict[str, Console], app: object) -> None:
    manager = team["manager"]
    token = re.search(
        r'name="csrf_token" value="([^"]+)"',
        manager.get("/staff/codes/identity").text,  # type: ignore[attr-defined]
    )
    assert token
    client = manager.client

    def upload(data: bytes, name: str, kind: str) -> object:
        return client.post(
            "/staff/codes/identity/logo",
            data={"csrf_token": token.group(1)},
            files={"logo": (name, data, kind)},
            follow_redirects=False,
        )

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = upload(svg, "logo.png", "image/png")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "PNG、JPEG、WebP" in refused.text  # type: ignore[attr-defined]
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (queries.LOGO_MAX_BYTES + 10)
    assert upload(big, "big.png", "image/png").status_code in (413, 422)  # type: ignore[attr-defined]
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    assert upload(png, "logo.bin", "text/html").status_code == 303  # type: ignore[attr-defined]
    if public := TestClient(app):  # type: ignore[arg-type]
        served = public.get("/logo")
        assert served.status_code == 200 and served.content == png
        assert served.headers["content-type"] == "image/png"
        assert 'class="library-logo"' in public.get("/").text


def test_home_page_shows_announcements_in_their_dates_and_todays_hours(
    team: dict[str, Console], app: object, clock: test_web_staff.Clock
) -> None:
    manager = team["manager"]
    today = queries.to_library_time(clock.now).date()
    manager.post(
        "/staff/codes/announcements",
        "/staff/codes/announcements",
        **{
            "texts.ja": "年末年始の休館のお知らせ",
            "texts.en": "New Year closing",
            "starts_on": today.isoformat(),
        },
    )
    manager.post(
        "/staff/codes/announcements",
        "/staff/codes/announcements",
        **{
            "texts.ja": "来月のおはなし会",
            "starts_on": (today + timedelta(days=3)).isoformat(),
        },
    )
    if public := TestClient(app):  # type: ignore[arg-type]
        home = public.get("/").text
        assert home.index('id="q"') < home.index("年末年始の休館のお知らせ")
        assert "来月のおはなし会" not in home  # not yet
        assert "本日の開館時間" in home and "南市民図書館" in home
        assert 'href="/register"' in home and 'href="/privacy"' in home and 'href="/guide"' in home
        privacy = public.get("/privacy").text
        assert "電話やメールでパスワードをおたずねすることはありません" in privacy
        assert "3年" in privacy
        assert "バックアップは14日間保管します" in privacy  # erased data leaves them
        assert public.get("/guide").status_code == 200
    [first] = [a for a in queries.list_announcements() if a.state == "current"]
    ended = manager.post(
        f"/staff/codes/announcements/{first.id}/end", f"/staff/codes/announcements/{first.id}"
    )
    assert ended.status_code == 303  # type: ignore[attr-defined]
    if public := TestClient(app):  # type: ignore[arg-type]
        assert "年末年始の休館のお知らせ" not in public.get("/").text
    actions = [a[1] for a in code_audit()]
    assert actions == ["code_add", "code_add", "announcement_end"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_code_pages_speak_the_pages_language(team: dict[str, Console], lang: str) -> None:
    manager = team["manager"].speaking(lang)
    page = manager.get("/staff/codes").text  # type: ignore[attr-defined]
    assert f'<html lang="{lang}">' in page
    assert ("コード管理" in page) == (lang == "ja")


def test_the_site_name_is_the_library_identity_read_without_a_query(
    team: dict[str, Console], app: object
) -> None:
    public = TestClient(app)  # type: ignore[arg-type]
    assert "藤沢市図書館 蔵書検索</a>" in public.get("/").text  # the seeded identity
    saved = team["manager"].post(
        "/staff/codes/identity",
        "/staff/codes/identity",
        **{
            "names.ja": "鵠沼市立図書館",
            "names.en": "Kugenuma City Library",
            "short_names.ja": "鵠沼図書館",
            "short_names.en": "Kugenuma Library",
            "address": "",
            "phone": "",
            "email": "",
        },
    )
    assert saved.status_code == 303  # type: ignore[attr-defined]
    # The rename shows at once (the console clears the code-table cache) …
    page = public.get("/").text
    assert "<title>鵠沼市立図書館 蔵書検索 | " in page
    assert 'class="site-name" href="/">鵠沼市立図書館 蔵書検索</a>' in page
    assert "藤沢市図書館 蔵書検索" not in page
    public.cookies.set("shiori_lang", "en")
    assert "Kugenuma City Library Catalog</a>" in public.get("/calendar").text
    # … and a second view reads no identity: the name comes from the per-process cache.
    with engine.read() as conn:
        bind = conn.engine
    with statements_on(bind) as seen:
        assert "Kugenuma City Library Catalog</a>" in public.get("/calendar").text
    assert not [s for s in seen if "library_identity" in s]
