"""Two bot processes on one subscription and one PostgreSQL post each finding exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.db import make_engine
from standins.pubsub import PubSubStandIn
from standins.slack_api import SlackStandIn
from tests.conftest import CHANNEL, SIGNING_SECRET, sample_bytes

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "projects/acme-sec/topics/scc-findings"
SUBSCRIPTION = "projects/acme-sec/subscriptions/scc-findings-bot"
FINDINGS = 300
REPEATED = 150  # the first REPEATED findings are published twice, back to back


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        body = requests.get(f"{self.url}/metrics", timeout=5).text
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _finding(number: int) -> bytes:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    finding_id = f"{number:032x}"
    for field in ("name", "canonicalName"):
        prefix = notification["finding"][field].rsplit("/", 1)[0]
        notification["finding"][field] = f"{prefix}/{finding_id}"
    return json.dumps(notification).encode()


def _environment(database_url: str, slack: SlackStandIn, pubsub: PubSubStandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PUBSUB_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        SLACK_CHANNEL=CHANNEL,
        PUBSUB_SUBSCRIPTION=SUBSCRIPTION,
        PUBSUB_EMULATOR_HOST=pubsub.host,
        PUBSUB_MAX_MESSAGES="20",
        HOST="127.0.0.1",
        LOG_FORMAT="text",
        LOG_LEVEL="WARNING",
        # Every finding names the same service: this test is about one post per finding,
        # not about grouping bursts into digests.
        BURST_THRESHOLD="0",
        # The stand-in does not rate limit here; nor should the bot pace itself to Slack's.
        SLACK_CHANNEL_POSTS_PER_SECOND="10000",
        SLACK_CHANNEL_BURST="10000",
    )
    return env


@pytest.fixture
def pubsub() -> Iterator[PubSubStandIn]:
    with PubSubStandIn() as standin:
        standin.create_topic(TOPIC)
        standin.create_subscription(SUBSCRIPTION, TOPIC, ack_deadline_seconds=30)
        yield standin


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def database(postgres_base_url: str) -> str:
    from tests.postgres import create_database

    return create_database(postgres_base_url)


@pytest.fixture
def instances(
    database: str, slack: SlackStandIn, pubsub: PubSubStandIn, tmp_path: Path
) -> Iterator[list[Instance]]:
    env = _environment(database, slack, pubsub)
    migrate = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr.decode()
    started: list[Instance] = []
    try:
        for n in (1, 2):
            port = _free_port()
            log = tmp_path / f"bot-{n}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot", "serve"],
                    env={**env, "PORT": str(port)},
                    cwd=tmp_path,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append(Instance(process, f"http://127.0.0.1:{port}", log))
        for instance in started:
            _wait_until_ready(instance)
        pubsub.wait_for(lambda: pubsub.open_streams(SUBSCRIPTION) == 2, timeout=15)
        yield started
    finally:
        for instance in started:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)
        for instance in started:
            _stop(instance.process)


def _wait_until_ready(instance: Instance, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"bot exited early:\n{instance.log.read_text()}")
        try:
            if requests.get(f"{instance.url}/readyz", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.1)
    pytest.fail(f"bot not ready within {timeout} s:\n{instance.log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_each_finding_is_posted_once_across_two_instances(
    instances: list[Instance], pubsub: PubSubStandIn, slack: SlackStandIn, database: str
) -> None:
    started = time.monotonic()
    published = 0
    for number in range(FINDINGS):
        pubsub.publish(TOPIC, _finding(number))
        published += 1
        if number < REPEATED:
            pubsub.publish(TOPIC, _finding(number))
            published += 1

    pubsub.wait_for(
        lambda: (
            len(pubsub.acked(SUBSCRIPTION)) >= published and pubsub.outstanding(SUBSCRIPTION) == 0
        ),
        timeout=25,
    )
    elapsed = time.monotonic() - started

    posts = slack.calls_to("chat.postMessage", ok=True)
    engine = make_engine(database)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT key, status, message_ts, lease_owner FROM findings")
        ).all()
    engine.dispose()
    assert published == FINDINGS + REPEATED
    assert len(rows) == FINDINGS
    assert {row.status for row in rows} == {"posted"}
    assert {row.lease_owner for row in rows} == {None}
    # One post per finding: as many posts as findings, and each finding holds its own post.
    assert len(posts) == FINDINGS
    assert sorted(post.response["ts"] for post in posts) == sorted(row.message_ts for row in rows)
    assert not slack.calls_to("chat.update")
    assert len(pubsub.acked(SUBSCRIPTION)) == published

    posted = [i.metric("scc_findings_posted_total") for i in instances]
    deduplicated = [i.metric("scc_findings_deduplicated_total") for i in instances]
    assert sum(posted) == FINDINGS
    assert all(count > 0 for count in posted), f"one instance did all the work: {posted}"
    assert sum(deduplicated) == REPEATED
    print(
        f"\n{FINDINGS} findings, {published} messages, {len(posts)} posts, posted per instance "
        f"{posted}, deduplicated {deduplicated}, "
        f"busy {[i.metric('scc_findings_received_total', outcome='busy') for i in instances]}, "
        f"{elapsed:.1f} s"
    )
