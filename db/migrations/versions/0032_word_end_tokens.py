"""search tokens: a title word's end token carries the next word's first character (issue 18)

A title word used to end with its last character alone as a token, so a query typed across
a word boundary (めての本 → "めて ての の 本*") was a phrase through one of the commonest
tokens of the index (の, る, と), and had to check positions in every work holding all of
its pieces: up to 10 ms at 1,000,000 works. The end token now joins the word's last
character to the next word's first ("の｜本"), a rare pair (db.search.WORD_END). The token
stream of titles changed, so the index is rebuilt from the stored rows (the normal forms
did not change). Downgrading leaves the index as it is: run `shiori catalog reindex` with
the older code.

Revision ID: 0032_word_end_tokens
Revises: 0031_item_work_library
"""

from __future__ import annotations

from alembic import op

from db.catalog_write import SearchIndex

revision = "0032_word_end_tokens"
down_revision = "0031_item_work_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    SearchIndex(op.get_bind()).rebuild()


def downgrade() -> None:
    """The index keeps the new tokens (see the module docstring)."""
