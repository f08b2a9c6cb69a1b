"""Which importer reads a catalog file: sniffed from its first bytes, before anything is written.

Recognised (each optionally gzip-compressed):

* Aozora Bunko one-row-per-work CSV: header starts `work_id,title,`
* Aozora Bunko's own catalogue CSV (UTF-8, usually with a BOM): header starts `作品ID,作品名,`
* MARC 21 binary (ISO 2709): a 5-digit record length, a 24-byte leader, field terminators
* MARCXML: an XML document whose root is `collection` or `record` (MARC 21 slim namespace)

Anything else raises `ImportRefused` with a refusal code (worded by `web`).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from db import rules
from db.catalog_write import ImportProblem, ImportReport, WorkRecord
from db.errors import ImportRefused, Refusal
from db.importers import aozora, marc

BATCH_SIZE = 500
SOURCES = ("aozora", "ndl", "loc", "marc")
_SNIFF_BYTES = 8192
_XML_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(collection|record)[\s>/]")


class Reader(Protocol):
    def batches(self, report: ImportReport) -> Iterator[list[WorkRecord]]: ...


def _stopped(error: Exception) -> ImportProblem:
    """The file could not be read past some point: what came before it is loaded."""
    reason = Refusal.of("import_stopped", error=type(error).__name__, detail=str(error))
    return ImportProblem("file", None, reason)


class _FileTooLarge(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A file read through a byte count: past `limit` (after decompression, so a gzip bomb
    too) reading stops with `_FileTooLarge`."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.inner.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n
        if self.count > self.limit:
            raise _FileTooLarge
        return int(n)

    def tell(self) -> int:
        return self.count


def batched(records: Iterator[WorkRecord], size: int = BATCH_SIZE) -> Iterator[list[WorkRecord]]:
    """Lists of up to `size` records; a key seen twice starts a new batch (later one wins)."""
    batch: list[WorkRecord] = []
    keys: set[tuple[str, str]] = set()
    for record in records:
        key = (record.source, record.source_id)
        if key in keys or len(batch) >= size:
            yield batch
            batch, keys = [], set()
        batch.append(record)
        keys.add(key)
    if batch:
        yield batch


@dataclass(frozen=True)
class _FileReader:
    path: Path
    compressed: bool
    kind: str  # aozora_works, aozora_catalog, marc_binary, marc_xml
    source: str | None  # a forced MARC source label (ndl, loc), else from 003

    def _open(self) -> BinaryIO:
        if self.compressed:
            return cast(BinaryIO, gzip.open(self.path, "rb"))
        return self.path.open("rb")

    def _records(self, fh: BinaryIO, report: ImportReport) -> Iterator[WorkRecord]:
        if self.kind in ("aozora_works", "aozora_catalog"):
            read = aozora.read_works_csv if self.kind == "aozora_works" else aozora.read_catalog_csv
            try:
                with io.TextIOWrapper(fh, encoding="utf-8-sig", newline="") as text:
                    yield from read(text, report)
            except (UnicodeDecodeError, csv.Error) as error:
                report.note(_stopped(error))
        elif self.kind == "marc_binary":
            yield from marc.read_binary(fh, self.source, report)
        else:
            yield from marc.read_xml(fh, self.source, report)

    def batches(self, report: ImportReport) -> Iterator[list[WorkRecord]]:
        # Aozora's per-person catalogue is grouped in memory (its rows are not in work order).
        limit = (
            rules.IMPORT_MAX_GROUPED_FILE_BYTES
            if self.kind == "aozora_catalog"
            else rules.IMPORT_MAX_FILE_BYTES
        )
        with self._open() as raw, io.BufferedReader(_Bounded(raw, limit), 1 << 16) as fh:
            try:
                yield from batched(self._records(cast(BinaryIO, fh), report))
            except _FileTooLarge:
                report.note(
                    ImportProblem("file", None, Refusal.of("import_file_too_large", limit=limit))
                )
            except (OSError, EOFError, zlib.error) as error:  # truncated or corrupt gzip
                report.note(_stopped(error))


def _head(path: Path) -> tuple[bytes, bool]:
    """The first bytes of the (decompressed) file, and whether it is gzip."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise ImportRefused("import_file_not_found", name=path.name) from None
    except IsADirectoryError:
        raise ImportRefused("import_folder") from None
    except OSError as error:
        raise ImportRefused(
            "import_cannot_open", name=path.name, reason=str(error.strerror or error)
        ) from None
    if raw[:2] != b"\x1f\x8b":
        return raw, False
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(_SNIFF_BYTES), True
    except (OSError, EOFError, zlib.error):
        raise ImportRefused("import_gzip_damaged") from None


def _looks_like_iso2709(head: bytes) -> bool:
    if len(head) < 25 or not head[:5].isdigit() or not head[12:17].isdigit():
        return False
    length, base = int(head[:5]), int(head[12:17])
    return 24 < base <= length and b"\x1e" in head[24 : max(base, 25)]


def _kind(head: bytes) -> str | None:
    text = head.removeprefix(codecs.BOM_UTF8)
    first_line = text.split(b"\n", 1)[0].strip().replace(b'"', b"")
    if first_line.startswith(",".join(aozora.WORKS_HEADER_START).encode() + b","):
        return "aozora_works"
    if first_line.startswith(",".join(aozora.CATALOG_HEADER_START).encode() + b","):
        return "aozora_catalog"
    if _looks_like_iso2709(text):
        return "marc_binary"
    stripped = text.lstrip()
    if stripped.startswith(b"<") and (
        b"http://www.loc.gov/MARC21/slim" in stripped or _XML_ROOT.search(stripped)
    ):
        return "marc_xml"
    return None


def open_reader(path: Path, source: str | None = None) -> Reader:
    """A reader for the file, or `ImportRefused` (nothing has been read into the database)."""
    if source is not None and source not in SOURCES:
        raise ImportRefused("import_unknown_source", source=source, sources=", ".join(SOURCES))
    path = Path(path)
    head, compressed = _head(path)
    if not head:
        raise ImportRefused("import_empty")
    kind = _kind(head)
    if kind is None:
        first_line = head.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0]
        if not first_line.startswith(b"<") and b"," in first_line:
            raise ImportRefused("import_not_aozora_header")
        raise ImportRefused("import_unknown_format")
    if source == "aozora" and not kind.startswith("aozora"):
        raise ImportRefused("import_not_aozora")
    if source in ("ndl", "loc", "marc") and not kind.startswith("marc"):
        raise ImportRefused("import_not_marc")
    forced = source if source in ("ndl", "loc") else None
    return _FileReader(path, compressed, kind, forced)


def sniff(path: Path) -> tuple[bytes, bool]:
    """The file's first bytes (decompressed) and whether it is gzip; `ImportRefused` when it
    cannot be opened (db.importers.rows sniffs with the same rules)."""
    return _head(path)


def marc_kind(head: bytes) -> str | None:
    """ "marc_binary" or "marc_xml" when the first bytes are MARC, else None."""
    kind = _kind(head)
    return kind if kind is not None and kind.startswith("marc") else None


def catalogue_kind(head: bytes) -> str | None:
    """The Aozora layout when the first bytes are an Aozora Bunko CSV, else None."""
    kind = _kind(head)
    return kind if kind is not None and kind.startswith("aozora") else None
