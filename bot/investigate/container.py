"""Container settings: what the Cloud Run service (and revision) or job runs, and how."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from google.api_core import exceptions as gexc
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2

from bot import links
from bot.clients import GoogleClients
from bot.config import Settings
from bot.errors import UserFacingError
from bot.finding import FindingRecord
from bot.investigate.errors import Api, google_errors
from bot.resources import CloudRunTarget, RunKind

logger = logging.getLogger(__name__)

CALL_TIMEOUT = 20.0
RECENT_EXECUTIONS = 5
REVISIONS_PAGE = 50
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
INVOKER_ROLES = ("roles/run.invoker", "roles/run.servicesInvoker")
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
_INGRESS = {
    run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL: "all traffic (internet)",
    run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY: "internal only",
    run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER: "internal + load balancer",
    run_v2.IngressTraffic.INGRESS_TRAFFIC_NONE: "none",
}
_EGRESS = {
    run_v2.VpcAccess.VpcEgress.ALL_TRAFFIC: "all traffic through the VPC",
    run_v2.VpcAccess.VpcEgress.PRIVATE_RANGES_ONLY: "private ranges only",
}
_ENVIRONMENT = {
    run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN1: "first generation",
    run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2: "second generation",
}


@dataclass(frozen=True)
class EnvName:
    """An environment variable by name; values are never read out."""

    name: str
    secret: str = ""  # "projects/…/secrets/NAME (version 7)" for a secret reference


@dataclass(frozen=True)
class ContainerImage:
    name: str
    image: str
    digest: str
    digest_source: str  # "image reference", "finding" or ""
    env: tuple[EnvName, ...]


@dataclass(frozen=True)
class TrafficShare:
    revision: str
    percent: int
    tag: str
    latest: bool


@dataclass(frozen=True)
class Change:
    """Who created and last changed a resource, and when."""

    creator: str
    created: datetime | None
    last_modifier: str
    updated: datetime | None


@dataclass(frozen=True)
class ServiceSettings:
    """A service and the revision the finding points at."""

    target: CloudRunTarget
    revision: str
    revision_source: str
    revision_note: str
    images: tuple[ContainerImage, ...]
    service_account: str
    ingress: str
    public_invokers: tuple[str, ...]
    invoker_iam_disabled: bool
    default_url: bool
    url: str
    vpc: str
    egress: str
    binary_authorization: str
    execution_environment: str
    scaling: str
    traffic: tuple[TrafficShare, ...]
    service_change: Change
    revision_change: Change | None
    console_url: str


@dataclass(frozen=True)
class ExecutionState:
    name: str
    state: str
    created: datetime | None
    completed: datetime | None
    tasks: str


@dataclass(frozen=True)
class JobSettings:
    """A job, its template and its recent executions."""

    target: CloudRunTarget
    images: tuple[ContainerImage, ...]
    service_account: str
    tasks: str
    vpc: str
    egress: str
    binary_authorization: str
    execution_environment: str
    change: Change
    executions: tuple[ExecutionState, ...]
    console_url: str


def describe_container(
    clients: GoogleClients, settings: Settings, record: FindingRecord
) -> ServiceSettings | JobSettings:
    """Read the Cloud Run service or job the finding names."""
    target = record.cloud_run
    if target is None:
        raise UserFacingError(":information_source: The finding names no Cloud Run resource.")
    if target.kind is RunKind.JOB:
        return _describe_job(clients, settings, record, target)
    return _describe_service(clients, settings, record, target)


def _describe_service(
    clients: GoogleClients, settings: Settings, record: FindingRecord, target: CloudRunTarget
) -> ServiceSettings:
    with google_errors(Api.RUN, f"read service {target.name} in {target.project}"):
        service = clients.services.get_service(name=target.path, timeout=CALL_TIMEOUT)
    with google_errors(Api.RUN, f"read the IAM policy of service {target.name}"):
        policy = clients.services.get_iam_policy(
            request=iam_policy_pb2.GetIamPolicyRequest(resource=service.name),
            timeout=CALL_TIMEOUT,
        )
    revision_id, source = target.revision, _revision_source(record, target)
    if not revision_id:
        revision_id, source = _revision_at_event(clients, service, record.event_time)
    revision, note = None, ""
    if revision_id:
        with google_errors(Api.RUN, f"read revision {revision_id}"):
            try:
                revision = clients.revisions.get_revision(
                    name=f"{target.path}/revisions/{revision_id}", timeout=CALL_TIMEOUT
                )
            except gexc.NotFound:
                note = f"Revision {revision_id} no longer exists; showing the service template."
    template = service.template
    containers = revision.containers if revision is not None else template.containers
    vpc_access = revision.vpc_access if revision is not None else template.vpc_access
    scaling = revision.scaling if revision is not None else template.scaling
    environment = (
        revision.execution_environment if revision is not None else template.execution_environment
    )
    return ServiceSettings(
        target=target,
        revision=revision_id,
        revision_source=source,
        revision_note=note,
        images=tuple(_image(c, record) for c in containers),
        service_account=(revision.service_account if revision else template.service_account)
        or "Compute Engine default service account",
        ingress=_INGRESS.get(service.ingress, "unspecified"),
        public_invokers=_public_invokers(policy),
        invoker_iam_disabled=bool(service.invoker_iam_disabled),
        default_url=not service.default_uri_disabled,
        url=service.uri,
        vpc=_vpc(vpc_access),
        egress=_EGRESS.get(vpc_access.egress, "") if _vpc(vpc_access) else "",
        binary_authorization=_binauthz(service.binary_authorization),
        execution_environment=_ENVIRONMENT.get(environment, "default"),
        scaling=_scaling(scaling, service.scaling),
        traffic=tuple(
            TrafficShare(
                revision=status.revision,
                percent=int(status.percent),
                tag=status.tag,
                latest=status.type_
                == run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
            )
            for status in service.traffic_statuses
        ),
        service_change=Change(
            service.creator, service.create_time, service.last_modifier, service.update_time
        ),
        revision_change=(
            Change(revision.creator, revision.create_time, "", None) if revision else None
        ),
        console_url=links.run_console_url(target, base=settings.gcp_console_url),
    )


def _revision_source(record: FindingRecord, target: CloudRunTarget) -> str:
    if target.revision_source != "container":
        return target.revision_source
    for container in record.finding.containers:
        for label in container.labels:
            if label.name == "run.googleapis.com/revision" and label.value == target.revision:
                return "container label"
    return "K_REVISION"


def _revision_at_event(
    clients: GoogleClients, service: run_v2.Service, event_time: datetime | None
) -> tuple[str, str]:
    """Guess the revision that served at the event time from today's traffic and history."""
    with google_errors(Api.RUN, "list the service's revisions"):
        pager = clients.revisions.list_revisions(
            request=run_v2.ListRevisionsRequest(parent=service.name, page_size=REVISIONS_PAGE),
            timeout=CALL_TIMEOUT,
        )
        revisions = list(next(iter(pager.pages)).revisions)
    revisions.sort(key=lambda r: r.create_time.timestamp() if r.create_time else 0.0, reverse=True)
    if event_time is not None:
        revisions = [r for r in revisions if r.create_time and r.create_time <= event_time]
    serving = {s.revision for s in service.traffic_statuses if s.percent > 0}
    for revision in revisions:
        short = revision.name.rsplit("/", 1)[-1]
        if short in serving:
            return short, "serving at the event time (inferred from traffic)"
    if revisions:
        return revisions[0].name.rsplit("/", 1)[-1], "newest created before the event time"
    return "", ""


