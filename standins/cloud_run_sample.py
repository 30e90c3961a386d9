"""Sample Cloud Run resources matching the reference Cloud Run Threat Detection findings."""

from __future__ import annotations

import datetime as dt

from google.cloud import run_v2
from google.iam.v1 import policy_pb2
from google.protobuf import duration_pb2

PROJECT_ID = "acme-prod"
PROJECT_NUMBER = "987654321098"
LOCATION = f"projects/{PROJECT_ID}/locations/us-central1"
SERVICE = f"{LOCATION}/services/payments-api"
JOB = f"{LOCATION}/jobs/nightly-export"
IMAGE = (
    "us-central1-docker.pkg.dev/acme-prod/apps/payments-api@sha256:"
    "6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d"
)
PREVIOUS_IMAGE = (
    "us-central1-docker.pkg.dev/acme-prod/apps/payments-api@sha256:"
    "0b1c3f9d8e2a47c6b5d4e3f2a1908d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2918"
)
RUNTIME_ACCOUNT = "payments-api-runtime@acme-prod.iam.gserviceaccount.com"
DEPLOYER = "deploy-bot@acme-prod.iam.gserviceaccount.com"
# A Secret Manager resource name, not a secret value.
STRIPE_SECRET = "projects/987654321098/secrets/stripe-api-key"  # noqa: S105
URI = "https://payments-api-4k7q2xv3na-uc.a.run.app"
_ALLOCATION = run_v2.TrafficTargetAllocationType
_READY = run_v2.Condition.State.CONDITION_SUCCEEDED


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _template(revision: str, image: str) -> run_v2.RevisionTemplate:
    container = run_v2.Container(
        name="payments-api",
        image=image,
        ports=[run_v2.ContainerPort(name="http1", container_port=8080)],
        resources=run_v2.ResourceRequirements(limits={"cpu": "1", "memory": "512Mi"}),
        env=[
            run_v2.EnvVar(name="APP_ENV", value="production"),
            run_v2.EnvVar(name="PAYMENTS_REGION", value="us"),
            run_v2.EnvVar(
                name="STRIPE_API_KEY",
                value_source=run_v2.EnvVarSource(
                    secret_key_ref=run_v2.SecretKeySelector(secret=STRIPE_SECRET, version="7")
                ),
            ),
        ],
    )
    return run_v2.RevisionTemplate(
        revision=revision,
        labels={"team": "payments"},
        scaling=run_v2.RevisionScaling(min_instance_count=1, max_instance_count=20),
        vpc_access=run_v2.VpcAccess(
            connector="projects/acme-prod/locations/us-central1/connectors/prod-vpc",
            egress=run_v2.VpcAccess.VpcEgress.PRIVATE_RANGES_ONLY,
        ),
        timeout=duration_pb2.Duration(seconds=300),
        service_account=RUNTIME_ACCOUNT,
        containers=[container],
        max_instance_request_concurrency=80,
    )


def _revision(short: str, image: str, created: dt.datetime) -> run_v2.Revision:
    template = _template(short, image)
    return run_v2.Revision(
        name=f"{SERVICE}/revisions/{short}",
        uid=f"uid-{short}",
        generation=1,
        labels=template.labels,
        create_time=created,
        update_time=created,
        service=SERVICE,
        scaling=template.scaling,
        vpc_access=template.vpc_access,
        max_instance_request_concurrency=80,
        timeout=template.timeout,
        service_account=RUNTIME_ACCOUNT,
        containers=template.containers,
        execution_environment=run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2,
        conditions=[run_v2.Condition(type_="Ready", state=_READY, last_transition_time=created)],
        log_uri="https://console.cloud.google.com/logs/viewer?project=acme-prod",
        creator=DEPLOYER,
        etag=f'"etag-{short}"',
    )


