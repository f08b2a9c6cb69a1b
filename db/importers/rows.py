"""Files of the system being replaced, read as rows: copies, patrons, loans, reservations and
withdrawals (`shiori import items|patrons|loans|holds|withdrawals FILE`).

What a file is comes from its content, never from its name, and is settled before anything
is written: a CSV by its header (each kind has columns no other kind has), a MARC 21 file
(binary ISO 2709 or MARCXML, gzip allowed) by its bytes. A file that is not the kind asked
for is refused with the kind it looks like (`ImportRefused`). Each row keeps its position
(the CSV line where it starts, or the MARC record's number) so the report can name it.

Column names are the documented English ones (README, "Importing from the system being
replaced"); case, surrounding spaces and a BOM are forgiven. Values are passed on as read:
db.importers.values normalises them.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from db import japanese_input, rules
from db.errors import ImportRefused
from db.importers import detect, holdings

KINDS = ("items", "patrons", "loans", "holds", "withdrawals")

# Work references, any one of which names the work of a copy or a reservation.
WORK_COLUMNS = ("isbn", "ndl_number", "source_id")

# Every column each kind reads (README); `REQUIRED` must be in the header.
COLUMNS: dict[str, tuple[str, ...]] = {
    "items": (
        "barcode",
        *WORK_COLUMNS,
        "branch",
        "shelf_location",
        "call_number",
        "material_type",
        "status",
        "acquired_on",
    ),
    "patrons": (
        "card_number",
        "name",
        "name_kana",
        "birth_date",
        "postal_code",
        "address",
        "phone",
        "email",
        "category",
        "home_branch",
        "registered_on",
        "expires_on",
        "last_used_on",
        "last_loan_on",
        "lang",
    ),
    "loans": ("card_number", "barcode", "checked_out_on", "due_on", "renewals"),
    "holds": ("card_number", "barcode", *WORK_COLUMNS, "placed_at", "pickup_branch"),
    "withdrawals": ("barcode", "withdrawn_on", "note"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "items": ("barcode", "branch"),
    "patrons": ("card_number", "name", "name_kana", "birth_date", "category", "home_branch"),
    "loans": ("card_number", "barcode", "due_on"),
    "holds": ("card_number", "placed_at", "pickup_branch"),
    "withdrawals": ("barcode",),
}
# What tells one kind of CSV from another, tried in this order.
_SIGNATURES = (
    ("patrons", {"name", "birth_date"}),
    ("loans", {"card_number", "due_on"}),
    ("holds", {"card_number", "pickup_branch"}),
    ("items", {"barcode", "branch"}),
    ("withdrawals", {"barcode"}),
)


@dataclass(frozen=True)
class SourceRow:
    """One row of a file: where it is ("line" of a CSV, "record" of MARC) and its values by
    column name (absent columns are absent, not empty)."""

    kind: str  # "line" or "record" (db.catalog_write.PROBLEM_KINDS)
    number: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


@dataclass(frozen=True)
class RowFile:
    """A file whose kind has been checked: `rows()` reads it (once per call)."""

    path: Path
    kind: str
    compressed: bool
    fmt: str  # csv, barcodes (one a line), marc_binary, marc_xml
    columns: tuple[str, ...]
    encoding: str = "utf-8-sig"  # or cp932: Shift_JIS exports of Japanese systems

    def _open(self) -> BinaryIO:
        if self.compressed:
            import gzip

            return cast(BinaryIO, gzip.open(self.path, "rb"))
        return self.path.open("rb")

    def rows(self) -> Iterator[SourceRow]:
        """The file's rows; a row that cannot be read stops the file (`ImportRefused`),
        since nothing is written before every row has been read."""
        with self._open() as raw:
            if self.fmt.startswith("marc"):
                read = holdings.read_binary if self.fmt == "marc_binary" else holdings.read_xml
                for number, values in read(raw):
                    yield SourceRow("record", number, values)
            else:
                yield from self._text_rows(raw)

    def _text_rows(self, raw: BinaryIO) -> Iterator[SourceRow]:
        with io.TextIOWrapper(raw, encoding=self.encoding, newline="") as text:
            start = 1
            try:
                if self.fmt == "barcodes":
                    for number, line in enumerate(text, start=1):
                        if line.strip():
                            yield SourceRow("line", number, {"barcode": line.strip()})
                    return
                reader = csv.reader(text)
                next(reader, None)  # the header, read by open_rows
                start = reader.line_num + 1
                for cells in reader:
                    if any(c.strip() for c in cells):
                        yield self._row(start, cells)
                    start = reader.line_num + 1
            except UnicodeDecodeError:
                raise ImportRefused("import_not_utf8") from None
            except csv.Error as error:
                raise ImportRefused("import_bad_csv", line=start, detail=str(error)) from None

    def _row(self, line: int, cells: list[str]) -> SourceRow:
        if sum(len(c) for c in cells) > rules.IMPORT_MAX_RECORD_CHARS:
            limit = rules.IMPORT_MAX_RECORD_CHARS
            raise ImportRefused("import_row_file_too_long", line=line, limit=limit)
        wanted = COLUMNS[self.kind]
        values = {
            name: cell for name, cell in zip(self.columns, cells, strict=False) if name in wanted
        }
        return SourceRow("line", line, values)


def _encoding(head: bytes) -> str | None:
    """UTF-8 (a BOM allowed), else Shift_JIS as Windows writes it (cp932), which Japanese
    library systems often export; None for neither. Judged on the first bytes (a character
    cut at their end is not held against them)."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _header(head: bytes, encoding: str) -> tuple[str, ...]:
    first = head.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0]
    line = first.decode(encoding, errors="replace").rstrip("\r")
    cells = next(csv.reader([line]), [])
    return tuple(c.strip().lower() for c in cells)


