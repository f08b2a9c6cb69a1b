"""MARC 21 (ISO 2709 binary or MARCXML) → `WorkRecord`, for NDL and LoC conventions.

The two big sources pair their 880 (alternate graphic representation) fields the opposite
way round:

* **NDL JAPAN/MARC** (003 `JTNDL`): the regular field (245, 260, 650, 700 …) holds the
  kanji form. Its `$6 880-NN` links to two 880s: `$6 245-NN/$1` holds the katakana
  reading (yomi) and `$6 245-NN/(B` the romanisation.
* **Library of Congress** (003 `DLC`, and other libraries following MARC 21 practice): the
  regular field is romanised and the 880 holds the vernacular script.

With the NDL convention the reading goes to `*_yomi` and the romanisation to
`title_romaji`. With the LoC convention, when the 880 is written in a CJK script (kanji,
kana, hangul) it becomes the displayed form and the romanised field goes to `title_romaji`
(for names, publishers and subjects, which have no romaji column, to `*_yomi`, so a
romanised query still finds them). Other scripts keep the romanised form.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
import xml.sax
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pymarc
from pymarc.marcxml import XmlHandler

from db.catalog_write import ImportProblem, ImportReport, WorkRecord
from db.errors import Refusal

_TRAILING = re.compile(r"[\s\u3000]*[/:;=,.／：；＝，．、。]+[\s\u3000]*$")
_ISBN_TOKEN = re.compile(r"[0-9０-９][0-9０-９\-‐－Xx]{8,16}")
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_LINK = re.compile(r"^(\d{3})-(\d{2})(?:/(.*))?$")
_TITLE_CODES = "abnp"
_SUBJECT_TAGS = ("600", "610", "611", "630", "650", "651")
_SUBJECT_CODES = "atvxyz"


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def trim(value: str) -> str:
    """Remove trailing ISBD punctuation (" /", " :", " ;", " =", ",", ".") and spaces."""
    value = " ".join(value.split())
    previous = None
    while previous != value:
        previous = value
        value = _TRAILING.sub("", value).strip()
    return value


def _is_cjk(text: str) -> bool:
    for ch in text:
        code = ord(ch)
        if (
            0x3040 <= code <= 0x30FF  # kana
            or 0x3400 <= code <= 0x9FFF  # CJK ideographs
            or 0xAC00 <= code <= 0xD7AF  # hangul syllables
            or 0x1100 <= code <= 0x11FF
            or 0x3130 <= code <= 0x318F
            or 0xF900 <= code <= 0xFAFF
            or 0xFF66 <= code <= 0xFF9F
            or 0x20000 <= code <= 0x2FFFF
        ):
            return True
    return False


def _subfields(field: Any, codes: str) -> list[str]:
    return [_nfc(sf.value) for sf in field.subfields if sf.code in codes and sf.value]


def _joined(field: Any, codes: str) -> str:
    return trim(" ".join(v.strip() for v in _subfields(field, codes)))


@dataclass(frozen=True)
class _Forms:
    """One field's text in its displayed form, its reading and its romanisation."""

    display: str
    reading: str = ""
    romaji: str = ""


class _Linked:
    """The 880 fields of a record, found by the tag and occurrence of their partner."""

    def __init__(self, record: Any, ndl: bool) -> None:
        self.ndl = ndl
        self.by_key: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        for field in record.get_fields("880"):
            link = _LINK.match((field.get("6") or "").strip())
            if link and link.group(2) != "00":
                key = (link.group(1), link.group(2))
                self.by_key.setdefault(key, []).append((link.group(3) or "", field))

    def forms(self, field: Any, text_of: Any) -> _Forms:
        """`text_of(field) -> str` applied to the field and its linked 880s."""
        base = text_of(field)
        link = _LINK.match((field.get("6") or "").strip())
        partners = self.by_key.get((field.tag, link.group(2)), []) if link else []
        if self.ndl:
            reading = next((text_of(f) for s, f in partners if s.startswith("$1")), "")
            romaji = next((text_of(f) for s, f in partners if s.startswith("(B")), "")
            return _Forms(base, reading, romaji)
        if not _is_cjk(base):
            for _, partner in partners:
                vernacular = text_of(partner)
                if _is_cjk(vernacular):
                    return _Forms(vernacular, romaji=base)
        return _Forms(base)


