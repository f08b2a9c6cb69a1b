"""The public reference collection at the query layer (issue 14): anonymised cases, the check
for what identifies, second-staff approval, Japanese search, and the CRD XML export validated
against the format's required fields."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text

from db import anonymise, crd, engine, queries
from db.patrons import DEMO_PATRONS
from tests.conftest import Database, in_words

HANAKO = DEMO_PATRONS[0].patron
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _staff(code: str, role: str = "staff") -> queries.StaffActor:
    with engine.write() as conn:
        branch_id = conn.execute(text("SELECT min(id) FROM branch")).scalar_one()
        staff_id = conn.execute(
            text(
                "INSERT INTO staff_account (staff_code, name, affiliation, branch_id, role, "
                "duties, registered_on, totp_confirmed, totp_last_step) VALUES "
                "(:c, :n, '', :b, :r, '', :d, false, 0) RETURNING id"
            ),
            {"c": code, "n": f"職員 {code}", "b": branch_id, "r": role, "d": date(2026, 1, 1)},
        ).scalar_one()
    return queries.StaffActor(int(staff_id), code, f"職員 {code}", role, (), int(branch_id))


def _question(body: str) -> int:
    """A closed question of 山田 花子 (written as reflead's model holds it)."""
    with engine.write() as conn:
        patron_id = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.card_number}
        ).scalar_one()
        return int(
            conn.execute(
                text(
                    "INSERT INTO reference_question (patron_id, category, status, question, "
                    "checked, notify_email, created_at, updated_at) VALUES (:p, 'general', "
                    "'closed', :q, :k, false, :t, :t) RETURNING id"
                ),
                {
                    "p": patron_id,
                    "q": body,
                    "k": "百科事典は見ました",
                    "t": NOW.replace(tzinfo=None),
                },
            ).scalar_one()
        )


def _audit(screen: str = "reference_case") -> list[tuple[str, str, str, int | None]]:
    with engine.read() as conn:
        return [
            (r.staff_code, r.action, r.outcome, r.patron_id)
            for r in conn.execute(
                text(
                    "SELECT staff_code, action, outcome, patron_id FROM staff_audit "
                    "WHERE screen = :s ORDER BY id"
                ),
                {"s": screen},
            )
        ]


GOOD = queries.CaseInput(
    question="藤沢の龍口寺に伝わる龍の伝説について書かれた本はあるか。",
    answer="『藤沢の民話』第2集に「龍口寺の龍」が収められている。",
    keywords=("龍口寺", "民話", "藤沢市"),
    ndc=("388.137", "１８８．８５"),
    sources=("藤沢市教育委員会編『藤沢の民話 第2集』1980", "https://example.org/ryukoji"),
    process="郷土資料の民話集を調べた。",
    preliminary="インターネットで検索した。",
    solved=True,
)


def test_anonymise_finds_what_identifies() -> None:
    names = ["山田 花子", "ヤマダ ハナコ"]
    card = HANAKO.card_number
    assert anonymise.findings(["連絡先は hanako＠example.jp です"]) == ("email",)
    assert anonymise.findings(["電話 ０４６６－３３－３３３３ まで"]) == ("phone",)
    assert anonymise.findings(["090 1234 5678"]) == ("phone",)
    assert anonymise.findings([f"カード{card}の方"], names, card) == ("card_number",)
    assert anonymise.findings(["利用者番号 12345678"]) == ("card_number",)
    assert anonymise.findings(["やまだ はなこさんの質問"], names) == ("patron_name",)
    assert anonymise.findings(["山田さんから"], names) == ("patron_name",)
    assert anonymise.findings(["ISBN 978-4-7949-7075-6、1980年、p.12-15"], names, card) == ()
    assert anonymise.findings(["龍口寺の伝説"], names, card) == ()


