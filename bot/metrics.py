"""Counters and latency histograms, exposed in Prometheus text format at /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


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
        self.handle_seconds = Histogram(
            "scc_finding_handle_seconds",
            "Time from receiving a notification to its outcome",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.actions_executed = Counter(
            "scc_actions_executed",
            "Slack actions and containment steps run, by action and result",
            ["action", "result"],
            registry=self.registry,
        )


METRICS = Metrics()
