"""The Cloud Logging stand-in through the official logging_v2 client."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.api_core import exceptions
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)

from standins import cloud_logging_sample
from standins.cloud_logging import LoggingStandIn

PROJECT = "projects/acme-prod"


@pytest.fixture
def logs() -> Iterator[LoggingStandIn]:
    with LoggingStandIn() as standin:
        standin.sample_entries_for_payments_api()
        yield standin


@pytest.fixture
def client(logs: LoggingStandIn) -> Iterator[LoggingServiceV2Client]:
    channel = grpc.insecure_channel(logs.address)
    yield LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel))
    channel.close()


def _list(client: LoggingServiceV2Client, filter_: str, **kw: object) -> list[object]:
    request = {"resource_names": [PROJECT], "filter": filter_, **kw}
    return list(client.list_log_entries(request=request))


def test_time_bounds_and_labels(client: LoggingServiceV2Client) -> None:
    entries = _list(
        client,
        'resource.type="cloud_run_revision" '
        'AND resource.labels.service_name="payments-api" '
        'AND timestamp>="2026-05-12T10:14:05Z" AND timestamp<="2026-05-12T10:14:10Z"',
    )

    assert [e.insert_id for e in entries] == ["66a1f00016b7c3", "66a1f00017b7c3", "66a1f00018b7c3"]
    assert entries[0].resource.labels["revision_name"] == cloud_logging_sample.REVISION


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("severity>=ERROR", 5),
        ("severity=WARNING", 4),
        ('logName="projects/acme-prod/logs/run.googleapis.com%2Fstderr"', 7),
        ('textPayload:"<!channel>"', 1),
        ('textPayload:"PYTHON3"', 1),
        ('jsonPayload.url:"malicious.example.invalid"', 1),
        ("httpRequest.status>=500", 2),
        ('labels.instanceId:"00f46b"', 30),
        ("resource.labels.revision_name=payments-api-00042-xyz", 30),
        ("severity>=ERROR OR severity=WARNING", 9),
        ("NOT severity=INFO", 9),
        ('-logName:"requests" AND severity>=WARNING', 6),
    ],
)
def test_filter_forms(client: LoggingServiceV2Client, filter_: str, expected: int) -> None:
    assert len(_list(client, filter_)) == expected


def test_order_and_pages(logs: LoggingStandIn, client: LoggingServiceV2Client) -> None:
    newest_first = _list(client, "", order_by="timestamp desc", page_size=7)

    assert len(newest_first) == 30
    assert newest_first[0].timestamp > newest_first[-1].timestamp
    assert len(logs.requests_to("ListLogEntries")) == 5
    oldest_first = _list(client, "", order_by="timestamp asc")
    assert [e.insert_id for e in oldest_first] == [e.insert_id for e in reversed(newest_first)]


@pytest.mark.parametrize("filter_", ["nosuchfield=1", 'timestamp>="yesterday"', "severity>=LOUD"])
def test_bad_filters_are_invalid_argument(client: LoggingServiceV2Client, filter_: str) -> None:
    with pytest.raises(exceptions.InvalidArgument):
        _list(client, filter_)


def test_other_project_sees_nothing_and_faults(
    logs: LoggingStandIn, client: LoggingServiceV2Client
) -> None:
    assert list(client.list_log_entries(resource_names=["projects/other"])) == []
    logs.fail_next("ListLogEntries", grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")

    with pytest.raises(exceptions.ResourceExhausted, match="quota"):
        _list(client, "")

    assert logs.requests_to("ListLogEntries")[0].resource_names == ["projects/other"]


def test_delayed_answer_exceeds_the_deadline(
    logs: LoggingStandIn, client: LoggingServiceV2Client
) -> None:
    logs.delay_next("ListLogEntries", 0.5)

    with pytest.raises(exceptions.DeadlineExceeded):
        client.list_log_entries(request={"resource_names": [PROJECT]}, retry=None, timeout=0.1)

    assert len(_list(client, "severity>=ERROR")) == 5
