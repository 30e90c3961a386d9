"""Build everything the bot runs on from the settings, in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.clients import GoogleClients
from bot.config import Settings
from bot.db import make_engine
from bot.digests import BurstDetector, DigestPublisher
from bot.finding import FindingRecord, parse_notification
from bot.housekeeping import Task
from bot.pipeline import ActionsBuilder, FindingPipeline, NoticesBuilder
from bot.routing import Router
from bot.slack_client import ChannelPacer, make_web_client
from bot.store import FindingStore

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived objects shared by ingestion and the Slack handlers."""

    settings: Settings
    engine: Engine
    store: FindingStore
    slack: WebClient
    google: GoogleClients
    pipeline: FindingPipeline
    digests: DigestPublisher | None = None
    action_builders: list[ActionsBuilder] = field(default_factory=list)
    # Short, safe mrkdwn lines other surfaces add under a finding's summary (containment).
    notice_builders: list[NoticesBuilder] = field(default_factory=list)
    # Periodic work surfaces need done in the background (bot.housekeeping).
    periodic: list[Task] = field(default_factory=list)

    def finding_actions(self, record: FindingRecord) -> tuple[dict[str, Any], ...]:
        """Collect the buttons every registered surface adds to a finding message."""
        elements: list[dict[str, Any]] = []
        for builder in self.action_builders:
            elements.extend(builder(record))
        return tuple(elements)

    def finding_notices(self, record: FindingRecord) -> tuple[str, ...]:
        """Collect the status lines every registered surface adds to a finding message."""
        notices: list[str] = []
        for builder in self.notice_builders:
            notices.extend(builder(record))
        return tuple(notices)

    def record(self, key: str) -> FindingRecord | None:
        """Return the stored finding as a record, or None when the bot never saw it."""
        stored = self.store.get(key)
        if stored is None or not stored.snapshot:
            return None
        return parse_notification(stored.snapshot)

    def close(self) -> None:
        self.google.close()
        self.engine.dispose()


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    """Create the store, clients and pipeline for these settings."""
    engine = engine or make_engine(settings.database_url)
    store = FindingStore(engine)
    slack = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    router = Router(settings.slack_channel, settings.min_severity, settings.routing_rules)
    google = GoogleClients(settings)
    bursts = BurstDetector(
        engine,
        threshold=settings.burst_threshold,
        window=timedelta(minutes=settings.burst_window_minutes),
    )
    # One pacer per process: findings, edits and digests share each channel's rate.
    pacer = ChannelPacer(settings.slack_channel_posts_per_second, settings.slack_channel_burst)
    publisher = DigestPublisher(engine, slack, console_base=settings.gcp_console_url, pacer=pacer)
    services = Services(
        settings=settings,
        engine=engine,
        store=store,
        slack=slack,
        google=google,
        pipeline=FindingPipeline(
            store=store,
            slack=slack,
            router=router,
            console_base=settings.gcp_console_url,
            bursts=bursts if bursts.enabled else None,
            pacer=pacer,
        ),
        digests=publisher,
    )
    services.periodic.append(Task("publish burst digests", 1.0, publisher.flush))
    services.pipeline.actions = services.finding_actions
    services.pipeline.notices = services.finding_notices
    return services
