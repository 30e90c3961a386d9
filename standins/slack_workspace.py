"""The state of a fake Slack workspace and the Web API methods that act on it.

Argument names, error codes and response shapes follow the method pages at
docs.slack.dev/reference/methods; the HTTP side lives in ``standins.slack_api``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from standins.block_kit import validate_blocks, validate_view

# "Slack will truncate messages containing more than 40,000 characters"; we refuse them.
MAX_TEXT = 40_000
# A modal stack holds at most three views (views.push answers push_limit_reached).
MAX_VIEW_STACK = 3
WORKSPACE_URL = "https://example.slack.com"
# People have ids starting with U, or W in Enterprise Grid.
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

Params = dict[str, Any]
MethodHandler = Callable[[Params], Params]


class ApiError(Exception):
    """A Web API failure: ``{"ok": false, "error": error, **extra}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Message:
    """A message as it stands in a channel; ``edits`` holds its earlier versions."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = ""
    edits: list[Message] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    files: list[str] = field(default_factory=list)
    edited_ts: str | None = None


@dataclass
class Ephemeral:
    """A message only ``user`` can see; Slack keeps no copy, so only its ts exists."""

    channel: str
    user: str
    message_ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None


@dataclass
class UploadedFile:
    """A file announced by files.getUploadURLExternal and filled by its upload URL."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    channel_id: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


