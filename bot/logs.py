"""Logging: JSON lines with ``severity`` on Google Cloud, readable lines elsewhere."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

# Fields a log call may attach with ``extra=`` that the JSON form carries through.
_EXTRA_FIELDS = ("finding", "outcome", "action", "user", "resource", "correlation_id", "audit")
_ON_GOOGLE_CLOUD = ("GAE_ENV", "K_SERVICE", "CLOUD_RUN_JOB", "GAE_SERVICE")


class CloudJsonFormatter(logging.Formatter):
    """Format records as the JSON lines Cloud Logging parses into structured entries."""

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
        }
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        trace = getattr(record, "trace", None)
        if trace and self.project:
            # Cloud Logging groups entries of one request by this field.
            entry["logging.googleapis.com/trace"] = f"projects/{self.project}/traces/{trace}"
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", log_format: str = "auto") -> None:
    """Set up the root logger once, for the bot's process."""
    use_json = log_format == "json" or (
        log_format == "auto" and any(name in os.environ for name in _ON_GOOGLE_CLOUD)
    )
    handler = logging.StreamHandler(sys.stderr)
    if use_json:
        handler.setFormatter(CloudJsonFormatter(os.environ.get("GOOGLE_CLOUD_PROJECT")))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The client libraries log every retry and lease at INFO; keep our own lines readable.
    for noisy in ("google.cloud.pubsub_v1", "urllib3", "slack_bolt.App", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
