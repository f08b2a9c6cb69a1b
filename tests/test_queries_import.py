"""Catalog import (Aozora CSV, NDL/LoC MARC, MARCXML) through db.queries."""

from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

import pymarc
import pytest

from db import queries
from db.queries import ImportProblem, ImportRefused, Record, Refusal, SearchParams
from tests.conftest import DATA, Database, in_words
from web import cli

MARC = DATA / "marc"
REAL = {
    "aozora_works.csv.gz": 17685,
    "marc/ndl_japanmarc_marc21_233.mrc": 233,
    "marc/loc_multiscript_30.mrc": 30,
}


def find(q: str, source: str, source_id: str, **params: object) -> Record:
    """The record with this source id among the hits for `q`."""
    result = queries.search_works(SearchParams(q=q, **params))  # type: ignore[arg-type]
    for hit in result.hits:
        record = queries.get_record(hit.id)
        if (record.source, record.source_id) == (source, source_id):
            return record
    raise AssertionError(f"{source}:{source_id} not among the hits for {q!r}")


def write_works_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = [
        "work_id",
        "title",
        "title_yomi",
        "subtitle",
        "ndc",
        "kana_type",
        "card_url",
        "authors",
        "authors_yomi",
        "translators",
        "other_contributors",
        "source_publisher",
        "source_year",
        "first_appearance",
    ]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


SMALL = [
    {
        "work_id": "900001",
        "title": "しおりの森",
        "title_yomi": "しおりのもり",
        "ndc": "913",
        "authors": "栞 一葉",
        "authors_yomi": "しおり かずは",
        "source_year": "1999",
        "source_publisher": "しおり文庫、栞書房",
    },
    {
        "work_id": "900002",
        "title": "湘南の海辺",
        "title_yomi": "しょうなんのうみべ",
        "ndc": "756 914",
        "authors": "浜 太郎",
        "authors_yomi": "はま たろう",
        "translators": "訳 次郎",
        "other_contributors": "編者:編 三郎",
    },
    {
        "work_id": "900003",
        "title": "こどもの星座",
        "title_yomi": "こどものせいざ",
        "ndc": "K440",
        "authors": "星 花子",
        "authors_yomi": "ほし はなこ",
    },
]


def test_real_files_load_with_their_exact_counts(catalog_db: Database) -> None:
    stats = queries.get_catalog_stats()
    assert stats.by_source == (("aozora", 17685), ("loc", 30), ("ndl", 233))
    assert stats.works == sum(REAL.values())


def test_reimporting_changes_nothing(catalog_db: Database) -> None:
    before = queries.get_catalog_stats()
    for name, count in REAL.items():
        report = queries.import_catalog_file(DATA / name)
        assert (report.added, report.updated, report.unchanged) == (0, 0, count), name
        assert report.problems == []
    assert queries.get_catalog_stats() == before


def test_marcxml_gives_the_same_records_as_binary_marc(catalog_db: Database) -> None:
    before = queries.get_catalog_stats()
    report = queries.import_catalog_file(MARC / "loc_multiscript_30.marcxml.xml")
    # Every field is compared on upsert: unchanged means identical records, same ids.
    assert (report.added, report.updated, report.unchanged) == (0, 0, 30)
    assert queries.get_catalog_stats() == before


def test_aozora_raw_catalog_csv_groups_into_the_same_works(catalog_db: Database) -> None:
    report = queries.import_catalog_file(DATA / "aozora_catalog.csv.gz")
    assert (report.added, report.updated, report.unchanged) == (0, 0, 17685)
    assert report.problems == []


