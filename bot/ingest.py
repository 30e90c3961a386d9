"""Streaming pull from the findings subscription into the pipeline.

Each message is acknowledged when the pipeline's outcome is final and nacked otherwise.
After a failure the worker waits before nacking, doubling the wait up to a ceiling, so a
Slack outage slows intake (flow control keeps at most ``max_messages`` in hand) instead of
spinning through redeliveries; the wait resets on the first success.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from google.cloud.pubsub_v1.subscriber.futures import StreamingPullFuture
from google.cloud.pubsub_v1.subscriber.message import Message

from bot.pipeline import Delivery, FindingPipeline, Outcome

logger = logging.getLogger(__name__)


class Backoff:
    """A shared, thread-safe wait that grows on failures and resets on success."""

    def __init__(self, initial: float = 1.0, ceiling: float = 30.0) -> None:
        self.initial = initial
        self.ceiling = ceiling
        self._current = 0.0
        self._lock = threading.Lock()

    def failed(self) -> float:
        """Record a failure and return how long to wait."""
        with self._lock:
            self._current = min(self.ceiling, self._current * 2 or self.initial)
            return self._current

    def succeeded(self) -> None:
        with self._lock:
            self._current = 0.0


class StreamingWorker:
    """Pull findings with flow control and hand each to the pipeline."""

    def __init__(
        self,
        subscriber: pubsub_v1.SubscriberClient,
        subscription: str,
        pipeline: FindingPipeline,
        *,
        max_messages: int = 20,
        backoff: Backoff | None = None,
        busy_retries: int = 3,
    ) -> None:
        self.subscriber = subscriber
        self.subscription = subscription
        self.pipeline = pipeline
        self.max_messages = max_messages
        self.backoff = backoff or Backoff()
        self.busy_retries = busy_retries
        self._future: StreamingPullFuture | None = None

    def start(self) -> StreamingWorker:
        """Open the streaming pull; messages are handled on the client's thread pool."""
        flow = pubsub_v1.types.FlowControl(max_messages=self.max_messages)
        self._future = self.subscriber.subscribe(
            self.subscription, self._on_message, flow_control=flow
        )
        self._future.add_done_callback(self._on_stream_end)
        logger.info(
            "pulling findings from %s (up to %d at once)", self.subscription, self.max_messages
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pulling and wait for the messages in hand to finish."""
        if self._future is not None:
            self._future.cancel()
            # A cancelled stream ends by raising CancelledError; that is the expected end.
            with contextlib.suppress(Exception):
                self._future.result(timeout=timeout)
            self._future = None

    @property
    def running(self) -> bool:
        return self._future is not None and not self._future.done()

    def _on_message(self, message: Message) -> None:
        delivery = Delivery(
            data=message.data,
            message_id=message.message_id,
            publish_time=_utc(message.publish_time),
            delivery_attempt=message.delivery_attempt,
        )
        outcome = self.pipeline.handle(delivery)
        # Another worker is on this finding: wait for it rather than bouncing the message.
        for attempt in range(self.busy_retries):
            if outcome is not Outcome.BUSY:
                break
            time.sleep(0.2 * (attempt + 1))
            outcome = self.pipeline.handle(delivery)
        if outcome.final:
            self.backoff.succeeded()
            message.ack()
            return
        wait = self.backoff.failed()
        logger.info(
            "will redeliver message %s after %.1f s (%s)", message.message_id, wait, outcome
        )
        time.sleep(wait)
        message.nack()

    def _on_stream_end(self, future: StreamingPullFuture) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, gexc.NotFound):
            logger.error("subscription %s does not exist; ingestion stopped", self.subscription)
        elif isinstance(error, gexc.PermissionDenied):
            logger.error(
                "no permission to pull from %s (needs roles/pubsub.subscriber); ingestion stopped",
                self.subscription,
            )
        elif error is not None:
            logger.error("streaming pull stopped: %s", error)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
