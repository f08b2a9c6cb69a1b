"""Writes bench/relevance/queries.json: the labelled queries and the works a librarian
expects on page 1, chosen from the demo catalogue (bench/results/relevance.db, built by
bench/relevance.py) by the rules below, one per query.

    .venv/bin/python bench/relevance/make_set.py

A rule names what a librarian would accept: the works with that exact title, by that
author, or the records with that ISBN or NDL number. Rules use the catalogue's own
strings (new-form kanji, ヴ spellings, readings), never the search code, so the set does
not drift when matching changes. The JSON is committed; rerun this only to change the set,
and check the diff by hand.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "relevance" / "queries.json"

Rule = tuple[str, str]  # (kind, value): see `select`

# (category, query, rules for the relevant works, rules for works that must not be on page 1)
CASES: list[tuple[str, str, list[Rule], list[Rule]]] = [
    # Plain titles (Aozora; an exact title may have several works: new/old orthography).
    *[
        ("title", t, [("title", t)], [])
        for t in (
            "羅生門",
            "吾輩は猫である",
            "銀河鉄道の夜",
            "坊っちゃん",
            "こころ",
            "走れメロス",
            "人間失格",
            "蜘蛛の糸",
            "檸檬",
            "山月記",
            "高瀬舟",
            "舞姫",
            "注文の多い料理店",
            "風の又三郎",
            "河童",
            "杜子春",
            "藪の中",
            "蟹工船",
            "たけくらべ",
            "三四郎",
            "草枕",
            "斜陽",
            "ヴィヨンの妻",
            "夢十夜",
            "智恵子抄",
            "外科室",
            "ベートーヴェンの生涯",
        )
    ],
    ("title", "これからの本の話をしよう", [("id", "ndl:029455884")], []),
    ("title", "電子書籍 契約実務", [("id", "ndl:025968143")], []),
    ("title", "火山灰地", [("title_has", "火山灰地")], []),
    # Authors, typed as catalogues write them (with or without the space).
    *[
        ("author", q, [("author", a)], [])
        for q, a in (
            ("夏目漱石", "夏目 漱石"),
            ("芥川竜之介", "芥川 竜之介"),
            ("宮沢賢治", "宮沢 賢治"),
            ("太宰 治", "太宰 治"),
            ("森鴎外", "森 鴎外"),
            ("樋口一葉", "樋口 一葉"),
            ("中島敦", "中島 敦"),
            ("梶井基次郎", "梶井 基次郎"),
            ("与謝野晶子", "与謝野 晶子"),
            ("萩野正昭", "萩野, 正昭"),
            ("渡辺温", "渡辺 温"),
            ("吉川英治", "吉川 英治"),
        )
    ],
    # Variant kanji (異体字) typed for the common forms the catalogue holds, and back.
    ("variant", "髙橋", [("author_has", "高橋"), ("title_has", "高橋")], []),
    ("variant", "髙橋悠治", [("author", "高橋 悠治")], []),
    ("variant", "山﨑", [("author_has", "山崎"), ("title_has", "山崎")], []),
    ("variant", "山﨑富栄", [("author", "山崎 富栄"), ("title_has", "山崎富栄")], []),
    ("variant", "齋藤茂吉", [("author", "斎藤 茂吉"), ("title_has", "斎藤茂吉")], []),
    ("variant", "斉藤茂吉", [("author", "斎藤 茂吉"), ("title_has", "斎藤茂吉")], []),
    ("variant", "齊藤緑雨", [("author", "斎藤 緑雨"), ("title_has", "斎藤緑雨")], []),
    ("variant", "渡邊温", [("author", "渡辺 温")], []),
    ("variant", "渡邉温", [("author", "渡辺 温")], []),
    ("variant", "𠮷川英治", [("author", "吉川 英治")], []),
    ("variant", "𠮷川", [("author_has", "吉川"), ("title_has", "吉川")], []),
    ("variant", "森鷗外", [("author", "森 鴎外")], []),
    ("variant", "芥川龍之介", [("author", "芥川 竜之介")], []),
    ("variant", "濵田青陵", [("author", "浜田 青陵")], []),
    ("variant", "濱田青陵", [("author", "浜田 青陵")], []),
    ("variant", "髙濱虚子", [("author", "高浜 虚子")], []),
    ("variant", "櫻間中庸", [("author", "桜間 中庸")], []),
    ("variant", "帝国文庫 大岡政談", [("id", "aozora:050685")], []),
    # Readings (yomi): kanji titles and names typed in kana.
    ("reading", "らしょうもん", [("title", "羅生門")], []),
    ("reading", "ぎんがてつどうのよる", [("title", "銀河鉄道の夜")], []),
    ("reading", "わがはいはねこである", [("title", "吾輩は猫である")], []),
    ("reading", "はしれめろす", [("title", "走れメロス")], []),
    ("reading", "にんげんしっかく", [("title", "人間失格")], []),
    ("reading", "たかせぶね", [("title", "高瀬舟")], []),
    ("reading", "なつめそうせき", [("author", "夏目 漱石")], []),
    ("reading", "あくたがわりゅうのすけ", [("author", "芥川 竜之介")], []),
    ("reading", "みやざわ けんじ", [("author", "宮沢 賢治")], []),
    ("reading", "だざいおさむ", [("author", "太宰 治")], []),
    ("reading", "ハギノ マサアキ", [("author", "萩野, 正昭")], []),
    ("reading", "これからのほんのはなし", [("id", "ndl:029455884")], []),
    ("reading", "ショウブンシャ", [("publisher", "晶文社")], []),
    ("reading", "ちゅうもんのおおいりょうりてん", [("title", "注文の多い料理店")], []),
    # Romaji: Hepburn, kunrei, long vowels written ou / oo / ō / o.
    ("romaji", "akutagawa", [("author", "芥川 竜之介")], []),
    ("romaji", "akutagawa ryunosuke", [("author", "芥川 竜之介")], []),
    ("romaji", "natsume souseki", [("author", "夏目 漱石")], []),
    ("romaji", "natsume soseki", [("author", "夏目 漱石")], []),
    ("romaji", "natsume sōseki", [("author", "夏目 漱石")], []),
    ("romaji", "natume sooseki", [("author", "夏目 漱石")], []),
    ("romaji", "miyazawa kenji", [("author", "宮沢 賢治")], []),
    ("romaji", "miyazawa kenzi", [("author", "宮沢 賢治")], []),
    ("romaji", "dazai osamu", [("author", "太宰 治")], []),
    ("romaji", "rashomon", [("title", "羅生門")], []),
    ("romaji", "rashoumon", [("title", "羅生門")], []),
    ("romaji", "ginga tetsudo no yoru", [("title", "銀河鉄道の夜")], []),
    ("romaji", "hashire merosu", [("title", "走れメロス")], []),
    ("romaji", "Kazanbaichi", [("title_has", "火山灰地")], []),
    ("romaji", "kubo sakae", [("title_has", "火山灰地")], []),
    ("romaji", "denshi shoseki", [("subject", "電子書籍")], []),
    ("romaji", "hagino masaaki", [("author", "萩野, 正昭")], []),
    ("romaji", "tyuumon no ooi ryouriten", [("title", "注文の多い料理店")], []),
    # Katakana spelling variants of foreign words and names.
    ("katakana", "バイオリン", [("title_has", "ヴァイオリン")], []),
    ("katakana", "ダ・ビンチ", [("id", "aozora:059231")], []),
    ("katakana", "ダビンチ", [("id", "aozora:059231")], []),
    ("katakana", "ベートーベン", [("title_has", "ベートーヴェン")], []),
    ("katakana", "ビヨンの妻", [("title", "ヴィヨンの妻")], []),
    ("katakana", "ベニスに死す", [("title_has", "ヴェニスに死す")], []),
    ("katakana", "ホームズの探偵法", [("title", "ホオムズの探偵法")], []),
    ("katakana", "ボルテール", [("author", "ヴォルテール")], []),
    ("katakana", "バレリー", [("author_has", "ヴァレリー")], []),
    ("katakana", "カザノバ", [("title_has", "カザノヴァ")], []),
    ("katakana", "リップ・バン・ウィンクル", [("title_has", "リップ・ヴァン・ウィンクル")], []),
    ("katakana", "エルビス", [("title_has", "エルヴィス")], []),
    ("katakana", "ラボアジエ", [("title_has", "ラヴォアジエ")], []),
    # Noise: short words whose bigrams also occur across the words of other titles' readings
    # (あい|の|ししゅう holds いのしし): relevant are the titles with the word itself (for 猪: the
    # animal, not the given name 春猪 nor 猪口).
    (
        "noise",
        "イノシシ",
        [
            ("title_has", "いのしし"),
            ("title_has", "イノシシ"),
            *[("id", f"aozora:{i}") for i in ("045170", "054960", "046704", "052223", "002542")],
        ],
        [("title", "愛の詩集")],
    ),
    (
        "noise",
        "いのしし",
        [
            ("title_has", "いのしし"),
            ("title_has", "イノシシ"),
            *[("id", f"aozora:{i}") for i in ("045170", "054960", "046704", "052223", "002542")],
        ],
        [("title", "愛の詩集")],
    ),
    ("noise", "クマ", [("title_has", "熊"), ("title_has", "クマ")], []),
    ("noise", "ウシ", [("title_has", "牛"), ("title_has", "ウシ")], []),
    ("noise", "カニ", [("title_has", "蟹"), ("title_has", "カニ")], []),
    # ISBN and NDL numbers typed in the main box.
    ("number", "ISBN 978-4-7949-7075-6", [("id", "ndl:029455884")], []),
    ("number", "ISBN4-7949-7075-7", [("id", "ndl:029455884")], []),
    ("number", "isbn:9784794970756", [("id", "ndl:029455884")], []),
    ("number", "978-4-255-01110-3", [("id", "ndl:029611852")], []),
    ("number", "ISBN 978-4-89628-987-9", [("id", "ndl:025968143")], []),
    ("number", "4-8222-4375-3", [("id", "ndl:000004309809")], []),
    ("number", "029455884", [("id", "ndl:029455884")], []),
    ("number", "NDL 029611852", [("id", "ndl:029611852")], []),
    ("number", "ndl:000004309809", [("id", "ndl:000004309809")], []),
]


def select(conn: sqlite3.Connection, rule: Rule) -> list[str]:
    kind, value = rule
    where = {
        "id": "source || ':' || source_id = ?",
        "title": "title = ?",
        "title_has": "instr(title || ' ' || subtitle, ?) > 0",
        "yomi_has": "instr(title_yomi, ?) > 0",
        "author": "instr(' | ' || authors || ' | ', ' | ' || ? || ' | ') > 0",
        "author_has": "instr(authors, ?) > 0",
        "publisher": "publisher = ?",
        "subject": "instr(' | ' || subjects || ' | ', ' | ' || ? || ' | ') > 0",
    }[kind]
    rows = conn.execute(f"SELECT source || ':' || source_id FROM work WHERE {where}", (value,))
    return sorted(r[0] for r in rows)


def main() -> None:
    db = ROOT / "bench" / "results" / "relevance.db"
    if not db.exists():
        sys.exit("build the demo catalogue first: .venv/bin/python bench/relevance.py")
    conn = sqlite3.connect(db)
    out: list[dict[str, Any]] = []
    for category, query, good, bad in CASES:
        relevant = sorted({i for rule in good for i in select(conn, rule)})
        if not relevant:
            sys.exit(f"no relevant work for {query!r}: fix its rule")
        case: dict[str, Any] = {"category": category, "query": query, "relevant": relevant}
        if bad:
            case["not_on_page_1"] = sorted({i for rule in bad for i in select(conn, rule)})
        out.append(case)
    OUT.write_text(
        json.dumps({"queries": out}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{len(out)} queries written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
