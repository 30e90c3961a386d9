"""Errors whose message is written for the person in Slack."""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected failure; ``message`` is safe mrkdwn shown to the person who acted."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionMissing(UserFacingError):
    """Google Cloud refused a call; the message names the role the bot lacks."""

    def __init__(self, what: str, role: str) -> None:
        super().__init__(f":no_entry: The bot may not {what}. Grant its service account `{role}`.")
        self.role = role


class NotAllowed(UserFacingError):
    """The person who clicked may not do this."""
