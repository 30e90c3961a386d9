"""Alembic environment: the bot's metadata, and the database from DATABASE_URL.

``bot.migrate`` hands over an open connection (holding the migration lock); the alembic
command line gets one from DATABASE_URL here.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from bot.db import make_engine, metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Write the SQL to stdout for review (``alembic upgrade head --sql``)."""
    context.configure(
        url=os.environ["DATABASE_URL"],
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(os.environ["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