def test_ndl_record_has_kanji_title_and_katakana_reading(catalog_db: Database) -> None:
    record = find("これからの本の話をしよう", "ndl", "029455884")
    assert record.title == "これからの本の話をしよう"
    assert record.title_yomi == "コレカラ ノ ホン ノ ハナシ オ シヨウ"
    assert record.title_romaji == "Korekara no hon no hanashi o shiyo"
    assert record.authors == ("萩野, 正昭",)
    assert record.authors_yomi == ("ハギノ, マサアキ",)
    assert (record.publisher, record.pub_place, record.pub_year) == ("晶文社", "東京", 2019)
    assert record.responsibility == "萩野正昭 著"
    assert record.ndc == ("023",)
    assert record.subjects == ("電子書籍", "電子出版")
    assert record.isbn == ("978-4-7949-7075-6",)  # the price qualifier is gone
    assert record.language == "jpn"
    # The reading is searchable, in hiragana too.
    assert find("これからのほんのはなし", "ndl", "029455884").id == record.id
    assert find("", "ndl", "029455884", isbn="9784794970756").id == record.id


def test_loc_japanese_record_takes_the_vernacular_880_as_title(catalog_db: Database) -> None:
    record = find("火山灰地", "loc", "2008543486")
    assert record.title == "久保栄「火山灰地」を読む"
    assert record.title_romaji == "Kubo Sakae 'Kazanbaichi' o yomu"
    assert record.authors == ("吉田一",)
    assert record.publisher == "法政大学出版局"
    assert record.edition == "初版"
    assert (record.pub_year, record.language) == (1997, "jpn")
    assert record.ndc == ()
    assert find("kazanbaichi", "loc", "2008543486").id == record.id


def test_non_cjk_vernacular_keeps_the_romanised_title(catalog_db: Database) -> None:
    record = find("Pukhan", "loc", "92117465")  # Korean: hanja 880 becomes the title
    assert record.title == "北韓 法令集"
    assert record.title_romaji == "Pukhan pŏmnyŏngjip"


def test_childrens_ndc_class_is_kept(catalog_db: Database) -> None:
    record = find("銀河鉄道の夜", "aozora", "000456")
    assert record.ndc == ("K913",)
    assert record.authors == ("宮沢 賢治",)
    assert record.publisher == "新潮文庫、新潮社"
    assert record.source_url == "https://www.aozora.gr.jp/cards/000081/card456.html"
    in_k = queries.search_works(SearchParams(q="銀河鉄道の夜", ndc_class="K"))
    assert record.id in [h.id for h in in_k.hits]
    assert find("羅生門", "aozora", "000127").ndc == ("913",)


def test_aozora_translator_goes_into_the_statement_of_responsibility(catalog_db: Database) -> None:
    record = find("あいびき", "aozora", "000005")
    assert record.authors == ("ツルゲーネフ イワン",)
    assert record.responsibility == "ツルゲーネフ イワン 著 / 二葉亭 四迷 訳"
    assert "文字遣い: 新字新仮名" in record.notes


def test_changed_rows_are_updated_and_the_rest_left_alone(
    fresh_db: Database, tmp_path: Path
) -> None:
    path = write_works_csv(tmp_path / "works.csv", SMALL)
    first = queries.import_catalog_file(path)
    assert (first.added, first.updated, first.unchanged, first.problems) == (3, 0, 0, [])
    record = find("湘南の海辺", "aozora", "900002")
    assert record.ndc == ("756", "914")
    assert record.responsibility == "浜 太郎 著 / 訳 次郎 訳 / 編 三郎 編"

    changed = [dict(SMALL[0], title="しおりの林", title_yomi="しおりのはやし"), *SMALL[1:]]
    second = queries.import_catalog_file(write_works_csv(tmp_path / "works.csv", changed))
    assert (second.added, second.updated, second.unchanged) == (0, 1, 2)
    assert queries.get_catalog_stats().works == 3
    assert find("しおりの林", "aozora", "900001").pub_year == 1999
    assert queries.search_works(SearchParams(q="しおりの森")).total == 0  # old tokens gone


def test_gzip_csv_and_rows_without_id_or_title(fresh_db: Database, tmp_path: Path) -> None:
    rows = [SMALL[0], {"work_id": "", "title": "番号なし"}, {"work_id": "900009"}, SMALL[2]]
    plain = write_works_csv(tmp_path / "w.csv", rows).read_bytes()
    path = tmp_path / "w.csv.gz"
    path.write_bytes(gzip.compress(plain))
    report = queries.import_catalog_file(path)
    assert report.added == 2
    assert report.problems == [
        ImportProblem("line", 3, Refusal.of("import_missing_fields", fields=("work_id",))),
        ImportProblem("line", 4, Refusal.of("import_missing_fields", fields=("title",))),
    ]
    assert queries.get_catalog_stats().works == 2


