"""The database: one SQLAlchemy metadata for every table, and the engine factory.

SQLite (a file) by default; PostgreSQL when several bot instances share the work. Schema
changes go through Alembic migrations (``python -m bot migrate``); tests and the demo
create the schema directly.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    false,
    inspect,
)
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

metadata = MetaData()

findings = Table(
    "findings",
    metadata,
    # The v2 finding name; v1 names are normalized to it before they get here.
    Column("key", String(512), primary_key=True),
    Column("status", String(16), nullable=False),  # pending | posted | filtered | deleted
    Column("category", String(256), nullable=False, default=""),
    Column("severity", String(32), nullable=False, default=""),
    Column("state", String(32), nullable=False, default=""),
    Column("mute", String(32), nullable=False, default=""),
    Column("project", String(128), nullable=False, default=""),
    Column("resource_name", String(1024), nullable=False, default=""),
    Column("resource_label", String(256), nullable=False, default=""),
    Column("script_sha256", String(64), nullable=False, default=""),
    Column("event_time", DateTime(timezone=True)),
    Column("last_event_time", DateTime(timezone=True)),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("snapshot", Text, nullable=False, default=""),
    Column("channel", String(32)),
    Column("message_ts", String(32)),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_published_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    # Set when the finding arrived in a burst and is shown in a digest, not on its own.
    Column("digest_id", String(64)),
    Column("listed", Boolean, nullable=False, default=False, server_default=false()),
)
Index("ix_findings_script_sha256", findings.c.script_sha256)
Index("ix_findings_resource_name", findings.c.resource_name)
Index("ix_findings_updated_at", findings.c.updated_at)
Index("ix_findings_burst", findings.c.resource_name, findings.c.category, findings.c.created_at)
Index("ix_findings_digest_id", findings.c.digest_id)

# One message standing for many findings of one resource and category during a burst.
digests = Table(
    "digests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("resource_name", String(1024), nullable=False),
    Column("resource_label", String(256), nullable=False, default=""),
    Column("category", String(256), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("message_ts", String(32)),
    # Bumped for every finding grouped into the digest; the message shows rendered_version.
    Column("version", Integer, nullable=False, default=0),
    Column("rendered_version", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_digests_dirty", digests.c.version, digests.c.rendered_version)

# Containment proposed from Slack: each row moves pending → approved → executing → done or
# failed (or rejected, expired, replanned; done → undoing → undone) by conditional updates.
containment_requests = Table(
    "containment_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("finding_key", String(512), nullable=False),
    Column("resource", String(512), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("request_ts", String(32)),
    Column("requester", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("plans", Text, nullable=False),  # JSON list of plans, each with before/after/etag
    Column("status", String(16), nullable=False),
    Column("decided_by", String(32)),
    Column("decided_at", DateTime(timezone=True)),
    Column("results", Text, nullable=False, default="[]"),  # JSON: what each action replaced
    Column("error", Text, nullable=False, default=""),
    Column("undone_by", String(32)),
    Column("undone_at", DateTime(timezone=True)),
    Column("replaced_by", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_containment_requests_status", containment_requests.c.status)
Index("ix_containment_requests_finding_key", containment_requests.c.finding_key)

# One row per containment event (request, approval, rejection, execution, undo, SCC change).
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("request_id", String(32)),
    Column("finding_key", String(512), nullable=False, default=""),
    Column("resource", String(512), nullable=False, default=""),
    Column("before", Text, nullable=False, default=""),
    Column("after", Text, nullable=False, default=""),
    Column("result", Text, nullable=False, default=""),
)
Index("ix_audit_at", audit.c.at)


# Signatures of verified Slack requests, so that a captured request cannot be replayed.
slack_requests_seen = Table(
    "slack_requests_seen",
    metadata,
    Column("signature", String(80), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
Index("ix_slack_requests_seen_seen_at", slack_requests_seen.c.seen_at)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``DATABASE_URL``, tuned for the dialect."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship; SQLAlchemy defaults to psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets readers run while the worker writes; busy_timeout waits out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # With WAL, NORMAL syncs at checkpoints rather than at every commit: a crash of the
    # process loses nothing, a power cut may forget the last few posts (a later update of
    # one of those findings would then be posted anew). PostgreSQL is the production store.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Create any missing tables (for tests, the demo and a first SQLite run)."""
    metadata.create_all(engine)


def schema_ready(engine: Engine) -> bool:
    """Return whether every table the bot uses exists."""
    existing = set(inspect(engine).get_table_names())
    return set(metadata.tables) <= existing
