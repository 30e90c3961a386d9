"""The /metrics endpoint counts findings by outcome and times each one and each action."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import METRICS, Metrics
from bot.pipeline import Delivery, Outcome
from tests.conftest import sample_bytes


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"pubsub_push_verify": False}


def _scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(f"{base_url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def _push(base_url: str, data: bytes, message_id: str) -> int:
    envelope = {
        "message": {"data": base64.b64encode(data).decode(), "messageId": message_id},
        "subscription": "projects/acme-sec/subscriptions/scc-findings-push",
    }
    response = requests.post(f"{base_url}/pubsub/push", data=json.dumps(envelope), timeout=10)
    return response.status_code


def test_findings_are_counted_and_timed_by_outcome(
    services: Any, bot_server: str, slack: Any
) -> None:
    before = _scrape(bot_server)

    assert _push(bot_server, sample_bytes("malicious_python_v2.json"), "m1") == 204
    assert _push(bot_server, sample_bytes("malicious_python_v2.json"), "m2") == 204
    assert _push(bot_server, b'{"not": "a finding"}', "m3") == 204
    slack.fail_next("chat.postMessage", error="channel_not_found")
    assert _push(bot_server, sample_bytes("reverse_shell_v2.json"), "m4") == 503

    after = _scrape(bot_server)
    received = "scc_findings_received_total"
    assert _delta(before, after, received, outcome="posted") == 1
    assert _delta(before, after, received, outcome="duplicate") == 1
    assert _delta(before, after, received, outcome="rejected") == 1
    assert _delta(before, after, received, outcome="failed") == 1
    assert _delta(before, after, "scc_findings_posted_total") == 1
    assert _delta(before, after, "scc_findings_deduplicated_total") == 1
    assert _delta(before, after, "scc_findings_failed_total") == 1
    handled = "scc_finding_handle_seconds"
    for outcome in ("posted", "duplicate", "rejected", "failed"):
        assert _delta(before, after, f"{handled}_count", outcome=outcome) == 1
    # Posting went through a real HTTP round trip to the stand-in: it took measurable time.
    assert _delta(before, after, f"{handled}_sum", outcome="posted") > 0
    assert _delta(before, after, f"{handled}_bucket", outcome="posted", le="+Inf") == 1
    assert len(slack.calls_to("chat.postMessage", ok=True)) == 1


def test_pipeline_handle_observes_latency_directly(services: Any) -> None:
    before = _histogram_count(METRICS, "posted")

    outcome = services.pipeline.handle(
        Delivery(data=sample_bytes("malicious_python_v2.json"), message_id="m1")
    )

    assert outcome is Outcome.POSTED
    assert _histogram_count(METRICS, "posted") == before + 1


def test_track_action_counts_results_and_times_them() -> None:
    metrics = Metrics()

    with metrics.track_action("contain.scale_to_zero"):
        pass
    with pytest.raises(RuntimeError), metrics.track_action("contain.scale_to_zero"):
        raise RuntimeError("Cloud Run refused")

    registry = metrics.registry
    labels = {"action": "contain.scale_to_zero"}
    assert registry.get_sample_value("scc_actions_executed_total", {**labels, "result": "ok"}) == 1
    assert (
        registry.get_sample_value("scc_actions_executed_total", {**labels, "result": "error"}) == 1
    )
    assert registry.get_sample_value("scc_action_seconds_count", labels) == 2


def _histogram_count(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "scc_finding_handle_seconds_count", {"outcome": outcome}
    )
    return value or 0.0
