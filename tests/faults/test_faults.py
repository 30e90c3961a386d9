"""Faults end to end: Slack, Pub/Sub, the database and Google Cloud fail, then recover.

After each outage every finding must be posted exactly once and no containment action may
be sent twice. Outages are made short (a few failing calls, or about a second) and the
bot's backoff is shortened through its constructor arguments.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.cloud import pubsub_v1
from sqlalchemy import Engine, event, select

from blocks.ids import ContainAction, ContainBlock, ContainCallback, InvestigateAction
from bot.containment.store import ContainmentStore, Status
from bot.db import create_schema, findings
from bot.ingest import Backoff, StreamingWorker
from bot.investigate import container
from bot.pipeline import Delivery, Outcome
from bot.refs import finding_ref
from bot.services import build_services
from bot.slack_client import make_web_client
from bot.store import utcnow
from standins import cloud_run_sample
from standins.slack_api import SlackStandIn
from tests.conftest import CHANNEL, sample_bytes
from tests.pubsub_fixtures import PubSubNames

REQUESTER = "U0ALICE"
BOB = "U0BOB"
DAVE = "U0DAVE"
# Many findings of one resource and category would be grouped into a digest; these tests
# count one message per finding, so grouping is off.
ONE_MESSAGE_EACH = {"burst_threshold": 0}
SAMPLE_KEY = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "23eeeb4347bdd26bfc6b7ee9a3b755dd"
)


@pytest.fixture
def slack(request: pytest.FixtureRequest) -> Iterator[SlackStandIn]:
    """The Slack stand-in; parametrize indirectly with a per-channel rate to rate limit it."""
    with SlackStandIn(rate_limit_per_channel=getattr(request, "param", None)) as standin:
        yield standin


@pytest.fixture
def settings_overrides(google_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **google_settings,
        **ONE_MESSAGE_EACH,
        "approvers": [BOB, DAVE],
        "responders": [REQUESTER],
    }


def finding_bytes(index: int) -> bytes:
    """Return the main sample as a distinct finding (its own name, same resource)."""
    document = json.loads(sample_bytes("malicious_python_v2.json"))
    parent = document["finding"]["name"].rsplit("/", 1)[0]
    document["finding"]["name"] = f"{parent}/{index:032x}"
    return json.dumps(document).encode()


def finding_key(index: int) -> str:
    return str(json.loads(finding_bytes(index))["finding"]["name"])


def posts_per_finding(services: Any, slack: SlackStandIn) -> Counter[str]:
    """Count the accepted top-level posts per finding, matched through the stored ts."""
    stored = services.store.recent(since=utcnow() - timedelta(hours=1), limit=1000)
    by_ts = {row.message_ts: row.key for row in stored}
    return Counter(
        by_ts.get(call.response["ts"], f"unrecorded {call.response['ts']}")
        for call in slack.calls_to("chat.postMessage", ok=True)
        if "thread_ts" not in call.params
    )


def lease_owners(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(findings.c.key, findings.c.lease_owner)).all()
    return {row.key: row.lease_owner for row in rows}


# -- Slack -----------------------------------------------------------------------------------


@pytest.fixture
def subscription(
    pubsub_standin: Any, pubsub_names: PubSubNames, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_standin.host)
    topic, name = pubsub_names.topic(), pubsub_names.subscription()
    pubsub_standin.create_topic(topic)
    pubsub_standin.create_subscription(name, topic)
    return topic, name


@contextmanager
def streaming(pipeline: Any, subscription: str, max_messages: int = 5) -> Iterator[None]:
    """Run the streaming worker with a backoff of tenths of a second."""
    subscriber = pubsub_v1.SubscriberClient()
    worker = StreamingWorker(
        subscriber,
        subscription,
        pipeline,
        max_messages=max_messages,
        backoff=Backoff(initial=0.05, ceiling=0.2),
    ).start()
    try:
        yield
    finally:
        worker.stop()
        subscriber.close()


def test_slack_500_for_a_while_then_each_finding_is_posted_once(
    services: Any, slack: SlackStandIn, pubsub_standin: Any, subscription: tuple[str, str]
) -> None:
    topic, name = subscription
    keys = [finding_key(i) for i in range(6)]
    for index in range(6):
        pubsub_standin.publish(topic, finding_bytes(index))
    slack.set_down(True, status=500)

    with streaming(services.pipeline, name):
        slack.wait_for(lambda: len(slack.calls_to("chat.postMessage", ok=False)) >= 12, timeout=10)
        assert pubsub_standin.acked(name) == []
        slack.set_down(False)
        pubsub_standin.wait_for(lambda: len(pubsub_standin.acked(name)) == 6, timeout=10)

    assert posts_per_finding(services, slack) == Counter(dict.fromkeys(keys, 1))
    assert {c.status for c in slack.calls_to("chat.postMessage", ok=False)} == {500}
    assert slack.calls_to("chat.update") == []
    assert pubsub_standin.outstanding(name) == 0
    assert max(pubsub_standin.delivery_counts(name).values()) >= 2
    assert lease_owners(services.engine) == dict.fromkeys(keys)


@pytest.mark.parametrize("slack", [2.0], indirect=True)
def test_slack_429_is_waited_out_by_the_real_retry_handlers(
    services: Any, slack: SlackStandIn
) -> None:
    # The services fixture drops the retry handlers; put back the ones the bot ships with.
    services.pipeline.slack = make_web_client(slack.bot_token, slack.base_url)
    slack.fail_next("chat.postMessage", retry_after=1)

    outcomes = [
        services.pipeline.handle(Delivery(data=finding_bytes(i), message_id=f"m{i}"))
        for i in range(6)
    ]

    assert outcomes == [Outcome.POSTED] * 6
    limited = [c for c in slack.calls_to("chat.postMessage") if c.status == 429]
    # The injected one, then the channel's bucket ran dry after its burst of 3.
    assert len(limited) >= 2
    assert posts_per_finding(services, slack) == Counter(finding_key(i) for i in range(6))
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 6


# -- Pub/Sub ---------------------------------------------------------------------------------


def test_pubsub_redelivering_everything_posts_and_edits_nothing_twice(
    services: Any, slack: SlackStandIn, pubsub_standin: Any, subscription: tuple[str, str]
) -> None:
    topic, name = subscription
    keys = [finding_key(i) for i in range(30)]
    # Each notification twice before the worker starts: the copies arrive side by side.
    for _ in range(2):
        for index in range(30):
            pubsub_standin.publish(topic, finding_bytes(index))

    with streaming(services.pipeline, name, max_messages=10):
        pubsub_standin.wait_for(lambda: len(pubsub_standin.acked(name)) == 60, timeout=15)
        first_ts = {key: services.store.get(key).message_ts for key in keys}
        # Then all thirty again, after they were posted.
        for index in range(30):
            pubsub_standin.publish(topic, finding_bytes(index))
        pubsub_standin.wait_for(lambda: len(pubsub_standin.acked(name)) == 90, timeout=10)

    assert posts_per_finding(services, slack) == Counter(dict.fromkeys(keys, 1))
    assert len(slack.calls_to("chat.postMessage")) == 30
    assert slack.calls_to("chat.update") == []
    assert {key: services.store.get(key).message_ts for key in keys} == first_ts
    assert services.store.count_by_status() == {"posted": 30}
    assert pubsub_standin.outstanding(name) == 0


class _LosesFirstAck:
    """Handle each message for real, but report its first delivery as failed (a lost ack)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.outcomes: dict[str, list[Outcome]] = {}
        self._lock = threading.Lock()

    def handle(self, delivery: Delivery) -> Outcome:
        outcome = self.pipeline.handle(delivery)
        with self._lock:
            seen = self.outcomes.setdefault(delivery.message_id, [])
            seen.append(outcome)
            return Outcome.FAILED if len(seen) == 1 else outcome


