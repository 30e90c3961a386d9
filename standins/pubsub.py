"""A Pub/Sub server on 127.0.0.1 that the official client library talks to unchanged.

Point the client at it with ``PUBSUB_EMULATOR_HOST=<stand-in host>``. It serves
``google.pubsub.v1.Publisher`` and ``google.pubsub.v1.Subscriber``: topics, subscriptions,
publish with fan-out, unary Pull and bidirectional StreamingPull with per-stream flow
control, ack deadlines and redelivery, nack (a modack to 0), dead-letter topics and a rough
retry-policy backoff. Ordering keys are carried but not enforced; exactly-once delivery,
snapshots, seek, schemas and push subscriptions are not served.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types

from standins.grpc_server import GrpcStandIn, stream_stream, unary

logger = logging.getLogger(__name__)

_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")
_NAME_PATTERN = re.compile(r"projects/([^/]+)/(topics|subscriptions)/([^/]+)")
_PROJECT_PATTERN = re.compile(r"projects/([^/]+)")
_ACK_ID_PATTERN = re.compile(r"[^:]+:[0-9a-f]{32}")
# What the service puts in a subscription's topic once that topic is deleted.
_DELETED_TOPIC = "_deleted-topic_"
_DEFAULT_ACK_DEADLINE = 10
_MIN_ACK_DEADLINE = 10
_MAX_ACK_DEADLINE = 600
_DEFAULT_MAX_DELIVERY_ATTEMPTS = 5
_DEFAULT_MIN_BACKOFF = 10.0
_DEFAULT_MAX_BACKOFF = 600.0
_DEFAULT_RETENTION = timedelta(days=7)
_MAX_MESSAGES_PER_RESPONSE = 100
# A Pull that finds nothing waits this long for a message, as the service does, then
# answers empty.
_PULL_WAIT_SECONDS = 10.0
_IDLE_WAKE_SECONDS = 0.5


class PubSubError(Exception):
    """A request the real service refuses, with the status code it answers."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(eq=False)
class _Held:
    """A message waiting in one subscription until it is acked or dead-lettered."""

    message: types.PubsubMessage
    size: int
    deliveries: int = 0
    ack_id: str | None = None


@dataclass(eq=False)
class _Stream:
    subscription: _Subscription
    ack_deadline: int
    max_messages: int
    max_bytes: int
    outbox: deque[str] = field(default_factory=deque)
    messages: int = 0  # leased on this stream or waiting in its outbox
    bytes: int = 0
    open: bool = True
    end: PubSubError | None = None

    def has_room(self, size: int) -> bool:
        # Like the service, a stream always gets one message even if it exceeds max_bytes.
        if self.messages == 0:
            return True
        if self.max_messages and self.messages >= self.max_messages:
            return False
        return not (self.max_bytes and self.bytes + size > self.max_bytes)


@dataclass(eq=False)
class _Lease:
    ack_id: str
    subscription: _Subscription
    message_id: str
    deadline: float
    stream: _Stream | None


@dataclass(eq=False)
class _Subscription:
    config: types.Subscription
    held: dict[str, _Held] = field(default_factory=dict)
    ready: deque[str] = field(default_factory=deque)
    streams: list[_Stream] = field(default_factory=list)
    turn: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    acked: list[str] = field(default_factory=list)
    deliveries: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.config.name)


