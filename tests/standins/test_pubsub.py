"""The Pub/Sub stand-in through the official client, and the same checks on Google's emulator."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber._protocol import leaser
from google.cloud.pubsub_v1.subscriber.message import Message
from google.cloud.pubsub_v1.types import FlowControl
from google.pubsub_v1.types import StreamingPullRequest, StreamingPullResponse

from standins.pubsub import PubSubError, PubSubStandIn
from tests.pubsub_fixtures import PubSubNames

MessageCallback = Callable[[Message], None]


class Inbox:
    """Record what a subscriber callback sees, safely across the client's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []
        self.acked: list[str] = []

    def record(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)

    def ack(self, message: Message) -> None:
        self.record(message)
        with self.lock:
            self.acked.append(message.message_id)
        message.ack()


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(0.02)


@contextlib.contextmanager
def streaming(
    subscriber: pubsub_v1.SubscriberClient,
    subscription: str,
    callback: MessageCallback,
    flow_control: FlowControl | None = None,
) -> Iterator[None]:
    """Run a streaming pull; cancel it before the server goes away."""
    future = subscriber.subscribe(subscription, callback, flow_control=flow_control or ())
    try:
        yield
    finally:
        future.cancel()
        future.result(timeout=5)


@pytest.fixture
def standin(request: pytest.FixtureRequest, pubsub_host: str) -> PubSubStandIn | None:
    """Return the stand-in behind pubsub_host, or None on Google's emulator."""
    if request.node.callspec.params["pubsub_host"] != "standin":
        return None
    standin: PubSubStandIn = request.getfixturevalue("pubsub_standin")
    return standin


@pytest.fixture
def findings(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    pubsub_names: PubSubNames,
) -> tuple[str, str]:
    """Create a topic with one subscription; return their names."""
    topic, subscription = pubsub_names.topic(), pubsub_names.subscription()
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    return topic, subscription


def test_streaming_pull_delivers_data_attributes_and_publish_time(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
    standin: PubSubStandIn | None,
) -> None:
    topic, subscription = findings
    before = datetime.now(UTC).replace(microsecond=0)
    message_id = publisher.publish(topic, b'{"finding": "f1"}', severity="HIGH").result()
    inbox = Inbox()

    with streaming(subscriber, subscription, inbox.ack):
        wait_until(lambda: inbox.acked)

    received = inbox.messages[0]
    assert received.message_id == message_id
    assert received.data == b'{"finding": "f1"}'
    assert dict(received.attributes) == {"severity": "HIGH"}
    assert before <= received.publish_time <= datetime.now(UTC)
    assert received.delivery_attempt is None
    if standin is not None:
        standin.wait_for(lambda: standin.acked(subscription) == [message_id])
        assert standin.outstanding(subscription) == 0


def test_nack_redelivers_the_message(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
    standin: PubSubStandIn | None,
) -> None:
    topic, subscription = findings
    message_id = publisher.publish(topic, b"retry me").result()
    inbox = Inbox()

    def nack_first(message: Message) -> None:
        if not inbox.messages:
            inbox.record(message)
            message.nack()
        else:
            inbox.ack(message)

    with streaming(subscriber, subscription, nack_first):
        wait_until(lambda: inbox.acked)

    assert [m.message_id for m in inbox.messages] == [message_id, message_id]
    assert inbox.messages[0].ack_id != inbox.messages[1].ack_id
    if standin is not None:
        assert standin.delivery_counts(subscription) == {message_id: 2}


@pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated")
def test_unary_pull_ack_removes_and_nack_returns(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
) -> None:
    topic, subscription = findings
    ids = [publisher.publish(topic, data).result() for data in (b"keep", b"drop")]
    received: dict[str, str] = {}
    while len(received) < 2:
        response = subscriber.pull(subscription=subscription, max_messages=2)
        received.update({m.message.message_id: m.ack_id for m in response.received_messages})

    subscriber.acknowledge(subscription=subscription, ack_ids=[received[ids[0]]])
    subscriber.modify_ack_deadline(
        subscription=subscription, ack_ids=[received[ids[1]]], ack_deadline_seconds=0
    )
    # Nacking an acked message's stale ack id does not bring it back.
    subscriber.modify_ack_deadline(
        subscription=subscription, ack_ids=[received[ids[0]]], ack_deadline_seconds=0
    )
    again = subscriber.pull(subscription=subscription, max_messages=10)

    assert [m.message.message_id for m in again.received_messages] == [ids[1]]
    assert again.received_messages[0].message.data == b"drop"
    subscriber.acknowledge(subscription=subscription, ack_ids=[again.received_messages[0].ack_id])
    empty = subscriber.pull(
        request={"subscription": subscription, "max_messages": 10, "return_immediately": True}
    )
    assert list(empty.received_messages) == []


