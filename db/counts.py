"""Anonymous daily counts (業務統計): the only trace circulation and reservations leave."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection


def bump(conn: Connection, day: date, branch_id: int, material_type: str, event: str) -> None:
    """Add one to the count of `event` on `day` at a branch, for a material type ("" for
    reservations, which are of a title)."""
    conn.execute(
        text(
            "INSERT INTO daily_count (day, branch_id, material_type, event, count) "
            "VALUES (:day, :branch_id, :material_type, :event, 1) "
            "ON CONFLICT (day, branch_id, material_type, event) "
            "DO UPDATE SET count = daily_count.count + 1"
        ),
        {"day": day, "branch_id": branch_id, "material_type": material_type, "event": event},
    )


def unbump(conn: Connection, day: date, branch_id: int, material_type: str, event: str) -> None:
    """Take back one `bump` (an undone cancellation); a count never goes below zero."""
    conn.execute(
        text(
            "UPDATE daily_count SET count = count - 1 WHERE day = :day AND branch_id = :branch_id "
            "AND material_type = :material_type AND event = :event AND count > 0"
        ),
        {"day": day, "branch_id": branch_id, "material_type": material_type, "event": event},
    )
