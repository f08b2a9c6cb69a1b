"""The local postal-code table (db/data/postal_codes.tsv, its source and licence in its
header): the prefecture and city a postal code belongs to, where the table covers it.

Optional data, read from the package: never an outside service at run time. A code the
table does not cover gives None and the applicant types the address in full."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class PostalArea:
    prefecture: str
    city: str


@lru_cache(maxsize=1)
def _table() -> dict[str, PostalArea]:
    text = resources.files("db").joinpath("data/postal_codes.tsv").read_text("utf-8")
    table: dict[str, PostalArea] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            prefix, prefecture, city = line.split("\t")
            table[prefix] = PostalArea(prefecture, city)
    return table


def area_of(code: str) -> PostalArea | None:
    """The area of a seven-digit code (the longest matching prefix), or None."""
    table = _table()
    for length in range(len(code), 0, -1):
        found = table.get(code[:length])
        if found is not None:
            return found
    return None
