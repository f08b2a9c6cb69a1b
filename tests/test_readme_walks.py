"""Issue 20: the README's reservation walk-through works as written, through the staff
console as well as the command line. The walk used to pick the book up at 辻堂 while the
README's only manager works at 総合: her counter sent the copy in transit and the walk
stalled with no mail. The steps below follow the README's text (branch, barcode, cards)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from db import engine, queries
from tests.conftest import Database, app_settings
from tests.test_web_account import log_in
from tests.test_web_holds import patron_id, reserve
from tests.test_web_staff import SECRET_KEY, Clock, Console
from web import cli
from web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
MISAKI = ("2100000004", "misaki-no-hon-99")
TARO = ("2100000002", "tosho-kan-taro-7")


def _walk() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    return readme.split("## Try a reservation from start to finish", 1)[1].split("\n## ", 1)[0]


def _readme_manager() -> list[str]:
    """The arguments of the README's `staff create-manager` example."""
    readme = (ROOT / "README.md").read_text("utf-8")
    found = re.search(r"shiori staff create-manager (--staff-id .*)", readme)
    assert found, "the README no longer shows how to create the first manager"
    words = re.findall(r'"[^"]*"|\S+', found.group(1))
    return [w.strip('"') for w in words]


def _branch_code(name: str) -> str:
    return next(b.code for b in queries.list_branches() if b.name.get("ja") == name)


def _pickup_in_step_1() -> str:
    step = _walk().split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    found = re.search(r"(\S+図書館)", step.split("受取館", 1)[1]) if "受取館" in step else None
    assert found, "step 1 names no pickup library"
    return found.group(1)


@pytest.fixture
def demo(catalog_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The catalogue as `make run` leaves it: `shiori demo load` on the loaded catalogue
    adds the demo patrons, their loans, the calendars and the demo borrowers."""
    monkeypatch.setenv("SHIORI_DATABASE_URL", catalog_db.url)
    with redirect_stdout(io.StringIO()):
        assert cli.main(["demo", "load"]) == 0
    yield catalog_db


@pytest.fixture
def clock() -> Iterator[Clock]:
    now = Clock()
    now.now = datetime.now(UTC)
    queries.set_clock(now)
    yield now
    queries.set_clock(None)


def _work(title: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM work WHERE title = :t ORDER BY id LIMIT 1"), {"t": title}
            ).scalar_one()
        )


def _steps_1_and_2(app: object) -> tuple[TestClient, TestClient]:
    work_id = _work("傷心")
    pickup = _branch_code(_pickup_in_step_1())
    misaki, taro = TestClient(app), TestClient(app)  # type: ignore[arg-type]
    log_in(misaki, *MISAKI)
    assert reserve(misaki, work_id, pickup).status_code == 303  # type: ignore[attr-defined]
    log_in(taro, *TARO)
    assert reserve(taro, work_id, pickup).status_code == 303  # type: ignore[attr-defined]
    assert "あなたは 2 番目" in taro.get("/my/holds").text
    return misaki, taro


def _ready_notices(card: str) -> int:
    with engine.read() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM mail_outbox WHERE patron_id = :p AND kind = 'hold_ready'"
                ),
                {"p": patron_id(card)},
            ).scalar_one()
        )


def test_the_walk_through_the_staff_console(demo: Database, clock: Clock) -> None:
    app = create_app(app_settings(demo.url, SHIORI_SECRET_KEY=SECRET_KEY))
    arguments = _readme_manager()
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["staff", "create-manager", *arguments]) == 0
    manager = Console(app, clock)
    manager.enrol(out.getvalue().strip().splitlines()[-1])
    manager_branch = arguments[arguments.index("--branch") + 1]
    # The README's manager works where step 1 picks the book up.
    assert _branch_code(_pickup_in_step_1()) == manager_branch
    misaki, taro = _steps_1_and_2(app)

    # Step 3: 返却 at the manager's counter puts it on the hold shelf for 美咲.
    returned = manager.post("/staff/counter/return", "/staff/counter", barcode="0000000815")
    assert returned.status_code == 303  # type: ignore[attr-defined]
    counter = manager.get("/staff/counter?mode=return").text  # type: ignore[attr-defined]
    assert "予約棚へ置いてください（総合市民図書館）" in counter
    # Step 4: her notice is queued for the worker, and 予約状況 says until when.
    assert _ready_notices(MISAKI[0]) == 1
    assert "までにお受け取りください" in misaki.get("/my/holds").text

    # Step 5: the counter lends it to her; 佐藤 太郎 is number 1.
    lent = manager.post(
        "/staff/counter/checkout", "/staff/counter", card=MISAKI[0], barcode="0000000815"
    )
    assert lent.status_code == 303  # type: ignore[attr-defined]
    assert "予約している資料はありません" in misaki.get("/my/holds").text
    assert "あなたは 1 番目" in taro.get("/my/holds").text


def test_the_walk_on_the_command_line(demo: Database, clock: Clock) -> None:
    app = create_app(app_settings(demo.url, SHIORI_SECRET_KEY=SECRET_KEY))
    misaki, taro = _steps_1_and_2(app)
    walk = _walk()
    commands = re.findall(
        r"`\.venv/bin/shiori (circ return|holds receive|circ checkout) ([^`]+)`", walk
    )
    assert [c[0] for c in commands] == ["circ return", "holds receive", "circ checkout"]
    for command, arguments in commands[:2]:
        with redirect_stdout(io.StringIO()):
            assert cli.main([*command.split(), *arguments.split()]) == 0
    assert _ready_notices(MISAKI[0]) == 1
    assert "までにお受け取りください" in misaki.get("/my/holds").text
    with redirect_stdout(io.StringIO()):
        assert cli.main([*commands[2][0].split(), *commands[2][1].split()]) == 0
    assert "予約している資料はありません" in misaki.get("/my/holds").text
    assert "あなたは 1 番目" in taro.get("/my/holds").text
