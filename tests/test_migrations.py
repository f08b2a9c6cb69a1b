"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables)
from db import engine
from tests.conftest import Database

# Tables the models do not describe on purpose: the full-text index of each engine.
SEARCH_INDEX = ("work_fts", "work_search")


def _relevant(diff: object) -> bool:
    op = diff[0] if isinstance(diff, tuple) else diff[0][0]  # type: ignore[index]
    text = repr(diff)
    if any(name in text for name in SEARCH_INDEX):
        return False
    # Column types: SQLModel's UTC datetime is a plain TIMESTAMP in the database.
    return op not in ("modify_type",)


def test_migrations_match_the_models(fresh_db: Database) -> None:
    with engine.get_engine().connect() as conn:
        context = MigrationContext.configure(conn)
        diffs = [d for d in compare_metadata(context, SQLModel.metadata) if _relevant(d)]
    assert diffs == []
