"""One structured audit line per containment event, in the log and in the database."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from bot.db import audit as audit_table

logger = logging.getLogger(__name__)


def record_audit(
    engine: Engine,
    *,
    actor: str,
    event: str,
    finding_key: str,
    resource: str,
    request_id: str | None = None,
    before: Any = None,
    after: Any = None,
    result: str = "",
) -> dict[str, Any]:
    """Store and log one audit event: who, what, which resource, before/after, result."""
    entry: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "actor": actor,
        "event": event,
        "request_id": request_id,
        "finding": finding_key,
        "resource": resource,
        "before": before,
        "after": after,
        "result": result,
    }
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(audit_table).values(
                    at=datetime.now(UTC),
                    actor=actor,
                    event=event,
                    request_id=request_id,
                    finding_key=finding_key,
                    resource=resource,
                    before=_json(before),
                    after=_json(after),
                    result=result,
                )
            )
    except Exception:
        # The log line below still records the event when the database refuses it.
        logger.exception("could not store the audit record of %s by %s", event, actor)
    logger.info("audit: %s by %s on %s: %s", event, actor, resource, result, extra={"audit": entry})
    return entry


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)
