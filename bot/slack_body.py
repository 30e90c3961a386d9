"""Check that a signed Slack request has a shape Bolt can read, before Bolt reads it.

Bolt parses the body the way Slack sends it: JSON for events, form fields for slash
commands, and a form field ``payload`` holding JSON for interactivity. It assumes the JSON
is an object and that a ``block_actions`` payload carries at least one action; a body that
breaks those assumptions makes it raise mid-dispatch. Such a body can only come from
someone holding the signing secret who is not Slack, so it is refused with a short 400.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

# Top-level fields Bolt reads as objects in interactive and event payloads.
_OBJECT_FIELDS = ("team", "user", "channel", "container", "view", "message", "event")
_VIEW_TYPES = ("view_submission", "view_closed")


def body_problem(body: bytes, content_type: str | None) -> str | None:
    """Return why Bolt could not read this Slack request body, or None if it can."""
    text = body.decode("utf-8", errors="replace")
    if not text:
        return None
    mime = (content_type or "").split(";")[0].strip()
    # The same choice Bolt makes between JSON and form bodies.
    if mime == "application/json" or text.startswith("{"):
        return _payload_problem(text)
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            return _payload_problem(payload)
    return None


def _payload_problem(raw: str) -> str | None:
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        return "payload is not JSON"
    if not isinstance(payload, dict):
        return "payload is not a JSON object"
    for name in _OBJECT_FIELDS:
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            return f"{name} is not an object"
    kind = payload.get("type")
    if kind == "block_actions" and "actions" in payload:
        actions = payload["actions"]
        if not isinstance(actions, list) or not actions:
            return "actions is not a non-empty list"
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "an action has no action_id"
    if kind in _VIEW_TYPES and not isinstance((payload.get("view") or {}).get("callback_id"), str):
        return "view has no callback_id"
    return None
