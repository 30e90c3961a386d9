"""Where a finding enters: turn one SCC notification into at most one Slack message.

Both ingestion paths (streaming pull and push) hand each Pub/Sub message to
:meth:`FindingPipeline.handle` and act on the outcome: acknowledge when the outcome is
final, ask for redelivery when it is not. A message is acknowledged only after Slack has
accepted what it caused, so a Slack outage delays findings but never loses one.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from blocks.finding import MessageContext, build_finding_message, build_minimal_message
from blocks.slack import SlackMessage
from blocks.updates import build_change_reply, build_recurrence_reply
from bot.digests import BurstDetector
from bot.finding import FindingRecord, NotificationParseError, parse_notification, record_to_json
from bot.logs import bind_finding, unbind_finding
from bot.metrics import METRICS
from bot.routing import Router
from bot.slack_client import ChannelPacer
from bot.store import FindingStore, StoredFinding, utcnow

logger = logging.getLogger(__name__)

SAME_SCRIPT_WINDOW = timedelta(hours=24)
SPREAD_LINKS = 5


class Outcome(StrEnum):
    POSTED = "posted"
    GROUPED = "grouped"  # part of a burst: shown in a digest message
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    STALE = "stale"
    FILTERED = "filtered"
    REJECTED = "rejected"  # unreadable: acknowledged, logged, never retried
    BUSY = "busy"  # another worker holds the finding: retry later
    FAILED = "failed"  # Slack or the database failed: retry later

    @property
    def final(self) -> bool:
        """Return whether the Pub/Sub message can be acknowledged."""
        return self not in (Outcome.BUSY, Outcome.FAILED)


@dataclass(frozen=True)
class Delivery:
    """One Pub/Sub message as either ingestion path sees it."""

    data: bytes
    message_id: str
    publish_time: datetime | None = None
    delivery_attempt: int | None = None


ActionsBuilder = Callable[[FindingRecord], tuple[dict[str, Any], ...]]
NoticesBuilder = Callable[[FindingRecord], tuple[str, ...]]


class FindingPipeline:
    """Parse, deduplicate, route, post or edit, and record one notification."""

    def __init__(
        self,
        *,
        store: FindingStore,
        slack: WebClient,
        router: Router,
        console_base: str = "https://console.cloud.google.com",
        actions: ActionsBuilder | None = None,
        bursts: BurstDetector | None = None,
        pacer: ChannelPacer | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.slack = slack
        self.router = router
        self.console_base = console_base
        self.actions = actions or (lambda _record: ())
        self.bursts = bursts
        self.pacer = pacer or ChannelPacer()
        self.notices: NoticesBuilder = lambda _record: ()
        # Posts Slack accepted whose record failed to save: finding key → (lease owner, row).
        self._unsaved: dict[str, tuple[str, dict[str, Any]]] = {}
        # Permalinks never change; keep them rather than asking Slack on every post.
        self._permalinks: dict[tuple[str, str], str] = {}
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def handle(self, delivery: Delivery) -> Outcome:
        """Process one delivery and say whether it may be acknowledged."""
        started = time.perf_counter()
        try:
            record = parse_notification(delivery.data)
        except NotificationParseError as exc:
            logger.warning("rejected Pub/Sub message %s: %s", delivery.message_id, exc.reason)
            METRICS.findings_received.labels(outcome=Outcome.REJECTED).inc()
            METRICS.observe_handled(Outcome.REJECTED, time.perf_counter() - started)
            return Outcome.REJECTED
        finding_token = bind_finding(record.key)
        try:
            outcome = self._handle_record(record, delivery)
        except SlackClientError as exc:
            logger.warning(
                "Slack refused finding %s (message %s): %s",
                record.key,
                delivery.message_id,
                _slack_reason(exc),
            )
            outcome = Outcome.FAILED
        except Exception:
            logger.exception(
                "could not process finding %s (message %s)", record.key, delivery.message_id
            )
            outcome = Outcome.FAILED
        finally:
            unbind_finding(finding_token)
        METRICS.findings_received.labels(outcome=outcome).inc()
        METRICS.observe_handled(outcome, time.perf_counter() - started)
        logger.info(
            "finding %s: %s", record.key, outcome, extra={"finding": record.key, "outcome": outcome}
        )
        return outcome

    def _handle_record(self, record: FindingRecord, delivery: Delivery) -> Outcome:
        self._save_earlier_post(record.key)
        # Each attempt is its own lease owner: two threads of one process must not share one.
        lease = _Lease(self.store, record.key, f"{self.worker_id}:{uuid.uuid4().hex[:8]}")
        claimed, stored = self.store.claim(
            record.key,
            lease.owner,
            resource_name=record.resource_name,
            category=record.category,
        )
        if not claimed:
            return Outcome.BUSY
        try:
            return self._decide_and_act(record, stored, delivery, lease)
        finally:
            if not lease.settled:
                lease.release()

    def _save_earlier_post(self, key: str) -> None:
        """Record a post Slack accepted while the database was failing."""
        unsaved = self._unsaved.pop(key, None)
        if unsaved is None:
            return
        owner, values = unsaved
        try:
            saved = self.store.save(key, owner, **values)
        except Exception:
            self._unsaved[key] = unsaved
            raise
        if not saved:
            # Another worker took the finding over after our lease expired; it has seen
            # no message and may post one too. Say so, since only logs can tell.
            logger.warning(
                "finding %s was posted at %s but not recorded", key, values["message_ts"]
            )

    def _decide_and_act(
        self,
        record: FindingRecord,
        stored: StoredFinding | None,
        delivery: Delivery,
        lease: _Lease,
    ) -> Outcome:
        published = delivery.publish_time
        if (
            stored
            and stored.last_published_at
            and published
            and published < stored.last_published_at
        ):
            # Pub/Sub does not keep order: an older notification must not undo a newer one.
            lease.release()
            return Outcome.STALE
        if stored and stored.content_hash == record.content_hash:
            lease.release()
            return Outcome.DUPLICATE
        if stored is not None and stored.status == "grouped":
            return self._update_grouped(record, stored, published, lease)
        if stored is None or not stored.posted:
            return self._post_new(record, published, lease)
        return self._update_existing(record, stored, published, lease)

    def _post_new(
        self, record: FindingRecord, published: datetime | None, lease: _Lease
    ) -> Outcome:
        channel = self.router.channel_for(record)
        if channel is None or record.deleted:
            status = "deleted" if record.deleted else "filtered"
            lease.save(status=status, **self._columns(record, published))
            return Outcome.FILTERED
        if self.bursts is not None and self.bursts.is_burst(record):
            return self._group(record, channel, published, lease)
        message = self._render(record, self._context(record))
        response = self._post(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        posted = {
            "status": "posted",
            "channel": response["channel"],
            "message_ts": response["ts"],
            **self._columns(record, published),
        }
        try:
            lease.save(**posted)
        except Exception:
            # Slack has the message but the store does not know: remember it here, so that
            # the redelivery records this post instead of posting the finding again.
            self._unsaved[record.key] = (lease.owner, posted)
            raise
        METRICS.findings_posted.inc()
        return Outcome.POSTED

    def _group(
        self, record: FindingRecord, channel: str, published: datetime | None, lease: _Lease
    ) -> Outcome:
        assert self.bursts is not None
        columns = self._columns(record, published)
        digest_id = self.bursts.open(record, channel, columns["resource_label"])
        # Stored before it is acknowledged; the digest publisher shows it from the store.
        lease.save(status="grouped", channel=channel, digest_id=digest_id, **columns)
        self.bursts.touch(digest_id)
        return Outcome.GROUPED

    def _update_grouped(
        self,
        record: FindingRecord,
        stored: StoredFinding,
        published: datetime | None,
        lease: _Lease,
    ) -> Outcome:
        columns = self._columns(record, published)
        columns["event_time"] = stored.event_time or record.event_time
        changes = _changes(stored, record)
        thread = (
            self.bursts.message_of(stored.digest_id) if stored.digest_id and self.bursts else None
        )
        if changes and thread is not None:
            # The digest shows counts, not states: say in its thread what changed.
            reply = build_change_reply(changes, finding_id=record.key.rsplit("/", 1)[-1])
            self._post(channel=thread[0], thread_ts=thread[1], text=reply.text, blocks=reply.blocks)
        lease.save(status="grouped", **columns)
        if (
            stored.digest_id
            and self.bursts is not None
            and record.script_sha256 != stored.script_sha256
        ):
            self.bursts.touch(stored.digest_id)
        return Outcome.UPDATED

    def _update_existing(
        self,
        record: FindingRecord,
        stored: StoredFinding,
        published: datetime | None,
        lease: _Lease,
    ) -> Outcome:
        assert stored.channel is not None
        assert stored.message_ts is not None
        changes = _changes(stored, record)
        recurred = (
            record.event_time is not None
            and stored.last_event_time is not None
            and record.event_time > stored.last_event_time
        )
        occurrences = stored.occurrences + (1 if recurred else 0)
        columns = self._columns(record, published)
        columns["event_time"] = stored.event_time or record.event_time
        columns["last_event_time"] = record.event_time if recurred else stored.last_event_time
        if changes or recurred:
            last_seen = record.event_time if recurred else stored.last_event_time
            message = self._render(
                record, self._context(record, occurrences=occurrences, last_seen=last_seen)
            )
            self._update(
                channel=stored.channel,
                ts=stored.message_ts,
                text=message.text,
                blocks=message.blocks,
            )
        if changes:
            reply = build_change_reply(changes)
            self._post(
                channel=stored.channel,
                thread_ts=stored.message_ts,
                text=reply.text,
                blocks=reply.blocks,
            )
        if recurred and record.event_time:
            reply = build_recurrence_reply(record.event_time, occurrences)
            self._post(
                channel=stored.channel,
                thread_ts=stored.message_ts,
                text=reply.text,
                blocks=reply.blocks,
            )
        lease.save(status="posted", occurrences=occurrences, **columns)
        return Outcome.UPDATED if changes or recurred else Outcome.DUPLICATE

    def _context(
        self, record: FindingRecord, *, occurrences: int = 1, last_seen: datetime | None = None
    ) -> MessageContext:
        return MessageContext(
            console_base=self.console_base,
            occurrences=occurrences,
            last_seen=last_seen,
            same_script_elsewhere=self._same_script(record),
            actions=self.actions(record),
            notices=self.notices(record),
        )

    def refresh(self, key: str) -> bool:
        """Re-render a posted finding's message from what is stored (after containment).

        Returns:
            Whether the message was edited; False when the bot never posted the finding.
        """
        stored = self.store.get(key)
        if stored is None or stored.channel is None or stored.message_ts is None:
            return False
        record = parse_notification(stored.snapshot)
        last_seen = stored.last_event_time if stored.occurrences > 1 else None
        message = self._render(
            record, self._context(record, occurrences=stored.occurrences, last_seen=last_seen)
        )
        self._update(
            channel=stored.channel, ts=stored.message_ts, text=message.text, blocks=message.blocks
        )
        return True

    @staticmethod
    def _render(record: FindingRecord, ctx: MessageContext) -> SlackMessage:
        """Build the message; a finding the builder cannot handle still gets a short one."""
        try:
            return build_finding_message(record, ctx)
        except Exception:
            logger.exception(
                "could not render finding %s in full; posting a short message", record.key
            )
            return build_minimal_message(record, console_base=ctx.console_base)

    def _post(self, *, channel: str, **arguments: Any) -> Any:
        self.pacer.wait(f"chat.postMessage:{channel}")
        return self.slack.chat_postMessage(channel=channel, **arguments)

    def _update(self, *, channel: str, **arguments: Any) -> Any:
        self.pacer.wait(f"chat.update:{channel}")
        return self.slack.chat_update(channel=channel, **arguments)

    def _same_script(self, record: FindingRecord) -> tuple[tuple[str, str], ...]:
        others = self.store.same_script_elsewhere(
            record.script_sha256,
            exclude_resource=record.resource_name,
            since=utcnow() - SAME_SCRIPT_WINDOW,
        )
        found = []
        for index, other in enumerate(others):
            label = other.resource_label or other.resource_name
            url = ""
            # Only the first few are shown as links; the rest count toward the total.
            if index < SPREAD_LINKS and other.channel and other.message_ts:
                url = self._permalink(other.channel, other.message_ts)
            found.append((label, url))
        return tuple(found)

    def _permalink(self, channel: str, ts: str) -> str:
        key = (channel, ts)
        if key not in self._permalinks:
            link = message_link(self.slack, channel, ts)
            if not link:
                return ""
            if len(self._permalinks) > 10_000:
                self._permalinks.clear()
            self._permalinks[key] = link
        return self._permalinks[key]

    @staticmethod
    def _columns(record: FindingRecord, published: datetime | None) -> dict[str, Any]:
        target = record.cloud_run
        return {
            "category": record.category[:256],
            "severity": str(record.severity),
            "state": record.state,
            "mute": record.mute,
            "project": (record.project_display_name or (target.project if target else ""))[:128],
            "resource_name": record.resource_name[:1024],
            "resource_label": (target.label if target else record.resource.display_name)[:256],
            "script_sha256": record.script_sha256[:64],
            "event_time": record.event_time,
            "last_event_time": record.event_time,
            "content_hash": record.content_hash,
            "snapshot": record.source or record_to_json(record),
            "last_published_at": published,
            "deleted": record.deleted,
        }


class _Lease:
    """One attempt's hold on a finding; settled once saved or released."""

    def __init__(self, store: FindingStore, key: str, owner: str) -> None:
        self.store = store
        self.key = key
        self.owner = owner
        self.settled = False

    def save(self, **values: Any) -> None:
        self.store.save(self.key, self.owner, **values)
        self.settled = True

    def release(self) -> None:
        try:
            self.store.release(self.key, self.owner)
        finally:
            # When the database is down the lease cannot be given back; it expires instead.
            self.settled = True


def message_link(slack: WebClient, channel: str, ts: str) -> str:
    """Return a permalink to a message, or an empty string when Slack cannot give one."""
    try:
        return str(slack.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SlackClientError as exc:
        logger.warning("no permalink for %s/%s: %s", channel, ts, _slack_reason(exc))
        return ""


def _changes(stored: StoredFinding, record: FindingRecord) -> list[tuple[str, str, str]]:
    """Return (what, before, after) for each change a responder should hear about."""
    changes = []
    for label, before, after in (
        ("State", stored.state, record.state),
        ("Mute", stored.mute, record.mute),
        ("Severity", stored.severity, str(record.severity)),
    ):
        if before != after:
            changes.append((label, before, after))
    if record.deleted and not stored.deleted:
        changes.append(("Deleted", "no", "yes"))
    return changes


def _slack_reason(exc: SlackClientError) -> str:
    if isinstance(exc, SlackApiError):
        return f"{exc.response.status_code} {exc.response.get('error', '')}"
    return type(exc).__name__
