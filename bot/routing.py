"""Decide which channel a finding goes to, if any.

Rules are tried in order and the first match wins; a finding no rule matches goes to the
default channel. Findings below the minimum severity are stored but not posted, unless a
rule that matches them explicitly sets a lower ``min_severity``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.config import RoutingRule
from bot.finding import FindingRecord
from bot.severity import Severity

logger = logging.getLogger(__name__)


class Router:
    """Map findings to channels by severity, category and project."""

    def __init__(
        self, default_channel: str, min_severity: Severity, rules: Sequence[RoutingRule] = ()
    ) -> None:
        self.default_channel = default_channel
        self.min_severity = min_severity
        self.rules = tuple(rules)

    def channel_for(self, record: FindingRecord) -> str | None:
        """Return the channel for this finding, or None when it should not be posted."""
        project = _project(record)
        for rule in self.rules:
            if rule.categories and record.category not in rule.categories:
                continue
            if rule.projects and project not in rule.projects:
                continue
            threshold = rule.min_severity or self.min_severity
            if not record.severity.at_least(threshold):
                continue
            return rule.channel
        if record.severity.at_least(self.min_severity):
            return self.default_channel
        logger.debug("finding %s below minimum severity %s", record.key, self.min_severity)
        return None


def _project(record: FindingRecord) -> str:
    target = record.cloud_run
    return record.project_display_name or (target.project if target else "")