def _describe_job(
    clients: GoogleClients, settings: Settings, record: FindingRecord, target: CloudRunTarget
) -> JobSettings:
    with google_errors(Api.RUN, f"read job {target.name} in {target.project}"):
        job = clients.jobs.get_job(name=target.path, timeout=CALL_TIMEOUT)
    with google_errors(Api.RUN, f"list the executions of job {target.name}"):
        pager = clients.executions.list_executions(
            request=run_v2.ListExecutionsRequest(parent=job.name, page_size=RECENT_EXECUTIONS),
            timeout=CALL_TIMEOUT,
        )
        executions = list(next(iter(pager.pages)).executions)[:RECENT_EXECUTIONS]
    task = job.template.template
    tasks = (
        f"{job.template.task_count} task(s), {job.template.parallelism or 'unlimited'} in "
        f"parallel, {task.max_retries} retr{'y' if task.max_retries == 1 else 'ies'}"
    )
    return JobSettings(
        target=target,
        images=tuple(_image(c, record) for c in task.containers),
        service_account=task.service_account or "Compute Engine default service account",
        tasks=tasks,
        vpc=_vpc(task.vpc_access),
        egress=_EGRESS.get(task.vpc_access.egress, "") if _vpc(task.vpc_access) else "",
        binary_authorization=_binauthz(job.binary_authorization),
        execution_environment=_ENVIRONMENT.get(task.execution_environment, "default"),
        change=Change(job.creator, job.create_time, job.last_modifier, job.update_time),
        executions=tuple(_execution(e) for e in executions),
        console_url=links.run_console_url(target, base=settings.gcp_console_url),
    )


