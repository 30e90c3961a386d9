"""Work out, from the live Cloud Run resource, what each containment action would change.

A plan names the resource, the etag it was computed from, and the values before and after,
so that the person approving sees exactly what will happen and the executor can refuse to
act on a resource that changed since.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import json_format

from bot.clients import GoogleClients
from bot.errors import PermissionMissing, UserFacingError
from bot.finding import FindingRecord
from bot.resources import CloudRunTarget, RunKind

logger = logging.getLogger(__name__)

_ALLOCATION = run_v2.TrafficTargetAllocationType
INVOKER_ROLE = "roles/run.invoker"
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


class ActionKind(StrEnum):
    ROLLBACK_TRAFFIC = "rollback_traffic"
    INGRESS_INTERNAL = "ingress_internal"
    REMOVE_PUBLIC_INVOKER = "remove_public_invoker"
    DISABLE_DEFAULT_URL = "disable_default_url"
    DELETE_REVISION = "delete_revision"
    CANCEL_EXECUTIONS = "cancel_executions"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def undoable(self) -> bool:
        return self not in (ActionKind.DELETE_REVISION, ActionKind.CANCEL_EXECUTIONS)


_LABELS = {
    ActionKind.ROLLBACK_TRAFFIC: "Move traffic to the last revision before the event",
    ActionKind.INGRESS_INTERNAL: "Restrict ingress to internal",
    ActionKind.REMOVE_PUBLIC_INVOKER: "Remove public invokers",
    ActionKind.DISABLE_DEFAULT_URL: "Disable the default run.app URL",
    ActionKind.DELETE_REVISION: "Delete the affected revision",
    ActionKind.CANCEL_EXECUTIONS: "Cancel running executions",
}

# The Service field each field-level action changes; they share one UpdateService call.
SERVICE_FIELDS = {
    ActionKind.ROLLBACK_TRAFFIC: "traffic",
    ActionKind.INGRESS_INTERNAL: "ingress",
    ActionKind.DISABLE_DEFAULT_URL: "default_uri_disabled",
}


@dataclass(frozen=True)
class Plan:
    """One containment action as computed from the live resource."""

    action: ActionKind
    resource: str  # the API name the change is sent to
    etag: str  # the etag of what the plan was computed from
    before: dict[str, Any]
    after: dict[str, Any]
    change: str  # what changes, from what to what, in plain words
    note: str = ""  # a caveat the approver must see

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(**{**data, "action": ActionKind(data["action"])})


@dataclass(frozen=True)
class Planning:
    """The plans that apply to a resource, and why the others were left out."""

    target: CloudRunTarget
    plans: list[Plan]
    skipped: list[str] = field(default_factory=list)

    def only(self, actions: Iterable[ActionKind]) -> list[Plan]:
        """Return the plans for ``actions``, in the order they run."""
        wanted = set(actions)
        return [plan for plan in self.plans if plan.action in wanted]


def target_of(record: FindingRecord) -> CloudRunTarget:
    """Return the finding's Cloud Run resource, or say why containment does not apply."""
    target = record.cloud_run
    if target is None:
        raise UserFacingError("Containment applies to Cloud Run services and jobs only.")
    return target


def plan_containment(
    google: GoogleClients, record: FindingRecord, target: CloudRunTarget | None = None
) -> Planning:
    """Compute every applicable containment plan from the live resource."""
    target = target or target_of(record)
    try:
        if target.kind is RunKind.JOB:
            return _plan_job(google, target)
        return _plan_service(google, target, record.event_time)
    except gexc.PermissionDenied:
        raise PermissionMissing(f"read {target.label}", "roles/run.viewer") from None
    except gexc.NotFound:
        raise UserFacingError(f"The {target.label} no longer exists.") from None


