"""search tokens: 異体字, katakana spellings, romaji, word-bounded titles (issue 18)

The token stream of db.search changed (more kanji variants, ヴァ→バ and the long-vowel mark,
romaji of readings, titles indexed word by word) and so did the normal form kept in
work.title_norm / yomi_norm / sort_key. Both are rebuilt from the stored rows, with the new
work.title_words (the title's and reading's words, for ranking whole-word matches first). A contentless FTS5 table must be rebuilt before any row is updated: deleting
a row's tokens needs the exact tokens it was indexed with. Downgrading leaves the index as
it is (but drops title_words): run `shiori catalog reindex` with the older code.

Revision ID: 0028_search_tokens
Revises: 0026_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.catalog_write import SearchIndex

revision = "0028_search_tokens"
down_revision = "0026_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work") as batch:
        batch.add_column(sa.Column("title_words", sa.Text(), nullable=False, server_default=""))
    SearchIndex(op.get_bind()).rebuild()


def downgrade() -> None:
    with op.batch_alter_table("work") as batch:
        batch.drop_column("title_words")
