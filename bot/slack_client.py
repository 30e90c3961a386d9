"""The Slack Web API client: retries for rate limits, server and connection errors."""

from __future__ import annotations

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