def test_broken_marc_records_are_listed_and_the_rest_load(fresh_db: Database) -> None:
    report = queries.import_catalog_file(MARC / "pymarc_bad_records.mrc")
    positions = [(p.kind, p.number) for p in report.problems]
    assert positions == [("record", n) for n in (2, 3, 4, 5, 6, 7, 9)]
    assert all(p.reason.code == "import_unreadable_record" for p in report.problems)
    assert all(p.reason.values["detail"] for p in report.problems)
    assert report.problems[0].reason.values["error"] == "BaseAddressInvalid"
    assert report.loaded == 2  # the two readable (identical, 001-less) records
    assert queries.get_catalog_stats().by_source == (("marc", 1),)
    assert queries.search_works(SearchParams(q="pragmatic programmer")).total == 1


def test_invalid_utf8_record_loads_and_is_flagged(fresh_db: Database) -> None:
    report = queries.import_catalog_file(MARC / "pymarc_utf8_invalid_1.mrc")
    assert report.added == 1
    [problem] = report.problems
    assert (problem.kind, problem.number) == ("record", 1)
    assert problem.reason.code == "import_record_damaged" and problem.reason.values["detail"]


def test_marc_record_without_a_title_is_listed(fresh_db: Database, tmp_path: Path) -> None:
    untitled = pymarc.Record()
    untitled.add_field(pymarc.Field(tag="001", data="untitled-1"))
    path = tmp_path / "untitled.mrc"
    path.write_bytes(untitled.as_marc() + (MARC / "pymarc_test_10.mrc").read_bytes())
    report = queries.import_catalog_file(path)
    assert report.added == 10
    assert report.problems == [ImportProblem("record", 1, Refusal.of("import_no_title"))]


def test_marc8_record_decodes_to_the_same_text_as_utf8(fresh_db: Database) -> None:
    first = queries.import_catalog_file(MARC / "pymarc_marc8_1.mrc")
    second = queries.import_catalog_file(MARC / "pymarc_utf8_1.mrc")
    assert (first.added, second.unchanged, second.updated) == (1, 1, 0)
    record = find("Escape from loneliness", "marc", "2")
    assert "à" in record.notes  # precomposed after NFC


def test_isbn_qualifiers_are_stripped(fresh_db: Database) -> None:
    report = queries.import_catalog_file(MARC / "pymarc_test_10.mrc")
    assert report.added == 10 and report.problems == []
    hits = queries.search_works(SearchParams(isbn="0471383147")).hits
    assert [h.title for h in hits] == ["ActivePerl with ASP and ADO"]


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cover.png", _png()),
        ("empty.mrc", b""),
        ("notes.txt", "これはただのメモです。\nMARC ではありません。\n".encode()),
        ("other.csv", b"id,name,price\n1,apple,100\n"),
        ("notes.txt.gz", gzip.compress(b"just some text\n" * 50)),
        ("broken.gz", b"\x1f\x8b\x08\x00garbage"),
        ("digits.mrc", b"12345 and then some words that are not a leader at all\n"),
    ],
)
def test_files_that_are_not_catalogs_are_refused_before_writing(
    catalog_db: Database, tmp_path: Path, name: str, content: bytes
) -> None:
    before = queries.get_catalog_stats()
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportRefused) as refused:
        queries.import_catalog_file(path)
    message = in_words(refused.value)
    assert message.startswith("このファイルは取り込めません")
    assert " / Cannot import this file" in message
    assert queries.get_catalog_stats() == before


def test_missing_file_and_folder_are_refused(fresh_db: Database, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused) as refused:
        queries.import_catalog_file(tmp_path / "nothing-here.mrc")
    assert re.search(r"ファイルが見つかりません.*File not found", in_words(refused.value))
    with pytest.raises(ImportRefused) as refused:
        queries.import_catalog_file(tmp_path)
    assert "フォルダ" in in_words(refused.value)
    assert queries.get_catalog_stats().works == 0


