"""Sample Cloud Run log entries for payments-api around the reference finding (10:14:07Z)."""

from __future__ import annotations

import datetime as dt

from google.api import monitored_resource_pb2
from google.cloud.logging_v2 import types as logging_types
from google.logging.type import http_request_pb2, log_severity_pb2
from google.protobuf import duration_pb2, struct_pb2

PROJECT = "acme-prod"
REVISION = "payments-api-00042-xyz"
START = dt.datetime(2026, 5, 12, 10, 12, 0, tzinfo=dt.UTC)
HOSTILE_LINE = (
    "user-agent echoed: <!channel> `rm -rf /` ```payload``` <https://evil.example.invalid|login>"
)
_SEVERITY = log_severity_pb2.LogSeverity


def _resource() -> monitored_resource_pb2.MonitoredResource:
    return monitored_resource_pb2.MonitoredResource(
        type="cloud_run_revision",
        labels={
            "project_id": PROJECT,
            "service_name": "payments-api",
            "revision_name": REVISION,
            "configuration_name": "payments-api",
            "location": "us-central1",
        },
    )


def _entry(
    index: int, second: int, log: str, severity: int, **payload: object
) -> logging_types.LogEntry:
    moment = START + dt.timedelta(seconds=second)
    entry = logging_types.LogEntry(
        log_name=f"projects/{PROJECT}/logs/run.googleapis.com%2F{log}",
        resource=_resource(),
        timestamp=moment,
        receive_timestamp=moment + dt.timedelta(milliseconds=180),
        severity=severity,
        insert_id=f"66a1f{index:05d}b7c3",
        labels={"instanceId": "00f46b9285f1a4c9e0d7c4e1b2a3f4d5e6c7b8a9"},
        trace=f"projects/{PROJECT}/traces/4bf92f3577b34da6a3ce929d0e0e{index:04d}",
        **payload,
    )
    return entry


def _request(
    index: int, second: int, method: str, path: str, status: int
) -> logging_types.LogEntry:
    severity = (
        _SEVERITY.ERROR if status >= 500 else _SEVERITY.WARNING if status >= 400 else _SEVERITY.INFO
    )
    return _entry(
        index,
        second,
        "requests",
        severity,
        http_request=http_request_pb2.HttpRequest(
            request_method=method,
            request_url=f"https://payments-api-4k7q2xv3na-uc.a.run.app{path}",
            status=status,
            response_size=512 + index,
            user_agent="Go-http-client/2.0",
            remote_ip="198.51.100.23",
            latency=duration_pb2.Duration(nanos=38_000_000 + index * 1_000_000),
            protocol="HTTP/1.1",
        ),
    )


def _json(message: str, **fields: object) -> struct_pb2.Struct:
    payload = struct_pb2.Struct()
    payload.update({"message": message, **fields})
    return payload


def payments_api_entries() -> list[logging_types.LogEntry]:
    """Return ~30 entries from 10:12 to 10:17: requests, app logs and the attack's traces."""
    info, warning, error = _SEVERITY.INFO, _SEVERITY.WARNING, _SEVERITY.ERROR
    entries = [
        _request(0, 5, "POST", "/v1/charges", 200),
        _request(1, 11, "GET", "/healthz", 200),
        _entry(2, 12, "stdout", info, text_payload="charge ch_3PqA created for cus_8812"),
        _request(3, 19, "POST", "/v1/charges", 200),
        _entry(4, 25, "stdout", info, json_payload=_json("refund processed", refund_id="re_71")),
        _request(5, 33, "GET", "/v1/charges/ch_3PqA", 200),
        _request(6, 41, "POST", "/v1/webhooks/stripe", 400),
        _entry(7, 41, "stderr", warning, text_payload="webhook signature mismatch"),
        _request(8, 58, "GET", "/healthz", 200),
        _request(9, 66, "POST", "/v1/charges", 200),
        _entry(10, 70, "stdout", info, text_payload="charge ch_3PqB created for cus_9020"),
        _request(11, 85, "GET", "/debug/render?tpl=%7B%7Bconfig%7D%7D", 500),
        _entry(12, 85, "stderr", error, text_payload="jinja2.exceptions.UndefinedError in render"),
        _entry(13, 118, "stderr", warning, text_payload=HOSTILE_LINE),
        _request(14, 121, "POST", "/debug/render", 200),
        _entry(15, 124, "stdout", info, text_payload="render ok: template from request body"),
        _entry(
            16,
            126,
            "stderr",
            info,
            text_payload="subprocess started: python3 /tmp/.cache/update.py",
        ),
        _entry(
            17,
            127,
            "stderr",
            warning,
            json_payload=_json(
                "outbound fetch", url="http://malicious.example.invalid/p", bytes=4096
            ),
        ),
        _entry(18, 128, "stderr", error, text_payload="chmod 755 /tmp/.x"),
        _request(19, 140, "GET", "/healthz", 200),
        _request(20, 150, "POST", "/v1/charges", 200),
        _entry(21, 151, "stdout", info, text_payload="charge ch_3PqC created for cus_1177"),
        _request(22, 172, "POST", "/v1/charges", 502),
        _entry(23, 172, "stderr", error, text_payload="upstream connect error: 203.0.113.50:4444"),
        _request(24, 190, "GET", "/v1/charges/ch_3PqC", 200),
        _entry(25, 214, "stdout", info, json_payload=_json("payout batch queued", batch=88)),
        _request(26, 230, "GET", "/healthz", 200),
        _request(27, 255, "POST", "/v1/charges", 200),
        _entry(28, 262, "stdout", info, text_payload="charge ch_3PqD created for cus_4410"),
        _request(29, 290, "GET", "/v1/charges/ch_3PqD", 200),
    ]
    return entries