def _isbns(record: Any) -> tuple[str, ...]:
    found: list[str] = []
    for field in record.get_fields("020"):
        for raw in _subfields(field, "a"):
            token = _ISBN_TOKEN.search(raw)
            if token and token.group(0) not in found:
                found.append(token.group(0))
    return tuple(found)


def _ndc(record: Any) -> tuple[str, ...]:
    found: list[str] = []
    for field in record.get_fields("084"):
        scheme = (field.get("2") or "").strip().lower()
        if scheme.startswith("njb"):
            found.extend(trim(v) for v in _subfields(field, "a") if trim(v) not in found)
    return tuple(found)


def _control(record: Any, tag: str) -> str:
    field = record.get(tag)
    return _nfc(field.data) if field is not None and field.data else ""


def _pub_year(fixed: str, dates: list[str]) -> int | None:
    year = fixed[7:11]
    if year.isdigit():
        return int(year)
    for value in dates:
        match = _YEAR.search(value)
        if match:
            return int(match.group(1))
    return None


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _fallback_id(record: Any) -> str:
    """A stable id for a record without 001: a digest of its content."""
    return "h" + hashlib.sha256(record.as_json().encode("utf-8")).hexdigest()[:20]


def record_to_work(record: Any, forced_source: str | None) -> WorkRecord | Refusal:
    """The record as a WorkRecord, or the reason it cannot be loaded."""
    org = _control(record, "003").strip().upper()
    source = forced_source or {"JTNDL": "ndl", "DLC": "loc"}.get(org, "marc")
    linked = _Linked(record, ndl=source == "ndl")
    source_id = _control(record, "001").strip()[:64] or _fallback_id(record)

    title_field = record.get("245")
    title = linked.forms(title_field, lambda f: _joined(f, _TITLE_CODES)) if title_field else None
    if title is None or not title.display:
        return Refusal.of("import_no_title")
    responsibility = (
        linked.forms(title_field, lambda f: _joined(f, "c")).display if title_field else ""
    )

    authors, authors_yomi = [], []
    for tag in ("100", "700"):
        for field in record.get_fields(tag):
            name = linked.forms(field, lambda f: _joined(f, "a"))
            if name.display:
                authors.append(name.display)
                if name.reading or name.romaji:
                    authors_yomi.append(name.reading or name.romaji)

    publishers, publishers_yomi, places, dates = [], [], [], []
    for tag in ("260", "264"):
        for field in record.get_fields(tag):
            if tag == "264" and field.indicators.second not in ("1", " "):
                continue  # 264 _2/_3/_4: distributor, manufacturer, copyright date
            pub = linked.forms(field, lambda f: " ; ".join(trim(v) for v in _subfields(f, "b")))
            publishers.append(trim(pub.display))
            publishers_yomi.append(trim(pub.reading or pub.romaji))
            place = linked.forms(field, lambda f: trim(next(iter(_subfields(f, "a")), "")))
            places.append(place.display.strip("[]"))
            dates.extend(_subfields(field, "c"))

    series = []
    for tag in ("490", "440"):
        for field in record.get_fields(tag):
            series.append(
                linked.forms(
                    field, lambda f: " ; ".join(trim(v) for v in _subfields(f, "av"))
                ).display
            )

    subjects, subjects_yomi = [], []
    for tag in _SUBJECT_TAGS:
        for field in record.get_fields(tag):
            subject = linked.forms(
                field, lambda f: " -- ".join(trim(v) for v in _subfields(f, _SUBJECT_CODES))
            )
            if subject.display:
                subjects.append(subject.display)
                if subject.reading or subject.romaji:
                    subjects_yomi.append(subject.reading or subject.romaji)

    fixed = _control(record, "008")
    language = fixed[35:38].strip() if len(fixed) >= 38 else ""
    return WorkRecord(
        source=source,
        source_id=source_id,
        title=title.display,
        title_yomi=title.reading,
        title_romaji=title.romaji,
        responsibility=responsibility,
        authors=_unique(authors),
        authors_yomi=_unique(authors_yomi),
        publisher=next((p for p in publishers if p), ""),
        publisher_yomi=next((p for p in publishers_yomi if p), ""),
        pub_place=next((p for p in places if p), ""),
        pub_year=_pub_year(fixed, dates),
        edition=" ".join(
            linked.forms(f, lambda g: _joined(g, "ab")).display for f in record.get_fields("250")
        ),
        extent=" ".join(_joined(f, "abce") for f in record.get_fields("300")),
        series=" | ".join(_unique(series)),
        ndc=_ndc(record),
        subjects=_unique(subjects),
        subjects_yomi=_unique(subjects_yomi),
        isbns=_isbns(record),
        language=language if language.isalpha() else "",
        notes=" / ".join(trim(v) for f in record.get_fields("500") for v in _subfields(f, "a")),
    )


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    return "; ".join(str(w.message)[:200] for w in caught)