def test_message_not_acked_before_its_deadline_is_redelivered(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
) -> None:
    topic, subscription = findings
    message_id = publisher.publish(topic, b"slow").result()
    first = subscriber.pull(subscription=subscription, max_messages=1).received_messages[0]
    subscriber.modify_ack_deadline(
        subscription=subscription, ack_ids=[first.ack_id], ack_deadline_seconds=1
    )
    shortened = time.monotonic()

    second = subscriber.pull(subscription=subscription, max_messages=1).received_messages[0]

    assert time.monotonic() - shortened >= 0.9
    assert second.message.message_id == message_id
    assert second.ack_id != first.ack_id


def test_flow_control_caps_messages_outstanding(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
    standin: PubSubStandIn | None,
) -> None:
    topic, subscription = findings
    ids = {publisher.publish(topic, b"n%d" % i).result() for i in range(8)}
    inbox = Inbox()
    active = 0
    peak = 0

    def work(message: Message) -> None:
        nonlocal active, peak
        with inbox.lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)  # the work the cap protects
        with inbox.lock:
            active -= 1
        inbox.ack(message)

    with streaming(subscriber, subscription, work, FlowControl(max_messages=2)):
        wait_until(lambda: len(inbox.acked) == 8)

    assert set(inbox.acked) == ids
    assert peak == 2
    if standin is not None:
        assert standin.peak_in_flight(subscription) == 2


def test_dead_letter_after_max_delivery_attempts(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    pubsub_names: PubSubNames,
    standin: PubSubStandIn | None,
) -> None:
    topic, dead_topic = pubsub_names.topic(), pubsub_names.topic("findings-dead")
    subscription = pubsub_names.subscription()
    dead_subscription = pubsub_names.subscription("findings-dead-audit")
    publisher.create_topic(name=topic)
    publisher.create_topic(name=dead_topic)
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": topic,
            "dead_letter_policy": {"dead_letter_topic": dead_topic, "max_delivery_attempts": 5},
        }
    )
    subscriber.create_subscription(name=dead_subscription, topic=dead_topic)
    publisher.publish(topic, b"poison", source="scc").result()
    attempts: list[int | None] = []
    dead = Inbox()

    def always_nack(message: Message) -> None:
        attempts.append(message.delivery_attempt)
        message.nack()

    with (
        streaming(subscriber, subscription, always_nack),
        streaming(subscriber, dead_subscription, dead.ack),
    ):
        wait_until(lambda: dead.acked)

    assert attempts == [1, 2, 3, 4, 5]
    forwarded = dead.messages[0]
    assert forwarded.data == b"poison"
    assert forwarded.attributes["source"] == "scc"
    assert forwarded.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    if standin is not None:
        assert standin.dead_lettered(dead_topic) == [b"poison"]
        assert standin.outstanding(subscription) == 0


def test_two_subscribers_share_messages_and_ack_each_once(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
    standin: PubSubStandIn | None,
) -> None:
    topic, subscription = findings
    other = pubsub_v1.SubscriberClient()
    first, second = Inbox(), Inbox()
    flow = FlowControl(max_messages=3)

    with (
        streaming(subscriber, subscription, first.ack, flow),
        streaming(other, subscription, second.ack, flow),
    ):
        if standin is not None:
            standin.wait_for(lambda: standin.open_streams(subscription) == 2)
        ids = [publisher.publish(topic, b"m%d" % i).result() for i in range(20)]
        wait_until(lambda: len(first.acked) + len(second.acked) >= 20)
    other.close()

    assert sorted(first.acked + second.acked) == sorted(ids)
    if standin is not None:
        assert first.acked, "round robin gives both streams messages"
        assert second.acked
        assert sorted(standin.acked(subscription)) == sorted(ids)


