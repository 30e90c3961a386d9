"""Bursts: many findings of one resource and category become one digest message.

A compromised service can raise hundreds of findings in minutes while Slack accepts about
one message a second per channel. Once more than ``threshold`` findings of one resource and
category arrive within ``window``, the next ones are stored as *grouped* (acknowledged once
stored, like any finding) and a publisher keeps one digest message current: the count, the
first and last event time and the distinct scripts by hash. Grouped findings are listed in
the digest's thread in batches, so each stays reachable there and by the slash command.

The digest is rendered from the database, never from memory: whichever bot instance runs
the publisher next picks up where another left off, under a lease on the digest row.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from blocks.digest import DigestView, ListedFinding, build_digest_listing, build_digest_message
from bot.db import digests, findings
from bot.finding import FindingRecord
from bot.slack_client import ChannelPacer
from bot.store import utcnow

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
# Findings listed per thread reply, and how long a digest stays quiet before the rest of
# its findings are listed (a reply per few findings would use up the channel's rate).
LIST_BATCH = 100
LIST_WHEN_QUIET = timedelta(seconds=3)
SHOWN_SCRIPTS = 10


@dataclass(frozen=True)
class Digest:
    """One row of the digests table."""

    id: str
    resource_name: str
    resource_label: str
    category: str
    channel: str
    message_ts: str | None
    version: int
    rendered_version: int
    updated_at: datetime


class BurstDetector:
    """Decide whether a new finding belongs in a digest, and open the digest it goes to."""

    def __init__(self, engine: Engine, *, threshold: int, window: timedelta) -> None:
        self.engine = engine
        self.threshold = threshold
        self.window = window
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    def is_burst(self, record: FindingRecord) -> bool:
        """Return whether ``threshold`` similar findings arrived in the window before this one.

        "Before" is by arrival (the stored row's creation, then its name), not by which
        worker asks first, so that findings handled side by side agree on which are
        posted alone and which join the digest.
        """
        if not self.enabled or not record.resource_name:
            return False
        since = utcnow() - self.window
        with self.engine.connect() as conn:
            arrived = conn.execute(
                select(findings.c.created_at).where(findings.c.key == record.key)
            ).scalar_one_or_none()
            if arrived is None:
                return False
            earlier = or_(
                findings.c.created_at < arrived,
                and_(findings.c.created_at == arrived, findings.c.key < record.key),
            )
            recent = conn.execute(
                select(func.count())
                .select_from(findings)
                .where(
                    findings.c.resource_name == record.resource_name[:1024],
                    findings.c.category == record.category[:256],
                    findings.c.created_at >= since,
                    # Pending rows are findings other workers are posting right now.
                    findings.c.status.in_(("pending", "posted", "grouped")),
                    findings.c.key != record.key,
                    earlier,
                )
            ).scalar_one()
        return int(recent) >= self.threshold

    def open(self, record: FindingRecord, channel: str, label: str) -> str:
        """Return the id of the digest this finding joins, creating it when needed.

        The id is derived from the resource, category and time window, so that every bot
        instance grouping the same burst opens the same digest.
        """
        now = utcnow()
        bucket = int(now.timestamp() // self.window.total_seconds())
        seed = f"{record.resource_name}\n{record.category}\n{bucket}".encode()
        digest_id = hashlib.sha256(seed).hexdigest()[:40]
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(digests)
                .values(
                    id=digest_id,
                    resource_name=record.resource_name[:1024],
                    resource_label=label[:256],
                    category=record.category[:256],
                    channel=channel,
                    version=0,
                    rendered_version=0,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["id"])
            )
        return digest_id

    def message_of(self, digest_id: str) -> tuple[str, str] | None:
        """Return the digest's (channel, message ts) once it is posted."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(digests.c.channel, digests.c.message_ts).where(digests.c.id == digest_id)
            ).first()
        if row is None or row.message_ts is None:
            return None
        return str(row.channel), str(row.message_ts)

    def touch(self, digest_id: str) -> None:
        """Record that the digest has a new finding to show."""
        with self.engine.begin() as conn:
            conn.execute(
                update(digests)
                .where(digests.c.id == digest_id)
                .values(version=digests.c.version + 1, updated_at=utcnow())
            )


