"""The Cloud Run stand-in through the official run_v2 clients."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import run_v2
from google.cloud.run_v2.services.executions.transports import ExecutionsGrpcTransport
from google.cloud.run_v2.services.jobs.transports import JobsGrpcTransport
from google.cloud.run_v2.services.revisions.transports import RevisionsGrpcTransport
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.iam.v1 import iam_policy_pb2, policy_pb2

from standins import cloud_run_sample
from standins.cloud_run import CloudRunStandIn

SERVICE = cloud_run_sample.SERVICE
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
PINNED = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION


@pytest.fixture
def run() -> Iterator[CloudRunStandIn]:
    with CloudRunStandIn.sample_payments_api() as standin:
        yield standin


@pytest.fixture
def channel(run: CloudRunStandIn) -> Iterator[grpc.Channel]:
    channel = grpc.insecure_channel(run.address)
    yield channel
    channel.close()


@pytest.fixture
def services(channel: grpc.Channel) -> run_v2.ServicesClient:
    return run_v2.ServicesClient(transport=ServicesGrpcTransport(channel=channel))


@pytest.fixture
def revisions(channel: grpc.Channel) -> run_v2.RevisionsClient:
    return run_v2.RevisionsClient(transport=RevisionsGrpcTransport(channel=channel))


def _revision_names(revisions: run_v2.RevisionsClient) -> list[str]:
    return [r.name.rsplit("/", 1)[-1] for r in revisions.list_revisions(parent=SERVICE)]


def test_get_service_by_id_or_number(services: run_v2.ServicesClient) -> None:
    by_number = SERVICE.replace("acme-prod", cloud_run_sample.PROJECT_NUMBER, 1)

    service = services.get_service(name=by_number)

    assert service.name == SERVICE
    assert service.template.containers[0].image == cloud_run_sample.IMAGE
    assert service.traffic_statuses[0].revision == "payments-api-00042-xyz"
    assert service.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL
    with pytest.raises(exceptions.NotFound):
        services.get_service(name=SERVICE + "-gone")


def test_template_update_creates_revision_and_moves_latest_traffic(
    run: CloudRunStandIn, services: run_v2.ServicesClient, revisions: run_v2.RevisionsClient
) -> None:
    service = services.get_service(name=SERVICE)
    service.template.revision = ""
    service.template.containers[0].env.append(run_v2.EnvVar(name="QUARANTINE", value="1"))

    updated = services.update_service(service=service).result(timeout=5)

    assert updated.generation == 43
    assert updated.etag != service.etag
    assert updated.last_modifier == run.caller
    new = updated.latest_ready_revision.rsplit("/", 1)[-1]
    assert new.startswith("payments-api-00043-")
    assert updated.traffic_statuses[0].revision == new
    assert updated.traffic_statuses[0].percent == 100
    assert len(_revision_names(revisions)) == 3
    stored = revisions.get_revision(name=updated.latest_ready_revision)
    assert stored.containers[0].env[-1].name == "QUARANTINE"
    assert stored.service_account == cloud_run_sample.RUNTIME_ACCOUNT


def test_traffic_only_update_creates_no_revision(
    services: run_v2.ServicesClient, revisions: run_v2.RevisionsClient
) -> None:
    service = services.get_service(name=SERVICE)
    del service.traffic[:]
    service.traffic.append(
        run_v2.TrafficTarget(type_=PINNED, revision="payments-api-00041-abc", percent=100)
    )

    updated = services.update_service(service=service).result(timeout=5)

    assert _revision_names(revisions) == ["payments-api-00042-xyz", "payments-api-00041-abc"]
    assert [(s.revision, s.percent) for s in updated.traffic_statuses] == [
        ("payments-api-00041-abc", 100)
    ]
    assert updated.generation == 43


@pytest.mark.parametrize(
    ("targets", "error"),
    [
        ([run_v2.TrafficTarget(type_=LATEST, percent=90)], "add up to 90"),
        (
            [run_v2.TrafficTarget(type_=PINNED, revision="payments-api-00007-old", percent=100)],
            "exist",
        ),
    ],
)
def test_bad_traffic_is_refused(
    services: run_v2.ServicesClient, targets: list[run_v2.TrafficTarget], error: str
) -> None:
    service = services.get_service(name=SERVICE)
    del service.traffic[:]
    service.traffic.extend(targets)

    with pytest.raises(exceptions.InvalidArgument, match=error):
        services.update_service(service=service)


def test_stale_etag_and_taken_revision_name(
    run: CloudRunStandIn, services: run_v2.ServicesClient
) -> None:
    service = services.get_service(name=SERVICE)
    services.update_service(service=service).result(timeout=5)

    with pytest.raises(exceptions.Aborted):
        services.update_service(service=service)

    fresh = services.get_service(name=SERVICE)
    fresh.template.revision = "payments-api-00041-abc"
    with pytest.raises(exceptions.AlreadyExists):
        services.update_service(service=fresh)
    assert run.requests_to("UpdateService")[1].service.etag == service.etag


def test_operation_error_raises_from_result(
    run: CloudRunStandIn, services: run_v2.ServicesClient
) -> None:
    run.fail_next_operation("UpdateService", grpc.StatusCode.PERMISSION_DENIED, "denied by org")
    service = services.get_service(name=SERVICE)

    operation = services.update_service(service=service)

    with pytest.raises(exceptions.GoogleAPICallError, match="denied by org"):
        operation.result(timeout=5)
    assert services.get_service(name=SERVICE).etag == service.etag
    polled = services.get_operation(request={"name": operation.operation.name})
    assert polled.done
    assert polled.error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert polled.metadata.Is(run_v2.Service.pb().DESCRIPTOR)


def test_iam_policy_with_etag(services: run_v2.ServicesClient) -> None:
    policy = services.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(resource=SERVICE))
    assert ["allUsers"] in [list(b.members) for b in policy.bindings]
    del policy.bindings[0]

    saved = services.set_iam_policy(
        request=iam_policy_pb2.SetIamPolicyRequest(resource=SERVICE, policy=policy)
    )

    assert [b.role for b in saved.bindings] == ["roles/run.developer"]
    assert saved.etag != policy.etag
    with pytest.raises(exceptions.Aborted):
        services.set_iam_policy(
            request=iam_policy_pb2.SetIamPolicyRequest(resource=SERVICE, policy=policy)
        )


def test_delete_revision(run: CloudRunStandIn, revisions: run_v2.RevisionsClient) -> None:
    with pytest.raises(exceptions.FailedPrecondition, match="serving traffic"):
        revisions.delete_revision(name=f"{SERVICE}/revisions/payments-api-00042-xyz")
    spare = run_v2.Revision(run.revisions[f"{SERVICE}/revisions/payments-api-00041-abc"])
    spare.name = f"{SERVICE}/revisions/payments-api-00040-qrs"
    run.add_service(run.services[SERVICE], [spare])

    deleted = revisions.delete_revision(name=spare.name).result(timeout=5)

    assert deleted.name == spare.name
    assert "payments-api-00040-qrs" not in _revision_names(revisions)


def test_jobs_and_cancel_execution(run: CloudRunStandIn, channel: grpc.Channel) -> None:
    jobs = run_v2.JobsClient(transport=JobsGrpcTransport(channel=channel))
    executions = run_v2.ExecutionsClient(transport=ExecutionsGrpcTransport(channel=channel))
    job = jobs.get_job(name=cloud_run_sample.JOB)
    listed = list(executions.list_executions(parent=job.name))
    running, finished = listed

    cancelled = executions.cancel_execution(name=running.name).result(timeout=5)

    assert cancelled.cancelled_count == 3
    assert cancelled.running_count == 0
    assert cancelled.conditions[-1].execution_reason == run_v2.Condition.ExecutionReason.CANCELLED
    with pytest.raises(exceptions.FailedPrecondition):
        executions.cancel_execution(name=finished.name)
    assert [j.name for j in jobs.list_jobs(parent=cloud_run_sample.LOCATION)] == [job.name]
    policy = jobs.get_iam_policy(request={"resource": job.name})
    assert policy == policy_pb2.Policy(version=1)


def test_injected_deadline(run: CloudRunStandIn, services: run_v2.ServicesClient) -> None:
    run.fail_next("GetService", grpc.StatusCode.DEADLINE_EXCEEDED, count=2)

    for _ in range(2):
        with pytest.raises(exceptions.DeadlineExceeded):
            services.get_service(name=SERVICE, retry=None)

    assert services.get_service(name=SERVICE).name == SERVICE
    assert len(run.requests_to("GetService")) == 3
