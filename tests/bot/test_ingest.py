from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import pubsub_v1

from bot.ingest import Backoff, StreamingWorker
from tests.conftest import CHANNEL, sample_bytes
from tests.pubsub_fixtures import PubSubNames


@pytest.fixture
def topology(pubsub_host: str, pubsub_names: PubSubNames) -> Iterator[tuple[Any, str, str]]:
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = pubsub_names.topic()
    subscription = pubsub_names.subscription()
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=10)
    yield publisher, topic, subscription
    subscriber.close()


def _worker(services: Any, subscription: str) -> StreamingWorker:
    return StreamingWorker(
        pubsub_v1.SubscriberClient(),
        subscription,
        services.pipeline,
        max_messages=5,
        backoff=Backoff(initial=0.05, ceiling=0.2),
    )


def test_streaming_pull_posts_each_finding_once_and_survives_garbage(
    services: Any, slack: Any, topology: tuple[Any, str, str]
) -> None:
    publisher, topic, subscription = topology
    for body in (
        sample_bytes("malicious_python_v2.json"),
        b"not a notification",
        sample_bytes("malicious_python_v2.json"),
        sample_bytes("reverse_shell_v2.json"),
    ):
        publisher.publish(topic, body).result(timeout=10)
    worker = _worker(services, subscription).start()
    try:
        slack.wait_for(lambda: len(slack.calls_to("chat.postMessage", ok=True)) == 2, timeout=10)
        # The duplicate and the garbage are acknowledged too: nothing comes back.
        slack.wait_for(lambda: services.store.count_by_status() == {"posted": 2}, timeout=5)
    finally:
        worker.stop()

    headers = sorted(
        call.params["blocks"][0]["text"]["text"] for call in slack.calls_to("chat.postMessage")
    )
    assert headers == [
        ":red_circle: CRITICAL · Execution: Malicious Python executed",
        ":red_circle: CRITICAL · Reverse Shell",
    ]


def test_slack_outage_delays_but_loses_nothing(
    services: Any,
    slack: Any,
    pubsub_standin: Any,
    pubsub_names: PubSubNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_standin.host)
    topic, subscription = pubsub_names.topic(), pubsub_names.subscription()
    pubsub_standin.create_topic(topic)
    pubsub_standin.create_subscription(subscription, topic)
    slack.set_down(True)
    pubsub_standin.publish(topic, sample_bytes("malicious_python_v2.json"))
    worker = _worker(services, subscription).start()
    try:
        slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 2, timeout=10)
        assert pubsub_standin.outstanding(subscription) == 1

        slack.set_down(False)
        pubsub_standin.wait_for(lambda: pubsub_standin.outstanding(subscription) == 0, timeout=10)
    finally:
        worker.stop()

    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1
    assert pubsub_standin.delivery_counts(subscription) != {}
    assert max(pubsub_standin.delivery_counts(subscription).values()) >= 2
    post = slack.calls_to("chat.postMessage", ok=True)[0]
    assert post.params["channel"] == CHANNEL
    assert json.loads(json.dumps(post.params["blocks"]))[0]["type"] == "header"