class DigestPublisher:
    """Post and refresh digest messages, and list their findings in the thread."""

    def __init__(
        self,
        engine: Engine,
        slack: WebClient,
        *,
        console_base: str,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self.engine = engine
        self.slack = slack
        self.pacer = pacer or ChannelPacer()
        self.console_base = console_base
        self.owner = f"digests-{uuid.uuid4().hex[:12]}"
        # Digest messages Slack accepted whose ts failed to save: digest id → ts.
        self._unsaved: dict[str, str] = {}
        # Digests Slack refused to post: digest id → (failures, monotonic time of next try).
        self._failing: dict[str, tuple[int, float]] = {}

    def flush(self) -> int:
        """Bring every digest that changed up to date; return how many were touched.

        Every digest message is posted or refreshed before any thread is listed: the counts
        are what responders need first, and the channel's rate limit is shared.
        """
        touched: set[str] = set()
        self._run(self._publish, touched)
        # A digest opened or grown while the others were being posted goes before any
        # listing (unless Slack keeps refusing it), and one batch is listed per flush, so
        # counts stay current and the flush stays short.
        waiting = [d for d in self._pending() if d.message_ts is None and not self._backing_off(d)]
        if not waiting:
            self._run(self._list, touched, limit=1)
        return len(touched)

    def _run(
        self, phase: Callable[[Digest], bool], touched: set[str], limit: int | None = None
    ) -> None:
        done = 0
        for candidate in self._pending():
            if limit is not None and done >= limit:
                return
            if self._backing_off(candidate):
                continue
            # Work from the row as the lease found it: another instance may have posted it
            # since the pending list was read.
            digest = self._claim(candidate.id)
            if digest is None:
                continue
            try:
                if phase(digest):
                    touched.add(digest.id)
                    done += 1
                self._failing.pop(digest.id, None)
            except SlackClientError as exc:
                self._failed(digest, exc)
            finally:
                self._release(digest.id)

    def _backing_off(self, digest: Digest) -> bool:
        failing = self._failing.get(digest.id)
        return failing is not None and time.monotonic() < failing[1]

    def _failed(self, digest: Digest, exc: SlackClientError) -> None:
        failures = self._failing.get(digest.id, (0, 0.0))[0] + 1
        wait = min(300.0, 2.0**failures)
        self._failing[digest.id] = (failures, time.monotonic() + wait)
        # The findings in it are stored and acknowledged: a digest Slack keeps refusing
        # (bot removed from the channel, channel archived) hides them until someone acts.
        log = logger.error if failures >= 3 else logger.warning
        log(
            "digest %s for %s in %s not updated in Slack (%s, failure %d); retrying in %.0f s",
            digest.id,
            digest.resource_label or digest.resource_name,
            digest.channel,
            exc,
            failures,
            wait,
        )

    def _publish(self, digest: Digest) -> bool:
        """Post or refresh the digest message; return whether Slack was called."""
        view = self._view(digest)
        if digest.message_ts is not None and view.version == digest.rendered_version:
            return False
        message = build_digest_message(view)
        ts = digest.message_ts or self._unsaved.get(digest.id)
        if ts is None:
            self.pacer.wait(f"chat.postMessage:{digest.channel}")
            response = self.slack.chat_postMessage(
                channel=digest.channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            ts = str(response["ts"])
            # Remembered until saved, so a database error cannot make a second digest.
            self._unsaved[digest.id] = ts
            self._set(digest.id, message_ts=ts)
            self._unsaved.pop(digest.id, None)
        elif digest.message_ts is None:
            self._set(digest.id, message_ts=ts)
            self._unsaved.pop(digest.id, None)
        else:
            self.pacer.wait(f"chat.update:{digest.channel}")
            self.slack.chat_update(
                channel=digest.channel, ts=ts, text=message.text, blocks=message.blocks
            )
        self._set(digest.id, rendered_version=view.version)
        return True

    def _list(self, digest: Digest) -> bool:
        """Post the not yet listed findings in the thread, a batch at a time."""
        if digest.message_ts is None:
            return False
        quiet = digest.updated_at < utcnow() - LIST_WHEN_QUIET
        unlisted = self._unlisted(digest.id)
        if not unlisted or (len(unlisted) < LIST_BATCH and not quiet):
            return False
        # One batch per lease: a long listing must not outlive the lease or hold the flush.
        reply = build_digest_listing(unlisted, console_base=self.console_base)
        self.pacer.wait(f"chat.postMessage:{digest.channel}")
        self.slack.chat_postMessage(
            channel=digest.channel,
            thread_ts=digest.message_ts,
            text=reply.text,
            blocks=reply.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(findings)
                .where(findings.c.key.in_([item.key for item in unlisted]))
                .values(listed=True)
            )
        return True

    def _view(self, digest: Digest) -> DigestView:
        with self.engine.connect() as conn:
            version = conn.execute(
                select(digests.c.version).where(digests.c.id == digest.id)
            ).scalar_one()
            count, first, last = conn.execute(
                select(
                    func.count(), func.min(findings.c.event_time), func.max(findings.c.event_time)
                ).where(findings.c.digest_id == digest.id)
            ).one()
            scripts = conn.execute(
                select(findings.c.script_sha256, func.count())
                .where(findings.c.digest_id == digest.id, findings.c.script_sha256 != "")
                .group_by(findings.c.script_sha256)
                .order_by(func.count().desc())
                .limit(SHOWN_SCRIPTS + 1)
            ).all()
            distinct = conn.execute(
                select(func.count(func.distinct(findings.c.script_sha256))).where(
                    findings.c.digest_id == digest.id, findings.c.script_sha256 != ""
                )
            ).scalar_one()
        return DigestView(
            resource_label=digest.resource_label or digest.resource_name,
            category=digest.category,
            count=int(count),
            first=_utc(first),
            last=_utc(last),
            scripts=tuple((sha, int(n)) for sha, n in scripts[:SHOWN_SCRIPTS]),
            distinct_scripts=int(distinct),
            version=int(version),
        )

    def _unlisted(self, digest_id: str) -> list[ListedFinding]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    findings.c.key,
                    findings.c.event_time,
                    findings.c.severity,
                    findings.c.script_sha256,
                )
                .where(findings.c.digest_id == digest_id, findings.c.listed.is_(False))
                .order_by(findings.c.event_time, findings.c.key)
                .limit(LIST_BATCH)
            ).all()
        return [
            ListedFinding(key=key, event_time=_utc(at), severity=severity, sha256=sha)
            for key, at, severity, sha in rows
        ]

    def _pending(self) -> list[Digest]:
        with self.engine.connect() as conn:
            unlisted = (
                select(findings.c.digest_id)
                .where(findings.c.digest_id.is_not(None), findings.c.listed.is_(False))
                .distinct()
            )
            rows = conn.execute(
                select(digests).where(
                    or_(
                        digests.c.version != digests.c.rendered_version,
                        digests.c.message_ts.is_(None),
                        digests.c.id.in_(unlisted),
                    )
                )
            ).all()
        return [_to_digest(row._mapping) for row in rows]

    def _claim(self, digest_id: str) -> Digest | None:
        """Take the digest's lease; return the row as it is now, or None when taken."""
        now = utcnow()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(digests)
                .where(
                    digests.c.id == digest_id,
                    or_(digests.c.lease_until.is_(None), digests.c.lease_until < now),
                )
                .values(lease_owner=self.owner, lease_until=now + LEASE)
            )
            if taken.rowcount != 1:
                return None
            row = conn.execute(select(digests).where(digests.c.id == digest_id)).one()
        return _to_digest(row._mapping)

    def _release(self, digest_id: str) -> None:
        self._set(digest_id, lease_owner=None, lease_until=None)

    def _set(self, digest_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(digests)
                .where(digests.c.id == digest_id, digests.c.lease_owner == self.owner)
                .values(**values)
            )


def _to_digest(row: Any) -> Digest:
    return Digest(
        id=row["id"],
        resource_name=row["resource_name"],
        resource_label=row["resource_label"],
        category=row["category"],
        channel=row["channel"],
        message_ts=row["message_ts"],
        version=row["version"],
        rendered_version=row["rendered_version"],
        updated_at=_utc(row["updated_at"]) or utcnow(),
    )


def _utc(moment: datetime | None) -> datetime | None:
    from datetime import UTC

    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
