"""The WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py bot.wsgi:app``.

App Engine and Cloud Run start the bot this way; ``python -m bot serve`` runs the same
gunicorn options in-process. The app is built on first access, in the worker after the
fork, so importing this module for its options starts nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from bot.serving import SERVER_OPTIONS, WarmingApp

if TYPE_CHECKING:
    from flask import Flask

    from bot.runtime import Runtime

__all__ = ["SERVER_OPTIONS", "build_app", "shutdown"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_runtime: Runtime | None = None
_warming: WarmingApp | None = None


def build_app() -> Flask:
    """Read the settings, start the runtime once, and return its HTTP app."""
    # The client libraries load here, in the worker, not when gunicorn reads its options.
    from bot.config import load_settings
    from bot.logs import configure_logging
    from bot.runtime import start_runtime

    global _runtime
    with _lock:
        if _runtime is None:
            settings = load_settings()
            configure_logging(settings.log_level, settings.log_format)
            _runtime = start_runtime(settings)
            _runtime.http.add_url_rule("/_ah/warmup", "warmup", _warmup)
            logger.info("bot started; slash command %s", settings.slack_command)
        return _runtime.http


def shutdown() -> None:
    """Stop pulling and close clients; gunicorn calls this as the worker exits."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.stop()
            _runtime = None


def _warmup() -> Any:
    # App Engine sends this before routing traffic to a new instance; the runtime is
    # already built by the time the request arrives, so answering is all that is left.
    return {"status": "warm"}


def __getattr__(name: str) -> Any:
    # gunicorn looks up ``bot.wsgi:app`` in the worker; the app then builds in the
    # background while liveness already answers (bot.serving.WarmingApp).
    global _warming
    if name == "app":
        if _warming is None:
            _warming = WarmingApp(build_app)
        return _warming
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