def test_redelivery_of_processed_messages_is_acknowledged_as_duplicate(
    services: Any, slack: SlackStandIn, pubsub_standin: Any, subscription: tuple[str, str]
) -> None:
    topic, name = subscription
    ids = [pubsub_standin.publish(topic, finding_bytes(i)) for i in range(10)]
    pipeline = _LosesFirstAck(services.pipeline)

    with streaming(pipeline, name):
        pubsub_standin.wait_for(lambda: len(pubsub_standin.acked(name)) == 10, timeout=10)

    assert pipeline.outcomes == {i: [Outcome.POSTED, Outcome.DUPLICATE] for i in ids}
    assert pubsub_standin.delivery_counts(name) == dict.fromkeys(ids, 2)
    assert posts_per_finding(services, slack) == Counter(finding_key(i) for i in range(10))
    assert slack.calls_to("chat.update") == []


# -- the database ----------------------------------------------------------------------------


class SqliteOutage:
    """Make matching SQL statements fail the way an unreachable database does."""

    def __init__(self, engine: Engine) -> None:
        self.down = False
        self.matches: Callable[[str], bool] = lambda _statement: True
        self.failed: list[str] = []
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.down and self.matches(statement):
            self.failed.append(statement.split()[0])
            raise sqlite3.OperationalError("unable to open database file")


