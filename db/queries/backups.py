"""Backups of the configured database (db/backup.py): `shiori backup` and `shiori restore`."""

from __future__ import annotations

from pathlib import Path

from db import backup
from db.backup import BackupInfo, BackupRefused

__all__ = ["BackupInfo", "BackupRefused", "backup_database", "restore_database"]


def backup_database(target: Path) -> BackupInfo:
    """A consistent copy of the whole database, made while it stays in use."""
    return backup.backup_configured(target)


def restore_database(source: Path, force: bool = False) -> str:
    """Put a backup in place of the database (refused when not empty, unless `force`). The
    caller runs the migrations next. → the engine ("sqlite" or "postgresql")."""
    return backup.restore_configured(source, force)
