from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import RoutingRule
from bot.pipeline import Delivery, Outcome
from bot.routing import Router
from bot.severity import Severity
from tests.conftest import CHANNEL, sample_bytes
from tests.slack_safety import live_tokens

T0 = datetime(2026, 5, 12, 10, 15, tzinfo=UTC)


def _delivery(data: bytes | dict[str, Any], n: int = 1, at: datetime = T0) -> Delivery:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return Delivery(data=body, message_id=f"msg-{n}", publish_time=at + timedelta(seconds=n))


def _sample(name: str = "malicious_python_v2.json") -> dict[str, Any]:
    return json.loads(sample_bytes(name))


def test_new_finding_is_posted_once_and_redelivery_posts_nothing(services: Any, slack: Any) -> None:
    pipeline = services.pipeline

    assert pipeline.handle(_delivery(_sample(), 1)) is Outcome.POSTED
    assert pipeline.handle(_delivery(_sample(), 2)) is Outcome.DUPLICATE

    posts = slack.calls_to("chat.postMessage", ok=True)
    assert len(posts) == 1
    assert posts[0].params["channel"] == CHANNEL
    assert posts[0].params["unfurl_links"] in (False, "false", "0", 0)
    stored = services.store.get(
        "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
        "23eeeb4347bdd26bfc6b7ee9a3b755dd"
    )
    assert stored is not None
    assert (stored.status, stored.channel, stored.message_ts) == (
        "posted",
        CHANNEL,
        posts[0].response["ts"],
    )


def test_state_change_edits_the_message_and_says_so_in_the_thread(
    services: Any, slack: Any
) -> None:
    pipeline = services.pipeline
    pipeline.handle(_delivery(_sample(), 1))
    ts = slack.calls_to("chat.postMessage", ok=True)[0].response["ts"]
    changed = _sample()
    changed["finding"]["state"] = "INACTIVE"
    changed["finding"]["mute"] = "MUTED"

    assert pipeline.handle(_delivery(changed, 2)) is Outcome.UPDATED

    updates = slack.calls_to("chat.update", ok=True)
    assert len(updates) == 1
    assert updates[0].params["ts"] == ts
    summary = json.dumps(updates[0].params["blocks"])
    assert "Inactive \\u00b7 muted" in summary
    replies = slack.thread(CHANNEL, ts)
    assert len(replies) == 1
    assert "*State*: Active → Inactive" in replies[0].blocks[0]["text"]["text"]
    assert "*Mute*: Undefined → Muted" in replies[0].blocks[0]["text"]["text"]
    # Delivered again: nothing more.
    assert pipeline.handle(_delivery(changed, 3)) is Outcome.DUPLICATE
    assert len(slack.calls_to("chat.update")) == 1


def test_later_event_time_adds_a_thread_reply(services: Any, slack: Any) -> None:
    pipeline = services.pipeline
    pipeline.handle(_delivery(_sample(), 1))
    ts = slack.calls_to("chat.postMessage", ok=True)[0].response["ts"]
    again = _sample()
    again["finding"]["eventTime"] = "2026-05-12T10:44:07Z"

    assert pipeline.handle(_delivery(again, 2)) is Outcome.UPDATED

    replies = slack.thread(CHANNEL, ts)
    assert [reply.text for reply in replies] == ["Detected again (2 times in all)"]
    assert "seen 2 times" in json.dumps(slack.calls_to("chat.update")[0].params["blocks"])
    stored = services.store.get(services.store.recent(since=T0 - timedelta(days=9999))[0].key)
    assert stored.occurrences == 2
    assert stored.event_time == datetime(2026, 5, 12, 10, 14, 7, 512000, tzinfo=UTC)
    assert stored.last_event_time == datetime(2026, 5, 12, 10, 44, 7, tzinfo=UTC)


def test_older_notification_delivered_late_is_ignored(services: Any, slack: Any) -> None:
    pipeline = services.pipeline
    newer = _sample()
    newer["finding"]["state"] = "INACTIVE"
    pipeline.handle(_delivery(newer, 5))

    assert pipeline.handle(_delivery(_sample(), 1)) is Outcome.STALE

    assert slack.calls_to("chat.update") == []


def test_slack_down_then_back_posts_once_after(services: Any, slack: Any) -> None:
    pipeline = services.pipeline
    slack.set_down(True)

    assert pipeline.handle(_delivery(_sample(), 1)) is Outcome.FAILED
    assert pipeline.handle(_delivery(_sample(), 2)) is Outcome.FAILED

    slack.set_down(False)
    assert pipeline.handle(_delivery(_sample(), 3)) is Outcome.POSTED
    assert pipeline.handle(_delivery(_sample(), 4)) is Outcome.DUPLICATE
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1


