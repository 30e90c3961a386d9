"""Apply an UpdateService request to a Cloud Run v2 service the way the control plane does."""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import string
import uuid

import grpc
from google.cloud import run_v2

from standins.recorder import Refused

_ALLOCATION = run_v2.TrafficTargetAllocationType
# Fields a caller may change; everything else on a Service is output only.
MUTABLE_FIELDS = (
    "description",
    "labels",
    "annotations",
    "client",
    "client_version",
    "ingress",
    "launch_stage",
    "binary_authorization",
    "template",
    "traffic",
    "scaling",
    "invoker_iam_disabled",
    "default_uri_disabled",
    "custom_audiences",
    "iap_enabled",
    "multi_region_settings",
    "build_config",
)
SERVICE_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/services/(?P<service>[a-z][-a-z0-9]*)$")


def new_etag() -> str:
    """Return a fresh opaque etag in the quoted form Cloud Run uses."""
    return '"' + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + '"'


def merge(current: run_v2.Service, requested: run_v2.Service, mask: list[str]) -> run_v2.Service:
    """Return ``current`` with the requested mutable fields copied over."""
    merged = run_v2.Service(current)
    fields: tuple[str, ...] = MUTABLE_FIELDS
    if mask:
        top = [path.split(".", 1)[0] for path in mask]
        unknown = [path for path in top if path not in MUTABLE_FIELDS]
        if unknown:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"cannot update fields {unknown}")
        fields = tuple(top)
    for field in fields:
        setattr(merged, field, getattr(requested, field))
    return merged


def template_changed(before: run_v2.RevisionTemplate, after: run_v2.RevisionTemplate) -> bool:
    """Tell whether two templates differ, which is what makes a new revision."""

    def canonical(template: run_v2.RevisionTemplate) -> bytes:
        return run_v2.RevisionTemplate.pb(template).SerializeToString(deterministic=True)

    return canonical(before) != canonical(after)


def revision_name(service: run_v2.Service, generation: int, existing: set[str]) -> str:
    """Pick the new revision's name, refusing one that is taken or mis-prefixed."""
    service_id = service.name.rsplit("/", 1)[-1]
    wanted = service.template.revision
    if wanted:
        if not wanted.startswith(service_id + "-"):
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"revision name {wanted!r} must start with {service_id + '-'!r}",
            )
        if wanted in existing:
            raise Refused(grpc.StatusCode.ALREADY_EXISTS, f"revision {wanted!r} already exists")
        return wanted
    suffix = "".join(random.choices(string.ascii_lowercase, k=3))
    return f"{service_id}-{generation:05d}-{suffix}"


def build_revision(
    service: run_v2.Service, name: str, now: dt.datetime, caller: str
) -> run_v2.Revision:
    """Create the revision a template describes."""
    revision = run_v2.Revision(
        name=f"{service.name}/revisions/{name}",
        uid=str(uuid.uuid4()),
        generation=1,
        create_time=now,
        update_time=now,
        service=service.name,
        launch_stage=service.launch_stage,
        creator=caller,
        etag=new_etag(),
        conditions=[
            run_v2.Condition(
                type_="Ready",
                state=run_v2.Condition.State.CONDITION_SUCCEEDED,
                last_transition_time=now,
            )
        ],
    )
    revision_fields = run_v2.Revision.pb().DESCRIPTOR.fields_by_name
    for field in run_v2.RevisionTemplate.pb().DESCRIPTOR.fields:
        target = revision_fields.get(field.name)
        if field.name == "revision" or target is None or target.type != field.type:
            continue
        if field.message_type is not None and (
            target.message_type is None
            or target.message_type.full_name != field.message_type.full_name
        ):
            continue
        setattr(revision, field.name, getattr(service.template, field.name))
    return revision


def check_traffic(traffic: list[run_v2.TrafficTarget], revisions: set[str]) -> None:
    """Refuse traffic that does not add up to 100 % or names unknown revisions."""
    total = 0
    tags: set[str] = set()
    for target in traffic:
        if target.type_ == _ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION:
            if target.revision not in revisions:
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"traffic names revision {target.revision!r}, which does not exist",
                )
        elif target.type_ == _ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST:
            if target.revision:
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT, "a LATEST traffic target names no revision"
                )
        else:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "traffic target type is required")
        if not 0 <= target.percent <= 100:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "traffic percent must be 0..100")
        if target.tag:
            if target.tag in tags:
                raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"duplicate tag {target.tag!r}")
            tags.add(target.tag)
        total += target.percent
    if traffic and total != 100:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT, f"traffic percentages add up to {total}, not 100"
        )


def traffic_statuses(service: run_v2.Service) -> list[run_v2.TrafficTargetStatus]:
    """Resolve LATEST targets to the latest ready revision, as the status reports them."""
    latest = service.latest_ready_revision.rsplit("/", 1)[-1]
    host = service.uri.removeprefix("https://")
    statuses = []
    for target in service.traffic:
        resolved = (
            latest
            if target.type_ == _ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
            else target.revision
        )
        statuses.append(
            run_v2.TrafficTargetStatus(
                type_=target.type_,
                revision=resolved,
                percent=target.percent,
                tag=target.tag,
                uri=f"https://{target.tag}---{host}" if target.tag and host else "",
            )
        )
    return statuses


def serving_revisions(service: run_v2.Service) -> set[str]:
    """Return the short names of revisions that get traffic or carry a tag."""
    return {s.revision for s in service.traffic_statuses if s.percent > 0 or s.tag}
