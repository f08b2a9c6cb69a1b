"""Writes db/data/kanji_itaiji.txt: 異体字 folded for search beyond db/data/kanji_variants.txt.

    apt-get install unicode-data   # Debian's copy of the Unicode Character Database
    .venv/bin/python scripts/make_kanji_itaiji.py [/usr/share/unicode]

Source 1 (generated): Unihan (Unicode 15.0, Debian package unicode-data), fields
kJinmeiyoKanji and kJoyoKanji. Their "2010:U+XXXX" values are the Japanese government's
lists: the 人名用漢字 別表第二 variants and the 常用漢字表's bracketed traditional forms, each
with its standard form. Being Japanese lists they hold no Chinese simplified forms and no
financial numerals.

Source 2 (curated by hand, below): 異体字 common in Japanese surnames that are in JIS X 0213
but in neither list (髙, 﨑, 𠮷 …). Each was checked against the JIS X 0213 glyph and the
way Japanese catalogues and name registers treat it as the same name; 𠮷→吉 is also
Unihan's kSpoofingVariant. 斉→斎 is a decision for names: 斉藤 and 斎藤 are written for one
surname, so a search for either finds both (it also joins 一斉 and 一斎, a small cost).

Entries already in kanji_variants.txt are left out; chains are resolved to the final form.
"""

from __future__ import annotations

import bz2
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "db" / "data" / "kanji_itaiji.txt"

CURATED = {
    "髙": "高",  # はしご高
    "﨑": "崎",  # たつさき (U+FA11, no canonical decomposition)
    "嵜": "崎",
    "𠮷": "吉",  # つちよし (U+20BB7, outside the BMP)
    "邉": "辺",
    "濵": "浜",
    "斉": "斎",  # see the docstring
    "鷗": "鴎",
    "桒": "桑",
    "栁": "柳",
    "舘": "館",
    "嶌": "島",
    "槗": "橋",
    "邨": "村",
}

# Never folded, whatever a list says: financial numerals and their plain numbers differ.
FINANCIAL = set("壹壱弐貳參参肆伍陸漆捌玖拾佰阡萬一二三四五六七八九十百千万")

HEADER = """\
# 異体字 folded to one form for search (db.search), beyond kanji_variants.txt.
# Made by scripts/make_kanji_itaiji.py; see it for how the list was curated.
# One pair a line: variant, TAB, form searched, TAB, source.
#   unihan-jinmei / unihan-joyo: Unicode Unihan 15.0 kJinmeiyoKanji / kJoyoKanji (the
#     人名用漢字 and 常用漢字 lists), from Debian's unicode-data package.
#     Unicode License: Copyright © 1991-2022 Unicode, Inc. Permission is granted to use,
#     copy, modify and distribute the Data Files provided that this notice appears with
#     them (https://www.unicode.org/license.txt; full text in kanji_itaiji.LICENSE).
#   curated: added by hand for surnames (JIS X 0213 characters); see the script.
"""


def unihan_pairs(folder: Path) -> dict[str, tuple[str, str]]:
    pairs: dict[str, tuple[str, str]] = {}
    with bz2.open(folder / "Unihan_OtherMappings.txt.bz2", "rt", encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[1] not in ("kJinmeiyoKanji", "kJoyoKanji"):
                continue
            for value in parts[2].split():
                if ":U+" in value:
                    variant = chr(int(parts[0][2:], 16))
                    standard = chr(int(value.split(":U+")[1], 16))
                    source = "unihan-jinmei" if parts[1] == "kJinmeiyoKanji" else "unihan-joyo"
                    pairs[variant] = (standard, source)
    return pairs


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/share/unicode")
    existing = {}
    for line in (ROOT / "db" / "data" / "kanji_variants.txt").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            old, new = line.split("\t")
            existing[old] = new
    pairs = unihan_pairs(folder)
    pairs.update({k: (v, "curated") for k, v in CURATED.items()})
    final = {**existing, **{k: v for k, (v, _) in pairs.items()}}

    def resolve(ch: str) -> str:
        seen = {ch}
        while ch in final and final[ch] not in seen:
            ch = final[ch]
            seen.add(ch)
        return ch

    lines = []
    for variant, (_, source) in sorted(pairs.items()):
        target = resolve(variant)
        if variant in existing or target == variant:
            continue
        if unicodedata.normalize("NFKC", target) == variant:
            continue  # the list's form is a compatibility ideograph NFKC already folds

        if variant in FINANCIAL or target in FINANCIAL:
            continue
        lines.append(f"{variant}\t{target}\t{source}")
    OUT.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} pairs written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
