"""Refuse replayed Slack requests.

Slack signs each request over its timestamp and body, and Bolt refuses signatures more
than five minutes old; within those five minutes a captured request would still verify.
Each verified signature is therefore recorded once in the database, shared by every bot
instance, and a second use is refused. Slack's own retries carry a new timestamp, hence a
new signature, so they are not mistaken for replays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.db import slack_requests_seen
from bot.store import utcnow

logger = logging.getLogger(__name__)

# Slack's signature check accepts timestamps up to five minutes off either way, and clocks
# drift: keep signatures for the whole span a captured request could still verify in.
REMEMBER = timedelta(minutes=11)


class ReplayGuard:
    """Verify a Slack request's signature and that it was not seen before."""

    def __init__(self, engine: Engine, signing_secret: str) -> None:
        self.engine = engine
        self.verifier = SignatureVerifier(signing_secret)
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # Built once: this runs on every Slack request, before the acknowledgement.
        self._record = (
            insert(slack_requests_seen)
            .values(signature=bindparam("signature"), seen_at=bindparam("seen_at"))
            .on_conflict_do_nothing(index_elements=["signature"])
            .returning(slack_requests_seen.c.signature)
        )

    def refusal(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Return why the request must be refused, or None to let it through."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not timestamp.isdigit() or not signature.startswith("v0="):
            return "missing or malformed signature headers"
        if not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return "invalid signature"
        try:
            with self.engine.begin() as conn:
                first = conn.execute(
                    self._record, {"signature": signature[:80], "seen_at": utcnow()}
                ).first()
        except SQLAlchemyError as exc:
            # Without the database a replay cannot be told apart; the signature and its
            # timestamp are still checked, and every action that changes something goes
            # through conditional updates that a replay cannot repeat.
            logger.warning("replay check skipped, database unavailable: %s", type(exc).__name__)
            return None
        if first is None:
            logger.warning("refused a replayed Slack request (timestamp %s)", timestamp)
            return "replayed request"
        return None

    def forget_old(self) -> int:
        """Delete signatures too old to verify anyway."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(slack_requests_seen).where(
                    slack_requests_seen.c.seen_at < utcnow() - REMEMBER
                )
            )
        return result.rowcount or 0
