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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO
from xml.parsers import expat

import pymarc
from pymarc.field import Indicators
from pymarc.leader import Leader

from db import rules
from db.catalog_write import CopyRecord, ImportProblem, ImportReport, WorkRecord
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


_ACQUIRED = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


def _acquired_on(raw: str) -> date | None:
    """876 $d, "YYYYMMDD" or "YYYY-MM-DD" (a bad date is no date: the import's day)."""
    found = _ACQUIRED.match(raw.strip())
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _copies(record: Any) -> tuple[CopyRecord, ...]:
    """Copies from the holdings embedded in the record: one per 852 with a barcode ($p)
    and a branch code ($b); $c the shelf, $h + $i the call number; the 876 with the same
    barcode ($p) gives the acquisition date ($d)."""
    acquired: dict[str, date] = {}
    for field in record.get_fields("876"):
        barcode = trim(next(iter(_subfields(field, "p")), ""))
        day = _acquired_on(next(iter(_subfields(field, "d")), ""))
        if barcode and day is not None:
            acquired[barcode] = day
    copies = []
    for field in record.get_fields("852"):
        barcode = trim(next(iter(_subfields(field, "p")), ""))[:32]
        branch = trim(next(iter(_subfields(field, "b")), ""))[:20]
        if barcode and branch:
            copies.append(
                CopyRecord(
                    barcode=barcode,
                    branch=branch,
                    call_number=" ".join(trim(v) for v in _subfields(field, "hi"))[:100],
                    shelf_location=trim(next(iter(_subfields(field, "c")), ""))[:100],
                    acquired_on=acquired.get(barcode),
                )
            )
    return tuple(copies)


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
        copies=_copies(record),
    )


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    return "; ".join(str(w.message)[:200] for w in caught)


def _beyond_bounds(record: Any, offset: int) -> Refusal | None:
    """Why a parsed record exceeds db.rules' bounds (ISO 2709's own 99,999 bytes mostly
    keep it within them), or None."""
    fields = 0
    chars = 0
    for field in record.fields:
        values = [field.data or ""] if field.control_field else [sf.value for sf in field]
        fields += 1 + (0 if field.control_field else len(values))
        for value in values:
            chars += len(value)
            if len(value) > rules.IMPORT_MAX_FIELD_CHARS:
                limit = rules.IMPORT_MAX_FIELD_CHARS
                return Refusal.of(
                    "import_field_too_long", tag=field.tag, limit=limit, offset=offset
                )
    if fields > rules.IMPORT_MAX_RECORD_FIELDS:
        limit = rules.IMPORT_MAX_RECORD_FIELDS
        return Refusal.of("import_too_many_fields", limit=limit, offset=offset)
    if chars > rules.IMPORT_MAX_RECORD_CHARS:
        limit = rules.IMPORT_MAX_RECORD_CHARS
        return Refusal.of("import_record_too_long", limit=limit, offset=offset)
    return None


def read_binary(fh: BinaryIO, source: str | None, report: ImportReport) -> Iterator[WorkRecord]:
    """Records of an ISO 2709 file; unparseable or untitled ones become problems."""
    reader = pymarc.MARCReader(fh, to_unicode=True, force_utf8=False, permissive=True)
    n = 0
    while True:
        offset = fh.tell()
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
            report.note(ImportProblem("record", n, unreadable))
            continue
        work = _beyond_bounds(record, offset) or record_to_work(record, source)
        if isinstance(work, Refusal):
            report.note(ImportProblem("record", n, work))
            continue
        if caught:
            damaged = Refusal.of("import_record_damaged", detail=_warning_text(caught))
            report.note(ImportProblem("record", n, damaged))
        yield work


