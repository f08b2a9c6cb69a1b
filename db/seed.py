"""Demo and benchmark data: reference rows, seeded copies, and synthetic works.

Nothing here is random in the irreproducible sense: every choice comes from a
`random.Random` seeded from the caller's seed and the work's id, so the same seed over the
same catalog always gives the same copies, barcodes included.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db import rules, search
from db.catalog_write import SEP, SearchIndex, ndc_classes


@dataclass(frozen=True)
class CatalogStats:
    works: int
    items: int
    by_source: tuple[tuple[str, int], ...]  # (source, works), sorted by source


def catalog_stats(conn: Connection) -> CatalogStats:
    by_source = tuple(
        (row.source, row.n)
        for row in conn.execute(
            text("SELECT source, count(*) AS n FROM work GROUP BY source ORDER BY source")
        )
    )
    items = conn.execute(text("SELECT count(*) FROM item")).scalar_one()
    return CatalogStats(sum(n for _, n in by_source), items, by_source)


def ensure_reference_data(conn: Connection, branches: tuple[rules.BranchSpec, ...]) -> None:
    """Create or update branches (by code, in the given order) and material types."""
    existing = {row.code for row in conn.execute(text("SELECT code FROM branch"))}
    for position, spec in enumerate(branches):
        values = {"code": spec.code, "ja": spec.name_ja, "en": spec.name_en, "pos": position}
        if spec.code in existing:
            conn.execute(
                text(
                    "UPDATE branch SET name_ja = :ja, name_en = :en, sort_order = :pos "
                    "WHERE code = :code"
                ),
                values,
            )
        else:
            conn.execute(
                text(
                    "INSERT INTO branch (code, name_ja, name_en, sort_order) "
                    "VALUES (:code, :ja, :en, :pos)"
                ),
                values,
            )
    known = {row.code for row in conn.execute(text("SELECT code FROM material_type"))}
    for mt in rules.MATERIAL_TYPES:
        values = {
            "code": mt.code,
            "ja": mt.name_ja,
            "en": mt.name_en,
            "days": mt.loan_days,
            "res": mt.reservable,
        }
        if mt.code in known:
            conn.execute(
                text(
                    "UPDATE material_type SET name_ja = :ja, name_en = :en, loan_days = :days, "
                    "reservable = :res WHERE code = :code"
                ),
                values,
            )
        else:
            conn.execute(
                text(
                    "INSERT INTO material_type (code, name_ja, name_en, loan_days, reservable) "
                    "VALUES (:code, :ja, :en, :days, :res)"
                ),
                values,
            )


# ---------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------

_COPY_COUNT_WEIGHTS = (10, 34, 26, 16, 9, 5)  # 0..5 copies, in per cent
_STATUS_CUMULATIVE = (
    (0.64, rules.AVAILABLE),
    (0.89, rules.ON_LOAN),
    (0.93, rules.IN_TRANSIT),
    (0.96, rules.ON_HOLD_SHELF),
    (0.98, rules.IN_PROCESS),
    (1.00, rules.MISSING),
)
_SHELF = {
    "children": "児童書架",
    "bunko": "文庫コーナー",
    "reference": "参考図書コーナー",
}
_WORK_COLUMNS = "id, ndc, publisher, authors, authors_yomi, title, title_yomi, pub_year"


def _rng(seed_value: int, work_id: int) -> random.Random:
    # Seed and id are kept apart (not summed) so seed 1 / work 2 ≠ seed 2 / work 1.
    return random.Random((seed_value << 40) ^ work_id)  # noqa: S311 - demo data, not secrets


def _kana_initial(value: str) -> str:
    for ch in value:
        code = ord(ch)
        if 0x3041 <= code <= 0x3096:  # hiragana → katakana
            return chr(code + 0x60)
        if 0x30A1 <= code <= 0x30FA:
            return ch
        if ch.isalnum():
            return ""  # a reading in another script: no kana initial
    return ""


def author_mark(authors_yomi: str, title_yomi: str, authors: str, title: str) -> str:
    """The 著者記号: first kana of the author's reading, else of the title's reading,
    else the first letter of the author or title (upper-cased)."""
    for reading in (authors_yomi.split(SEP)[0], title_yomi):
        mark = _kana_initial(reading)
        if mark:
            return mark
    for value in (authors, title):
        for ch in value:
            if ch.isalnum():
                return ch.upper()
    return ""


def _barcode(work_id: int, copy_no: int) -> str:
    """Work id (8 digits) + copy number + a mod-10 check digit: 10 digits, unique."""
    body = f"{work_id:08d}{copy_no}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _plan_copies(
    work: dict[str, Any], seed_value: int, branch_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """The copies one work gets (see `generate_copies` for the distribution)."""
    rng = _rng(seed_value, work["id"])
    count = rng.choices(range(6), weights=_COPY_COUNT_WEIGHTS)[0]
    if count == 0 or not branch_ids:
        return []
    codes = [c for c, _ in ndc_classes(work["ndc"].split(SEP))] if work["ndc"] else []
    main = next((c for c in codes if not c.startswith("K")), codes[0] if codes else "")
    if any(c.startswith("K") for c in codes):
        mtype = "children"
    elif main.startswith("03") or (main.startswith("0") and rng.random() < 0.15):
        mtype = "reference"
    elif "文庫" in work["publisher"]:
        mtype = "bunko"
    else:
        mtype = "book"
    mark = author_mark(work["authors_yomi"], work["title_yomi"], work["authors"], work["title"])
    call_ndc = codes[0] if codes else ""
    call_number = f"{call_ndc}/{mark}" if call_ndc and mark else call_ndc or mark
    year = work["pub_year"]
    weights = [2] + [1] * (len(branch_ids) - 1)  # the central library holds more
    copies = []
    for copy_no in range(count):
        branch = rng.choices(branch_ids, weights=weights)[0]
        roll = rng.random()
        if mtype == "reference":
            branch = branch_ids[0] if copy_no == 0 else branch
            status = rules.MISSING if roll > 0.99 else rules.AVAILABLE
        else:
            status = next(s for limit, s in _STATUS_CUMULATIVE if roll < limit)
        if mtype in _SHELF:
            shelf = _SHELF[mtype]
        elif year is not None and year < 1970 and rng.random() < 0.5:
            shelf = "閉架書庫"
        elif year is not None and year >= 2024:
            shelf = "新着図書コーナー"
        else:
            shelf = "一般書架"
        copies.append(
            {
                "barcode": _barcode(work["id"], copy_no),
                "work_id": work["id"],
                "branch_id": branch,
                "material_type": mtype,
                "call_number": call_number[:100],
                "shelf_location": shelf,
                "status": status,
            }
        )
    return copies


def _branch_ids(conn: Connection) -> list[int]:
    return [r.id for r in conn.execute(text("SELECT id FROM branch ORDER BY sort_order, id"))]


def _insert_items(conn: Connection, items: list[dict[str, Any]]) -> None:
    if items:
        conn.execute(
            text(
                "INSERT INTO item (barcode, work_id, branch_id, material_type, call_number, "
                "shelf_location, status) VALUES (:barcode, :work_id, :branch_id, "
                ":material_type, :call_number, :shelf_location, :status)"
            ),
            items,
        )


def generate_copies(conn: Connection, seed_value: int) -> int:
    """Give each work that has no copy yet 0–5 copies; returns the number made.

    Reproducible and idempotent: work N's copies come from `random.Random` seeded with the
    seed and N, and works that already have copies are skipped, so running it again adds
    nothing. The distribution:

    * copies per work: 0 (10 %), 1 (34 %), 2 (26 %), 3 (16 %), 4 (9 %), 5 (5 %);
    * branch: the first (central) branch twice as likely as each of the others;
    * status: available 64 %, on_loan 25 %, in_transit 4 %, on_hold_shelf 3 %,
      in_process 2 %, missing 2 % (reference copies: available, 1 % missing);
    * material type: children's for a K class (K913), reference-only for 03x and 15 % of
      other 0xx works, bunko when the publisher's name contains 文庫, otherwise book;
    * call number "NDC/著者記号", e.g. "913.6/ナ": the first NDC and the first katakana of
      the author's reading (else the title's; else the first letter of the name or title);
    * shelf: 児童書架, 文庫コーナー, 参考図書コーナー, or 一般書架 — half of the pre-1970
      books in 閉架書庫 (closed stacks) and 2024+ books in 新着図書コーナー;
    * barcode: 8-digit work id + copy number + check digit (10 digits, unique).
    """
    branch_ids = _branch_ids(conn)
    if not branch_ids:
        return 0
    made, last = 0, 0
    while True:
        works = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    f"SELECT {_WORK_COLUMNS} FROM work w WHERE w.id > :last "
                    "AND NOT EXISTS (SELECT 1 FROM item i WHERE i.work_id = w.id) "
                    "ORDER BY w.id LIMIT 5000"
                ),
                {"last": last},
            )
        ]
        if not works:
            return made
        items = [c for w in works for c in _plan_copies(w, seed_value, branch_ids)]
        _insert_items(conn, items)
        made += len(items)
        last = works[-1]["id"]


# ---------------------------------------------------------------------------------------
# Synthetic works (benchmarks)
# ---------------------------------------------------------------------------------------

# (word, reading, NDC it suggests)
_NOUNS: tuple[tuple[str, str, str], ...] = (
    ("日本", "にほん", "210"),
    ("歴史", "れきし", "209"),
    ("物語", "ものがたり", "913.6"),
    ("猫", "ねこ", "645.7"),
    ("犬", "いぬ", "645.6"),
    ("旅", "たび", "290"),
    ("料理", "りょうり", "596"),
    ("子ども", "こども", "379.9"),
    ("家族", "かぞく", "367.3"),
    ("海", "うみ", "452"),
    ("山", "やま", "786.1"),
    ("森", "もり", "653"),
    ("星", "ほし", "440"),
    ("宇宙", "うちゅう", "440"),
    ("数学", "すうがく", "410"),
    ("科学", "かがく", "404"),
    ("音楽", "おんがく", "760"),
    ("絵本", "えほん", "726.6"),
    ("庭", "にわ", "629"),
    ("花", "はな", "627"),
    ("季節", "きせつ", "451.8"),
    ("経済", "けいざい", "330"),
    ("お金", "おかね", "337"),
    ("仕事", "しごと", "366"),
    ("心", "こころ", "140"),
    ("言葉", "ことば", "810"),
    ("英語", "えいご", "830"),
    ("文学", "ぶんがく", "910"),
    ("詩", "し", "911.5"),
    ("俳句", "はいく", "911.3"),
    ("城", "しろ", "521.8"),
    ("鉄道", "てつどう", "686"),
    ("電車", "でんしゃ", "686"),
    ("恐竜", "きょうりゅう", "457.8"),
    ("昆虫", "こんちゅう", "486"),
    ("鳥", "とり", "488"),
    ("魚", "さかな", "487"),
    ("天気", "てんき", "451"),
    ("健康", "けんこう", "498"),
    ("医学", "いがく", "490"),
    ("病気", "びょうき", "493"),
    ("睡眠", "すいみん", "498.3"),
    ("写真", "しゃしん", "740"),
    ("映画", "えいが", "778"),
    ("野球", "やきゅう", "783.7"),
    ("サッカー", "さっかー", "783.4"),
    ("将棋", "しょうぎ", "796"),
    ("囲碁", "いご", "795"),
    ("図書館", "としょかん", "010"),
    ("本", "ほん", "020"),
    ("辞典", "じてん", "031"),
    ("哲学", "てつがく", "100"),
    ("仏教", "ぶっきょう", "180"),
    ("神話", "しんわ", "164"),
    ("法律", "ほうりつ", "320"),
    ("政治", "せいじ", "310"),
    ("教育", "きょういく", "370"),
    ("コンピュータ", "こんぴゅーた", "007"),
    ("プログラミング", "ぷろぐらみんぐ", "007.6"),
    ("建築", "けんちく", "520"),
    ("機械", "きかい", "530"),
    ("農業", "のうぎょう", "610"),
    ("パン", "ぱん", "596.6"),
    ("お菓子", "おかし", "596.6"),
    ("茶", "ちゃ", "791"),
    ("着物", "きもの", "593"),
    ("手紙", "てがみ", "816.6"),
    ("夢", "ゆめ", "145.2"),
    ("月", "つき", "446"),
    ("風", "かぜ", "451.4"),
    ("雪", "ゆき", "451.6"),
    ("川", "かわ", "452.9"),
    ("島", "しま", "290"),
    ("町", "まち", "318.7"),
    ("学校", "がっこう", "374"),
    ("友だち", "ともだち", "361.4"),
    ("戦争", "せんそう", "391"),
    ("平和", "へいわ", "319.8"),
    ("祭り", "まつり", "386"),
    ("妖怪", "ようかい", "388.1"),
)
_PLACES: tuple[tuple[str, str], ...] = (
    ("東京", "とうきょう"),
    ("京都", "きょうと"),
    ("大阪", "おおさか"),
    ("北海道", "ほっかいどう"),
    ("沖縄", "おきなわ"),
    ("鎌倉", "かまくら"),
    ("湘南", "しょうなん"),
    ("藤沢", "ふじさわ"),
    ("奈良", "なら"),
    ("横浜", "よこはま"),
    ("江戸", "えど"),
    ("神戸", "こうべ"),
    ("長崎", "ながさき"),
    ("金沢", "かなざわ"),
    ("信州", "しんしゅう"),
    ("東北", "とうほく"),
    ("九州", "きゅうしゅう"),
    ("四国", "しこく"),
    ("富士山", "ふじさん"),
    ("瀬戸内", "せとうち"),
)
_FAMILY: tuple[tuple[str, str], ...] = (
    ("佐藤", "さとう"),
    ("鈴木", "すずき"),
    ("高橋", "たかはし"),
    ("田中", "たなか"),
    ("伊藤", "いとう"),
    ("渡辺", "わたなべ"),
    ("山本", "やまもと"),
    ("中村", "なかむら"),
    ("小林", "こばやし"),
    ("加藤", "かとう"),
    ("吉田", "よしだ"),
    ("山田", "やまだ"),
    ("佐々木", "ささき"),
    ("山口", "やまぐち"),
    ("松本", "まつもと"),
    ("井上", "いのうえ"),
    ("木村", "きむら"),
    ("林", "はやし"),
    ("清水", "しみず"),
    ("山崎", "やまざき"),
    ("森", "もり"),
    ("池田", "いけだ"),
    ("橋本", "はしもと"),
    ("阿部", "あべ"),
    ("石川", "いしかわ"),
    ("前田", "まえだ"),
    ("藤田", "ふじた"),
    ("岡田", "おかだ"),
    ("後藤", "ごとう"),
    ("長谷川", "はせがわ"),
    ("村上", "むらかみ"),
    ("近藤", "こんどう"),
    ("石井", "いしい"),
    ("坂本", "さかもと"),
    ("遠藤", "えんどう"),
    ("青木", "あおき"),
    ("藤井", "ふじい"),
    ("西村", "にしむら"),
    ("福田", "ふくだ"),
    ("太田", "おおた"),
)
_GIVEN: tuple[tuple[str, str], ...] = (
    ("太郎", "たろう"),
    ("花子", "はなこ"),
    ("健一", "けんいち"),
    ("美咲", "みさき"),
    ("翔", "しょう"),
    ("陽菜", "ひな"),
    ("大輔", "だいすけ"),
    ("由美", "ゆみ"),
    ("誠", "まこと"),
    ("恵子", "けいこ"),
    ("浩", "ひろし"),
    ("直子", "なおこ"),
    ("拓也", "たくや"),
    ("さくら", "さくら"),
    ("隆", "たかし"),
    ("真理子", "まりこ"),
    ("修", "おさむ"),
    ("久美子", "くみこ"),
    ("剛", "つよし"),
    ("明美", "あけみ"),
    ("一郎", "いちろう"),
    ("優子", "ゆうこ"),
    ("和也", "かずや"),
    ("智子", "ともこ"),
    ("亮", "りょう"),
    ("葵", "あおい"),
    ("蓮", "れん"),
    ("結衣", "ゆい"),
    ("正樹", "まさき"),
    ("千尋", "ちひろ"),
    ("光", "ひかる"),
    ("綾", "あや"),
)
# (name, reading, children's publisher?)
_PUBLISHERS: tuple[tuple[str, str, bool], ...] = (
    ("岩波書店", "いわなみしょてん", False),
    ("講談社", "こうだんしゃ", False),
    ("新潮社", "しんちょうしゃ", False),
    ("集英社", "しゅうえいしゃ", False),
    ("小学館", "しょうがくかん", False),
    ("文藝春秋", "ぶんげいしゅんじゅう", False),
    ("筑摩書房", "ちくましょぼう", False),
    ("中央公論新社", "ちゅうおうこうろんしんしゃ", False),
    ("河出書房新社", "かわでしょぼうしんしゃ", False),
    ("光文社", "こうぶんしゃ", False),
    ("平凡社", "へいぼんしゃ", False),
    ("有斐閣", "ゆうひかく", False),
    ("岩波文庫", "いわなみぶんこ", False),
    ("新潮文庫", "しんちょうぶんこ", False),
    ("講談社文庫", "こうだんしゃぶんこ", False),
    ("角川文庫", "かどかわぶんこ", False),
    ("ちくま文庫", "ちくまぶんこ", False),
    ("中公文庫", "ちゅうこうぶんこ", False),
    ("偕成社", "かいせいしゃ", True),
    ("福音館書店", "ふくいんかんしょてん", True),
    ("ポプラ社", "ぽぷらしゃ", True),
    ("あかね書房", "あかねしょぼう", True),
)


# Subtitles; "{p}" is a place name.
_SUBTITLES = (
    "基礎から応用まで",
    "図解",
    "新装版",
    "決定版",
    "100のヒント",
    "{p}編",
    "写真でたどる",
    "いま知っておきたいこと",
    "はじめの一歩",
    "ある家族の記録",
    "{p}から見た",
    "こころに残る話",
)


def _pattern_title(rng: random.Random) -> tuple[str, str, str, bool]:
    """(title, reading, NDC, children's?) from one of the title patterns."""
    a = rng.choice(_NOUNS)
    b = rng.choice(_NOUNS)
    place = rng.choice(_PLACES)
    kind = rng.randrange(12)
    if kind == 0:
        return f"{a[0]}の{b[0]}", f"{a[1]}の{b[1]}", b[2], False
    if kind == 1:
        return f"{a[0]}と{b[0]}", f"{a[1]}と{b[1]}", "913.6", False
    if kind == 2:
        return f"はじめての{a[0]}", f"はじめての{a[1]}", a[2], rng.random() < 0.5
    if kind == 3:
        return f"{a[0]}{b[0]}入門", f"{a[1]}{b[1]}にゅうもん", b[2], False
    if kind == 4:
        return f"{place[0]}の{a[0]}物語", f"{place[1]}の{a[1]}ものがたり", "913.6", False
    if kind == 5:
        return f"{a[0]}のひみつ", f"{a[1]}のひみつ", a[2], True
    if kind == 6:
        return f"よくわかる{a[0]}", f"よくわかる{a[1]}", a[2], False
    if kind == 7:
        return f"{place[0]}{a[0]}散歩", f"{place[1]}{a[1]}さんぽ", "291", False
    if kind == 8:
        return f"{a[0]}をめぐる冒険", f"{a[1]}をめぐるぼうけん", "913.6", False
    if kind == 9:
        return f"{a[0]}ずかん", f"{a[1]}ずかん", a[2], True
    if kind == 10:
        return f"{a[0]}の{b[0]}の話", f"{a[1]}の{b[1]}のはなし", a[2], False
    return f"{place[0]}の{a[0]}と{b[0]}", f"{place[1]}の{a[1]}と{b[1]}", a[2], False


def _isbn13(rng: random.Random) -> str:
    body = "9784" + "".join(str(rng.randrange(10)) for _ in range(8))
    check = (10 - sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:8]}-{body[8:12]}-{check}"


