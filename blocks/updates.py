"""Thread replies that tell responders what changed on a finding they already saw."""

from __future__ import annotations

from datetime import datetime

from blocks.finding import slack_date
from blocks.slack import SlackMessage, section
from blocks.text import escape, inline_code


def build_change_reply(
    changes: list[tuple[str, str, str]], *, finding_id: str = ""
) -> SlackMessage:
    """Return the reply listing each change as ``what: before → after``.

    Args:
        finding_id: names the finding, for a reply in a digest's thread.
    """
    lines = [
        f"*{escape(what)}*: {_value(before)} → {_value(after)}" for what, before, after in changes
    ]
    summary = "; ".join(f"{what} {before} → {after}" for what, before, after in changes)
    which = f"finding {inline_code(finding_id, 80)}" if finding_id else "this finding"
    body = f":pencil2: SCC updated {which}\n" + "\n".join(lines)
    return SlackMessage(
        text=escape(f"Finding updated: {summary}")[:300], blocks=[section(None, body)]
    )


def build_recurrence_reply(event_time: datetime, occurrences: int) -> SlackMessage:
    """Return the reply saying the behaviour happened again."""
    body = f":repeat: Detected again at {slack_date(event_time)} ({occurrences} times in all)."
    return SlackMessage(
        text=f"Detected again ({occurrences} times in all)", blocks=[section(None, body)]
    )


def _value(state: str) -> str:
    return escape(state.replace("_", " ").title() or "unset")
