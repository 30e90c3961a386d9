"""Plans, execution and undo against the Cloud Run stand-in: the exact requests sent."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from google.cloud import run_v2
from google.iam.v1 import policy_pb2

from bot.clients import GoogleClients
from bot.config import Settings
from bot.containment.execute import Stale, execute_plans
from bot.containment.plan import ActionKind, plan_containment
from bot.containment.undo import undo_results
from bot.finding import FindingRecord, parse_notification
from standins.cloud_run import CloudRunStandIn
from standins.cloud_run_sample import JOB, SERVICE
from tests.conftest import sample_bytes

_ALLOCATION = run_v2.TrafficTargetAllocationType
OLD = "payments-api-00041-abc"
AFFECTED = "payments-api-00042-xyz"


@pytest.fixture
def google(run_standin: CloudRunStandIn) -> Iterator[GoogleClients]:
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        slack_channel="C0SECURITY",
        run_emulator_host=run_standin.address,
    )
    clients = GoogleClients(settings)
    yield clients
    clients.close()


@pytest.fixture
def record() -> FindingRecord:
    return parse_notification(sample_bytes("malicious_python_v2.json"))


def _mutations(run: CloudRunStandIn) -> list[Any]:
    return [
        *run.requests_to("UpdateService"),
        *run.requests_to("SetIamPolicy"),
        *run.requests_to("DeleteRevision"),
        *run.requests_to("CancelExecution"),
    ]


def test_service_plans_show_before_and_after(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    planning = plan_containment(google, record)

    plans = {p.action: p for p in planning.plans}
    assert list(plans) == [
        ActionKind.ROLLBACK_TRAFFIC,
        ActionKind.INGRESS_INTERNAL,
        ActionKind.REMOVE_PUBLIC_INVOKER,
        ActionKind.DISABLE_DEFAULT_URL,
        ActionKind.DELETE_REVISION,
    ]
    rollback = plans[ActionKind.ROLLBACK_TRAFFIC]
    assert rollback.etag == '"CMiPk8EGEPjb0tYD"'
    assert rollback.after == {
        "traffic": [{"type": "REVISION", "revision": OLD, "percent": 100, "tag": "previous"}]
    }
    assert rollback.change == (
        f"traffic: 100% latest ({AFFECTED}) → 100% {OLD} (tags kept: previous)"
    )
    assert plans[ActionKind.REMOVE_PUBLIC_INVOKER].change == "roles/run.invoker: remove allUsers"
    assert plans[ActionKind.REMOVE_PUBLIC_INVOKER].note == ""
    assert plans[ActionKind.DELETE_REVISION].before == {"revision": AFFECTED, "serving": True}
    assert _mutations(run_standin) == []


def test_invoker_plan_warns_when_invoker_iam_is_disabled(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    run_standin.services[SERVICE].invoker_iam_disabled = True

    planning = plan_containment(google, record)

    invoker = planning.only([ActionKind.REMOVE_PUBLIC_INVOKER])[0]
    assert "would not stop public calls" in invoker.note


def test_execute_sends_one_masked_update_with_the_planned_etag(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    revisions_before = set(run_standin.revisions)
    plans = plan_containment(google, record).only(
        [ActionKind.ROLLBACK_TRAFFIC, ActionKind.INGRESS_INTERNAL, ActionKind.DISABLE_DEFAULT_URL]
    )

    results = execute_plans(google, plans, timeout=5)

    assert [r.ok for r in results] == [True, True, True]
    (update,) = run_standin.requests_to("UpdateService")
    assert list(update.update_mask.paths) == ["traffic", "ingress", "default_uri_disabled"]
    assert update.service.etag == '"CMiPk8EGEPjb0tYD"'
    assert update.service.template.revision == ""
    assert [(t.type_, t.revision, t.percent, t.tag) for t in update.service.traffic] == [
        (_ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, OLD, 100, "previous")
    ]
    assert update.service.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY
    assert update.service.default_uri_disabled is True
    # Moving traffic never creates a revision.
    assert set(run_standin.revisions) == revisions_before
    live = run_standin.services[SERVICE]
    assert live.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY
    assert results[0].etag_after == live.etag


def test_invoker_removal_writes_the_policy_with_its_etag(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    plans = plan_containment(google, record).only([ActionKind.REMOVE_PUBLIC_INVOKER])

    execute_plans(google, plans, timeout=5)

    (request,) = run_standin.requests_to("SetIamPolicy")
    assert request.resource == SERVICE
    assert request.policy.etag == b"BwYlKxPm2aQ="
    assert [(b.role, list(b.members)) for b in request.policy.bindings] == [
        ("roles/run.developer", ["group:payments@acme.example"])
    ]


def test_changed_etag_stops_before_anything_is_sent(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    plans = plan_containment(google, record).only([ActionKind.INGRESS_INTERNAL])
    run_standin.services[SERVICE].etag = '"someone-else"'

    with pytest.raises(Stale):
        execute_plans(google, plans, timeout=5)

    assert _mutations(run_standin) == []


def test_operation_error_is_reported_as_failure(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    plans = plan_containment(google, record).only(
        [ActionKind.INGRESS_INTERNAL, ActionKind.REMOVE_PUBLIC_INVOKER]
    )
    run_standin.fail_next_operation(
        "UpdateService", grpc.StatusCode.FAILED_PRECONDITION, "ingress change refused"
    )

    results = execute_plans(google, plans, timeout=5)

    assert [(r.action, r.ok, r.error) for r in results] == [
        (ActionKind.INGRESS_INTERNAL, False, "ingress change refused")
    ]
    # It stopped at the failure: the IAM step never ran.
    assert run_standin.requests_to("SetIamPolicy") == []
    assert run_standin.services[SERVICE].ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL


def test_revision_is_deleted_after_traffic_moves_off_it(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    plans = plan_containment(google, record).only(
        [ActionKind.DELETE_REVISION, ActionKind.ROLLBACK_TRAFFIC]
    )

    results = execute_plans(google, plans, timeout=5)

    assert [(r.action, r.ok) for r in results] == [
        (ActionKind.ROLLBACK_TRAFFIC, True),
        (ActionKind.DELETE_REVISION, True),
    ]
    (delete,) = run_standin.requests_to("DeleteRevision")
    assert delete.name == f"{SERVICE}/revisions/{AFFECTED}"
    assert delete.etag == f'"etag-{AFFECTED}"'
    assert f"{SERVICE}/revisions/{AFFECTED}" not in run_standin.revisions


def test_deleting_a_serving_revision_fails_with_the_reason(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    plans = plan_containment(google, record).only([ActionKind.DELETE_REVISION])

    (result,) = execute_plans(google, plans, timeout=5)

    assert result.ok is False
    assert "serving traffic" in result.error


def test_undo_restores_what_was_replaced(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    original = run_v2.Service(run_standin.services[SERVICE])
    original_policy = policy_pb2.Policy()
    original_policy.CopyFrom(run_standin.policies[SERVICE])
    plans = plan_containment(google, record).only(
        [
            ActionKind.ROLLBACK_TRAFFIC,
            ActionKind.INGRESS_INTERNAL,
            ActionKind.REMOVE_PUBLIC_INVOKER,
            ActionKind.DISABLE_DEFAULT_URL,
        ]
    )
    results = execute_plans(google, plans, timeout=5)

    restored = undo_results(google, results, timeout=5)

    assert all(r.ok for r in restored)
    undo_update = run_standin.requests_to("UpdateService")[-1]
    assert undo_update.service.etag == results[0].etag_after
    assert list(undo_update.update_mask.paths) == ["traffic", "ingress", "default_uri_disabled"]
    live = run_standin.services[SERVICE]
    assert list(live.traffic) == list(original.traffic)
    assert live.ingress == original.ingress
    assert live.default_uri_disabled is False
    undo_policy = run_standin.requests_to("SetIamPolicy")[-1]
    invoker = next(r for r in results if r.action is ActionKind.REMOVE_PUBLIC_INVOKER)
    assert undo_policy.policy.etag == base64.b64decode(invoker.etag_after)
    assert list(run_standin.policies[SERVICE].bindings) == list(original_policy.bindings)


def test_undo_refuses_when_the_service_changed_since(
    google: GoogleClients, record: FindingRecord, run_standin: CloudRunStandIn
) -> None:
    plans = plan_containment(google, record).only([ActionKind.INGRESS_INTERNAL])
    results = execute_plans(google, plans, timeout=5)
    run_standin.services[SERVICE].etag = '"changed-later"'

    (restored,) = undo_results(google, results, timeout=5)

    assert restored.ok is False
    assert "changed since" in restored.error
    assert run_standin.services[SERVICE].ingress == (
        run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY
    )


def test_job_plan_cancels_running_executions_only(
    google: GoogleClients, run_standin: CloudRunStandIn
) -> None:
    record = parse_notification(sample_bytes("malicious_python_inline_job_v2.json"))
    assert record.cloud_run is not None

    # The stand-in's job runs in us-central1; the sample finding names europe-west1.
    target = replace(record.cloud_run, location="us-central1")

    planning = plan_containment(google, record, target)
    results = execute_plans(google, planning.plans, timeout=5)

    assert [p.action for p in planning.plans] == [ActionKind.CANCEL_EXECUTIONS]
    assert planning.plans[0].resource == JOB
    assert [r.ok for r in results] == [True]
    (cancel,) = run_standin.requests_to("CancelExecution")
    assert cancel.name == f"{JOB}/executions/nightly-export-7x2kq"
    assert cancel.etag == '"exec-7x2kq"'