def _execution(execution: run_v2.Execution) -> ExecutionState:
    if execution.completion_time:
        if execution.cancelled_count:
            state = "cancelled"
        elif execution.failed_count:
            state = "failed"
        else:
            state = "succeeded"
    elif execution.running_count or execution.start_time:
        state = "running"
    else:
        state = "pending"
    tasks = (
        f"{execution.succeeded_count}/{execution.task_count} succeeded, "
        f"{execution.running_count} running, {execution.failed_count} failed"
    )
    return ExecutionState(
        name=execution.name.rsplit("/", 1)[-1],
        state=state,
        created=execution.create_time,
        completed=execution.completion_time,
        tasks=tasks,
    )


def _image(container: run_v2.Container, record: FindingRecord) -> ContainerImage:
    match = _DIGEST.search(container.image)
    digest, source = (match.group(1), "image reference") if match else ("", "")
    if not digest:
        # A tag-deployed image: the finding saw the digest that actually ran.
        for seen in record.finding.containers:
            if seen.image_id.startswith("sha256:") and (seen.name in ("", container.name)):
                digest, source = seen.image_id, "finding"
                break
    env = []
    for variable in container.env:
        secret = ""
        ref = variable.value_source.secret_key_ref
        if ref.secret:
            secret = f"{ref.secret} (version {ref.version or 'latest'})"
        env.append(EnvName(variable.name, secret))
    return ContainerImage(container.name, container.image, digest, source, tuple(env))


def _public_invokers(policy: object) -> tuple[str, ...]:
    found: list[str] = []
    for binding in getattr(policy, "bindings", ()):
        if binding.role in INVOKER_ROLES:
            found.extend(m for m in binding.members if m in PUBLIC_MEMBERS and m not in found)
    return tuple(found)


def _vpc(access: run_v2.VpcAccess) -> str:
    if access.connector:
        return f"connector {access.connector.rsplit('/', 1)[-1]}"
    if access.network_interfaces:
        nic = access.network_interfaces[0]
        return f"direct VPC {nic.network or 'default'}/{nic.subnetwork or 'default'}"
    return ""


def _binauthz(policy: run_v2.BinaryAuthorization) -> str:
    if policy.use_default:
        text = "default policy"
    elif policy.policy:
        text = f"policy {policy.policy}"
    else:
        return "off"
    if policy.breakglass_justification:
        text += " (break-glass used)"
    return text


def _scaling(revision: run_v2.RevisionScaling, service: run_v2.ServiceScaling) -> str:
    parts = [f"{revision.min_instance_count}–{revision.max_instance_count or 'default'} instances"]
    if service.manual_instance_count:
        parts.append(f"manual {service.manual_instance_count}")
    elif service.min_instance_count:
        parts.append(f"service minimum {service.min_instance_count}")
    return ", ".join(parts)
