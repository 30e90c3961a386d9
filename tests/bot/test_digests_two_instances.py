"""Two bot instances on one PostgreSQL, grouping one burst and publishing its digests."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from blocks.ids import DigestBlock
from bot import digests
from bot.db import create_schema, findings
from bot.pipeline import Outcome
from bot.services import build_services
from bot.slack_client import ChannelPacer
from tests.bot.test_digests import _finding
from tests.conftest import CHANNEL

pytestmark = pytest.mark.postgres

FINDINGS, SERVICES = 240, 6


@pytest.fixture(autouse=True)
def _list_in_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digests, "LIST_WHEN_QUIET", timedelta(seconds=-1))
    monkeypatch.setattr(digests, "LIST_BATCH", 5)


def test_two_instances_post_one_digest_per_resource_and_list_each_finding_once(
    make_settings: Any, slack: Any, postgres_base_url: str
) -> None:
    from tests.postgres import create_database

    url = create_database(postgres_base_url)
    instances = []
    for _ in range(2):
        built = build_services(make_settings(database_url=url, burst_threshold=1))
        built.slack.retry_handlers = []
        # Slow enough that the two publishers overlap on the same digests.
        pacer = ChannelPacer(per_second=40.0, burst=2)
        built.pipeline.pacer = built.digests.pacer = pacer
        instances.append(built)
    create_schema(instances[0].engine)
    stop = threading.Event()

    def publish(built: Any) -> None:
        while not stop.is_set():
            built.digests.flush()
            time.sleep(0.01)

    publishers = [threading.Thread(target=publish, args=(b,)) for b in instances]
    for thread in publishers:
        thread.start()
    deliveries = [_finding(i, service=f"svc{i % SERVICES}") for i in range(FINDINGS)]
    with ThreadPoolExecutor(12) as pool:
        outcomes = list(
            pool.map(
                lambda pair: instances[pair[0] % 2].pipeline.handle(pair[1]), enumerate(deliveries)
            )
        )

    def all_listed() -> bool:
        with instances[0].engine.connect() as conn:
            waiting = conn.execute(
                select(findings.c.key).where(
                    findings.c.status == "grouped", findings.c.listed.is_(False)
                )
            ).all()
        return not waiting

    slack.wait_for(all_listed, timeout=30)
    stop.set()
    for thread in publishers:
        thread.join()
    for built in instances:
        built.close()

    posts = slack.calls_to("chat.postMessage", ok=True)
    digest_posts = [p for p in posts if p.params["blocks"][0].get("block_id") == DigestBlock.HEADER]
    per_service = Counter(
        re.search(r"services/(svc\d+)|service (svc\d+)", json.dumps(p.params["blocks"][1])).group(2)
        for p in digest_posts
    )
    listed: Counter[str] = Counter()
    for post in digest_posts:
        for reply in slack.thread(CHANNEL, post.response["ts"]):
            listed.update(re.findall(r"findings%2F([0-9a-f]{32})", json.dumps(reply.blocks)))
    alone = sum(1 for o in outcomes if o is Outcome.POSTED)
    grouped = sum(1 for o in outcomes if o is Outcome.GROUPED)

    assert alone + grouped == FINDINGS
    assert per_service == {f"svc{i}": 1 for i in range(SERVICES)}
    assert len(listed) == grouped
    assert max(listed.values()) == 1
    assert SERVICES <= alone <= 2 * SERVICES
