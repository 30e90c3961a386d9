"""Put back what executed containment replaced, conditional on nobody having changed it since.

Undo is planned from the etag each action left behind: when the resource moved on after the
containment, undo stops instead of overwriting someone else's change.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from functools import partial

from google.api_core import exceptions as gexc

from bot.clients import GoogleClients
from bot.containment.execute import (
    DEFAULT_ROLE,
    ROLE_FOR,
    ActionResult,
    failure_reason,
    set_policy,
    update_service_fields,
)
from bot.containment.plan import SERVICE_FIELDS, ActionKind, Plan

logger = logging.getLogger(__name__)


def undoable(results: list[ActionResult]) -> list[ActionResult]:
    """Return the results that changed something undo can restore."""
    return [r for r in results if r.ok and r.action.undoable]


def undo_results(
    google: GoogleClients, results: list[ActionResult], *, timeout: float
) -> list[ActionResult]:
    """Restore what each undoable result replaced; report each restore as a result."""
    restored: list[ActionResult] = []
    todo = undoable(results)
    fields = [r for r in todo if r.action in SERVICE_FIELDS]
    if fields:
        restored.extend(_guard(fields, partial(_restore_fields, google, fields, timeout)))
    for result in todo:
        if result.action is ActionKind.REMOVE_PUBLIC_INVOKER:
            restored.extend(_guard([result], partial(_restore_policy_list, google, result)))
    return restored


def _restore_fields(
    google: GoogleClients, results: list[ActionResult], timeout: float
) -> list[ActionResult]:
    # The restore is the same kind of change as the containment, backwards.
    plans = [
        Plan(
            action=r.action,
            resource=r.resource,
            etag=r.etag_after,
            before=r.applied,
            after=r.replaced,
            change="",
        )
        for r in results
    ]
    return update_service_fields(google, plans, timeout=timeout, etag=results[0].etag_after)


def _restore_policy(google: GoogleClients, result: ActionResult) -> ActionResult:
    etag = set_policy(google, result.resource, result.replaced["policy"], result.etag_after)
    return ActionResult(
        result.action,
        result.resource,
        ok=True,
        replaced=result.applied,
        applied=result.replaced,
        etag_after=etag,
    )


def _restore_policy_list(google: GoogleClients, result: ActionResult) -> list[ActionResult]:
    return [_restore_policy(google, result)]


def _guard(
    results: list[ActionResult], run: Callable[[], list[ActionResult]]
) -> list[ActionResult]:
    try:
        return run()
    except (gexc.GoogleAPICallError, concurrent.futures.TimeoutError) as exc:
        reason = failure_reason(exc, ROLE_FOR.get(results[0].action, DEFAULT_ROLE))
        first = results[0]
        logger.warning("undo of %s on %s failed: %s", first.action, first.resource, reason)
        return [ActionResult(r.action, r.resource, ok=False, error=reason) for r in results]
