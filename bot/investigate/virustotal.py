"""VirusTotal file reports through vt-py, spaced to the API's per-minute allowance.

vt-py is asyncio-based and binds its connection pool to the event loop it was created on,
while Slack listeners run on worker threads. One client therefore lives on one private
event loop thread for the whole process, and lookups are handed to it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import vt

from blocks.text import escape
from bot import links
from bot.errors import UserFacingError
from bot.finding import FindingRecord
from bot.investigate.query import SHA256

logger = logging.getLogger(__name__)

T = TypeVar("T")

VERDICTS = ("malicious", "suspicious", "undetected", "harmless", "type-unsupported", "timeout")
MAX_NAMES = 10


class RateLimiter:
    """Allow at most ``per_minute`` calls in any sliding minute, in this process."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._calls: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Take a slot and return 0, or return the seconds until one frees up."""
        with self._lock:
            now = self._clock()
            while self._calls and now - self._calls[0] >= 60.0:
                self._calls.popleft()
            if len(self._calls) < self.per_minute:
                self._calls.append(now)
                return 0.0
            return 60.0 - (now - self._calls[0])


@dataclass(frozen=True)
class VirusTotalReport:
    """What VirusTotal knows about a file hash."""

    sha256: str
    known: bool
    stats: tuple[tuple[str, int], ...]  # (verdict, engines), in VERDICTS order
    names: tuple[str, ...]
    first_seen: datetime | None
    last_analysis: datetime | None
    partial: bool  # SCC hashed only the start of the file
    url: str

    @property
    def malicious(self) -> int:
        return dict(self.stats).get("malicious", 0)


class VirusTotalClient:
    """A vt.Client on its own event loop thread, made once per process."""

    def __init__(
        self, api_key: str, *, host: str, per_minute: int = 4, timeout: float = 15.0
    ) -> None:
        self._api_key = api_key
        self._host = host
        self._timeout = timeout
        self.limiter = RateLimiter(per_minute)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: vt.Client | None = None

    def file_attributes(self, sha256: str) -> dict[str, Any] | None:
        """Return the file object's attributes, or None when VirusTotal does not know it."""
        wait = self.limiter.try_acquire()
        if wait:
            raise UserFacingError(
                f":hourglass: VirusTotal allows {self.limiter.per_minute} lookups a minute; "
                f"try again in {int(wait) + 1} s."
            )
        try:
            document = self._run(self._get(sha256))
        except vt.APIError as exc:
            if exc.code == "NotFoundError":
                return None
            raise _user_error(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning("VirusTotal unreachable: %s", type(exc).__name__)
            raise UserFacingError(
                ":hourglass: VirusTotal could not be reached; try again shortly."
            ) from None
        data = document.get("data") if isinstance(document, dict) else None
        attributes = data.get("attributes") if isinstance(data, dict) else None
        return attributes if isinstance(attributes, dict) else {}

    async def _get(self, sha256: str) -> Any:
        if self._client is None:
            # Created on the loop thread: vt.Client binds its connector to the current loop.
            self._client = vt.Client(
                self._api_key, agent="scc-slack-responder", host=self._host, timeout=30
            )
        return await self._client.get_json_async("/files/{}", sha256)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="virustotal", daemon=True
                )
                self._thread.start()
            return self._loop

    def close(self) -> None:
        """Close the HTTP session and stop the loop thread."""
        with self._lock:
            loop, thread, client = self._loop, self._thread, self._client
            self._loop = self._thread = self._client = None
        if loop is None:
            return
        if client is not None:
            try:
                asyncio.run_coroutine_threadsafe(client.close_async(), loop).result(timeout=5)
            except (TimeoutError, aiohttp.ClientError) as exc:
                logger.warning("VirusTotal session did not close cleanly: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()


def lookup_script(client: VirusTotalClient, record: FindingRecord) -> VirusTotalReport:
    """Look the finding's script hash up on VirusTotal."""
    sha256 = record.script_sha256.lower()
    if not SHA256.match(sha256):
        raise UserFacingError(":information_source: The finding carries no script hash.")
    partial = any(
        p.script.sha256.lower() == sha256 and p.script.partially_hashed
        for p in record.finding.processes
    )
    attributes = client.file_attributes(sha256)
    if attributes is None:
        return VirusTotalReport(
            sha256, False, (), (), None, None, partial, links.virustotal_url(sha256)
        )
    raw_stats = attributes.get("last_analysis_stats")
    stats = raw_stats if isinstance(raw_stats, dict) else {}
    names = attributes.get("names")
    return VirusTotalReport(
        sha256=sha256,
        known=True,
        stats=tuple((v, _int(stats.get(v))) for v in VERDICTS if v in stats),
        names=tuple(str(n) for n in names[:MAX_NAMES]) if isinstance(names, list) else (),
        first_seen=_epoch(attributes.get("first_submission_date")),
        last_analysis=_epoch(attributes.get("last_analysis_date")),
        partial=partial,
        url=links.virustotal_url(sha256),
    )


def _user_error(exc: vt.APIError) -> UserFacingError:
    logger.warning("VirusTotal refused the lookup: %s", exc.code)
    if exc.code in ("QuotaExceededError", "TooManyRequestsError"):
        return UserFacingError(
            ":hourglass: The VirusTotal API quota is used up; try again later "
            "(the public API allows 4 lookups a minute and 500 a day)."
        )
    if exc.code in ("WrongCredentialsError", "AuthenticationRequiredError", "ForbiddenError"):
        return UserFacingError(":no_entry: VirusTotal refused the bot's key; check VT_API_KEY.")
    return UserFacingError(f":warning: VirusTotal failed the lookup ({escape(exc.code[:60])}).")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None
