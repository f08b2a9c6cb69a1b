"""Writes items_holdings.mrc (MARC 21 holdings for tests/test_imports.py); run it again after
changing the records: `.venv/bin/python tests/data/make_holdings_mrc.py`."""

from __future__ import annotations

from pathlib import Path

import pymarc
from pymarc import Field, Subfield
from pymarc.field import Indicators


def _holdings(control: str, held: str, org: str, *fields: Field) -> pymarc.Record:
    record = pymarc.Record(force_utf8=True, leader="     cx  a22     1n 4500")
    record.add_field(Field(tag="001", data=control), Field(tag="004", data=held))
    if org:
        record.add_field(Field(tag="003", data=org))
    record.add_field(*fields)
    return record


def _field(tag: str, **codes: str) -> Field:
    return Field(
        tag=tag,
        indicators=Indicators(" ", " "),
        subfields=[Subfield(code.strip("_"), value) for code, value in codes.items()],
    )


def records() -> list[pymarc.Record]:
    location = _field("852", _8="1", b="sogo", c="一般書架", h="023", i="ハ")
    return [
        # An NDL record's copies: one 852 (its location) and an 876 per copy.
        _holdings(
            "h1",
            "029455884",
            "JTNDL",
            location,
            _field("876", _8="1.1", p="9200000011", d="20190301"),
            _field("876", _8="1.2", p="9200000012", d="2019-03-02"),
        ),
        # The local 949 practice, for an Aozora work (no 003: any source with this id).
        _holdings(
            "h2", "000789", "", _field("949", i="9200000021", l="minami", a="913/ナ", t="bunko")
        ),
        # A branch the library does not have.
        _holdings("h3", "000127", "", _field("852", b="zushi", c="一般書架", p="9200000031")),
        # A work that is not in the catalogue.
        _holdings("h4", "099999999", "JTNDL", _field("852", b="sogo", p="9200000041")),
    ]


if __name__ == "__main__":
    out = Path(__file__).with_name("items_holdings.mrc")
    out.write_bytes(b"".join(r.as_marc() for r in records()))
    print(f"wrote {out}")