def flag(value: Any) -> bool:
    """Read a boolean argument sent as JSON or as a form field ("1", "true")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true")
    return bool(value)


class SlackWorkspace:
    """One team with one bot user: messages, views, users, user groups and files."""

    def __init__(self, *, bot_token: str, team_id: str, bot_user_id: str) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = "B" + bot_user_id.lstrip("UW")
        self.url = ""  # set by the HTTP server once it is bound
        self.lock = threading.RLock()
        self.messages: dict[tuple[str, str], Message] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_tabs: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, UploadedFile] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self._not_in_channel: set[str] = set()
        # The bot's direct-message conversation with each person, by user id.
        self._ims: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._stacks: dict[str, list[str]] = {}
        self._last_root: str | None = None
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self.add_user(bot_user_id, name="scc-bot", is_bot=True)
        self.methods: dict[str, MethodHandler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.delete": self._chat_delete,
            "conversations.replies": self._conversations_replies,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # -- set-up and inspection --------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str = "",
        tz: str = "UTC",
        is_admin: bool = False,
        is_bot: bool = False,
    ) -> None:
        """Make ``user_id`` known to users.info."""
        name = name or user_id.lower()
        offset = ZoneInfo(tz).utcoffset(datetime.now())
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "tz": tz,
            "tz_label": datetime.now(ZoneInfo(tz)).tzname(),
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": {"real_name": name.title(), "display_name": name},
        }

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        """Define the members usergroups.users.list returns for ``group_id``."""
        self.usergroups[group_id] = list(user_ids)

    def set_not_in_channel(self, channel: str) -> None:
        """Make posts to ``channel`` fail with not_in_channel, as before the bot is invited."""
        self._not_in_channel.add(channel)

    def dm_channel(self, user_id: str) -> str | None:
        """Return the id of the bot's direct-message conversation with ``user_id``, if any."""
        with self.lock:
            return self._ims.get(user_id)

    def post_as_user(
        self, channel: str, text: str, *, user: str, thread_ts: str | None = None
    ) -> Message:
        """Add a message written by a person (the bot may not edit or delete it)."""
        with self.lock:
            message = Message(channel, self._next_ts(), text, [], thread_ts, user)
            self.messages[(channel, message.ts)] = message
            return message

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Return the replies in the thread under ``ts``, oldest first."""
        replies = [
            m
            for (ch, _), m in self.messages.items()
            if ch == channel and m.thread_ts == ts and m.ts != ts
        ]
        return sorted(replies, key=lambda m: m.ts)

    def clear_state(self) -> None:
        """Forget messages, views and files; keep users, groups and channel settings."""
        with self.lock:
            self.messages.clear()
            self.ephemerals.clear()
            self.views.clear()
            self.home_tabs.clear()
            self.uploads.clear()
            self._used_triggers.clear()
            self._stacks.clear()
            self._last_root = None

    # -- helpers ----------------------------------------------------------------------------

    def _next_ts(self) -> str:
        # Slack ts values are "seconds.microseconds": unique per channel and increasing.
        now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}{uuid.uuid4().hex[:6].upper()}"

    def _channel(self, params: Params, key: str = "channel", *, user_as_dm: bool = False) -> str:
        channel = params.get(key)
        if user_as_dm and isinstance(channel, str) and USER_ID.match(channel):
            # chat.postMessage to a user id posts into the app's DM with that person.
            channel = self._im(channel)
        # Public channels, private channels and DMs have ids starting with C, G and D.
        if not isinstance(channel, str) or channel[:1] not in ("C", "G", "D"):
            raise ApiError("channel_not_found")
        if channel in self._not_in_channel:
            raise ApiError("not_in_channel")
        return channel

    def _im(self, user_id: str) -> str:
        with self.lock:
            if user_id not in self._ims:
                self._ims[user_id] = self._new_id("D")
            return self._ims[user_id]

    def _message(self, channel: str, ts: Any) -> Message:
        message = self.messages.get((channel, ts)) if isinstance(ts, str) else None
        if message is None:
            raise ApiError("message_not_found")
        return message

    def _content(self, params: Params) -> tuple[str, list[dict[str, Any]]]:
        text = params.get("text", "")
        text = text if isinstance(text, str) else str(text)
        blocks = params.get("blocks") or []
        if not text and not blocks and not params.get("attachments"):
            raise ApiError("no_text")
        if len(text) > MAX_TEXT:
            raise ApiError("msg_too_long")
        errors = validate_blocks(blocks, "message")
        if errors:
            raise ApiError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        return text, blocks

    def _metadata(self, params: Params) -> dict[str, Any] | None:
        metadata = params.get("metadata")
        if metadata is None:
            return None
        # Message metadata is {"event_type": str, "event_payload": object}.
        if not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise ApiError("invalid_metadata_format")
        return metadata

    def render(self, message: Message) -> dict[str, Any]:
        """Return ``message`` in the shape the Web API answers with."""
        data: dict[str, Any] = {
            "type": "message",
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "team": self.team_id,
        }
        if message.user == self.bot_user_id:
            data["bot_id"] = self.bot_id
        if message.blocks:
            data["blocks"] = message.blocks
        if message.metadata:
            data["metadata"] = message.metadata
        if message.files:
            data["files"] = [{"id": file_id} for file_id in message.files]
        if message.edited_ts:
            data["edited"] = {"user": message.user, "ts": message.edited_ts}
        replies = self.thread(message.channel, message.ts)
        if message.thread_ts:
            data["thread_ts"] = message.thread_ts
        elif replies:
            data.update(
                thread_ts=message.ts,
                reply_count=len(replies),
                reply_users=sorted({r.user for r in replies}),
                latest_reply=replies[-1].ts,
            )
        return data

    # -- auth, chat, conversations ----------------------------------------------------------

    def _auth_test(self, params: Params) -> Params:
        return {
            "url": f"{WORKSPACE_URL}/",
            "team": "Test Workspace",
            "user": self.users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: Params) -> Params:
        channel = self._channel(params, user_as_dm=True)
        text, blocks = self._content(params)
        thread_ts = params.get("thread_ts") or None
        message = Message(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            user=self.bot_user_id,
            metadata=self._metadata(params),
            reply_broadcast=flag(params.get("reply_broadcast")),
        )
        self.messages[(channel, message.ts)] = message
        return {"channel": channel, "ts": message.ts, "message": self.render(message)}

    def _chat_update(self, params: Params) -> Params:
        channel = self._channel(params)
        message = self._message(channel, params.get("ts"))
        if message.user != self.bot_user_id:
            raise ApiError("cant_update_message")
        text, blocks = self._content(params)
        message.edits.append(dataclasses.replace(message, edits=[]))
        message.edited_ts = self._next_ts()
        # Omitted fields keep their value; "blocks": [] removes the blocks.
        if "text" in params:
            message.text = text
        if "blocks" in params:
            message.blocks = blocks
        if "metadata" in params:
            message.metadata = self._metadata(params)
        rendered = self.render(message)
        return {"channel": channel, "ts": message.ts, "text": message.text, "message": rendered}

    def _chat_post_ephemeral(self, params: Params) -> Params:
        channel = self._channel(params)
        user = params.get("user")
        if not isinstance(user, str) or user[:1] not in ("U", "W"):
            raise ApiError("user_not_in_channel")
        text, blocks = self._content(params)
        thread_ts = params.get("thread_ts") or None
        ephemeral = Ephemeral(channel, user, self._next_ts(), text, blocks, thread_ts)
        self.ephemerals.append(ephemeral)
        return {"message_ts": ephemeral.message_ts}

    def _chat_get_permalink(self, params: Params) -> Params:
        channel = self._channel(params)
        message = self._message(channel, params.get("message_ts"))
        link = f"{WORKSPACE_URL}/archives/{channel}/p{message.ts.replace('.', '')}"
        if message.thread_ts and message.thread_ts != message.ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _chat_delete(self, params: Params) -> Params:
        channel = self._channel(params)
        message = self._message(channel, params.get("ts"))
        if message.user != self.bot_user_id:
            raise ApiError("cant_delete_message")
        del self.messages[(channel, message.ts)]
        return {"channel": channel, "ts": message.ts}

    def _conversations_replies(self, params: Params) -> Params:
        channel = self._channel(params)
        ts = params.get("ts")
        message = self.messages.get((channel, ts)) if isinstance(ts, str) else None
        if message is None:
            raise ApiError("thread_not_found")
        root = self.messages.get((channel, message.thread_ts or message.ts), message)
        thread = [root, *self.thread(channel, root.ts)]
        return {
            "messages": [self.render(m) for m in thread],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    # -- views ------------------------------------------------------------------------------

    def _checked_view(self, params: Params, expected_type: str) -> dict[str, Any]:
        view = params.get("view")
        errors = validate_view(view, expected_type=expected_type)
        if errors:
            # Views answer invalid_arguments, with the details in response_metadata.
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        assert isinstance(view, dict)
        return view

    def _use_trigger(self, params: Params) -> None:
        trigger_id = params.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise ApiError("invalid_trigger_id")
        # A trigger_id opens one view only.
        if trigger_id in self._used_triggers:
            raise ApiError("exchanged_trigger_id")
        self._used_triggers.add(trigger_id)

    def _store_view(
        self, view: dict[str, Any], *, view_id: str, root: str, previous: str | None
    ) -> dict[str, Any]:
        external_id = view.get("external_id")
        for other in self.views.values():
            if external_id and other["id"] != view_id and other.get("external_id") == external_id:
                raise ApiError("duplicate_external_id")
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": root,
            "previous_view_id": previous,
            "app_id": "A0TEST",
            "bot_id": self.bot_id,
            **view,
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        }
        self.views[view_id] = stored
        return stored

    def _views_open(self, params: Params) -> Params:
        view = self._checked_view(params, "modal")
        self._use_trigger(params)
        view_id = self._new_id("V")
        stored = self._store_view(view, view_id=view_id, root=view_id, previous=None)
        self._stacks[view_id] = [view_id]
        self._last_root = view_id
        return {"view": stored}

    def _views_push(self, params: Params) -> Params:
        view = self._checked_view(params, "modal")
        self._use_trigger(params)
        # The trigger names no view, so the push lands on the modal opened last.
        stack = self._stacks.get(self._last_root or "", [])
        if len(stack) >= MAX_VIEW_STACK:
            raise ApiError("push_limit_reached")
        view_id = self._new_id("V")
        root = stack[0] if stack else view_id
        previous = stack[-1] if stack else None
        stored = self._store_view(view, view_id=view_id, root=root, previous=previous)
        self._stacks.setdefault(root, []).append(view_id)
        self._last_root = root
        return {"view": stored}

    def _views_update(self, params: Params) -> Params:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if bool(view_id) == bool(external_id):
            raise ApiError("invalid_arguments")
        current = self.views.get(view_id) if isinstance(view_id, str) else None
        if external_id:
            matches = [v for v in self.views.values() if v.get("external_id") == external_id]
            current = matches[0] if matches else None
        if current is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = self._checked_view(params, current["type"])
        stored = self._store_view(
            view,
            view_id=current["id"],
            root=current["root_view_id"],
            previous=current["previous_view_id"],
        )
        return {"view": stored}

    def _views_publish(self, params: Params) -> Params:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or user_id[:1] not in ("U", "W"):
            raise ApiError("user_not_found")
        current = self.home_tabs.get(user_id)
        if params.get("hash") and current and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = self._checked_view(params, "home")
        view_id = current["id"] if current else self._new_id("V")
        stored = self._store_view(view, view_id=view_id, root=view_id, previous=None)
        self.home_tabs[user_id] = stored
        return {"view": stored}

    # -- users ------------------------------------------------------------------------------

    def _usergroups_users_list(self, params: Params) -> Params:
        group = params.get("usergroup")
        if not isinstance(group, str) or group not in self.usergroups:
            raise ApiError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _users_info(self, params: Params) -> Params:
        user = self.users.get(params.get("user", ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    # -- files ------------------------------------------------------------------------------

    def _files_get_upload_url(self, params: Params) -> Params:
        filename = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except ValueError:
            length = 0
        if not isinstance(filename, str) or not filename or length <= 0:
            raise ApiError("invalid_arguments")
        file_id = self._new_id("F")
        self.uploads[file_id] = UploadedFile(file_id, filename, length)
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        """Store bytes sent to an upload URL; answer (HTTP status, body) as Slack's does."""
        with self.lock:
            upload = self.uploads.get(file_id)
            if upload is None or upload.completed:
                return 404, "file not found"
            # The bytes must match the length announced to files.getUploadURLExternal.
            if len(content) != upload.length:
                return 400, f"length mismatch: announced {upload.length}, got {len(content)}"
            upload.content = content
            return 200, f"OK - {len(content)}"

    def _files_complete_upload(self, params: Params) -> Params:
        files = params.get("files")
        if not isinstance(files, list) or not files:
            raise ApiError("invalid_arguments")
        channel = None
        if params.get("channel_id") or params.get("channels"):
            key = "channel_id" if params.get("channel_id") else "channels"
            channel = self._channel({key: str(params[key]).split(",")[0]}, key)
        thread_ts = params.get("thread_ts") or None
        if thread_ts and channel is None:
            raise ApiError("invalid_arguments")
        uploads: list[UploadedFile] = []
        for entry in files:
            upload = self.uploads.get(entry.get("id", "")) if isinstance(entry, dict) else None
            # A file whose bytes never reached the upload URL cannot be completed.
            if upload is None or upload.content is None or upload.completed:
                raise ApiError("file_not_found")
            upload.title = str(entry.get("title") or upload.filename)
            uploads.append(upload)
        comment = params.get("initial_comment")
        for upload in uploads:
            upload.completed = True
            upload.channel_id, upload.thread_ts, upload.initial_comment = (
                channel,
                thread_ts,
                comment,
            )
        if channel is not None:
            share = Message(
                channel, self._next_ts(), comment or "", [], thread_ts, self.bot_user_id
            )
            share.files = [u.file_id for u in uploads]
            self.messages[(channel, share.ts)] = share
        return {
            "files": [
                {
                    "id": u.file_id,
                    "name": u.filename,
                    "title": u.title,
                    "size": u.length,
                    "channels": [channel] if channel else [],
                }
                for u in uploads
            ]
        }
