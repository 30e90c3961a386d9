from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from blocks.digest import DigestView, ListedFinding, build_digest_listing, build_digest_message
from bot import digests
from bot.pipeline import Delivery, Outcome
from standins.block_kit import validate_blocks
from tests.conftest import CHANNEL, sample_bytes
from tests.slack_safety import live_tokens

BASE = json.loads(sample_bytes("malicious_python_v2.json"))
SERVICE = "//run.googleapis.com/projects/acme-prod/locations/us-central1/services/{}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"burst_threshold": 2, "burst_window_minutes": 10}


@pytest.fixture(autouse=True)
def _list_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # List grouped findings on the next flush instead of waiting for the burst to go quiet.
    monkeypatch.setattr(digests, "LIST_WHEN_QUIET", timedelta(seconds=-1))


def _finding(index: int, service: str = "payments-api", script: int = 0) -> Delivery:
    notification = copy.deepcopy(BASE)
    finding = notification["finding"]
    finding["name"] = finding["name"][:-8] + f"{index:08x}"
    finding["resourceName"] = SERVICE.format(service)
    finding["eventTime"] = f"2026-05-12T10:{index % 60:02d}:00Z"
    finding["processes"][0]["script"]["sha256"] = f"{script:064x}"
    return Delivery(
        data=json.dumps(notification).encode(),
        message_id=f"m{index}",
        publish_time=datetime(2026, 5, 12, 11, tzinfo=UTC) + timedelta(seconds=index),
    )


def _digest_posts(slack: Any) -> list[Any]:
    return [
        call
        for call in slack.calls_to("chat.postMessage", ok=True)
        if call.params["blocks"][0].get("block_id") == "digest.header"
    ]


def test_a_burst_becomes_one_digest_listing_every_finding(services: Any, slack: Any) -> None:
    outcomes = [services.pipeline.handle(_finding(i, script=i % 3)) for i in range(10)]

    assert outcomes == [Outcome.POSTED] * 2 + [Outcome.GROUPED] * 8
    assert services.digests.flush() == 1

    digest = _digest_posts(slack)
    assert len(digest) == 1
    blocks = {b["block_id"]: b for b in digest[0].params["blocks"] if "block_id" in b}
    assert blocks["digest.header"]["text"]["text"] == (
        ":rotating_light: Burst of 8 findings · Execution: Malicious Python executed"
    )
    summary = json.dumps(blocks["digest.summary"])
    assert "*Findings in this digest*\\n8" in summary
    assert "2026-05-12 10:02:00 UTC" in summary and "2026-05-12 10:09:00 UTC" in summary
    assert "*Distinct scripts: 3*" in blocks["digest.scripts"]["text"]["text"]
    listing = slack.thread(CHANNEL, digest[0].response["ts"])
    assert len(listing) == 1
    listed = json.dumps(listing[0].blocks)
    for index in range(2, 10):
        assert f"{index:08x}" in listed
    # Ten findings, three messages: two on their own, one digest; nothing twice.
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 4  # 2 + digest + listing


def test_more_findings_update_the_digest_and_extend_the_listing(services: Any, slack: Any) -> None:
    for i in range(5):
        services.pipeline.handle(_finding(i))
    services.digests.flush()

    assert services.pipeline.handle(_finding(5)) is Outcome.GROUPED
    assert services.digests.flush() == 1

    updates = slack.calls_to("chat.update", ok=True)
    assert len(updates) == 1
    assert (
        updates[0]
        .params["blocks"][0]["text"]["text"]
        .startswith(":rotating_light: Burst of 4 findings")
    )
    ts = _digest_posts(slack)[0].response["ts"]
    assert len(slack.thread(CHANNEL, ts)) == 2
    assert services.digests.flush() == 0  # nothing left to do


def test_redelivered_grouped_finding_changes_nothing(services: Any, slack: Any) -> None:
    for i in range(4):
        services.pipeline.handle(_finding(i))
    services.digests.flush()
    calls = len(slack.calls)

    assert services.pipeline.handle(_finding(3)) is Outcome.DUPLICATE
    assert services.digests.flush() == 0
    assert len(slack.calls) == calls


def test_each_resource_gets_its_own_digest(services: Any, slack: Any) -> None:
    for i in range(8):
        services.pipeline.handle(_finding(i, service="api" if i % 2 else "worker"))

    assert services.digests.flush() == 2

    headers = sorted(json.dumps(call.params["blocks"][1]) for call in _digest_posts(slack))
    assert "`service api`" in headers[0] and "`service worker`" in headers[1]


