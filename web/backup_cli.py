"""`shiori backup FILE` and `shiori restore FILE [--force]` (db/backup.py; README,
"Deployment"). A backup runs beside the server; a restore wants the server and workers
stopped, upgrades the restored schema to this release's and runs the retention job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from db import queries
from web.settings import Settings

Setup = Callable[[Settings], None]


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    setup: Setup,
    retention: Callable[[Settings], object],
) -> None:
    save = sub.add_parser(
        "backup",
        help="copy the whole database to FILE while it stays in use (SQLite's online backup;"
        " pg_dump's custom format for PostgreSQL)",
    )
    save.add_argument("file", type=Path)
    load = sub.add_parser(
        "restore",
        help="replace the database with the backup FILE, then upgrade its schema (stop the"
        " server and workers first)",
    )
    load.add_argument("file", type=Path)
    load.add_argument("--force", action="store_true", help="replace a database that is not empty")

    def run_backup(settings: Settings, args: argparse.Namespace) -> int:
        # No migration here: a backup taken before an upgrade must hold the old schema.
        queries.configure(settings.database_url)
        queries.check_database()
        try:
            made = queries.backup_database(args.file)
        except queries.BackupRefused as refused:
            print(refused, file=sys.stderr)
            return 2
        print(f"バックアップしました / backed up ({made.engine}): {made.path} ({made.size} bytes)")
        return 0

    def run_restore(settings: Settings, args: argparse.Namespace) -> int:
        queries.configure(settings.database_url)
        queries.check_database()
        try:
            kind = queries.restore_database(args.file, force=args.force)
        except queries.BackupRefused as refused:
            print(refused, file=sys.stderr)
            return 2
        setup(settings)  # the migrations a backup from an older release needs
        # What retention erased since the backup was made must not come back with it.
        retention(settings)
        print(
            f"復元しました / restored ({kind}) from {args.file}; the schema is up to date"
            " and the retention job has run."
        )
        return 0

    save.set_defaults(fn=run_backup)
    load.set_defaults(fn=run_restore)
