"""A Cloud Logging v2 stand-in serving ``google.logging.v2.LoggingServiceV2/ListLogEntries``."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from typing import Any

import grpc
from google.cloud.logging_v2 import types as logging_types

from standins import cloud_logging_sample, filters
from standins.grpc_server import GrpcStandIn
from standins.recorder import CallRecorder, Refused, handlers

logger = logging.getLogger(__name__)

SERVICE = "google.logging.v2.LoggingServiceV2"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_RESOURCE_NAME = re.compile(r"^(projects|organizations|folders|billingAccounts)/[^/]+$")
_LogEntry = logging_types.LogEntry
_TOP_FIELDS = set(_LogEntry.pb().DESCRIPTOR.fields_by_camelcase_name)


class LoggingStandIn:
    """Log entries in memory behind the real LoggingServiceV2 gRPC service."""

    def __init__(self) -> None:
        self.recorder = CallRecorder()
        self._entries: list[logging_types.LogEntry] = []
        self._lock = threading.Lock()
        table = {
            "ListLogEntries": (
                self._list_entries,
                logging_types.ListLogEntriesRequest,
                logging_types.ListLogEntriesResponse,
            ),
        }
        self._server = GrpcStandIn({SERVICE: handlers(self.recorder, table)})
        self.address = self._server.address
        self.requests = self.recorder.requests
        self.requests_to = self.recorder.requests_to
        self.fail_next = self.recorder.fail_next
        self.delay_next = self.recorder.delay_next

    def start(self) -> LoggingStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> LoggingStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_entry(self, log_entry: logging_types.LogEntry) -> None:
        """Store one log entry; its logName decides which projects list it."""
        with self._lock:
            self._entries.append(_LogEntry(log_entry))

    def sample_entries_for_payments_api(self) -> int:
        """Seed realistic payments-api entries around the reference finding; return the count."""
        entries = cloud_logging_sample.payments_api_entries()
        for entry in entries:
            self.add_entry(entry)
        return len(entries)

    def _list_entries(
        self, request: logging_types.ListLogEntriesRequest, _: grpc.ServicerContext
    ) -> logging_types.ListLogEntriesResponse:
        names = list(request.resource_names)
        if not names or not all(_RESOURCE_NAME.match(n) for n in names):
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource_names {names}")
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 1..{MAX_PAGE_SIZE}")
        descending = _descending(request.order_by)
        try:
            expr = filters.parse(request.filter, bare_values=True)
            _check_fields(expr)
            with self._lock:
                matching = [
                    e
                    for e in self._entries
                    if any(e.log_name.startswith(n + "/logs/") for n in names)
                    and filters.evaluate(expr, _resolver(e), fold_case=True)
                ]
        except filters.FilterError as exc:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid filter: {exc}") from exc
        # Entries with the same timestamp order by insertId, as Cloud Logging documents.
        matching.sort(key=lambda e: (e.timestamp, e.insert_id), reverse=descending)

        query_key = hashlib.sha256(
            "\n".join([*names, request.filter, request.order_by]).encode()
        ).hexdigest()[:12]
        start = _read_token(request.page_token, query_key)
        size = request.page_size or DEFAULT_PAGE_SIZE
        more = start + size < len(matching)
        token = (
            base64.urlsafe_b64encode(f"{start + size}:{query_key}".encode()).decode()
            if more
            else ""
        )
        return logging_types.ListLogEntriesResponse(
            entries=matching[start : start + size], next_page_token=token
        )


def _descending(order_by: str) -> bool:
    words = order_by.split()
    if not words:
        return False
    if words[0] != "timestamp" or len(words) > 2 or words[1:] not in ([], ["asc"], ["desc"]):
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid order_by {order_by!r}")
    return words[1:] == ["desc"]


def _check_fields(expr: filters.Expr | None) -> None:
    for restriction in filters.restrictions(expr):
        top = restriction.field.split(".", 1)[0]
        if top not in _TOP_FIELDS:
            raise filters.FilterError(f"unknown field {restriction.field!r}")


def _resolver(entry: logging_types.LogEntry) -> filters.Resolver:
    raw = _LogEntry.pb(entry)

    def resolve(field: str) -> list[Any]:
        return filters.proto_values(raw, filters.field_path(field), camel=True)

    return resolve


def _read_token(token: str, query_key: str) -> int:
    if not token:
        return 0
    try:
        offset, key = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if key == query_key:
            return int(offset)
    except ValueError:
        pass  # falls through to the same refusal as a token from another query
    raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "page_token does not match the request")
