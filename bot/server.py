"""Serve the bot under gunicorn (threads, so Bolt's work after the ack has room to run)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings
from bot.serving import SERVER_OPTIONS, WarmingApp

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings_ = settings
        self.runtime: Runtime | None = None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings_.host}:{self.settings_.port}")
        # The same worker model as gunicorn.conf.py, which App Engine and Cloud Run use.
        for name, value in SERVER_OPTIONS.items():
            self.cfg.set(name, value)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> Any:
        # Runs in the worker after the fork, so gRPC channels are made in the right process.
        return WarmingApp(self._build)

    def _build(self) -> Any:
        from bot.runtime import start_runtime

        self.runtime = start_runtime(self.settings_)
        if self.settings_.slack_app_token:
            _start_socket_mode(self.runtime, self.settings_)
        return self.runtime.http

    def _worker_exit(self, _server: Any, _worker: Any) -> None:
        # Stop the Pub/Sub stream first: messages in hand finish, the rest are redelivered.
        if self.runtime is not None:
            self.runtime.stop()


def _start_socket_mode(runtime: Runtime, settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None
    handler = SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value())
    handler.connect()
    logger.info("connected to Slack over Socket Mode")


def serve(settings: Settings) -> int:
    """Run until stopped."""
    _Gunicorn(settings).run()
    return 0