def read_binary(fh: BinaryIO, source: str | None, report: ImportReport) -> Iterator[WorkRecord]:
    """Records of an ISO 2709 file; unparseable or untitled ones become problems."""
    reader = pymarc.MARCReader(fh, to_unicode=True, force_utf8=False, permissive=True)
    n = 0
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                record = next(reader)
            except StopIteration:
                return
        n += 1
        if record is None:
            # pymarc always sets the exception when it gives no record; the base is a guard.
            error = reader.current_exception or pymarc.exceptions.PymarcException()
            unreadable = Refusal.of(
                "import_unreadable_record", error=type(error).__name__, detail=str(error)[:300]
            )
            report.problems.append(ImportProblem("record", n, unreadable))
            continue
        work = record_to_work(record, source)
        if isinstance(work, Refusal):
            report.problems.append(ImportProblem("record", n, work))
            continue
        if caught:
            damaged = Refusal.of("import_record_damaged", detail=_warning_text(caught))
            report.problems.append(ImportProblem("record", n, damaged))
        yield work


class _Collector(XmlHandler):
    def __init__(self) -> None:
        super().__init__(strict=False, normalize_form="NFC")  # type: ignore[no-untyped-call]
        self.pending: list[Any] = []

    def process_record(self, record: Any) -> None:
        self.pending.append(record)


def read_xml(fh: BinaryIO, source: str | None, report: ImportReport) -> Iterator[WorkRecord]:
    """Records of a MARCXML file, parsed incrementally (a SAX feed, not the whole tree)."""
    handler = _Collector()
    # Python's expat reader resolves no external entities (feature_external_ges is off by
    # default, and set off again below) and expat >= 2.4 limits entity expansion.
    parser = xml.sax.make_parser()  # noqa: S317
    parser.setContentHandler(handler)
    parser.setFeature(xml.sax.handler.feature_namespaces, True)
    parser.setFeature(xml.sax.handler.feature_external_ges, False)
    n = 0
    while True:
        chunk = fh.read(1 << 16)
        try:
            if chunk:
                parser.feed(chunk)  # type: ignore[attr-defined]  # expat reader is incremental
            else:
                parser.close()  # type: ignore[attr-defined]
        except xml.sax.SAXException as error:
            malformed = Refusal.of("import_malformed_xml", detail=str(error))
            at = n + len(handler.pending) + 1
            report.problems.append(ImportProblem("record", at, malformed))
            chunk = b""
        for record in handler.pending:
            n += 1
            work = record_to_work(record, source)
            if isinstance(work, Refusal):
                report.problems.append(ImportProblem("record", n, work))
            else:
                yield work
        handler.pending.clear()
        if not chunk:
            return
