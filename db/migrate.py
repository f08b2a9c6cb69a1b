"""Schema migrations through Alembic, driven from code (no alembic.ini to keep in step)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from db.engine import get_engine


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("db").joinpath("migrations")))
    return cfg


def upgrade(revision: str = "head") -> None:
    engine = get_engine()
    with engine.connect().execution_options(write=True) as conn:
        # SQLite rebuilds a table (batch mode) by copying it and dropping the old one; with
        # foreign keys on, the drop would delete or cascade into the rows that refer to it.
        # So they are off during the migration and checked before the commit (SQLite's
        # documented procedure); the setting is per connection and outside any transaction.
        driver = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF").close()
        try:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            if driver is not None:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:
                    raise RuntimeError(f"foreign key broken by the migration: {tuple(broken)}")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON").close()
