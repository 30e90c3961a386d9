"""A VirusTotal API v3 stand-in answering file reports the way VirusTotal does.

Usage::

    with VirusTotalStandIn(api_key="k") as vt_api:
        vt_api.add_file(sha256, stats={"malicious": 12, "undetected": 50}, names=["x.py"])
        client = vt.Client("k", host=vt_api.url)

``GET /api/v3/files/{id}`` answers 200 with ``data.attributes`` for a known file, 404
``NotFoundError`` for an unknown one, 401 ``WrongCredentialsError`` when the ``x-apikey``
header is missing or wrong, and 429 ``QuotaExceededError`` when a quota error is queued or
more than ``per_minute`` requests arrived within a minute (when set).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

_FILE_PATH = re.compile(r"^/api/v3/files/([^/?#]+)$")
_HASH = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class VtRequest:
    """One request as the stand-in saw it."""

    method: str
    path: str
    api_key: str | None


class VirusTotalStandIn:
    """Serve file reports on 127.0.0.1 at a free port from a daemon thread."""

    def __init__(self, *, api_key: str = "vt-test-key", per_minute: int | None = None) -> None:
        self.api_key = api_key
        self.per_minute = per_minute
        self.requests: list[VtRequest] = []
        self._files: dict[str, dict[str, Any]] = {}
        self._quota_errors = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.standin = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> VirusTotalStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="vt-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VirusTotalStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_file(
        self,
        sha256: str,
        *,
        stats: dict[str, int],
        names: list[str] | None = None,
        first_submission_date: int | None = None,
        last_analysis_date: int | None = None,
    ) -> None:
        """Make a file known, with its last analysis."""
        attributes: dict[str, Any] = {
            "sha256": sha256.lower(),
            "last_analysis_stats": dict(stats),
            "names": list(names or []),
        }
        if first_submission_date is not None:
            attributes["first_submission_date"] = first_submission_date
        if last_analysis_date is not None:
            attributes["last_analysis_date"] = last_analysis_date
        with self._lock:
            self._files[sha256.lower()] = attributes

    def exceed_quota(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with 429 QuotaExceededError."""
        with self._lock:
            self._quota_errors += count

    def file_requests(self) -> list[VtRequest]:
        """Return the file-report requests received, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/api/v3/files/")]

    def answer(self, method: str, path: str, api_key: str | None) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON body)."""
        with self._lock:
            self.requests.append(VtRequest(method, path, api_key))
            if api_key != self.api_key:
                return _error(401, "WrongCredentialsError", "Wrong API key")
            if self._quota_errors:
                self._quota_errors -= 1
                return _error(429, "QuotaExceededError", "Quota exceeded")
            if self.per_minute is not None:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 60:
                    self._recent.popleft()
                if len(self._recent) >= self.per_minute:
                    return _error(429, "QuotaExceededError", "Quota exceeded")
                self._recent.append(now)
            match = _FILE_PATH.match(path)
            if method != "GET" or match is None:
                return _error(404, "NotFoundError", f"Resource not found: {path}")
            file_id = match.group(1)
            if not _HASH.match(file_id):
                return _error(400, "InvalidArgumentError", f"Invalid file id: {file_id}")
            attributes = self._files.get(file_id.lower())
            if attributes is None:
                return _error(404, "NotFoundError", f'File "{file_id}" not found')
            sha256 = attributes["sha256"]
            return 200, {
                "data": {
                    "type": "file",
                    "id": sha256,
                    "links": {"self": f"{self.url}/api/v3/files/{sha256}"},
                    "attributes": dict(attributes),
                }
            }


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        self._reply("GET")

    def do_POST(self) -> None:
        self._reply("POST")

    def _reply(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = self.server.standin.answer(
            method, self.path.split("?", 1)[0], self.headers.get("x-apikey")
        )
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("vt stand-in: " + format, *args)
