"""Decide which channel a finding goes to, if any.

Rules are tried in order; the first whose categories and projects match decides the
channel, and its ``min_severity`` (or the global one) decides whether the finding is posted
at all. A finding no rule matches goes to the default channel under the global minimum.
Findings not posted are still stored, so the slash command finds them.
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
        channel, threshold = self.default_channel, self.min_severity
        for rule in self.rules:
            if rule.categories and record.category not in rule.categories:
                continue
            if rule.projects and project not in rule.projects:
                continue
            channel, threshold = rule.channel, rule.min_severity or self.min_severity
            break
        if _meets(record.severity, threshold):
            return channel
        logger.debug("finding %s below minimum severity %s", record.key, threshold)
        return None


def _meets(severity: Severity, threshold: Severity) -> bool:
    # A severity SCC did not say, or that this version cannot read, is shown rather than
    # dropped: silence is the wrong default for a security alert.
    return severity is Severity.SEVERITY_UNSPECIFIED or severity.at_least(threshold)


def _project(record: FindingRecord) -> str:
    target = record.cloud_run
    return record.project_display_name or (target.project if target else "")