def test_resource_errors_match_the_service(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
    pubsub_names: PubSubNames,
) -> None:
    topic, subscription = findings

    with pytest.raises(exceptions.AlreadyExists):
        publisher.create_topic(name=topic)
    with pytest.raises(exceptions.AlreadyExists):
        subscriber.create_subscription(name=subscription, topic=topic)
    with pytest.raises(exceptions.NotFound):
        subscriber.get_subscription(subscription=pubsub_names.subscription("missing-sub"))
    with pytest.raises(exceptions.NotFound):
        subscriber.create_subscription(
            name=pubsub_names.subscription("orphan"), topic=pubsub_names.topic("missing-topic")
        )
    with pytest.raises(exceptions.NotFound):
        publisher.publish(pubsub_names.topic("missing-topic"), b"x").result(timeout=10)
    for bad_id in ("ab", "1findings", "goog-findings", "has space"):
        with pytest.raises(exceptions.InvalidArgument):
            publisher.create_topic(name=pubsub_names.topic(bad_id))
    with pytest.raises(exceptions.InvalidArgument):
        subscriber.acknowledge(subscription=subscription, ack_ids=["not-an-ack-id"])


def test_list_get_and_delete(
    publisher: pubsub_v1.PublisherClient,
    subscriber: pubsub_v1.SubscriberClient,
    findings: tuple[str, str],
    pubsub_names: PubSubNames,
) -> None:
    topic, subscription = findings
    publisher.create_topic(name=pubsub_names.topic("audit"))

    topics = [t.name for t in publisher.list_topics(project=pubsub_names.project_path)]
    subscriptions = list(subscriber.list_subscriptions(project=pubsub_names.project_path))
    fetched = subscriber.get_subscription(subscription=subscription)
    publisher.delete_topic(topic=topic)
    orphaned = subscriber.get_subscription(subscription=subscription)
    subscriber.delete_subscription(subscription=subscription)

    assert sorted(topics) == [pubsub_names.topic("audit"), topic]
    assert [s.name for s in subscriptions] == [subscription]
    assert (fetched.topic, fetched.ack_deadline_seconds) == (topic, 10)
    assert orphaned.topic == "_deleted-topic_"
    with pytest.raises(exceptions.NotFound):
        publisher.get_topic(topic=topic)
    with pytest.raises(exceptions.NotFound):
        subscriber.get_subscription(subscription=subscription)


# Behaviours only the stand-in can show quickly: it scales time and exposes its state.


@pytest.fixture
def fast_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[PubSubStandIn]:
    with PubSubStandIn(time_scale=0.1) as standin:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", standin.host)
        yield standin


def test_subscription_ack_deadline_expires_unacked_pull(fast_standin: PubSubStandIn) -> None:
    topic = "projects/scc-test/topics/findings"
    subscription = "projects/scc-test/subscriptions/findings-bot"
    fast_standin.create_topic(topic)
    fast_standin.create_subscription(subscription, topic, ack_deadline_seconds=10)
    message_id = fast_standin.publish(topic, b"x", {"k": "v"})
    subscriber = pubsub_v1.SubscriberClient()
    pulled = time.monotonic()

    first = subscriber.pull(subscription=subscription, max_messages=5).received_messages
    second = subscriber.pull(subscription=subscription, max_messages=5).received_messages
    subscriber.close()

    # 10 s scaled by 0.1
    assert 0.9 <= time.monotonic() - pulled < 3
    assert [m.message.message_id for m in first] == [message_id]
    assert [m.message.message_id for m in second] == [message_id]
    assert fast_standin.delivery_counts(subscription) == {message_id: 2}
    assert fast_standin.outstanding(subscription) == 1