def test_ok_false_from_slack_is_a_failure_not_a_post(services: Any, slack: Any) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")

    assert services.pipeline.handle(_delivery(_sample(), 1)) is Outcome.FAILED
    assert services.pipeline.handle(_delivery(_sample(), 2)) is Outcome.POSTED


def test_malformed_message_is_rejected_and_the_next_one_still_posts(
    services: Any, slack: Any, caplog: Any
) -> None:
    assert services.pipeline.handle(_delivery(b"{broken", 1)) is Outcome.REJECTED
    assert "rejected Pub/Sub message msg-1: not JSON" in caplog.text

    assert services.pipeline.handle(_delivery(_sample(), 2)) is Outcome.POSTED


def test_below_minimum_severity_is_stored_not_posted_until_it_escalates(
    services: Any, slack: Any
) -> None:
    services.pipeline.router = Router(CHANNEL, Severity.HIGH)
    low = _sample()
    low["finding"]["severity"] = "LOW"

    assert services.pipeline.handle(_delivery(low, 1)) is Outcome.FILTERED
    assert slack.calls_to("chat.postMessage") == []

    high = _sample()
    high["finding"]["severity"] = "HIGH"
    assert services.pipeline.handle(_delivery(high, 2)) is Outcome.POSTED


def test_routing_rule_sends_a_category_to_its_own_channel(services: Any, slack: Any) -> None:
    services.pipeline.router = Router(
        CHANNEL,
        Severity.LOW,
        [RoutingRule(channel="C0SHELLS", categories=["Reverse Shell"])],
    )

    services.pipeline.handle(_delivery(_sample("reverse_shell_v2.json"), 1))
    services.pipeline.handle(_delivery(_sample(), 2))

    channels = [call.params["channel"] for call in slack.calls_to("chat.postMessage", ok=True)]
    assert channels == ["C0SHELLS", CHANNEL]


def test_same_script_on_another_service_is_called_out(services: Any, slack: Any) -> None:
    services.pipeline.handle(_delivery(_sample(), 1))
    other = _sample()
    other["finding"]["name"] = other["finding"]["name"][:-4] + "ffff"
    other["finding"]["resourceName"] = (
        "//run.googleapis.com/projects/acme-prod/locations/us-central1/services/billing"
    )

    services.pipeline.handle(_delivery(other, 2))

    second = slack.calls_to("chat.postMessage", ok=True)[1]
    blocks = {b.get("block_id"): b for b in second.params["blocks"]}
    spread = blocks["finding.spread"]["text"]["text"]
    assert "Same script seen on 1 other resource" in spread
    assert "|service payments-api>" in spread


def test_hostile_finding_posts_nothing_live(services: Any, slack: Any) -> None:
    assert services.pipeline.handle(_delivery(sample_bytes("hostile_v2.json"), 1)) is Outcome.POSTED

    post = slack.calls_to("chat.postMessage", ok=True)[0]
    assert live_tokens(post.params["text"], post.params["blocks"]) == []


def test_a_finding_the_builder_fails_on_is_still_posted_short(
    services: Any, slack: Any, monkeypatch: Any
) -> None:
    import bot.pipeline as pipeline_module

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a field nobody expected")

    monkeypatch.setattr(pipeline_module, "build_finding_message", broken)

    assert services.pipeline.handle(_delivery(_sample(), 1)) is Outcome.POSTED

    post = slack.calls_to("chat.postMessage", ok=True)[0]
    assert "could not show this finding in full" in json.dumps(post.params["blocks"])
    assert live_tokens(post.params["text"], post.params["blocks"]) == []


def test_unknown_severity_is_posted_despite_the_minimum(services: Any, slack: Any) -> None:
    services.pipeline.router = Router(CHANNEL, Severity.CRITICAL)
    odd = _sample()
    odd["finding"]["severity"] = "ULTRA"

    assert services.pipeline.handle(_delivery(odd, 1)) is Outcome.POSTED


def test_first_matching_rule_decides_channel_and_threshold(services: Any, slack: Any) -> None:
    services.pipeline.router = Router(
        CHANNEL,
        Severity.LOW,
        [RoutingRule(channel="C0PRODSEC", projects=["acme-prod"], min_severity=Severity.CRITICAL)],
    )
    high = _sample("reverse_shell_v2.json")
    high["finding"]["severity"] = "HIGH"

    assert services.pipeline.handle(_delivery(high, 1)) is Outcome.FILTERED
    assert services.pipeline.handle(_delivery(_sample(), 2)) is Outcome.POSTED
    assert slack.calls_to("chat.postMessage", ok=True)[0].params["channel"] == "C0PRODSEC"
