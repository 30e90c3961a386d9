"""Carry out approved plans with the etags they were planned from, and record what changed.

Before sending anything the executor re-reads the resource; when any etag differs from the
plan it raises :class:`Stale` and nothing is sent. Every request then carries the planned
etag as well, so a change that slips in between is refused by Cloud Run (ABORTED) rather
than overwritten. Field-level service actions share one UpdateService call whose update
mask names exactly those fields.
"""

from __future__ import annotations

import base64
import concurrent.futures
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core.operation import Operation
from google.cloud import run_v2
from google.iam.v1 import iam_policy_pb2
from google.protobuf import field_mask_pb2

from bot.clients import GoogleClients
from bot.containment.plan import (
    SERVICE_FIELDS,
    ActionKind,
    Plan,
    executions_etag,
    policy_etag,
    policy_from_dict,
    traffic_from_dicts,
)
from bot.errors import UserFacingError

logger = logging.getLogger(__name__)

# The role each kind of change needs, named when Cloud Run refuses it.
ROLE_FOR = {
    ActionKind.REMOVE_PUBLIC_INVOKER: "roles/run.admin",
}
DEFAULT_ROLE = "roles/run.developer"


class Stale(Exception):
    """The resource changed since the plan; nothing was sent."""


@dataclass(frozen=True)
class ActionResult:
    """What one action did: whether it worked, and what it replaced (for undo)."""

    action: ActionKind
    resource: str
    ok: bool
    error: str = ""
    replaced: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, Any] = field(default_factory=dict)
    etag_after: str = ""  # the resource's etag after this change: undo is planned from it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionResult:
        return cls(**{**data, "action": ActionKind(data["action"])})


def execute_plans(
    google: GoogleClients, plans: list[Plan], *, timeout: float
) -> list[ActionResult]:
    """Run ``plans`` in a safe order; stop at the first failure.

    Raises:
        Stale: a resource changed since the plan, and nothing was sent.
    """
    verify(google, plans)
    results: list[ActionResult] = []
    for step in _steps(plans):
        step_results = _run_step(google, step, timeout)
        results.extend(step_results)
        if not all(r.ok for r in step_results):
            break
    return results


def verify(google: GoogleClients, plans: list[Plan]) -> None:
    """Raise Stale when a planned resource's etag no longer matches."""
    for plan in plans:
        current = current_etag(google, plan)
        if current != plan.etag:
            logger.info(
                "%s on %s is stale: etag %s, planned %s",
                plan.action,
                plan.resource,
                current,
                plan.etag,
            )
            raise Stale(f"{plan.resource} changed since the plan")


def current_etag(google: GoogleClients, plan: Plan) -> str:
    """Read the etag ``plan`` would be checked against now ("" when it is gone)."""
    try:
        if plan.action in SERVICE_FIELDS:
            return str(google.services.get_service(name=plan.resource).etag)
        if plan.action is ActionKind.REMOVE_PUBLIC_INVOKER:
            policy = google.services.get_iam_policy(
                request=iam_policy_pb2.GetIamPolicyRequest(resource=plan.resource)
            )
            return policy_etag(policy)
        if plan.action is ActionKind.DELETE_REVISION:
            return str(google.revisions.get_revision(name=plan.resource).etag)
        executions = []
        for planned in plan.before["executions"]:
            execution = google.executions.get_execution(name=planned["name"])
            executions.append({"name": execution.name, "etag": execution.etag})
        return executions_etag(executions)
    except gexc.NotFound:
        return ""
    except gexc.GoogleAPICallError as exc:
        # Nothing was sent yet; saying so tells the responder that proposing again is safe.
        reason = (
            "it did not answer in time"
            if isinstance(exc, gexc.DeadlineExceeded)
            else failure_reason(exc, "roles/run.viewer")
        )
        raise UserFacingError(
            f"Cloud Run could not be read before the change ({reason}); nothing was changed."
        ) from None


def _steps(plans: list[Plan]) -> list[list[Plan]]:
    fields = [p for p in plans if p.action in SERVICE_FIELDS]
    order = [
        fields,
        [p for p in plans if p.action is ActionKind.REMOVE_PUBLIC_INVOKER],
        [p for p in plans if p.action is ActionKind.CANCEL_EXECUTIONS],
        # Last: a revision can only go once no traffic points to it.
        [p for p in plans if p.action is ActionKind.DELETE_REVISION],
    ]
    return [step for step in order if step]


