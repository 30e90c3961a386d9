"""How the bot is served: gunicorn's worker options and a WSGI app that starts warm.

Importing the Google Cloud client libraries takes seconds. The bot answers liveness
(``/healthz``) as soon as the worker runs and builds the real app in the background;
until it is built, ``/readyz`` answers 503, App Engine's warmup request and Slack's
requests wait for it (briefly, for Slack, which gives up after 3 s), and Pub/Sub push
deliveries get 503 so that Pub/Sub retries them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger(__name__)

# One worker process: the Pub/Sub stream, the metrics and Bolt's after-the-ack listeners
# live in it. Threads (gthread) serve Slack and push requests concurrently and leave Bolt's
# listener pool room to run; scale out with instances, not processes.
SERVER_OPTIONS: dict[str, Any] = {
    "workers": 1,
    "worker_class": "gthread",
    "threads": 8,
    # A push request may wait on Slack's rate limits for tens of seconds.
    "timeout": 60,
    "graceful_timeout": 20,
    "keepalive": 75,
    "accesslog": None,
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# How long a request other than liveness waits for the app to finish starting.
_WAIT_SECONDS = {"/_ah/warmup": 120.0, "/slack/events": 2.0}


class WarmingApp:
    """Serve liveness at once and everything else once ``build`` has returned."""

    def __init__(self, build: Callable[[], WsgiApp]) -> None:
        self._build = build
        self._app: WsgiApp | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self.started = time.monotonic()
        threading.Thread(target=self._run_build, name="bot-startup", daemon=True).start()

    def _run_build(self) -> None:
        try:
            self._app = self._build()
            logger.info("ready %.2f s after the worker started", time.monotonic() - self.started)
        except BaseException as exc:  # reported on every request, and logged once here
            self._error = exc
            logger.exception("the bot could not start")
        finally:
            self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the app is built (or failed); return whether it is built."""
        self._ready.wait(timeout)
        return self._app is not None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if self._app is None and path == "/healthz" and self._error is None:
            return _json(start_response, "200 OK", {"status": "starting"})
        if self._app is None:
            self._ready.wait(_WAIT_SECONDS.get(path, 0.0))
        if self._app is not None:
            return self._app(environ, start_response)
        if self._error is not None:
            return _json(start_response, "500 Internal Server Error", {"status": "failed"})
        return _json(
            start_response, "503 Service Unavailable", {"status": "starting"}, retry_after=1
        )


def _json(
    start_response: Callable[..., Any], status: str, body: dict[str, Any], retry_after: int = 0
) -> list[bytes]:
    payload = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if retry_after:
        headers.append(("Retry-After", str(retry_after)))
    start_response(status, headers)
    return [payload]
