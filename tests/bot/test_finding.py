from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.finding import (
    NotificationParseError,
    normalize_finding_name,
    parse_notification,
    record_to_json,
)
from bot.resources import RunKind
from bot.severity import Severity
from tests.conftest import sample_bytes

V2_NAME = (
    "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
    "23eeeb4347bdd26bfc6b7ee9a3b755dd"
)


def test_malicious_python_v2_fields() -> None:
    record = parse_notification(sample_bytes("malicious_python_v2.json"))

    assert record.key == V2_NAME
    assert record.category == "Execution: Malicious Python executed"
    assert record.severity is Severity.CRITICAL
    assert record.state == "ACTIVE"
    assert record.event_time == datetime(2026, 5, 12, 10, 14, 7, 512000, tzinfo=UTC)
    assert record.project_display_name == "acme-prod"
    assert record.project_number == "987654321098"
    assert record.organization_id == "123456789012"
    assert record.script_sha256 == (
        "fb25b756caf04c3aea513077939e50ea1072b2e6ca2c7858e970ad896606d423"
    )
    assert record.notification_config.endswith("/notificationConfigs/cloudrun-threats")
    assert record.unreadable_fields == ()
    target = record.cloud_run
    assert target is not None
    assert (target.kind, target.project, target.location, target.name) == (
        RunKind.SERVICE,
        "acme-prod",
        "us-central1",
        "payments-api",
    )
    # The resource names the service; the revision comes from the container label.
    assert target.revision == "payments-api-00042-xyz"


def test_v1_shape_with_snake_case_keys_maps_to_v2_name_and_v1_project() -> None:
    record = parse_notification(sample_bytes("malicious_python_v1.json"))

    assert record.key == (
        "organizations/123456789012/sources/11223344556677889900/locations/global/findings/"
        "7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
    )
    assert record.project_display_name == "acme-staging"
    assert record.severity is Severity.HIGH
    script = record.finding.processes[0].script
    assert script.partially_hashed is True
    assert int(script.hashed_size) == 104857
    target = record.cloud_run
    assert target is not None
    assert target.revision == "checkout-00007-q2w"
    assert target.revision_source == "resource name"


def test_job_execution_from_resource_name() -> None:
    record = parse_notification(sample_bytes("malicious_python_inline_job_v2.json"))

    target = record.cloud_run
    assert target is not None
    assert target.kind is RunKind.JOB
    assert target.name == "nightly-export"
    assert target.execution == "nightly-export-8k2xq"
    assert target.path == "projects/acme-prod/locations/europe-west1/jobs/nightly-export"


def test_bare_finding_without_envelope_is_accepted() -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))

    record = parse_notification(json.dumps(notification["finding"]))

    assert record.key == V2_NAME
    assert record.project_display_name == ""


def test_unknown_fields_are_ignored() -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    notification["finding"]["someFieldFromTheFuture"] = {"x": 1}
    notification["somethingElse"] = True

    record = parse_notification(json.dumps(notification))

    assert record.key == V2_NAME
    assert record.unreadable_fields == ()


def test_a_field_of_the_wrong_type_is_dropped_and_named() -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    notification["finding"]["processes"] = "not a list"
    notification["finding"]["severity"] = {"nested": True}

    record = parse_notification(json.dumps(notification))

    assert record.key == V2_NAME
    assert set(record.unreadable_fields) == {"finding.processes", "finding.severity"}
    assert record.severity is Severity.SEVERITY_UNSPECIFIED
    assert record.category == "Execution: Malicious Python executed"


def test_deleted_finding_flag() -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    notification["deletedFinding"] = True

    assert parse_notification(json.dumps(notification)).deleted is True


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"{}", "no finding"),
        (b'{"finding": {"category": "x"}}', "no valid name"),
        (b'{"finding": {"name": "../../etc/passwd", "category": "x"}}', "no valid name"),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
    ],
)
def test_unparseable_notifications_raise_our_error(body: bytes, reason: str) -> None:
    with pytest.raises(NotificationParseError, match=reason):
        parse_notification(body)


def test_redelivery_has_the_same_content_hash_and_a_change_does_not() -> None:
    raw = sample_bytes("malicious_python_v2.json")
    changed = json.loads(raw)
    changed["finding"]["state"] = "INACTIVE"

    first, again = parse_notification(raw), parse_notification(raw)
    assert first.content_hash == again.content_hash
    assert parse_notification(json.dumps(changed)).content_hash != first.content_hash


def test_record_round_trips_through_the_stored_json() -> None:
    record = parse_notification(sample_bytes("malicious_python_v1.json"))

    again = parse_notification(record_to_json(record))

    assert again.content_hash == record.content_hash
    assert again.project_display_name == "acme-staging"


def test_normalize_finding_name_leaves_v2_names_alone() -> None:
    assert normalize_finding_name(V2_NAME) == V2_NAME
    assert normalize_finding_name("projects/p/sources/1/findings/abc") == (
        "projects/p/sources/1/locations/global/findings/abc"
    )


@pytest.mark.parametrize(
    ("value", "expected_fields"), [(99, {"finding.severity"}), ("ULTRA", {"finding.severity"})]
)
def test_severity_outside_the_enum_is_unknown_and_named(
    value: Any, expected_fields: set[str]
) -> None:
    notification = json.loads(sample_bytes("malicious_python_v2.json"))
    notification["finding"]["severity"] = value

    record = parse_notification(json.dumps(notification))

    assert record.severity is Severity.SEVERITY_UNSPECIFIED
    assert expected_fields <= set(record.unreadable_fields)
