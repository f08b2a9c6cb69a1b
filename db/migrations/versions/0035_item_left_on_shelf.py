"""a copy going home that still lies on a hold shelf: `item.left_on_shelf_branch_id`

A copy freed off a hold shelf without a counter scan (its ready reservation cancelled by the
patron or staff, expired, or collected as another copy) with nobody waiting goes `in_transit`
home, while it still lies on the pickup branch's hold shelf: nothing told that branch's staff
to send it. The copy now records the branch whose hold shelf it left that way (db.routing
`_home`), shown on that branch's pull list; any other status, a reservation taking it, or a
scan at a counter clears it. A plain integer, as `item.branch_id`'s branch ids; no foreign
key, so that SQLite adds the column without copying the table.

Copies in transit when this runs keep NULL: where they lie was never recorded.

Revision ID: 0035_item_left_on_shelf
Revises: 0034_reference_answer_unread
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_item_left_on_shelf"
down_revision = "0034_reference_answer_unread"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("item", sa.Column("left_on_shelf_branch_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.drop_column("left_on_shelf_branch_id")
