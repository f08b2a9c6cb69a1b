"""Aozora Bunko catalogue CSV → `WorkRecord`.

Two layouts are read:

* the one-row-per-work CSV (`aozora_works.csv.gz`, English headers `work_id,title,…`);
* Aozora's own 「公開中 作家別作品一覧拡充版」 CSV (`aozora_catalog.csv.gz`, UTF-8 with BOM,
  Japanese headers `作品ID,作品名,…`), one row per (work × person). Its rows are grouped by
  作品ID into the same shape as the first layout, so both give identical records.

A row without a work id or a title is reported as a problem (its line, and the missing
fields as codes: `work_id`, `title`) and the rest of the file still loads.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import TextIO

from db import rules
from db.catalog_write import SEP, ImportProblem, ImportReport, WorkRecord
from db.errors import Refusal

WORKS_HEADER_START = ("work_id", "title")
CATALOG_HEADER_START = ("作品ID", "作品名")

# Role words of Aozora's 役割フラグ as they read after a name in a statement of
# responsibility ("夏目 漱石 著 / 二葉亭 四迷 訳").
_ROLE_SUFFIX = {"著者": "著", "翻訳者": "訳", "編者": "編", "校訂者": "校訂"}
_YEAR = re.compile(r"^\d{4}$")


def _clean(value: str | None) -> str:
    return unicodedata.normalize("NFC", (value or "").strip())


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(SEP.strip()) if v.strip()]


def _responsibility(authors: list[str], translators: list[str], others: list[str]) -> str:
    parts: list[str] = []
    if authors:
        parts.append(", ".join(authors) + " 著")
    if translators:
        parts.append(", ".join(translators) + " 訳")
    for other in others:  # "編者:西郷 隆盛"
        role, _, name = other.partition(":")
        if not name:
            parts.append(other)
        elif role in _ROLE_SUFFIX:
            parts.append(f"{name} {_ROLE_SUFFIX[role]}")
        else:
            parts.append(f"{name}（{role}）")
    return " / ".join(parts)


def record_from_row(row: dict[str, str]) -> WorkRecord:
    """One work-level row (English headers) as a record. Caller checks id and title."""
    authors = _split(_clean(row.get("authors")))
    translators = _split(_clean(row.get("translators")))
    others = _split(_clean(row.get("other_contributors")))
    year = _clean(row.get("source_year"))
    notes = []
    if _clean(row.get("original_title")):
        notes.append("原題: " + _clean(row.get("original_title")))
    if _clean(row.get("first_appearance")):
        notes.append("初出: " + _clean(row.get("first_appearance")))
    if _clean(row.get("kana_type")):
        notes.append("文字遣い: " + _clean(row.get("kana_type")))
    return WorkRecord(
        source="aozora",
        source_id=_clean(row.get("work_id")),
        title=_clean(row.get("title")),
        title_yomi=_clean(row.get("title_yomi")),
        subtitle=_clean(row.get("subtitle")),
        responsibility=_responsibility(authors, translators, others),
        authors=tuple(authors),
        authors_yomi=tuple(_split(_clean(row.get("authors_yomi")))),
        publisher=_clean(row.get("source_publisher")),
        pub_year=int(year) if _YEAR.match(year) else None,
        ndc=tuple(_clean(row.get("ndc")).split()),
        language="jpn",
        notes=" / ".join(notes),
        source_url=_clean(row.get("card_url")),
    )


class BoundedLines:
    """The lines of a CSV text stream for `csv.reader`, each read at most
    IMPORT_MAX_RECORD_CHARS at a time: a longer line is reported and skipped (an empty line
    goes to the reader instead), and a row whose lines together pass the bound (broken
    quoting) stops the file with `csv.Error`."""

    def __init__(self, fh: TextIO, report: ImportReport) -> None:
        self.fh = fh
        self.report = report
        self.line = 0
        self.row_chars = 0

    def __iter__(self) -> BoundedLines:
        return self

    def __next__(self) -> str:
        limit = rules.IMPORT_MAX_RECORD_CHARS
        text = self.fh.readline(limit + 1)
        if not text:
            raise StopIteration
        self.line += 1
        if len(text) > limit:
            while text and not text.endswith(("\n", "\r")):
                text = self.fh.readline(limit + 1)
            reason = Refusal.of("import_row_too_long", limit=limit)
            self.report.note(ImportProblem("line", self.line, reason))
            return "\n"
        self.row_chars += len(text)
        if self.row_chars > limit:
            raise csv.Error(f"a row longer than {limit} characters ends on line {self.line}")
        return text

    def row_done(self) -> None:
        self.row_chars = 0


def _too_long(row: dict[str, str]) -> Refusal | None:
    limit = rules.IMPORT_MAX_FIELD_CHARS
    for column, value in row.items():
        if isinstance(value, str) and len(value) > limit:
            return Refusal.of("import_value_too_long", column=column, limit=limit)
        if isinstance(value, list) and any(len(v) > limit for v in value):  # extra columns
            return Refusal.of("import_value_too_long", column="…", limit=limit)
    return None


def _rows(fh: TextIO, report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV file within the bounds; rows over them are reported."""
    lines = BoundedLines(fh, report)
    reader = csv.DictReader(lines)
    for row in reader:
        lines.row_done()
        line = reader.line_num
        too_long = _too_long(row)
        if too_long is not None:
            report.note(ImportProblem("line", line, too_long))
            continue
        yield line, row