def test_client_lease_extension_keeps_a_slow_message(
    fast_standin: PubSubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client renews leases at a random point of its 10 s deadline; pin it so that
    # renewals fall inside the stand-in's scaled 1 s deadline.
    monkeypatch.setattr(leaser, "random", SimpleNamespace(uniform=lambda low, high: 0.2))
    topic = "projects/scc-test/topics/findings"
    subscription = "projects/scc-test/subscriptions/findings-bot"
    fast_standin.create_topic(topic)
    fast_standin.create_subscription(subscription, topic)
    message_id = fast_standin.publish(topic, b"slow work")
    subscriber = pubsub_v1.SubscriberClient()
    inbox = Inbox()

    def slow(message: Message) -> None:
        time.sleep(1.6)  # longer than the scaled ack deadline
        inbox.ack(message)

    with streaming(subscriber, subscription, slow):
        fast_standin.wait_for(lambda: fast_standin.acked(subscription))
    subscriber.close()

    assert fast_standin.acked(subscription) == [message_id]
    assert fast_standin.delivery_counts(subscription) == {message_id: 1}


def test_retry_policy_delays_redelivery_after_nack(
    pubsub_standin: PubSubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_standin.host)
    topic = "projects/scc-test/topics/findings"
    subscription = "projects/scc-test/subscriptions/findings-bot"
    pubsub_standin.create_topic(topic)
    subscriber = pubsub_v1.SubscriberClient()
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": topic,
            "retry_policy": {"minimum_backoff": {"nanos": 500_000_000}},
        }
    )
    pubsub_standin.publish(topic, b"later")
    first = subscriber.pull(subscription=subscription, max_messages=1).received_messages[0]

    subscriber.modify_ack_deadline(
        subscription=subscription, ack_ids=[first.ack_id], ack_deadline_seconds=0
    )
    nacked = time.monotonic()
    again = subscriber.pull(subscription=subscription, max_messages=1).received_messages
    subscriber.close()

    assert 0.45 <= time.monotonic() - nacked < 2
    assert [m.message.message_id for m in again] == [first.message.message_id]


def test_stop_ends_open_streams_with_unavailable() -> None:
    # A raw stream: the official client would keep reconnecting to the closed port.
    standin = PubSubStandIn().start()
    topic = "projects/scc-test/topics/findings"
    subscription = "projects/scc-test/subscriptions/findings-bot"
    standin.create_topic(topic)
    standin.create_subscription(subscription, topic)
    channel = grpc.insecure_channel(standin.host)
    streaming_pull = channel.stream_stream(
        "/google.pubsub.v1.Subscriber/StreamingPull",
        request_serializer=StreamingPullRequest.serialize,
        response_deserializer=StreamingPullResponse.deserialize,
    )
    client_done = threading.Event()

    def requests() -> Iterator[StreamingPullRequest]:
        yield StreamingPullRequest(subscription=subscription, stream_ack_deadline_seconds=60)
        client_done.wait(5)

    responses = streaming_pull(requests())
    standin.wait_for(lambda: standin.open_streams(subscription) == 1)

    started = time.monotonic()
    standin.stop()
    stopped_after = time.monotonic() - started
    with pytest.raises(grpc.RpcError) as ended:
        next(responses)
    client_done.set()
    channel.close()

    assert stopped_after < 1.0
    assert ended.value.code() is grpc.StatusCode.UNAVAILABLE
    assert standin.open_streams(subscription) == 0


def test_setup_methods_validate_like_the_api(pubsub_standin: PubSubStandIn) -> None:
    topic = "projects/scc-test/topics/findings"
    pubsub_standin.create_topic(topic)

    with pytest.raises(PubSubError, match="Invalid id") as bad_id:
        pubsub_standin.create_topic("projects/scc-test/topics/ab")
    with pytest.raises(PubSubError, match="Topic not found") as missing:
        pubsub_standin.publish("projects/scc-test/topics/missing", b"x")
    with pytest.raises(PubSubError, match="max_delivery_attempts") as attempts:
        pubsub_standin.create_subscription(
            "projects/scc-test/subscriptions/findings-bot",
            topic,
            dead_letter_topic=topic,
            max_delivery_attempts=4,
        )

    assert bad_id.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert missing.value.code is grpc.StatusCode.NOT_FOUND
    assert attempts.value.code is grpc.StatusCode.INVALID_ARGUMENT
