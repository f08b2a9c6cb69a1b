"""The staff console at the query layer: policy file, TOTP, masking, append-only audit."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db import engine, queries
from db.patrons import DEMO_PATRONS
from db.queries.second_factor import totp_code, totp_step
from tests.conftest import Database, in_words


def test_totp_matches_rfc_6238_vectors() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # b32("12345678901234567890")
    assert totp_code(secret, totp_step(datetime.fromtimestamp(59, UTC))) == "287082"
    assert totp_code(secret, totp_step(datetime.fromtimestamp(1111111109, UTC))) == "081804"


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
        (20000000000, "353130"),
    ],
)
def test_totp_codes_are_rfc_6238_sha1_vectors_through_pyotp(unix_time: int, code: str) -> None:
    # RFC 6238 appendix B, SHA-1, truncated to our 6 digits.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp_code(secret, totp_step(datetime.fromtimestamp(unix_time, UTC))) == code


def test_policy_denies_by_default_and_never_exposes_secrets() -> None:
    policy = queries.staff_policy_data()
    assert set(policy.roles) == {"manager", "staff", "temporary", "intern"}
    assert not policy.may("nobody", (), "counter")
    assert not policy.may("intern", ("patron_records",), "patron.edit")  # interns take none
    assert policy.may("temporary", ("patron_records",), "patron.edit")
    assert not policy.may("temporary", (), "patron.edit")
    assert not policy.may("staff", (), "staff.manage")
    assert not policy.may("staff", (), "code_tables")
    assert policy.visible_fields("intern", ()) == {"card", "category", "loans"}
    fields = {f.name for f in dataclasses.fields(queries.PatronRecord)}
    fields |= {f.name for f in dataclasses.fields(queries.PatronSummary)}
    assert not fields & policy.never_visible


def _actor(role: str) -> queries.StaffActor:
    return queries.StaffActor(1, "T001", "試験", role, (), 1)


def test_masking_happens_in_the_query_layer(library_db: Database) -> None:
    hanako = DEMO_PATRONS[0].patron
    (hit,) = queries.lookup_patrons(_actor("intern"), hanako.card_number, "")
    assert hit.name is None and hit.card_number == hanako.card_number
    record = queries.get_patron_for_staff(_actor("intern"), hit.id, "patron_record")
    assert (record.name, record.address, record.phone, record.email, record.birth_date) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert record.loans is not None and len(record.loans) == 3
    full = queries.get_patron_for_staff(_actor("staff"), hit.id, "patron_record")
    assert full.name == hanako.name and full.phone == hanako.phone
    with pytest.raises(queries.StaffRefused):
        queries.lookup_patrons(_actor("intern"), "", "山田")
    (by_name,) = queries.lookup_patrons(_actor("staff"), "", "山田花子")
    assert by_name.name == hanako.name
    rows = queries.search_staff_audit(queries.AuditQuery(card_number=hanako.card_number))
    # The intern's lookup by card showed the loan count (personal): audited too.
    assert [r.outcome for r in rows].count("allowed") == 4
    refused = queries.search_staff_audit(queries.AuditQuery(outcome="refused"))
    assert len(refused) == 1 and refused[0].card_number is None


def test_a_name_is_found_in_each_of_its_itaiji_spellings(library_db: Database) -> None:
    misaki = DEMO_PATRONS[3].patron  # 高橋 美咲
    staff = _actor("staff")
    for typed in ("髙橋", "高橋美咲", "髙橋 美咲", "たかはし"):
        assert [p.card_number for p in queries.lookup_patrons(staff, "", typed)] == [
            misaki.card_number
        ], typed
    # And back: a name written with the variant is found by the common form.
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET name = '髙橋 美咲' WHERE card_number = :c"),
            {"c": misaki.card_number},
        )
    (hit,) = queries.lookup_patrons(staff, "", "高橋")
    assert hit.name == "髙橋 美咲"
    assert queries.lookup_patrons(staff, "", "高槁") == ()  # a different kanji, not a variant


def test_audit_is_append_only_in_the_database(library_db: Database) -> None:
    queries.record_staff_refusal(_actor("intern"), None, ("name",), "patron_lookup", "search")
    for statement in ("UPDATE staff_audit SET outcome = 'allowed'", "DELETE FROM staff_audit"):
        with pytest.raises(DBAPIError), engine.write() as conn:
            conn.execute(text(statement))
    with engine.read() as conn:
        assert conn.execute(text("SELECT outcome FROM staff_audit")).scalars().all() == ["refused"]


def test_staff_input_is_validated_in_both_languages(library_db: Database) -> None:
    bad = queries.StaffInput("x", "", "", "nowhere", "boss", ("patron_records",), None)
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.create_staff_account(_actor("manager"), bad)
    assert set(refused.value.errors) == {"staff_code", "name", "role", "branch"}
    assert all(" / " in in_words(why) for why in refused.value.errors.values())
    intern = dataclasses.replace(
        bad, staff_code="INT9", name="実習", branch_code="sogo", role="intern"
    )
    with pytest.raises(queries.StaffFormRefused) as refused:
        queries.create_staff_account(_actor("manager"), intern)
    assert set(refused.value.errors) == {"duties"}
    with engine.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff_account")).scalar_one() == 0
