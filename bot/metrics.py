"""Counters and latency histograms, exposed in Prometheus text format at /metrics.

The figures are per process: gunicorn runs one worker (see gunicorn.conf.py), so one
scrape sees everything that instance did. Across instances, sum in the monitoring system.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Outcomes (bot.pipeline.Outcome values) that count as a deduplicated or failed delivery.
_DEDUPLICATED = frozenset({"duplicate", "stale"})
_FAILED = frozenset({"failed"})


@dataclass
class Metrics:
    """The bot's own metrics, in a registry of their own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.findings_received = Counter(
            "scc_findings_received",
            "Notifications handled, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.findings_posted = Counter(
            "scc_findings_posted", "Findings posted to Slack", registry=self.registry
        )
        self.findings_deduplicated = Counter(
            "scc_findings_deduplicated",
            "Notifications that changed nothing: repeats and out-of-order older ones",
            registry=self.registry,
        )
        self.findings_failed = Counter(
            "scc_findings_failed",
            "Notifications that failed and were left for redelivery",
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "scc_finding_handle_seconds",
            "Time from receiving a notification to its outcome, by outcome",
            ["outcome"],
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.actions_executed = Counter(
            "scc_actions_executed",
            "Slack actions and containment steps run, by action and result",
            ["action", "result"],
            registry=self.registry,
        )
        self.action_seconds = Histogram(
            "scc_action_seconds",
            "Time an action or containment step took, by action",
            ["action"],
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )

    def observe_handled(self, outcome: str, seconds: float) -> None:
        """Count one delivery's outcome and record how long it took."""
        self.handle_seconds.labels(outcome=outcome).observe(seconds)
        if outcome in _DEDUPLICATED:
            self.findings_deduplicated.inc()
        elif outcome in _FAILED:
            self.findings_failed.inc()

    @contextmanager
    def track_action(self, action: str) -> Iterator[None]:
        """Time the block and count it as ``ok``, or ``error`` when it raises."""
        started = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            self.actions_executed.labels(action=action, result=result).inc()
            self.action_seconds.labels(action=action).observe(time.perf_counter() - started)


METRICS = Metrics()
