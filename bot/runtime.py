"""Start the bot: settings → services → Slack app, HTTP app and Pub/Sub worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask
from slack_bolt import App

from bot.app import build_bolt_app, build_http_app
from bot.config import Settings
from bot.db import create_schema, schema_ready
from bot.housekeeping import Housekeeper
from bot.ingest import StreamingWorker
from bot.services import Services, build_services

logger = logging.getLogger(__name__)


class SchemaMissing(Exception):
    """The database has no schema yet; ``python -m bot migrate`` creates it."""


@dataclass
class Runtime:
    """Everything one bot process runs."""

    services: Services
    bolt: App
    http: Flask
    worker: StreamingWorker | None = None
    housekeeper: Housekeeper | None = None

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.housekeeper is not None:
            self.housekeeper.stop()
        self.services.close()


def start_runtime(settings: Settings, *, pull: bool = True) -> Runtime:
    """Build the process's objects and start pulling findings when a subscription is set."""
    services = build_services(settings)
    _check_schema(services)
    bolt = build_bolt_app(services)
    runtime = Runtime(services=services, bolt=bolt, http=build_http_app(services, bolt))
    runtime.housekeeper = Housekeeper(services.periodic).start()
    if pull and settings.pubsub_subscription:
        runtime.worker = StreamingWorker(
            services.google.subscriber,
            settings.pubsub_subscription,
            services.pipeline,
            max_messages=settings.pubsub_max_messages,
        ).start()
    return runtime


def _check_schema(services: Services) -> None:
    if schema_ready(services.engine):
        return
    if services.engine.dialect.name == "sqlite":
        # A single SQLite instance has nobody to race with; create its tables on first run.
        logger.info("creating the SQLite schema at %s", services.engine.url.database)
        create_schema(services.engine)
        return
    raise SchemaMissing("the database has no schema: run `python -m bot migrate` first")
