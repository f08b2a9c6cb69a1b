"""`shiori import items|patrons|loans|holds|withdrawals`: the sample files of tests/data (with
their deliberate bad rows) on the real demo catalogue, through db.queries and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from db.queries import ImportRefused, RowImportReport
from tests.conftest import DATA, Database, app_settings, in_words
from tests.test_web_account import csrf_of, log_in
from web import cli
from web.app import create_app

SAMPLES = Path(__file__).with_name("data")
ITEMS = SAMPLES / "items.csv"
HOLDINGS = SAMPLES / "items_holdings.mrc"
PATRONS = SAMPLES / "patrons.csv"
LOANS = SAMPLES / "loans.csv"
HOLDS = SAMPLES / "holds.csv"
WITHDRAWALS = SAMPLES / "withdrawals.txt"
# Personal values of the sample patrons: never in a report.
PERSONAL = ("取込", "重複 太郎", "藤沢市", "0466-22", "ichiro@example.jp", "トリコミ", "1980-04-01")


def counts() -> dict[str, int]:
    with engine.read() as conn:
        return {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("item", "patron", "loan", "hold")
        }


def refused(report: RowImportReport) -> dict[int, str]:
    return {p.number or 0: p.reason.code for p in report.refused}


def load(path: Path, kind: str) -> RowImportReport:
    report = queries.import_rows(kind, path, partial=True)
    assert report.written
    return report


def test_items_dry_run_then_partial_then_again_with_no_change(catalog_db: Database) -> None:
    before = counts()
    dry = queries.import_rows("items", ITEMS, dry_run=True)
    assert counts() == before and not dry.written
    assert (dry.read, dry.created, dry.updated, dry.unchanged) == (10, 6, 0, 0)
    assert refused(dry) == {
        7: "import_row_bad_date",  # 2018-13-40
        8: "import_row_unknown_branch",  # kamakura
        9: "import_row_unknown_work",  # aozora:999999
        10: "import_row_duplicate_barcode",
    }
    # Full-width digits in the barcode and the date are accepted, and said so.
    assert {(p.number, p.reason.values["column"]) for p in dry.notes} == {
        (5, "barcode"),
        (5, "acquired_on"),
    }
    # All or nothing: a bad row and nothing is written.
    whole = queries.import_rows("items", ITEMS)
    assert counts() == before and not whole.written and len(whole.refused) == 4
    real = queries.import_rows("items", ITEMS, partial=True)
    assert (real.created, len(real.refused)) == (dry.created, len(dry.refused))
    assert counts()["item"] == before["item"] + 6
    again = queries.import_rows("items", ITEMS, partial=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    assert counts()["item"] == before["item"] + 6
    with engine.read() as conn:
        copy = conn.execute(
            text(
                "SELECT w.source_id, i.status, i.acquired_on, i.material_type, b.code "
                "FROM item i JOIN work w ON w.id = i.work_id JOIN branch b ON b.id = i.branch_id "
                "WHERE i.barcode = '9100000041'"
            )
        ).one()
        located = conn.execute(
            text("SELECT count(*) FROM shelf_location WHERE code = '閉架書庫'")
        ).scalar_one()
    assert copy.source_id == "029611852" and copy.code == "sogo"
    assert str(copy.acquired_on) == "2020-01-10" and copy.status == "available"
    assert located >= 1  # the shelf locations copies use are code-table rows


def test_a_changed_row_is_an_update(catalog_db: Database, tmp_path: Path) -> None:
    load(ITEMS, "items")
    changed = tmp_path / "items.csv"
    changed.write_text(
        ITEMS.read_text(encoding="utf-8").replace("913/ナ,bunko", "913/ナツ,bunko"),
        encoding="utf-8",
    )
    report = queries.import_rows("items", changed, partial=True)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 5)


def test_marc_holdings_852_876_and_949(catalog_db: Database) -> None:
    before = counts()["item"]
    report = queries.import_rows("items", HOLDINGS, partial=True)
    assert report.read == 5 and report.created == 3
    assert refused(report) == {3: "import_row_unknown_branch", 4: "import_row_unknown_work"}
    with engine.read() as conn:
        rows = conn.execute(
            text(
                "SELECT i.barcode, w.source, w.source_id, i.call_number, i.material_type, "
                "i.acquired_on FROM item i JOIN work w ON w.id = i.work_id "
                "WHERE i.barcode LIKE '92%' ORDER BY i.barcode"
            )
        ).all()
    assert [(r.barcode, r.source, r.source_id) for r in rows] == [
        ("9200000011", "ndl", "029455884"),
        ("9200000012", "ndl", "029455884"),
        ("9200000021", "aozora", "000789"),
    ]
    assert rows[0].call_number == "023 ハ" and str(rows[1].acquired_on) == "2019-03-02"
    assert rows[2].material_type == "bunko"
    assert counts()["item"] == before + 3
    assert queries.import_rows("items", HOLDINGS, partial=True).unchanged == 3


def test_marcxml_holdings_read_as_binary(catalog_db: Database, tmp_path: Path) -> None:
    import pymarc

    xml = tmp_path / "holdings.xml"
    with HOLDINGS.open("rb") as fh:
        records = list(pymarc.MARCReader(fh, to_unicode=True, force_utf8=True))
    with xml.open("wb") as out:
        writer = pymarc.XMLWriter(out)
        for record in records:
            writer.write(record)
        writer.close(close_fh=False)
    report = queries.import_rows("items", xml, dry_run=True)
    assert (report.read, report.created, len(report.refused)) == (5, 3, 2)


def test_a_file_of_the_wrong_kind_is_refused_before_anything_is_written(
    catalog_db: Database, tmp_path: Path
) -> None:
    before = counts()
    for kind, path in (
        ("items", PATRONS),
        ("patrons", ITEMS),
        ("patrons", HOLDINGS),
        ("loans", HOLDS),
        ("withdrawals", LOANS),
        ("items", DATA / "aozora_works.csv.gz"),
        ("items", DATA / "marc/loc_multiscript_30.mrc"),
    ):
        with pytest.raises(ImportRefused) as caught:
            queries.import_rows(kind, path)
        assert caught.value.code in ("import_wrong_kind", "import_no_holdings"), path
    assert counts() == before
    with pytest.raises(ImportRefused) as caught:
        queries.import_rows("items", PATRONS)
    assert in_words(caught.value) == (
        "このファイルは所蔵として取り込めません: 利用者のファイルです。 / "
        "Cannot import this file as copies: it is patrons."
    )


def test_patrons_loans_holds_and_withdrawals(catalog_db: Database) -> None:
    load(ITEMS, "items")
    before = counts()
    dry = queries.import_rows("patrons", PATRONS, dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged) == (3, 0, 0)
    assert refused(dry) == {
        5: "import_row_bad_date",  # 1990-02-30
        6: "import_row_unknown_branch",
        7: "import_row_duplicate_card",
        8: "import_row_unknown_category",
    }
    assert {(p.number, p.reason.values["column"]) for p in dry.notes} == {
        (4, "card_number"),
        (4, "birth_date"),
        (4, "postal_code"),
        (4, "phone"),
    }
    assert counts() == before
    assert queries.import_rows("patrons", PATRONS).written is False  # all or nothing
    assert load(PATRONS, "patrons").created == 3
    again = queries.import_rows("patrons", PATRONS, partial=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    # Once the patron uses Shiori, importing the file again takes no date back.
    with engine.write() as conn:
        conn.execute(
            text("UPDATE patron SET last_loan_on = :d WHERE card_number = '3100000001'"),
            {"d": queries.current_time().date()},
        )
    assert queries.import_rows("patrons", PATRONS, partial=True).unchanged == 3
    with engine.read() as conn:
        third = conn.execute(
            text(
                "SELECT name_kana, birth_date, phone, phone_digits, email, address, "
                "password_hash, expires_on FROM patron WHERE card_number = '3100000003'"
            )
        ).one()
    assert third.name_kana == "トリコミ サブロウ" and str(third.birth_date) == "2012-03-03"
    # Typed ０４６６ー２２ー０００３: kept with ASCII hyphens (japanese_input.phone_text).
    assert third.phone == "0466-22-0003" and third.phone_digits == "0466220003"
    assert third.email == "saburo@example.jp"  # typed ｓａｂｕｒｏ＠example.jp
    assert third.address.startswith("〒251-0032 ") and third.password_hash is None
    assert str(third.expires_on) >= queries.current_time().date().isoformat()

    loans = load(LOANS, "loans")
    assert loans.created == 2
    assert refused(loans) == {
        4: "import_row_unknown_barcode",
        5: "import_row_unknown_card",
        6: "import_row_duplicate_barcode",
    }
    assert queries.import_rows("loans", LOANS, partial=True).unchanged == 2

    holds = load(HOLDS, "holds")
    assert holds.created == 4
    assert refused(holds) == {
        6: "import_row_unknown_work",
        7: "import_row_duplicate_hold",
        8: "import_row_unknown_branch",
    }
    assert queries.import_rows("holds", HOLDS, partial=True).unchanged == 4
    with engine.read() as conn:
        queue = conn.execute(
            text(
                "SELECT p.card_number FROM hold h JOIN patron p ON p.id = h.patron_id "
                "JOIN work w ON w.id = h.work_id WHERE w.source = 'aozora' "
                "AND w.source_id = '000456' ORDER BY h.placed_at, h.id"
            )
        ).scalars()
        # The old system's queue: the earliest first, the same moment in the file's order.
        assert list(queue) == ["3100000003", "3100000001", "3100000002"]

    withdrawals = load(WITHDRAWALS, "withdrawals")
    assert withdrawals.created == 2  # 9100000041, and 9100000051 in full-width digits
    assert refused(withdrawals) == {2: "import_row_withdraw_on_loan"}
    assert [(n.number, n.reason.code) for n in withdrawals.notes] == [
        (3, "import_row_not_held"),
        (4, "import_row_normalised"),
    ]
    second = queries.import_rows("withdrawals", WITHDRAWALS, partial=True)
    assert (second.created, second.unchanged, len(second.refused)) == (0, 3, 1)


def test_withdrawing_a_reserved_titles_last_copy_says_so(
    catalog_db: Database, tmp_path: Path
) -> None:
    load(ITEMS, "items")
    load(PATRONS, "patrons")
    load(HOLDS, "holds")
    with engine.read() as conn:
        barcodes = conn.execute(
            text(
                "SELECT i.barcode FROM item i JOIN work w ON w.id = i.work_id "
                "WHERE w.source = 'aozora' AND w.source_id = '000456'"
            )
        ).scalars()
        listed = tmp_path / "withdraw.csv"
        listed.write_text("barcode\n" + "\n".join(barcodes) + "\n", encoding="utf-8")
    report = queries.import_rows("withdrawals", listed, partial=True)
    # The reservations are waiting (no copy set aside yet): every copy goes, and the last
    # one says how many reservations now wait for a title without copies.
    assert not report.refused and report.created >= 1
    last = [n.reason.values for n in report.notes if n.reason.code == "import_row_last_copy"]
    assert len(last) == 1 and int(str(last[0]["count"])) >= 3


def test_an_imported_patron_sets_a_first_password_and_sees_an_imported_loan(
    catalog_db: Database,
) -> None:
    for path, kind in ((ITEMS, "items"), (PATRONS, "patrons"), (LOANS, "loans")):
        load(path, kind)
    with TestClient(create_app(app_settings(catalog_db.url))) as web:
        page = web.get("/password/first").text
        new = "取り込まれた本を読みます"
        answer = web.post(
            "/password/first",
            data={
                "csrf_token": csrf_of(page),
                "card": "３１０００００００３",  # full-width, as typed with the IME on
                "birth_year": "2012",
                "birth_month": "3",
                "birth_day": "3",
                "phone": "0466-22-0003",
                "new_password": new,
                "new_password_again": new,
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303
        page = web.get("/password/first").text
        answer = web.post(
            "/password/first",
            data={
                "csrf_token": csrf_of(page),
                "card": "3100000001",
                "birth_year": "1980",
                "birth_month": "4",
                "birth_day": "1",
                "phone": "0466-22-0001",
                "new_password": new,
                "new_password_again": new,
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert log_in(web, "3100000001", new).status_code == 303  # type: ignore[attr-defined]
        loans = web.get("/my/loans").text
        assert "羅生門" in loans


def test_cli_reports_without_personal_values(
    catalog_db: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", catalog_db.url)
    assert cli.main(["import", "items", str(ITEMS), "--partial"]) == 3
    status = cli.main(["import", "patrons", str(PATRONS), "--dry-run"])
    out = capsys.readouterr().out
    assert status == 3
    assert "行 5: birth_date の日付が正しくありません" in out
    assert "line 7: duplicate card number 3100000001 (already on line 2)" in out
    assert "line 6: unknown branch in home_branch: kamakura" in out
    assert "full-width digits normalised in card_number" in out
    assert "would create 3" in out and "Nothing was written (dry run)" in out
    for value in PERSONAL:
        assert value not in out, value
    assert counts()["patron"] == 4  # the demo patrons only
    # A real run without --partial writes nothing: the summary says so before "would".
    assert cli.main(["import", "patrons", str(PATRONS)]) == 3
    out = capsys.readouterr().out
    assert "nothing written because rows were refused (it would have created 3" in out
    assert "取り込めない行があるため何も書き込んでいません" in out
    assert counts()["patron"] == 4
    # Again with --partial and nothing new: "no change", not "the valid rows were written".
    assert cli.main(["import", "items", str(ITEMS), "--partial"]) == 3
    out = capsys.readouterr().out
    assert "No change: the valid rows are already imported" in out
    assert "valid rows were written" not in out
    # The catalogue import is still `shiori import FILE…` (and `shiori import catalogue`).
    assert (
        cli.main(
            ["import", str(SAMPLES.parent.parent.parent / "shared/data/marc/pymarc_utf8_1.mrc")]
        )
        == 0
    )
    wrong = cli.main(["import", "withdrawals", str(PATRONS)])
    assert wrong == 2 and "patrons" in capsys.readouterr().err


def test_a_bare_list_is_a_list_of_barcodes(catalog_db: Database, tmp_path: Path) -> None:
    copy = tmp_path / "list.txt"
    shutil.copy(WITHDRAWALS, copy)
    report = queries.import_rows("withdrawals", copy, dry_run=True)
    assert report.read == 4


def test_a_shift_jis_export_reads_as_utf8_does(catalog_db: Database, tmp_path: Path) -> None:
    sjis = tmp_path / "patrons_sjis.csv"
    sjis.write_bytes(PATRONS.read_text(encoding="utf-8").encode("cp932"))
    utf8 = queries.import_rows("patrons", PATRONS, dry_run=True)
    report = queries.import_rows("patrons", sjis, dry_run=True)
    assert (report.created, refused(report)) == (utf8.created, refused(utf8))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x81\x20" * 100)  # a Shift_JIS lead byte without its pair
    with pytest.raises(ImportRefused) as caught:
        queries.import_rows("patrons", binary)
    assert caught.value.code == "import_not_utf8"


def test_an_imported_patron_can_be_given_a_counter_code(catalog_db: Database) -> None:
    load(PATRONS, "patrons")
    code = queries.issue_activation_code("3100000002")
    assert code


def test_shiori_import_catalogue_is_the_catalogue_import(
    catalog_db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", catalog_db.url)
    marc = str(DATA / "marc/pymarc_utf8_1.mrc")
    assert cli.main(["import", "catalogue", marc]) == 0
    assert "pymarc_utf8_1.mrc" in capsys.readouterr().out
