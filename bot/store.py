"""Where findings are stored: what was posted where, and who is working on which finding.

A finding is worked on under a lease: a row-level claim with an owner and an expiry, taken
by a conditional insert or update, so that two bot instances sharing the subscription and
the database never handle the same finding at once. A lease left by a crashed instance
expires and the finding's next delivery takes it over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.db import findings

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=120)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredFinding:
    """One row of the findings table."""

    key: str
    status: str
    category: str
    severity: str
    state: str
    mute: str
    project: str
    resource_name: str
    resource_label: str
    script_sha256: str
    event_time: datetime | None
    last_event_time: datetime | None
    occurrences: int
    content_hash: str
    snapshot: str
    channel: str | None
    message_ts: str | None
    last_published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted: bool
    digest_id: str | None = None
    listed: bool = False

    @property
    def posted(self) -> bool:
        return self.message_ts is not None


class FindingStore:
    """Read and write findings; every write that matters is conditional on the lease."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # Statements every finding runs, built once: building them costs more than running.
        self._placeholder = (
            self._insert(findings)
            .on_conflict_do_nothing(index_elements=["key"])
            # rowcount is not reliable for INSERT … ON CONFLICT across drivers; a returned
            # row is.
            .returning(findings.c.key)
        )
        self._take_lease = (
            update(findings)
            .where(
                findings.c.key == bindparam("b_key"),
                or_(
                    findings.c.lease_until.is_(None),
                    findings.c.lease_until < bindparam("b_now"),
                ),
            )
            .values(lease_owner=bindparam("b_owner"), lease_until=bindparam("b_until"))
        )
        self._same_script = (
            select(findings)
            .where(
                findings.c.script_sha256 == bindparam("b_sha"),
                findings.c.resource_name != bindparam("b_resource"),
                findings.c.updated_at >= bindparam("b_since"),
            )
            .order_by(findings.c.updated_at.desc())
            .limit(bindparam("b_limit"))
        )
        # The columns to set come from each call's parameters.
        self._write_leased = update(findings).where(
            findings.c.key == bindparam("b_key"), findings.c.lease_owner == bindparam("b_owner")
        )

    def claim(
        self,
        key: str,
        owner: str,
        *,
        lease: timedelta = DEFAULT_LEASE,
        resource_name: str = "",
        category: str = "",
    ) -> tuple[bool, StoredFinding | None]:
        """Take the lease on a finding.

        Args:
            resource_name: stored with a new placeholder, so that burst detection counts
                findings other workers are still posting.
            category: likewise.

        Returns:
            (claimed, row): ``claimed`` is False when another worker holds the lease; ``row``
            is the stored finding, or None when this call created its placeholder.
        """
        now = utcnow()
        until = now + lease
        with self.engine.begin() as conn:
            inserted = conn.execute(
                self._placeholder,
                {
                    "key": key,
                    "status": "pending",
                    "resource_name": resource_name[:1024],
                    "category": category[:256],
                    "lease_owner": owner,
                    "lease_until": until,
                    "created_at": now,
                    "updated_at": now,
                    "occurrences": 1,
                },
            )
            if inserted.first() is not None:
                return True, None
        with self.engine.begin() as conn:
            taken = conn.execute(
                self._take_lease,
                {"b_key": key, "b_now": now, "b_owner": owner, "b_until": until},
            )
            if taken.rowcount != 1:
                return False, None
            row = conn.execute(select(findings).where(findings.c.key == key)).one()
        stored = _to_stored(row._mapping)
        return True, (stored if stored.status != "pending" or stored.posted else None)

    def release(self, key: str, owner: str) -> None:
        """Give the lease back without changing the finding."""
        with self.engine.begin() as conn:
            conn.execute(
                self._write_leased,
                {"b_key": key, "b_owner": owner, "lease_owner": None, "lease_until": None},
            )

    def save(self, key: str, owner: str, **values: Any) -> bool:
        """Write the finding and release the lease; False when the lease was lost."""
        values.update(lease_owner=None, lease_until=None, updated_at=utcnow())
        with self.engine.begin() as conn:
            result = conn.execute(self._write_leased, {"b_key": key, "b_owner": owner, **values})
        if result.rowcount != 1:
            logger.warning("lease on %s was lost before saving; another worker took over", key)
            return False
        return True

    def get(self, key: str) -> StoredFinding | None:
        """Return a stored finding by its v2 name."""
        with self.engine.connect() as conn:
            row = conn.execute(select(findings).where(findings.c.key == key)).first()
        return _to_stored(row._mapping) if row else None

    def key_at(self, channel: str, message_ts: str) -> str | None:
        """Return the key of the finding posted as this Slack message, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(findings.c.key)
                .where(findings.c.channel == channel, findings.c.message_ts == message_ts)
                .limit(1)
            ).first()
        return row.key if row else None

    def same_script_elsewhere(
        self, sha256: str, *, exclude_resource: str, since: datetime, limit: int = 20
    ) -> list[StoredFinding]:
        """Return the newest posted finding per other resource that ran the same script."""
        if not sha256:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._same_script,
                {
                    "b_sha": sha256,
                    "b_resource": exclude_resource,
                    "b_since": since,
                    "b_limit": limit * 5,
                },
            ).all()
        newest: dict[str, StoredFinding] = {}
        for row in rows:
            stored = _to_stored(row._mapping)
            newest.setdefault(stored.resource_name, stored)
        return list(newest.values())[:limit]

    def recent(self, *, since: datetime, limit: int = 100) -> list[StoredFinding]:
        """Return findings updated since ``since``, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(findings)
                .where(findings.c.updated_at >= since)
                .order_by(findings.c.updated_at.desc())
                .limit(limit)
            ).all()
        return [_to_stored(row._mapping) for row in rows]

    def count_by_status(self) -> dict[str, int]:
        """Return how many findings are in each status."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(findings.c.status, func.count()).group_by(findings.c.status)
            ).all()
        return {status: count for status, count in rows}

    def keys_with_finding_id(self, finding_id: str, *, limit: int = 5) -> list[str]:
        """Return the names of stored findings whose last segment is ``finding_id``."""
        suffix = f"/findings/{finding_id}"
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(findings.c.key)
                .where(findings.c.key.endswith(suffix, autoescape=True))
                .order_by(findings.c.updated_at.desc())
                .limit(limit)
            ).all()
        return [row.key for row in rows]

    def open_counts_by_severity(self) -> dict[str, int]:
        """Return how many posted, active, unmuted findings there are per severity."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(findings.c.severity, func.count())
                .where(*_OPEN)
                .group_by(findings.c.severity)
            ).all()
        return {severity: count for severity, count in rows}

    def newest_open(self, severity: str, *, limit: int = 3) -> list[StoredFinding]:
        """Return the newest posted, active, unmuted findings of one severity."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(findings)
                .where(*_OPEN, findings.c.severity == severity)
                .order_by(
                    findings.c.last_event_time.desc().nulls_last(), findings.c.updated_at.desc()
                )
                .limit(limit)
            ).all()
        return [_to_stored(row._mapping) for row in rows]


# A finding still needing attention: posted, active, not muted and not deleted.
_OPEN = (
    findings.c.status == "posted",
    findings.c.state == "ACTIVE",
    findings.c.mute != "MUTED",
    findings.c.deleted.is_(False),
)


def _to_stored(row: Any) -> StoredFinding:
    values = dict(row)
    for column in ("lease_owner", "lease_until"):
        values.pop(column, None)
    for column in (
        "event_time",
        "last_event_time",
        "last_published_at",
        "created_at",
        "updated_at",
    ):
        moment = values.get(column)
        # SQLite hands back naive datetimes; every time stored here is UTC.
        if moment is not None and moment.tzinfo is None:
            values[column] = moment.replace(tzinfo=UTC)
    return StoredFinding(**values)
