"""The public reference collection over HTTP (issue 14): staff write an anonymised case, a
second member of staff approves it, then anyone finds it at /reference without logging in;
managers and staff download the CRD XML, and `shiori reference export-crd FILE` writes it."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import crd, engine
from db.patrons import DEMO_PATRONS
from tests import test_web_staff
from tests.conftest import Database
from tests.test_web_staff import HTMX, Console
from web import cli

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

HANAKO = DEMO_PATRONS[0].patron

CASE = {
    "question": "藤沢の龍口寺に伝わる龍の伝説について書かれた本はあるか。",
    "answer": "『藤沢の民話』第2集に「龍口寺の龍」が収められている。",
    "sources": "藤沢市教育委員会編『藤沢の民話 第2集』1980\nhttps://example.org/ryukoji",
    "keywords": "龍口寺\n民話",
    "ndc": "388.137",
    "process": "郷土資料の民話集を調べた。",
    "preliminary": "",
    "note": "",
    "solved": "yes",
}


def _question_of_hanako(body: str) -> int:
    with engine.write() as conn:
        patron_id = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.card_number}
        ).scalar_one()
        return int(
            conn.execute(
                text(
                    "INSERT INTO reference_question (patron_id, category, status, question, "
                    "checked, notify_email, created_at, updated_at) VALUES (:p, 'general', "
                    "'closed', :q, '', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"p": patron_id, "q": body},
            ).scalar_one()
        )


def _new_case(author: Console, question_id: int | None = None) -> int:
    data = {"question_id": str(question_id)} if question_id else {}
    made = author.post("/staff/reference-cases", "/staff/reference-cases", **data)
    assert made.status_code == 303, made.text  # type: ignore[attr-defined]
    location = made.headers["location"]  # type: ignore[attr-defined]
    found = re.fullmatch(r"/staff/reference-cases/([0-9]+)", location)
    assert found, location
    return int(found.group(1))


def _revision(page: str) -> str:
    found = re.search(r'name="revision" value="([0-9a-f]+)"', page)
    assert found, "no approve form"
    return found.group(1)


def published_case(team: dict[str, Console]) -> int:
    """A case of Hanako's question, written by STA01 and approved by the manager."""
    staff, manager = team["staff"].speaking("en"), team["manager"].speaking("en")
    question_id = _question_of_hanako("山田花子です。龍口寺の龍の伝説の本を探しています。")
    case_id = _new_case(staff, question_id)
    url = f"/staff/reference-cases/{case_id}"
    editing = staff.get(url)
    assert editing.status_code == 200  # type: ignore[attr-defined]
    assert "The original question (never published)" in editing.text  # type: ignore[attr-defined]
    assert "山田花子です" in editing.text  # type: ignore[attr-defined]

    # The patron's name and an email address are refused next to their fields.
    leaky = {**CASE, "question": "山田さんの質問: 龍口寺の本", "note": "返事は a@example.jp へ"}
    refused = staff.post(url, url, action="submit", **leaky)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    html = refused.text  # type: ignore[attr-defined]
    assert "This contains the questioner&#39;s name" in html
    assert "This contains an email address" in html
    assert 'id="question-error"' in html and 'id="note-error"' in html
    assert "山田さんの質問" in html  # what was typed is kept

    sent = staff.post(url, url, action="submit", **CASE)
    assert sent.status_code == 303  # type: ignore[attr-defined]
    own = staff.post(f"{url}/approve", url, revision="anything")
    assert own.status_code == 422  # type: ignore[attr-defined]
    assert "a second member of staff must approve it" in own.text  # type: ignore[attr-defined]
    assert "Approve and publish" not in staff.get(url).text  # type: ignore[attr-defined]

    review = manager.get(url).text  # type: ignore[attr-defined]
    approved = manager.post(f"{url}/approve", url, revision=_revision(review))
    assert approved.status_code == 303  # type: ignore[attr-defined]
    return case_id


