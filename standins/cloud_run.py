"""A Cloud Run Admin API v2 stand-in: Services, Revisions, Jobs, Executions and operations."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2

from standins import cloud_run_sample, cloud_run_update, operations
from standins.grpc_server import GrpcStandIn
from standins.recorder import CallRecorder, Refused, handlers

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_PARENT = re.compile(r"^projects/[^/]+/locations/[^/]+$")
_CONDITION = run_v2.Condition


class CloudRunStandIn:
    """Cloud Run resources in memory behind the real v2 gRPC services."""

    def __init__(self, caller: str = "responder@acme-prod.iam.gserviceaccount.com") -> None:
        self.caller = caller
        self.recorder = CallRecorder()
        self.operations = operations.OperationStore()
        self.services: dict[str, run_v2.Service] = {}
        self.revisions: dict[str, run_v2.Revision] = {}
        self.jobs: dict[str, run_v2.Job] = {}
        self.executions: dict[str, run_v2.Execution] = {}
        self.policies: dict[str, policy_pb2.Policy] = {}
        self.project_numbers: dict[str, str] = {}
        self._operation_errors: dict[str, list[tuple[grpc.StatusCode, str]]] = {}
        self._lock = threading.RLock()
        iam_get = (self._get_iam, iam_policy_pb2.GetIamPolicyRequest, policy_pb2.Policy)
        iam_set = (self._set_iam, iam_policy_pb2.SetIamPolicyRequest, policy_pb2.Policy)
        lro = operations.operations_pb2.Operation
        v2 = run_v2
        services: dict[str, dict[str, tuple[Any, Any, Any]]] = {
            "google.cloud.run.v2.Services": {
                "GetService": (self._get_service, v2.GetServiceRequest, v2.Service),
                "ListServices": (
                    self._list_services,
                    v2.ListServicesRequest,
                    v2.ListServicesResponse,
                ),
                "UpdateService": (self._update_service, v2.UpdateServiceRequest, lro),
                "DeleteService": (self._delete_service, v2.DeleteServiceRequest, lro),
                "GetIamPolicy": iam_get,
                "SetIamPolicy": iam_set,
                "TestIamPermissions": (
                    self._test_iam,
                    iam_policy_pb2.TestIamPermissionsRequest,
                    iam_policy_pb2.TestIamPermissionsResponse,
                ),
            },
            "google.cloud.run.v2.Revisions": {
                "GetRevision": (self._get_revision, v2.GetRevisionRequest, v2.Revision),
                "ListRevisions": (
                    self._list_revisions,
                    v2.ListRevisionsRequest,
                    v2.ListRevisionsResponse,
                ),
                "DeleteRevision": (self._delete_revision, v2.DeleteRevisionRequest, lro),
            },
            "google.cloud.run.v2.Jobs": {
                "GetJob": (self._get_job, v2.GetJobRequest, v2.Job),
                "ListJobs": (self._list_jobs, v2.ListJobsRequest, v2.ListJobsResponse),
                "GetIamPolicy": iam_get,
                "SetIamPolicy": iam_set,
            },
            "google.cloud.run.v2.Executions": {
                "GetExecution": (self._get_execution, v2.GetExecutionRequest, v2.Execution),
                "ListExecutions": (
                    self._list_executions,
                    v2.ListExecutionsRequest,
                    v2.ListExecutionsResponse,
                ),
                "CancelExecution": (self._cancel_execution, v2.CancelExecutionRequest, lro),
            },
        }
        table = {name: handlers(self.recorder, methods) for name, methods in services.items()}
        table[operations.SERVICE] = self.operations.method_handlers(self.recorder)
        self._server = GrpcStandIn(table)
        self.address = self._server.address
        self.requests = self.recorder.requests
        self.requests_to = self.recorder.requests_to
        self.fail_next = self.recorder.fail_next
        self.delay_next = self.recorder.delay_next

    @classmethod
    def sample_payments_api(cls) -> CloudRunStandIn:
        """Return a stand-in (not started) seeded with payments-api and nightly-export."""
        standin = cls()
        service, revisions = cloud_run_sample.payments_api()
        standin.add_service(service, revisions)
        standin.set_iam_policy(service.name, cloud_run_sample.payments_api_policy())
        job, executions = cloud_run_sample.nightly_export()
        standin.add_job(job, executions)
        standin.project_numbers[cloud_run_sample.PROJECT_NUMBER] = cloud_run_sample.PROJECT_ID
        return standin

    def start(self) -> CloudRunStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> CloudRunStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_service(self, service: run_v2.Service, revisions: Sequence[run_v2.Revision]) -> None:
        """Store a service and its revisions."""
        with self._lock:
            self.services[service.name] = run_v2.Service(service)
            for revision in revisions:
                self.revisions[revision.name] = run_v2.Revision(revision)

    def add_job(self, job: run_v2.Job, executions: Sequence[run_v2.Execution]) -> None:
        """Store a job and its executions."""
        with self._lock:
            self.jobs[job.name] = run_v2.Job(job)
            for execution in executions:
                self.executions[execution.name] = run_v2.Execution(execution)

    def set_iam_policy(self, resource: str, policy: policy_pb2.Policy) -> None:
        """Store the IAM policy of a service or job."""
        with self._lock:
            self.policies[resource] = policy

    def fail_next_operation(self, method: str, code: grpc.StatusCode, message: str) -> None:
        """Make the next operation started by ``method`` finish with an error, changing nothing."""
        with self._lock:
            self._operation_errors.setdefault(method, []).append((code, message))

    def _name(self, name: str) -> str:
        # Cloud Run accepts the project number wherever the project id goes.
        match = re.match(r"^projects/([^/]+)/", name)
        if match and match[1] in self.project_numbers:
            return f"projects/{self.project_numbers[match[1]]}/" + name[match.end() :]
        return name

    def _find(self, store: dict[str, _T], name: str, kind: str) -> _T:
        found = store.get(self._name(name))
        if found is None:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"{kind} {name!r} not found")
        return found

    def _finish(
        self,
        method: str,
        name: str,
        response: Any,
        apply: Callable[[], None],
        validate_only: bool = False,
    ) -> Any:
        location = "/".join(name.split("/")[:4])
        pb = type(response).pb(response)
        queued = self._operation_errors.get(method)
        if queued:
            return self.operations.finish(location, pb, pb, error=queued.pop(0))
        if not validate_only:
            apply()
        return self.operations.finish(location, pb, pb)

    def _get_service(self, request: run_v2.GetServiceRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            return self._find(self.services, request.name, "service")

    def _list_services(self, request: run_v2.ListServicesRequest, _: grpc.ServicerContext) -> Any:
        parent = _check_parent(request.parent)
        with self._lock:
            items = [s for n, s in self.services.items() if n.startswith(parent + "/")]
        page, token = _page(items, request.page_size, request.page_token)
        return run_v2.ListServicesResponse(services=page, next_page_token=token)

    def _update_service(self, request: run_v2.UpdateServiceRequest, _: grpc.ServicerContext) -> Any:
        requested = request.service
        if not cloud_run_update.SERVICE_NAME.match(self._name(requested.name)):
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid name {requested.name!r}")
        with self._lock:
            name = self._name(requested.name)
            current = self.services.get(name)
            if current is None:
                if not request.allow_missing:
                    raise Refused(grpc.StatusCode.NOT_FOUND, f"service {name!r} not found")
                current = run_v2.Service(name=name, generation=0, create_time=_now())
            if requested.etag and requested.etag != current.etag:
                raise Refused(grpc.StatusCode.ABORTED, "etag mismatch: the service has changed")
            mask = list(request.update_mask.paths) if "update_mask" in request else []
            updated = cloud_run_update.merge(current, requested, mask)
            own = {n.rsplit("/", 1)[-1] for n, r in self.revisions.items() if r.service == name}
            now = _now()
            updated.generation = current.generation + 1
            updated.observed_generation = updated.generation
            new_revision = None
            if cloud_run_update.template_changed(current.template, updated.template):
                short = cloud_run_update.revision_name(updated, updated.generation, own)
                new_revision = cloud_run_update.build_revision(updated, short, now, self.caller)
                updated.latest_created_revision = new_revision.name
                updated.latest_ready_revision = new_revision.name
                own.add(short)
            if not updated.traffic:
                updated.traffic = [
                    run_v2.TrafficTarget(
                        type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
                        percent=100,
                    )
                ]
            cloud_run_update.check_traffic(list(updated.traffic), own)
            updated.traffic_statuses = cloud_run_update.traffic_statuses(updated)
            updated.update_time = now
            updated.last_modifier = self.caller
            updated.etag = cloud_run_update.new_etag()

            def apply() -> None:
                self.services[name] = updated
                if new_revision is not None:
                    self.revisions[new_revision.name] = new_revision
                    logger.info("service %s now at revision %s", name, new_revision.name)

            return self._finish("UpdateService", name, updated, apply, request.validate_only)

    def _delete_service(self, request: run_v2.DeleteServiceRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            service = self._find(self.services, request.name, "service")
            _check_etag(request.etag, service.etag)

            def apply() -> None:
                del self.services[service.name]
                for name in [n for n, r in self.revisions.items() if r.service == service.name]:
                    del self.revisions[name]

            return self._finish(
                "DeleteService", service.name, service, apply, request.validate_only
            )

    def _get_iam(self, request: iam_policy_pb2.GetIamPolicyRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            self._resource(request.resource)
            return self.policies.get(self._name(request.resource), policy_pb2.Policy(version=1))

    def _set_iam(self, request: iam_policy_pb2.SetIamPolicyRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            name = self._resource(request.resource)
            current = self.policies.get(name, policy_pb2.Policy(version=1))
            if request.policy.etag and request.policy.etag != current.etag:
                raise Refused(grpc.StatusCode.ABORTED, "etag mismatch: the policy has changed")
            policy = policy_pb2.Policy()
            policy.CopyFrom(request.policy)
            policy.etag = cloud_run_update.new_etag().encode()
            self.policies[name] = policy
            return policy

    def _test_iam(
        self, request: iam_policy_pb2.TestIamPermissionsRequest, _: grpc.ServicerContext
    ) -> Any:
        with self._lock:
            self._resource(request.resource)
        return iam_policy_pb2.TestIamPermissionsResponse(permissions=list(request.permissions))

    def _resource(self, resource: str) -> str:
        name = self._name(resource)
        if name not in self.services and name not in self.jobs:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"resource {resource!r} not found")
        return name

    def _get_revision(self, request: run_v2.GetRevisionRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            return self._find(self.revisions, request.name, "revision")

    def _list_revisions(self, request: run_v2.ListRevisionsRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            service = self._find(self.services, request.parent, "service")
            items = [r for r in self.revisions.values() if r.service == service.name]
        items.sort(key=lambda r: r.create_time, reverse=True)
        page, token = _page(items, request.page_size, request.page_token)
        return run_v2.ListRevisionsResponse(revisions=page, next_page_token=token)

    def _delete_revision(
        self, request: run_v2.DeleteRevisionRequest, _: grpc.ServicerContext
    ) -> Any:
        with self._lock:
            revision = self._find(self.revisions, request.name, "revision")
            _check_etag(request.etag, revision.etag)
            service = self.services.get(revision.service)
            short = revision.name.rsplit("/", 1)[-1]
            if service is not None and short in cloud_run_update.serving_revisions(service):
                raise Refused(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"revision {short!r} is serving traffic and cannot be deleted",
                )

            def apply() -> None:
                del self.revisions[revision.name]

            return self._finish(
                "DeleteRevision", revision.name, revision, apply, request.validate_only
            )

    def _get_job(self, request: run_v2.GetJobRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            return self._find(self.jobs, request.name, "job")

    def _list_jobs(self, request: run_v2.ListJobsRequest, _: grpc.ServicerContext) -> Any:
        parent = _check_parent(request.parent)
        with self._lock:
            items = [j for n, j in self.jobs.items() if n.startswith(parent + "/")]
        page, token = _page(items, request.page_size, request.page_token)
        return run_v2.ListJobsResponse(jobs=page, next_page_token=token)

    def _get_execution(self, request: run_v2.GetExecutionRequest, _: grpc.ServicerContext) -> Any:
        with self._lock:
            return self._find(self.executions, request.name, "execution")

    def _list_executions(
        self, request: run_v2.ListExecutionsRequest, _: grpc.ServicerContext
    ) -> Any:
        with self._lock:
            job = self._find(self.jobs, request.parent, "job")
            # Execution.job holds the job's short name; accept the full name too.
            names = {job.name, job.name.rsplit("/", 1)[-1]}
            items = [e for e in self.executions.values() if e.job in names]
        items.sort(key=lambda e: e.create_time, reverse=True)
        page, token = _page(items, request.page_size, request.page_token)
        return run_v2.ListExecutionsResponse(executions=page, next_page_token=token)

    def _cancel_execution(
        self, request: run_v2.CancelExecutionRequest, _: grpc.ServicerContext
    ) -> Any:
        with self._lock:
            execution = self._find(self.executions, request.name, "execution")
            _check_etag(request.etag, execution.etag)
            if "completion_time" in execution:
                raise Refused(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"execution {execution.name!r} has already finished",
                )
            cancelled = _cancelled(execution)

            def apply() -> None:
                self.executions[execution.name] = cancelled

            return self._finish(
                "CancelExecution", execution.name, cancelled, apply, request.validate_only
            )


def _cancelled(execution: run_v2.Execution) -> run_v2.Execution:
    now = _now()
    done = execution.succeeded_count + execution.failed_count
    cancelled = run_v2.Execution(execution)
    cancelled.cancelled_count = max(execution.task_count - done, 0)
    cancelled.running_count = 0
    cancelled.completion_time = now
    cancelled.update_time = now
    cancelled.etag = cloud_run_update.new_etag()
    cancelled.conditions = [
        c for c in execution.conditions if c.type_ not in ("Completed", "ResourcesAvailable")
    ] + [
        _CONDITION(
            type_="Completed",
            state=_CONDITION.State.CONDITION_FAILED,
            execution_reason=_CONDITION.ExecutionReason.CANCELLED,
            message="The execution was cancelled.",
            last_transition_time=now,
        )
    ]
    return cancelled


def _check_parent(parent: str) -> str:
    if not _PARENT.match(parent):
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"invalid parent {parent!r}")
    return parent


def _check_etag(wanted: str, actual: str) -> None:
    if wanted and wanted != actual:
        raise Refused(grpc.StatusCode.ABORTED, "etag mismatch: the resource has changed")


def _page(items: list[_T], page_size: int, page_token: str) -> tuple[list[_T], str]:
    try:
        start = int(page_token or "0")
    except ValueError:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "invalid page_token") from None
    size = page_size or 100
    end = start + size
    return items[start:end], str(end) if end < len(items) else ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
