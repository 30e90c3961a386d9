"""Pub/Sub servers for tests: our stand-in, and Google's emulator when it is installed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from google.cloud import pubsub_v1

from standins.pubsub import PubSubStandIn
from standins.pubsub_emulator import official_emulator, official_emulator_available


@dataclass(frozen=True)
class PubSubNames:
    """Resource names unique to one test, so tests can share one emulator."""

    project: str

    @property
    def project_path(self) -> str:
        return f"projects/{self.project}"

    def topic(self, topic_id: str = "findings") -> str:
        return f"projects/{self.project}/topics/{topic_id}"

    def subscription(self, subscription_id: str = "findings-bot") -> str:
        return f"projects/{self.project}/subscriptions/{subscription_id}"


@pytest.fixture
def pubsub_standin() -> Iterator[PubSubStandIn]:
    with PubSubStandIn() as standin:
        yield standin


@pytest.fixture(scope="session")
def pubsub_emulator_host() -> Iterator[str]:
    if not official_emulator_available():
        pytest.skip("Google's Pub/Sub emulator (gcloud component pubsub-emulator) is not installed")
    with official_emulator() as host:
        yield host


@pytest.fixture(params=["standin", pytest.param("emulator", marks=pytest.mark.emulator)])
def pubsub_host(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the Pub/Sub client at the stand-in or at Google's emulator; return host:port."""
    if request.param == "standin":
        host: str = request.getfixturevalue("pubsub_standin").host
    else:
        host = request.getfixturevalue("pubsub_emulator_host")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    return host


@pytest.fixture
def pubsub_names() -> PubSubNames:
    return PubSubNames(project=f"scc-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def publisher(pubsub_host: str) -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


@pytest.fixture
def subscriber(pubsub_host: str) -> Iterator[pubsub_v1.SubscriberClient]:
    client = pubsub_v1.SubscriberClient()
    yield client
    client.close()
