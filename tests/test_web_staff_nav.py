"""The staff console's top navigation names every screen the role may use — and only
those (the policy, as the console's first page decides) — and marks the current one."""

from __future__ import annotations

import re

from tests import test_web_staff
from tests.test_web_staff import Console

# The staff console's fixtures: the enrolled team on a copy of the library.
_team_template = test_web_staff._team_template
library_db = test_web_staff.library_db
app = test_web_staff.app
clock = test_web_staff.clock
team = test_web_staff.team

SCREENS = (
    "/staff/counter",
    "/staff/pull-list",
    "/staff/patrons",
    "/staff/mail",
    "/staff/calendar",
    "/staff/rules",
    "/staff/accounts",
    "/staff/audit",
)


def nav_links(page: str) -> list[str]:
    header = page.split('<header class="site-header staff-header">', 1)[1].split("</header>")[0]
    return [h for h in re.findall(r'<a href="(/staff/[^"]*)"', header) if h in SCREENS]


def test_the_navigation_offers_every_screen_the_role_may_use(team: dict[str, Console]) -> None:
    # Before: no mail, calendar or loan-rules link in the navigation.
    for role, member in team.items():
        home = member.get("/staff/").text  # type: ignore[attr-defined]
        first_page = [h for h in re.findall(r'<a href="(/staff/[^"]*)"', home.split("<main")[1])]
        links = nav_links(home)
        assert links == [h for h in SCREENS if h in first_page], role
        for href in links:  # each one the role may open
            assert member.get(href).status_code == 200, (role, href)  # type: ignore[attr-defined]
    assert nav_links(team["manager"].get("/staff/").text) == list(SCREENS)  # type: ignore[attr-defined]
    assert nav_links(team["staff"].get("/staff/").text) == [  # type: ignore[attr-defined]
        "/staff/counter",
        "/staff/pull-list",
        "/staff/patrons",
        "/staff/mail",
    ]
    assert nav_links(team["intern"].get("/staff/").text) == [  # type: ignore[attr-defined]
        "/staff/counter",
        "/staff/pull-list",
        "/staff/patrons",
    ]


def test_the_current_screen_is_marked(team: dict[str, Console]) -> None:
    page = team["manager"].get("/staff/rules").text  # type: ignore[attr-defined]
    assert '<a href="/staff/rules" aria-current="page">' in page
    assert page.count('aria-current="page"') == 1