def _is_barcode(columns: tuple[str, ...]) -> bool:
    """Whether a first line is one barcode (a list without a header)."""
    return (
        len(columns) == 1
        and japanese_input.barcode(columns[0]) is not None
        and any(ch.isdigit() for ch in columns[0])
    )


def _csv_kind(columns: tuple[str, ...]) -> str | None:
    present = set(columns)
    for kind, signature in _SIGNATURES:
        if signature <= present:
            return kind
    return None


def open_rows(path: Path, kind: str) -> RowFile:
    """The file as rows of `kind`, or `ImportRefused` if it is not such a file (nothing
    has been written)."""
    if kind not in KINDS:
        raise ValueError(kind)
    path = Path(path)
    head, compressed = detect.sniff(path)
    if not head.strip():
        raise ImportRefused("import_empty")
    marc = detect.marc_kind(head)
    if marc is not None:
        if kind != "items":
            raise ImportRefused("import_wrong_kind", found="marc", wanted=kind)
        return RowFile(path, kind, compressed, marc, COLUMNS["items"])
    encoding = _encoding(head)
    if encoding is None:
        raise ImportRefused("import_not_utf8")
    columns = _header(head, encoding)
    found = _csv_kind(columns)
    if found is None and kind == "withdrawals" and _is_barcode(columns):
        # A bare list of barcodes, one a line (no header): the first line is a barcode.
        return RowFile(path, kind, compressed, "barcodes", ("barcode",), encoding)
    if found is None:
        if detect.catalogue_kind(head) is not None:
            raise ImportRefused("import_wrong_kind", found="catalogue", wanted=kind)
        missing = [c for c in REQUIRED[kind] if c not in columns]
        raise ImportRefused("import_header_missing", wanted=kind, columns=", ".join(missing))
    if found != kind:
        raise ImportRefused("import_wrong_kind", found=found, wanted=kind)
    missing = [c for c in REQUIRED[kind] if c not in columns]
    names_work = bool(set(WORK_COLUMNS) & set(columns)) or (
        kind == "holds" and "barcode" in columns
    )
    if kind in ("items", "holds") and not names_work:
        missing.append(" | ".join(WORK_COLUMNS))
    if missing:
        raise ImportRefused("import_header_missing", wanted=kind, columns=", ".join(missing))
    return RowFile(path, kind, compressed, "csv", columns, encoding)