def test_the_cli_prints_a_refusal_in_every_language(
    fresh_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", fresh_db.url)
    assert cli.main(["import", str(tmp_path / "nothing-here.mrc")]) == 2
    err = capsys.readouterr().err
    assert "ファイルが見つかりません: nothing-here.mrc / File not found: nothing-here.mrc" in err


def test_forced_source_must_fit_the_file(fresh_db: Database) -> None:
    with pytest.raises(ImportRefused) as refused:
        queries.import_catalog_file(MARC / "loc_multiscript_30.mrc", source="aozora")
    assert "青空文庫 CSV ではありません" in in_words(refused.value)
    with pytest.raises(ImportRefused) as refused:
        queries.import_catalog_file(DATA / "aozora_works.csv.gz", source="marc")
    assert "MARC ファイルではありません" in in_words(refused.value)
    with pytest.raises(ImportRefused) as refused:
        queries.import_catalog_file(MARC / "loc_multiscript_30.mrc", source="oclc")
    assert "Unknown source" in in_words(refused.value)
    report = queries.import_catalog_file(MARC / "pymarc_batch_2.marcxml.xml", source="loc")
    assert report.added == 2
    assert queries.get_catalog_stats().by_source == (("loc", 2),)


def test_damaged_marcxml_loads_what_comes_before_the_damage(
    fresh_db: Database, tmp_path: Path
) -> None:
    text = (MARC / "loc_multiscript_30.marcxml.xml").read_text("utf-8")
    cut = text.index("<record>", text.index("<record>") + 1)  # keep one whole record
    path = tmp_path / "cut.xml"
    path.write_text(text[:cut] + "<record><leader>broken", encoding="utf-8")
    report = queries.import_catalog_file(path)
    assert report.added == 1
    [problem] = report.problems
    assert (problem.kind, problem.number) == ("record", 2)
    assert problem.reason.code == "import_malformed_xml" and problem.reason.values["detail"]


def test_the_cli_words_the_report_in_every_language(
    fresh_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SHIORI_DATABASE_URL", fresh_db.url)
    blank = {"work_id": "", "title": ""}
    rows = [SMALL[0], {"work_id": "", "title": "番号なし"}, {"work_id": "900009"}, blank]
    works = write_works_csv(tmp_path / "w.csv", rows)
    many = [{"work_id": f"91{n:04}", "title": f"題 {n}", "authors": "栞 一葉"} for n in range(3000)]
    whole = gzip.compress(write_works_csv(tmp_path / "many.csv", many).read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])  # a gzip stream that ends too early
    files = [works, MARC / "pymarc_bad_records.mrc", cut]
    assert cli.main(["import", *map(str, files)]) == cli.IMPORT_FILE_REFUSED  # cut short
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == [
        "w.csv: 追加 1, 更新 0, 変更なし 0, 問題 3 / added 1, updated 0, unchanged 0, problems 3",
        "  行 3: 必須項目がありません: 作品ID / line 3: missing: work id",
        "  行 4: 必須項目がありません: 作品名 / line 4: missing: title",
        "  行 5: 必須項目がありません: 作品ID、作品名 / line 5: missing: work id and title",
        "pymarc_bad_records.mrc: 追加 1, 更新 0, 変更なし 1, 問題 7"
        " / added 1, updated 0, unchanged 1, problems 7",
    ]
    assert re.fullmatch(
        r"  レコード 2: 読み取れないレコードです \(BaseAddressInvalid: (.+)\)"
        r" / record 2: unreadable record \(BaseAddressInvalid: \1\)",
        out[5],
    )
    assert len(out) == 14 and out[12].startswith("cut.csv.gz: 追加 ")
    assert re.fullmatch(
        r"  ファイル: 途中で読めなくなりました。ここで止めました \(EOFError: (.+)\)"
        r" / file: unreadable from here on \(EOFError: \1\)",
        out[13],
    )
