"""One error handler: our own errors in words a responder understands, the rest logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import UserFacingError
from bot.services import Services

logger = logging.getLogger(__name__)


def handle_error(error: Exception, body: dict[str, Any], client: WebClient) -> BoltResponse | None:
    """Tell the person who acted what went wrong; log unexpected errors with an id."""
    if isinstance(error, UserFacingError):
        message = error.message
        logger.warning("request refused: %s", message)
    else:
        correlation = uuid.uuid4().hex[:12]
        logger.error("unexpected error (correlation id %s)", correlation, exc_info=error)
        message = f"Something went wrong on our side. Reference: `{correlation}`"
    _tell_user(client, body, message)
    return None


def _tell_user(client: WebClient, body: dict[str, Any], message: str) -> None:
    user = _field(body, "user") or body.get("user_id")
    channel = _field(body, "channel") or body.get("channel_id")
    if not isinstance(user, str) or not user:
        return
    try:
        if isinstance(channel, str) and channel:
            client.chat_postEphemeral(channel=channel, user=user, text=message)
        else:
            # A modal's payload names no channel; a post to a user id lands in the app's DM.
            client.chat_postMessage(channel=user, text=message)
    except SlackApiError as exc:
        logger.warning("could not tell %s about an error: %s", user, exc.response.get("error"))


def _field(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    return value.get("id") if isinstance(value, dict) else None


@contextmanager
def refusals_shown(body: dict[str, Any], client: WebClient) -> Iterator[None]:
    """Show a UserFacingError raised after ack() to the person who acted; do not re-raise.

    Bolt 1.30 resets an acknowledged response when a listener raises soon after ack(), and
    Slack then sees no answer at all, so listeners handle their expected refusals here.
    """
    try:
        yield
    except UserFacingError as exc:
        handle_error(exc, body, client)


def register(app: App, services: Services) -> None:
    app.error(handle_error)
