"""Create or upgrade the database schema with the Alembic revisions in deploy/migrations.

Run by an operator (``python -m bot migrate``) before a release that changes the schema,
never at every start: instances that start together must not race to alter tables. On
PostgreSQL the upgrade holds an advisory lock, so two operators (or two release jobs) that
run it at once upgrade one after the other.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from bot.db import make_engine, metadata

logger = logging.getLogger(__name__)

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "deploy" / "alembic.ini"
# Any constant shared by every bot instance; it names the lock, nothing else.
_LOCK_KEY = 0x5CC5_1AC0


class MigrationError(Exception):
    """The database cannot be brought to the current schema without an operator."""


def alembic_config() -> Config:
    """Return the Alembic configuration of deploy/alembic.ini."""
    config = Config(str(ALEMBIC_INI))
    # Our own logging is configured already; alembic.ini's loggers are for its CLI.
    config.attributes["configure_logger"] = False
    return config


def head_revision() -> str:
    """Return the newest revision in deploy/migrations."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise MigrationError(f"the migrations have {len(heads)} heads; merge them first")
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    """Return the revision a database is at, or None when Alembic never ran on it."""
    return MigrationContext.configure(connection).get_current_revision()


def schema_differences(connection: Connection) -> list[Any]:
    """Return what differs between the database and bot.db.metadata (empty when equal)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def upgrade(database_url: str, revision: str = "head") -> str:
    """Bring the schema up to ``revision`` and return the revision reached."""
    engine = make_engine(database_url)
    location = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            _lock(connection)
            try:
                _adopt_unversioned(connection)
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
                reached = current_revision(connection)
            finally:
                _unlock(connection)
    finally:
        engine.dispose()
    logger.info("schema is at revision %s at %s", reached, location)
    return reached or "base"


def _adopt_unversioned(connection: Connection) -> None:
    """Stamp a database whose tables were made directly from the metadata (first SQLite run).

    Such a database matches the code that created it; it is adopted only when it matches
    the current metadata exactly, otherwise an operator must decide.
    """
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or not tables & set(metadata.tables):
        return
    differences = schema_differences(connection)
    if differences:
        raise MigrationError(
            "the database has tables but no migration history, and differs from the current "
            f"schema ({len(differences)} differences, first: {differences[0]!r}); "
            "stamp it with `alembic -c deploy/alembic.ini stamp <revision>` and retry"
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.stamp(config, "head")
    connection.commit()
    logger.info("adopted an unversioned database at revision %s", head_revision())


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
        connection.commit()


def _unlock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
        connection.commit()