def payments_api() -> tuple[run_v2.Service, list[run_v2.Revision]]:
    """Return payments-api serving 100 % on payments-api-00042-xyz, with 00041 kept."""
    older = _revision("payments-api-00041-abc", PREVIOUS_IMAGE, _at("2026-05-05T16:20:11"))
    current = _revision("payments-api-00042-xyz", IMAGE, _at("2026-05-12T09:58:00"))
    service = run_v2.Service(
        name=SERVICE,
        uid="5f0c2a3e-9d1b-4c7e-8a6f-2b3c4d5e6f70",
        generation=42,
        observed_generation=42,
        labels={"team": "payments", "env": "prod"},
        create_time=_at("2025-11-03T08:00:00"),
        update_time=_at("2026-05-12T09:58:00"),
        creator=DEPLOYER,
        last_modifier=DEPLOYER,
        ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL,
        template=_template("payments-api-00042-xyz", IMAGE),
        traffic=[
            run_v2.TrafficTarget(
                type_=_ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, percent=100
            ),
            run_v2.TrafficTarget(
                type_=_ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
                revision="payments-api-00041-abc",
                percent=0,
                tag="previous",
            ),
        ],
        traffic_statuses=[
            run_v2.TrafficTargetStatus(
                type_=_ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
                revision="payments-api-00042-xyz",
                percent=100,
            ),
            run_v2.TrafficTargetStatus(
                type_=_ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
                revision="payments-api-00041-abc",
                percent=0,
                tag="previous",
                uri="https://previous---payments-api-4k7q2xv3na-uc.a.run.app",
            ),
        ],
        latest_ready_revision=current.name,
        latest_created_revision=current.name,
        terminal_condition=run_v2.Condition(type_="Ready", state=_READY),
        uri=URI,
        urls=[URI],
        etag='"CMiPk8EGEPjb0tYD"',
    )
    return service, [older, current]


def payments_api_policy() -> policy_pb2.Policy:
    """Return an invoker policy that lets anyone call the service."""
    return policy_pb2.Policy(
        version=1,
        etag=b"BwYlKxPm2aQ=",
        bindings=[
            policy_pb2.Binding(role="roles/run.invoker", members=["allUsers"]),
            policy_pb2.Binding(role="roles/run.developer", members=["group:payments@acme.example"]),
        ],
    )


def nightly_export() -> tuple[run_v2.Job, list[run_v2.Execution]]:
    """Return the nightly-export job with a finished and a running execution."""
    job = run_v2.Job(
        name=JOB,
        uid="0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a",
        generation=3,
        create_time=_at("2026-01-10T02:00:00"),
        creator=DEPLOYER,
        last_modifier=DEPLOYER,
        execution_count=2,
        template=run_v2.ExecutionTemplate(
            task_count=4,
            parallelism=2,
            template=run_v2.TaskTemplate(
                containers=[
                    run_v2.Container(
                        name="export", image=IMAGE.replace("payments-api@", "exporter@")
                    )
                ],
                service_account=RUNTIME_ACCOUNT,
                max_retries=1,
            ),
        ),
        latest_created_execution=run_v2.ExecutionReference(
            name=f"{JOB}/executions/nightly-export-7x2kq", create_time=_at("2026-05-12T10:00:00")
        ),
        etag='"job-etag-3"',
    )
    finished = run_v2.Execution(
        name=f"{JOB}/executions/nightly-export-m4p9d",
        job="nightly-export",
        create_time=_at("2026-05-11T02:00:00"),
        start_time=_at("2026-05-11T02:00:04"),
        completion_time=_at("2026-05-11T02:11:37"),
        task_count=4,
        parallelism=2,
        succeeded_count=4,
        conditions=[run_v2.Condition(type_="Completed", state=_READY)],
        etag='"exec-m4p9d"',
    )
    running = run_v2.Execution(
        name=f"{JOB}/executions/nightly-export-7x2kq",
        job="nightly-export",
        create_time=_at("2026-05-12T10:00:00"),
        start_time=_at("2026-05-12T10:00:05"),
        task_count=4,
        parallelism=2,
        running_count=2,
        succeeded_count=1,
        conditions=[
            run_v2.Condition(type_="Completed", state=run_v2.Condition.State.CONDITION_RECONCILING)
        ],
        etag='"exec-7x2kq"',
    )
    return job, [finished, running]
