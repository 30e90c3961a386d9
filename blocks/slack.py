"""Small constructors for Block Kit objects; callers pass text that is already safe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Block = dict[str, Any]

# Slack's documented limits for the objects built here.
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
CONTEXT_ELEMENTS = 10
SECTION_FIELDS = 10


@dataclass(frozen=True)
class SlackMessage:
    """A message ready for chat.postMessage / chat.update."""

    text: str
    blocks: list[Block]


def header(block_id: str | None, value: str) -> Block:
    block: Block = {"type": "header", "text": {"type": "plain_text", "text": value[:HEADER_LIMIT]}}
    if block_id:
        block["block_id"] = block_id
    return block


def section(block_id: str | None, mrkdwn: str) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}
    if block_id:
        block["block_id"] = block_id
    return block


def fields_section(block_id: str | None, fields: list[str]) -> Block:
    block: Block = {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": value} for value in fields[:SECTION_FIELDS]],
    }
    if block_id:
        block["block_id"] = block_id
    return block


def context(block_id: str | None, parts: list[str]) -> Block:
    block: Block = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": part} for part in parts[:CONTEXT_ELEMENTS]],
    }
    if block_id:
        block["block_id"] = block_id
    return block


def button(
    action_id: str,
    label: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label[:BUTTON_TEXT_LIMIT], "emoji": True},
    }
    if value is not None:
        element["value"] = value
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def divider() -> Block:
    return {"type": "divider"}