class _TooBig(Exception):
    """The file holds markup the parser would have to keep whole: stop reading it."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.code)
        self.reason = reason


class _XmlRecords:
    """expat handlers that build pymarc records within the bounds of db.rules.

    Text is kept only inside leader, controlfield and subfield, and only up to
    IMPORT_MAX_FIELD_CHARS: past that (or past the record's bounds) the rest of the record is
    skipped, so a 50 MB field costs nothing but reading it. A DTD declaring entities is
    refused outright (as defusedxml does): MARCXML needs none, and expansion is an attack.
    """

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.done: list[tuple[int, Any | Refusal]] = []  # (record number, record or reason)
        self.number = 0
        self._record: Any = None
        self._start = 0
        self._refusal: Refusal | None = None
        self._field: Any = None
        self._code: str | None = None
        self._text: list[str] | None = None  # collecting text of the element being read
        self._chars = 0  # of the current element
        self._record_chars = 0
        self._elements = 0
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.characters
        parser.EntityDeclHandler = self.entity
        parser.CommentHandler = self.other
        parser.ProcessingInstructionHandler = self.other

    def damaged_record(self) -> int:
        """The number of the record where the XML breaks (the next one between records)."""
        return self.number + (self._record is None)

    def other(self, *_args: object) -> None:
        """Comments and processing instructions: seen (so the parser's position moves on)."""

    def entity(self, *_args: object) -> None:
        raise _TooBig(Refusal.of("import_xml_entities"))

    def _refuse(self, code: str, **values: object) -> None:
        if self._refusal is None:
            self._refusal = Refusal.of(code, offset=self._start, **values)
        self._text = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        element = name.rpartition(" ")[2]
        if element == "record":
            self.number += 1
            self._record = pymarc.Record()
            self._start, self._refusal = self.parser.CurrentByteIndex, None
            self._record_chars = self._elements = 0
            return
        if self._record is None or self._refusal is not None:
            return
        if element in ("controlfield", "datafield", "subfield"):
            self._elements += 1
            if self._elements > rules.IMPORT_MAX_RECORD_FIELDS:
                self._refuse("import_too_many_fields", limit=rules.IMPORT_MAX_RECORD_FIELDS)
                return
        if element == "datafield":
            indicators = Indicators(attrs.get("ind1", " "), attrs.get("ind2", " "))
            self._field = pymarc.Field(attrs.get("tag", ""), indicators)
        elif element in ("leader", "controlfield", "subfield"):
            if element == "controlfield":
                self._field = pymarc.Field(attrs.get("tag", ""))
            elif element == "subfield":
                self._code = attrs.get("code")
            self._text, self._chars = [], 0

    def characters(self, data: str) -> None:
        if self._text is None:
            return
        self._chars += len(data)
        self._record_chars += len(data)
        if self._chars > rules.IMPORT_MAX_FIELD_CHARS:
            tag = self._field.tag if self._field is not None else "LDR"
            self._refuse("import_field_too_long", tag=tag, limit=rules.IMPORT_MAX_FIELD_CHARS)
        elif self._record_chars > rules.IMPORT_MAX_RECORD_CHARS:
            self._refuse("import_record_too_long", limit=rules.IMPORT_MAX_RECORD_CHARS)
        else:
            self._text.append(data)

    def end(self, name: str) -> None:
        element = name.rpartition(" ")[2]
        record = self._record
        if record is None:
            return
        if element == "record":
            self.done.append((self.number, self._refusal or record))
            self._record = self._field = self._text = None
            return
        if self._refusal is not None:
            return
        text = _nfc("".join(self._text)) if self._text is not None else ""
        if element == "leader":
            try:
                record.leader = Leader(text)
            except pymarc.exceptions.PymarcException as error:
                self._refusal = Refusal.of(
                    "import_unreadable_record", error=type(error).__name__, detail=str(error)
                )
        elif element == "controlfield" and self._field is not None:
            self._field.data = text
            record.add_field(self._field)
            self._field = None
        elif element == "datafield" and self._field is not None:
            record.add_field(self._field)
            self._field = None
        elif element == "subfield" and self._field is not None and self._code:
            self._field.add_subfield(self._code, text)
            self._code = None
        self._text = None


def read_xml(fh: BinaryIO, source: str | None, report: ImportReport) -> Iterator[WorkRecord]:
    """Records of a MARCXML file, parsed as a stream (expat), one record in memory at a time.

    Python's expat resolves no external entities and limits entity expansion (expat >= 2.4);
    entity declarations are refused anyway. Markup that expat must hold whole (a tag, a
    comment) longer than IMPORT_MAX_XML_MARKUP_BYTES stops the file.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    handler = _XmlRecords(parser)
    fed = 0
    while True:
        chunk = fh.read(1 << 16)
        fed += len(chunk)
        stop: ImportProblem | None = None
        try:
            parser.Parse(chunk, not chunk)
            # Where the parser stands: what it holds beyond that is one unfinished token.
            if fed - parser.CurrentByteIndex > rules.IMPORT_MAX_XML_MARKUP_BYTES + len(chunk):
                limit = rules.IMPORT_MAX_XML_MARKUP_BYTES
                raise _TooBig(Refusal.of("import_xml_markup_too_long", limit=limit))
        except expat.ExpatError as error:
            malformed = Refusal.of("import_malformed_xml", detail=str(error))
            stop = ImportProblem("record", handler.damaged_record(), malformed)
        except _TooBig as too_big:
            stop = ImportProblem("file", None, too_big.reason)
        for number, done in handler.done:
            work = done if isinstance(done, Refusal) else record_to_work(done, source)
            if isinstance(work, Refusal):
                report.note(ImportProblem("record", number, work))
            else:
                yield work
        handler.done.clear()
        if stop is not None:
            report.note(stop)
            return
        if not chunk:
            return