def _synthetic_row(rng: random.Random, number: int, work_id: int, now: datetime) -> dict[str, Any]:
    title, yomi, ndc, children = _pattern_title(rng)
    if rng.random() < 0.08:  # a volume of a series
        volume = rng.randrange(1, 12)
        title, yomi = f"{title} 第{volume}巻", f"{yomi} だい{volume}かん"
    subtitle = ""
    if rng.random() < 0.3:  # the table keeps no separate subtitle reading
        subtitle = rng.choice(_SUBTITLES).format(p=rng.choice(_PLACES)[0])
    people = [(rng.choice(_FAMILY), rng.choice(_GIVEN)) for _ in range(1 + (rng.random() < 0.2))]
    authors = SEP.join(f"{f[0]} {g[0]}" for f, g in people)
    authors_yomi = SEP.join(f"{f[1]} {g[1]}" for f, g in people)
    role = "編" if rng.random() < 0.15 else "著"
    publisher = rng.choice([p for p in _PUBLISHERS if p[2]] if children else _PUBLISHERS)
    if children:
        ndc = "K" + ndc.split(".")[0] if not ndc.startswith("K") else ndc
    year = int(rng.triangular(1950, 2026, 2018))
    isbn = _isbn13(rng) if year >= 1970 and rng.random() < 0.7 else ""
    subject = title.split("の")[0][:10] if rng.random() < 0.5 else ""
    yomi_norm = search.normalise(yomi)
    return {
        "id": work_id,
        "source": "synth",
        "source_id": f"s{number:08d}",
        "title": title,
        "title_yomi": yomi,
        "title_romaji": "",
        "subtitle": subtitle,
        "responsibility": f"{'、'.join(f[0] + g[0] for f, g in people)} {role}",
        "authors": authors,
        "authors_yomi": authors_yomi,
        "publisher": publisher[0],
        "publisher_yomi": publisher[1],
        "pub_place": "東京",
        "pub_year": year,
        "edition": "",
        "extent": f"{rng.randrange(32, 480)}p {rng.choice((15, 19, 21, 26))}cm",
        "series": "",
        "ndc": ndc,
        "subjects": subject,
        "subjects_yomi": "",
        "isbn": isbn,
        "language": "jpn",
        "notes": "",
        "source_url": "",
        "title_norm": search.normalise(title),
        "yomi_norm": yomi_norm,
        "sort_key": yomi_norm,
        "updated_at": now,
    }


