"""an answer the patron has not read yet: `reference_question.answer_unread`

A patron who chose no mail for the answer (「メールなし：マイライブラリで確認」) had nothing on
/my to tell them an answer had come. The question now says whether its latest answer is
still unread by the patron: set by `db.reference.record_answer`, cleared when the patron is
shown the thread. A flag, not a time: the library does not need to know when a patron read
an answer, only that there is one they have not seen. It lives on the question row and goes
with it (retention, the patron's delete, a patron purge).

Questions in the `answered` state when this runs are counted unread: whether their patron
saw the answer was never recorded, and showing a read answer once more on /my is harmless
where hiding an unread one is the defect this mends.

Revision ID: 0034_reference_answer_unread
Revises: 0033_hold_undo_used
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_reference_answer_unread"
down_revision = "0033_hold_undo_used"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "reference_question",
        sa.Column("answer_unread", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE reference_question SET answer_unread = TRUE "
        "WHERE status = 'answered' AND patron_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("reference_question") as batch:
        batch.drop_column("answer_unread")
