"""Link buttons: Slack sends an interaction for them too, which must be acknowledged."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App

from blocks.ids import FindingAction
from bot.services import Services

logger = logging.getLogger(__name__)

_LINK_ACTIONS = (
    FindingAction.OPEN_CONSOLE,
    FindingAction.OPEN_LOGS,
    FindingAction.OPEN_RUN,
    FindingAction.OPEN_VIRUSTOTAL,
)


def handle_link_click(ack: Ack) -> None:
    """Acknowledge a click on a link button; the browser already opened the link."""
    ack()


def register(app: App, services: Services) -> None:
    for action_id in _LINK_ACTIONS:
        app.action(action_id)(handle_link_click)
