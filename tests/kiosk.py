"""Library kiosks in tests: a terminal registered straight in the database (as a manager's
screen would, without needing a staff account), and a client or browser enrolled as it."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine
from db.clock import aware_utc, now
from db.sessions import digest

FLOOR_GUIDE = "一般書架: 2階\n児童書: 1階 こどものへや\n新聞・雑誌は1階です"


def new_terminal(
    branch: str = "sogo", name: str = "総合 OPAC 1", floor_guide: str = FLOOR_GUIDE
) -> str:
    """A registered terminal with an open enrolment link; returns the link's token."""
    token = secrets.token_urlsafe(32)
    moment = aware_utc(now())
    with engine.write() as conn:
        branch_id = conn.execute(
            text("SELECT id FROM branch WHERE code = :c"), {"c": branch}
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO terminal (name, branch_id, location, floor_guide, created_at, "
                "enrol_hash, enrol_expires_at) VALUES (:n, :b, '2階 階段の横', :g, :now, :h, "
                ":exp)"
            ),
            {
                "n": name,
                "b": branch_id,
                "g": floor_guide,
                "now": moment,
                "h": digest(token),
                "exp": moment + timedelta(hours=1),
            },
        )
    return token


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def enrol(client: TestClient, token: str | None = None) -> TestClient:
    """Open the enrolment link in `client` and confirm: it is the terminal from now on."""
    token = token or new_terminal()
    page = client.get(f"/kiosk/enrol/{token}")  # the token moves into a cookie
    assert page.status_code == 200, page.status_code
    done = client.post(
        "/kiosk/enrol", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/kiosk"
    return client
