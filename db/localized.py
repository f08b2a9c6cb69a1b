"""Names that are data (branches, material types), stored per language: `Localized`.

The database keeps them as a JSON object {"ja": "…", "en": "…"}; any language may be
missing, so a name falls back to the library's own language, then to any it has.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

# The library's language: every name exists in it.
LIBRARY_LANG = "ja"


@dataclass(frozen=True)
class Localized:
    texts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, texts: Mapping[str, str] | str | None) -> Localized:
        """From a mapping, or a JSON column's value (SQLite hands back the JSON text)."""
        found: Mapping[str, str] = json.loads(texts) if isinstance(texts, str) else texts or {}
        return cls(tuple(sorted((str(k), str(v)) for k, v in found.items() if v)))

    def get(self, lang: str) -> str:
        found = dict(self.texts)
        return found.get(lang) or found.get(LIBRARY_LANG) or next(iter(found.values()), "")

    def as_dict(self) -> dict[str, str]:
        return dict(self.texts)