def _checked(row: dict[str, str], line: int, report: ImportReport) -> WorkRecord | None:
    missing = tuple(key for key in ("work_id", "title") if not _clean(row.get(key)))
    if missing:
        reason = Refusal.of("import_missing_fields", fields=missing)
        report.note(ImportProblem("line", line, reason))
        return None
    return record_from_row(row)


def read_works_csv(fh: TextIO, report: ImportReport) -> Iterator[WorkRecord]:
    """Records of the one-row-per-work CSV."""
    for line, row in _rows(fh, report):
        record = _checked(row, line, report)
        if record is not None:
            yield record


def _person(row: dict[str, str], family: str, given: str) -> str:
    return " ".join(p for p in (_clean(row.get(family)), _clean(row.get(given))) if p)


def _group_catalog(
    rows: Iterable[tuple[int, dict[str, str]]],
) -> Iterator[tuple[int, dict[str, str]]]:
    """Fold (line, raw row) pairs into work-level rows, in order of first appearance."""
    works: dict[str, tuple[int, dict[str, str], dict[str, list[str]]]] = {}
    order: list[tuple[int, str | dict[str, str]]] = []
    for line, raw in rows:
        work_id = _clean(raw.get("作品ID"))
        if not work_id:  # cannot be grouped: pass through to be reported
            order.append((line, {"work_id": "", "title": _clean(raw.get("作品名"))}))
            continue
        if work_id not in works:
            ndc = _clean(raw.get("分類番号"))
            first = _clean(raw.get("底本初版発行年1"))
            base = {
                "work_id": work_id,
                "title": _clean(raw.get("作品名")),
                "title_yomi": _clean(raw.get("作品名読み")),
                "subtitle": _clean(raw.get("副題")),
                "original_title": _clean(raw.get("原題")),
                "first_appearance": _clean(raw.get("初出")),
                "ndc": ndc.removeprefix("NDC").strip(),
                "kana_type": _clean(raw.get("文字遣い種別")),
                "card_url": _clean(raw.get("図書カードURL")),
                "source_publisher": _clean(raw.get("底本出版社名1")),
                "source_year": first[:4] if first[:4].isdigit() else "",
            }
            people: dict[str, list[str]] = {"authors": [], "yomi": [], "tr": [], "other": []}
            works[work_id] = (line, base, people)
            order.append((line, work_id))
        _, _, people = works[work_id]
        name = _person(raw, "姓", "名")
        role = _clean(raw.get("役割フラグ"))
        if role == "著者":
            people["authors"].append(name)
            people["yomi"].append(_person(raw, "姓読み", "名読み"))
        elif role == "翻訳者":
            people["tr"].append(name)
        elif name:
            people["other"].append(f"{role}:{name}")
    for line, key in order:
        if isinstance(key, dict):
            yield line, key
            continue
        _, base, people = works[key]
        yield (
            line,
            {
                **base,
                "authors": SEP.join(people["authors"]),
                "authors_yomi": SEP.join(people["yomi"]),
                "translators": SEP.join(people["tr"]),
                "other_contributors": SEP.join(people["other"]),
            },
        )


def read_catalog_csv(fh: TextIO, report: ImportReport) -> Iterator[WorkRecord]:
    """Records of Aozora's per-person catalogue CSV, grouped by 作品ID.

    The rows of one work are not adjacent (the file is ordered by person), so the whole
    file is grouped before the first record is produced (about 20,000 rows).
    """
    rows = list(_rows(fh, report))
    for line, row in _group_catalog(rows):
        record = _checked(row, line, report)
        if record is not None:
            yield record