def test_slack_down_leaves_the_digest_pending_and_it_posts_once_after(
    services: Any, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        services.pipeline.handle(_finding(i))
    slack.set_down(True)

    assert services.digests.flush() == 0

    slack.set_down(False)
    # A refused digest waits before the next try, rather than hammering Slack.
    assert services.digests.flush() == 0
    later = time.monotonic() + 60
    monkeypatch.setattr(digests.time, "monotonic", lambda: later)
    assert services.digests.flush() == 1
    assert len(_digest_posts(slack)) == 1
    assert services.digests.flush() == 0


def test_digest_and_listing_pass_slack_limits_with_hostile_text() -> None:
    view = DigestView(
        resource_label="service <!here> `x`",
        category="Execution: <@U024BE7LH> " + "x" * 400,
        count=1000,
        first=datetime(2026, 5, 12, 10, tzinfo=UTC),
        last=datetime(2026, 5, 12, 10, 20, tzinfo=UTC),
        scripts=tuple((f"{i:064x}", 100 - i) for i in range(10)),
        distinct_scripts=57,
        version=3,
    )
    listing = [
        ListedFinding(
            key=f"organizations/1/sources/2/locations/global/findings/{i:032x}",
            event_time=datetime(2026, 5, 12, 10, tzinfo=UTC),
            severity="CRITICAL",
            sha256=f"{i:064x}",
        )
        for i in range(100)
    ]

    message = build_digest_message(view)
    reply = build_digest_listing(listing, console_base="https://console.cloud.google.com")

    assert validate_blocks(message.blocks) == []
    assert validate_blocks(reply.blocks) == []
    assert live_tokens(message.text, message.blocks) == []
    assert "…and 47 more distinct scripts" in json.dumps(message.blocks, ensure_ascii=False)
    assert message.blocks[0]["text"]["text"].startswith(":rotating_light: Burst of 1,000 findings")
    assert reply.text == "100 findings in this burst"


def _another_instance(services: Any) -> Any:
    from bot.digests import DigestPublisher
    from bot.slack_client import ChannelPacer

    return DigestPublisher(
        services.engine,
        services.slack,
        console_base="https://console.cloud.google.com",
        pacer=ChannelPacer(1000.0, 1000),
    )


def test_a_second_instance_working_from_an_old_list_does_not_post_the_digest_again(
    services: Any, slack: Any
) -> None:
    for i in range(6):
        services.pipeline.handle(_finding(i))
    other = _another_instance(services)
    read_before = other._pending()  # the other instance read the list first

    services.digests.flush()  # this one posts the digest meanwhile
    other._pending = lambda: read_before
    other.flush()

    assert len(_digest_posts(slack)) == 1


def test_a_digest_slack_refuses_does_not_hold_up_the_others(services: Any, slack: Any) -> None:
    from sqlalchemy import update

    from bot.db import digests as digest_rows

    for i in range(4):
        services.pipeline.handle(_finding(i, service="api"))
    for i in range(10, 14):
        services.pipeline.handle(_finding(i, service="worker"))
    with services.engine.begin() as conn:
        conn.execute(
            update(digest_rows)
            .where(digest_rows.c.resource_name.like("%/worker"))
            .values(channel="C0ARCHIVED")
        )
    slack.set_not_in_channel("C0ARCHIVED")

    for _ in range(3):
        services.digests.flush()

    posted = _digest_posts(slack)
    assert len(posted) == 1
    assert len(slack.thread(CHANNEL, posted[0].response["ts"])) == 1


def test_a_database_error_after_the_digest_post_does_not_post_it_again(
    services: Any, slack: Any
) -> None:
    import sqlite3

    from sqlalchemy import event

    for i in range(4):
        services.pipeline.handle(_finding(i))
    failing = {"once": True}

    def fail_the_save(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failing["once"] and statement.startswith("UPDATE digests SET message_ts"):
            failing["once"] = False
            raise sqlite3.OperationalError("disk I/O error")

    event.listen(services.engine, "before_cursor_execute", fail_the_save)
    with pytest.raises(Exception, match="disk I/O error"):
        services.digests.flush()
    services.digests.flush()

    assert len(_digest_posts(slack)) == 1


def test_one_listing_batch_per_flush(services: Any, slack: Any) -> None:
    from sqlalchemy import insert, select

    from bot.db import digests as digest_rows
    from bot.db import findings
    from bot.store import utcnow

    for i in range(4):
        services.pipeline.handle(_finding(i))
    services.digests.flush()
    with services.engine.connect() as conn:
        digest_id = conn.execute(select(digest_rows.c.id)).scalar_one()
    now = utcnow()
    with services.engine.begin() as conn:
        conn.execute(
            insert(findings),
            [
                {
                    "key": f"organizations/1/sources/2/locations/global/findings/x{i:031x}",
                    "status": "grouped",
                    "digest_id": digest_id,
                    "listed": False,
                    "created_at": now,
                    "updated_at": now,
                    "occurrences": 1,
                }
                for i in range(350)
            ],
        )
    ts = _digest_posts(slack)[0].response["ts"]
    before = len(slack.thread(CHANNEL, ts))

    services.digests.flush()

    assert len(slack.thread(CHANNEL, ts)) == before + 1


def test_a_change_to_a_grouped_finding_is_told_in_the_digest_thread(
    services: Any, slack: Any
) -> None:
    for i in range(4):
        services.pipeline.handle(_finding(i))
    services.digests.flush()
    ts = _digest_posts(slack)[0].response["ts"]
    changed = json.loads(_finding(3).data)
    changed["finding"]["state"] = "INACTIVE"
    later = datetime(2026, 5, 12, 12, tzinfo=UTC)

    outcome = services.pipeline.handle(
        Delivery(data=json.dumps(changed).encode(), message_id="m99", publish_time=later)
    )

    assert outcome is Outcome.UPDATED
    reply = slack.thread(CHANNEL, ts)[-1]
    text = json.dumps(reply.blocks, ensure_ascii=False)
    finding_id = changed["finding"]["name"].rsplit("/", 1)[-1]
    assert f"SCC updated finding `{finding_id}`" in text
    assert "*State*: Active → Inactive" in text
    assert slack.calls_to("chat.update") == []
