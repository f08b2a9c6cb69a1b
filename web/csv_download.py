"""CSV files to download: UTF-8 with a BOM (so Excel reads the Japanese right) and CRLF line
ends, as an attachment."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from starlette.responses import Response


def csv_bytes(rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: Excel then reads UTF-8
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def csv_download(rows: Iterable[Sequence[object]], filename: str) -> Response:
    return Response(
        csv_bytes(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
