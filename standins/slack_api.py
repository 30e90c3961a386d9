"""A local Slack Web API that slack_sdk's WebClient and slack_bolt talk to unmodified.

Usage::

    with SlackStandIn() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.base_url)
        client.chat_postMessage(channel="C0ALERTS", text="hi")
        assert slack.calls_to("chat.postMessage", ok=True)

Failures come back the way Slack sends them: HTTP 200 with ``{"ok": false, "error": ...}``
for API errors, HTTP 429 with ``Retry-After`` when rate limited, 5xx when "down".
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from standins.block_kit import validate_blocks
from standins.slack_workspace import (
    ApiError,
    Ephemeral,
    Message,
    Params,
    SlackWorkspace,
    UploadedFile,
)

__all__ = ["ApiCall", "Ephemeral", "Message", "SlackStandIn", "UploadedFile"]

logger = logging.getLogger(__name__)

# Arguments that form-encoded requests carry as JSON strings, and the error for bad JSON.
JSON_FIELDS = {
    "blocks": "invalid_blocks_format",
    "attachments": "invalid_attachments",
    "metadata": "invalid_metadata_format",
    "view": "invalid_arguments",
    "files": "invalid_arguments",
}
# Methods limited per channel: "chat.postMessage ... allows one message per second per
# channel, with short bursts"; chat.update shares the treatment here.
RATE_LIMITED_METHODS = frozenset({"chat.postMessage", "chat.update"})
SERVER_ERRORS = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}


@dataclass
class ApiCall:
    """One request as the stand-in saw it, with JSON arguments decoded."""

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    # When the stand-in answered (time.monotonic()), for latency measurements.
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    method: str
    remaining: int
    error: str | None
    status: int
    retry_after: int | None


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Reply:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]


class SlackStandIn(SlackWorkspace):
    """Serve the Web API on 127.0.0.1 at a free port from a daemon thread."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - the stand-in's own test token
        team_id: str = "T0TEST",
        bot_user_id: str = "U0BOT",
        rate_limit_per_channel: float | None = None,
        burst: int = 3,
    ) -> None:
        super().__init__(bot_token=bot_token, team_id=team_id, bot_user_id=bot_user_id)
        self.calls: list[ApiCall] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self._failures: list[_Failure] = []
        self._down_status: int | None = None
        self._rate = rate_limit_per_channel
        self._burst = burst
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.standin = self
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/api/"
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        """Start answering requests."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()
        logger.debug("Slack stand-in listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop the server and release its port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests arrange -----------------------------------------------------------------

    def response_url(self, key: str = "r1") -> str:
        """Return a response_url whose posts land in ``responses[key]``."""
        return f"{self.url}/response/{key}"

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` ("*" for any) fail.

        Status 200 answers ``{"ok": false, "error": error}``; 429 (implied by
        ``retry_after``) answers ratelimited with a Retry-After header; 5xx answers that status.
        """
        if retry_after is not None and status == 200:
            status = 429
        with self.lock:
            self._failures.append(_Failure(method, count, error, status, retry_after))

    def set_down(self, down: bool, *, status: int = 503) -> None:
        """Answer every request with HTTP ``status`` until called with False."""
        self._down_status = status if down else None

    def reset(self) -> None:
        """Forget calls, messages, views, files, responses, failures and rate limits."""
        with self.lock:
            self.calls.clear()
            self.responses.clear()
            self._failures.clear()
            self._buckets.clear()
            self._down_status = None
            self.clear_state()

    # -- what tests inspect -----------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[ApiCall]:
        """Return the calls of ``method``, optionally only those that (did not) succeed."""
        return [
            c
            for c in list(self.calls)
            if c.method == method and (ok is None or c.response.get("ok") is ok)
        ]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until it holds; raise AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        if predicate():
            return
        seen = ", ".join(
            f"{c.method}={c.response.get('error', 'ok') if c.status == 200 else c.status}"
            for c in list(self.calls)
        )
        name = getattr(predicate, "__qualname__", repr(predicate))
        raise AssertionError(
            f"condition {name} not met within {timeout} s; calls: [{seen or 'none'}]"
        )

    # -- request handling -------------------------------------------------------------------

    def handle(self, http_method: str, path: str, headers: Any, body: bytes) -> _Reply:
        """Answer one HTTP request (called from the server threads)."""
        parts = urlsplit(path)
        if self._down_status is not None:
            body_down = _server_error(self._down_status, None)
            if parts.path.startswith("/api/"):
                with self.lock:
                    self.calls.append(ApiCall(parts.path[5:], {}, self._down_status, body_down))
            return _Reply(self._down_status, body_down, {})
        if parts.path.startswith("/api/"):
            return self._api(parts.path[len("/api/") :], parts.query, headers, body)
        if parts.path.startswith("/upload/") and http_method == "POST":
            return self._upload(parts.path[len("/upload/") :], headers, body)
        if parts.path.startswith("/response/") and http_method == "POST":
            return self._response(parts.path[len("/response/") :], body)
        return _Reply(404, "not found", {})

    def _api(self, method: str, query: str, headers: Any, body: bytes) -> _Reply:
        params: Params = {}
        try:
            params, token = _parse(query, headers, body)
            reply = self._dispatch(method, params, token)
        except ApiError as failure:
            reply = _Reply(200, {"ok": False, "error": failure.error, **failure.extra}, {})
        with self.lock:
            response = reply.body if isinstance(reply.body, dict) else {}
            self.calls.append(ApiCall(method, params, reply.status, response))
        logger.debug("%s -> %s %s", method, reply.status, response.get("error", "ok"))
        return reply

    def _dispatch(self, method: str, params: Params, token: str | None) -> _Reply:
        handler = self.methods.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        injected = self._take_failure(method)
        if injected is not None:
            return injected
        if not token:
            raise ApiError("not_authed")
        if token != self.bot_token:
            raise ApiError("invalid_auth")
        if method in RATE_LIMITED_METHODS:
            wait = self._take_token(method, str(params.get("channel", "")))
            if wait is not None:
                return _ratelimited(wait)
        with self.lock:
            return _Reply(200, {"ok": True, **handler(params)}, {})

    def _take_failure(self, method: str) -> _Reply | None:
        with self.lock:
            for failure in self._failures:
                if failure.method in (method, "*"):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    break
            else:
                return None
        if failure.status == 429:
            return _ratelimited(failure.retry_after or 1)
        if failure.status >= 500:
            return _Reply(failure.status, _server_error(failure.status, failure.error), {})
        return _Reply(failure.status, {"ok": False, "error": failure.error or "fatal_error"}, {})

    def _take_token(self, method: str, channel: str) -> int | None:
        """Spend a token of the channel's bucket; return seconds to wait when empty."""
        if self._rate is None:
            return None
        now = time.monotonic()
        with self.lock:
            bucket = self._buckets.setdefault(
                (method, channel), _Bucket(tokens=float(self._burst), updated=now)
            )
            bucket.tokens = min(
                float(self._burst), bucket.tokens + (now - bucket.updated) * self._rate
            )
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            # Retry-After is whole seconds, and Slack never says 0.
            return max(1, math.ceil((1 - bucket.tokens) / self._rate))

    def _upload(self, file_id: str, headers: Any, body: bytes) -> _Reply:
        content_type = headers.get("Content-Type", "")
        content = body
        if content_type.startswith("multipart/form-data"):
            # A multipart upload carries the bytes in its first file part.
            parts = _multipart(content_type, body)
            content = next((data for _, data, is_file in parts if is_file), b"")
        status, text = self.receive_upload(file_id, content)
        with self.lock:
            self.calls.append(
                ApiCall("upload", {"file_id": file_id, "length": len(content)}, status, {})
            )
        return _Reply(status, text, {})

    def _response(self, key: str, body: bytes) -> _Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return self._record_response(key, {}, 400, "invalid_payload")
        errors = validate_blocks(payload.get("blocks") or [], "message")
        if errors:
            return self._record_response(key, payload, 400, "invalid_blocks")
        if not any(payload.get(key) for key in ("text", "blocks", "delete_original")):
            return self._record_response(key, payload, 400, "no_text")
        with self.lock:
            self.responses.setdefault(key, []).append(payload)
        return self._record_response(key, payload, 200, None)

    def _record_response(
        self, key: str, payload: dict[str, Any], status: int, error: str | None
    ) -> _Reply:
        # A response_url answers like an incoming webhook: plain text "ok" or the error.
        response: dict[str, Any] = {"ok": error is None}
        if error:
            response["error"] = error
        with self.lock:
            self.calls.append(ApiCall("response_url", {"key": key, **payload}, status, response))
        return _Reply(status, error or "ok", {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: SlackStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, http_method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.standin.handle(http_method, self.path, self.headers, body)
        except Exception:
            logger.exception("Slack stand-in failed on %s", self.path)
            reply = _Reply(500, {"ok": False, "error": "fatal_error"}, {})
        if isinstance(reply.body, dict):
            data = json.dumps(reply.body).encode()
            content_type = "application/json; charset=utf-8"
        else:
            data = reply.body.encode()
            content_type = "text/plain; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def _parse(query: str, headers: Any, body: bytes) -> tuple[Params, str | None]:
    """Merge query and body arguments and find the token."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    content_type = (headers.get("Content-Type") or "").lower()
    is_json = content_type.startswith("application/json")
    if is_json:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise ApiError("invalid_json") from None
        if not isinstance(data, dict):
            raise ApiError("invalid_json")
        params.update(data)
    elif content_type.startswith("multipart/form-data"):
        params.update(
            {name: data.decode() for name, data, is_file in _multipart(content_type, body)}
        )
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    params = {key: value for key, value in params.items() if value is not None}
    for key, error in JSON_FIELDS.items():
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                raise ApiError(error) from None
    form_token = params.pop("token", None)
    authorization = headers.get("Authorization") or ""
    if authorization.startswith("Bearer "):
        return params, authorization[len("Bearer ") :].strip()
    # "When sending JSON, you must present your token as a bearer token in the header."
    return params, None if is_json else form_token


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes, bool]]:
    """Split a multipart/form-data body into (field name, bytes, is a file) parts."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: list[tuple[str, bytes, bool]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts.append((name, payload, part.get_filename() is not None))
    return parts


def _ratelimited(retry_after: int) -> _Reply:
    return _Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def _server_error(status: int, error: str | None) -> dict[str, Any]:
    return {"ok": False, "error": error or SERVER_ERRORS.get(status, "fatal_error")}
