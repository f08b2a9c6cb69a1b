"""deploy/systemd: every unit runs a command `shiori` has, hardened, with the secrets from
the environment file; every timer starts a service that exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from web.cli import parser

UNITS = Path(__file__).resolve().parents[1] / "deploy" / "systemd"
SHIORI = "/opt/shiori/.venv/bin/shiori"
HARDENING = (
    "User=shiori",
    "EnvironmentFile=/etc/shiori/shiori.env",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "CapabilityBoundingSet=",
)


def _commands(unit: str) -> list[list[str]]:
    found = []
    for line in unit.splitlines():
        if not line.startswith("ExecStart="):
            continue
        words = shlex.split(line.removeprefix("ExecStart="))
        if words[:2] == ["/bin/sh", "-c"]:  # the backup's file name needs the date
            words = shlex.split(words[2].removeprefix("exec "))
        assert words[0] == SHIORI, line
        found.append([re.sub(r"\$\(date [^)]*\)", "DATE", w) for w in words[1:]])
    return found


def test_every_service_runs_a_shiori_command_hardened() -> None:
    services = sorted(UNITS.glob("*.service"))
    assert {p.stem for p in services} >= {
        "shiori",
        "shiori-mail",
        "shiori-holds-daily",
        "shiori-retention",
        "shiori-alerts",
        "shiori-backup",
    }
    seen = set()
    for path in services:
        unit = path.read_text()
        commands = _commands(unit)
        assert len(commands) == 1, path.name
        args = parser().parse_args(commands[0])  # exits (fails the test) on a wrong command
        seen.add(" ".join(commands[0][:2]))
        assert args.fn is not None
        for line in HARDENING:
            assert f"\n{line}\n" in unit, f"{path.name}: {line}"
        assert "SHIORI_SECRET_KEY" not in unit, "secrets live in the environment file"
    assert {"holds daily", "retention run", "alerts send", "mail worker"} <= seen


def test_every_timer_starts_an_existing_service() -> None:
    timers = sorted(UNITS.glob("*.timer"))
    assert len(timers) == 4
    for timer in timers:
        assert (UNITS / f"{timer.stem}.service").exists(), timer.name
        assert "OnCalendar=" in timer.read_text() and "Persistent=true" in timer.read_text()
