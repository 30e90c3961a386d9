"""Logging: JSON lines with ``severity`` on Google Cloud, readable lines elsewhere.

On Google Cloud each line carries the trace of the request it belongs to (from the
``X-Cloud-Trace-Context`` header), so Cloud Logging groups a request's lines under it, and
the finding being handled, so one query finds everything about a finding.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

# Fields a log call may attach with ``extra=`` that the JSON form carries through.
_EXTRA_FIELDS = ("finding", "outcome", "action", "user", "resource", "correlation_id", "audit")
_ON_GOOGLE_CLOUD = ("GAE_ENV", "K_SERVICE", "CLOUD_RUN_JOB", "GAE_SERVICE")
TRACE_HEADER = "X-Cloud-Trace-Context"
# TRACE_ID/SPAN_ID;o=OPTIONS, where the span and options are optional.
_TRACE_VALUE = re.compile(r"^(?P<trace>[0-9a-fA-F]{32})(?:/(?P<span>\d+))?(?:;o=(?P<o>[01]))?$")

R = TypeVar("R")


@dataclass(frozen=True)
class Trace:
    """The trace context of the request being served."""

    trace_id: str
    span_id: str | None = None
    sampled: bool = False


_current_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("trace", default=None)
_current_finding: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "finding", default=None
)


def parse_trace_header(value: str | None) -> Trace | None:
    """Return the trace named by an ``X-Cloud-Trace-Context`` value, or None if malformed."""
    match = _TRACE_VALUE.match((value or "").strip())
    if not match:
        return None
    return Trace(match["trace"].lower(), match["span"], match["o"] == "1")


def set_trace(header: str | None) -> contextvars.Token[Trace | None]:
    """Make the request's trace current; pass the returned token to ``reset_trace``."""
    return _current_trace.set(parse_trace_header(header))


def reset_trace(token: contextvars.Token[Trace | None]) -> None:
    _current_trace.reset(token)


def current_trace() -> Trace | None:
    return _current_trace.get()


def bind_finding(key: str) -> contextvars.Token[str | None]:
    """Tag the lines logged from here on with the finding's name, until ``unbind_finding``."""
    return _current_finding.set(key)


def unbind_finding(token: contextvars.Token[str | None]) -> None:
    _current_finding.reset(token)


@contextmanager
def finding_context(key: str) -> Iterator[None]:
    """Tag every line logged inside the block with the finding's name."""
    token = bind_finding(key)
    try:
        yield
    finally:
        unbind_finding(token)


class ContextFilter(logging.Filter):
    """Copy the current trace and finding onto each record, unless the call set them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace", None) is None:
            record.trace = _current_trace.get()
        if getattr(record, "finding", None) is None:
            record.finding = _current_finding.get()
        return True


class ContextExecutor(ThreadPoolExecutor):
    """A thread pool that runs each task in the context of the code that submitted it.

    Bolt runs listeners after the HTTP response on its own pool; without this their log
    lines would lose the trace of the request that caused them.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


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
        if isinstance(trace, Trace) and self.project:
            # Cloud Logging groups the entries of one request under this field.
            entry["logging.googleapis.com/trace"] = (
                f"projects/{self.project}/traces/{trace.trace_id}"
            )
            if trace.span_id:
                entry["logging.googleapis.com/spanId"] = trace.span_id
            entry["logging.googleapis.com/trace_sampled"] = trace.sampled
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One readable line, with the finding in brackets when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        finding = getattr(record, "finding", None)
        if finding and finding not in record.getMessage():
            line += f" [{finding}]"
        return line


def google_cloud_project() -> str | None:
    """Return the project the process runs in, from the variables the runtimes set."""
    return os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")


def configure_logging(
    level: str = "INFO", log_format: str = "auto", *, stream: Any = None
) -> logging.Handler:
    """Set up the root logger once, for the bot's process; return its handler."""
    use_json = log_format == "json" or (
        log_format == "auto" and any(name in os.environ for name in _ON_GOOGLE_CLOUD)
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    if use_json:
        handler.setFormatter(CloudJsonFormatter(google_cloud_project()))
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The client libraries log every retry and lease at INFO; keep our own lines readable.
    for noisy in ("google.cloud.pubsub_v1", "urllib3", "slack_bolt.App", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
