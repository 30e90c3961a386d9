"""Checks that a message carries nothing live from finding text.

Slack gives meaning to ``<…>`` sequences in mrkdwn (mentions, channel links, links) and to
``&…;`` entities. A safe message has only the control sequences the bot builds itself:
date tokens and links to a known set of hosts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_TOKEN = re.compile(r"<([^<>]*)>")
_ALLOWED_LINK = re.compile(
    r"^(https://(www\.virustotal\.com/gui/file/[0-9a-f]{64}"
    r"|attack\.mitre\.org/(techniques|tactics)/[A-Z0-9/]+/"
    r"|console\.cloud\.google\.com/[^|\s]*"
    r"|example\.slack\.com/archives/[^|\s]*"
    r"|[a-z0-9.\-]+\.slack\.com/archives/[^|\s]*))(\|[^|]*)?$"
)
_DATE = re.compile(r"^!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|[0-9: \-]+UTC$")
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)[#A-Za-z0-9]+;")


def mrkdwn_texts(value: Any, *, key: str = "") -> Iterator[str]:
    """Yield every mrkdwn string in a block structure (plain_text is shown literally)."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for child_key, child in value.items():
            yield from mrkdwn_texts(child, key=child_key)
    elif isinstance(value, list):
        for child in value:
            yield from mrkdwn_texts(child, key=key)


def live_tokens(text: str, blocks: list[Any]) -> list[str]:
    """Return every control sequence in the message that the bot did not build."""
    found = []
    for body in [text, *mrkdwn_texts(blocks)]:
        for match in _TOKEN.finditer(body):
            token = match.group(1)
            if _DATE.match(token) or _ALLOWED_LINK.match(token):
                continue
            found.append(token)
        found.extend(_ENTITY.findall(body))
    return found


def code_fences_balanced(blocks: list[Any]) -> bool:
    """Return whether every mrkdwn text opens and closes its code blocks in pairs."""
    return all(body.count("```") % 2 == 0 for body in mrkdwn_texts(blocks))
