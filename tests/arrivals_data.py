"""A MARC file of new arrivals for tests: real NDL records (JAPAN/MARC, /work/shared/data)
with holdings added as a library system exports them (852 copy, 876 acquisition date)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pymarc
from pymarc import Field, Subfield
from pymarc.field import Indicators

from tests.conftest import DATA

NDL = DATA / "marc" / "ndl_japanmarc_marc21_233.mrc"
# The first NDL record: これからの本の話をしよう, by 萩野正昭.
FIRST_TITLE = "これからの本の話をしよう"
FIRST_AUTHOR = "萩野"
FIRST_AUTHOR_ROMAJI = "hagino"  # its reading ハギノ, as the search's romaji matches it
# The NDL record (skip=189) of 電子書籍Kindle/iPad/…がよ～くわかる本, by 高橋暁子.
TAKAHASHI_RECORD = 189


def ndl_records(count: int) -> list[pymarc.Record]:
    with NDL.open("rb") as fh:
        reader = pymarc.MARCReader(fh, to_unicode=True, force_utf8=True)
        return [record for _, record in zip(range(count), reader, strict=False) if record]


def marc_with_copies(
    folder: Path,
    acquired: date | None,
    count: int = 2,
    branch: str = "sogo",
    prefix: str = "N",
    skip: int = 0,
) -> Path:
    """The first `count` NDL records after `skip`, each with one copy at `branch` (barcode
    prefix + number), acquired on `acquired` (876 $d; None: no 876, the import's day)."""
    records = ndl_records(skip + count)[skip:]
    for n, record in enumerate(records):
        barcode = f"{prefix}{n:06d}"
        record.add_field(
            Field(
                tag="852",
                indicators=Indicators(" ", " "),
                subfields=[
                    Subfield("b", branch),
                    Subfield("c", "新着図書コーナー"),
                    Subfield("h", "019"),
                    Subfield("p", barcode),
                ],
            )
        )
        if acquired is not None:
            record.add_field(
                Field(
                    tag="876",
                    indicators=Indicators(" ", " "),
                    subfields=[Subfield("p", barcode), Subfield("d", acquired.strftime("%Y%m%d"))],
                )
            )
    path = folder / f"arrivals-{prefix}.mrc"
    with path.open("wb") as out:
        for record in records:
            out.write(record.as_marc())
    return path