def test_case_from_question_needs_a_second_staff_member(library_db: Database) -> None:
    author, other = _staff("REF01"), _staff("REF02")
    question_id = _question("山田花子です。龍口寺の龍の伝説の本を探しています。")
    case_id = queries.new_reference_case(author, question_id)
    seen = queries.get_staff_reference_case(author, case_id)
    assert seen.original is not None and "山田花子" in seen.original.question
    assert seen.original.checked == "百科事典は見ました"
    assert seen.case.question.startswith("山田花子です")  # the starting point to rewrite
    hanako_id = _question_patron(question_id)
    assert ("REF01", "view", "allowed", hanako_id) in _audit()

    # The original text cannot be submitted: name and phone number are refused per field.
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.submit_reference_case(author, case_id, seen.case)
    assert set(refused.value.errors) >= {"question", "answer"}
    assert refused.value.errors["question"].code == "case_has_patron_name"
    unsent = dataclass_replace(GOOD, note="回答は 090-1234-5678 に電話した")
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.submit_reference_case(author, case_id, unsent)
    assert list(refused.value.errors) == ["note"]
    assert "This contains a phone number" in in_words(refused.value.errors["note"])
    assert queries.get_staff_reference_case(author, case_id).status == "draft"

    queries.submit_reference_case(author, case_id, GOOD)
    submitted = queries.get_staff_reference_case(other, case_id)
    assert submitted.status == "submitted" and submitted.case.ndc == ("388.137", "188.85")
    assert queries.search_reference_cases("龍口寺").total == 0  # not public yet
    with pytest.raises(queries.NotFound):
        queries.get_reference_case(case_id)

    with pytest.raises(queries.CaseOwnApproval):
        queries.approve_reference_case(author, case_id, submitted.revision)
    assert ("REF01", "case_approve", "refused", None) in _audit()
    with pytest.raises(queries.CaseChanged):
        queries.approve_reference_case(other, case_id, "not-what-was-read")

    queries.approve_reference_case(other, case_id, submitted.revision)
    public = queries.get_reference_case(case_id)
    assert public.reg_id == f"SHIORI-{case_id:06d}" and public.sources == GOOD.sources
    assert queries.get_staff_reference_case(author, case_id).original is None  # published
    assert [(c, a, o) for c, a, o, _p in _audit()] == [
        ("REF01", "case_create", "allowed"),
        ("REF01", "view", "allowed"),  # the original alongside: audited with the patron
        ("REF01", "view", "allowed"),
        ("REF01", "case_submit", "allowed"),
        ("REF02", "view", "allowed"),
        ("REF01", "case_approve", "refused"),
        ("REF02", "case_approve", "allowed"),
    ]
    assert {p for _c, a, _o, p in _audit() if a in ("view", "case_create")} == {hanako_id}
    with pytest.raises(queries.CaseNotSubmitted):
        queries.approve_reference_case(other, case_id, submitted.revision)
    with pytest.raises(queries.QueryError, match="case_published"):
        queries.save_reference_case(author, case_id, GOOD)

    queries.withdraw_reference_case(other, case_id)
    assert queries.search_reference_cases("").total == 0
    with pytest.raises(queries.NotFound):
        queries.get_reference_case(case_id)


def _question_patron(question_id: int) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT patron_id FROM reference_question WHERE id = :q"), {"q": question_id}
            ).scalar_one()
        )


def dataclass_replace(case: queries.CaseInput, **changes: object) -> queries.CaseInput:
    import dataclasses

    return dataclasses.replace(case, **changes)  # type: ignore[arg-type]


def _publish(case: queries.CaseInput) -> int:
    author, other = _staff(f"A{_publish.n:04d}"), _staff(f"B{_publish.n:04d}")
    _publish.n += 1  # type: ignore[attr-defined]
    case_id = queries.new_reference_case(author)
    queries.submit_reference_case(author, case_id, case)
    revision = queries.get_staff_reference_case(other, case_id).revision
    queries.approve_reference_case(other, case_id, revision)
    return case_id


_publish.n = 1  # type: ignore[attr-defined]