def _plan_service(
    google: GoogleClients, target: CloudRunTarget, event_time: datetime | None
) -> Planning:
    service = google.services.get_service(request=run_v2.GetServiceRequest(name=target.path))
    plans: list[Plan] = []
    skipped: list[str] = []
    revisions = list(
        google.revisions.list_revisions(request=run_v2.ListRevisionsRequest(parent=target.path))
    )
    rollback = _rollback_plan(service, revisions, target, event_time)
    if isinstance(rollback, Plan):
        plans.append(rollback)
    else:
        skipped.append(rollback)

    if service.ingress == run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY:
        skipped.append("Ingress is already internal only.")
    else:
        plans.append(
            Plan(
                action=ActionKind.INGRESS_INTERNAL,
                resource=service.name,
                etag=service.etag,
                before={"ingress": _ingress_name(service.ingress)},
                after={"ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"},
                change=f"ingress: {_ingress_label(service.ingress)} → internal only",
            )
        )

    policy = google.services.get_iam_policy(
        request=iam_policy_pb2.GetIamPolicyRequest(resource=service.name)
    )
    invoker = _invoker_plan(service, policy)
    if isinstance(invoker, Plan):
        plans.append(invoker)
    else:
        skipped.append(invoker)

    if service.default_uri_disabled:
        skipped.append("The default run.app URL is already disabled.")
    else:
        plans.append(
            Plan(
                action=ActionKind.DISABLE_DEFAULT_URL,
                resource=service.name,
                etag=service.etag,
                before={"default_uri_disabled": False},
                after={"default_uri_disabled": True},
                change=f"default URL {service.uri or '(run.app)'}: enabled → disabled",
                note="Custom domains and load balancers keep working.",
            )
        )

    deletion = _delete_plan(service, revisions, target)
    if isinstance(deletion, Plan):
        plans.append(deletion)
    else:
        skipped.append(deletion)
    return Planning(target=target, plans=plans, skipped=skipped)


def _rollback_plan(
    service: run_v2.Service,
    revisions: list[run_v2.Revision],
    target: CloudRunTarget,
    event_time: datetime | None,
) -> Plan | str:
    if event_time is None:
        return "The finding has no event time, so there is no revision to roll back to."
    affected = target.revision or _short(service.latest_ready_revision)
    # The affected revision is the one that ran the attack: never a rollback target.
    candidates = [
        r
        for r in revisions
        if _short(r.name) != affected and r.create_time and r.create_time < event_time
    ]
    if not candidates:
        return "No revision other than the affected one was created before the event."
    chosen = _short(max(candidates, key=lambda r: r.create_time).name)
    before = [_target_dict(t) for t in service.traffic]
    after = rollback_traffic(before, chosen)
    if _serving(service) == {chosen: 100}:
        return f"All traffic already goes to {chosen}."
    tags = sorted(t["tag"] for t in after if t["tag"])
    return Plan(
        action=ActionKind.ROLLBACK_TRAFFIC,
        resource=service.name,
        etag=service.etag,
        before={"traffic": before},
        after={"traffic": after},
        change=f"traffic: {describe_traffic(before, service)} → 100% {chosen}"
        + (f" (tags kept: {', '.join(tags)})" if tags else ""),
    )


def rollback_traffic(before: list[dict[str, Any]], revision: str) -> list[dict[str, Any]]:
    """Send 100 % to ``revision``; keep every tag where it points, at 0 %."""
    after: list[dict[str, Any]] = []
    placed = False
    for target in before:
        if not target["tag"]:
            continue
        kept = {**target, "percent": 0}
        if not placed and target["type"] == "REVISION" and target["revision"] == revision:
            kept["percent"] = 100
            placed = True
        after.append(kept)
    if not placed:
        after.insert(0, {"type": "REVISION", "revision": revision, "percent": 100, "tag": ""})
    return after


def _invoker_plan(service: run_v2.Service, policy: policy_pb2.Policy) -> Plan | str:
    public = sorted(
        {
            member
            for binding in policy.bindings
            if binding.role == INVOKER_ROLE
            for member in binding.members
            if member in PUBLIC_MEMBERS
        }
    )
    if not public:
        return "No public members hold roles/run.invoker."
    after = policy_pb2.Policy()
    after.CopyFrom(policy)
    del after.bindings[:]
    for binding in policy.bindings:
        kept = [m for m in binding.members if binding.role != INVOKER_ROLE or m not in public]
        if kept:
            copy = policy_pb2.Binding()
            copy.CopyFrom(binding)
            del copy.members[:]
            copy.members.extend(kept)
            after.bindings.append(copy)
    note = ""
    if service.invoker_iam_disabled:
        note = (
            "Invoker IAM checks are disabled on this service, so anyone can call it "
            "whatever the policy says: this change alone would not stop public calls."
        )
    return Plan(
        action=ActionKind.REMOVE_PUBLIC_INVOKER,
        resource=service.name,
        etag=policy_etag(policy),
        before={"policy": policy_to_dict(policy)},
        after={"policy": policy_to_dict(after)},
        change=f"{INVOKER_ROLE}: remove {', '.join(public)}",
        note=note,
    )