class PostgresOutage:
    """Refuse connections to one PostgreSQL database and end the open ones."""

    def __init__(self, url: str) -> None:
        self.name = url.rsplit("/", 1)[1]
        self.admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")

    @property
    def down(self) -> bool:
        return self._allowed() is False

    @down.setter
    def down(self, value: bool) -> None:
        import psycopg

        with psycopg.connect(f"{self.admin}/postgres", autocommit=True) as conn:
            allow = "false" if value else "true"
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {allow}')
            if value:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (self.name,),
                )

    def _allowed(self) -> bool:
        import psycopg

        with psycopg.connect(f"{self.admin}/postgres", autocommit=True) as conn:
            row = conn.execute(
                "SELECT datallowconn FROM pg_database WHERE datname = %s", (self.name,)
            ).fetchone()
        return bool(row and row[0])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def outage_services(
    request: pytest.FixtureRequest, make_settings: Any, tmp_path: Path
) -> Iterator[tuple[Any, Any]]:
    """Services on SQLite or PostgreSQL, and a switch that takes that database down."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outage.db'}"
    else:
        from tests.postgres import create_database

        url = create_database(request.getfixturevalue("postgres_base_url"))
    built = build_services(make_settings(database_url=url, **ONE_MESSAGE_EACH))
    create_schema(built.engine)
    built.slack.retry_handlers = []
    outage = SqliteOutage(built.engine) if request.param == "sqlite" else PostgresOutage(url)
    yield built, outage
    if request.param == "postgresql":
        outage.down = False
    built.close()


def test_database_down_fails_the_delivery_and_the_retry_posts_once(
    outage_services: tuple[Any, Any], slack: SlackStandIn
) -> None:
    services, outage = outage_services
    delivery = Delivery(data=finding_bytes(1), message_id="m1")

    outage.down = True
    assert services.pipeline.handle(delivery) is Outcome.FAILED
    assert services.pipeline.handle(delivery) is Outcome.FAILED
    assert slack.calls_to("chat.postMessage") == []

    outage.down = False
    assert services.pipeline.handle(delivery) is Outcome.POSTED
    assert services.pipeline.handle(delivery) is Outcome.DUPLICATE
    assert posts_per_finding(services, slack) == Counter([finding_key(1)])
    assert lease_owners(services.engine) == {finding_key(1): None}


def test_failure_after_the_claim_releases_the_lease(services: Any, slack: SlackStandIn) -> None:
    # One read between the claim and the post fails; the finally releases the lease.
    outage = SqliteOutage(services.engine)
    outage.matches = lambda statement: "script_sha256 =" in statement
    outage.down = True
    delivery = Delivery(data=finding_bytes(2), message_id="m2")

    assert services.pipeline.handle(delivery) is Outcome.FAILED
    assert outage.failed == ["SELECT"]
    assert lease_owners(services.engine) == {finding_key(2): None}
    assert slack.calls_to("chat.postMessage") == []

    outage.down = False
    assert services.pipeline.handle(delivery) is Outcome.POSTED
    assert posts_per_finding(services, slack) == Counter([finding_key(2)])


def test_a_brief_sqlite_lock_is_waited_out(
    services: Any, slack: SlackStandIn, tmp_path: Path
) -> None:
    locker = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    outcomes: list[Outcome] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(
            services.pipeline.handle(Delivery(data=finding_bytes(3), message_id="m3"))
        )
    )
    worker.start()
    worker.join(timeout=0.5)
    assert worker.is_alive(), "the claim should wait for the lock"
    assert slack.calls_to("chat.postMessage") == []

    locker.execute("COMMIT")
    locker.close()
    worker.join(timeout=10)

    assert outcomes == [Outcome.POSTED]
    assert posts_per_finding(services, slack) == Counter([finding_key(3)])


class _DatabaseFailsAfterPost:
    """A WebClient whose chat.postMessage succeeds, after which the database goes down."""

    def __init__(self, client: Any, outage: Any) -> None:
        self._client = client
        self._outage = outage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def chat_postMessage(self, **kwargs: Any) -> Any:
        response = self._client.chat_postMessage(**kwargs)
        self._outage.down = True
        return response


def test_database_failing_after_the_post_does_not_post_twice(
    outage_services: tuple[Any, Any], slack: SlackStandIn
) -> None:
    services, outage = outage_services
    real_client = services.pipeline.slack
    key = finding_key(4)
    delivery = Delivery(data=finding_bytes(4), message_id="m4")

    services.pipeline.slack = _DatabaseFailsAfterPost(real_client, outage)
    assert services.pipeline.handle(delivery) is Outcome.FAILED
    services.pipeline.slack = real_client
    outage.down = False
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1

    # The redelivery records the post Slack already accepted, and posts nothing.
    assert services.pipeline.handle(delivery) is Outcome.DUPLICATE

    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1
    stored = services.store.get(key)
    assert stored is not None
    assert stored.message_ts == slack.calls_to("chat.postMessage", ok=True)[0].response["ts"]
    assert lease_owners(services.engine)[key] is None


# -- Google Cloud timing out -----------------------------------------------------------------


def _post_sample(services: Any, slack: SlackStandIn) -> str:
    assert (
        services.pipeline.handle(
            Delivery(data=sample_bytes("malicious_python_v2.json"), message_id="m1")
        )
        is Outcome.POSTED
    )
    return str(slack.calls_to("chat.postMessage", ok=True)[0].response["ts"])


def _thread_texts(slack: SlackStandIn, ts: str) -> list[str]:
    return [json.dumps(m.blocks, ensure_ascii=False) for m in slack.thread(CHANNEL, ts)]


def test_investigation_timeout_is_explained_and_a_retry_answers(
    services: Any,
    slack: SlackStandIn,
    slack_requests: Any,
    run_standin: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(container, "CALL_TIMEOUT", 0.3)
    ts = _post_sample(services, slack)
    run_standin.delay_next("GetService", 1.0)

    for expected_replies in (1, 2):
        response = slack_requests.block_action(
            user=REQUESTER,
            action_id=InvestigateAction.CONTAINER,
            value=finding_ref(SAMPLE_KEY),
            channel=CHANNEL,
            message_ts=ts,
        )
        assert response.status_code == 200
        slack.wait_for(lambda n=expected_replies: len(slack.thread(CHANNEL, ts)) == n, timeout=5)

    first, second = _thread_texts(slack, ts)
    assert ":hourglass: Cloud Run did not answer in time; try again shortly." in first
    assert cloud_run_sample.IMAGE not in first
    assert cloud_run_sample.IMAGE in second
    assert "payments-api-00042-xyz" in second
    assert len(run_standin.requests_to("GetService")) == 2


def _submit(slack_requests: Any, slack: SlackStandIn, ts: str, actions: list[str]) -> str:
    """Propose containment through the modal; return the approval request's id."""
    before = len(slack.thread(CHANNEL, ts))
    response = slack_requests.view_submission(
        user=REQUESTER,
        callback_id=ContainCallback.MODAL,
        private_metadata=finding_ref(SAMPLE_KEY),
        values={
            ContainBlock.ACTIONS: {
                ContainAction.CHOOSE: {
                    "type": "checkboxes",
                    "selected_options": [{"value": a} for a in actions],
                }
            },
            ContainBlock.REASON: {
                ContainAction.REASON: {"type": "plain_text_input", "value": "miner"}
            },
        },
    )
    assert response.status_code == 200
    slack.wait_for(lambda: len(slack.thread(CHANNEL, ts)) > before)
    for block in slack.thread(CHANNEL, ts)[-1].blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == ContainAction.APPROVE:
                return str(element["value"])
    raise AssertionError("no approve button in the approval request")


