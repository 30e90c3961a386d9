"""Containment requests in the database, moved between states only by conditional updates.

Each transition is one ``UPDATE … WHERE id = ? AND status = ?``: of two clicks, two Slack
retries or two bot instances, exactly one sees a row count of 1 and goes on; the others read
the row to tell the person who acted first.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from bot.containment.execute import ActionResult
from bot.containment.plan import Plan
from bot.db import containment_requests as table

logger = logging.getLogger(__name__)


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTING = "executing"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    RECORDED = "recorded"  # approved in plan-only mode: nothing was executed
    REPLANNED = "replanned"  # the resource changed; a new request replaced this one
    UNDOING = "undoing"
    UNDONE = "undone"
    UNDO_FAILED = "undo_failed"


FINISHED = (Status.DONE, Status.FAILED, Status.RECORDED, Status.UNDONE, Status.UNDO_FAILED)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ContainmentRequest:
    """One proposed containment and everything that happened to it."""

    id: str
    finding_key: str
    resource: str
    channel: str
    thread_ts: str
    request_ts: str | None
    requester: str
    reason: str
    mode: str
    plans: list[Plan]
    status: Status
    decided_by: str | None
    decided_at: datetime | None
    results: list[ActionResult]
    error: str
    undone_by: str | None
    undone_at: datetime | None
    replaced_by: str | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime

    def expired(self, now: datetime | None = None) -> bool:
        return self.status is Status.PENDING and (now or utcnow()) >= self.expires_at


class ContainmentStore:
    """Create requests and move them through their states, once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        finding_key: str,
        resource: str,
        channel: str,
        thread_ts: str,
        requester: str,
        reason: str,
        mode: str,
        plans: list[Plan],
        expires_at: datetime,
    ) -> ContainmentRequest:
        """Record a new pending request."""
        now = utcnow()
        request_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(
                insert(table).values(
                    id=request_id,
                    finding_key=finding_key,
                    resource=resource,
                    channel=channel,
                    thread_ts=thread_ts,
                    requester=requester,
                    reason=reason,
                    mode=mode,
                    plans=json.dumps([p.to_dict() for p in plans]),
                    status=Status.PENDING,
                    results="[]",
                    error="",
                    created_at=now,
                    expires_at=expires_at,
                    updated_at=now,
                )
            )
        found = self.get(request_id)
        assert found is not None
        return found

    def get(self, request_id: str) -> ContainmentRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == request_id)).first()
        return _to_request(row._mapping) if row else None

    def set_request_ts(self, request_id: str, ts: str) -> None:
        """Remember where the approval request was posted."""
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == request_id).values(request_ts=ts))

    def approve(self, request_id: str, user: str, now: datetime | None = None) -> bool:
        """Move pending → approved unless expired; True for the one caller that did."""
        now = now or utcnow()
        return self._move(
            request_id,
            Status.PENDING,
            Status.APPROVED,
            extra=[table.c.expires_at > now],
            decided_by=user,
            decided_at=now,
        )

    def reject(self, request_id: str, user: str, now: datetime | None = None) -> bool:
        """Move pending → rejected."""
        now = now or utcnow()
        return self._move(
            request_id, Status.PENDING, Status.REJECTED, decided_by=user, decided_at=now
        )

    def expire(self, request_id: str, now: datetime | None = None) -> bool:
        """Move pending → expired once its time is up."""
        now = now or utcnow()
        return self._move(
            request_id, Status.PENDING, Status.EXPIRED, extra=[table.c.expires_at <= now]
        )

    def expire_due(self, now: datetime | None = None) -> list[ContainmentRequest]:
        """Expire every pending request whose time is up; return those this call expired."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            ids = conn.execute(
                select(table.c.id).where(
                    table.c.status == Status.PENDING, table.c.expires_at <= now
                )
            ).scalars()
            due = list(ids)
        expired = [i for i in due if self.expire(i, now)]
        return [r for r in (self.get(i) for i in expired) if r is not None]

    def start(self, request_id: str) -> bool:
        """Move approved → executing."""
        return self._move(request_id, Status.APPROVED, Status.EXECUTING)

    def record_plan_only(self, request_id: str) -> bool:
        """Move approved → recorded: approved, deliberately not executed."""
        return self._move(request_id, Status.APPROVED, Status.RECORDED)

    def finish(self, request_id: str, results: list[ActionResult], *, error: str = "") -> bool:
        """Move executing → done, or failed when an action failed."""
        failed = bool(error) or not all(r.ok for r in results)
        return self._move(
            request_id,
            Status.EXECUTING,
            Status.FAILED if failed else Status.DONE,
            results=_dump(results),
            error=error or next((r.error for r in results if not r.ok), ""),
        )

    def supersede(self, request_id: str, replaced_by: str) -> bool:
        """Move executing → replanned, pointing at the request that replaces it."""
        return self._move(request_id, Status.EXECUTING, Status.REPLANNED, replaced_by=replaced_by)

    def begin_undo(self, request_id: str, user: str) -> bool:
        """Move done or failed → undoing."""
        for status in (Status.DONE, Status.FAILED):
            if self._move(request_id, status, Status.UNDOING, undone_by=user, undone_at=utcnow()):
                return True
        return False

    def finish_undo(self, request_id: str, restored: list[ActionResult]) -> bool:
        """Move undoing → undone, or undo_failed with the reason."""
        ok = bool(restored) and all(r.ok for r in restored)
        return self._move(
            request_id,
            Status.UNDOING,
            Status.UNDONE if ok else Status.UNDO_FAILED,
            error="" if ok else next((r.error for r in restored if not r.ok), "nothing to undo"),
        )

    def pending_requests(self) -> list[ContainmentRequest]:
        """Return requests still waiting for a decision, oldest first (for App Home)."""
        now = utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table)
                .where(table.c.status == Status.PENDING, table.c.expires_at > now)
                .order_by(table.c.created_at)
            ).all()
        return [_to_request(row._mapping) for row in rows]

    def recent_actions(self, limit: int = 20) -> list[ContainmentRequest]:
        """Return the latest decided or executed requests, newest first (for App Home)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table)
                .where(table.c.status.in_(_statuses((*FINISHED, Status.REJECTED))))
                .order_by(table.c.updated_at.desc())
                .limit(limit)
            ).all()
        return [_to_request(row._mapping) for row in rows]

    def latest_for(self, finding_key: str) -> ContainmentRequest | None:
        """Return the finding's most recently updated request."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table)
                .where(table.c.finding_key == finding_key)
                .order_by(table.c.updated_at.desc())
                .limit(1)
            ).first()
        return _to_request(row._mapping) if row else None

    def _move(
        self,
        request_id: str,
        source: Status,
        target: Status,
        *,
        extra: Iterable[Any] = (),
        **values: Any,
    ) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(table)
                .where(table.c.id == request_id, table.c.status == source, *extra)
                .values(status=target, updated_at=utcnow(), **values)
            )
        moved = result.rowcount == 1
        logger.debug("request %s %s → %s: %s", request_id, source, target, moved)
        return moved


def _statuses(statuses: Iterable[Status]) -> list[str]:
    return [str(s) for s in statuses]


def _dump(results: list[ActionResult]) -> str:
    return json.dumps([r.to_dict() for r in results])


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _to_request(row: Any) -> ContainmentRequest:
    values = dict(row)
    for column in ("decided_at", "undone_at", "created_at", "expires_at", "updated_at"):
        values[column] = _aware(values[column])
    values["plans"] = [Plan.from_dict(p) for p in json.loads(values["plans"])]
    values["results"] = [ActionResult.from_dict(r) for r in json.loads(values["results"])]
    values["status"] = Status(values["status"])
    return ContainmentRequest(**values)