def test_search_uses_the_catalogues_japanese_matching(library_db: Database) -> None:
    dragon = _publish(GOOD)
    other = _publish(
        dataclass_replace(
            GOOD,
            question="エンノシマの弁財天の由来を知りたい。",
            answer="江の島縁起に詳しい。",
            keywords=("江の島",),
            ndc=("175.937",),
            sources=("『江島縁起』",),
            process="",
            preliminary="",
        )
    )
    for query in ("竜口寺", "龍口", "民話", "藤沢の民話", "388.137"):
        assert [c.id for c in queries.search_reference_cases(query).cases] == [dragon], query
    assert [c.id for c in queries.search_reference_cases("えんのしま").cases] == [other]
    assert [c.id for c in queries.search_reference_cases("ｴﾝﾉｼﾏ").cases] == [other]
    assert [c.id for c in queries.search_reference_cases("ＥＸＡＭＰＬＥ").cases] == [dragon]
    assert queries.search_reference_cases("伝説 江の島").total == 0  # every word must match
    assert [c.id for c in queries.search_reference_cases("").cases] == [other, dragon]
    assert queries.search_reference_cases("%").total == 2  # no LIKE wildcard gets through
    assert queries.search_reference_cases("_").total == 2
    long = queries.search_reference_cases("龍" * 500)
    assert long.truncated and long.total == 0
    assert queries.search_reference_cases("", page=99).page == 1


def test_crd_export_has_every_required_element_and_nothing_personal(
    library_db: Database,
) -> None:
    question_id = _question("山田花子です。龍口寺について。")
    author, other = _staff("CRD01"), _staff("CRD02")
    case_id = queries.new_reference_case(author, question_id)
    queries.submit_reference_case(author, case_id, dataclass_replace(GOOD, solved=False))
    queries.approve_reference_case(
        other, case_id, queries.get_staff_reference_case(other, case_id).revision
    )
    draft = queries.new_reference_case(author)  # never exported
    queries.save_reference_case(author, draft, dataclass_replace(GOOD, question="下書きの質問"))
    second = _publish(GOOD)

    out = io.BytesIO()
    assert queries.export_crd(out) == 2
    data = out.getvalue()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(data)
    assert root.tag == "CRD" and root.get("version") == "1.0"
    refs = root.findall("REFERENCE")
    assert len(refs) == 2 and all(child.tag == "REFERENCE" for child in root)
    for ref in refs:
        tags = [child.tag for child in ref]
        for tag in crd.REQUIRED:
            assert tags.count(tag) == 1, tag
        assert all(tag in crd.ELEMENT_ORDER for tag in tags)
        order = [crd.ELEMENT_ORDER.index(t) for t in tags]
        assert order == sorted(order), tags  # the format's order
        assert ref.findtext("QUESTION", "").strip()
        assert ref.findtext("ACC-LEVEL") in crd.ACCESS_LEVELS
        assert ref.findtext("ACC-LEVEL") == "3"
        reg_id = ref.findtext("REG-ID", "")
        assert 0 < len(reg_id) <= crd.REG_ID_MAX_CHARS
        assert re.fullmatch(r"[0-9]{8}", ref.findtext("CRT-DATE", ""))
        datetime.strptime(ref.findtext("CRT-DATE", ""), "%Y%m%d")
        assert ref.findtext("SOLUTION") in (crd.SOLVED, crd.UNSOLVED)
        for cls in ref.findall("CLASS"):
            assert cls.get("type") == "NDC" and cls.get("version") == "10"
            assert re.fullmatch(r"[0-9]{1,3}(\.[0-9]+)?", cls.text or "")
        for bibl in ref.findall("BIBL"):
            assert [c.tag for c in bibl] == ["BIBL-DESC"] and (bibl.findtext("BIBL-DESC") or "")
        assert ref.find("PTN-TYPE") is None and ref.find("SYSTEM") is None
    reg_ids = [r.findtext("REG-ID") for r in refs]
    assert reg_ids == [f"SHIORI-{case_id:06d}", f"SHIORI-{second:06d}"]
    assert len(set(reg_ids)) == 2
    first = refs[0]
    assert first.findtext("SOLUTION") == "1"  # not solved
    assert [k.text for k in first.findall("KEYWORD")] == list(GOOD.keywords)
    assert [c.text for c in first.findall("CLASS")] == ["388.137", "188.85"]
    assert first.findtext("ANS-PROC") == GOOD.process
    assert first.findtext("PRE-RES") == GOOD.preliminary
    assert b"\xe4\xb8\x8b\xe6\x9b\xb8\xe3\x81\x8d" not in data  # 下書き: drafts stay out
    # Nothing that links to a patron: no name, reading, card, phone, address, email, id.
    for value in (HANAKO.name, HANAKO.name_kana, HANAKO.card_number, HANAKO.phone):
        assert value.encode() not in data
        for part in value.split():
            assert part.encode() not in data
    assert HANAKO.address.encode() not in data and (HANAKO.email or "@@").encode() not in data
    assert b"patron" not in data.lower()


