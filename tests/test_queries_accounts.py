"""Account paths at the query layer: attempts are counted even when they are refused."""

from __future__ import annotations

import pytest

from db import queries, throttle
from tests.conftest import Database

ICHIRO = "2100000003"


def test_wrong_activation_codes_are_counted_until_the_card_must_wait(
    library_db: Database,
) -> None:
    code = queries.issue_activation_code(ICHIRO)
    for _ in range(throttle.CODE_CARD.attempts):
        with pytest.raises(queries.CodeRefused):
            queries.set_password_with_code(
                ICHIRO, "AAAA-BBBB-CCCC", "図書館の新しい合言葉", "192.0.2.9"
            )
    # The right code is refused now too: the card must wait.
    with pytest.raises(queries.CodeRefused):
        queries.set_password_with_code(ICHIRO, code, "図書館の新しい合言葉", "192.0.2.9")