def _approve(slack_requests: Any, request_id: str, user: str) -> None:
    response = slack_requests.block_action(
        user=user, action_id=ContainAction.APPROVE, value=request_id, channel=CHANNEL
    )
    assert response.status_code == 200


def _mutations(run_standin: Any) -> dict[str, int]:
    methods = ("UpdateService", "SetIamPolicy", "DeleteRevision", "CancelExecution")
    return {m: len(run_standin.requests_to(m)) for m in methods}


@pytest.mark.parametrize(
    ("method", "sent"),
    [
        # The change itself times out: one UpdateService went out, and no second one.
        ("UpdateService", 1),
        # Re-reading the service before the change times out: nothing went out.
        ("GetService", 0),
    ],
)
def test_containment_timeout_is_shown_and_a_second_approval_sends_nothing(
    method: str,
    sent: int,
    services: Any,
    slack: SlackStandIn,
    slack_requests: Any,
    run_standin: Any,
) -> None:
    ts = _post_sample(services, slack)
    request_id = _submit(slack_requests, slack, ts, ["ingress_internal"])
    store = ContainmentStore(services.engine)
    run_standin.fail_next(method, grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")

    _approve(slack_requests, request_id, BOB)
    slack.wait_for(lambda: store.get(request_id).status is Status.FAILED)
    request = store.get(request_id)
    assert request is not None
    slack.wait_for(lambda: any(request.error in text for text in _thread_texts(slack, ts)))
    _approve(slack_requests, request_id, DAVE)
    slack.wait_for(lambda: any(e.user == DAVE for e in slack.ephemerals))

    assert "did not answer in time" in request.error
    assert "already handled" in next(e.text for e in slack.ephemerals if e.user == DAVE)
    assert store.get(request_id).status is Status.FAILED
    assert _mutations(run_standin) == {
        "UpdateService": sent,
        "SetIamPolicy": 0,
        "DeleteRevision": 0,
        "CancelExecution": 0,
    }
