"""The NDL Collaborative Reference Database (レファレンス協同データベース, CRD) standard XML for
reference cases: what `shiori reference export-crd FILE` writes for the library to upload.

Sources: 「レファレンス協同データベース 標準データフォーマット レファレンス事例(XML形式)
Ver.1.0」 (NDL; the participants' help, "4-4. データフォーマット"; read from the copy at
expydoc.com/doc/8413405); the field rules of 「付録資料2 レファレンス協同データベース
項目別記入方法解説」 (crd.ndl.go.jp/jp/library/guideline/furoku2.html: REG-ID at most 15
characters) and the participants' manual 「5. 各データ項目について」
(crd.ndl.go.jp/jp/help/crds/data_format.html: access levels, publication criteria). Dates
as YYYYMMDD and `<CLASS type="NDC" version="9">913</CLASS>` are as CRD's own search API
writes them (crd.ndl.go.jp/jp/help/general/api_spec_1.html).

The file: UTF-8, extension .xml. Elements, in this order ("*": may repeat); the format's
rule, then what Shiori writes:

- CRD (the document, "COLLABORATIVE REFERENCE DATABASE"): required; attribute `version`,
  "1.0" when omitted. Written as `<CRD version="1.0">`.
- REFERENCE* (one case): required, one or more. One per published case.
- QUESTION (質問): required. The rewritten, anonymised question.
- ACC-LEVEL (公開レベル): required; a half-width digit, "1" 自館のみ参照, "2" 参加館公開,
  "3" 一般公開. Always "3": only cases already public at /reference are exported.
- REG-ID (管理番号): required; at most 15 characters, full- or half-width alike; unique
  within the library. `SHIORI-` and the case number in 6 digits (13 characters).
- ANSWER (回答): optional in the format. Always written: no case is published without one.
- CRT-DATE (事例作成日): optional; YYYYMMDD. The library-local day the case was approved.
- SOLUTION (解決/未解決): optional; a flag, "0" 解決 (solved), "1" 未解決 (unsolved).
- KEYWORD* (キーワード): optional. One element per keyword.
- CLASS* (分類): optional; the class number, attributes `type` ("NDC") and `version` (the
  NDC edition). `type="NDC" version="10"` (NDC 新訂10版), one per NDC number.
- RES-TYPE (調査種別), CON-TYPE (内容種別): optional. Not written.
- BIBL* (参考資料): optional; children BIBL-DESC (the citation, required in a BIBL),
  BIBL-ISBN, BIBL-NOTE. One BIBL with its BIBL-DESC per source (citation or URL).
- ANS-PROC (回答プロセス): optional. The research process, when written.
- REFERRAL (照会先): optional. Not written.
- PRE-RES (事前調査事項): optional. What had been looked at before, when written.
- NOTE (備考): optional. The note, when written.
- PTN-TYPE (質問者区分): optional. Never: the questioner's category is the patron's data.
- CONTRI (寄与者): optional. Not written.
- SYSTEM (REG-DATE, LST-DATE, SYS-ID, LIB-ID, LIB-NAME): assigned by CRD (its registration
  number and the library's code, 提供館コード). Never written: CRD fills it in on upload.

Issue 14 names the root "DATABASE": that is the column name of the root row in the format's
table ("COLLABORATIVE REFERENCE DATABASE"); its tag is CRD. Publication criteria (data_format
above): the questioner's privacy is respected, the questioner cannot be identified, no
discriminatory expression. Only what a second staff member approved for /reference is ever
written, and nothing that links to a patron (no patron id, name, card or category) exists in
what this module receives (CrdCase).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO
from xml.etree import ElementTree as ET

FORMAT_VERSION = "1.0"
PUBLIC_LEVEL = "3"  # 一般公開
ACCESS_LEVELS = ("1", "2", "3")
SOLVED, UNSOLVED = "0", "1"
REG_ID_MAX_CHARS = 15
REG_ID_PREFIX = "SHIORI-"
# NDC 新訂10版 (2014), the edition public libraries classify by; cases record numbers only.
NDC_EDITION = "10"
ELEMENT_ORDER = (
    "QUESTION",
    "ACC-LEVEL",
    "REG-ID",
    "ANSWER",
    "CRT-DATE",
    "SOLUTION",
    "KEYWORD",
    "CLASS",
    "RES-TYPE",
    "CON-TYPE",
    "BIBL",
    "ANS-PROC",
    "REFERRAL",
    "PRE-RES",
    "NOTE",
    "PTN-TYPE",
    "CONTRI",
    "SYSTEM",
)
REQUIRED = ("QUESTION", "ACC-LEVEL", "REG-ID")
# Characters XML 1.0 cannot carry at all (C0 controls but tab and line breaks).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class CrdCase:
    """One published, anonymised case as the export needs it (no link to any patron)."""

    case_id: int
    question: str
    answer: str
    created_on: date
    solved: bool
    keywords: tuple[str, ...]
    ndc: tuple[str, ...]
    sources: tuple[str, ...]
    process: str
    preliminary: str
    note: str


def reg_id(case_id: int) -> str:
    """The case's 管理番号: at most 15 characters and unique within the library."""
    value = f"{REG_ID_PREFIX}{case_id:06d}"
    if len(value) > REG_ID_MAX_CHARS:
        raise ValueError("case number too large for a CRD REG-ID")
    return value


def _text(value: str) -> str:
    return _NOT_XML.sub("", value).strip()


def _add(parent: ET.Element, tag: str, value: str, **attrs: str) -> None:
    text = _text(value)
    if text:
        ET.SubElement(parent, tag, attrs).text = text


def reference(case: CrdCase) -> ET.Element:
    """One REFERENCE element, its children in the format's order."""
    ref = ET.Element("REFERENCE")
    _add(ref, "QUESTION", case.question)
    _add(ref, "ACC-LEVEL", PUBLIC_LEVEL)
    _add(ref, "REG-ID", reg_id(case.case_id))
    _add(ref, "ANSWER", case.answer)
    _add(ref, "CRT-DATE", case.created_on.strftime("%Y%m%d"))
    _add(ref, "SOLUTION", SOLVED if case.solved else UNSOLVED)
    for keyword in case.keywords:
        _add(ref, "KEYWORD", keyword)
    for number in case.ndc:
        _add(ref, "CLASS", number, type="NDC", version=NDC_EDITION)
    for source in case.sources:
        if _text(source):
            bibl = ET.SubElement(ref, "BIBL")
            _add(bibl, "BIBL-DESC", source)
    _add(ref, "ANS-PROC", case.process)
    _add(ref, "PRE-RES", case.preliminary)
    _add(ref, "NOTE", case.note)
    return ref


def write(cases: Iterable[CrdCase], out: BinaryIO) -> int:
    """Write the CRD document to `out` (UTF-8), one case at a time; returns the count."""
    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<CRD version="{FORMAT_VERSION}">\n'.encode())
    count = 0
    for case in cases:
        element = reference(case)
        ET.indent(element, space="  ", level=1)
        out.write(b"  " + ET.tostring(element, encoding="utf-8") + b"\n")
        count += 1
    out.write(b"</CRD>\n")
    return count
