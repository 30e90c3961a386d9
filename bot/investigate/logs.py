"""Logs: one page of the revision's or job's entries around the event time."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.logging_v2 import types as logging_types
from google.protobuf import json_format

from bot import links
from bot.clients import GoogleClients
from bot.config import Settings
from bot.errors import UserFacingError
from bot.finding import FindingRecord
from bot.investigate.errors import Api, google_errors
from bot.investigate.query import rfc3339
from bot.resources import CloudRunTarget, RunKind

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
CALL_TIMEOUT = 20.0
_SEVERITY = logging_types.LogEntry.pb().DESCRIPTOR.fields_by_name["severity"].enum_type


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime | None
    severity: str
    text: str


@dataclass(frozen=True)
class LogsResult:
    """One page of log entries and the links that show the rest."""

    target: CloudRunTarget
    query: str
    start: datetime | None
    end: datetime | None
    lines: tuple[LogLine, ...]
    more: bool
    explorer_url: str
    own_log_url: str  # the revision's or execution's log link, when Cloud Run gives one


def fetch_logs(clients: GoogleClients, settings: Settings, record: FindingRecord) -> LogsResult:
    """Read the first page of the target's log entries around the event time."""
    target = record.cloud_run
    if target is None:
        raise UserFacingError(":information_source: The finding names no Cloud Run resource.")
    window = timedelta(minutes=settings.logs_window_minutes)
    query = links.logs_query(target)
    around = record.event_time
    start = end = None
    bounded = query
    if around is not None:
        start, end = around - window, around + window
        # Explicit bounds: without them the client library silently adds "the last 24 h".
        bounded += f'\ntimestamp>="{rfc3339(start)}"\ntimestamp<="{rfc3339(end)}"'
    request = logging_types.ListLogEntriesRequest(
        resource_names=[f"projects/{target.project}"],
        filter=bounded,
        order_by="timestamp asc",
        page_size=PAGE_SIZE,
    )
    with google_errors(Api.LOGGING, f"read the logs of project {target.project}"):
        pager = clients.logging.list_log_entries(request=request, timeout=CALL_TIMEOUT)
        first = next(iter(pager.pages))
    lines = tuple(_line(entry) for entry in list(first.entries)[:PAGE_SIZE])
    return LogsResult(
        target=target,
        query=bounded,
        start=start,
        end=end,
        lines=lines,
        more=bool(first.next_page_token),
        explorer_url=links.logs_explorer_url(
            target, around=around, window=window, query=query, base=settings.gcp_console_url
        ),
        own_log_url=_own_log_url(clients, settings, target),
    )


def _own_log_url(clients: GoogleClients, settings: Settings, target: CloudRunTarget) -> str:
    """Return the revision's or execution's log_uri when it points at the console."""
    try:
        if target.kind is RunKind.SERVICE and target.revision:
            uri = clients.revisions.get_revision(
                name=target.revision_path, timeout=CALL_TIMEOUT
            ).log_uri
        elif target.kind is RunKind.JOB and target.execution:
            uri = clients.executions.get_execution(
                name=target.execution_path, timeout=CALL_TIMEOUT
            ).log_uri
        else:
            return ""
    except gexc.GoogleAPICallError as exc:
        # The log page answers the button; a missing extra link is not worth an error.
        logger.info("no log link for %s: %s", target.path, exc.message)
        return ""
    base = settings.gcp_console_url.rstrip("/") + "/"
    return uri if uri.startswith(base) and " " not in uri and "|" not in uri else ""


def _line(entry: logging_types.LogEntry) -> LogLine:
    raw = logging_types.LogEntry.pb(entry)
    severity = _SEVERITY.values_by_number.get(raw.severity)
    moment = raw.timestamp.ToDatetime(tzinfo=UTC) if raw.HasField("timestamp") else None
    return LogLine(
        timestamp=moment,
        severity=severity.name if severity is not None else str(raw.severity),
        text=_text(raw),
    )


def _text(raw: Any) -> str:
    payload = raw.WhichOneof("payload")
    if payload == "text_payload":
        return str(raw.text_payload)
    if payload == "json_payload":
        fields = json_format.MessageToDict(raw.json_payload)
        message = str(fields.pop("message", ""))
        rest = json.dumps(fields, separators=(",", ":"), sort_keys=True) if fields else ""
        return f"{message} {rest}".strip()
    if payload == "proto_payload":
        return "(structured audit payload)"
    request = raw.http_request
    if request.request_method:
        return f"{request.request_method} {request.request_url} → {request.status}"
    return ""
