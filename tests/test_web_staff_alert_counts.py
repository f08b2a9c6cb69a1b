"""Staff see how many new-arrival alert conditions there are, never whose or what
(issue 17: conditions are personal data; staff see counts)."""

from __future__ import annotations

from sqlalchemy import text

from db import engine, queries
from tests import test_web_staff
from tests.test_web_staff import HANAKO, Console

_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team


def test_the_mail_screen_counts_alert_conditions_and_names_none(
    team: dict[str, Console],
) -> None:
    with engine.read() as conn:
        patron_id = conn.execute(
            text("SELECT id FROM patron WHERE card_number = :c"), {"c": HANAKO.card_number}
        ).scalar_one()
    queries.add_alert_condition(patron_id, "keyword", "秘密の趣味")
    queries.add_alert_condition(patron_id, "author", "誰か")
    html = team["staff"].speaking("en").get("/staff/mail").text  # type: ignore[attr-defined]
    assert "New-arrival alerts: 2 conditions saved by 1 patron." in html
    assert "秘密の趣味" not in html and "誰か" not in html