def _delete_plan(
    service: run_v2.Service, revisions: list[run_v2.Revision], target: CloudRunTarget
) -> Plan | str:
    if not target.revision:
        return "The finding names no revision to delete."
    found = [r for r in revisions if _short(r.name) == target.revision]
    if not found:
        return f"Revision {target.revision} no longer exists."
    revision = found[0]
    serving = target.revision in _serving(service) or any(
        t.tag and t.revision == target.revision for t in service.traffic_statuses
    )
    return Plan(
        action=ActionKind.DELETE_REVISION,
        resource=revision.name,
        etag=revision.etag,
        before={"revision": target.revision, "serving": serving},
        after={"revision": None},
        change=f"revision {target.revision}: deleted",
        note=(
            "It serves traffic or carries a tag now; Cloud Run deletes it only once "
            "nothing points to it (move traffic first). Cannot be undone."
            if serving
            else "Cannot be undone."
        ),
    )


def _plan_job(google: GoogleClients, target: CloudRunTarget) -> Planning:
    job = google.jobs.get_job(request=run_v2.GetJobRequest(name=target.path))
    executions = list(
        google.executions.list_executions(request=run_v2.ListExecutionsRequest(parent=job.name))
    )
    running = [e for e in executions if not e.completion_time]
    if not running:
        return Planning(target=target, plans=[], skipped=["No execution of this job is running."])
    names = [_short(e.name) for e in running]
    before = [{"name": e.name, "etag": e.etag, "running": e.running_count} for e in running]
    plan = Plan(
        action=ActionKind.CANCEL_EXECUTIONS,
        resource=job.name,
        etag=executions_etag(before),
        before={"executions": before},
        after={"executions": [{"name": e["name"], "cancelled": True} for e in before]},
        change=f"executions {', '.join(names)}: running → cancelled",
        note="Cannot be undone; the job can be run again.",
    )
    return Planning(target=target, plans=[plan])


def executions_etag(executions: list[dict[str, Any]]) -> str:
    """Return one fingerprint for a set of executions, from their own etags."""
    return ",".join(sorted(f"{e['name'].rsplit('/', 1)[-1]}@{e['etag']}" for e in executions))


def policy_etag(policy: policy_pb2.Policy) -> str:
    return base64.b64encode(policy.etag).decode()


def policy_to_dict(policy: policy_pb2.Policy) -> dict[str, Any]:
    return json_format.MessageToDict(policy)


def policy_from_dict(data: dict[str, Any]) -> policy_pb2.Policy:
    return json_format.ParseDict(data, policy_pb2.Policy())


def traffic_from_dicts(targets: list[dict[str, Any]]) -> list[run_v2.TrafficTarget]:
    """Build the traffic list of an UpdateService request."""
    return [
        run_v2.TrafficTarget(
            type_=getattr(_ALLOCATION, f"TRAFFIC_TARGET_ALLOCATION_TYPE_{t['type']}"),
            revision=t["revision"],
            percent=t["percent"],
            tag=t["tag"],
        )
        for t in targets
    ]


def describe_traffic(targets: list[dict[str, Any]], service: run_v2.Service | None = None) -> str:
    """Say where traffic goes, such as ``100% latest (payments-api-00042-xyz)``."""
    latest = _short(service.latest_ready_revision) if service is not None else ""
    parts = []
    for t in targets:
        if not t["percent"]:
            continue
        if t["type"] == "LATEST":
            parts.append(f"{t['percent']}% latest" + (f" ({latest})" if latest else ""))
        else:
            parts.append(f"{t['percent']}% {t['revision']}")
    return ", ".join(parts) or "no traffic"


def _target_dict(target: run_v2.TrafficTarget) -> dict[str, Any]:
    kind = "LATEST" if target.type_ == _ALLOCATION.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST else ""
    return {
        "type": kind or "REVISION",
        "revision": target.revision,
        "percent": target.percent,
        "tag": target.tag,
    }


def _serving(service: run_v2.Service) -> dict[str, int]:
    shares: dict[str, int] = {}
    for status in service.traffic_statuses:
        if status.percent:
            shares[status.revision] = shares.get(status.revision, 0) + status.percent
    return shares


def _ingress_name(value: run_v2.IngressTraffic) -> str:
    return run_v2.IngressTraffic(value).name


def _ingress_label(value: run_v2.IngressTraffic) -> str:
    return {
        run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL: "all",
        run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER: "internal and load balancer",
        run_v2.IngressTraffic.INGRESS_TRAFFIC_NONE: "none",
    }.get(value, "unspecified (all)")


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]
