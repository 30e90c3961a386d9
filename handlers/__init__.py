"""Slack listeners, one module per surface; each exposes ``register(app, services)``."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import commands, contain, errors, home, investigate, links


def register_all(app: App, services: Services) -> None:
    """Attach every surface's listeners to the app."""
    errors.register(app, services)
    links.register(app, services)
    investigate.register(app, services)
    contain.register(app, services)
    commands.register(app, services)
    home.register(app, services)
