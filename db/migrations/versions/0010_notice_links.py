"""mail_outbox knows whose mail it is; a reservation knows its ready-for-pickup notice

So the notice can be withdrawn when the reservation ends (collected, cancelled, expired)
and a purge can withdraw every unsent row of the patron. Rows queued before: a row is given
the patron whose address it goes to when exactly one patron has that address; a pending
hold_ready row is linked to the ready reservation of that patron whose title it names.
Rows left unlinked are withdrawn by the next `shiori retention run`.

Revision ID: 0010_notice_links
Revises: 0009_mail_params
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0010_notice_links"
down_revision = "0009_mail_params"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("patron_id", sa.Integer(), nullable=True))
        batch.create_index("ix_mail_outbox_patron", ["patron_id"], unique=False)
    with op.batch_alter_table("hold") as batch:
        batch.add_column(sa.Column("notice_mail_id", sa.Integer(), nullable=True))
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE mail_outbox SET patron_id = (SELECT p.id FROM patron p "
            "WHERE p.email = mail_outbox.to_addr) "
            "WHERE (SELECT count(*) FROM patron p WHERE p.email = mail_outbox.to_addr) = 1"
        )
    )
    pending = conn.execute(
        sa.text(
            "SELECT id, patron_id, params, body FROM mail_outbox WHERE kind = 'hold_ready' "
            "AND patron_id IS NOT NULL AND sent_at IS NULL AND failed_at IS NULL ORDER BY id"
        )
    ).all()
    for row in pending:
        ready = conn.execute(
            sa.text(
                "SELECT h.id, w.title FROM hold h JOIN work w ON w.id = h.work_id "
                "WHERE h.patron_id = :p AND h.state = 'ready' AND h.notice_mail_id IS NULL "
                "ORDER BY h.id"
            ),
            {"p": row.patron_id},
        ).all()
        title = json.loads(row.params).get("title") if row.params else None
        for hold in ready:
            if hold.title == title or (row.body and hold.title in row.body):
                conn.execute(
                    sa.text("UPDATE hold SET notice_mail_id = :m WHERE id = :h"),
                    {"m": row.id, "h": hold.id},
                )
                break


def downgrade() -> None:
    with op.batch_alter_table("hold") as batch:
        batch.drop_column("notice_mail_id")
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_index("ix_mail_outbox_patron")
        batch.drop_column("patron_id")
