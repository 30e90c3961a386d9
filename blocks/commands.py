"""Build what the slash command answers: help, one finding, a page of findings, a refusal.

Pure: takes records, links and validated values, returns text and blocks. Finding text goes
through blocks.text; the only links are Slack permalinks and those built by bot.links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from blocks.finding import SEVERITY_EMOJI, MessageContext, build_finding_message, slack_date
from blocks.ids import CommandAction, CommandBlock
from blocks.slack import Block, SlackMessage, button, context, section
from blocks.text import escape, fit, inline_code
from bot.finding import FindingRecord

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class ListedFinding:
    """One line of a list: the finding and where a click should take the reader."""

    record: FindingRecord
    link: str  # the bot's message about it, else its console page; may be empty
    posted: bool  # whether ``link`` is the bot's own message


def build_help(command: str, *, note: str = "") -> SlackMessage:
    """Return the usage of the command, with examples; ``note`` is safe mrkdwn shown first."""
    lines = [
        f"*`{command} show <finding>`*: one finding, shown to you, with a button to share it.",
        "  <finding> is a full name (`organizations/…/sources/…/locations/…/findings/…`, "
        "the older form without `locations`, or `projects/…`), a finding id the bot has "
        "posted, or a link from the Security Command Center console.",
        f"*`{command} list [severity=…] [category=…] [project=…] [state=…] [since=…]`*: "
        "findings, newest first, ten at a time. Active findings unless `state=INACTIVE`.",
        "  `severity`: CRITICAL, HIGH, MEDIUM, LOW (several with commas) · `category`: part of "
        "the category · `project`: project id or number · `since`: `30m`, `24h`, `7d`",
        f"*`{command} help`*: this message.",
        "*Examples*",
        f"`{command} show organizations/123456789012/sources/456/locations/global/findings/"
        "23eeeb4347bdd26bfc6b7ee9a3b755dd`",
        f"`{command} list severity=CRITICAL,HIGH since=24h`",
        f"`{command} list category=Reverse Shell project=acme-prod`",
    ]
    blocks: list[Block] = []
    if note:
        blocks.append(section(CommandBlock.NOTICE, note))
    blocks.append(section(CommandBlock.HELP, "\n".join(lines)))
    return SlackMessage(text=f"How to use {command}", blocks=blocks)


def build_notice(message: str) -> SlackMessage:
    """Return a one-section answer; ``message`` is safe mrkdwn written by the bot."""
    return SlackMessage(text=_fallback(message), blocks=[section(CommandBlock.NOTICE, message)])


def build_show(record: FindingRecord, ctx: MessageContext, *, share_value: str) -> SlackMessage:
    """Return the finding message for one person, with a button to share it in the channel."""
    message = build_finding_message(record, ctx)
    share = {
        "type": "actions",
        "block_id": CommandBlock.SHARE,
        "elements": [
            button(CommandAction.SHARE, "Share in channel", value=share_value, style="primary")
        ],
    }
    return SlackMessage(text=message.text, blocks=[*message.blocks, share])


def shared_by_notice(user_id: str) -> str:
    """Return the notice line saying who shared a finding into the channel."""
    if not _USER_ID.match(user_id):
        return ":mega: Shared from a lookup"
    return f":mega: Shared by <@{user_id}>"


def build_list_page(
    items: Sequence[ListedFinding],
    *,
    description: str,
    total: int,
    first: int,
    more_value: str | None,
) -> SlackMessage:
    """Return one page of findings; ``first`` is the 1-based position of the first line."""
    if not items:
        summary = f"No findings match {inline_code(description, 300)}."
        return SlackMessage(
            text="No findings match", blocks=[section(CommandBlock.LIST_HEADER, summary)]
        )
    last = first + len(items) - 1
    summary = f"*Findings {first}–{last}* of {total} matching {inline_code(description, 300)}"
    blocks: list[Block] = [section(CommandBlock.LIST_HEADER, summary)]
    # One section per finding: each stays far below Slack's 3000-character section limit.
    blocks.extend(
        section(f"{CommandBlock.LIST_ITEMS}.{index}", _line(item))
        for index, item in enumerate(items, start=first)
    )
    if more_value is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": CommandBlock.LIST_MORE,
                "elements": [button(CommandAction.MORE, "More", value=more_value)],
            }
        )
    else:
        blocks.append(context(CommandBlock.LIST_MORE, ["End of the list."]))
    return SlackMessage(text=f"Findings {first}–{last} of {total}", blocks=blocks)


def _line(item: ListedFinding) -> str:
    record = item.record
    label, _ = fit(record.category, 120)
    label = label.replace("|", "¦")
    title = f"<{item.link}|{label}>" if item.link else label
    target = record.cloud_run
    where = target.label if target else (record.resource.display_name or record.resource_name)
    project = record.project_display_name or (target.project if target else "")
    parts = [f"{SEVERITY_EMOJI[record.severity]} *{record.severity}* {title}"]
    if where:
        parts.append(escape(where[:150]))
    if project:
        parts.append(inline_code(project, 60))
    if record.event_time is not None:
        parts.append(slack_date(record.event_time))
    if record.state != "ACTIVE":
        parts.append(escape(record.state.lower()))
    if not item.posted:
        parts.append("_(not posted by the bot; opens the console)_" if item.link else "_(no link)_")
    return " · ".join(parts)


def _fallback(message: str) -> str:
    # The message is mrkdwn already; the notification text needs no more than its gist.
    first_line = message.split("\n", 1)[0]
    return first_line if len(first_line) <= 300 else "Security Command Center lookup"
