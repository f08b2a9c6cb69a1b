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
        cfg = _config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