def test_second_staff_approves_then_anyone_finds_it(team: dict[str, Console], app: object) -> None:
    case_id = published_case(team)
    with engine.read() as conn:
        actions = [
            (r.staff_code, r.action, r.outcome)
            for r in conn.execute(
                text(
                    "SELECT staff_code, action, outcome FROM staff_audit "
                    "WHERE screen = 'reference_case' ORDER BY id"
                )
            )
        ]
    assert ("STA01", "case_approve", "refused") in actions
    assert ("M001", "case_approve", "allowed") in actions
    assert ("STA01", "case_submit", "allowed") in actions

    public = TestClient(app)  # type: ignore[arg-type]  # nobody logged in
    listing = public.get("/reference", params={"q": "竜口寺"})
    assert listing.status_code == 200
    assert f'href="/reference/{case_id}"' in listing.text
    assert "レファレンス事例集" in listing.text and "1件" in listing.text
    fragment = public.get("/reference", params={"q": "りゅうこうじ"}, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert public.get("/reference", params={"q": "ﾐﾝﾜ"}).text.count('class="hit"') == 0
    assert f'href="/reference/{case_id}"' in public.get("/reference?q=民話").text
    page = public.get(f"/reference/{case_id}")
    assert page.status_code == 200
    assert "『藤沢の民話』第2集" in page.text and f"SHIORI-{case_id:06d}" in page.text
    assert 'href="https://example.org/ryukoji"' in page.text
    for value in (HANAKO.name, "山田", HANAKO.card_number):
        assert value not in page.text
    public.cookies.set("shiori_lang", "en")
    english = public.get(f"/reference/{case_id}")
    assert "Reference case" in english.text and "How it was researched" in english.text
    home = public.get("/").text
    assert 'href="/reference"' in home

    draft = _new_case(team["staff"])
    assert public.get(f"/reference/{draft}").status_code == 404
    assert public.get("/reference/999999").status_code == 404

    # Withdrawn: off the collection at once.
    withdrawn = team["manager"].post(
        f"/staff/reference-cases/{case_id}/withdraw", f"/staff/reference-cases/{case_id}"
    )
    assert withdrawn.status_code == 303  # type: ignore[attr-defined]
    assert public.get(f"/reference/{case_id}").status_code == 404


def test_crd_download_and_command(
    team: dict[str, Console], library_db: Database, tmp_path: Path
) -> None:
    case_id = published_case(team)
    download = team["manager"].get("/staff/reference-cases/crd.xml")
    assert download.status_code == 200  # type: ignore[attr-defined]
    assert download.headers["content-type"].startswith("application/xml")  # type: ignore[attr-defined]
    assert "attachment" in download.headers["content-disposition"]  # type: ignore[attr-defined]
    root = ET.fromstring(download.content)  # type: ignore[attr-defined]
    (ref,) = root.findall("REFERENCE")
    for tag in crd.REQUIRED:
        assert (ref.findtext(tag) or "").strip(), tag
    assert ref.findtext("REG-ID") == f"SHIORI-{case_id:06d}"
    assert team["temporary"].get("/staff/reference-cases/crd.xml").status_code == 403  # type: ignore[attr-defined]
    assert team["intern"].get("/staff/reference-cases").status_code == 403  # type: ignore[attr-defined]

    target = tmp_path / "crd.xml"
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as env, redirect_stderr(err):
        env.setenv("SHIORI_DATABASE_URL", library_db.url)
        assert cli.main(["reference", "export-crd", str(target)]) == 0
    assert "1 件" in err.getvalue()
    assert target.read_bytes() == download.content  # type: ignore[attr-defined]
    data = target.read_bytes()
    for value in (HANAKO.name, HANAKO.name_kana, HANAKO.card_number, HANAKO.phone):
        for part in value.split():
            assert part.encode() not in data
    with pytest.MonkeyPatch.context() as env, redirect_stderr(io.StringIO()):
        env.setenv("SHIORI_DATABASE_URL", library_db.url)
        assert cli.main(["reference", "export-crd", str(tmp_path / "no" / "such.xml")]) == 2


def test_staff_pages_in_japanese_and_refusals(team: dict[str, Console]) -> None:
    staff = team["staff"].speaking("ja")
    listing = staff.get("/staff/reference-cases")
    assert listing.status_code == 200 and "公開用レファレンス事例" in listing.text  # type: ignore[attr-defined]
    bad = staff.post("/staff/reference-cases", "/staff/reference-cases", question_id="abc")
    assert bad.status_code == 422 and 'id="question_id-error"' in bad.text  # type: ignore[attr-defined]
    case_id = _new_case(staff)
    url = f"/staff/reference-cases/{case_id}"
    empty = staff.post(url, url, action="save", question="", answer="", ndc="文学")
    assert empty.status_code == 422  # type: ignore[attr-defined]
    assert "質問を書いてください" in empty.text  # type: ignore[attr-defined]
    saved = staff.post(url, url, action="save", **CASE)
    assert saved.status_code == 303  # type: ignore[attr-defined]
    assert 'href="/staff/reference-cases"' in staff.get("/staff/").text  # type: ignore[attr-defined]
    assert team["temporary"].get(url).status_code == 403  # type: ignore[attr-defined]
