"""The Slack Web API client: retries for rate limits, server and connection errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

# A burst can keep a channel rate limited for a while; Retry-After says how long to wait.
RATE_LIMIT_RETRIES = 6
SERVER_ERROR_RETRIES = 2
CONNECTION_RETRIES = 2


def make_web_client(token: str, base_url: str, *, timeout: int = 15) -> WebClient:
    """Return a WebClient that honours Retry-After and retries transient failures.

    slack_sdk raises SlackApiError for every ``ok: false`` answer, so no failure passes
    silently.
    """
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
        RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
    ]
    return client


class ChannelPacer:
    """Space out posts to one channel at the rate Slack allows, with short bursts.

    Slack accepts about one chat.postMessage per second per channel. Waiting for a slot
    before posting, instead of posting and being answered 429, keeps a burst of findings
    flowing at that rate rather than in waves of refused and retried requests. A generic
    cell rate algorithm: each call reserves the next slot and sleeps until it comes.
    """

    def __init__(
        self,
        per_second: float = 1.0,
        burst: int = 3,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # A few milliseconds of slack per slot: requests leave here and reach Slack with
        # jitter, and a post that arrives a hair early is refused for a whole second.
        self.interval = 1.0 / per_second * 1.05
        self.tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Reserve the next slot for ``key`` (method and channel) and sleep until it comes."""
        with self._lock:
            now = self._clock()
            theoretical = max(self._next.get(key, now), now)
            delay = max(0.0, theoretical - now - self.tolerance)
            self._next[key] = theoretical + self.interval
            if len(self._next) > 10_000:
                self._next = {k: v for k, v in self._next.items() if v > now}
        if delay > 0:
            self._sleep(delay)
        return delay