def _run_step(google: GoogleClients, step: list[Plan], timeout: float) -> list[ActionResult]:
    first = step[0]
    try:
        if first.action in SERVICE_FIELDS:
            return update_service_fields(google, step, timeout=timeout)
        if first.action is ActionKind.REMOVE_PUBLIC_INVOKER:
            return [_set_policy(google, first)]
        if first.action is ActionKind.CANCEL_EXECUTIONS:
            return [_cancel_executions(google, first, timeout)]
        return [_delete_revision(google, first, timeout)]
    except (gexc.GoogleAPICallError, concurrent.futures.TimeoutError) as exc:
        reason = failure_reason(exc, ROLE_FOR.get(first.action, DEFAULT_ROLE))
        logger.warning("%s on %s failed: %s", first.action, first.resource, reason)
        return [ActionResult(p.action, p.resource, ok=False, error=reason) for p in step]


def update_service_fields(
    google: GoogleClients, plans: list[Plan], *, timeout: float, etag: str | None = None
) -> list[ActionResult]:
    """Send one UpdateService with each plan's ``after`` value, masked to those fields."""
    name = plans[0].resource
    expected = etag if etag is not None else plans[0].etag
    current = google.services.get_service(name=name)
    service = run_v2.Service(current)
    service.etag = expected
    # Cloud Run refuses a template naming an existing revision; an empty name with an
    # unchanged template makes no new revision.
    service.template.revision = ""
    paths = []
    for plan in plans:
        _apply_field(service, plan.action, plan.after)
        paths.append(SERVICE_FIELDS[plan.action])
    request = run_v2.UpdateServiceRequest(
        service=service, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    updated = _await(google.services.update_service(request=request), timeout)
    return [
        ActionResult(
            plan.action,
            name,
            ok=True,
            replaced=plan.before,
            applied=plan.after,
            etag_after=str(updated.etag),
        )
        for plan in plans
    ]


def _apply_field(service: run_v2.Service, action: ActionKind, values: dict[str, Any]) -> None:
    if action is ActionKind.ROLLBACK_TRAFFIC:
        service.traffic = traffic_from_dicts(values["traffic"])
    elif action is ActionKind.INGRESS_INTERNAL:
        service.ingress = getattr(run_v2.IngressTraffic, values["ingress"])
    elif action is ActionKind.DISABLE_DEFAULT_URL:
        service.default_uri_disabled = values["default_uri_disabled"]


def set_policy(google: GoogleClients, resource: str, policy_dict: dict[str, Any], etag: str) -> str:
    """Write an IAM policy conditional on ``etag``; return the new policy's etag."""
    policy = policy_from_dict(policy_dict)
    policy.etag = base64.b64decode(etag)
    written = google.services.set_iam_policy(
        request=iam_policy_pb2.SetIamPolicyRequest(resource=resource, policy=policy)
    )
    return policy_etag(written)


def _set_policy(google: GoogleClients, plan: Plan) -> ActionResult:
    etag_after = set_policy(google, plan.resource, plan.after["policy"], plan.etag)
    return ActionResult(
        plan.action,
        plan.resource,
        ok=True,
        replaced=plan.before,
        applied=plan.after,
        etag_after=etag_after,
    )


def _cancel_executions(google: GoogleClients, plan: Plan, timeout: float) -> ActionResult:
    for execution in plan.before["executions"]:
        request = run_v2.CancelExecutionRequest(name=execution["name"], etag=execution["etag"])
        _await(google.executions.cancel_execution(request=request), timeout)
    return ActionResult(
        plan.action, plan.resource, ok=True, replaced=plan.before, applied=plan.after
    )


def _delete_revision(google: GoogleClients, plan: Plan, timeout: float) -> ActionResult:
    request = run_v2.DeleteRevisionRequest(name=plan.resource, etag=plan.etag)
    _await(google.revisions.delete_revision(request=request), timeout)
    return ActionResult(
        plan.action, plan.resource, ok=True, replaced=plan.before, applied=plan.after
    )


def _await(operation: Operation, timeout: float) -> Any:
    return operation.result(timeout=timeout)


def failure_reason(exc: BaseException, role: str) -> str:
    """Say why a call failed, in words a responder can act on."""
    if isinstance(exc, concurrent.futures.TimeoutError):
        return "the operation did not finish in time; check the resource in the console"
    if isinstance(exc, gexc.DeadlineExceeded):
        # The request may have reached Cloud Run before the deadline: the outcome is unknown.
        return (
            "Cloud Run did not answer in time; the change may still have been applied: "
            "check the resource in the console"
        )
    if isinstance(exc, gexc.PermissionDenied):
        return f"permission denied: grant the bot's service account {role}"
    if isinstance(exc, gexc.Aborted):
        return "the resource changed since the plan (etag mismatch)"
    if isinstance(exc, gexc.GoogleAPICallError):
        return exc.message or type(exc).__name__
    return type(exc).__name__