def test_crd_writer_escapes_and_drops_what_xml_cannot_hold() -> None:
    case = crd.CrdCase(
        case_id=7,
        question="<b>&\x00質問\x1f",
        answer="回答",
        created_on=date(2026, 12, 1),
        solved=True,
        keywords=(),
        ndc=(),
        sources=("", "資料"),
        process="",
        preliminary="",
        note="",
    )
    out = io.BytesIO()
    crd.write([case], out)
    ref = ET.fromstring(out.getvalue()).find("REFERENCE")
    assert ref is not None and ref.findtext("QUESTION") == "<b>&質問"
    assert len(ref.findall("BIBL")) == 1 and ref.find("ANS-PROC") is None
    with pytest.raises(ValueError):
        crd.reg_id(10**9)


def test_form_refusals_save_nothing(library_db: Database) -> None:
    author = _staff("FRM01")
    case_id = queries.new_reference_case(author)
    bad = queries.CaseInput(question=" ", answer="", ndc=("文学",), keywords=("x" * 501,))
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.save_reference_case(author, case_id, bad)
    assert {k: v.code for k, v in refused.value.errors.items()} == {
        "question": "case_question_required",
        "answer": "case_answer_required",
        "keywords": "case_list_too_long",
        "ndc": "case_ndc_format",
    }
    with pytest.raises(queries.NotFound):
        queries.new_reference_case(author, 999999)
    with pytest.raises(queries.NotFound):
        queries.get_staff_reference_case(author, 999999)
    queries.save_reference_case(author, case_id, dataclass_replace(GOOD, keywords=("a | b",)))
    assert queries.get_staff_reference_case(author, case_id).case.keywords == ("a b",)


def test_approval_names_the_text_read_so_a_later_edit_is_not_published(
    library_db: Database,
) -> None:
    author, approver = _staff("RCE01"), _staff("RCE02")
    case_id = queries.new_reference_case(author)
    queries.submit_reference_case(author, case_id, GOOD)
    read = queries.get_staff_reference_case(approver, case_id).revision
    # The author changes the text after the approver opened it, and sends it again.
    changed = dataclass_replace(GOOD, answer="別の回答に書き換えた。")
    queries.submit_reference_case(author, case_id, changed)
    with pytest.raises(queries.CaseChanged):
        queries.approve_reference_case(approver, case_id, read)
    assert queries.search_reference_cases("").total == 0
    again = queries.get_staff_reference_case(approver, case_id)
    assert again.revision != read and again.case.answer == "別の回答に書き換えた。"
    queries.approve_reference_case(approver, case_id, again.revision)
    assert queries.get_reference_case(case_id).answer == "別の回答に書き換えた。"
    # A saved draft is off the approval queue: approving it is refused.
    queries.withdraw_reference_case(approver, case_id)
    queries.save_reference_case(author, case_id, GOOD)
    with pytest.raises(queries.CaseNotSubmitted):
        queries.approve_reference_case(approver, case_id, again.revision)
