"""Build the bot's App Home: open findings, requests waiting for approval, recent actions.

Pure: takes what the handler read from the stores and returns the ``home`` view. Text from
findings and requests goes through blocks.text; user ids are checked before they become
mentions; the only links are Slack permalinks and those built by bot.links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from blocks.finding import SEVERITY_EMOJI, slack_date
from blocks.ids import HomeBlock
from blocks.slack import Block, context, divider, fields_section, header, section
from blocks.text import escape, fit, inline_code
from bot.severity import Severity

SHOWN_SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
MAX_LINES = 10  # per list; a Home tab is an overview, the rest is one command away
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class HomeFinding:
    """One open finding as the Home tab lists it."""

    severity: Severity
    category: str
    where: str
    link: str  # the bot's message about it; may be empty
    seen: datetime | None = None


@dataclass(frozen=True)
class HomeRequest:
    """A containment request, pending or decided, as the Home tab lists it."""

    requester: str  # Slack user id
    what: str  # the actions, in plain words
    resource: str
    at: datetime
    link: str = ""  # the request message; may be empty
    status: str = ""
    decided_by: str = ""


@dataclass(frozen=True)
class HomeData:
    """Everything the Home tab shows; ``None`` lists mean the source is not available."""

    counts: Mapping[Severity, int] = field(default_factory=dict)
    newest: Mapping[Severity, Sequence[HomeFinding]] = field(default_factory=dict)
    pending: Sequence[HomeRequest] | None = None
    recent: Sequence[HomeRequest] | None = None


def build_home(
    user_id: str, data: HomeData, *, can_approve: bool, command: str, now: datetime
) -> dict[str, Any]:
    """Return the Home view for one person."""
    total = sum(data.counts.get(severity, 0) for severity in SHOWN_SEVERITIES)
    blocks: list[Block] = [
        header(HomeBlock.HEADER, "Security Command Center"),
        context(
            HomeBlock.FOOTER,
            [
                f"Updated {slack_date(now)} · `{command} list` for everything in SCC, "
                f"`{command} help` for the rest"
            ],
        ),
        section(None, f"*Open findings posted by the bot*: {total}"),
        fields_section(
            HomeBlock.COUNTS,
            [
                f"{SEVERITY_EMOJI[severity]} *{severity.title()}*\n{data.counts.get(severity, 0)}"
                for severity in SHOWN_SEVERITIES
            ],
        ),
    ]
    for severity in SHOWN_SEVERITIES:
        newest = data.newest.get(severity, ())
        if newest:
            lines = [_finding_line(finding) for finding in newest[:MAX_LINES]]
            body = f"*Newest {severity.lower()}*\n" + "\n".join(lines)
            blocks.append(section(f"{HomeBlock.NEWEST}.{severity.lower()}", body))
    blocks.append(divider())
    blocks.append(section(HomeBlock.PENDING_HEADER, "*Containment waiting for approval*"))
    blocks.append(section(HomeBlock.PENDING, _pending_text(data.pending, user_id, can_approve)))
    blocks.append(divider())
    blocks.append(section(HomeBlock.ACTIONS_HEADER, "*Last containment actions*"))
    blocks.append(section(HomeBlock.ACTIONS, _recent_text(data.recent)))
    return {"type": "home", "blocks": blocks}


def build_home_denied(command: str) -> dict[str, Any]:
    """Return the Home view for someone not allowed to use the bot."""
    return {
        "type": "home",
        "blocks": [
            header(HomeBlock.HEADER, "Security Command Center"),
            section(
                HomeBlock.DENIED,
                f":lock: Findings are shown to the security team only. Ask an admin to add "
                f"you to `COMMAND_USERS` if you need `{command}`.",
            ),
        ],
    }


def mention(user_id: str) -> str:
    """Return a mention for a checked Slack user id, else the escaped text."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else escape(user_id or "someone")


def _finding_line(finding: HomeFinding) -> str:
    label, _ = fit(finding.category, 120)
    label = label.replace("|", "¦")
    title = f"<{finding.link}|{label}>" if finding.link else label
    parts = [f"• {title}"]
    if finding.where:
        parts.append(inline_code(finding.where, 120))
    if finding.seen is not None:
        parts.append(slack_date(finding.seen))
    return " · ".join(parts)


def _pending_text(pending: Sequence[HomeRequest] | None, user_id: str, can_approve: bool) -> str:
    if pending is None:
        return "_Containment requests are not available._"
    if not pending:
        return "No pending requests."
    lines = []
    for request in pending[:MAX_LINES]:
        line = (
            f"• {mention(request.requester)} asks to {escape(request.what[:200])} on "
            f"{inline_code(request.resource, 150)} · {slack_date(request.at)}"
        )
        if request.link:
            line += f" · <{request.link}|open the request>"
        if can_approve and request.requester != user_id:
            line += " · _you can approve_"
        lines.append(line)
    if len(pending) > MAX_LINES:
        lines.append(f"…and {len(pending) - MAX_LINES} more")
    return "\n".join(lines)


def _recent_text(recent: Sequence[HomeRequest] | None) -> str:
    if recent is None:
        return "_Containment history is not available._"
    if not recent:
        return "No containment actions yet."
    lines = []
    for request in recent[:MAX_LINES]:
        who = mention(request.decided_by) if request.decided_by else mention(request.requester)
        line = (
            f"• *{escape(request.status.replace('_', ' '))}*: {escape(request.what[:200])} on "
            f"{inline_code(request.resource, 150)} · {who} · {slack_date(request.at)}"
        )
        if request.link:
            line += f" · <{request.link}|open>"
        lines.append(line)
    return "\n".join(lines)
