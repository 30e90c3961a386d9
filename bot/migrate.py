"""Create or upgrade the database schema."""

from __future__ import annotations

import logging

from bot.db import create_schema, make_engine

logger = logging.getLogger(__name__)


def upgrade(database_url: str) -> None:
    """Bring the schema up to date."""
    # TODO(migrations): switch to Alembic revisions once the schema has a second version;
    # until then creating missing tables is the whole upgrade.
    engine = make_engine(database_url)
    create_schema(engine)
    logger.info("schema is up to date at %s", engine.url.render_as_string(hide_password=True))
    engine.dispose()