_SYNTH_BATCH = 5000


def _next_synth_number(conn: Connection) -> int:
    last = conn.execute(text("SELECT max(source_id) FROM work WHERE source = 'synth'")).scalar_one()
    return int(last[1:]) + 1 if last else 1


def _insert_synthetic(conn: Connection, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    conn.execute(
        text(
            f"INSERT INTO work ({', '.join(cols)}) "  # our own column names
            f"VALUES ({', '.join(':' + c for c in cols)})"
        ),
        rows,
    )
    ndc_rows = [
        {"ndc": code, "id": r["id"], "cls": cls}
        for r in rows
        for code, cls in ndc_classes(r["ndc"].split(SEP))
    ]
    if ndc_rows:
        conn.execute(
            text("INSERT INTO work_ndc (ndc, work_id, cls) VALUES (:ndc, :id, :cls)"), ndc_rows
        )
    isbn_rows = [
        {"isbn": isbn, "id": r["id"]}
        for r in rows
        if r["isbn"] and (isbn := search.isbn13_of(r["isbn"]))
    ]
    if isbn_rows:
        conn.execute(text("INSERT INTO work_isbn (isbn13, work_id) VALUES (:isbn, :id)"), isbn_rows)
    SearchIndex(conn).add(rows)


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


def synthesize(
    write: Callable[[], AbstractContextManager[Connection]],
    works: int,
    seed_value: int,
    now: datetime,
) -> int:
    """Add `works` synthetic works (source "synth", ids "s00000001"…) with their copies.

    Titles combine a vocabulary of common title words with readings ("{語}の{語}",
    "はじめての{語}", "{語}{語}入門", "{地名}の{語}物語" …); authors, publishers, NDC
    classes (including K for children's titles), years 1950–2025 and ISBNs (70 % of books
    from 1970 on) are drawn alongside. Works are written in batches of 5,000, one
    transaction each, straight into the tables and the search index (no per-row lookups),
    and given copies exactly as `generate_copies` would. Reproducible for a given seed and
    starting catalog.
    """
    made = 0
    for size in _chunks(works, _SYNTH_BATCH):
        with write() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                conn.execute(text("LOCK TABLE work IN SHARE ROW EXCLUSIVE MODE"))
            first_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM work")).scalar_one() + 1
            number = _next_synth_number(conn)
            rng = random.Random(f"synth:{seed_value}:{number}")  # noqa: S311 - not secrets
            rows = [_synthetic_row(rng, number + i, first_id + i, now) for i in range(size)]
            _insert_synthetic(conn, rows)
            if pg:
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('work', 'id'), "
                        "(SELECT max(id) FROM work))"
                    )
                )
            branch_ids = _branch_ids(conn)
            _insert_items(conn, [c for r in rows for c in _plan_copies(r, seed_value, branch_ids)])
        made += size
    return made
