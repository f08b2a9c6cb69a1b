"""MARC 21 holdings → copy rows for `shiori import items` (binary ISO 2709 or MARCXML).

Two practices are read, in bibliographic records (holdings embedded) and in separate MARC
holdings records (leader/06 u, v, x or y, whose 004 is the control number of the record held):

* **852 with 876–878** (MARC 21 Format for Holdings Data): 852 $b the branch code, $c the
  shelf location, $h + $i the call number, $p a barcode; the item fields 876 (basic unit),
  877 (supplements) and 878 (indexes) give one copy each: $p the barcode, $d the
  acquisition date, $j the status. An item field belongs to the 852 with the same $8 link
  number, or to the only 852 of the record.
* **949**, the common local item field (Sierra/OCLC load practice): $i (or $p) the barcode,
  $l the branch code, $c the shelf location, $a the call number, $t the material type,
  $s the status, $d the acquisition date.

The work of a copy: the held record's 004 (holdings records) or the record's own 001 with its
003 (JTNDL: an NDL number; DLC: a Library of Congress record), and its 020 ISBNs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO
from xml.parsers import expat

import pymarc

from db.errors import ImportRefused, Refusal
from db.importers import marc

# A copy row: the record's number (from 1) and its values by items column.
Row = tuple[int, dict[str, str]]

_HOLDINGS_TYPES = frozenset("uvxy")
_ITEM_TAGS = ("876", "877", "878")


def _first(field: Any, codes: str) -> str:
    for sf in field.subfields:
        if sf.code in codes and sf.value and sf.value.strip():
            return str(sf.value).strip()
    return ""


def _link(field: Any) -> str:
    return _first(field, "8").split(".", 1)[0]


def _work(record: Any) -> dict[str, str]:
    """The columns naming the record's work."""
    control = (record.get("001").data if record.get("001") is not None else "").strip()
    org = (record.get("003").data if record.get("003") is not None else "").strip().upper()
    if record.leader[6:7] in _HOLDINGS_TYPES:
        held = record.get("004")
        control = held.data.strip() if held is not None and held.data else ""
    values: dict[str, str] = {}
    if control:
        source = {"JTNDL": "ndl", "DLC": "loc"}.get(org)
        if source == "ndl":
            values["ndl_number"] = control
        elif source is not None:
            values["source_id"] = f"{source}:{control}"
        else:
            values["source_id"] = control  # any source with this id (db.importers.values)
    isbns = [i for i in (_first(f, "a") for f in record.get_fields("020")) if i]
    if isbns:
        values["isbn"] = isbns[0]
    return values


def copies(record: Any) -> list[dict[str, str]]:
    """The copies of one record as items columns (an empty list: no holdings)."""
    work = _work(record)
    found: list[dict[str, str]] = []
    locations = record.get_fields("852")
    items = [f for tag in _ITEM_TAGS for f in record.get_fields(tag)]
    for location in locations:
        place = {
            "branch": _first(location, "b"),
            "shelf_location": _first(location, "c"),
            "call_number": " ".join(
                v.strip() for sf in location.subfields if sf.code in "hi" for v in [sf.value] if v
            ),
        }
        mine = [f for f in items if len(locations) == 1 or _link(f) == _link(location)]
        if not mine and _first(location, "p"):
            found.append({**work, **place, "barcode": _first(location, "p")})
        for item in mine:
            found.append(
                {
                    **work,
                    **place,
                    "barcode": _first(item, "p") or _first(location, "p"),
                    "acquired_on": _first(item, "d"),
                    "status": _first(item, "j"),
                }
            )
    for local in record.get_fields("949"):
        found.append(
            {
                **work,
                "barcode": _first(local, "ip"),
                "branch": _first(local, "l"),
                "shelf_location": _first(local, "c"),
                "call_number": _first(local, "a"),
                "material_type": _first(local, "t"),
                "status": _first(local, "s"),
                "acquired_on": _first(local, "d"),
            }
        )
    return found


def _rows(number: int, record: Any) -> Iterator[Row]:
    for values in copies(record):
        yield number, values


def _unreadable(number: int, detail: str) -> Row:
    return number, {"_unreadable": detail[:300]}


def read_binary(fh: BinaryIO) -> Iterator[Row]:
    """Copy rows of an ISO 2709 file; an unreadable record is a row that says so."""
    reader = pymarc.MARCReader(fh, to_unicode=True, force_utf8=False, permissive=True)
    number = 0
    any_holdings = False
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                record = next(reader)
            except StopIteration:
                break
        number += 1
        if record is None:
            error = reader.current_exception
            yield _unreadable(number, f"{type(error).__name__}: {error}")
            continue
        for row in _rows(number, record):
            any_holdings = True
            yield row
    if not any_holdings:
        raise ImportRefused("import_no_holdings")


def read_xml(fh: BinaryIO) -> Iterator[Row]:
    """Copy rows of a MARCXML file, streamed with the catalogue importer's bounded parser."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    handler = marc._XmlRecords(parser)
    any_holdings = False
    while True:
        chunk = fh.read(1 << 16)
        try:
            parser.Parse(chunk, not chunk)
        except (expat.ExpatError, marc._TooBig) as error:
            raise ImportRefused("import_bad_marc_xml", detail=str(error)[:300]) from None
        for number, done in handler.done:
            if isinstance(done, Refusal):
                yield _unreadable(number, done.code)
                continue
            for row in _rows(number, done):
                any_holdings = True
                yield row
        handler.done.clear()
        if not chunk:
            break
    if not any_holdings:
        raise ImportRefused("import_no_holdings")
