"""The synthetic catalogue for benchmarks: reproducible Japanese-looking works, added
through the query layer's bulk write (`queries.add_works`) in batches of 5,000, one
transaction each, with copies made as the demo catalogue's are.

    .venv/bin/python bench/synth.py --works 1000000 [--seed 1] [--url sqlite:///…]

Titles combine a vocabulary of common title words with readings ("{語}の{語}",
"はじめての{語}", "{語}{語}入門", "{地名}の{語}物語" …). Works are numbered "s00000001"…
after the synthetic works already there, and each batch's choices come from a
`random.Random` seeded with the seed and its first number, so a given seed over a given
catalogue always gives the same works.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import queries  # noqa: E402
from db.queries import WorkRecord  # noqa: E402

BATCH = 5000

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


def synthetic_work(rng: random.Random, number: int) -> WorkRecord:
    """One synthetic work: a title pattern with its reading, authors, publisher, NDC class
    (K for children's titles), a year 1950–2025 and an ISBN for 70 % of books from 1970."""
    title, yomi, ndc, children = _pattern_title(rng)
    if rng.random() < 0.08:  # a volume of a series
        volume = rng.randrange(1, 12)
        title, yomi = f"{title} 第{volume}巻", f"{yomi} だい{volume}かん"
    subtitle = ""
    if rng.random() < 0.3:  # the table keeps no separate subtitle reading
        subtitle = rng.choice(_SUBTITLES).format(p=rng.choice(_PLACES)[0])
    people = [(rng.choice(_FAMILY), rng.choice(_GIVEN)) for _ in range(1 + (rng.random() < 0.2))]
    role = "編" if rng.random() < 0.15 else "著"
    publisher = rng.choice([p for p in _PUBLISHERS if p[2]] if children else _PUBLISHERS)
    if children:
        ndc = "K" + ndc.split(".")[0] if not ndc.startswith("K") else ndc
    year = int(rng.triangular(1950, 2026, 2018))
    isbn = _isbn13(rng) if year >= 1970 and rng.random() < 0.7 else ""
    subject = title.split("の")[0][:10] if rng.random() < 0.5 else ""
    return WorkRecord(
        source="synth",
        source_id=f"s{number:08d}",
        title=title,
        title_yomi=yomi,
        subtitle=subtitle,
        responsibility=f"{'、'.join(f[0] + g[0] for f, g in people)} {role}",
        authors=tuple(f"{f[0]} {g[0]}" for f, g in people),
        authors_yomi=tuple(f"{f[1]} {g[1]}" for f, g in people),
        publisher=publisher[0],
        publisher_yomi=publisher[1],
        pub_place="東京",
        pub_year=year,
        extent=f"{rng.randrange(32, 480)}p {rng.choice((15, 19, 21, 26))}cm",
        ndc=(ndc,),
        subjects=(subject,) if subject else (),
        isbns=(isbn,) if isbn else (),
        language="jpn",
    )


def synthesize(works: int, seed_value: int = 1) -> int:
    """Add `works` synthetic works (source "synth") with copies; returns works added."""
    made = 0
    while made < works:
        number = dict(queries.get_catalog_stats().by_source).get("synth", 0) + 1
        rng = random.Random(f"synth:{seed_value}:{number}")
        size = min(BATCH, works - made)
        batch = [synthetic_work(rng, number + n) for n in range(size)]
        made += queries.add_works(batch, copies_seed=seed_value)
    if made:
        queries.optimize_search_index()  # one merge after the load, not one per batch
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description="add a synthetic catalogue for benchmarks")
    parser.add_argument("--works", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--url",
        default=os.environ.get("SHIORI_DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'shiori.db'}"),
        help="database URL (default: SHIORI_DATABASE_URL, else the app's default file)",
    )
    args = parser.parse_args()
    if args.url.startswith("sqlite:///"):
        Path(args.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    queries.configure(args.url)
    queries.migrate_database()
    queries.ensure_reference_data()
    started = time.monotonic()
    made = synthesize(args.works, args.seed)
    print(f"synthetic works: {made} in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
