"""Send Slack's signed HTTP requests to the bot, as Slack does (tests and the demo).

Interactivity arrives as a form field ``payload`` holding JSON; slash commands as form
fields; events as JSON. Each request is signed with ``v0=HMAC-SHA256(secret,
"v0:{timestamp}:{body}")`` over the exact bytes sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import requests

TEAM_ID = "T0TEST"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackRequests:
    """A client that posts signed requests to the bot's /slack/events endpoint."""

    def __init__(self, base_url: str, signing_secret: str, *, response_url: str = "") -> None:
        self.url = base_url.rstrip("/") + "/slack/events"
        self.secret = signing_secret
        self.response_url = response_url
        self._trigger = 0

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or sign(self.secret, stamp, body),
        }
        sent.update(headers or {})
        return requests.post(self.url, data=body, headers=sent, timeout=10)

    def next_trigger(self) -> str:
        self._trigger += 1
        return f"{self._trigger}.{TEAM_ID}.trigger"

    def block_action(
        self,
        *,
        user: str,
        action_id: str,
        value: str = "",
        block_id: str = "b",
        channel: str = "C0SECURITY",
        message_ts: str = "",
        thread_ts: str | None = None,
        selected_option: dict[str, Any] | None = None,
    ) -> requests.Response:
        action: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "action_ts": f"{time.time():.6f}",
        }
        if selected_option is not None:
            action = {**action, "type": "static_select", "selected_option": selected_option}
        message: dict[str, Any] = {"type": "message", "ts": message_ts, "text": ""}
        if thread_ts:
            message["thread_ts"] = thread_ts
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0BOT",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": self.next_trigger(),
            "channel": {"id": channel, "name": "security"},
            "message": message,
            "response_url": self.response_url,
            "actions": [action],
        }
        return self._payload(payload)

    def view_submission(
        self,
        *,
        user: str,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        private_metadata: str = "",
        view_id: str = "V0001",
    ) -> requests.Response:
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0BOT",
            "trigger_id": self.next_trigger(),
            "view": {
                "id": view_id,
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
                "hash": "1.abc",
            },
        }
        return self._payload(payload)

    def slash_command(
        self, *, user: str, command: str, text: str, channel: str = "C0SECURITY"
    ) -> requests.Response:
        fields = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "example",
            "channel_id": channel,
            "channel_name": "security",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0BOT",
            "response_url": self.response_url,
            "trigger_id": self.next_trigger(),
        }
        return self.post(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any]) -> requests.Response:
        body = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0BOT",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{int(time.time() * 1000)}",
            "event_time": int(time.time()),
        }
        return self.post(json.dumps(body).encode(), "application/json")

    def _payload(self, payload: dict[str, Any]) -> requests.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")
