"""Serve the bot under gunicorn (threads, so Bolt's work after the ack has room to run)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings
from bot.runtime import Runtime, SchemaMissing, start_runtime

logger = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings_ = settings
        self.runtime: Runtime | None = None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings_.host}:{self.settings_.port}")
        # One process: the Pub/Sub stream and the lazy listeners live in it; threads serve
        # Slack's requests concurrently.
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", 8)
        self.cfg.set("timeout", 60)
        self.cfg.set("accesslog", None)

    def load(self) -> Any:
        # Runs in the worker after the fork, so gRPC channels are made in the right process.
        self.runtime = start_runtime(self.settings_)
        if self.settings_.slack_app_token:
            _start_socket_mode(self.runtime, self.settings_)
        return self.runtime.http


def _start_socket_mode(runtime: Runtime, settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None
    handler = SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value())
    handler.connect()
    logger.info("connected to Slack over Socket Mode")


def serve(settings: Settings) -> int:
    """Run until stopped."""
    try:
        _Gunicorn(settings).run()
    except SchemaMissing as exc:
        logger.error("%s", exc)
        return 2
    return 0