class PubSubStandIn:
    """Serve the Pub/Sub Publisher and Subscriber APIs on a free port of 127.0.0.1.

    Args:
        max_streams: StreamingPull calls served at once; each holds a server thread, and
            a call beyond the limit is refused with RESOURCE_EXHAUSTED (the client retries).
        time_scale: multiplies every ack deadline and retry backoff. A test convenience:
            0.1 turns the 10 s minimum deadline into 1 s so redelivery tests run fast.
    """

    def __init__(self, *, max_streams: int = 8, time_scale: float = 1.0) -> None:
        self._max_streams = max_streams
        self._time_scale = time_scale
        self._cond = threading.Condition(threading.RLock())
        self._topics: dict[str, types.Topic] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._leases: dict[str, _Lease] = {}
        self._deadlines: list[tuple[float, str]] = []  # heap of (deadline, ack_id)
        self._delayed: list[tuple[float, int, _Subscription, str]] = []  # heap, backoff
        self._dead_lettered: dict[str, list[bytes]] = {}
        self._message_ids = itertools.count(1)
        self._sequence = itertools.count()
        self._stopped = False
        self._clock = threading.Thread(target=self._run_clock, name="pubsub-clock", daemon=True)
        self._server = GrpcStandIn(self._services(), max_workers=max_streams + 4)
        self.host = self._server.address

    # Lifecycle and test inspection.

    def start(self) -> PubSubStandIn:
        """Start serving and the clock that expires ack deadlines."""
        self._clock.start()
        self._server.start()
        logger.info("Pub/Sub stand-in listening on %s", self.host)
        return self

    def stop(self) -> None:
        """End open streams with UNAVAILABLE and stop serving."""
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
            for subscription in self._subscriptions.values():
                for stream in list(subscription.streams):
                    self._close_stream(
                        stream, PubSubError(grpc.StatusCode.UNAVAILABLE, "server shutting down")
                    )
            self._cond.notify_all()
        self._server.stop()
        if self._clock.is_alive():
            self._clock.join(timeout=2)

    def __enter__(self) -> PubSubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def create_topic(self, name: str) -> None:
        """Create a topic; name is ``projects/P/topics/T``."""
        self._create_topic(types.Topic(name=name))

    def create_subscription(
        self,
        name: str,
        topic: str,
        *,
        ack_deadline_seconds: int = _DEFAULT_ACK_DEADLINE,
        dead_letter_topic: str | None = None,
        max_delivery_attempts: int = _DEFAULT_MAX_DELIVERY_ATTEMPTS,
    ) -> None:
        """Create a pull subscription; name is ``projects/P/subscriptions/S``."""
        config = types.Subscription(
            name=name, topic=topic, ack_deadline_seconds=ack_deadline_seconds
        )
        if dead_letter_topic is not None:
            config.dead_letter_policy = types.DeadLetterPolicy(
                dead_letter_topic=dead_letter_topic, max_delivery_attempts=max_delivery_attempts
            )
        self._create_subscription(config)

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        """Publish one message and return its message id."""
        message = types.PubsubMessage(data=data, attributes=attributes or {})
        return self._publish(topic, [message])[0]

    def acked(self, subscription: str) -> list[str]:
        """Return the ids of the messages acked on a subscription, in ack order."""
        with self._cond:
            return list(self._subscription(subscription).acked)

    def outstanding(self, subscription: str) -> int:
        """Return how many messages are published but not yet acked, in flight included."""
        with self._cond:
            return len(self._subscription(subscription).held)

    def delivery_counts(self, subscription: str) -> dict[str, int]:
        """Return how many times each message id was delivered on a subscription."""
        with self._cond:
            return dict(self._subscription(subscription).deliveries)

    def peak_in_flight(self, subscription: str) -> int:
        """Return the most messages that were ever delivered and unacked at once."""
        with self._cond:
            return self._subscription(subscription).peak_in_flight

    def open_streams(self, subscription: str) -> int:
        """Return the number of StreamingPull calls open on a subscription."""
        with self._cond:
            return len(self._subscription(subscription).streams)

    def dead_lettered(self, topic: str) -> list[bytes]:
        """Return the data of the messages forwarded to a dead-letter topic, in order."""
        with self._cond:
            return list(self._dead_lettered.get(topic, []))

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait until predicate() is true; raise TimeoutError after timeout seconds."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                # Poll as well: the predicate may look at state outside the stand-in.
                self._cond.wait(min(remaining, 0.05))

    # Resources.

    def _create_topic(self, topic: types.Topic) -> types.Topic:
        _check_name(topic.name, "topics")
        with self._cond:
            if topic.name in self._topics:
                raise PubSubError(grpc.StatusCode.ALREADY_EXISTS, "Topic already exists")
            self._topics[topic.name] = topic
            logger.debug("Created topic %s", topic.name)
            return topic

    def _topic(self, name: str) -> types.Topic:
        _check_name(name, "topics")
        topic = self._topics.get(name)
        if topic is None:
            raise PubSubError(grpc.StatusCode.NOT_FOUND, f"Topic not found: {name}")
        return topic

    def _delete_topic(self, name: str) -> None:
        with self._cond:
            self._topic(name)
            del self._topics[name]
            for subscription in self._subscriptions.values():
                if subscription.config.topic == name:
                    subscription.config.topic = _DELETED_TOPIC

    def _create_subscription(self, config: types.Subscription) -> types.Subscription:
        _check_name(config.name, "subscriptions")
        deadline = config.ack_deadline_seconds or _DEFAULT_ACK_DEADLINE
        if not _MIN_ACK_DEADLINE <= deadline <= _MAX_ACK_DEADLINE:
            raise PubSubError(
                grpc.StatusCode.INVALID_ARGUMENT, "ack_deadline_seconds must be in [10, 600]"
            )
        config.ack_deadline_seconds = deadline
        if "message_retention_duration" not in config:
            config.message_retention_duration = _DEFAULT_RETENTION
        with self._cond:
            self._topic(config.topic)
            if "dead_letter_policy" in config:
                policy = config.dead_letter_policy
                self._topic(policy.dead_letter_topic)
                attempts = policy.max_delivery_attempts or _DEFAULT_MAX_DELIVERY_ATTEMPTS
                if not 5 <= attempts <= 100:
                    raise PubSubError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "max_delivery_attempts must be in [5, 100]",
                    )
                policy.max_delivery_attempts = attempts
            if config.name in self._subscriptions:
                raise PubSubError(grpc.StatusCode.ALREADY_EXISTS, "Subscription already exists")
            types.Subscription.pb(config).state = types.Subscription.State.ACTIVE
            self._subscriptions[config.name] = _Subscription(config)
            logger.debug("Created subscription %s on %s", config.name, config.topic)
            return config

    def _subscription(self, name: str) -> _Subscription:
        _check_name(name, "subscriptions")
        subscription = self._subscriptions.get(name)
        if subscription is None:
            raise PubSubError(grpc.StatusCode.NOT_FOUND, f"Subscription does not exist: {name}")
        return subscription

    def _delete_subscription(self, name: str) -> None:
        with self._cond:
            subscription = self._subscription(name)
            del self._subscriptions[name]
            for stream in list(subscription.streams):
                self._close_stream(
                    stream, PubSubError(grpc.StatusCode.NOT_FOUND, "Subscription deleted")
                )
            for ack_id in [
                a for a, lease in self._leases.items() if lease.subscription is subscription
            ]:
                del self._leases[ack_id]
            self._cond.notify_all()

    # Messages.

    def _publish(self, topic_name: str, messages: list[types.PubsubMessage]) -> list[str]:
        if not messages:
            raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "The request contains no messages")
        for message in messages:
            if not message.data and not message.attributes:
                raise PubSubError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "A message must contain non-empty data or at least one attribute",
                )
        with self._cond:
            self._topic(topic_name)
            ids = []
            for message in messages:
                message.message_id = str(next(self._message_ids))
                message.publish_time = datetime.now(UTC)
                self._fan_out(topic_name, message)
                ids.append(message.message_id)
            logger.debug("Published %d message(s) to %s", len(ids), topic_name)
            self._cond.notify_all()
            return ids

    def _fan_out(self, topic_name: str, message: types.PubsubMessage) -> None:
        size = types.PubsubMessage.pb(message).ByteSize()
        for subscription in self._subscriptions.values():
            if subscription.config.topic == topic_name:
                subscription.held[message.message_id] = _Held(message, size)
                subscription.ready.append(message.message_id)
                self._dispatch(subscription)

    def _dispatch(self, subscription: _Subscription) -> None:
        """Assign ready messages to open streams in turn, as far as their flow control allows."""
        streams = subscription.streams
        while subscription.ready and streams:
            message_id = subscription.ready[0]
            held = subscription.held[message_id]
            for _ in range(len(streams)):
                stream = streams[subscription.turn % len(streams)]
                subscription.turn += 1
                if stream.has_room(held.size):
                    subscription.ready.popleft()
                    stream.outbox.append(message_id)
                    stream.messages += 1
                    stream.bytes += held.size
                    break
            else:
                return

    def _deliver(
        self, subscription: _Subscription, message_id: str, stream: _Stream | None
    ) -> types.ReceivedMessage:
        held = subscription.held[message_id]
        held.deliveries += 1
        subscription.deliveries[message_id] = subscription.deliveries.get(message_id, 0) + 1
        ack_id = f"{subscription.config.name.rsplit('/', 1)[-1]}:{uuid.uuid4().hex}"
        seconds = stream.ack_deadline if stream else subscription.config.ack_deadline_seconds
        deadline = time.monotonic() + seconds * self._time_scale
        self._leases[ack_id] = _Lease(ack_id, subscription, message_id, deadline, stream)
        heapq.heappush(self._deadlines, (deadline, ack_id))
        held.ack_id = ack_id
        subscription.in_flight += 1
        subscription.peak_in_flight = max(subscription.peak_in_flight, subscription.in_flight)
        received = types.ReceivedMessage(ack_id=ack_id, message=held.message)
        if "dead_letter_policy" in subscription.config:
            received.delivery_attempt = held.deliveries
        return received

    def _end_lease(self, ack_id: str, subscription: _Subscription) -> _Lease | None:
        """Forget a lease; return it, or None when the ack id is stale or not this one's."""
        lease = self._leases.get(ack_id)
        if lease is None or lease.subscription is not subscription:
            return None
        del self._leases[ack_id]
        subscription.in_flight -= 1
        held = subscription.held.get(lease.message_id)
        if held is not None:
            held.ack_id = None
        if lease.stream is not None:
            lease.stream.messages -= 1
            lease.stream.bytes -= held.size if held else 0
        return lease

    def _acknowledge(self, subscription_name: str, ack_ids: list[str]) -> None:
        _check_ack_ids(ack_ids)
        with self._cond:
            subscription = self._subscription(subscription_name)
            for ack_id in ack_ids:
                # A stale ack id is ignored, as the service does without exactly-once delivery.
                lease = self._end_lease(ack_id, subscription)
                if lease is not None:
                    subscription.held.pop(lease.message_id, None)
                    subscription.acked.append(lease.message_id)
            self._dispatch(subscription)
            self._cond.notify_all()

    def _modify_ack_deadline(
        self, subscription_name: str, ack_ids: list[str], seconds: int
    ) -> None:
        if not 0 <= seconds <= _MAX_ACK_DEADLINE:
            raise PubSubError(
                grpc.StatusCode.INVALID_ARGUMENT, "ack_deadline_seconds must be in [0, 600]"
            )
        _check_ack_ids(ack_ids)
        with self._cond:
            subscription = self._subscription(subscription_name)
            for ack_id in ack_ids:
                if seconds == 0:
                    lease = self._end_lease(ack_id, subscription)
                    if lease is not None:
                        self._redeliver_later(subscription, lease.message_id)
                    continue
                current = self._leases.get(ack_id)
                if current is not None and current.subscription is subscription:
                    current.deadline = time.monotonic() + seconds * self._time_scale
                    heapq.heappush(self._deadlines, (current.deadline, ack_id))
            self._dispatch(subscription)
            self._cond.notify_all()

    def _redeliver_later(self, subscription: _Subscription, message_id: str) -> None:
        """Requeue a nacked or expired message, or dead-letter it after its last attempt."""
        held = subscription.held[message_id]
        config = subscription.config
        if "dead_letter_policy" in config:
            policy = config.dead_letter_policy
            if held.deliveries >= policy.max_delivery_attempts:
                del subscription.held[message_id]
                self._forward_dead_letter(subscription, held)
                return
        if "retry_policy" in config:
            low = config.retry_policy.minimum_backoff.total_seconds() or _DEFAULT_MIN_BACKOFF
            high = config.retry_policy.maximum_backoff.total_seconds() or _DEFAULT_MAX_BACKOFF
            backoff = min(high, low * 2 ** (held.deliveries - 1)) * self._time_scale
            entry = (time.monotonic() + backoff, next(self._sequence), subscription, message_id)
            heapq.heappush(self._delayed, entry)
            return
        subscription.ready.append(message_id)

    def _forward_dead_letter(self, subscription: _Subscription, held: _Held) -> None:
        topic_name = subscription.config.dead_letter_policy.dead_letter_topic
        logger.info(
            "Dead-lettering message %s from %s to %s after %d deliveries",
            held.message.message_id,
            subscription.name,
            topic_name,
            held.deliveries,
        )
        if topic_name not in self._topics:
            return
        project = subscription.name.split("/")[1]
        attributes = dict(held.message.attributes)
        attributes.update(
            CloudPubSubDeadLetterSourceDeliveryCount=str(held.deliveries),
            CloudPubSubDeadLetterSourceSubscription=subscription.name.rsplit("/", 1)[-1],
            CloudPubSubDeadLetterSourceSubscriptionProject=project,
            CloudPubSubDeadLetterSourceTopicPublishTime=held.message.publish_time.strftime(
                "%Y-%m-%dT%H:%M:%S.%f"
            )[:-3]
            + "Z",
        )
        forwarded = types.PubsubMessage(
            data=held.message.data,
            attributes=attributes,
            ordering_key=held.message.ordering_key,
            message_id=str(next(self._message_ids)),
            publish_time=datetime.now(UTC),
        )
        self._dead_lettered.setdefault(topic_name, []).append(held.message.data)
        self._fan_out(topic_name, forwarded)

    def _run_clock(self) -> None:
        """Expire leases whose ack deadline passed and release messages whose backoff ended."""
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                touched: set[_Subscription] = set()
                while self._deadlines and self._deadlines[0][0] <= now:
                    _, ack_id = heapq.heappop(self._deadlines)
                    lease = self._leases.get(ack_id)
                    if lease is None or lease.deadline > now:
                        continue  # acked, nacked or extended since
                    self._end_lease(ack_id, lease.subscription)
                    if lease.subscription.name in self._subscriptions:
                        logger.debug("Ack deadline passed for message %s", lease.message_id)
                        self._redeliver_later(lease.subscription, lease.message_id)
                        touched.add(lease.subscription)
                while self._delayed and self._delayed[0][0] <= now:
                    _, _, subscription, message_id = heapq.heappop(self._delayed)
                    if message_id in subscription.held:
                        subscription.ready.append(message_id)
                        touched.add(subscription)
                for subscription in touched:
                    self._dispatch(subscription)
                if touched:
                    self._cond.notify_all()
                wake = now + _IDLE_WAKE_SECONDS
                if self._deadlines:
                    wake = min(wake, self._deadlines[0][0])
                if self._delayed:
                    wake = min(wake, self._delayed[0][0])
                self._cond.wait(max(wake - now, 0.001))

    # Pull and StreamingPull.

    def _pull(self, subscription_name: str, max_messages: int, wait: float) -> list[Any]:
        if max_messages <= 0:
            raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "max_messages must be positive")
        end = time.monotonic() + wait
        with self._cond:
            subscription = self._subscription(subscription_name)
            while not subscription.ready and not self._stopped:
                remaining = end - time.monotonic()
                if remaining <= 0 or subscription.name not in self._subscriptions:
                    break
                self._cond.wait(min(remaining, _IDLE_WAKE_SECONDS))
            batch: list[types.ReceivedMessage] = []
            while subscription.ready and len(batch) < max_messages:
                batch.append(self._deliver(subscription, subscription.ready.popleft(), None))
            return batch

    def _open_stream(self, first: types.StreamingPullRequest) -> _Stream:
        seconds = first.stream_ack_deadline_seconds
        if not _MIN_ACK_DEADLINE <= seconds <= _MAX_ACK_DEADLINE:
            raise PubSubError(
                grpc.StatusCode.INVALID_ARGUMENT, "stream_ack_deadline_seconds must be in [10, 600]"
            )
        with self._cond:
            if self._stopped:
                raise PubSubError(grpc.StatusCode.UNAVAILABLE, "server shutting down")
            subscription = self._subscription(first.subscription)
            open_streams = sum(len(s.streams) for s in self._subscriptions.values())
            if open_streams >= self._max_streams:
                raise PubSubError(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many open streams")
            stream = _Stream(
                subscription,
                ack_deadline=seconds,
                max_messages=first.max_outstanding_messages,
                max_bytes=first.max_outstanding_bytes,
            )
            subscription.streams.append(stream)
            logger.debug("Opened stream on %s (%d open)", subscription.name, open_streams + 1)
            self._apply_stream_request(stream, first)
            self._dispatch(subscription)
            self._cond.notify_all()
            return stream

    def _apply_stream_request(self, stream: _Stream, request: types.StreamingPullRequest) -> None:
        name = stream.subscription.name
        if request.ack_ids:
            self._acknowledge(name, list(request.ack_ids))
        if len(request.modify_deadline_ack_ids) != len(request.modify_deadline_seconds):
            raise PubSubError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "modify_deadline_ack_ids and modify_deadline_seconds differ in length",
            )
        for ack_id, seconds in zip(
            request.modify_deadline_ack_ids, request.modify_deadline_seconds, strict=True
        ):
            self._modify_ack_deadline(name, [ack_id], seconds)
        if request.stream_ack_deadline_seconds:
            stream.ack_deadline = request.stream_ack_deadline_seconds

    def _read_requests(self, stream: _Stream, requests: Iterator[Any]) -> None:
        """Apply the requests a client sends after the first until it closes the stream."""
        end: PubSubError | None = None
        try:
            for request in requests:
                self._apply_stream_request(stream, request)
        except PubSubError as error:
            end = error
        except grpc.RpcError:
            logger.debug("Stream on %s ended by the client", stream.subscription.name)
        with self._cond:
            self._close_stream(stream, end)

    def _close_stream(self, stream: _Stream, end: PubSubError | None = None) -> None:
        """Detach a stream; messages assigned to it but never sent go back to the queue."""
        with self._cond:
            if not stream.open:
                return
            stream.open = False
            stream.end = end
            subscription = stream.subscription
            if stream in subscription.streams:
                subscription.streams.remove(stream)
            while stream.outbox:
                message_id = stream.outbox.pop()
                held = subscription.held.get(message_id)
                if held is not None:
                    stream.messages -= 1
                    stream.bytes -= held.size
                    subscription.ready.appendleft(message_id)
            self._dispatch(subscription)
            self._cond.notify_all()

    def _next_batch(self, stream: _Stream) -> list[Any] | None:
        """Wait for messages assigned to a stream and lease them; None once it is closed."""
        with self._cond:
            while stream.open and not stream.outbox:
                self._cond.wait(_IDLE_WAKE_SECONDS)
            if not stream.open:
                return None
            batch: list[types.ReceivedMessage] = []
            while stream.outbox and len(batch) < _MAX_MESSAGES_PER_RESPONSE:
                # The lease keeps the flow-control slot the outbox entry took.
                message_id = stream.outbox.popleft()
                batch.append(self._deliver(stream.subscription, message_id, stream))
            return batch

    # gRPC surface.

    def _services(self) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
        empty = empty_pb2.Empty
        return {
            "google.pubsub.v1.Publisher": {
                "CreateTopic": unary(_guard(self._rpc_create_topic), types.Topic, types.Topic),
                "GetTopic": unary(_guard(self._rpc_get_topic), types.GetTopicRequest, types.Topic),
                "Publish": unary(
                    _guard(self._rpc_publish), types.PublishRequest, types.PublishResponse
                ),
                "ListTopics": unary(
                    _guard(self._rpc_list_topics), types.ListTopicsRequest, types.ListTopicsResponse
                ),
                "ListTopicSubscriptions": unary(
                    _guard(self._rpc_list_topic_subscriptions),
                    types.ListTopicSubscriptionsRequest,
                    types.ListTopicSubscriptionsResponse,
                ),
                "DeleteTopic": unary(
                    _guard(self._rpc_delete_topic), types.DeleteTopicRequest, empty
                ),
            },
            "google.pubsub.v1.Subscriber": {
                "CreateSubscription": unary(
                    _guard(self._rpc_create_subscription), types.Subscription, types.Subscription
                ),
                "GetSubscription": unary(
                    _guard(self._rpc_get_subscription),
                    types.GetSubscriptionRequest,
                    types.Subscription,
                ),
                "ListSubscriptions": unary(
                    _guard(self._rpc_list_subscriptions),
                    types.ListSubscriptionsRequest,
                    types.ListSubscriptionsResponse,
                ),
                "DeleteSubscription": unary(
                    _guard(self._rpc_delete_subscription), types.DeleteSubscriptionRequest, empty
                ),
                "Pull": unary(_guard(self._rpc_pull), types.PullRequest, types.PullResponse),
                "Acknowledge": unary(
                    _guard(self._rpc_acknowledge), types.AcknowledgeRequest, empty
                ),
                "ModifyAckDeadline": unary(
                    _guard(self._rpc_modify_ack_deadline), types.ModifyAckDeadlineRequest, empty
                ),
                "StreamingPull": stream_stream(
                    self._rpc_streaming_pull,
                    types.StreamingPullRequest,
                    types.StreamingPullResponse,
                ),
            },
        }

    def _rpc_create_topic(self, request: types.Topic, context: grpc.ServicerContext) -> Any:
        return self._create_topic(request)

    def _rpc_get_topic(self, request: types.GetTopicRequest, context: grpc.ServicerContext) -> Any:
        with self._cond:
            return self._topic(request.topic)

    def _rpc_publish(self, request: types.PublishRequest, context: grpc.ServicerContext) -> Any:
        return types.PublishResponse(
            message_ids=self._publish(request.topic, list(request.messages))
        )

    def _rpc_list_topics(
        self, request: types.ListTopicsRequest, context: grpc.ServicerContext
    ) -> Any:
        prefix = f"{_check_project(request.project)}/topics/"
        with self._cond:
            names = sorted(n for n in self._topics if n.startswith(prefix))
            page, token = _page(names, request.page_size, request.page_token)
            return types.ListTopicsResponse(
                topics=[self._topics[n] for n in page], next_page_token=token
            )

    def _rpc_list_topic_subscriptions(
        self, request: types.ListTopicSubscriptionsRequest, context: grpc.ServicerContext
    ) -> Any:
        with self._cond:
            self._topic(request.topic)
            names = sorted(
                n for n, s in self._subscriptions.items() if s.config.topic == request.topic
            )
            page, token = _page(names, request.page_size, request.page_token)
            return types.ListTopicSubscriptionsResponse(subscriptions=page, next_page_token=token)

    def _rpc_delete_topic(
        self, request: types.DeleteTopicRequest, context: grpc.ServicerContext
    ) -> Any:
        self._delete_topic(request.topic)
        return empty_pb2.Empty()

    def _rpc_create_subscription(
        self, request: types.Subscription, context: grpc.ServicerContext
    ) -> Any:
        return self._create_subscription(request)

    def _rpc_get_subscription(
        self, request: types.GetSubscriptionRequest, context: grpc.ServicerContext
    ) -> Any:
        with self._cond:
            return self._subscription(request.subscription).config

    def _rpc_list_subscriptions(
        self, request: types.ListSubscriptionsRequest, context: grpc.ServicerContext
    ) -> Any:
        prefix = f"{_check_project(request.project)}/subscriptions/"
        with self._cond:
            names = sorted(n for n in self._subscriptions if n.startswith(prefix))
            page, token = _page(names, request.page_size, request.page_token)
            return types.ListSubscriptionsResponse(
                subscriptions=[self._subscriptions[n].config for n in page], next_page_token=token
            )

    def _rpc_delete_subscription(
        self, request: types.DeleteSubscriptionRequest, context: grpc.ServicerContext
    ) -> Any:
        self._delete_subscription(request.subscription)
        return empty_pb2.Empty()

    def _rpc_pull(self, request: types.PullRequest, context: grpc.ServicerContext) -> Any:
        wait = 0.0
        if not request.return_immediately:
            remaining = context.time_remaining()
            wait = (
                _PULL_WAIT_SECONDS
                if remaining is None
                else min(_PULL_WAIT_SECONDS, remaining - 0.5)
            )
        batch = self._pull(request.subscription, request.max_messages, wait)
        return types.PullResponse(received_messages=batch)

    def _rpc_acknowledge(
        self, request: types.AcknowledgeRequest, context: grpc.ServicerContext
    ) -> Any:
        if not request.ack_ids:
            raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "ack_ids must not be empty")
        self._acknowledge(request.subscription, list(request.ack_ids))
        return empty_pb2.Empty()

    def _rpc_modify_ack_deadline(
        self, request: types.ModifyAckDeadlineRequest, context: grpc.ServicerContext
    ) -> Any:
        if not request.ack_ids:
            raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "ack_ids must not be empty")
        self._modify_ack_deadline(
            request.subscription, list(request.ack_ids), request.ack_deadline_seconds
        )
        return empty_pb2.Empty()

    def _rpc_streaming_pull(
        self, requests: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        first = next(requests, None)
        if first is None:
            return
        try:
            stream = self._open_stream(first)
        except PubSubError as error:
            context.abort(error.code, str(error))
        context.add_callback(lambda: self._close_stream(stream))
        reader = threading.Thread(
            target=self._read_requests, args=(stream, requests), name="pubsub-stream", daemon=True
        )
        reader.start()
        properties = types.StreamingPullResponse.SubscriptionProperties(
            message_ordering_enabled=stream.subscription.config.enable_message_ordering
        )
        while (batch := self._next_batch(stream)) is not None:
            yield types.StreamingPullResponse(
                received_messages=batch, subscription_properties=properties
            )
        if stream.end is not None:
            context.abort(stream.end.code, str(stream.end))


def _guard(handler: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
    """Answer a PubSubError with its status code instead of UNKNOWN."""

    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return handler(request, context)
        except PubSubError as error:
            context.abort(error.code, str(error))

    return guarded


def _check_name(name: str, collection: str) -> None:
    """Refuse a resource name the service refuses: ``projects/P/<collection>/<id>``."""
    match = _NAME_PATTERN.fullmatch(name)
    if match is None or match.group(2) != collection:
        raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name: {name!r}")
    resource_id = match.group(3)
    if not _ID_PATTERN.fullmatch(resource_id) or resource_id.lower().startswith("goog"):
        raise PubSubError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid id {resource_id!r}: 3-255 characters, starting with a letter, "
            "of letters, digits and -_.~+%",
        )


def _check_ack_ids(ack_ids: list[str]) -> None:
    """Refuse ack ids this server never issued; a stale one it issued passes."""
    for ack_id in ack_ids:
        if not _ACK_ID_PATTERN.fullmatch(ack_id):
            raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid ack id (ack_id={ack_id})")


def _check_project(project: str) -> str:
    if not _PROJECT_PATTERN.fullmatch(project):
        raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid project: {project!r}")
    return project


def _page(names: list[str], page_size: int, page_token: str) -> tuple[list[str], str]:
    """Slice a sorted listing; the page token is the offset of the next page."""
    if page_token and not page_token.isdigit():
        raise PubSubError(grpc.StatusCode.INVALID_ARGUMENT, "Invalid page token")
    start = int(page_token or 0)
    end = start + page_size if page_size > 0 else len(names)
    return names[start:end], str(end) if end < len(names) else ""
