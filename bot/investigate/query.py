"""Build list filters from validated values: nothing from a finding is spliced raw."""

from __future__ import annotations

import re
from datetime import UTC, datetime

SHA256 = re.compile(r"^[0-9a-f]{64}$")
FINDING_NAME = re.compile(
    r"^(?:organizations|folders|projects)/[A-Za-z0-9\-]+/sources/[0-9\-]+"
    r"/locations/[a-z0-9\-]+/findings/[A-Za-z0-9_\-]+$"
)


def quoted(value: str, pattern: re.Pattern[str]) -> str:
    """Return ``value`` as a double-quoted filter string after checking it fits ``pattern``."""
    if not pattern.fullmatch(value):
        raise ValueError(f"refusing to put {value[:80]!r} in a filter")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def rfc3339(moment: datetime) -> str:
    """Return a UTC RFC 3339 timestamp with milliseconds, as both filters accept."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
