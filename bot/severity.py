"""SCC severities, ordered so that thresholds can be compared."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    SEVERITY_UNSPECIFIED = "SEVERITY_UNSPECIFIED"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        """Return whether this severity meets ``threshold``."""
        return self.rank >= threshold.rank

    @classmethod
    def parse(cls, value: str | None) -> Severity:
        """Map SCC's name (any case) to a Severity; unknown names are unspecified."""
        try:
            return cls((value or "").strip().upper())
        except ValueError:
            return cls.SEVERITY_UNSPECIFIED


_RANK = {
    Severity.SEVERITY_UNSPECIFIED: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}
